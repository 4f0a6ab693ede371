"""Downloads of union entries and the cataloguers' copy-cataloguing page.

Every entry at stable URLs: ``/api/entries/<id>.mrc`` (MARC 21, ISO 2709 in UTF-8), ``.xml`` (MARCXML),
``.dc.xml`` (Dublin Core, oai_dc), ``.json``, and as citations ``.ris``, ``.bib``, ``.csl.json``; a page of
search results as citations at ``/api/search.ris|.bib|.csl.json`` (the parameters of /api/search). The
same formats by content negotiation on ``/api/entries/<id>`` (``Accept: application/marc`` ...); JSON stays
the default, also for an Accept naming nothing we have (a browser's ``application/xml;q=0.9`` must not
turn the API's JSON into MARCXML, so only the specific media types below are negotiated).

The records are made by ``unionapi.publish.formats`` and ``citations``, as OAI-PMH, SRU and the bulk
export make them: every channel publishes the same record. A cataloguer copying a record into Koha or
Libol takes one member record without the network's holdings: ``?record=<record id>&holdings=false``,
which the copy-cataloguing page (``/cataloguer/copy``, signed in) links to.
"""
from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timezone
from urllib.parse import urlencode

from flask import Blueprint, Response, g, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from normalizer.records import CanonicalRecord
from unionapi import i18n
from unionapi.pages_cataloguer import cataloguer_only
from unionapi.params import BadRequest, NotFound, parse_flag, parse_search
from unionapi.publish import citations, formats
from unionapi.search import SearchRequest, by_quality
from unionapi.web import current_services, install_page_hooks, library_name, message_page, t


@dataclasses.dataclass(frozen=True)
class Format:
    suffix: str  # of the URL: /api/entries/<id>.<suffix>
    mimetype: str
    charset: bool  # a text format: "; charset=utf-8" said in the Content-Type
    filename: str  # how the downloaded file's name ends
    description: bool  # a description of the entry (takes record= and holdings=), not a citation


FORMATS = {f.suffix: f for f in (
    Format("mrc", "application/marc", False, ".mrc", True),
    Format("xml", "application/marcxml+xml", False, ".xml", True),  # werkzeug adds the charset to +xml
    Format("dc.xml", "application/xml", False, "-dc.xml", True),
    Format("json", "application/json", False, ".json", True),
    Format("ris", "application/x-research-info-systems", True, ".ris", False),
    Format("bib", "application/x-bibtex", True, ".bib", False),
    Format("csl.json", "application/vnd.citationstyles.csl+json", False, "-csl.json", False),
)}
CITATIONS = ("ris", "bib", "csl.json")
# Accept -> format on /api/entries/<id>; application/json (first: it wins a tie such as */*) is the API's own
NEGOTIATED = {"application/json": None, "application/marc": "mrc", "application/marcxml+xml": "xml",
              "application/x-research-info-systems": "ris", "application/x-bibtex": "bib",
              "application/vnd.citationstyles.csl+json": "csl.json"}
DESCRIPTION_PARAMS = ("record", "holdings")
MAX_RECORD_ID = 1000  # characters of a record= value: longer is no record id of ours

bp = Blueprint("downloads", __name__)
copy = Blueprint("copy", __name__)  # the cataloguers' page, with the pages' language and helpers
install_page_hooks(copy)



# -- helpers ---------------------------------------------------------------------------------------
def library_names() -> dict[str, str]:
    return {library_id: library.name for library_id, library in current_services().config.libraries.items()}


def datestamp(entry_id: str) -> datetime | None:
    """When the entry last changed what it publishes (the OAI-PMH datestamp), for the MARC 005."""
    publication = current_services().publication
    published = publication.get(entry_id) if publication is not None else None
    return datetime.fromtimestamp(published.datestamp, timezone.utc) if published else None


def ascii_name(text: str) -> str:
    """A file name any browser and shell takes: ASCII letters, digits, dot, dash, underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:80] or "entry"


def answer(body: bytes, fmt: Format, filename: str) -> Response:
    response = (Response(body, content_type=f"{fmt.mimetype}; charset=utf-8") if fmt.charset
                else Response(body, mimetype=fmt.mimetype))
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}{fmt.filename}"'
    return response


def checked_args(args, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters, each at most once and only those ``allowed`` (as /api/search refuses a
    misspelt one: a ``holding=false`` dropped silently would hand out the holdings)."""
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
        raise BadRequest(f"unknown parameter(s) {', '.join(unknown)}; {takes}")
    for name in allowed:
        if len(args.getlist(name)) > 1:
            raise BadRequest(f"'{name}' is given more than once")
    return {name: args[name] for name in allowed if name in args}


def entry_body(entry_id: str, members: list[CanonicalRecord], fmt: Format, record: str | None,
               holdings: bool) -> bytes:
    """One entry in one format; ``record`` a member record id (else the representative)."""
    if fmt.suffix in ("mrc", "xml"):
        marc = formats.entry_marc(entry_id, members, chosen=record, holdings=holdings, libraries=library_names(),
                                  stamp=datestamp(entry_id))
        if fmt.suffix == "xml":
            return formats.marcxml(marc)
        try:
            return formats.iso2709(marc)
        except ValueError as exc:  # a field over ISO 2709's 9,999 bytes: MARCXML holds it
            raise NotAcceptable(f"entry '{entry_id}' cannot be written as ISO 2709 ({exc}); "
                                f"download /api/entries/{entry_id}.xml instead") from None
    if fmt.suffix == "dc.xml":
        return formats.dc_bytes(entry_id, members, chosen=record)
    if fmt.suffix == "json":
        document = formats.entry_json(entry_id, members, chosen=record)
        if not holdings:
            document["holdings"] = []
        return json.dumps(document, ensure_ascii=False).encode("utf-8")
    return citation_body([(entry_id, members)], fmt)


def citation_body(entries: list[tuple[str, list[CanonicalRecord]]], fmt: Format) -> bytes:
    if fmt.suffix == "ris":
        return citations.ris(entries).encode("utf-8")
    if fmt.suffix == "bib":
        return citations.bibtex(entries).encode("utf-8")
    return json.dumps(citations.csl_json(entries), ensure_ascii=False).encode("utf-8")


class NotAcceptable(BadRequest):
    """The entry exists but cannot be given in the format asked (a field too long for ISO 2709)."""
    status, error = 406, "not_acceptable"


def download(entry_id: str, fmt: Format, args) -> Response:
    given = checked_args(args, DESCRIPTION_PARAMS if fmt.description else ())
    holdings = parse_flag("holdings", given.get("holdings", "true"))
    record = given.get("record")
    members = current_services().catalogue.members(entry_id)
    if not members:
        raise NotFound(f"no union entry with id '{entry_id}'")
    if record is not None and (len(record) > MAX_RECORD_ID or record not in {m.record_id for m in members}):
        shown = record if len(record) <= 80 else record[:80] + "…"
        raise NotFound(f"'{shown}' is not a member record of entry '{entry_id}'; its records: "
                       f"{', '.join(m.record_id for m in members)}")
    name = "unioncat-" + ascii_name(entry_id)
    if record is not None:
        name += "-" + ascii_name(next(m.library for m in members if m.record_id == record))
    members = current_services().config.network.records(members)  # 852s: the libraries of today
    return answer(entry_body(entry_id, members, fmt, record, holdings), fmt, name)


def endpoint_name(fmt: Format) -> str:
    return fmt.suffix.replace(".", "_")


# -- the API routes ------------------------------------------------------------------------------
def _entry_view(fmt: Format):
    def view(entry_id: str):
        return download(entry_id, fmt, request.args)
    return view


def _search_view(fmt: Format):
    def view():
        services = current_services()
        search_request = parse_search(request.args, services.config.settings.max_page_size,
                                      services.config.network)
        result = services.engine.search(dataclasses.replace(search_request, facets=False))
        ids = [hit["id"] for hit in result.hits]
        members = services.catalogue.members_of(ids)
        response = answer(citation_body([(i, members[i]) for i in ids if members.get(i)], fmt),
                          fmt, f"unioncat-search-p{search_request.page}")
        response.headers["X-Total-Count"] = str(result.total)
        return response
    return view


for _fmt in FORMATS.values():
    bp.add_url_rule(f"/api/entries/<entry_id>.{_fmt.suffix}", f"entry_{endpoint_name(_fmt)}", _entry_view(_fmt))
for _suffix in CITATIONS:
    bp.add_url_rule(f"/api/search.{_suffix}", f"search_{endpoint_name(FORMATS[_suffix])}",
                    _search_view(FORMATS[_suffix]))


@bp.before_app_request
def negotiate():
    """``/api/entries/<id>`` (and its alias ``/api/records/<id>``) in the format the Accept header
    prefers; ``None`` lets the API answer its JSON."""
    if request.endpoint != "api.record" or not request.accept_mimetypes:
        return None
    chosen = NEGOTIATED.get(request.accept_mimetypes.best_match(list(NEGOTIATED), default="application/json"))
    if chosen is None:
        return None
    entry_id = request.view_args["entry_id"]
    response = download(entry_id, FORMATS[chosen], MultiDict())  # a 404 is the API's JSON error
    response.headers["Content-Location"] = url_for(f"downloads.entry_{endpoint_name(FORMATS[chosen])}",
                                                   entry_id=entry_id)
    return response


@bp.after_app_request
def vary(response: Response) -> Response:
    """Caches must keep the JSON and the MARC of one entry URL apart."""
    if request.endpoint == "api.record":
        response.vary.add("Accept")
    return response


@bp.app_template_global()
def search_citation_url(search_request: SearchRequest, suffix: str) -> str:
    """The citations of the search page's results: the same search, as /api/search takes it."""
    pairs = [("q", search_request.q)] if search_request.q else []
    pairs += [("library", v) for v in search_request.library] + [("lang", v) for v in search_request.lang]
    pairs += [("type", v) for v in search_request.type]
    pairs += [(name, str(value)) for name, value in (("year_from", search_request.year_from),
                                                     ("year_to", search_request.year_to)) if value is not None]
    pairs += [(flag, "true") for flag in ("available", "online", "rotation") if getattr(search_request, flag)]
    pairs += [("page", str(search_request.page)), ("size", str(search_request.size))]
    return url_for(f"downloads.search_{endpoint_name(FORMATS[suffix])}") + "?" + urlencode(pairs)


# -- the copy-cataloguing page -------------------------------------------------------------------------
COPY_PAGE_SIZE = 20
COMPLETE_FIELDS = ("title", "authors", "responsibility", "edition", "place", "publisher", "year", "extent", "isbns",
                   "languages", "subjects", "series", "call_number")


def completeness(record: CanonicalRecord) -> dict:
    """How much of a description a record gives: what a cataloguer weighs before copying it."""
    filled = sum(1 for name in COMPLETE_FIELDS if getattr(record, name) not in (None, "", []))
    return {"filled": filled, "total": len(COMPLETE_FIELDS), "isbn": bool(record.isbns),
            "subjects": bool(record.subjects), "call_number": bool(record.call_number),
            "marc": record.format != "oai_dc"}


def suggested(records: list[CanonicalRecord]) -> CanonicalRecord:
    """The most complete record; among equals, the one the entry shows (records come in that order)."""
    def score(record):
        c = completeness(record)
        return c["filled"], c["isbn"], c["subjects"], c["call_number"], c["marc"]
    return max(records, key=score)  # max keeps the first of equals


@copy.after_request
def never_cached(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@copy.get("/cataloguer/copy")
@cataloguer_only
def copy_search():
    services, q = current_services(), request.args.get("q", "").strip()
    page = request.args.get("page", "1")
    if not q:
        return render_template("copy.html", q="", result=None, error=None)
    try:
        search_request = parse_search(MultiDict([("q", q), ("page", page), ("size", str(COPY_PAGE_SIZE))]),
                                      services.config.settings.max_page_size, services.config.network)
    except BadRequest as exc:
        return render_template("copy.html", q=q, result=None, error=t("bad_search", message=exc.message)), 400
    result = services.engine.search(dataclasses.replace(search_request, facets=False))
    pages = -(-min(result.total, 10_000) // COPY_PAGE_SIZE)
    return render_template("copy.html", q=q, result=result, page=search_request.page, pages=pages, error=None)


@copy.get("/cataloguer/copy/<entry_id>")
@cataloguer_only
def copy_entry(entry_id: str):
    members = current_services().catalogue.members(entry_id)
    if not members:
        return message_page(t("entry.notfound"), 404)
    records = by_quality(members)
    best = suggested(records)
    columns = [{"record": r, "library_name": library_name(r.library), "complete": completeness(r),
                "best": r is best,
                "downloads": [(label, url_for(f"downloads.entry_{suffix}", entry_id=entry_id, record=r.record_id,
                                              holdings="false")) for label, suffix in (("MARC21", "mrc"),
                                                                                      ("MARCXML", "xml"))]}
               for r in records]
    return render_template("copy_entry.html", entry_id=entry_id, columns=columns, rows=compared_rows(records),
                           back=request.args.get("q", ""))


def compared_rows(records: list[CanonicalRecord]) -> list[dict]:
    """A row per field, a cell per record; rows no record fills are left out."""
    lang = g.get("lang", i18n.DEFAULT)

    def publication(r):
        where = " : ".join(x for x in (r.place, r.publisher) if x)
        return ", ".join(x for x in (where, r.date_text or (str(r.year) if r.year else "")) if x)

    fields = [
        ("field.record_id", lambda r: r.record_id),
        ("copy.source", lambda r: "Dublin Core" if r.format == "oai_dc" else "MARC"),
        ("field.title", lambda r: r.title),
        ("field.authors", lambda r: "; ".join(a.name for a in r.authors)),
        ("field.responsibility", lambda r: r.responsibility or ""),
        ("field.edition", lambda r: r.edition or ""),
        ("copy.publication", publication),
        ("field.extent", lambda r: r.extent or ""),
        ("field.isbns", lambda r: ", ".join(r.isbns)),
        ("field.languages", lambda r: ", ".join(i18n.label(i18n.LANGUAGE_NAMES, lang, c) for c in r.languages)),
        ("field.subjects", lambda r: "; ".join(r.subjects)),
        ("field.series", lambda r: "; ".join(r.series)),
        ("field.call_number", lambda r: r.call_number or ""),
        ("field.material_type", lambda r: i18n.label(i18n.MATERIAL_TYPES, lang, r.material_type)),
    ]
    rows = []
    for key, value in fields:
        cells = [value(r) for r in records]
        if any(cells):
            identity = key in ("field.record_id", "copy.source")  # differ by nature: not worth a mark
            rows.append({"label": t(key), "cells": cells, "differs": not identity and len(set(cells)) > 1})
    return rows


bp.register_blueprint(copy)
