"""Where the libraries are, for patrons: distances, the nearest first, and a map drawn by the server.

Pure functions (no Flask, no I/O), so the pages stay plain HTML: the patron gives a commune or
coordinates in a GET form, and the answer is ordered here. The map is inline SVG from the
libraries' own coordinates — no tiles fetched from anywhere, no JavaScript — numbered like the
list beside it, so it stays readable on a 360 px phone where the names would be too small.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Callable, Iterable, TypeVar

from normalizer.text import fold

EARTH_KM = 6371.0088  # mean radius
MIN_SPAN_DEG = 0.02  # about 2 km: one library, or two next door, still get a map with some land around them
T = TypeVar("T")


@dataclass(frozen=True)
class Place:
    """Where the patron is: a commune from the directory, or coordinates they typed."""
    lat: float
    lon: float
    commune: str | None = None  # None: given as coordinates

    @property
    def query(self) -> dict[str, str]:
        """What the pages carry in their links to keep the choice (the query string is the only memory)."""
        return {"commune": self.commune} if self.commune else {"lat": f"{self.lat:g}", "lon": f"{self.lon:g}"}


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def communes(directories: Iterable) -> dict[str, tuple[float, float]]:
    """Each commune named in the directory, at the mean position of its libraries that have coordinates,
    in alphabetical order of their folded names ("Phường Đông Thành" sorts as "phuong dong thanh")."""
    spots: dict[str, list[tuple[float, float]]] = {}
    for directory in directories:
        if directory.commune and directory.located:
            spots.setdefault(directory.commune, []).append((directory.lat, directory.lon))
    means = {name: (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
             for name, points in spots.items()}
    return dict(sorted(means.items(), key=lambda item: (fold(item[0]), item[0])))


def parse_place(commune: str | None, lat: str | None, lon: str | None,
                known: dict[str, tuple[float, float]]) -> tuple[Place | None, str | None]:
    """The patron's place from the form: a known commune first, else coordinates; (None, problem) when
    what was given cannot be used. Nothing given: (None, None)."""
    if commune:
        if commune in known:
            return Place(*known[commune], commune=commune), None
        return None, "commune"
    if not lat and not lon:
        return None, None
    try:
        lat_f, lon_f = float((lat or "").replace(",", ".")), float((lon or "").replace(",", "."))
    except ValueError:
        return None, "coordinates"
    if not (math.isfinite(lat_f) and math.isfinite(lon_f) and -90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        return None, "coordinates"
    return Place(lat_f, lon_f), None


def nearest_first(place: Place, items: Iterable[T],
                  position: Callable[[T], tuple[float, float] | None]) -> list[tuple[T, float | None]]:
    """Items with their distance from ``place``, nearest first; those without a position last, in the
    order they came (a stable sort: ties keep the order the caller chose, e.g. what is on a shelf first)."""
    measured = []
    for item in items:
        spot = position(item)
        measured.append((item, None if spot is None else distance_km(place.lat, place.lon, *spot)))
    return sorted(measured, key=lambda pair: (pair[1] is None, pair[1] or 0.0))


# -- the map -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapPoint:
    lat: float
    lon: float
    mark: str  # the short label on the map: the number in the list beside it ("1"), or "" for the patron
    name: str  # the label beside the dot (hidden on narrow screens, where the list beside says it)
    state: str  # "on": a copy on the shelf; "off": held, none on the shelf; "lib": a library; "you": the patron
    description: str  # what a screen reader says for this point


WIDTH, MAX_HEIGHT, MIN_HEIGHT, PAD = 640, 420, 200, 36
SPACING = 36  # the least distance between two marks' centres (radius 11; 17 on a phone, where the map is halved)


def svg_map(points: list[MapPoint], title: str, description: str = "",
            scale_label: Callable[[float], str] = lambda km: f"{km:g} km") -> str:
    """An equirectangular map of the points' bounding box (with a margin), as inline SVG.

    Each point is a group with role="img", an aria-label and a <title>; the picture as a whole is a
    group named by ``title``. Shapes, not only colours, tell the states apart (filled, hollow, diamond).
    """
    if not points:
        return ""
    lat_lo, lat_hi = min(p.lat for p in points), max(p.lat for p in points)
    lon_lo, lon_hi = min(p.lon for p in points), max(p.lon for p in points)
    mid_lat = (lat_lo + lat_hi) / 2
    squeeze = max(math.cos(math.radians(mid_lat)), 0.05)  # a degree of longitude is shorter away from the equator
    span_y = max(lat_hi - lat_lo, MIN_SPAN_DEG) * 1.15  # 7.5 % margin above and below
    span_x = max((lon_hi - lon_lo) * squeeze, MIN_SPAN_DEG) * 1.15
    scale = min((WIDTH - 2 * PAD) / span_x, (MAX_HEIGHT - 2 * PAD) / span_y)
    height = max(MIN_HEIGHT, round(span_y * scale + 2 * PAD))
    centre_x, centre_y = (lon_lo + lon_hi) / 2 * squeeze, mid_lat

    def project(lat: float, lon: float) -> tuple[float, float]:
        return (round(WIDTH / 2 + (lon * squeeze - centre_x) * scale, 1),
                round(height / 2 - (lat - centre_y) * scale, 1))

    parts = [f'<svg class="map" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="group" '
             f'aria-labelledby="map-title{" map-desc" if description else ""}" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="map-title">{escape(title)}</title>']
    if description:
        parts.append(f'<desc id="map-desc">{escape(description)}</desc>')
    parts.append(f'<rect class="land" x="0.5" y="0.5" width="{WIDTH - 1}" height="{height - 1}" rx="6"/>')
    parts.append(_scale_bar(scale, height, scale_label))
    ordered = sorted(points, key=lambda p: p.state == "you")  # of two marks in one place, the patron's moves aside
    placed: list[tuple[float, float]] = []
    for point in ordered:
        placed.append(_apart(*project(point.lat, point.lon), placed, height))
    taken = [(x - 12, y - 12, x + 12, y + 12) for x, y in placed]  # labels keep off every mark, and each other
    parts.extend(_point_svg(point, x, y, taken) for point, (x, y) in zip(ordered, placed))
    parts.append("</svg>")
    return "\n".join(parts)


def _point_svg(point: MapPoint, x: float, y: float, taken: list) -> str:
    label = escape(point.description)
    if point.state == "you":
        shape = f'<path class="you" d="M{x} {y - 11} L{x + 11} {y} L{x} {y + 11} L{x - 11} {y} Z"/>'
    else:
        shape = f'<circle class="dot {point.state}" cx="{x}" cy="{y}" r="11"/>'
    mark = (f'<text class="mark {point.state}" x="{x}" y="{y}" text-anchor="middle" dominant-baseline="central">'
            f'{escape(point.mark)}</text>') if point.mark else ""
    name = ""
    if point.name:
        width = 7.2 * len(point.name) + 4
        sides = [side for side, fits in (("start", x + 16 + width <= WIDTH - 4), ("end", x - 16 - width >= 4)) if fits]
        tries = [(side, shift) for shift in (0, 16, -16, 32, -32) for side in sides or ["start"]]
        for side, shift in tries:  # beside the mark, else a line below or above: covering no mark and no label
            left = x + 16 if side == "start" else x - 16 - width
            box = (left, y + 4.5 + shift - 12, left + width, y + 4.5 + shift + 4)
            if not any(_overlap(box, other) for other in taken):
                break
        else:
            side, shift = tries[0]
            left = x + 16 if side == "start" else x - 16 - width
            box = (left, y - 7.5, left + width, y + 8.5)
        taken.append(box)
        name = (f'<text class="name" x="{x + 16 if side == "start" else x - 16}" y="{box[3] - 4}" '
                f'text-anchor="{side}">{escape(point.name)}</text>')
    return (f'<g class="point {point.state}" role="img" aria-label="{label}"><title>{label}</title>'
            f'{shape}{mark}{name}</g>')


def _apart(x: float, y: float, placed: list[tuple[float, float]], height: int) -> tuple[float, float]:
    """Where to draw a mark so that it hides no other (two libraries a few hundred metres apart would
    cover each other's number): its own place if free, else the nearest free spot on rings around it."""
    def free(cx: float, cy: float) -> bool:
        return 14 <= cx <= WIDTH - 14 and 14 <= cy <= height - 30 and \
            all(math.hypot(cx - px, cy - py) >= SPACING - 0.01 for px, py in placed)

    if free(x, y):
        return round(x, 1), round(y, 1)
    for ring in range(1, 6):
        for step in range(8 * ring):  # south-east first, then round the ring
            angle = math.pi / 4 + 2 * math.pi * step / (8 * ring)
            cx, cy = x + ring * SPACING * math.cos(angle), y + ring * SPACING * math.sin(angle)
            if free(cx, cy):
                return round(cx, 1), round(cy, 1)
    return round(x, 1), round(y, 1)  # a crowd too large to spread: drawn where it is


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _scale_bar(scale: float, height: int, label: Callable[[float], str]) -> str:
    """A bar of a round number of kilometres, about a fifth of the width, bottom left."""
    px_per_km = scale / 111.32  # scale is pixels per degree of latitude
    target = WIDTH / 5 / px_per_km
    km = next((n for n in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000) if n >= target * 0.6), 2000)
    length = round(km * px_per_km, 1)
    y = height - 14
    text = escape(label(km))
    return (f'<g class="scale" aria-hidden="true"><path d="M12 {y - 5} V{y} H{12 + length} V{y - 5}"/>'
            f'<text x="{12 + length + 6}" y="{y}">{text}</text></g>')
