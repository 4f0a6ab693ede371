"""raw store -> normalizer -> catalogue -> index: the one-way flow after every harvest.

Each step reads only what changed since its last run (the raw store's sequence numbers, the
catalogue's dirty entries), so a harvest that brought nothing new costs next to nothing, and a
step that died half-way is finished by running it again.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from config import Config
from harvester.rawstore import RawStore
from normalizer import normalize
from normalizer.records import RejectedRecord, SourceContext
from unionapi.catalogue import Catalogue
from unionapi.search import entry_document

log = logging.getLogger("unioncat.pipeline")
BATCH = 1000


@dataclass
class NormalizeReport:
    normalized: int = 0
    deleted: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)  # the first few, for the log


def normalize_changes(config: Config, raw: RawStore, catalogue: Catalogue) -> NormalizeReport:
    """Normalize every raw record that changed since the catalogue's cursor."""
    report = NormalizeReport()
    cursor = catalogue.cursor()
    pending = raw.max_seq() - cursor
    if pending <= 0:
        return report
    log.info("normalizing %d changed records", pending)
    started = time.monotonic()
    upserts, deletions, rejections = [], [], []
    last_seq = cursor
    for record in raw.changes_since(cursor):
        last_seq = record.seq
        if record.deleted:
            deletions.append(record.id)
        else:
            library = config.libraries.get(record.source)
            ctx = SourceContext(library=record.source, record_id=record.id,
                                branch_map=dict(library.branches) if library else {})
            try:
                upserts.append((normalize(record.body, record.format, ctx), record.seq))
            except RejectedRecord as exc:
                rejections.append((record.id, record.source, record.seq, exc.reason))
                if len(report.reasons) < 5:
                    report.reasons.append(f"{record.id}: {exc.reason}")
        if len(upserts) + len(deletions) + len(rejections) >= BATCH:
            _apply(catalogue, report, upserts, deletions, rejections, last_seq)
            log.info("normalized %d of %d", report.normalized + report.deleted + report.rejected, pending)
    _apply(catalogue, report, upserts, deletions, rejections, last_seq)
    log.info("normalized %d records, %d deletions, %d rejected (kept with their reason) in %.1f s",
             report.normalized, report.deleted, report.rejected, time.monotonic() - started)
    for reason in report.reasons:
        log.warning("rejected: %s", reason)
    return report


def _apply(catalogue, report, upserts, deletions, rejections, cursor) -> None:
    catalogue.apply(upserts, deletions, rejections, cursor)
    report.normalized += len(upserts)
    report.deleted += len(deletions)
    report.rejected += len(rejections)
    upserts.clear(), deletions.clear(), rejections.clear()


def clusters_for(config: Config, catalogue: Catalogue):
    from unionapi.clusters import Clusters
    one_per_source = {library.id: library.one_record_per_entry for library in config.libraries.values()}
    return Clusters(catalogue, one_per_source)


def deduplicate_changes(config: Config, catalogue: Catalogue, rebuild: bool = False) -> int:
    """Cluster the records that changed (or all of them) into union entries."""
    return clusters_for(config, catalogue).run(rebuild=rebuild)


def index_changes(catalogue: Catalogue, engine, rebuild: bool = False) -> int:
    """Write dirty entries to the search engine (every entry when ``rebuild``); returns how many."""
    if rebuild:
        catalogue.mark_all_dirty()
    dirty = catalogue.dirty_entries()
    if not dirty:
        return 0
    log.info("indexing %d changed entries%s", len(dirty), " (full rebuild)" if rebuild else "")
    started = time.monotonic()
    removed = catalogue.entries_without_records([entry_id for entry_id, _ in dirty])
    written = 0

    def documents():
        """Built batch by batch as the engine takes them, so a national rebuild does not hold them all."""
        nonlocal written
        for start in range(0, len(dirty), BATCH):
            chunk = [entry_id for entry_id, _ in dirty[start:start + BATCH]]
            for entry_id, members in catalogue.members_of(chunk).items():
                if members:
                    written += 1
                    yield entry_document(entry_id, members)
            if start and start % (BATCH * 50) == 0:
                log.info("indexed %d of %d entries", start, len(dirty))

    engine.write(documents(), removed, replace_all=rebuild)
    catalogue.mark_clean(dirty)
    log.info("indexed %d entries, removed %d, in %.1f s", written, len(removed), time.monotonic() - started)
    return len(dirty)


# -- the whole chain, as the CLI, the scheduler and the admin API run it ---------------------------

def harvest_one(services, library, full: bool = False, force: bool = False, wait_s: float = 0.0,
                on_locked=None):
    """Harvest one library under its cross-process lock; raises locks.Busy when it is already running.

    ``on_locked`` is called once the lock is held (the admin API answers "started" only then).
    """
    from harvester import harvest_library
    from harvester.locks import hold
    with hold(services.locks_dir, f"harvest-{library.id}", wait_s=wait_s):
        if on_locked:
            on_locked()
        return harvest_library(library, services.raw, services.config.settings, full=full, force=force)


def update_catalogue(services, rebuild: bool = False) -> None:
    """normalize -> deduplicate -> index what changed; one process at a time does it."""
    from harvester.locks import hold
    with hold(services.locks_dir, "pipeline", wait_s=3600):
        if rebuild:
            services.catalogue.rewind()
        normalize_changes(services.config, services.raw, services.catalogue)
        deduplicate_changes(services.config, services.catalogue, rebuild=rebuild)
        index_changes(services.catalogue, services.engine, rebuild=rebuild)


def harvest_and_update(services, libraries, full: bool = False, force: bool = False, wait_s: float = 0.0,
                       update_index: bool = True) -> list[str]:
    """Harvest each library in turn (one failing never stops the others), then update the catalogue."""
    from harvester.locks import Busy
    failed = []
    for library in libraries:
        try:
            result = harvest_one(services, library, full=full, force=force, wait_s=wait_s)
        except Busy as exc:
            log.error("%s: not harvested: %s (wait with --wait SECONDS, or try again later)", library.id, exc)
            failed.append(library.id)
            continue
        if result.outcome != "ok":
            failed.append(library.id)
            log.error("%s: harvest failed (see above); records harvested before the failure are kept and the "
                      "next run continues from its checkpoint", library.id)
    if update_index:
        update_catalogue(services)
    return failed
