"""Z39.50 harvesting through libyaz's ZOOM API (and SRU over HTTP), for Koha/Zebra and other servers.

One search, then one present request per batch: through ``harvester.zoom`` (the ctypes binding over
libyaz) for Z39.50, through ``harvester.sru`` and the harvest's HTTP client for SRU. Either way the
server's address is checked by the rules of ``harvester.http`` (after DNS, connecting to the address
checked), the run has its deadline and a record over ``harvest.max_record_mb`` is quarantined. Records go to the raw
store as received (ISO2709 or MARCXML bytes, no decoding here: the normalizer does that).

Z39.50 has no tombstones and no server clock:
- deletions are found by comparing identifier sets, only after a *complete* full harvest, and
  through the raw store's mass-deletion guard;
- a record's id is its id_field (001, or 999$c for Koha's biblionumber), else 001, else derived
  from its content; a different record carrying an id already seen in the run gets a derived one;
- an incremental harvest asks for bib-1 1012 (Date/time-last-modified, from 005) >= the *start*
  time of the last successful harvest in UTC, minus a safety margin. Koha writes 005 in the
  server's local time; in Vietnam (UTC+7) comparing it with a UTC time only fetches a few hours
  too many (harmless: unchanged records stay unchanged), never too few.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from config import Library, Settings
from harvester import HarvestError
from harvester.http import HarvestClient
from harvester.marcbytes import (MarcBytesError, RecordIds, iso2709_identifier, iso2709_problem, marcxml_problem,
                                 marcxml_records, split_iso2709)
from harvester.rawstore import HarvestResult, RawStore, content_hash
from harvester.retry import retry
from harvester.sru import SruConnection
from harvester.zoom import ZOOM_ERROR_CONNECT, ZOOM_ERROR_TIMEOUT, ZoomConnection, ZoomError

log = logging.getLogger("unioncat.harvest")

INCREMENTAL_MARGIN = timedelta(minutes=10)  # clock skew and records saved while the last run began
PROGRESS_EVERY = 10  # batches between progress lines


def incremental_query(since: datetime, cql: bool = False) -> str:
    """bib-1 Date/time-last-modified >= ``since`` on a key index (strings compare like times);
    in CQL for SRU sources whose enumerate query is CQL (the server's CQL mapping must know it)."""
    stamp = since.strftime("%Y%m%d%H%M%S")
    return f"rec.lastModificationDate>={stamp}" if cql else f"@attr 1=1012 @attr 2=4 @attr 4=3 {stamp}"


class Z3950Harvester:
    """Harvests one Z39.50/SRU library into the raw store; failures come back in the result."""

    def __init__(self, library: Library, store: RawStore, settings: Settings, sleep=time.sleep,
                 after_page=None):
        self.library, self.store, self.settings, self.sleep = library, store, settings, sleep
        self.after_page = after_page  # called with the number of present batches stored, after each
        opts = library.options
        self.batch_size = int(opts.get("batch_size", 500))
        self.id_field = opts.get("id_field", "001")
        self.xml = opts.get("syntax", "usmarc") in ("xml", "marcxml")
        self.sru = opts.get("transport", "z3950") == "sru"
        self.format = "marcxml" if self.xml or self.sru else "iso2709"  # SRU always carries XML
        self.max_record = int(settings.harvest_max_record_mb * 1024 * 1024)
        # SRU requests go through it; for Z39.50 it checks the server's address and keeps the run's deadline
        self.http = HarvestClient(settings, library.timeout_s, sleep=sleep,
                                  fail_fast=store.last_success(library.storage_id) is None)
        self.conn: ZoomConnection | SruConnection | None = None
        self._new_run()

    def _new_run(self) -> None:
        """Ids are given per result set: a record without one, or with one an earlier different record of
        the same result set had, gets an id derived from its content (marcbytes.RecordIds)."""
        self.ids = RecordIds()
        self.hashes: dict[str, str] = {}  # id -> content hash of the record that took it first

    # -- connection, with retries --------------------------------------------------------------
    def _connection_options(self) -> dict[str, str]:
        opts, library = self.library.options, self.library
        options = {"databaseName": opts["database"], "timeout": str(max(1, round(library.timeout_s))),
                   "user": opts.get("user"), "password": opts.get("password"),
                   "elementSetName": opts.get("element_set", "F"),
                   "preferredRecordSyntax": "xml" if self.format == "marcxml" else
                   "unimarc" if opts.get("syntax") == "unimarc" else "usmarc"}
        size = str(int(self.settings.harvest_max_response_mb * 1024 * 1024))  # asked of the server at Init
        options.update(maximumRecordSize=size, preferredMessageSize=size)
        return options

    def _connect(self) -> ZoomConnection | SruConnection:
        opts = self.library.options
        if self.sru:
            return SruConnection(f"http://{opts['host']}:{opts['port']}/{opts['database']}", self.http)
        address = self.http.checked_addresses(opts["host"], int(opts["port"]))[0]
        return ZoomConnection(address, int(opts["port"]), self._connection_options())

    def _with_retries(self, what: str, action):
        """``action(connection)``; after a failed connect, a lost connection or a timeout, again on a new
        connection. Diagnostics (a bad query...) are not retried: they will not heal."""
        def attempt():
            self.http.check_run_deadline()
            try:
                if self.conn is None:
                    self.conn = self._connect()
                return action(self.conn)
            except ZoomError:
                self._disconnect()
                raise

        attempts = self.settings.harvest_max_retries + 1
        try:
            return retry(attempt, attempts=attempts, backoff_s=self.settings.harvest_backoff_s,
                         retryable=lambda exc: isinstance(exc, ZoomError) and exc.retryable, log=log,
                         sleep=self.sleep, describe=lambda exc: f"{self.library.id}: {what}: {self._explain(exc)}")
        except ZoomError as exc:
            if not exc.retryable:
                raise HarvestError(f"{what}: {exc.describe()}") from None
            raise HarvestError(f"{what}: {self._explain(exc)}; gave up after {attempts} attempts") from None

    def _explain(self, exc: ZoomError) -> str:
        opts = self.library.options
        where = f"{opts['host']}:{opts['port']}/{opts['database']}"
        if exc.code == ZOOM_ERROR_TIMEOUT:
            return f"{exc.describe()}: no answer from {where} within {self.library.timeout_s:g} s"
        if exc.code == ZOOM_ERROR_CONNECT:
            return f"{exc.describe()}: connect failed to {where}"
        return exc.describe()

    def _disconnect(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # -- harvest -------------------------------------------------------------------------------
    def harvest(self, full: bool = False, force: bool = False) -> HarvestResult:
        library, store = self.library, self.store
        state = store.state(library.storage_id)
        last = state["last_success_response_date"]
        incremental = bool(library.options.get("incremental")) and not full and bool(last)
        mode = "incremental" if incremental else "full"
        started = datetime.now(timezone.utc)
        result = HarvestResult(library.id, "failed", mode)
        result.run_id = store.start_run(library.storage_id, mode)
        try:
            query = library.options.get("query") or '@attr 1=_ALLRECORDS @attr 2=103 ""'
            if incremental:
                since = datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ") - INCREMENTAL_MARGIN
                query = incremental_query(since, cql=self.sru and not query.lstrip().startswith("@"))
            opts = library.options
            log.info("%s: %s harvest from %s:%s/%s over %s (query %s)", library.id, mode, opts["host"], opts["port"],
                     opts["database"], "SRU" if self.sru else "Z39.50", query)
            seen, complete = self._harvest(query, result)
            if not complete:
                # records may have been skipped: no deletions, and the next run starts where this one did
                result.note = ("the server's result set changed while reconnecting during the harvest; "
                               "deletions were not looked for and the next run covers this period again")
            else:
                if mode == "full":
                    self._reconcile(seen, force, result)
                # Z39.50 has no server clock: the next incremental run starts from this run's start
                store.finish_listing(library.storage_id, started.strftime("%Y-%m-%dT%H:%M:%SZ"))
            result.outcome = "ok"
        except HarvestError as exc:
            result.error = str(exc)
            log.error("%s: harvest failed: %s", library.id, exc)
        except Exception as exc:  # one broken source must never stop the others
            result.error = f"unexpected {exc.__class__.__name__}: {exc}"
            log.exception("%s: harvest failed unexpectedly", library.id)
        finally:
            self._disconnect()
            self.http.close()
            store.update_run(result.run_id, result.counts, result.pages, result.outcome, result.error, result.note,
                             result.warning)
        if result.outcome == "ok":
            c = result.counts
            log.info("%s: harvest done: %d present requests, %d added, %d updated, %d deleted, %d unchanged, "
                     "%d quarantined%s", library.id, result.pages, c.added, c.updated, c.deleted, c.unchanged,
                     c.quarantined, f" ({result.note})" if result.note else "")
        return result

    def _harvest(self, query: str, result: HarvestResult) -> tuple[set[str], bool]:
        """Search, then present every position in batches; returns (identifiers seen, complete)."""
        library = self.library
        cql = self.sru and not query.lstrip().startswith("@")
        total = self._with_retries("search", lambda c: c.search(query, cql))
        log.info("%s: %s records match", library.id, f"{total:,}")
        self._new_run()
        seen: set[str] = set()
        complete = True
        position = 0
        while position < total:
            count = min(self.batch_size, total - position)

            def present(conn, start=position, count=count):
                nonlocal complete
                if conn.resultset is None:  # reconnected after a failure: search again, go on
                    size = conn.search(query, cql)
                    if size != total:
                        complete = False  # positions moved: records may be skipped, so no deletions
                        log.warning("%s: after reconnecting the server has %d records instead of %d",
                                    library.id, size, total)
                        count = max(0, min(count, size - start))
                return conn.records(start, count) if count else []

            raw = self._with_retries(f"present of records {position + 1}-{position + count}", present)
            items, bad = self._items(raw, position)
            seen.update(item["identifier"] for item in items)
            result.counts.add(self.store.store_page(library.storage_id, items, None, bad))
            result.pages += 1
            position += count
            if result.pages % PROGRESS_EVERY == 0 or position >= total:
                log.info("%s: %s of %s records (batch %d)", library.id, f"{position:,}", f"{total:,}", result.pages)
            if self.after_page:
                self.after_page(result.pages)
        return seen, complete

    def identifiers(self) -> set[str]:
        """Every identifier the server has now (for `unioncat check`); stores nothing."""
        query = self.library.options.get("query") or '@attr 1=_ALLRECORDS @attr 2=103 ""'
        cql = self.sru and not query.lstrip().startswith("@")
        try:
            total = self._with_retries("search", lambda c: c.search(query, cql))
            self._new_run()
            found: set[str] = set()
            for position in range(0, total, self.batch_size):
                count = min(self.batch_size, total - position)
                raw = self._with_retries("present", lambda c, s=position, n=count: c.records(s, n))
                found.update(item["identifier"] for item in self._items(raw, position)[0])
            return found
        finally:
            self._disconnect()
            self.http.close()

    def _items(self, raw: list[bytes | None], offset: int) -> tuple[list[dict], list[dict]]:
        """Raw records to raw-store items; what cannot be identified goes to quarantine."""
        items, bad = [], []
        for index, data in enumerate(raw, start=offset + 1):
            if not data:
                bad.append({"identifier": None, "body": None,
                            "reason": f"result set position {index}: the server sent no record (surrogate diagnostic)"})
                continue
            if len(data) > self.max_record:
                bad.append({"identifier": None, "body": data[:64 * 1024],
                            "reason": f"result set position {index}: the record is {len(data) / 1024 / 1024:.1f} MB, "
                                      f"more than {self.max_record / 1024 / 1024:g} MB (harvest.max_record_mb); its "
                                      "first 64 KB are kept here"})
                continue
            try:
                if self.format == "marcxml":
                    found = list(marcxml_records(data, self.id_field))
                    if len(found) != 1:
                        raise MarcBytesError(f"expected one MARCXML record, found {len(found)}")
                    body, identifier = found[0]
                    problem = marcxml_problem(body) if identifier is None else None
                    if problem:
                        raise MarcBytesError(problem)
                else:
                    records = list(split_iso2709(data))
                    if len(records) != 1:
                        raise MarcBytesError(f"expected one ISO2709 record, found {len(records)}")
                    problem = iso2709_problem(records[0])
                    if problem:
                        raise MarcBytesError(problem)
                    body, identifier = records[0], iso2709_identifier(records[0], self.id_field)
            except MarcBytesError as exc:
                bad.append({"identifier": None, "body": data,
                            "reason": f"result set position {index}: broken record: {exc}"})
                continue
            digest = content_hash(body, False)
            if identifier is not None and self.hashes.setdefault(identifier, digest) != digest:
                self.ids.shared.add(identifier)  # an earlier, different record of this result set has it
            identifier, derived = self.ids(body, self.format, identifier)
            if derived is not None:
                derived["origin"] = f"result set position {index}"
            items.append({"identifier": identifier, "format": self.format, "datestamp": None, "deleted": False,
                          "sets": [], "body": body, "derived": derived})
        return items, bad

    def _reconcile(self, seen: set[str], force: bool, result: HarvestResult) -> None:
        """After a complete full harvest: what the server no longer has becomes a deletion,
        unless the mass-deletion guard refuses (zero hits included)."""
        ratio = float(self.library.options.get("max_delete_ratio", 0.2))
        deleted, refusal = self.store.reconcile(self.library.storage_id, seen, ratio, force)
        result.counts.deleted += deleted
        if refusal:
            result.note = result.warning = refusal
            log.warning("%s: %s", self.library.id, refusal)
        elif deleted:
            log.info("%s: %d records no longer at the source were marked deleted", self.library.id, deleted)
