"""Pages for patrons: search, a union entry with who holds it, a member record, the library directory.

Server-rendered with Jinja, no front-end framework and no JavaScript, so a page is small and works
on a commune library's old PC or a phone on a slow connection. The pages call the same Python
objects the JSON API uses (engine, catalogue, params, actions), never HTTP to itself.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote, urlencode

from flask import Blueprint, g, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from config import ConfigError
from config.directory import DAYS, Directory, format_minutes
from normalizer.records import AVAILABLE
from unionapi import i18n
from unionapi.actions import as_of, group_holdings
from unionapi.directory import MapPoint, communes, distance_km, nearest_first, parse_place, svg_map
from unionapi.params import MAX_VALUES, BadRequest, parse_search
from unionapi.rotation import rotation_facts
from unionapi.search import SearchRequest, entry_document, representative
from unionapi.web import current_services, install_page_hooks, libraries, library_name, message_page, t

PAGE_SIZE = 20
MAX_SUGGESTION_SEARCHES = 6  # "did you mean" searches for one empty result
FILTERS = ("library", "language", "type", "year_from", "year_to", "available", "online", "rotation")

bp = Blueprint("patron", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")
install_page_hooks(bp)


# -- home and search ----------------------------------------------------------------------------
@bp.get("/")
@bp.get("/search")
def search():
    args, services = request.args, current_services()
    if request.path == "/" and not any(args.get(k) for k in ("q", *FILTERS)):
        return render_template("home.html", libraries=len(libraries()), entries=services.engine.count())
    state = {"q": args.get("q", "").strip(), "library": distinct(args, "library"),
             "language": distinct(args, "language"), "type": distinct(args, "type"),
             "year_from": args.get("year_from", ""), "year_to": args.get("year_to", ""),
             **{flag: "1" if args.get(flag) in ("1", "true", "on") else "" for flag in ("available", "online", "rotation")}}
    try:
        search_request = to_search_request(state, args.get("page") or "1")
        state["library"] = search_request.library  # a former library's id: the library (or libraries) of today
    except BadRequest as exc:
        return render_template("search.html", state=state, error=t("bad_search", message=exc.message),
                               result=None, url=search_url), 400
    result = services.engine.search(search_request)
    pages = -(-min(result.total, 10_000) // PAGE_SIZE)
    return render_template("search.html", state=state, result=result, request_=search_request,
                           pages=pages, url=search_url, facets=facet_links(state, result.facets),
                           suggestions=[] if result.total else suggestions(state), error=None)


def distinct(args, name: str) -> list[str]:
    """A filter's values once each, and never so many that echoing them makes a huge page
    (one more than the API allows, so that the API's parser still says why)."""
    return list(dict.fromkeys(args.getlist(name)))[:MAX_VALUES + 1]


def to_search_request(state: dict, page: str) -> SearchRequest:
    """The page's parameters checked by the API's own parser (same rules, same messages)."""
    api_args = MultiDict([("q", state["q"]), ("page", page), ("size", str(PAGE_SIZE))]
                         + [(name, state[name]) for name in ("year_from", "year_to", "available", "online", "rotation")
                            if state.get(name)])
    for page_name, api_name in (("library", "library"), ("language", "lang"), ("type", "type")):
        for value in state[page_name]:
            api_args.add(api_name, value)
    config = current_services().config
    return parse_search(api_args, config.settings.max_page_size, config.network)  # (a former id: its successor)


def search_url(state: dict, page: int | None = None, **changes) -> str:
    merged = {**state, **changes}
    pairs = [(k, v) for k in ("q", *FILTERS) for v in (merged[k] if isinstance(merged[k], list) else [merged[k]])
             if v not in (None, "")]
    if page and page > 1:
        pairs.append(("page", page))
    if g.get("remember_lang"):
        pairs.append(("lang", g.lang))
    return url_for("patron.search") + "?" + urlencode(pairs)


def toggle(values: list[str], value: str) -> list[str]:
    return [v for v in values if v != value] if value in values else [*values, value]


def facet_links(state: dict, facets: dict) -> list[dict]:
    """Each facet value as a link that switches it on or off; the counts come from the engine."""
    groups = []
    for name, facet, label in (("library", "library", library_name),
                               ("type", "type", lambda c: i18n.label(i18n.MATERIAL_TYPES, g.lang, c)),
                               ("language", "lang", lambda c: i18n.label(i18n.LANGUAGE_NAMES, g.lang, c))):
        items = [{"label": label(f["value"]), "count": f["count"], "on": f["value"] in state[name],
                  "url": search_url(state, **{name: toggle(state[name], f["value"])})}
                 for f in facets.get(facet, [])]
        groups.append({"title": t(f"facet.{name}"), "items": items})
    years = []
    for bucket in facets.get("year", []):
        low, high = bucket["from"], bucket["to"]
        on = state["year_from"] == str(low or "") and state["year_to"] == str(high or "")
        text = (t("year.before", to=high + 1) if low is None else t("year.after", from_=low) if high is None
                else f"{low}–{high}")
        years.append({"label": text, "count": bucket["count"], "on": on,
                      "url": search_url(state, year_from="" if on else low, year_to="" if on else high)})
    groups.insert(1, {"title": t("facet.year"), "items": years})
    return groups


def suggestions(state: dict) -> list[dict]:
    """For an empty result: the same words without filters, then fewer words (only if they find something).

    At most MAX_SUGGESTION_SEARCHES searches: a query of hundreds of words must not cost hundreds.
    """
    out, seen = [], set()

    def offer(key: str, q: str, new_state: dict) -> None:
        if (q, key) in seen or not q or len(seen) >= MAX_SUGGESTION_SEARCHES:
            return
        seen.add((q, key))
        found = current_services().engine.search(to_search_request(new_state, "1")).total
        if found:
            out.append({"text": t(key, q=q, n=found), "url": search_url(new_state)})

    if any(state[k] for k in FILTERS):
        offer("results.without_filters", state["q"], {**{k: [] if isinstance(state[k], list) else ""
                                                           for k in FILTERS}, "q": state["q"]})
    words = state["q"].split()
    shorter = [" ".join(words[:-1])] + [" ".join(words[:i] + words[i + 1:]) for i in range(len(words) - 1)]
    for q in shorter if len(words) > 1 else []:
        offer("results.didyoumean", q, {**state, "q": q})
        if len(out) >= 3:
            break
    return out


# -- a union entry and its member records ----------------------------------------------------------
@bp.get("/entry/<entry_id>")
def entry(entry_id: str):
    members = current_services().catalogue.members(entry_id)
    if not members:
        return message_page(t("entry.notfound"), 404)
    document, near = entry_document(entry_id, members, current_services().config.network), nearness()
    rows = directory_rows(holding_rows(members), members, document, near)
    return render_template("entry.html", entry=document, best=representative(members),
                           members=members, rows=rows, near=near, map=holdings_map(rows, near))


def holding_rows(members) -> list[dict]:
    """One row per copy, as the API groups them; a library that sends no copies gets one row."""
    services, rows = current_services(), []
    for library in group_holdings(members, services):
        for branch in library["branches"]:
            items = branch["items"] or [{"location": None, "call_number": None, "barcode": None, "status": s,
                                         "due_date": None, "no_items": True} for s in branch["counts"]]
            for item in items:
                rows.append({"library": library["id"], "library_name": library["name"],
                             "branch": branch["branch"], "as_of": library["as_of"], **item})
    covered = {row["library"] for row in rows}
    for member, now in zip(members, services.config.network.records(members)):  # now: of today's library
        if now.library not in covered:
            covered.add(now.library)
            rows.append({"library": now.library, "library_name": library_name(now.library),
                         "branch": None, "as_of": as_of(services, [member.library]),
                         "location": None, "call_number": member.call_number, "barcode": None,
                         "status": "unknown", "due_date": None, "no_items": True})
    rows.sort(key=lambda r: r["status"] != AVAILABLE)  # stable: what is on a shelf first, API order kept
    return rows


@bp.get("/entry/<entry_id>/record/<id:number>")
def member(entry_id: str, number: int):
    members = current_services().catalogue.members(entry_id)
    if not 1 <= number <= len(members):
        return message_page(t("entry.notfound"), 404)
    return render_template("record.html", entry_id=entry_id, record=members[number - 1], number=number)


# -- the library directory --------------------------------------------------------------------------
@bp.get("/libraries")
def directory():
    services, known = current_services(), libraries()
    counts = services.config.network.roll_up(services.catalogue.record_counts())  # with former libraries'
    children, roots = defaultdict(list), []
    for library in known.values():
        (children[library.parent] if library.parent in known else roots).append(library)
    facts = {i: {"count": counts[i][0], "tree": counts[i][1], "harvested": services.raw.last_success(lib.storage_id)}
             for i, lib in known.items()}
    near, now = nearness(), datetime.now(timezone.utc)
    for library in known.values():
        facts[library.id]["open"] = open_state(library.directory, now)
    nearest = (nearest_first(near["place"], known.values(), spot) if near["place"] else None)
    order = [lib for lib, _ in nearest] if nearest else [lib for root in roots for lib in _tree(root, children)]
    numbers = {lib.id: n for n, lib in enumerate((lib for lib in order if lib.directory.located), start=1)}
    points = [MapPoint(lib.directory.lat, lib.directory.lon, str(numbers[lib.id]), lib.name, "lib",
                       ", ".join(filter(None, (f"{numbers[lib.id]}. {lib.name}", lib.directory.commune))))
              for lib in order if lib.id in numbers]
    return render_template("libraries.html", roots=roots, children=children, facts=facts, near=near,
                           nearest=nearest, numbers=numbers,
                           map=draw_map(points, near, t("map.libraries")) if points else "")


def _tree(library, children) -> list:
    """A library and everything under it, in the order the tree shows them (numbers on the map)."""
    return [library, *(lib for child in children[library.id] for lib in _tree(child, children))]


@bp.get("/libraries/<library_id>")
def library(library_id: str):
    services, known = current_services(), libraries()
    network = services.config.network
    found = known.get(library_id)
    if found is None and len(network.resolve(library_id)) == 1:  # a former library: where it is now
        return redirect(url_for("patron.library", library_id=network.resolve(library_id)[0], **request.args), 301)
    if found is None:  # (a divided one: the message names the libraries it went to)
        return message_page(t("libraries.notfound") + "".join(
            f" · {t('history.went_to', name=known[i].name)}" for i in network.resolve(library_id)), 404)
    count, in_tree = network.roll_up(services.catalogue.record_counts())[library_id]
    return render_template("library.html", library=found, parent=known.get(found.parent or ""),
                           count=count, in_tree=in_tree, history=network.history(library_id),
                           harvested=services.raw.last_success(found.storage_id),
                           newest=services.catalogue.newest(network.source_ids(library_id), limit=25),
                           children=[lib for lib in known.values() if lib.parent == library_id],
                           rotation=rotation_facts(services, library_id),
                           visit=visit_facts(found.directory, nearness()))


# -- where and how to get the book: the directory, the nearest libraries, the map ----------------------------
def nearness() -> dict:
    """The patron's place from the query string (a commune of the directory, or lat/lon): nothing is
    stored, the pages carry it in their links (``query``) instead."""
    known = communes(lib.directory for lib in libraries().values())
    commune = request.args.get("commune", "").strip()[:200]
    lat, lon = (request.args.get(name, "").strip()[:40] for name in ("lat", "lon"))
    place, problem = parse_place(commune or None, lat or None, lon or None, known)
    by_commune = bool(place and place.commune)
    label = (place.commune if by_commune else f"{number(place.lat, 4)}; {number(place.lon, 4)}") if place else None
    return {"place": place, "problem": problem, "communes": list(known), "label": label,
            "commune": commune if by_commune or problem == "commune" else "",
            "lat": "" if by_commune else lat, "lon": "" if by_commune else lon,
            "query": place.query if place else {}}


def spot(library) -> tuple[float, float] | None:
    return (library.directory.lat, library.directory.lon) if library.directory.located else None


def directory_of(library_id: str) -> Directory | None:
    """The directory of a library (a former id finds the library that replaced it)."""
    try:
        return current_services().config.library(library_id).directory
    except ConfigError:
        return None


def directory_rows(rows: list[dict], members, document: dict, near: dict) -> list[dict]:
    """Each copy with how to get it: the record in the library's own catalogue (OPAC), "ask the
    librarian" (e-mail with the title and call number, phone), open now; the nearest first when the
    patron said where they are (the order within one library, what is on a shelf first, is kept)."""
    config, current = current_services().config, {}

    def today(library_id: str) -> str:  # a former library's records count as its successor's
        if library_id not in current:
            try:
                current[library_id] = config.library(library_id).id
            except ConfigError:
                current[library_id] = library_id
        return current[library_id]

    record_of: dict = {}  # (library, barcode) -> the member record the copy came with; library -> its first record
    for member in members:
        record_of.setdefault(today(member.library), member.record_id)
        for holding in member.holdings:
            if holding.barcode:
                record_of.setdefault((today(holding.library), holding.barcode), member.record_id)
    page = url_for("patron.entry", entry_id=document["id"], _external=True)
    now, found = datetime.now(timezone.utc), {}
    for row in rows:
        if row["library"] not in found:
            found[row["library"]] = directory_of(row["library"]) or Directory()
        directory, library = found[row["library"]], today(row["library"])
        record = record_of.get((library, row.get("barcode"))) or record_of.get(library)
        opac = directory.opac_url(record) if record else None
        row.update(opac=Markup(escape(opac)) if opac else None, open=open_state(directory, now),
                   ask=ask_links(directory, document["title"], row.get("call_number"), page),
                   spot=(directory.lat, directory.lon) if directory.located else None, distance=None)
    if near["place"]:
        rows = [{**row, "distance": km} for row, km in nearest_first(near["place"], rows, lambda r: r["spot"])]
    return rows


def ask_links(directory: Directory, title: str, call_number: str | None, page: str) -> dict | None:
    """mailto: (subject: the title and call number; the body names the book's page) and tel: links."""
    if not directory.email and not directory.phone:
        return None
    mailto = None
    if directory.email:
        subject = " — ".join(part for part in (title[:150], call_number) if part)
        body = t("ask.body", url=page)
        mailto = Markup(escape(f"mailto:{quote(directory.email, safe='@')}?subject={quote(subject, safe='')}"
                               f"&body={quote(body, safe='')}"))
    return {"mailto": mailto, "tel": f"tel:{directory.tel()}" if directory.phone else None, "phone": directory.phone}


def open_state(directory: Directory, now: datetime) -> dict | None:
    """Open now or closed now, in the library's time zone, with when it opens next; None without hours."""
    is_open = directory.is_open(now)
    if is_open is None:
        return None
    if is_open:
        return {"open": True, "text": t("open.now")}
    local = directory.local_now(now)
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        starts = [start for start, _ in directory.hours_on(day) if ahead or start > local.hour * 60 + local.minute]
        if starts:
            when = format_minutes(min(starts))
            text = (t("open.next_today", time=when) if ahead == 0 else t("open.next_tomorrow", time=when)
                    if ahead == 1 else t("open.next_day", time=when, day=t("day." + DAYS[day.weekday()])))
            return {"open": False, "text": t("open.closed"), "next": text}
    return {"open": False, "text": t("open.closed")}


def visit_facts(directory: Directory, near: dict) -> dict:
    """What the library page says about visiting: open now, the week's hours (today marked), closed
    days, the distance from the patron, a geo: link for a phone's map app."""
    now = datetime.now(timezone.utc)
    today = directory.local_now(now).date()
    week = []
    if directory.hours is not None:
        for index, day in enumerate(DAYS):
            times = ", ".join(f"{format_minutes(a)}–{format_minutes(b)}" for a, b in directory.hours[index])
            week.append({"day": t("day." + day), "times": times or t("hours.closed"),
                         "today": index == today.weekday()})
    place = near["place"]
    distance = None
    if place and directory.located:
        distance = distance_km(place.lat, place.lon, directory.lat, directory.lon)
    return {"open": open_state(directory, now), "week": week, "closed": [closed_text(r) for r in directory.closed],
            "closed_today": directory.closed_on(today), "distance": distance, "near": near,
            "geo": f"geo:{directory.lat},{directory.lon}" if directory.located else None}


def closed_text(rule: str) -> str:
    """A closed-day rule as a reader writes dates: 02/09 hằng năm, 14/02/2026 – 22/02/2026."""
    def one(text: str) -> str:
        parts = text.split("-")
        if len(parts) == 2:
            return t("hours.yearly", date=f"{parts[1]}/{parts[0]}" if g.get("lang") != "en" else text)
        return date.fromisoformat(text).strftime("%Y-%m-%d" if g.get("lang") == "en" else "%d/%m/%Y")
    return " – ".join(one(part.strip()) for part in rule.split("/"))


def holdings_map(rows: list[dict], near: dict) -> dict | None:
    """The holding libraries that have coordinates, numbered in the order of the table (nearest first
    when asked), each marked as having a copy on the shelf or not; the patron's place too."""
    legend: dict[str, dict] = {}
    for row in rows:
        if row["spot"] is None:
            continue
        item = legend.setdefault(row["library"], {"library": row["library"], "name": row["library_name"],
                                                  "spot": row["spot"], "distance": row["distance"], "on": False})
        item["on"] = item["on"] or row["status"] == AVAILABLE
    if not legend:
        return None
    items = list(legend.values())
    points = []
    for n, item in enumerate(items, start=1):
        item["number"] = n
        state = t("map.on") if item["on"] else t("map.off")
        points.append(MapPoint(*item["spot"], str(n), item["name"], "on" if item["on"] else "off",
                               f"{n}. {item['name']}: {state}"))
    return {"svg": draw_map(points, near, t("map.holdings")), "items": items}


def draw_map(points: list[MapPoint], near: dict, title: str) -> Markup:
    place = near["place"]
    if place:
        points = [*points, MapPoint(place.lat, place.lon, "", t("map.you_short"), "you",
                                    t("map.you", place=near["label"]))]
    return Markup(svg_map(points, title, t("map.desc"), lambda km: f"{number(km, 1)} km"))


def number(value: float, digits: int) -> str:
    """A decimal as the reader writes it: 2,5 in Vietnamese, 2.5 in English."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits > 0 else f"{round(value, digits):.0f}"
    return text if g.get("lang") == "en" else text.replace(".", ",")


def distance_text(km: float | None) -> str:
    if km is None:
        return ""
    if km < 0.1:
        return t("dir.under_100m")
    return f"{number(km * 1000, -2)} m" if km < 1 else f"{number(km, 1)} km"


@bp.app_template_global()
def near_url(endpoint: str, query: dict | None = None, **values) -> str:
    """url_for, keeping the patron's place (``query``: nearness()["query"]) in the link."""
    return url_for(endpoint, **values, **(query or {}))


bp.add_app_template_global(distance_text, "distance_text")
