"""raw store -> normalizer -> catalogue -> index: the one-way flow after every harvest.

Each step reads only what changed since its last run (the raw store's sequence numbers, the
catalogue's dirty entries), so a harvest that brought nothing new costs next to nothing, and a
step that died half-way is finished by running it again.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from config import Config
from config.network import Network, changed_ids
from harvester.rawstore import RawStore
from normalizer import REVISION as NORMALIZER_REVISION, normalize
from normalizer.records import RejectedRecord, SourceContext
from unionapi.catalogue import Catalogue, members_of
from unionapi.publish.state import MEMBERS_KEY, PublicationState, members_digest
from unionapi.publish.z3950 import update_zebra
from unionapi.search import entry_document
from unionapi.workers import cores, in_order, process_pool

log = logging.getLogger("unioncat.pipeline")
BATCH = 1000
PARALLEL_FROM = 20_000  # fewer changed records are normalized in this process: starting workers costs more
INDEX_BATCH = 500  # entries per document-building job
PARALLEL_INDEX_FROM = 3000  # fewer dirty entries are built into documents in this process


@dataclass
class NormalizeReport:
    normalized: int = 0
    deleted: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)  # the first few, for the log


def _follow_normalizer_revision(catalogue: Catalogue) -> None:
    """Records normalized by another revision of the normalizer are normalized again, once (in
    place, from the raw store, as ``index --rebuild`` does); a new catalogue just notes the revision."""
    stored = catalogue.normalizer_revision()
    if stored == NORMALIZER_REVISION:
        return
    if catalogue.cursor() == 0:  # nothing normalized yet
        with catalogue.transaction() as db:
            catalogue.note_normalizer_revision(db, NORMALIZER_REVISION)
        return
    log.info("the normalizer has changed (revision %s -> %d): every stored record is normalized again, once",
             stored if stored is not None else 1, NORMALIZER_REVISION)
    catalogue.rewind(normalizer_revision=NORMALIZER_REVISION)


def normalize_changes(config: Config, raw: RawStore, catalogue: Catalogue, workers: int | None = None) -> NormalizeReport:
    """Normalize every raw record that changed since the catalogue's cursor.

    A large backlog (a first harvest, a rebuild) is parsed by ``workers`` processes (default: one
    per core) while this one writes the results in order; the normalizer is pure, so only bytes
    and records cross. The cursor advances batch by batch, so a run that dies resumes there."""
    report = NormalizeReport()
    _follow_normalizer_revision(catalogue)
    cursor = catalogue.cursor()
    pending = raw.max_seq() - cursor
    if pending <= 0:
        return report
    workers = cores() if workers is None else workers
    parallel = workers > 1 and pending >= PARALLEL_FROM
    log.info("normalizing %d changed records%s", pending, f" in {workers} processes" if parallel else "")
    started = time.monotonic()
    batches = _batches(config, raw.changes_since(cursor))
    logged: set[str] = set()  # normalizer errors whose traceback is already in the log
    with process_pool(workers) if parallel else nullcontext() as pool:
        for outcomes, last_seq in (in_order(pool, _normalize_batch, batches, 2 * workers) if pool
                                   else map(_normalize_batch, batches)):
            upserts, deletions, rejections = [], [], []
            for kind, *item in outcomes:
                if kind == "record":
                    upserts.append(tuple(item))
                elif kind == "deleted":
                    deletions.append(item[0])
                else:
                    if kind == "failed":
                        _log_failure(item[0], item[4], item[5], logged)
                        item = item[:4]
                    rejections.append(tuple(item))
                    if len(report.reasons) < 5:
                        report.reasons.append(f"{item[0]}: {item[3]}")
            _apply(catalogue, report, upserts, deletions, rejections, last_seq)
            log.info("normalized %d of %d", report.normalized + report.deleted + report.rejected, pending)
    log.info("normalized %d records, %d deletions, %d rejected (kept with their reason) in %.1f s",
             report.normalized, report.deleted, report.rejected, time.monotonic() - started)
    for reason in report.reasons:
        log.warning("rejected: %s", reason)
    return report


def _source_settings(config: Config, source: str) -> tuple[dict, str, str]:
    """(branch map, dc_creators, marc_flavour) for records stored under ``source``: its library's, or
    those of the library that replaced it (every successor's branches, for a divided library)."""
    network = config.network
    library = config.libraries.get(network.current(source))
    if library is None:
        return {}, "auto", "auto"
    branches = {}
    for successor in network.resolve(source):
        branches.update(config.libraries[successor].branches)
    branches.update(library.branches)
    return branches, library.options.get("dc_creators", "auto"), library.marc_flavour


def _batches(config: Config, changes) -> Iterator[tuple[list[tuple], int]]:
    """Raw records as plain tuples (what a worker process needs), BATCH at a time, with the last seq."""
    batch, sources = [], {}
    for record in changes:
        if record.source not in sources:
            sources[record.source] = _source_settings(config, record.source)
        branch_map, dc_creators, marc_flavour = sources[record.source]
        batch.append((record.id, record.source, record.format, record.body, record.deleted, record.seq,
                      dict(branch_map), dc_creators, marc_flavour))
        if len(batch) >= BATCH:
            yield batch, record.seq
            batch = []
    if batch:
        yield batch, batch[-1][5]


def _normalize_batch(batch_and_seq: tuple[list[tuple], int]) -> tuple[list[tuple], int]:
    batch, last_seq = batch_and_seq
    outcomes = []
    failures = set()  # a traceback crosses back once per distinct error in a batch
    for record_id, source, fmt, body, deleted, seq, branch_map, dc_creators, marc_flavour in batch:
        if deleted:
            outcomes.append(("deleted", record_id))
            continue
        try:
            record = normalize(body, fmt, SourceContext(library=source, record_id=record_id, branch_map=branch_map,
                                                        dc_creators=dc_creators, marc_flavour=marc_flavour))
            outcomes.append(("record", record, seq))
        except RejectedRecord as exc:
            outcomes.append(("rejected", record_id, source, seq, exc.reason))
        except Exception as exc:  # noqa: BLE001 - one record must never stop the network (issue 17)
            # A normalizer bug: the record is rejected with a reason a person can read, and the traceback
            # goes back as text (this may run in a worker process) to be logged once per distinct error.
            where = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__} at {where.filename}:{where.lineno}"
            message = " ".join(str(exc).split())[:160] or "no message"
            outcomes.append(("failed", record_id, source, seq,
                             f"the normalizer failed on this record ({type(exc).__name__}: {message}); please report it",
                             key, None if key in failures else traceback.format_exc()))
            failures.add(key)
    return outcomes, last_seq


def _log_failure(record_id: str, key: str, text: str, logged: set) -> None:
    """A normalizer bug's traceback, logged once per distinct error (type and place), not per record."""
    if key not in logged and text is not None:
        logged.add(key)
        log.error("the normalizer failed on %s (%s; other records failing the same way are rejected without "
                  "this traceback):\n%s", record_id, key, text.rstrip())


def _apply(catalogue, report, upserts, deletions, rejections, cursor) -> None:
    catalogue.apply(upserts, deletions, rejections, cursor)
    report.normalized += len(upserts)
    report.deleted += len(deletions)
    report.rejected += len(rejections)
    upserts.clear(), deletions.clear(), rejections.clear()


MODEL_FILE = "match_model.json"  # in data_dir: weights `unioncat dedup --train` estimated for this network


def match_model_path(config: Config) -> Path:
    return Path(config.settings.data_dir) / MODEL_FILE


def network_model(config: Config):
    """The matcher weights in force: this network's own (``dedup --train``) or the bundled ones."""
    from normalizer.match_model import MatchModel, default_model
    path = match_model_path(config)
    if not path.exists():
        return default_model()
    try:
        return MatchModel.from_json(path.read_text("utf-8"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a matcher model ({exc}); delete it to use the bundled weights, "
                         "or run `unioncat dedup --train` to make it again") from None


def clusters_for(config: Config, catalogue: Catalogue):
    from unionapi.clusters import Clusters
    one_per_source = {library.id: library.one_record_per_entry for library in config.libraries.values()}
    one_per_source.update((former, one_per_source[current]) for former, current in config.network.aliases.items()
                          if current in one_per_source)  # records stored under a former id: its successor's rule
    return Clusters(catalogue, one_per_source, network_model(config))


def deduplicate_changes(config: Config, catalogue: Catalogue, rebuild: bool = False) -> int:
    """Cluster the records that changed (or all of them) into union entries."""
    return clusters_for(config, catalogue).run(rebuild=rebuild)


def _entry_documents(job, db: sqlite3.Connection | None = None) -> list[dict]:
    """The search documents of some entries (in a worker process: read from the catalogue file), naming
    the libraries of today (``network``, the alias map: None names them as stored)."""
    path, entry_ids, network = job
    own = db is None
    if own:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        return [{**entry_document(entry_id, members, network), MEMBERS_KEY: members_digest(members)}
                for entry_id, members in members_of(db, entry_ids).items() if members]
    finally:
        if own:
            db.close()


def index_changes(catalogue: Catalogue, engine, rebuild: bool = False, workers: int | None = None,
                  network: Network | None = None, follow_network: bool = True) -> int:
    """Write dirty entries to the search engine (every entry when ``rebuild``); returns how many.

    ``network`` (``config.network``) names the libraries of today in the documents; when it names
    some stored library otherwise than at the last run (a reorganisation in sources.yaml), the
    entries of that library are indexed and published again, once (by the pipeline: a cataloguer's
    decision, ``follow_network=False``, leaves that to it rather than make its request wait).

    Many entries are built into documents by ``workers`` processes (default: one per core) while
    this one hands them to the engine; a few are built here. The publication state (what /oai
    publishes, ``unionapi.publish.state``) follows the index in the same step, before the entries
    are marked clean: a run that dies is simply run again (an unchanged entry keeps its datestamp)."""
    publication = PublicationState.beside(catalogue.path)
    try:
        return _index_changes(catalogue, engine, publication, rebuild, workers, network, follow_network)
    finally:
        publication.close()


NETWORK_FILE = "network.json"  # beside the catalogue: the alias map (Network.state) the index was built with


def _network_moved(catalogue: Catalogue, network: Network | None) -> dict | None:
    """Mark dirty the entries of every stored library the alias map names otherwise than at the last
    run; the map to save once they are indexed (None: nothing to save)."""
    if network is None:
        return None
    path = Path(catalogue.path).with_name(NETWORK_FILE)
    state = network.state()
    try:
        before = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        before = {}  # never saved: nothing was ever renamed
    except ValueError:
        before = None
    if before == state:
        return None
    changed = sorted(set(state) | set(before or {})) if before is None else changed_ids(before, state)
    if changed:
        log.info("the network changed (%s): indexing and publishing their entries again once",
                 ", ".join(f"{i} -> {state[i]['*']}" if i in state else f"{i} as itself" for i in changed[:10]))
        catalogue.mark_dirty_from(changed)
    return state


def _save_network(catalogue: Catalogue, state: dict | None) -> None:
    if state is not None:
        path = Path(catalogue.path).with_name(NETWORK_FILE)
        part = path.with_name(path.name + ".part")
        part.write_text(json.dumps(state, sort_keys=True, indent=1), "utf-8")
        os.replace(part, path)


def _index_changes(catalogue: Catalogue, engine, publication: PublicationState, rebuild: bool,
                   workers: int | None, network: Network | None = None, follow_network: bool = True) -> int:
    from unionapi.clusters import retire_entries
    if not rebuild and getattr(engine, "stale", False) and catalogue.entry_count():
        log.info("rebuilding the search index once: it was made by an older version (fields are missing)")
        rebuild = True
    if rebuild:
        catalogue.mark_all_dirty()
    elif publication.is_empty() and catalogue.entry_count():
        log.info("publishing every entry once: the OAI-PMH publication state is new")
        catalogue.mark_all_dirty()
    moved = _network_moved(catalogue, network) if follow_network else None
    dirty = catalogue.dirty_entries()
    if not dirty:
        _save_network(catalogue, moved)
        return 0
    workers = cores() if workers is None else workers
    parallel = workers > 1 and len(dirty) >= PARALLEL_INDEX_FROM
    log.info("indexing %d changed entries%s%s", len(dirty), " (full rebuild)" if rebuild else "",
             f" in {workers} processes" if parallel else "")
    started = time.monotonic()
    removed = catalogue.entries_without_records([entry_id for entry_id, _ in dirty])
    written = 0
    jobs = ((str(catalogue.path), [entry_id for entry_id, _ in dirty[start:start + INDEX_BATCH]], network)
            for start in range(0, len(dirty), INDEX_BATCH))

    def documents():
        """Built batch by batch as the engine takes them, so a national rebuild does not hold them all."""
        nonlocal written
        with process_pool(workers) if parallel else nullcontext() as pool:
            for done, batch in enumerate(in_order(pool, _entry_documents, jobs, 2 * workers) if pool
                                         else (_entry_documents(job, catalogue.db) for job in jobs)):
                written += len(batch)
                yield from batch
                if done and done % 50 == 0:
                    log.info("indexed %d of %d entries", done * INDEX_BATCH, len(dirty))

    changes = publication.changes(full=rebuild)
    engine.write(changes.watch(documents()), removed, replace_all=rebuild)
    retire_entries(catalogue, changes.gone(removed))  # published, now deleted: never given to another entry
    changes.commit()
    catalogue.mark_clean(dirty)
    _save_network(catalogue, moved)
    log.info("indexed %d entries, removed %d, in %.1f s", written, len(removed), time.monotonic() - started)
    return len(dirty)


# -- the whole chain, as the CLI, the scheduler and the admin API run it ---------------------------

def harvest_one(services, library, full: bool = False, force: bool = False, wait_s: float = 0.0,
                on_locked=None):
    """Harvest one library under its cross-process lock; raises locks.Busy when it is already running.

    ``on_locked`` is called once the lock is held (the admin API answers "started" only then).
    """
    from harvester import harvest_library
    from storage.locks import hold
    with hold(services.locks_dir, f"harvest-{library.storage_id}", wait_s=wait_s):  # one per raw-store namespace
        if on_locked:
            on_locked()
        return harvest_library(library, services.raw, services.config.settings, full=full, force=force)


def update_catalogue(services, rebuild: bool = False) -> None:
    """normalize -> deduplicate -> index what changed; one process at a time does it."""
    from storage.locks import hold
    with hold(services.locks_dir, "pipeline", wait_s=3600):
        if rebuild:
            services.catalogue.rewind()
        normalize_changes(services.config, services.raw, services.catalogue)
        deduplicate_changes(services.config, services.catalogue, rebuild=rebuild)
        index_changes(services.catalogue, services.engine, rebuild=rebuild, network=services.config.network)
    update_zebra(services, rebuild=rebuild)  # the Z39.50 server's database, when publish.z3950.enabled


def harvest_and_update(services, libraries, full: bool = False, force: bool = False, wait_s: float = 0.0,
                       update_index: bool = True) -> list[str]:
    """Harvest each library in turn (one failing never stops the others), then update the catalogue."""
    from storage.locks import Busy
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
