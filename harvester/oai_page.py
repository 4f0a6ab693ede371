"""Reading OAI-PMH responses: a ListRecords page, Identify, ListIdentifiers, and OAI errors.

Only lxml is needed (no HTTP, no raw store), so the fuzzer and the tests read pages cheaply. A
response is read as a whole before anything of it is stored: what is not OAI-PMH (an HTML error page,
a response cut off) is a HarvestError with a reason, and an OAI ``<error>`` is raised as the
exception sickle names for its code (``noRecordsMatch`` -> NoRecordsMatch). Characters XML 1.0
forbids are removed first: real providers send them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from harvester import HarvestError

# Characters XML 1.0 forbids, raw or as character references
_ILLEGAL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_ILLEGAL_REFS = re.compile(rb"&#(?:x0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|[fF]{3}[eEfF])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|6553[45]));")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)
_MESSAGE_CHARS = 200  # of the server's own words in an OAI error


# -- OAI errors, named as sickle names them --------------------------------------------------------------
class OAIError(HarvestError):
    """The server answered with an OAI-PMH ``<error>``; ``response_date`` is its clock at that moment."""

    code = "unknown"

    def __init__(self, message: str, response_date: str | None = None, code: str | None = None):
        self.message, self.response_date = message, response_date
        if code:
            self.code = code
        super().__init__(f"OAI error {self.code}: {message or 'no message'}")


class BadArgument(OAIError):
    code = "badArgument"


class BadResumptionToken(OAIError):
    """The server no longer knows the token (expired, or it restarted)."""
    code = "badResumptionToken"


class BadVerb(OAIError):
    code = "badVerb"


class CannotDisseminateFormat(OAIError):
    code = "cannotDisseminateFormat"


class IdDoesNotExist(OAIError):
    code = "idDoesNotExist"


class NoMetadataFormat(OAIError):
    code = "noMetadataFormats"  # (sickle's class name; the protocol's code is plural)


class NoRecordsMatch(OAIError):
    """Nothing matches the request: for an incremental harvest, nothing new."""
    code = "noRecordsMatch"


class NoSetHierarchy(OAIError):
    code = "noSetHierarchy"


_NAMED = {error.code: error for error in OAIError.__subclasses__()}


# -- pages ------------------------------------------------------------------------------------------------
@dataclass
class Page:
    """One ListRecords (or GetRecord) response: records to store, records to quarantine, the next token."""
    response_date: str | None
    records: list[dict] = field(default_factory=list)
    bad: list[dict] = field(default_factory=list)  # each with its "reason"
    token: str | None = None
    complete_list_size: int | None = None


def strip_illegal_xml(data: bytes) -> tuple[bytes, int]:
    """Remove characters that XML 1.0 forbids; return the cleaned bytes and how many went."""
    cleaned, n1 = _ILLEGAL_BYTES.subn(b"", data)
    cleaned, n2 = _ILLEGAL_REFS.subn(b"", cleaned)
    return cleaned, n1 + n2


def parse_page(data: bytes, record_format: str, max_record_bytes: int | None = None) -> Page:
    """Read one OAI-PMH response. Raises HarvestError when it is not OAI-PMH XML at all, an OAIError
    when the server answered with an OAI error.

    A record larger than ``max_record_bytes`` is kept in quarantine (its first bytes) with the reason."""
    root = _oai_root(data)
    page = Page(response_date=_text(root.find("{*}responseDate")))
    verb = next((child for child in root  # (comments and processing instructions are children too)
                 if isinstance(child.tag, str) and etree.QName(child).localname in ("ListRecords", "GetRecord")), None)
    if verb is None:
        raise HarvestError("the OAI-PMH response holds neither records nor an error")
    for record in verb.iterfind("{*}record"):
        item = _record_item(record, record_format)
        if max_record_bytes and item.get("body") and len(item["body"]) > max_record_bytes:
            item = {"identifier": item["identifier"], "body": item["body"][:64 * 1024],
                    "reason": f"the record is {len(item['body']) / 1024 / 1024:.1f} MB, more than "
                              f"{max_record_bytes / 1024 / 1024:g} MB (harvest.max_record_mb); its first 64 KB "
                              "are kept here"}
        (page.bad if "reason" in item else page.records).append(item)
    token = verb.find("{*}resumptionToken")
    if token is not None:
        page.token = (token.text or "").strip() or None
        size = token.get("completeListSize")
        page.complete_list_size = int(size) if size and size.isdigit() else None
    return page


def parse_identify(data: bytes) -> dict:
    """What an Identify response says about the repository (the granularity of its datestamps above all)."""
    root = _oai_root(data)
    identify = root.find("{*}Identify")
    if identify is None:
        raise HarvestError("the response holds no <Identify> element")
    return {"repository_name": _text(identify.find("{*}repositoryName")),
            "granularity": _text(identify.find("{*}granularity")),
            "earliest_datestamp": _text(identify.find("{*}earliestDatestamp")),
            "deleted_record": _text(identify.find("{*}deletedRecord")),
            "response_date": _text(root.find("{*}responseDate"))}


def parse_identifiers(data: bytes) -> tuple[list[str], str | None]:
    """The identifiers of one ListIdentifiers page, deleted ones left out, and the next resumption token."""
    listing = _oai_root(data).find("{*}ListIdentifiers")
    if listing is None:
        raise HarvestError("the OAI-PMH response holds neither identifiers nor an error")
    found = [_text(header.find("{*}identifier")) for header in listing.iterfind("{*}header")
             if header.get("status") != "deleted"]
    return [identifier for identifier in found if identifier], _text(listing.find("{*}resumptionToken"))


def _oai_root(data: bytes) -> etree._Element:
    """The <OAI-PMH> element of a response, after checking it is one and holds no OAI error."""
    cleaned, _ = strip_illegal_xml(data)
    try:
        root = etree.fromstring(cleaned, _PARSER)
    except etree.XMLSyntaxError as exc:
        hint = " (the server sent an HTML page, not OAI-PMH XML)" if b"<html" in data[:2000].lower() else ""
        raise HarvestError(f"the response is not well-formed XML{hint} ({_short(exc)})") from None
    name = etree.QName(root).localname
    if name.lower() == "html":  # (what the page says is the server's text: never in the public reason)
        raise HarvestError("the server sent an HTML page, not OAI-PMH XML")
    if name != "OAI-PMH":
        raise HarvestError(f"the response is XML but not OAI-PMH (root element <{name}>)")
    error = root.find("{*}error")
    if error is not None:
        code = error.get("code") or "unknown"
        message = " ".join((error.text or "").split())[:_MESSAGE_CHARS]  # the server's words: kept short
        raise _NAMED.get(code, OAIError)(message, _text(root.find("{*}responseDate")), code)
    return root


def _record_item(record: etree._Element, record_format: str) -> dict:
    header = record.find("{*}header")
    identifier = _text(header.find("{*}identifier")) if header is not None else None
    if not identifier:
        return {"identifier": None, "reason": "OAI record without a header identifier",
                "body": etree.tostring(record)}
    deleted = header.get("status") == "deleted"
    item = {"identifier": identifier, "format": record_format, "datestamp": _text(header.find("{*}datestamp")),
            "deleted": deleted, "sets": [s.text.strip() for s in header.iterfind("{*}setSpec") if s.text],
            "body": None}
    if not deleted:
        metadata = record.find("{*}metadata")
        children = [child for child in metadata if isinstance(child.tag, str)] if metadata is not None else []
        # one element (<oai_dc:dc>, <record>) is the payload; several are a provider's elements written
        # straight under <metadata> (<dc:title>, <dc:creator> ... with no wrapper): keep them all
        payload = children[0] if len(children) == 1 else metadata if children else None
        if payload is None:
            return {"identifier": identifier, "reason": "OAI record is not deleted but has no metadata",
                    "body": etree.tostring(record)}
        item["body"] = etree.tostring(payload, encoding="utf-8")
    return item


def _short(exc: Exception) -> str:
    """lxml's message without the document text it may quote."""
    return " ".join(str(exc).split())[:120]


def _text(element) -> str | None:
    return element.text.strip() if element is not None and element.text else None
