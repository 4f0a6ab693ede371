"""OAI-PMH harvesting: page by page, checkpointed, incremental from the server's own clock.

sickle keeps the protocol layer; its requests go through the harvest's one HTTP client
(harvester.http: addresses, redirects, deadlines, size caps, retries with backoff and Retry-After)
and its pages are read by harvester.oai_page (OAI errors read from 4xx/5xx bodies too, illegal XML
characters stripped). This module is the harvest loop: a checkpoint saved with every stored page, a
restart of the listing when a server forgets a resumption token, and a page cap in proportion to
what the server says it holds.
"""
from __future__ import annotations

import logging
import math
import time

from sickle import Sickle
from sickle.response import OAIResponse

from config import Library, Settings
from harvester import HarvestError
from harvester.http import FetchError, Fetched, HarvestClient, excerpt
from harvester.oai_page import (BadResumptionToken, NoRecordsMatch, OAIError, Page, parse_identifiers,
                                parse_identify, parse_page)
from harvester.rawstore import HarvestResult, RawStore, unexpected

log = logging.getLogger("unioncat.harvest")

_LOOPING_PAGES = 3  # pages in a row that list only records this listing already sent: the server is looping


def truncate_to_granularity(stamp: str, granularity: str | None) -> str:
    """OAI ``from`` must match the server's granularity: day-granular servers reject seconds."""
    if granularity and "hh" not in granularity:
        return stamp[:10]
    return stamp


class PatientSickle(Sickle):
    """sickle whose requests go through the harvest's HTTP client and its retry policy; a response that
    carries OAI-PMH is an answer whatever its status (OAI errors arrive in 4xx/5xx bodies too)."""

    def __init__(self, endpoint: str, client: HarvestClient):
        super().__init__(endpoint)
        self.client = client

    def harvest(self, **params) -> OAIResponse:
        fetched = self.client.request(self.endpoint, params, accept=_is_answer)
        return OAIResponse(fetched, params=params)


def _is_answer(fetched: Fetched) -> bool:
    return fetched.status_code < 400 or b"<OAI-PMH" in fetched.content[:4000]


class OAIHarvester:
    """Harvests one library into the raw store."""

    def __init__(self, library: Library, store: RawStore, settings: Settings, sleep=time.sleep,
                 after_page=None):
        self.library, self.store, self.settings = library, store, settings
        # a source that never answered fails at once on an unknown host or a refused connection
        self.http = HarvestClient(settings, library.timeout_s, sleep=sleep,
                                  fail_fast=store.last_success(library.storage_id) is None)
        self.client = PatientSickle(library.endpoint, self.http)
        self.max_record = int(settings.harvest_max_record_mb * 1024 * 1024)
        self.after_page = after_page  # called with the page number after each stored page (tests, progress)

    def identify(self) -> dict:
        data = self.client.harvest(verb="Identify").http_response.content
        try:
            return parse_identify(data)
        except HarvestError as exc:
            raise HarvestError(f"Identify: {exc}") from None

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
            data = self.client.harvest(**params).http_response.content
            try:
                listed, token = parse_identifiers(data)
            except NoRecordsMatch:
                return found
            except HarvestError as exc:
                raise HarvestError(f"ListIdentifiers: {exc}") from None
            found.update(listed)
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
        state = store.state(library.storage_id)
        checkpoint = None if full else state["checkpoint"]
        if checkpoint:
            mode = "resumed"
        elif full or not state["last_success_response_date"]:
            mode = "full"
        else:
            mode = "incremental"
        result = HarvestResult(library.id, "failed", mode)
        result.run_id = store.start_run(library.storage_id, mode)
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
                deleted, refused = store.reconcile(library.storage_id, seen,
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
        while True:
            if checkpoint["token"]:
                request = {"verb": "ListRecords", "resumptionToken": checkpoint["token"]}
            else:
                request = {"verb": "ListRecords", **checkpoint["params"]}
            where = f"page {checkpoint['pages'] + 1}"
            try:
                page = self._page(request, where)
            except NoRecordsMatch as exc:
                log.info("%s: nothing new (noRecordsMatch)", library.id)
                page = Page(response_date=exc.response_date)
            except BadResumptionToken:
                if not checkpoint["token"] or restarted:
                    raise
                log.warning("%s: the server no longer accepts resumption token %r; restarting the listing%s",
                            library.id, checkpoint["token"],
                            f" from {checkpoint['params']['from']}" if "from" in checkpoint["params"] else "")
                checkpoint.update(token=None, response_date=None)
                seen_tokens.clear()
                restarted = True
                continue
            if checkpoint["response_date"] is None:
                # the first page's clock is where the next incremental harvest must start
                checkpoint["response_date"] = page.response_date
            if page.token and (page.token in seen_tokens or page.token == checkpoint["token"]):
                result.counts.add(store.store_page(library.storage_id, page.records, None, page.bad))
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
            counts = store.store_page(library.storage_id, page.records, checkpoint if page.token else None, page.bad)
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
                store.finish_listing(library.storage_id, checkpoint["response_date"])
                return seen
            if looping >= _LOOPING_PAGES:
                store.clear_checkpoint(library.storage_id)
                raise HarvestError(f"stopped after {result.pages} pages: the last {looping} pages listed only records "
                                   "this listing had already sent, under new resumption tokens (the server is "
                                   "looping); records so far are kept and the next run starts the listing again")
            if result.pages >= page_cap:
                why = (f"the server said the listing holds {page.complete_list_size} records (completeListSize)"
                       if page_cap < max_pages else "the limit of max_pages")
                raise HarvestError(f"stopped after {result.pages} pages, more than {why} allows; records so far "
                                   "are kept and the next run continues from here")

    def _page(self, request: dict, where: str) -> Page:
        """One ListRecords page. A page that cannot be fetched whole or read is kept in quarantine with the
        reason (a HarvestError that ends the run; the next run retries it); an OAI error is raised as is."""
        library, store = self.library, self.store
        try:
            response = self.client.harvest(**request)
        except FetchError as exc:
            if exc.kind == "too_large":  # kept (its first bytes) with the reason; a later run tries again
                store.quarantine(library.storage_id, None, f"{where} ({request}): {exc}", exc.body or None)
                raise HarvestError(f"{where} was not harvested and is in quarantine: {exc}") from None
            if exc.kind == "status":  # Identify was answered: the endpoint is right, this request failed
                reason = (f"HTTP {exc.status} from {library.endpoint} for {where}: the server could not "
                          "answer this request")
                if "(gave up after " in str(exc):
                    reason += " (gave up after " + str(exc).rsplit("(gave up after ", 1)[1]
                store.quarantine(library.storage_id, None, f"{where} ({request}): {reason}", exc.body or None)
                error = HarvestError(f"{where} could not be read and was kept in quarantine (the next run "
                                     f"retries it): {reason}")
                error.detail = exc.detail
                raise error from None
            raise
        data = response.http_response.content
        try:
            return parse_page(data, library.record_format, self.max_record)
        except OAIError:
            raise
        except HarvestError as exc:
            status = response.http_response.status_code
            if status >= 400:
                exc = FetchError(f"HTTP {status} from {library.endpoint}: the server failed and sent no "
                                 f"OAI-PMH answer", "status", detail=excerpt(data), status=status)
            store.quarantine(library.storage_id, None, f"{where} ({request}): {exc}", data)
            error = HarvestError(f"{where} could not be read and was kept in quarantine (the next run retries "
                                 f"it): {exc}")
            error.detail = excerpt(data)
            raise error from None
