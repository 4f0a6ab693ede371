"""A library's entry in the directory: where it is, how to reach it, when it is open, and how its own
catalogue (OPAC) shows one of its records. Every field is optional and read from the library's entry in
sources.yaml; ``Directory.is_open`` answers "open now?" in the library's own time zone.

Pure: no I/O beyond the time zone database, no import of the rest of ``config`` (which imports this).
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DIRECTORY_FIELDS = frozenset({"address", "commune", "phone", "email", "website", "hours", "closed", "timezone",
                              "lat", "lon", "opac"})
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # Monday first, as date.weekday() counts
VI_DAYS = ("t2", "t3", "t4", "t5", "t6", "t7", "cn")  # thứ Hai ... Chủ nhật, as a Vietnamese notice writes them
CLOSED_WORDS = {"closed", "nghỉ", "nghi", "đóng cửa", "dong cua", ""}
DAY_MINUTES = 24 * 60
_TIME = re.compile(r"^(\d{1,2})(?:[:h](\d{2})?)?$")  # 7:30, 7h30, 7h, 17
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_YEARLY = re.compile(r"^(\d{2})-(\d{2})$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_PHONE = re.compile(r"^\+?[0-9 .()\-]+$")
HOURS_EXAMPLE = '{mon-fri: "7:30-11:30, 13:30-17:00", sat: "8:00-11:00"}'

Hours = tuple[tuple[tuple[int, int], ...], ...]  # per weekday, Monday first: (opens, closes) in minutes


class DirectoryError(ValueError):
    """A directory field that cannot be read: ``field`` names it, the message says what was expected."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Directory:
    address: str | None = None
    commune: str | None = None  # the xã / phường it is in, as patrons name it; communes are offered in a list
    phone: str | None = None  # as written for people, e.g. "0229 3871 234"
    email: str | None = None
    website: str | None = None
    # Opening times per weekday (Monday first): (opens, closes) in minutes after midnight; a time that closes
    # after midnight runs past DAY_MINUTES. None: not known (nothing is said about "open now").
    hours: Hours | None = None
    closed: tuple[str, ...] = ()  # closed days: YYYY-MM-DD, MM-DD (every year) or YYYY-MM-DD/YYYY-MM-DD
    timezone: str = DEFAULT_TIMEZONE
    lat: float | None = None
    lon: float | None = None
    opac: str | None = None  # a URL with {id}: where the library's own catalogue shows a record

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def empty(self) -> bool:
        return self == Directory(timezone=self.timezone)

    def tel(self) -> str | None:
        """The phone number for a tel: link (digits, and a leading + when given)."""
        if not self.phone:
            return None
        digits = re.sub(r"[^0-9]", "", self.phone)
        return ("+" if self.phone.strip().startswith("+") else "") + digits

    def opac_url(self, record_id: str) -> str | None:
        """The record in the library's own catalogue: ``{id}`` is the record's id at the source (see source_id)."""
        local = source_id(record_id)
        if not self.opac or local is None:
            return None
        return self.opac.replace("{id}", quote(local, safe="/"))

    def closed_on(self, day: date) -> bool:
        """A closed day (holiday, Tết, inventory) given in ``closed``."""
        return any(_closed_matches(rule, day) for rule in self.closed)

    def hours_on(self, day: date) -> tuple[tuple[int, int], ...]:
        """The opening times of that date (none on a closed day or when hours are not known)."""
        if self.hours is None or self.closed_on(day):
            return ()
        return self.hours[day.weekday()]

    def is_open(self, moment: datetime) -> bool | None:
        """Open at that moment (an aware datetime), in the library's time zone; None when hours are unknown.

        A time that runs past midnight ("18:00-01:00" on Saturday) belongs to the day it began: it still
        counts at 00:30 on Sunday, unless Saturday was a closed day.
        """
        if self.hours is None:
            return None
        local = moment.astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        today = local.date()
        if any(start <= minute < end for start, end in self.hours_on(today)):
            return True
        return any(start <= minute + DAY_MINUTES < end for start, end in self.hours_on(today - timedelta(days=1)))

    def local_now(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone))


def source_id(record_id: str) -> str | None:
    """A record's id at its library: the part of the source identifier after its last ':'.

    A record id is ``<library>:<identifier at the source>``; for OAI-PMH the identifier is
    ``oai:<repository>:<local id>`` (Koha: the biblionumber; DSpace: the handle), for Z39.50 and export
    drops it is the id_field (001, or 999$c, Koha's biblionumber). An id unioncat derived from the
    content (``derived:...``) means the library gave the record none: no link.
    """
    identifier = record_id.split(":", 1)[1] if ":" in record_id else record_id
    if not identifier or identifier.startswith("derived:"):
        return None
    return identifier.rsplit(":", 1)[-1] or None


def format_minutes(minutes: int) -> str:
    """7:30, 17:00, 24:00; a time past midnight as the next day's clock (01:00)."""
    if minutes > DAY_MINUTES:
        minutes -= DAY_MINUTES
    return f"{minutes // 60}:{minutes % 60:02d}"


# -- reading sources.yaml ----------------------------------------------------------------------------
def parse_directory(entry: dict[str, Any], url_problem: Callable[[Any], str | None]) -> Directory:
    """The directory fields of one library's entry; raises DirectoryError naming the field.

    ``url_problem`` is config's own http(s) URL check (passed in: config imports this module).
    """
    def text(name: str, example: str) -> str | None:
        value = entry.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise DirectoryError(name, f"expected some text, e.g. {example}; got {value!r}")
        return " ".join(value.split())

    phone = text("phone", "'0229 3871 234'")
    if phone is not None:
        digits = len(re.sub(r"[^0-9]", "", phone))
        if not _PHONE.match(phone) or not 8 <= digits <= 15:
            raise DirectoryError("phone", f"expected one phone number of 8 to 15 digits (spaces, dots, dashes and a "
                                          f"leading + allowed), e.g. '0229 3871 234'; got {phone!r}")
    email = text("email", "thuvien@example.vn")
    if email is not None and not _EMAIL.match(email):
        raise DirectoryError("email", f"expected one e-mail address, e.g. thuvien@example.vn; got {email!r}")
    website = entry.get("website")
    if website is not None and url_problem(website):
        raise DirectoryError("website", f"expected {url_problem(website)}; got {website!r}")
    timezone = entry.get("timezone", DEFAULT_TIMEZONE)
    try:
        if not isinstance(timezone, str) or not timezone:
            raise ValueError
        ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise DirectoryError("timezone", f"expected a time zone name such as {DEFAULT_TIMEZONE} (the default); "
                                         f"got {timezone!r}") from None
    lat, lon = _coordinate(entry, "lat", 90), _coordinate(entry, "lon", 180)
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise DirectoryError(missing, "expected both lat and lon (decimal degrees, e.g. lat: 20.2506, lon: 105.9745), "
                                      f"or neither; got only {'lat' if lon is None else 'lon'}")
    return Directory(address=text("address", "'12 Lê Hồng Phong, phường Đông Thành'"),
                     commune=text("commune", "'Phường Đông Thành'"), phone=phone, email=email, website=website,
                     hours=parse_hours(entry["hours"]) if "hours" in entry else None,
                     closed=parse_closed(entry.get("closed")), timezone=timezone, lat=lat, lon=lon,
                     opac=_opac(entry.get("opac"), url_problem))


def parse_hours(value: Any) -> Hours:
    """``{mon-fri: "7:30-11:30, 13:30-17:00", sat: "8:00-11:00"}``: days (mon..sun or t2..t7, cn; a range
    a-b or a list a, b) to opening times; a day not given is closed, and so is "closed" / "nghỉ"."""
    if not isinstance(value, dict) or not value:
        raise DirectoryError("hours", f"expected a mapping of days to opening times, e.g. {HOURS_EXAMPLE}; "
                                      f"got {value!r}")
    week: list[tuple[tuple[int, int], ...]] = [()] * 7
    given: dict[int, str] = {}
    for key, times in value.items():
        intervals = _intervals(str(key), times)
        for day in _days(key):
            if day in given:
                raise DirectoryError("hours", f"{DAYS[day]} is given twice (in {given[day]!r} and {key!r}); "
                                              "give each day once")
            given[day] = str(key)
            week[day] = intervals
    return tuple(week)


def parse_closed(value: Any) -> tuple[str, ...]:
    """Closed days: a list of YYYY-MM-DD, MM-DD (every year: 09-02) or YYYY-MM-DD/YYYY-MM-DD (Tết)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        value = [value]
    out = []
    for item in value:
        text = item.isoformat() if isinstance(item, date) else str(item).strip()  # YAML reads 2026-02-17 as a date
        try:
            _closed_matches(text, date(2000, 1, 1))
        except ValueError:
            raise DirectoryError("closed", "expected a list of closed days: YYYY-MM-DD, MM-DD (every year) or "
                                           f"YYYY-MM-DD/YYYY-MM-DD (from/to), e.g. ['09-02', '2026-02-14/2026-02-22']; "
                                           f"got {item!r}") from None
        out.append(text)
    return tuple(out)


def _closed_matches(rule: str, day: date) -> bool:
    """Does a closed-day rule cover ``day``; ValueError when the rule is not one."""
    if "/" in rule:
        first, last = (_date(part.strip()) for part in rule.split("/", 1))
        if last < first:
            raise ValueError(rule)
        return first <= day <= last
    yearly = _YEARLY.match(rule)
    if yearly:
        month, dom = int(yearly.group(1)), int(yearly.group(2))
        date(2000, month, dom)  # a leap year: 02-29 is allowed, checked to exist at all
        return (day.month, day.day) == (month, dom)
    return _date(rule) == day


def _date(text: str) -> date:
    if not _DATE.match(text):
        raise ValueError(text)
    return date.fromisoformat(text)


def _days(key: Any) -> list[int]:
    words = [part.strip().lower() for part in str(key).split(",")]
    out: list[int] = []
    for word in words:
        ends = [end.strip() for end in word.replace("–", "-").split("-")]
        if len(ends) > 2 or not all(_day(end) is not None for end in ends):
            raise DirectoryError("hours", f"expected days such as mon, mon-fri, sat, sun (or t2-t6, t7, cn); "
                                          f"got {key!r}")
        first, last = _day(ends[0]), _day(ends[-1])
        if last < first:
            raise DirectoryError("hours", f"the days {key!r} run backwards; write them Monday first, e.g. mon-fri")
        out.extend(range(first, last + 1))
    return out


def _day(word: str) -> int | None:
    for names in (DAYS, VI_DAYS):
        if word in names:
            return names.index(word)
    return None


def _intervals(key: str, times: Any) -> tuple[tuple[int, int], ...]:
    if isinstance(times, str) and unicodedata.normalize("NFC", times.strip().lower()) in CLOSED_WORDS:
        return ()
    parts = times.split(",") if isinstance(times, str) else times if isinstance(times, list) else [None]
    out = []
    for part in parts:
        found = _interval(part)
        if found is None:
            raise DirectoryError("hours", f"{key}: expected opening times such as \"7:30-11:30, 13:30-17:00\" "
                                          f"(or closed); got {times!r}")
        out.append(found)
    out.sort()
    for (_, end), (start, _) in zip(out, out[1:]):
        if start < end:
            raise DirectoryError("hours", f"{key}: the opening times {times!r} overlap")
    return tuple(out)


def _interval(text: Any) -> tuple[int, int] | None:
    if not isinstance(text, str):
        return None
    ends = [end.strip() for end in text.replace("–", "-").split("-")]
    if len(ends) != 2:
        return None
    start, end = _minutes(ends[0]), _minutes(ends[1])
    if start is None or end is None or start == end or start >= DAY_MINUTES:
        return None
    return (start, end if end > start else end + DAY_MINUTES)  # "18:00-1:00" closes after midnight


def _minutes(text: str) -> int | None:
    found = _TIME.match(text.lower())
    if not found:
        return None
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        return None
    return hour * 60 + minute


def _coordinate(entry: dict, name: str, limit: float) -> float | None:
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not -limit <= value <= limit:
        example = "20.2506" if name == "lat" else "105.9745"
        raise DirectoryError(name, f"expected decimal degrees from {-limit:g} to {limit:g}, e.g. {name}: {example}; "
                                   f"got {value!r}")
    return float(value)


def _opac(value: Any, url_problem: Callable[[Any], str | None]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or "{id}" not in value:
        raise DirectoryError("opac", "expected the address of one record in the library's own catalogue with {id} "
                                     "where the record's number goes, e.g. https://opac.example.vn/cgi-bin/koha/"
                                     f"opac-detail.pl?biblionumber={{id}}; got {value!r}")
    others = set(re.findall(r"\{[^}]*\}", value)) - {"{id}"}
    if others:
        raise DirectoryError("opac", f"expected only {{id}} as a placeholder; got {', '.join(sorted(others))} in "
                                     f"{value!r}")
    problem = url_problem(value.replace("{id}", "1"))
    if problem:
        raise DirectoryError("opac", f"expected {problem}, with {{id}} where the record's number goes; got {value!r}")
    return value
