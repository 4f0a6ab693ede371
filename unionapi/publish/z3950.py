"""The union catalogue over Z39.50: a Zebra database of the union entries, fed from the publication
state, and zebrasrv beside the API.

Koha's and Libol's copy-cataloguing clients speak Z39.50, so the entries are served by a real Zebra
(``unionapi.publish.zebra``), database ``unioncat``, in ``DATA/z3950/``. Each entry is one MARC 21
record (``formats.entry_marc``: 001 the entry id, one 852 per holding, 005 the entry's datestamp).

The feed follows the publication state (``publish.state``: every change to what an entry publishes
moves it to a new generation, a deleted entry stays listed as deleted): a cursor on disk,
``DATA/z3950/feed.json``, holds the last (generation, entry id) applied. A step lists the entries
after it, writes them as one ISO 2709 file (the deleted ones with leader/05 'd'), runs
``zebraidx update`` + ``commit`` and only then moves the cursor, batch by batch: a step that dies is
simply done again. The first step (or a new Zebra configuration) loads everything, with progress;
``unioncat index --rebuild`` writes every entry again (in place: searches go on meanwhile).

Steps run after every pipeline run (``pipeline.update_catalogue``; in ``unioncat run`` the pipeline
only wakes the thread that does it, so no harvest waits for Zebra) and, in ``unioncat run``, every
``FOLLOW_S`` seconds (cataloguers' merges and splits made through the API), one at a time (the
``z3950`` lock). Zebra missing or failing never stops the pipeline or the API: it is logged.

For benchmarks: ``ZebraFeed(folder, catalogue, publication).step()`` feeds (a FeedReport says what and
how long), ``ZebraServer.start(folder, database=DATABASE, fresh=False)`` serves the folder.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pymarc

from storage.locks import Busy, hold
from unionapi.catalogue import Catalogue, members_of
from unionapi.publish.formats import entry_marc, iso2709
from unionapi.publish.state import PublicationState
from unionapi.publish.zebra import CONFIG_DIR, ZebraDatabase, ZebraError, ZebraServer, config_digest

log = logging.getLogger("unioncat.z3950")
DATABASE = "unioncat"  # what clients name in their Z39.50 target (Koha's own Zebra calls its database biblios)
FOLDER = "z3950"  # in the data directory: the register of the union database (not a source's Zebra)
CURSOR = "feed.json"
BATCH = 5000  # entries per zebraidx update + commit (and per cursor move)
FEED_REVISION = 1  # bump when the records fed change shape: the next step loads everything again
FOLLOW_S = 5.0  # `unioncat run` looks for changes this often
LOCK_WAIT_S = 60.0  # a step waits this long for another one (another process) before leaving it the work


def zebra_folder(settings) -> Path:
    return Path(settings.data_dir) / FOLDER


@dataclass
class FeedReport:
    """What one step did: the entries written (added or changed) and deleted, by id."""
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # entries ISO 2709 cannot carry (a field over 9,999 bytes)
    reloaded: bool = False  # everything was loaded again (first step, new configuration, rebuild)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return len(self.updated) + len(self.deleted)


class ZebraFeed:
    """The Zebra database in ``folder`` and its cursor over ``publication``."""

    def __init__(self, folder: Path | str, catalogue: Catalogue, publication: PublicationState,
                 libraries: dict[str, str] | None = None, batch: int = BATCH, network=None):
        self.folder = Path(folder)
        self.db = ZebraDatabase(self.folder, DATABASE, CONFIG_DIR)
        self.catalogue, self.publication = catalogue, publication
        self.libraries = libraries or {}  # library id -> name, for the 852 $z
        self.network = network  # config.network: the 852s name the libraries of today (None: as stored)
        self.batch = batch

    # -- the cursor ----------------------------------------------------------------------------
    @staticmethod
    def signature() -> str:
        """What the database was built with: another configuration or revision means loading again."""
        return f"{config_digest(CONFIG_DIR)}-{FEED_REVISION}"

    def cursor(self) -> dict | None:
        try:
            return json.loads((self.folder / CURSOR).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def _save(self, cursor: dict) -> None:
        path = self.folder / CURSOR
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cursor), encoding="utf-8")
        os.replace(tmp, path)  # whole or not at all

    # -- one step --------------------------------------------------------------------------------
    def step(self, full: bool = False) -> FeedReport:
        """Apply every change after the cursor (``full``: every entry again, e.g. after a rebuild)."""
        started = time.monotonic()
        report = FeedReport()
        cursor = self.cursor()
        fresh_until = 0  # entries of generations up to this one cannot be in a register emptied now
        why = self._reload_reason(cursor)
        if why:
            log.info("Z39.50: %s: loading every union entry into Zebra (%s)", why, self.folder)
            self.db.configure()
            self.db.init()
            cursor = {"signature": self.signature(), "gen": 0, "id": ""}
            self._save(cursor)
            fresh_until = self._last_gen()
            report.reloaded = True
        elif full:
            log.info("Z39.50: writing every union entry to Zebra again (rebuild)")
            cursor = {**cursor, "gen": 0, "id": ""}
            report.reloaded = True
        last_gen = self._last_gen()
        if last_gen is None or last_gen < cursor["gen"]:
            return report
        gens = (max(cursor["gen"], 1), last_gen)
        total = self.publication.count(gens, None) if report.reloaded else None
        after = (cursor["gen"], cursor["id"]) if cursor["gen"] else None
        done = 0
        while True:
            page = self.publication.page(gens, None, after, self.batch)
            if not page:
                break
            self._apply(page, report, fresh_until)
            after = (page[-1].gen, page[-1].id)
            cursor = {**cursor, "gen": after[0], "id": after[1]}
            self._save(cursor)
            done += len(page)
            if total and total > self.batch:
                log.info("Z39.50: fed %d of %d entries to Zebra", done, total)
        report.seconds = time.monotonic() - started
        if report.changed or report.reloaded:
            log.info("Z39.50: Zebra updated: %d entries written, %d deleted in %.1f s%s", len(report.updated),
                     len(report.deleted), report.seconds,
                     f" ({len(report.skipped)} too large for ISO 2709 left out)" if report.skipped else "")
        return report

    def _reload_reason(self, cursor: dict | None) -> str | None:
        """Why the database must be loaded again from nothing (None: it need not)."""
        if cursor is None or not self.db.exists():
            return "a new Zebra database"
        if cursor.get("signature") != self.signature():
            return "the Zebra configuration changed"
        if cursor["gen"] > (self._last_gen() or 0):
            return "the publication state was made again"  # (publish.sqlite3 removed): its generations restart
        return None

    def up_to_date(self) -> bool:
        """Nothing to apply (cheap: what ``unioncat run`` asks every few seconds)."""
        cursor = self.cursor()
        if self._reload_reason(cursor):
            return False
        last_gen = self._last_gen()
        return last_gen is None or (last_gen == cursor["gen"] and not self.publication.page(
            (last_gen, last_gen), None, (cursor["gen"], cursor["id"]), 1))

    def _last_gen(self) -> int | None:
        return self.publication.db.execute("SELECT max(gen) FROM stamps").fetchone()[0]

    def _apply(self, page, report: FeedReport, fresh_until: int) -> None:
        """One batch: written to a file, indexed and committed (a running zebrasrv sees all of it or none)."""
        live = [p for p in page if not p.deleted]
        members = members_of(self.catalogue.db, [p.id for p in live])
        if self.network is not None:
            members = {i: self.network.records(m) for i, m in members.items()}
        records, updated, deleted, skipped = [], [], [], []
        for published in page:
            entry_members = members.get(published.id)
            if published.deleted or not entry_members:
                if published.gen > fresh_until:  # a register emptied in this step holds none of the older ones
                    records.append(deletion(published.id))
                    deleted.append(published.id)
                continue
            stamp = datetime.fromtimestamp(published.datestamp, timezone.utc)
            try:
                records.append(iso2709(entry_marc(published.id, entry_members, stamp=stamp,
                                                  libraries=self.libraries)))
                updated.append(published.id)
            except ValueError as exc:  # a field too long for ISO 2709: left out, said once per entry
                log.warning("Z39.50: entry %s is not served over Z39.50: %s", published.id, exc)
                records.append(deletion(published.id))
                skipped.append(published.id)
        if records:
            path = self.folder / "load" / "feed.mrc"
            path.write_bytes(b"".join(records))
            try:
                self.db.apply(path)
            finally:
                path.unlink(missing_ok=True)
        report.updated += updated
        report.deleted += deleted
        report.skipped += skipped


def deletion(entry_id: str) -> bytes:
    """The smallest record that removes an entry from Zebra: its 001 and leader/05 'd'."""
    record = pymarc.Record(leader="00000dam a22000007i 4500")
    record.add_field(pymarc.Field(tag="001", data=entry_id))
    return iso2709(record)


# -- what the pipeline and `unioncat run` call -------------------------------------------------------
def update_zebra(services, rebuild: bool = False, wait_s: float = LOCK_WAIT_S) -> FeedReport | None:
    """Bring the Zebra database up to date when ``publish.z3950.enabled``; never raises: Zebra missing
    or failing is logged (the catalogue, the index and the API are not concerned, the next step retries)."""
    settings = services.config.settings
    if not settings.z3950_enabled:
        return None
    follower = _followers.get(zebra_folder(settings))
    if follower is not None and threading.current_thread() is not follower.thread:
        follower.wake(full=rebuild)  # `unioncat run`: its own thread does it, no harvest waits for Zebra
        return None
    publication = services.publication or PublicationState.beside(services.catalogue.path)
    libraries = {library.id: library.name for library in services.config.libraries.values()}
    feed = ZebraFeed(zebra_folder(settings), services.catalogue, publication, libraries,
                     network=services.config.network)
    try:
        if not rebuild and feed.up_to_date():
            return FeedReport()
        with hold(services.locks_dir, "z3950", wait_s=wait_s):
            return feed.step(full=rebuild)
    except Busy:
        log.info("Z39.50: Zebra is being updated by another process; it will take these changes too")
    except ZebraError as exc:
        log.error("Z39.50: Zebra not updated: %s (set publish.z3950.enabled: false in settings.yaml to stop "
                  "serving Z39.50)", exc)
    except Exception:  # noqa: BLE001 - publishing over Z39.50 must never stop a harvest or the API
        log.exception("Z39.50: Zebra not updated (the catalogue and the API are fine; the next run tries again)")
    finally:
        if publication is not services.publication:
            publication.close()
    return None


_followers: dict[Path, "Z3950Service"] = {}  # the zebra folders a thread of this process keeps up to date


class Z3950Service:
    """zebrasrv serving the union catalogue, and the thread that keeps its database up to date: every
    FOLLOW_S seconds (a cataloguer's merge through the API) and at once when the pipeline has run."""

    def __init__(self, services, server: ZebraServer):
        self.services, self.server = services, server
        self.folder = zebra_folder(services.config.settings)
        self._stop, self._wake = threading.Event(), threading.Event()
        self._full = False
        self.thread = threading.Thread(target=self._follow, name="zebra-feed", daemon=True)

    def start(self) -> None:
        _followers[self.folder] = self
        self.thread.start()

    def wake(self, full: bool = False) -> None:
        self._full = self._full or full
        self._wake.set()

    def _follow(self) -> None:
        while not self._stop.is_set():
            full, self._full = self._full, False
            self._wake.clear()
            if update_zebra(self.services, rebuild=full, wait_s=LOCK_WAIT_S if full else 0) is None and full:
                self._full = True  # not done (busy, or failed): try the full pass again next time
            self._wake.wait(FOLLOW_S)

    def stop(self) -> None:
        _followers.pop(self.folder, None)
        self._stop.set()
        self._wake.set()
        self.thread.join(5)  # a zebraidx under way finishes by itself; the next step redoes what it had not saved
        self.server.stop()
        log.info("Z39.50: zebrasrv stopped")


def start_service(services) -> Z3950Service | None:
    """Start zebrasrv on ``publish.z3950.host``:``port`` (``unioncat run``); None when it is turned off
    or cannot start, which is logged and leaves the API serving."""
    settings = services.config.settings
    if not settings.z3950_enabled:
        log.info("Z39.50: not served (publish.z3950.enabled: false)")
        return None
    try:
        server = ZebraServer.start(zebra_folder(settings), port=settings.z3950_port, host=settings.z3950_host,
                                   database=DATABASE, fresh=False, tie_to_parent=True)
    except ZebraError as exc:
        log.error("Z39.50: not served: %s; the API is served all the same", exc)
        return None
    service = Z3950Service(services, server)
    service.start()
    log.info("Z39.50: serving the union catalogue at %s:%d, database %s (Zebra; USMARC/MARC21 and XML records)",
             settings.z3950_host, settings.z3950_port, DATABASE)
    return service
