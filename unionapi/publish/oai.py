"""The union entries over OAI-PMH 2.0 at ``/oai``: what a national union catalogue harvests.

Records are the entries (``oai:<repositoryIdentifier>:<entry id>``) in ``marc21`` (MARCXML, one 852
per holding) and ``oai_dc``; their datestamps and deletions come from the publication state
(``unionapi.publish.state``), their content from the catalogue. Sets: ``library:<id>`` (the entries a
library holds), ``level:<kind>`` (provincial, district, commune, school) and ``province:<id>`` (the
libraries under a root of the ``parent`` chain), read from the configuration at request time.
Resumption tokens carry the whole query (format, set, from, until, the last (generation, id) sent,
cursor and list size), so they survive a restart and never expire.
"""
from __future__ import annotations

import base64
import calendar
import json
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from xml.sax.saxutils import escape, quoteattr

from flask import Blueprint, Response, request
from lxml import etree

from unionapi.publish import formats
from unionapi.publish.state import PublicationState, Published, utc
from unionapi.web import current_services

bp = Blueprint("oai", __name__)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
FORMATS = {  # prefix -> (schema, namespace)
    "marc21": ("http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", "http://www.loc.gov/MARC21/slim"),
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", "http://www.openarchives.org/OAI/2.0/oai_dc/"),
}
PAGE_SIZE = {"ListRecords": 100, "ListIdentifiers": 500}
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
DEFAULT_NAME = "unioncat"
DEFAULT_IDENTIFIER = "unioncat"  # stable whatever host name a harvester uses (a setting may name the domain)
DEFAULT_EMAIL = "admin@unioncat.invalid"  # a placeholder until settings.yaml names a person
LEVEL_NAMES = {"provincial": "Thư viện cấp tỉnh (provincial libraries)",
               "district": "Thư viện cấp huyện (district libraries)",
               "commune": "Thư viện cấp xã (commune libraries)",
               "school": "Thư viện trường học (school libraries)",
               "ward": "Thư viện cấp phường (ward libraries)", "reading_point": "Điểm đọc sách (reading points)",
               "rotation_point": "Điểm luân chuyển sách (book rotation points)",
               "mobile": "Thư viện lưu động (mobile libraries)", "prison": "Thư viện trại giam (prison libraries)",
               "private": "Thư viện tư nhân (private libraries)", "other": "Thư viện khác (other libraries)"}
# verb -> (required arguments, optional arguments, takes a resumptionToken)
VERBS = {
    "Identify": ((), (), False),
    "ListMetadataFormats": ((), ("identifier",), False),
    "ListSets": ((), (), True),
    "GetRecord": (("identifier", "metadataPrefix"), (), False),
    "ListIdentifiers": (("metadataPrefix",), ("from", "until", "set"), True),
    "ListRecords": (("metadataPrefix",), ("from", "until", "set"), True),
}
_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")
_PREFIX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SECOND = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class OAIError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Query:
    """One list request, all of it: what a resumption token carries."""
    verb: str
    prefix: str
    set: str | None
    start: int | None  # from, UTC seconds
    end: int | None  # until, UTC seconds (a day's until is its last second)
    after: tuple[int, str] | None = None  # the last (generation, id) sent
    cursor: int = 0  # how many were sent before this page
    size: int | None = None  # completeListSize, counted on the first page

    def token(self) -> str:
        data = [self.verb, self.prefix, self.set, self.start, self.end, list(self.after or ()), self.cursor, self.size]
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def from_token(cls, verb: str, token: str) -> "Query":
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            token_verb, prefix, set_spec, start, end, after, cursor, size = json.loads(raw)
            ok = (token_verb == verb and prefix in FORMATS and (set_spec is None or _SPEC.fullmatch(set_spec))
                  and all(v is None or _small(v) for v in (start, end, size))
                  and _small(cursor) and cursor > 0 and len(after) == 2
                  and _small(after[0]) and isinstance(after[1], str) and after[1].isascii()
                  and after[1].isprintable())
        except (ValueError, TypeError, AttributeError, RecursionError):
            ok = False
        if not ok:
            raise OAIError("badResumptionToken", "this resumptionToken was not issued by this repository for " + verb)
        return cls(verb, prefix, set_spec, start, end, (after[0], after[1]), cursor, size)


def _small(value) -> bool:
    """A whole number SQLite can take (a token's numbers are ours, but anyone can send a token)."""
    return type(value) is int and abs(value) < 2**53


# -- the one route ------------------------------------------------------------------------------
@bp.route("/oai", methods=["GET", "POST"])
def oai():
    response_date = utc(int(time.time()))  # before anything is read (see state.py)
    services = current_services()
    base_url = _NOT_XML.sub("", request.base_url)
    args = request.form if request.method == "POST" else request.args
    try:
        verb, params = parse_arguments(args)
    except OAIError as exc:  # badVerb, badArgument: the request is echoed without its arguments
        return _answer(_envelope(response_date, base_url, None, _error(exc)))
    repository = Repository(services)
    try:
        body = getattr(repository, verb)(params)
    except OAIError as exc:
        body = _error(exc)
    return _answer(_envelope(response_date, base_url, params | {"verb": verb}, body))


def _answer(chunks) -> Response:
    return Response(_batched(chunks), mimetype="text/xml", content_type="text/xml; charset=utf-8")


def _batched(chunks, size: int = 64 * 1024):
    """Byte chunks joined into writes of about ``size`` bytes: a record a write costs the server more
    than building it (still streamed: a page is never held whole)."""
    batch, length = [], 0
    for chunk in chunks:
        batch.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(batch)
            batch, length = [], 0
    if batch:
        yield b"".join(batch)


def parse_arguments(args) -> tuple[str, dict[str, str]]:
    """The verb and its arguments, or badVerb / badArgument saying what is wrong."""
    verbs = args.getlist("verb")
    if not verbs:
        raise OAIError("badVerb", "the verb argument is missing")
    if len(verbs) > 1:
        raise OAIError("badVerb", "the verb argument is repeated")
    verb = verbs[0]
    if verb not in VERBS:
        raise OAIError("badVerb", "not an OAI-PMH verb: " + _shown(verb))
    required, optional, resumable = VERBS[verb]
    params: dict[str, str] = {}
    for key in args:
        if key == "verb":
            continue
        values = args.getlist(key)
        if key not in required and key not in optional and not (resumable and key == "resumptionToken"):
            raise OAIError("badArgument", f"{verb} does not take the argument {_shown(key)}")
        if len(values) > 1:
            raise OAIError("badArgument", f"the argument {key} is repeated")
        if _NOT_XML.search(values[0]):
            raise OAIError("badArgument", f"the argument {key} holds characters XML cannot carry")
        params[key] = values[0]
    if "resumptionToken" in params:
        if len(params) > 1:
            raise OAIError("badArgument", "resumptionToken is an exclusive argument: only verb may come with it")
        return verb, params
    missing = [key for key in required if key not in params]
    if missing:
        raise OAIError("badArgument", f"{verb} needs the argument(s) {', '.join(missing)}")
    if "metadataPrefix" in params and not _PREFIX.fullmatch(params["metadataPrefix"]):
        raise OAIError("badArgument", "metadataPrefix is not a metadata prefix: " + _shown(params["metadataPrefix"]))
    if "set" in params and not _SPEC.fullmatch(params["set"]):
        raise OAIError("badArgument", "set is not a setSpec: " + _shown(params["set"]))
    start = _datestamp("from", params.get("from"), end=False)
    end = _datestamp("until", params.get("until"), end=True)
    if start and end:
        if len(params["from"]) != len(params["until"]):
            raise OAIError("badArgument", "from and until must have the same granularity")
        if start > end:
            raise OAIError("badArgument", "from is later than until")
    return verb, params


def _datestamp(name: str, value: str | None, end: bool) -> int | None:
    """UTC seconds of a from/until value (day granularity: the day's first or last second)."""
    if value is None:
        return None
    try:
        if _DAY.fullmatch(value):
            day = calendar.timegm(datetime.strptime(value, "%Y-%m-%d").timetuple())
            return day + 86399 if end else day
        if _SECOND.fullmatch(value):
            return calendar.timegm(datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").timetuple())
    except ValueError:
        pass
    raise OAIError("badArgument", f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC); got {_shown(value)}")


def _shown(value: str) -> str:
    return repr(value[:60])


# -- the verbs ----------------------------------------------------------------------------------
class Repository:
    """The answers, as chunks of XML (a list is streamed record by record)."""

    def __init__(self, services):
        self.services, self.config = services, services.config
        settings = self.config.settings
        self.name = getattr(settings, "oai_repository_name", None) or DEFAULT_NAME
        self.identifier = getattr(settings, "oai_repository_identifier", None) or DEFAULT_IDENTIFIER
        self.email = getattr(settings, "oai_admin_email", None) or DEFAULT_EMAIL
        if getattr(services, "publication", None) is None:
            services.publication = PublicationState.beside(services.catalogue.path)
        self.state: PublicationState = services.publication
        self.library_names = {i: library.name for i, library in self.config.libraries.items()}

    def Identify(self, params):
        earliest = self.state.earliest()
        return [("<Identify>"
               f"<repositoryName>{escape(self.name)}</repositoryName>"
               f"<baseURL>{escape(_NOT_XML.sub('', request.base_url))}</baseURL>"
               "<protocolVersion>2.0</protocolVersion>"
               f"<adminEmail>{escape(self.email)}</adminEmail>"
               f"<earliestDatestamp>{utc(earliest if earliest is not None else int(time.time()))}</earliestDatestamp>"
               "<deletedRecord>persistent</deletedRecord>"
               f"<granularity>{GRANULARITY}</granularity>"
               "</Identify>")]

    def ListMetadataFormats(self, params):
        if "identifier" in params:
            self._published(params["identifier"])  # every entry, even a deleted one, has both formats
        return ["<ListMetadataFormats>",
                *(f"<metadataFormat><metadataPrefix>{prefix}</metadataPrefix><schema>{schema}</schema>"
                  f"<metadataNamespace>{namespace}</metadataNamespace></metadataFormat>"
                  for prefix, (schema, namespace) in FORMATS.items()),
                "</ListMetadataFormats>"]

    def ListSets(self, params):
        if "resumptionToken" in params:
            raise OAIError("badResumptionToken", "ListSets is answered whole: this repository issues no token for it")
        libraries = self.config.libraries
        sets = [("library", "Thư viện giữ sách (by holding library)")]
        sets += [(f"library:{library.id}", library.name) for library in libraries.values()]
        kinds = sorted({library.kind for library in libraries.values()})
        sets += [("level", "Cấp thư viện (by level)")]
        sets += [(f"level:{kind}", LEVEL_NAMES.get(kind, kind)) for kind in kinds]
        sets += [("province", "Mạng lưới tỉnh (by province)")]
        sets += [(f"province:{library.id}", library.name) for library in libraries.values() if library.parent is None]
        return ["<ListSets>", *(f"<set><setSpec>{escape(spec)}</setSpec><setName>{escape(name)}</setName></set>"
                                for spec, name in sets if _SPEC.fullmatch(spec)), "</ListSets>"]

    def GetRecord(self, params):
        found = self._published(params["identifier"])
        self._format(params["metadataPrefix"])
        records = self._records([found], params["metadataPrefix"], with_metadata=True)
        return ["<GetRecord>", *records, "</GetRecord>"]

    def ListIdentifiers(self, params):
        return self._list("ListIdentifiers", params)

    def ListRecords(self, params):
        return self._list("ListRecords", params)

    # -- lists --------------------------------------------------------------------------------
    def _list(self, verb: str, params: dict):
        if "resumptionToken" in params:
            query = Query.from_token(verb, params["resumptionToken"])
        else:
            self._format(params["metadataPrefix"])
            query = Query(verb, params["metadataPrefix"], params.get("set"),
                          _datestamp("from", params.get("from"), end=False),
                          _datestamp("until", params.get("until"), end=True))
        gens = self.state.gens_between(query.start, query.end)
        libraries = self._set_libraries(query.set)
        limit = PAGE_SIZE[verb]
        rows = self.state.page(gens, libraries, query.after, limit + 1) if gens else []
        more, rows = len(rows) > limit, rows[:limit]
        if not rows:
            raise OAIError("noRecordsMatch", "no record matches these arguments")
        size = query.size
        if size is None:
            size = self.state.count(gens, libraries) if more else len(rows)
        records = self._records(rows, query.prefix, with_metadata=verb == "ListRecords")
        if more:
            following = replace(query, after=(rows[-1].gen, rows[-1].id), cursor=query.cursor + len(rows), size=size)
            token = (f'<resumptionToken completeListSize="{max(size, following.cursor + 1)}" cursor="{query.cursor}">'
                     f"{following.token()}</resumptionToken>")
        elif query.after is not None:  # the last page of a list that was split
            token = (f'<resumptionToken completeListSize="{max(size, query.cursor + len(rows))}"'
                     f' cursor="{query.cursor}"/>')
        else:
            token = ""
        return _chained(f"<{verb}>", records, token, f"</{verb}>")

    def _set_libraries(self, spec: str | None) -> list[str] | None:
        """The libraries whose entries make up a set (None: every entry)."""
        if spec is None or spec == "library":
            return None
        libraries = self.config.libraries
        family, _, value = spec.partition(":")
        if family == "library" and value:
            return self.config.network.resolve(value) or [value]  # a former library: the one that replaced it
        if family == "level":
            return [i for i, library in libraries.items() if not value or library.kind == value]
        if family == "province":
            return [i for i in libraries if not value or _root(libraries, i) == value]
        return []

    def _set_specs(self, holding: list[str]) -> list[str]:
        libraries = self.config.libraries
        specs = [f"library:{i}" for i in holding if _SPEC.fullmatch(f"library:{i}")]
        specs += sorted({f"level:{libraries[i].kind}" for i in holding if i in libraries})
        specs += sorted({f"province:{_root(libraries, i)}" for i in holding if i in libraries})
        return specs

    # -- records ------------------------------------------------------------------------------
    def _published(self, identifier: str) -> Published:
        prefix = f"oai:{self.identifier}:"
        found = self.state.get(identifier[len(prefix):]) if identifier.startswith(prefix) else None
        if found is None:
            raise OAIError("idDoesNotExist", "no record with the identifier " + _shown(identifier))
        return found

    @staticmethod
    def _format(prefix: str) -> None:
        if prefix not in FORMATS:
            raise OAIError("cannotDisseminateFormat", f"metadataPrefix {_shown(prefix)} is not served; "
                                                      f"ListMetadataFormats names {', '.join(FORMATS)}")

    def _records(self, rows: list[Published], prefix: str, with_metadata: bool):
        """Each row's header (and metadata), read for the whole page at once, produced one by one."""
        holding = self.state.holding([row.id for row in rows])
        members = (self.services.catalogue.members_of([row.id for row in rows if not row.deleted])
                   if with_metadata else {})
        members = {i: self.config.network.records(m) for i, m in members.items()}  # 852s: the libraries of today
        for row in rows:
            entry_members = members.get(row.id)
            deleted = row.deleted or (with_metadata and not entry_members)  # (being re-clustered: gone meanwhile)
            header = (f'<header{" status=" + quoteattr("deleted") if deleted else ""}>'
                      f"<identifier>oai:{escape(self.identifier)}:{escape(row.id)}</identifier>"
                      f"<datestamp>{utc(row.datestamp)}</datestamp>"
                      + "".join(f"<setSpec>{escape(s)}</setSpec>" for s in self._set_specs(holding.get(row.id, [])))
                      + "</header>")
            if not with_metadata:
                yield header
            elif deleted:
                yield f"<record>{header}</record>"
            else:
                yield f"<record>{header}<metadata>{self._metadata(row, entry_members, prefix)}</metadata></record>"

    def _metadata(self, row: Published, members, prefix: str) -> str:
        """The entry in one format: MARCXML with one 852 per holding (005 = the datestamp), or oai_dc."""
        if prefix == "marc21":
            return formats.marc_text(formats.entry_marc(row.id, members, holdings=True, libraries=self.library_names,
                                                        stamp=datetime.fromtimestamp(row.datestamp, timezone.utc)))
        return etree.tostring(formats.entry_dc(row.id, members), encoding="unicode")


def _root(libraries: dict, library_id: str) -> str:
    """The top of a library's ``parent`` chain (a loop stops where it closes)."""
    seen = {library_id}
    while (parent := libraries[library_id].parent) in libraries and parent not in seen:
        seen.add(parent)
        library_id = parent
    return library_id


def _chained(head: str, records, tail: str, end: str):
    yield head
    yield from records
    yield tail
    yield end


# -- the envelope -------------------------------------------------------------------------------
def _error(exc: OAIError):
    return [f"<error code={quoteattr(exc.code)}>{escape(exc.message)}</error>"]


def _envelope(response_date: str, base_url: str, arguments: dict | None, body):
    """The OAI-PMH document around a body, as UTF-8 chunks; ``arguments`` None: no attributes echoed."""
    attributes = "".join(f" {key}={quoteattr(value)}" for key, value in sorted((arguments or {}).items()))
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n'
           f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
           f' xsi:schemaLocation="{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">'
           f"<responseDate>{response_date}</responseDate>"
           f"<request{attributes}>{escape(base_url)}</request>").encode("utf-8")
    for chunk in body:
        yield chunk.encode("utf-8")
    yield b"</OAI-PMH>\n"
