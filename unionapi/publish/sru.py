"""SRU at ``/sru``: searchRetrieve and explain, versions 1.2 and 2.0, with CQL over the search engine.

Records are the union entries as MARCXML (with one 852 per holding) or Dublin Core, made by
``unionapi.publish.formats``. Everything that goes wrong is an SRU diagnostic inside an SRU response
with HTTP 200, as SRU 1.2 asks: a client never sees an HTML error page, and never a 500.

Versions: a request with ``version=1.1`` or ``1.2`` is answered in 1.2 (``http://www.loc.gov/zing/srw/``);
one with ``version=2.0`` or without ``version`` (2.0 dropped the parameter) in 2.0. ``operation`` may be
left out: a request with a query is a searchRetrieve, one without an explain.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, request
from lxml import etree
from lxml.builder import ElementMaker

from normalizer.text import fold
from unionapi.publish.cql import EXPLAINED, CQLError, compile_query
from unionapi.search.documents import (MAX_RESULT_WINDOW, QueryUnsupported, SearchRequest, SearchUnavailable, Words,
                                       words)
from unionapi.web import current_services

log = logging.getLogger("unioncat.sru")
bp = Blueprint("sru", __name__)

NS = {"1.2": "http://www.loc.gov/zing/srw/", "2.0": "http://docs.oasis-open.org/ns/search-ws/sruResponse"}
PREFIX = {"1.2": "zs", "2.0": "sru"}
DIAG_NS = {"1.2": "http://www.loc.gov/zing/srw/diagnostic/", "2.0": "http://docs.oasis-open.org/ns/search-ws/diagnostic"}
EXPLAIN_NS = "http://explain.z3950.org/dtd/2.0/"
MARC_NS = "http://www.loc.gov/MARC21/slim"
SRW_DC_NS = "info:srw/schema/1/dc-schema"
DC_NS = "http://purl.org/dc/elements/1.1/"
DIAGNOSTIC_SCHEMA = "info:srw/schema/1/diagnostics-v1.1"
EXACT_COUNT = "info:srw/vocabulary/resultCountPrecision/1/exact"

DEFAULT_RECORDS = 10
MAX_RECORDS = 100  # more asked for: this many, and nextRecordPosition says where to go on
# recordSchema as clients name it -> (our schema, its identifier)
SCHEMAS = {name: ("marcxml", "info:srw/schema/1/marcxml-v1.1") for name in (
    "marcxml", "marc21", "marc21xml", "marcxml-v1.1", "info:srw/schema/1/marcxml-v1.1", MARC_NS.lower())}
SCHEMAS.update({name: ("dc", "info:srw/schema/1/dc-v1.1") for name in (
    "dc", "dublincore", "dc-v1.1", "info:srw/schema/1/dc-v1.1", SRW_DC_NS)})
CONTEXT_SETS = [("dc", "info:srw/cql-context-set/1/dc-v1.1"), ("bath", "http://zing.z3950.org/cql/bath/2.0/"),
                ("rec", "info:srw/cql-context-set/2/rec-1.1"), ("cql", "info:srw/cql-context-set/1/cql-v1.2")]


@bp.route("/sru", methods=["GET", "POST"])
def sru() -> Response:
    params = request.values
    asked = (params.get("version") or "").strip()
    version = "2.0" if not asked or _at_least_2(asked) else "1.2"  # an unknown version: the nearest we speak
    try:
        if asked and asked not in ("1.1", "1.2", "2.0"):
            raise CQLError(5, "2.0", f"Unsupported version: {asked[:20]} (this server answers 1.2 and 2.0)")
        operation = (params.get("operation") or "").strip() or (
            "searchRetrieve" if (params.get("query") or "").strip() else "explain")
        if operation == "explain":
            root = explain(version, params)
        elif operation == "searchRetrieve":
            root = search_retrieve(version, params)
        else:
            raise CQLError(4, operation[:40], "Unsupported operation: only searchRetrieve and explain")
    except CQLError as diagnostic:
        root = failure(version, diagnostic)
    except (SearchUnavailable, QueryUnsupported) as exc:
        log.warning("SRU: %s", exc)
        root = failure(version, CQLError(2, "", f"System temporarily unavailable: {exc}"))
    except Exception:  # noqa: BLE001 - an SRU client gets a diagnostic, never a 500
        log.exception("SRU request failed: %s", request.query_string[:300])
        root = failure(version, CQLError(1, "", "General system error (logged on the server)"))
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return Response(body, 200, content_type="text/xml; charset=utf-8")


def _at_least_2(version: str) -> bool:
    try:
        return float(version) >= 2
    except ValueError:
        return False


# -- searchRetrieve -------------------------------------------------------------------------------
def _number(params, name: str, default: int, minimum: int) -> int:
    text = (params.get(name) or "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 12 or int(text) < minimum:
        raise CQLError(6, name, f"Unsupported parameter value: {name} must be a whole number from {minimum}")
    return int(text)


def search_retrieve(version: str, params) -> etree._Element:
    query_type = (params.get("queryType") or "cql").strip() if version == "2.0" else "cql"
    text = params.get("query") or ""
    if not text.strip():
        raise CQLError(7, "query")
    start = _number(params, "startRecord", 1, 1)
    wanted = min(_number(params, "maximumRecords", DEFAULT_RECORDS, 0), MAX_RECORDS)
    schema, schema_uri = _schema(params)
    escaping = _escaping(version, params)
    for name, code in (("sortKeys", 80), ("stylesheet", 110), ("recordXPath", 72)):
        if (params.get(name) or "").strip():
            raise CQLError(code, name)
    if query_type == "cql":
        query = compile_query(text)
    elif query_type == "searchTerms":  # 2.0's plain words: every word, anywhere
        found = words(fold(text))
        if not found:
            raise CQLError(27, text[:100])
        query = Words("any", tuple(found))
    else:
        raise CQLError(6, "queryType", "Unsupported parameter value: queryType must be cql or searchTerms")
    if start > MAX_RESULT_WINDOW:
        raise CQLError(61, str(MAX_RESULT_WINDOW), f"First record position out of range: records past position "
                                                   f"{MAX_RESULT_WINDOW:,} cannot be retrieved; narrow the query")
    count = min(wanted, MAX_RESULT_WINDOW - start + 1)
    services = current_services()
    result = services.engine.search(SearchRequest(query=query, start=start - 1, size=max(count, 1), facets=False))
    if result.total and start > result.total:
        return failure(version, CQLError(61, str(start), f"First record position out of range: {start} (there are "
                                                         f"{result.total})"), total=result.total)
    hits = result.hits[:count]
    root = _response(version, "searchRetrieveResponse")
    _sub(root, version, "numberOfRecords", str(result.total))
    if hits:
        records = _sub(root, version, "records")
        members = services.catalogue.members_of([hit["id"] for hit in hits])
        for position, hit in enumerate(hits, start=start):
            entry = members.get(hit["id"])
            if entry:
                data = _record_data(schema, hit["id"], entry, services)
                _record(records, version, schema_uri, data, escaping, position)
            else:  # gone between the search and now: a surrogate diagnostic in its place
                _record(records, version, DIAGNOSTIC_SCHEMA, _diagnostic(version, CQLError(65, hit["id"])),
                        "xml", position)
        if start + len(hits) <= result.total:
            _sub(root, version, "nextRecordPosition", str(start + len(hits)))
    if version == "2.0":
        _sub(root, version, "resultCountPrecision", EXACT_COUNT)
    return root


def _schema(params) -> tuple[str, str]:
    asked = (params.get("recordSchema") or "marcxml").strip()
    found = SCHEMAS.get(asked.lower())
    if not found:
        raise CQLError(66, asked[:100], f"Unknown schema for retrieval: {asked[:100]} (marcxml or dc)")
    return found


def _escaping(version: str, params) -> str:
    """How records are put in the answer: as XML, or as escaped text ("string")."""
    if version == "1.2":
        packing = (params.get("recordPacking") or "xml").strip()
        if packing not in ("xml", "string"):
            raise CQLError(71, packing[:40], "Unsupported record packing: xml or string")
        return packing
    packing = (params.get("recordPacking") or "packed").strip()
    if packing in ("xml", "string"):  # a 1.2 client that left out the version: 1.2's recordPacking
        packing, default = "packed", packing
    else:
        default = "xml"
    if packing != "packed":
        raise CQLError(71, packing[:40], "Unsupported record packing: packed")
    escaping = (params.get("recordXMLEscaping") or default).strip()
    if escaping not in ("xml", "string"):
        raise CQLError(71, escaping[:40], "Unsupported record packing: recordXMLEscaping is xml or string")
    return escaping


def _record_data(schema: str, entry_id: str, members, services) -> etree._Element:
    from unionapi.publish import formats
    members = services.config.network.records(members)  # 852s: the libraries of today (config.network)
    if schema == "marcxml":
        return formats.marc_element(formats.entry_marc(entry_id, members, holdings=True,
                                                       libraries=services.config.libraries))
    dc = formats.entry_dc(entry_id, members)  # OAI-PMH's oai_dc:dc; SRU's Dublin Core is srw_dc:dc
    record = etree.Element(f"{{{SRW_DC_NS}}}dc", nsmap={"srw_dc": SRW_DC_NS, "dc": DC_NS})
    for child in dc:
        if isinstance(child.tag, str):
            record.append(child)
    return record


# -- explain ------------------------------------------------------------------------------------------
def explain(version: str, params) -> etree._Element:
    escaping = _escaping(version, params)
    root = _response(version, "explainResponse")
    _record(root, version, EXPLAIN_NS, _zeerex(version), escaping, None)
    return root


def _zeerex(version: str) -> etree._Element:
    """The ZeeRex record: where the server is, its indexes with their relations, its record schemas."""
    e = ElementMaker(namespace=EXPLAIN_NS, nsmap={None: EXPLAIN_NS})
    where = urlsplit(request.host_url)
    try:
        port = str(where.port or (443 if request.scheme == "https" else 80))
    except ValueError:  # a Host header with a port that is not one
        port = "443" if request.scheme == "https" else "80"
    host = where.hostname or "localhost"
    indexes = []
    for name, title, relations in EXPLAINED:
        prefix, _, short = name.partition(".")
        indexes.append(e.index(e.title(title, lang="en"), e.map(e.name(short, set=prefix)),
                               e.configInfo(*[e.supports(r, type="relation") for r in relations.split()]),
                               search="true", scan="false", sort="false"))
    return e.explain(
        e.serverInfo(e.host(host), e.port(port), e.database(request.path.strip("/") or "sru"),
                     protocol="SRU", version=version, transport=request.scheme, method="GET POST"),
        e.databaseInfo(e.title("Union catalogue", lang="en", primary="true"),
                       e.title("Mục lục liên hợp", lang="vi"),
                       e.description("The union catalogue of the library network: every title once, with the "
                                     "libraries that hold it. Search words are folded: diacritics are optional.",
                                     lang="en")),
        e.indexInfo(*[e.set(name=name, identifier=uri) for name, uri in CONTEXT_SETS], *indexes),
        e.schemaInfo(
            e.schema(e.title("MARCXML (MARC 21), one 852 per holding", lang="en"),
                     identifier="info:srw/schema/1/marcxml-v1.1", name="marcxml", sort="false", retrieve="true"),
            e.schema(e.title("Dublin Core", lang="en"), identifier="info:srw/schema/1/dc-v1.1", name="dc",
                     sort="false", retrieve="true")),
        e.configInfo(e.default(str(DEFAULT_RECORDS), type="numberOfRecords"),
                     e.setting(str(MAX_RECORDS), type="maximumRecords"),
                     e.default("cql.serverChoice", type="index"), e.default("=", type="relation")),
    )


# -- building answers ---------------------------------------------------------------------------
def _response(version: str, name: str) -> etree._Element:
    root = etree.Element(f"{{{NS[version]}}}{name}", nsmap={PREFIX[version]: NS[version]})
    if version == "1.2":
        _sub(root, version, "version", "1.2")
    return root


def _sub(parent: etree._Element, version: str, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS[version]}}}{name}")
    if text is not None:
        element.text = text
    return element


def _record(parent, version: str, schema: str, data: etree._Element, escaping: str, position: int | None) -> None:
    """One record: its schema, how it is packed, the data, its position in the result set."""
    record = _sub(parent, version, "record")
    _sub(record, version, "recordSchema", schema)
    if version == "1.2":
        _sub(record, version, "recordPacking", escaping)
    else:
        _sub(record, version, "recordXMLEscaping", escaping)
    holder = _sub(record, version, "recordData")
    if escaping == "string":
        holder.text = etree.tostring(data, encoding="unicode")
    else:
        holder.append(data)
    if position is not None:
        _sub(record, version, "recordPosition", str(position))


def _diagnostic(version: str, diagnostic: CQLError) -> etree._Element:
    ns = DIAG_NS[version]
    element = etree.Element(f"{{{ns}}}diagnostic", nsmap={"diag": ns})
    etree.SubElement(element, f"{{{ns}}}uri").text = diagnostic.uri
    if diagnostic.details:
        etree.SubElement(element, f"{{{ns}}}details").text = _xml_safe(diagnostic.details)
    etree.SubElement(element, f"{{{ns}}}message").text = _xml_safe(diagnostic.message)
    return element


def _xml_safe(text: str) -> str:
    """Text from the request may hold characters XML cannot carry (control characters): dropped."""
    return "".join(c for c in text if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd")
                   or c > "\uffff")


def failure(version: str, diagnostic: CQLError, total: int = 0) -> etree._Element:
    """A fatal diagnostic: a searchRetrieveResponse without records (``total``: how many the query found)."""
    root = _response(version, "searchRetrieveResponse")
    _sub(root, version, "numberOfRecords", str(total))
    diagnostics = _sub(root, version, "diagnostics")
    diagnostics.append(_diagnostic(version, diagnostic))
    return root
