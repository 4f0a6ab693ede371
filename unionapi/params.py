"""What a client sent, checked: search parameters and JSON bodies, with the errors that say what is wrong.

Free of Flask and the stores, so the same rules serve the API, the pages and the fuzzer (tests/fuzz.py).
"""
from __future__ import annotations

import re

from normalizer.ids import normalize_isbn
from unionapi.search import MAX_RESULT_WINDOW, SearchRequest

MATERIAL_TYPES = ("book", "serial", "map", "score", "sound", "video", "image", "computer", "mixed", "other")
SEARCH_PARAMS = {"q", "library", "year_from", "year_to", "lang", "type", "available", "online", "rotation", "page",
                 "size"}
# one value of lang= / type= (repeat the parameter, or comma-separate): the patterns openapi.json states
LANG_VALUE = r"^[a-z]{3}(,[a-z]{3})*$"
ISBN_SHAPE = r"^[0-9Xx][0-9Xx -]{8,20}$"
TYPE_VALUE = "^({0})(,({0}))*$".format("|".join(MATERIAL_TYPES))
MAX_VALUES = 50  # values of one search parameter (repeated or comma-separated): more is an attack, not a search
MAX_COMMENT = 2000


class BadRequest(Exception):
    status, error = 400, "bad_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(BadRequest):
    status, error = 404, "not_found"


class Conflict(BadRequest):
    """The request is well formed but the catalogue is not (or no longer) in the state it assumes."""
    status, error = 409, "conflict"


class UnknownLibrary(BadRequest):
    """A library id the network does not have: not found (the set of ids is configuration, not schema)."""
    status, error = 404, "not_found"

    def __init__(self, library_id: str):
        super().__init__(f"unknown library '{library_id}'; see /api/libraries for the ids")


def parse_search(args, max_size: int, libraries) -> SearchRequest:
    """``args``: the query string as a MultiDict (``get``, ``getlist``); ``libraries``: the known ids, or
    the network (``config.Config.network``), which also knows former ids and filters on their successors."""
    unknown = sorted(set(args) - SEARCH_PARAMS)
    if unknown:
        raise BadRequest(f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(SEARCH_PARAMS))}")

    def integer(name: str, low: int, high: int) -> int | None:
        value = args.get(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?[0-9]{1,9}", value.strip()):  # ASCII digits: '\x1e0' or '٣' are not numbers here
            raise BadRequest(f"'{name}' must be a whole number; got '{value}'")
        number = int(value.strip())
        if not low <= number <= high:
            raise BadRequest(f"'{name}' must be between {low} and {high}; got {number}")
        return number

    def many(name: str) -> list[str]:
        values = args.getlist(name)
        if len(values) > MAX_VALUES or sum(v.count(",") + 1 for v in values) > MAX_VALUES:
            raise BadRequest(f"'{name}' takes at most {MAX_VALUES} values")
        return list(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))

    q = args.get("q", "")
    if len(q) > 1000:
        raise BadRequest("'q' is longer than 1000 characters")
    page = integer("page", 1, MAX_RESULT_WINDOW) or 1
    size = min(integer("size", 1, 10_000) or 20, max_size)
    if page * size > MAX_RESULT_WINDOW:
        raise NotFound(f"page {page} of size {size} goes deeper than the first {MAX_RESULT_WINDOW} results; "
                       "narrow the search instead")
    library = []
    resolve = getattr(libraries, "resolve", None)  # config.network.Network: a former id names its successor(s)
    for value in many("library"):
        current = resolve(value) if resolve else [value] * (value in libraries)
        if not current:
            raise UnknownLibrary(value)
        library += [i for i in current if i not in library]
    lang, types = many("lang"), many("type")  # their number first: a flood is refused before any work
    for value in args.getlist("lang"):
        if not re.fullmatch(LANG_VALUE, value):
            raise BadRequest(f"'lang' takes ISO 639-2 codes such as vie or eng (comma-separated); got '{value}'")
    for value in args.getlist("type"):
        if not re.fullmatch(TYPE_VALUE, value):
            wrong = next((v for v in value.split(",") if v not in MATERIAL_TYPES), value)
            raise BadRequest(f"unknown type '{wrong}'; one of {', '.join(MATERIAL_TYPES)} (comma-separated)")
    year_from, year_to = integer("year_from", 0, 9999), integer("year_to", 0, 9999)
    if year_from is not None and year_to is not None and year_from > year_to:
        year_from, year_to = year_to, year_from  # the same years, typed the other way round (echoed back)
    flags = {}
    for name in ("available", "online", "rotation"):  # online: links to digital documents; rotation: copies away
        value = args.get(name, "false").lower()
        if value not in ("0", "1", "true", "false"):
            raise BadRequest(f"'{name}' must be true or false; got '{value}'")
        flags[name] = value in ("1", "true")
    return SearchRequest(q=q, library=library, lang=lang, type=types, year_from=year_from, year_to=year_to,
                         page=page, size=size, **flags)


def search_echo(r: SearchRequest) -> dict:
    """The search as understood, for the answer: a client sees what its parameters became."""
    return {"q": r.q, "library": r.library, "lang": r.lang, "type": r.type, "year_from": r.year_from,
            "year_to": r.year_to, "available": r.available, "online": r.online, "rotation": r.rotation}


def parse_whole_number(name: str, value: str, high: int) -> int:
    if not value.isdigit() or not 1 <= int(value) <= high:
        raise BadRequest(f"'{name}' must be a whole number from 1 to {high}; got '{value}'")
    return int(value)


def parse_flag(name: str, value: str) -> bool:
    value = value.lower()
    if value not in ("true", "false"):
        raise BadRequest(f"'{name}' must be true or false; got '{value}'")
    return value == "true"


def parse_body(data, allowed: tuple[str, ...]) -> dict:
    """A JSON body (``None``: none was sent) with only the ``allowed`` fields: a misspelt field must not
    be dropped silently (a ``note`` that was meant to be the ``comment``)."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        takes = f"the fields it takes: {', '.join(allowed)}" if allowed else "it takes no fields"
        raise BadRequest(f"unknown field(s) {', '.join(unknown)} in the request body; {takes}")
    comment = data.get("comment")
    if "comment" in data and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise BadRequest(f"'comment' must be text of at most {MAX_COMMENT} characters")
    return data


def parse_block(data: dict) -> tuple[str, str | None]:
    """(the ISBN normalized, the title prefix or None) of a block request."""
    typed = data.get("isbn")
    if not isinstance(typed, str) or not re.fullmatch(ISBN_SHAPE, typed):
        raise BadRequest("'isbn' must be a valid ISBN-10 or ISBN-13 (digits, X, hyphens or spaces)")
    isbn, _ = normalize_isbn(typed)
    if not isbn:  # the right characters, but a wrong length or check digit: no record can carry it
        raise NotFound(f"'{typed}' is not a valid ISBN-10 or ISBN-13 (length or check digit); no record "
                       "carries it, so there is nothing to block")
    prefix = data.get("prefix")
    if "prefix" in data and (not isinstance(prefix, str) or not prefix.strip()):
        raise BadRequest("'prefix' (optional) must be the beginning of the titles to block it for")
    return isbn, prefix.strip() if prefix else None
