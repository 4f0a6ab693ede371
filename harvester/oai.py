"""OAI-PMH harvesting: page by page, checkpointed, incremental from the server's own clock.

sickle builds and sends the requests; this module adds what a nightly harvest of small library
servers needs: retries with backoff (and ``Retry-After``), OAI errors read from 4xx/5xx bodies,
illegal XML characters stripped, a checkpoint saved with every stored page, and a restart of the
listing when a server forgets a resumption token.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from lxml import etree
from sickle import Sickle
from sickle.response import OAIResponse

from config import Library, Settings
from harvester.rawstore import HarvestError, HarvestResult, RawStore

log = logging.getLogger("unioncat.harvest")

# Characters XML 1.0 forbids, raw or as character references; real providers send them.
_ILLEGAL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_ILLEGAL_REFS = re.compile(rb"&#(?:x0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|[fF]{3}[eEfF])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|6553[45]));")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)
_MAX_RETRY_AFTER_S = 600


@dataclass
class Page:
    response_date: str | None
    records: list[dict]
    bad: list[dict]
    token: str | None
    complete_list_size: int | None = None
    error_code: str | None = None
    error_text: str | None = None


def strip_illegal_xml(data: bytes) -> tuple[bytes, int]:
    """Remove characters that XML 1.0 forbids; return the cleaned bytes and how many went."""
    cleaned, n1 = _ILLEGAL_BYTES.subn(b"", data)
    cleaned, n2 = _ILLEGAL_REFS.subn(b"", cleaned)
    return cleaned, n1 + n2


def parse_page(data: bytes, record_format: str) -> Page:
    """Read one OAI-PMH response. Raises HarvestError when it is not OAI-PMH XML at all."""
    cleaned, _ = strip_illegal_xml(data)
    try:
        root = etree.fromstring(cleaned, _PARSER)
    except etree.XMLSyntaxError as exc:
        hint = " (the server sent an HTML page, not OAI-PMH XML)" if b"<html" in data[:2000].lower() else ""
        raise HarvestError(f"the response is not well-formed XML{hint}: {exc}") from None
    name = etree.QName(root).localname
    if name.lower() == "html":
        title = " ".join(root.xpath("string(//*[local-name()='title'])").split())
        raise HarvestError(f"the server sent an HTML page, not OAI-PMH XML (page title: {title!r})")
    if name != "OAI-PMH":
        raise HarvestError(f"the response is XML but not OAI-PMH (root element <{name}>)")
    page = Page(response_date=_text(root.find("{*}responseDate")), records=[], bad=[], token=None)
    error = root.find("{*}error")
    if error is not None:
        page.error_code = error.get("code", "unknown")
        page.error_text = (error.text or "").strip()
        return page
    verb = next((child for child in root  # (comments and processing instructions are children too)
                 if isinstance(child.tag, str) and etree.QName(child).localname in ("ListRecords", "GetRecord")), None)
    if verb is None:
        raise HarvestError("the OAI-PMH response holds neither records nor an error")
    for record in verb.iterfind("{*}record"):
        item = _record_item(record, record_format)
        (page.bad if "reason" in item else page.records).append(item)
    token = verb.find("{*}resumptionToken")
    if token is not None:
        page.token = (token.text or "").strip() or None
        size = token.get("completeListSize")
        page.complete_list_size = int(size) if size and size.isdigit() else None
    return page


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


def _read_response(verb: str, data: bytes):
    """(root element, "code: message" of an OAI error or None) of a small response like Identify."""
    cleaned, _ = strip_illegal_xml(data)
    try:
        root = etree.fromstring(cleaned, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise HarvestError(f"{verb}: the response is not well-formed XML: {exc}") from None
    error = root.find("{*}error")
    if error is None:
        return root, None
    return root, f"{error.get('code')}: {(error.text or '').strip()}"


def _text(element) -> str | None:
    return element.text.strip() if element is not None and element.text else None


def truncate_to_granularity(stamp: str, granularity: str | None) -> str:
    """OAI ``from`` must match the server's granularity: day-granular servers reject seconds."""
    if granularity and "hh" not in granularity:
        return stamp[:10]
    return stamp


class PatientSickle(Sickle):
    """sickle with the retry policy a small library server needs, returning OAI errors as pages."""

    def __init__(self, endpoint: str, timeout: float, max_retries: int, backoff_s: float, sleep=time.sleep):
        super().__init__(endpoint, timeout=timeout, headers={"User-Agent": "unioncat harvester"})
        self.max_retries, self.backoff_s, self.sleep = max_retries, backoff_s, sleep

    def harvest(self, **params) -> OAIResponse:
        last_problem = "no attempt made"
        for attempt in range(self.max_retries + 1):
            wait = self.backoff_s * (2 ** attempt)
            try:
                response = self._request(params)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_problem = f"cannot reach {self.endpoint}: {exc.__class__.__name__}: {exc}"
            else:
                status = response.status_code
                if status < 400 or (status < 500 and status != 429) or b"<OAI-PMH" in response.content[:4000]:
                    return OAIResponse(response, params=params)
                last_problem = f"HTTP {status} from {self.endpoint}"
                if status in (429, 503) and response.headers.get("Retry-After"):
                    wait = _retry_after_seconds(response.headers["Retry-After"], default=wait)
            if attempt < self.max_retries:
                log.warning("%s; retrying in %.0f s (attempt %d of %d)", last_problem, wait, attempt + 1,
                            self.max_retries)
                self.sleep(wait)
        raise HarvestError(f"{last_problem}; gave up after {self.max_retries + 1} attempts")


def _retry_after_seconds(value: str, default: float) -> float:
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
        return max(0.0, min((when.timestamp() - time.time()), _MAX_RETRY_AFTER_S))
    except (TypeError, ValueError):
        return default


class OAIHarvester:
    """Harvests one library into the raw store."""

    def __init__(self, library: Library, store: RawStore, settings: Settings, sleep=time.sleep,
                 after_page=None):
        self.library, self.store, self.settings = library, store, settings
        self.client = PatientSickle(library.endpoint, timeout=library.timeout_s,
                                    max_retries=settings.harvest_max_retries, backoff_s=settings.harvest_backoff_s,
                                    sleep=sleep)
        self.after_page = after_page  # called with the page number after each stored page (tests, progress)

    def identify(self) -> dict:
        root, error = _read_response("Identify", self.client.harvest(verb="Identify").http_response.content)
        if error:
            raise HarvestError(f"Identify: OAI error {error}")
        identify = root.find("{*}Identify")
        if identify is None:
            raise HarvestError("Identify: the response holds no <Identify> element")
        return {"repository_name": _text(identify.find("{*}repositoryName")),
                "granularity": _text(identify.find("{*}granularity")),
                "earliest_datestamp": _text(identify.find("{*}earliestDatestamp")),
                "deleted_record": _text(identify.find("{*}deletedRecord")),
                "response_date": _text(root.find("{*}responseDate"))}

    def identifiers(self) -> set[str]:
        """Every identifier the provider lists now, deleted ones left out (for `unioncat check`)."""
        params = {"verb": "ListIdentifiers", "metadataPrefix": self.library.metadata_prefix}
        if self.library.set:
            params["set"] = self.library.set
        found: set[str] = set()
        seen_tokens: set[str] = set()
        while True:
            root, error = _read_response("ListIdentifiers", self.client.harvest(**params).http_response.content)
            if error and error.startswith("noRecordsMatch"):
                return found
            if error:
                raise HarvestError(f"ListIdentifiers: OAI error {error}")
            listing = root.find("{*}ListIdentifiers")
            for header in listing.iterfind("{*}header") if listing is not None else ():
                if header.get("status") != "deleted" and _text(header.find("{*}identifier")):
                    found.add(_text(header.find("{*}identifier")))
            token = _text(listing.find("{*}resumptionToken")) if listing is not None else None
            if not token:
                return found
            if token in seen_tokens:
                raise HarvestError(f"ListIdentifiers: the server returned resumption token {token!r} again")
            seen_tokens.add(token)
            params = {"verb": "ListIdentifiers", "resumptionToken": token}

    def harvest(self, full: bool = False, force: bool = False) -> HarvestResult:
        """A listing of what changed; with ``full``, everything, and what the provider no longer lists
        (for providers that keep no deleted records) becomes deletions, behind the deletion guard."""
        library, store = self.library, self.store
        state = store.state(library.id)
        checkpoint = None if full else state["checkpoint"]
        if checkpoint:
            mode = "resumed"
        elif full or not state["last_success_response_date"]:
            mode = "full"
        else:
            mode = "incremental"
        result = HarvestResult(library.id, "failed", mode)
        result.run_id = store.start_run(library.id, mode)
        try:
            info = self.identify()
            if checkpoint is None:
                params = {"metadataPrefix": library.metadata_prefix}
                if library.set:
                    params["set"] = library.set
                if mode == "incremental":
                    params["from"] = truncate_to_granularity(state["last_success_response_date"], info["granularity"])
                checkpoint = {"params": params, "token": None, "response_date": None, "pages": 0}
            log.info("%s: %s harvest from %s%s", library.id, mode, library.endpoint,
                     f" (from {checkpoint['params']['from']})" if "from" in checkpoint["params"] else "")
            seen = self._list(checkpoint, result)
            if mode == "full" and not library.set:
                deleted, refused = store.reconcile(library.id, seen,
                                                   library.options.get("max_delete_ratio", 0.2), force)
                result.counts.deleted += deleted
                result.note = result.warning = refused
            result.outcome = "ok"
        except HarvestError as exc:
            result.error = str(exc)
            log.error("%s: harvest failed: %s", library.id, exc)
        finally:
            store.update_run(result.run_id, result.counts, result.pages,
                             result.outcome if result.outcome == "ok" else "failed", result.error, result.note,
                             result.warning)
        if result.outcome == "ok":
            c = result.counts
            log.info("%s: harvest done: %d pages, %d added, %d updated, %d deleted, %d unchanged, %d quarantined",
                     library.id, result.pages, c.added, c.updated, c.deleted, c.unchanged, c.quarantined)
        return result

    def _list(self, checkpoint: dict, result: HarvestResult) -> set[str]:
        """Page through the listing; returns the identifiers it listed (deleted ones included)."""
        library, store = self.library, self.store
        seen_tokens: set[str] = set()
        seen: set[str] = set()
        restarted = False
        while True:
            if checkpoint["token"]:
                request = {"verb": "ListRecords", "resumptionToken": checkpoint["token"]}
            else:
                request = {"verb": "ListRecords", **checkpoint["params"]}
            response = self.client.harvest(**request)
            data = response.http_response.content
            try:
                page = parse_page(data, library.record_format)
            except HarvestError as exc:
                status = response.http_response.status_code
                if status >= 400:
                    exc = HarvestError(f"HTTP {status} from {library.endpoint} for {request}: "
                                       f"{data[:200].decode('utf-8', 'replace').strip()!r}")
                store.quarantine(library.id, None, f"page {checkpoint['pages'] + 1} ({request}): {exc}", data)
                raise HarvestError(f"page {checkpoint['pages'] + 1} could not be read and was kept in quarantine "
                                   f"(the next run retries it): {exc}") from None
            if page.error_code == "noRecordsMatch":
                log.info("%s: nothing new (noRecordsMatch)", library.id)
            elif page.error_code == "badResumptionToken" and checkpoint["token"] and not restarted:
                log.warning("%s: the server no longer accepts resumption token %r; restarting the listing%s",
                            library.id, checkpoint["token"],
                            f" from {checkpoint['params']['from']}" if "from" in checkpoint["params"] else "")
                checkpoint.update(token=None, response_date=None)
                seen_tokens.clear()
                restarted = True
                continue
            elif page.error_code:
                raise HarvestError(f"OAI error {page.error_code}: {page.error_text or 'no message'}")
            if checkpoint["response_date"] is None:
                # the first page's clock is where the next incremental harvest must start
                checkpoint["response_date"] = page.response_date
            if page.token and (page.token in seen_tokens or page.token == checkpoint["token"]):
                result.counts.add(store.store_page(library.id, page.records, None, page.bad))
                raise HarvestError(f"the server returned resumption token {page.token!r} again; stopping so the "
                                   "harvest does not loop forever (records so far are kept)")
            if page.token:
                seen_tokens.add(page.token)
            checkpoint["pages"] += 1
            checkpoint["token"] = page.token
            seen.update(item["identifier"] for item in page.records)
            seen.update(item["identifier"] for item in page.bad if item.get("identifier"))
            counts = store.store_page(library.id, page.records, checkpoint if page.token else None, page.bad)
            result.counts.add(counts)
            result.pages += 1
            if result.pages % 10 == 0 or not page.token:
                total = f" of {page.complete_list_size}" if page.complete_list_size else ""
                log.info("%s: page %d stored (%d records so far%s)", library.id, result.pages,
                         result.counts.added + result.counts.updated + result.counts.unchanged + result.counts.deleted, total)
            if self.after_page:
                self.after_page(result.pages)
            if not page.token:
                if checkpoint["response_date"] is None:
                    raise HarvestError("the server sent no responseDate; cannot plan the next incremental harvest")
                store.finish_listing(library.id, checkpoint["response_date"])
                return seen
            if result.pages >= self.settings.harvest_max_pages:
                raise HarvestError(f"stopped after {result.pages} pages (harvest.max_pages); the checkpoint is kept")
