"""OAI-PMH harvesting: page by page, checkpointed, incremental from the server's own clock.

sickle keeps the protocol layer; its requests go through the harvest's one HTTP client
(harvester.http: addresses, redirects, deadlines, size caps). This module adds what a nightly
harvest of small library servers needs: retries with backoff (and ``Retry-After``), OAI errors read
from 4xx/5xx bodies, illegal XML characters stripped, a checkpoint saved with every stored page, a
restart of the listing when a server forgets a resumption token, and a page cap in proportion to
what the server says it holds.
"""
from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass

from lxml import etree
from sickle import Sickle
from sickle.response import OAIResponse

from config import Library, Settings
from harvester.http import FetchError, HarvestClient, excerpt
from harvester.rawstore import HarvestError, HarvestResult, RawStore, unexpected

log = logging.getLogger("unioncat.harvest")

# Characters XML 1.0 forbids, raw or as character references; real providers send them.
_ILLEGAL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_ILLEGAL_REFS = re.compile(rb"&#(?:x0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|[fF]{3}[eEfF])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|6553[45]));")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)
_LOOPING_PAGES = 3  # pages in a row that list only records this listing already sent: the server is looping


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


def parse_page(data: bytes, record_format: str, max_record_bytes: int | None = None) -> Page:
    """Read one OAI-PMH response. Raises HarvestError when it is not OAI-PMH XML at all.

    A record larger than ``max_record_bytes`` is kept in quarantine (its first bytes) with the reason."""
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
    page = Page(response_date=_text(root.find("{*}responseDate")), records=[], bad=[], token=None)
    error = root.find("{*}error")
    if error is not None:
        page.error_code = error.get("code", "unknown")
        page.error_text = " ".join((error.text or "").split())[:200]  # the server's words: kept short
        return page
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
        raise HarvestError(f"{verb}: the response is not well-formed XML ({_short(exc)})") from None
    error = root.find("{*}error")
    if error is None:
        return root, None
    return root, f"{error.get('code')}: {' '.join((error.text or '').split())[:200]}"


def _short(exc: Exception) -> str:
    """lxml's message without the document text it may quote."""
    return " ".join(str(exc).split())[:120]


def _text(element) -> str | None:
    return element.text.strip() if element is not None and element.text else None


def truncate_to_granularity(stamp: str, granularity: str | None) -> str:
    """OAI ``from`` must match the server's granularity: day-granular servers reject seconds."""
    if granularity and "hh" not in granularity:
        return stamp[:10]
    return stamp


class PatientSickle(Sickle):
    """sickle whose requests go through the harvest's HTTP client and its retry policy; OAI errors come
    back as pages (they arrive in 4xx/5xx bodies too), other HTTP errors as a named HarvestError."""

    def __init__(self, endpoint: str, client: HarvestClient):
        super().__init__(endpoint)
        self.client = client

    def _request(self, kwargs):  # sickle's own entry point (its iterators call it)
        return self.client.get(self.endpoint, kwargs)

    def harvest(self, **params) -> OAIResponse:
        fetched = self.client.request(self.endpoint, params, accept=_is_answer)
        return OAIResponse(fetched, params=params)


def _is_answer(fetched) -> bool:
    return fetched.status_code < 400 or b"<OAI-PMH" in fetched.content[:4000]


class OAIHarvester:
    """Harvests one library into the raw store."""

    def __init__(self, library: Library, store: RawStore, settings: Settings, sleep=time.sleep,
                 after_page=None):
        self.library, self.store, self.settings = library, store, settings
        # a source that never answered fails at once on an unknown host or a refused connection
        self.http = HarvestClient(settings, library.timeout_s, sleep=sleep,
                                  fail_fast=store.last_success(library.id) is None)
        self.client = PatientSickle(library.endpoint, self.http)
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
        try:
            return self._identifiers()
        finally:
            self.http.close()

    def _identifiers(self) -> set[str]:
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
            if len(seen_tokens) >= (self.library.options.get("max_pages") or self.settings.harvest_max_pages):
                raise HarvestError(f"ListIdentifiers: stopped after {len(seen_tokens)} pages (max_pages)")
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
            result.detail = getattr(exc, "detail", None)
            log.error("%s: harvest failed: %s", library.id, exc)
        except Exception as exc:  # noqa: BLE001 (whatever happens, the run says why it failed)
            result.error = unexpected(exc)
            log.exception("%s: harvest failed: %s", library.id, result.error)
        finally:
            self.http.close()
            store.update_run(result.run_id, result.counts, result.pages,
                             result.outcome if result.outcome == "ok" else "failed", result.error, result.note,
                             result.warning, result.detail)
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
        max_pages = library.options.get("max_pages") or self.settings.harvest_max_pages
        page_cap, looping = max_pages, 0
        max_record = int(self.settings.harvest_max_record_mb * 1024 * 1024)
        while True:
            if checkpoint["token"]:
                request = {"verb": "ListRecords", "resumptionToken": checkpoint["token"]}
            else:
                request = {"verb": "ListRecords", **checkpoint["params"]}
            where = f"page {checkpoint['pages'] + 1}"
            try:
                response = self.client.harvest(**request)
            except FetchError as exc:
                if exc.kind == "too_large":  # kept (its first bytes) with the reason; a later run tries again
                    store.quarantine(library.id, None, f"{where} ({request}): {exc}", exc.body or None)
                    raise HarvestError(f"{where} was not harvested and is in quarantine: {exc}") from None
                if exc.kind == "status":  # Identify was answered: the endpoint is right, this request failed
                    reason = (f"HTTP {exc.status} from {library.endpoint} for {where}: the server could not "
                              "answer this request")
                    if "(gave up after " in str(exc):
                        reason += " (gave up after " + str(exc).rsplit("(gave up after ", 1)[1]
                    store.quarantine(library.id, None, f"{where} ({request}): {reason}", exc.body or None)
                    error = HarvestError(f"{where} could not be read and was kept in quarantine (the next run "
                                         f"retries it): {reason}")
                    error.detail = exc.detail
                    raise error from None
                raise
            data = response.http_response.content
            try:
                page = parse_page(data, library.record_format, max_record)
            except HarvestError as exc:
                status = response.http_response.status_code
                if status >= 400:
                    exc = FetchError(f"HTTP {status} from {library.endpoint}: the server failed and sent no "
                                     f"OAI-PMH answer", "status", detail=excerpt(data), status=status)
                store.quarantine(library.id, None, f"{where} ({request}): {exc}", data)
                error = HarvestError(f"{where} could not be read and was kept in quarantine (the next run retries "
                                     f"it): {exc}")
                error.detail = excerpt(data)
                raise error from None
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
            listed = [item["identifier"] for item in page.records + page.bad if item.get("identifier")]
            looping = looping + 1 if listed and seen.issuperset(listed) else 0
            if result.pages == 0 and page.complete_list_size is not None and listed:
                # what the server says it holds, page by page, with room for a server that miscounts
                page_cap = min(max_pages, 2 * math.ceil(page.complete_list_size / len(listed)) + 10)
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
            if looping >= _LOOPING_PAGES:
                store.clear_checkpoint(library.id)
                raise HarvestError(f"stopped after {result.pages} pages: the last {looping} pages listed only records "
                                   "this listing had already sent, under new resumption tokens (the server is "
                                   "looping); records so far are kept and the next run starts the listing again")
            if result.pages >= page_cap:
                why = (f"the server said the listing holds {page.complete_list_size} records (completeListSize)"
                       if page_cap < max_pages else "the limit of max_pages")
                raise HarvestError(f"stopped after {result.pages} pages, more than {why} allows; records so far "
                                   "are kept and the next run continues from here")
