"""Deduplication over the catalogue: records grouped into union entries.

The matcher (``normalizer.dedup``) decides about pairs; this module decides which records are
compared (blocking keys in the ``match_keys`` table), builds clusters without chaining, and hands
an edge with its reasons for every accepted match and the doubtful pairs to ``unionapi.decisions``,
whose cataloguers' decisions (merge, reject, split, block an ISBN) it re-applies each time
clusters are rebuilt, so a nightly harvest never undoes a person's work.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections import OrderedDict, defaultdict
from contextlib import nullcontext
from dataclasses import fields, replace

from storage.sqlite import apply_schema
from normalizer.dedup import (MATCHER_REVISION, Prepared, blocking_keys, can_join, compare, explain, prepare,
                              surely_apart)
from normalizer.match_model import MatchModel, default_model
from normalizer.text import fold
from unionapi.catalogue import Catalogue, entry_id_for, matching_records_in_rows
from unionapi.decisions import Constraints, Decisions, pair
from unionapi.workers import cores, in_order, process_pool

log = logging.getLogger("unioncat.dedup")

# both columns in each: a lookup never reads the table (a rebuild drops them and builds them once at the end)
MATCH_KEY_INDEXES = {"match_keys_by_key": "match_keys(key, record_id)",
                     "match_keys_by_record": "match_keys(record_id, key)"}
# entry ids published over OAI-PMH and then deleted (merged away, split, last record gone): a harvester keeps
# them as deleted records, so they are never given to an entry again (written by pipeline.index_changes)
RETIRED_ENTRIES = "CREATE TABLE IF NOT EXISTS retired_entries (id TEXT PRIMARY KEY) WITHOUT ROWID;\n"
SCHEMA = RETIRED_ENTRIES + """
CREATE TABLE IF NOT EXISTS match_keys (key TEXT NOT NULL, record_id TEXT NOT NULL);
DROP INDEX IF EXISTS match_keys_key;      -- files made before MATCH_KEY_INDEXES covered both columns
DROP INDEX IF EXISTS match_keys_record;
""" + "".join(f"CREATE INDEX IF NOT EXISTS {name} ON {columns};\n" for name, columns in MATCH_KEY_INDEXES.items())
MAX_KEY_SIZE = 500  # a blocking key shared by more records than this is too vague to compare on
PREFETCH = 2000  # records read at once as clustering walks through them
KEY_JOB = 5000  # records per worker job when a rebuild computes blocking keys
PARALLEL_KEYS_FROM = 20_000  # a smaller catalogue's keys are computed in this process


class Clusters:
    """The clustering, and the cataloguers' decisions it obeys (``cataloguers``), as the API, the
    pages and the CLI use them."""

    def __init__(self, catalogue: Catalogue, one_per_source: dict[str, bool] | None = None,
                 model: MatchModel | None = None):
        self.catalogue = catalogue
        self.cataloguers = Decisions(catalogue)
        self.one_per_source = one_per_source or {}  # source -> False lets its own duplicates merge
        self.model = model or default_model()  # frozen weights: every incremental run decides alike
        apply_schema(self.catalogue.db, SCHEMA, self.catalogue.path)

    @property
    def db(self):
        return self.catalogue.db

    # -- running -------------------------------------------------------------------------------
    def run(self, rebuild: bool = False) -> int:
        """Cluster what changed (everything when ``rebuild``); returns how many records were placed."""
        started = time.monotonic()
        constraints = self.constraints()
        records = _PreparedCache(self.catalogue, self.model)  # shared: the incremental path compares before placing
        if not rebuild and (revision := self._stale_revision()):
            log.warning("the matching rules changed since these entries were made (revision %d, now %d): "
                        "re-clustering every record once; cataloguers' decisions are kept", revision, MATCHER_REVISION)
            rebuild = True
        if not rebuild and self._stale_model():
            log.warning("the matcher's weights changed since these entries were made (model '%s'): re-clustering "
                        "every record once; cataloguers' decisions are kept", self.model.name)
            rebuild = True
        if not rebuild:  # a first harvest queues everything: cluster it the way a rebuild does
            queued_count = self.catalogue.dedup_queue_size()
            rebuild = queued_count > 1000 and 2 * queued_count >= sum(self.catalogue.record_counts().values())
        if rebuild:
            affected = self.catalogue.record_ids()
            with self.catalogue.transaction() as db:
                db.execute("DELETE FROM match_keys")
                self.catalogue.clear_dedup_queue(db)  # (edges are replaced entry by entry when written)
        else:
            queued = self.catalogue.dedup_queue()
            if not queued:
                return 0
            changed = [record_id for record_id, is_changed in queued.items() if is_changed]
            self._index_keys(changed, constraints)  # the others' keys are as they were
            affected = self._affected(list(queued), changed, constraints, records)
        if affected:
            log.info("deduplicating %d records%s", len(affected), " (full rebuild)" if rebuild else "")
        placed = self._recluster(affected, constraints, records, everything=rebuild)
        with self.catalogue.transaction() as db:
            self.catalogue.clear_dedup_queue(db)
            self.catalogue.set_clustering_rules(db, MATCHER_REVISION, self.model.fingerprint)
            self.cataloguers.close_reports_of_deleted_records(db)
        if affected:
            log.info("deduplicated %d records into %d entries in %.1f s", len(affected), placed,
                     time.monotonic() - started)
        return len(affected)

    def _stale_revision(self) -> int | None:
        """The matcher revision the entries were made under, if not the current one (files made
        before revisions were recorded count as 1; a catalogue never clustered is not stale)."""
        revision, _ = self.catalogue.clustering_rules()
        revision = 1 if revision is None else revision
        if revision == MATCHER_REVISION or not self.db.execute("SELECT 1 FROM match_keys LIMIT 1").fetchone():
            return None
        return revision

    def _stale_model(self) -> bool:
        """The entries were made under other weights (files made before models count as current)."""
        _, model = self.catalogue.clustering_rules()
        return model is not None and model != self.model.fingerprint

    def _index_keys(self, record_ids: list[str], constraints: Constraints) -> None:
        """Blocking keys of these records, a few thousand at a time so memory stays flat."""
        for _, chunk in _chunks(record_ids, 2000):
            self._insert_keys(chunk, self.catalogue.load_for_matching(chunk), constraints)

    def _insert_keys(self, chunk: list[str], records: dict, constraints: Constraints) -> dict[str, set[str]]:
        keys = {record_id: blocking_keys(record, constraints.blocked) for record_id, record in records.items()}
        with self.catalogue.transaction() as db:
            db.execute(f"DELETE FROM match_keys WHERE record_id IN ({','.join('?' * len(chunk))})", chunk)
            db.executemany("INSERT INTO match_keys (key, record_id) VALUES (?, ?)",
                           [(key, record_id) for record_id, found in keys.items() for key in found])
        return keys

    def _affected(self, queued: list[str], changed: list[str], constraints: Constraints,
                  records: "_PreparedCache") -> list[str]:
        """The records whose placement a change can alter: the whole group of records linked to a
        changed record by a verdict other than "different".

        Records only ever join, or are held back from, records they are not "different" from, and
        every such pair is either in one entry or a duplicate report (both are kept current), so
        re-clustering the changed records with the entries and report partners reachable from
        them gives the clusters a full rebuild would give; everything else cannot be touched.
        The changed records' new candidates are compared once here to find the entries they may
        join now; a queued record that did not change (its entry lost a member) has its links in
        entries and reports already.
        """
        blocked = constraints.blocked
        linked = set(self.catalogue.entries_of(queued))  # those still there: a deleted record's entry was queued
        changed = sorted(linked.intersection(changed))
        for _, chunk in _chunks(changed, 1000):
            candidates_of = self._candidates_of(chunk)
            entry_of = self.catalogue.entries_of({x for others in candidates_of.values() for x in others} | set(chunk))
            taken = {entry_of[x] for x in chunk}  # re-clustered whole anyway: no need to compare
            facts = self.catalogue.match_facts({x for others in candidates_of.values() for x in others  # (keys
                                                if entry_of.get(x, taken) not in taken})  # outlive deleted records)
            records.ensure(chunk)
            for record_id, candidates in candidates_of.items():
                record = records[record_id].record
                others = [other for other in candidates if other in facts and not surely_apart(record, *facts[other])]
                records.ensure(others)
                linked.update(other for other in others
                              if records.verdict(record_id, other, blocked).decision != "different")
        members: set[str] = set()
        frontier = linked
        while frontier:  # entries and reports, until nothing new is reached
            reached = self.catalogue.member_ids(set(self.catalogue.entries_of(frontier).values()))
            reached |= self.cataloguers.reported_with(frontier)
            reached |= {y for a, b in constraints.merge for x, y in ((a, b), (b, a)) if x in frontier}
            members |= frontier
            frontier = reached - members
        return sorted(self.catalogue.entries_of(members))

    def _candidates_of(self, record_ids: list[str]) -> dict[str, set[str]]:
        """Records sharing a blocking key with each of these, ignoring keys too common to mean anything
        (deleted records too: their keys stay until the next rebuild)."""
        keys_of = defaultdict(set)
        for _, ids in _chunks(record_ids):
            for key, record_id in self.db.execute(
                    f"SELECT key, record_id FROM match_keys WHERE record_id IN ({','.join('?' * len(ids))})", ids):
                keys_of[record_id].add(key)
        holders = defaultdict(list)
        for _, some in _chunks(sorted({key for keys in keys_of.values() for key in keys})):
            for key, record_id in self.db.execute(
                    f"SELECT key, record_id FROM match_keys WHERE key IN ({','.join('?' * len(some))})", some):
                holders[key].append(record_id)
        return {record_id: {other for key in keys if len(holders[key]) <= MAX_KEY_SIZE for other in holders[key]
                            if other != record_id} for record_id, keys in keys_of.items()}

    def _recluster(self, record_ids: list[str], constraints: Constraints, records: "_PreparedCache",
                   everything: bool = False) -> int:
        """Greedy clustering in a fixed order (deterministic, so a rebuild gives the same entries).

        ``everything`` (a rebuild): the blocking keys of every record are computed and written first,
        so that a key is judged too common by its size in the whole catalogue, as the incremental
        path judges it.
        """
        if not record_ids:
            return 0
        record_ids = self._matching_order(record_ids, everything=everything)
        inside = set(record_ids)
        cluster_of: dict[str, int] = {}
        clusters: list[list[str]] = []
        libraries: list[set[str]] = []  # of each cluster's members: one record per library is checked in O(1)
        distinct = _DistinctMembers(records, clusters)
        never_ids = {x for two in constraints.never for x in two}
        edges: dict[int, list[tuple]] = defaultdict(list)
        doubtful: list[tuple[str, str, object]] = []
        # candidates from memory, not a query per record
        keys = self._all_keys(constraints) if everything else _KeyIndex.of(self.db, record_ids)
        started = time.monotonic()
        for done, record_id in enumerate(record_ids, 1):
            if done % PREFETCH == 1:  # the next records in one read, not a query each
                records.ensure(record_ids[done - 1:done - 1 + PREFETCH])
            if done % 50_000 == 0:
                log.info("deduplicated %d of %d records (%.0f s)", done, len(record_ids), time.monotonic() - started)
            candidates = keys.candidates(record_id)
            placed = sorted(other for other in candidates & inside if other in cluster_of)
            records.ensure([record_id, *placed])
            record = records[record_id]
            library = record.record.library
            one_per_source = self.one_per_source.get(library, True)
            verdicts = records.verdicts_against(record_id, placed, constraints.blocked)
            joined, held_back = None, {}
            for other, verdict in sorted(verdicts.items(), key=lambda kv: (-kv[1].score, kv[0])):
                if verdict.decision != "same" or joined is not None:
                    continue
                index = cluster_of[other]
                members = clusters[index]
                if record_id in never_ids and any(pair(record_id, m) in constraints.never for m in members):
                    held_back[other] = "not merged: a cataloguer decided these records stay apart"
                elif one_per_source and library in libraries[index]:
                    held_back[other] = (f"not merged: {library} already has a record in that entry "
                                        "(a library's own duplicates are reported, not merged)")
                elif (join := can_join(record, distinct.of(index), constraints.blocked,
                                       known=verdicts, model=self.model)).decision != "same":
                    held_back[other] = "not merged: " + "; ".join(join.reasons[-2:])
                else:
                    joined = index
                    members.append(record_id)
                    libraries[index].add(library)
                    distinct.added(index, record_id)
                    cluster_of[record_id] = index
                    verdict = compare(record, records[other], constraints.blocked, self.model)  # this pair's own reasons
                    edges[index].append((record_id, other, verdict.score, self._reasons(verdict), "matcher"))
            if joined is None:
                cluster_of[record_id] = len(clusters)
                clusters.append([record_id])
                libraries.append({library})
            for other, verdict in verdicts.items():
                if cluster_of[other] != cluster_of[record_id] and verdict.decision in ("doubtful", "same"):
                    verdict = compare(record, records[other], constraints.blocked, self.model)  # this pair's own reasons
                    if other in held_back:
                        verdict = replace(verdict, reasons=[*verdict.reasons, held_back[other]])
                    doubtful.append((record_id, other, verdict))
        self._apply_merges(constraints, cluster_of, clusters, edges)
        if len(record_ids) >= 50_000:
            log.info("placed %d records (%.0f s); writing the entries", len(record_ids), time.monotonic() - started)
        self._write(record_ids, clusters, edges, doubtful, everything)
        return sum(1 for members in clusters if members)

    def _all_keys(self, constraints: Constraints) -> "_KeyIndex":
        """Every record's blocking keys, kept in memory and written to the emptied table.

        A big catalogue's keys are computed by worker processes reading the catalogue file, and
        the table's indexes are built once at the end instead of grown row by row."""
        keys, started, done = _KeyIndex(), time.monotonic(), 0
        first, last = self.catalogue.row_span()
        jobs = ((str(self.catalogue.path), start, start + KEY_JOB - 1, constraints.blocked)
                for start in range(first, last + 1, KEY_JOB))
        workers = cores() if last - first >= PARALLEL_KEYS_FROM else 1
        with self.catalogue.transaction() as db:
            for name in MATCH_KEY_INDEXES:
                db.execute(f"DROP INDEX IF EXISTS {name}")
        with process_pool(workers) if workers > 1 else nullcontext() as pool:
            for found in in_order(pool, _keys_of_rows, jobs, 2 * workers) if pool else map(_keys_of_rows, jobs):
                with self.catalogue.transaction() as db:
                    db.executemany("INSERT INTO match_keys (key, record_id) VALUES (?, ?)",
                                   [(key, record_id) for record_id, found_keys in found.items() for key in found_keys])
                keys.add(found)
                done += len(found)
                if done % 100_000 < len(found):
                    log.info("blocking keys of %d records computed (%.0f s)", done, time.monotonic() - started)
        with self.catalogue.transaction() as db:
            for name, columns in MATCH_KEY_INDEXES.items():
                db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {columns}")
        return keys

    def _matching_order(self, record_ids: list[str], everything: bool = False) -> list[str]:
        """Folded title, then id: copies of one book come one after another, so the records a
        record is compared with were just read (a national rebuild reads each record about once),
        and the order is the same for a rebuild and for the incremental path."""
        titles = self.catalogue.titles(None if everything else record_ids)  # a rebuild: one pass over the table
        return sorted(titles, key=lambda record_id: (fold(titles[record_id] or ""), record_id))

    @staticmethod
    def _apply_merges(constraints: Constraints, cluster_of, clusters, edges) -> None:
        for a, b in constraints.merge:
            if a not in cluster_of or b not in cluster_of or cluster_of[a] == cluster_of[b]:
                continue
            keep, gone = sorted((cluster_of[a], cluster_of[b]))
            if any(pair(x, y) in constraints.never for x in clusters[keep] for y in clusters[gone]):
                continue  # a later "never" decision wins over an earlier merge
            for member in clusters[gone]:
                cluster_of[member] = keep
            clusters[keep].extend(clusters[gone])
            clusters[gone] = []
            edges[keep].extend(edges.pop(gone, []))
            edges[keep].append((a, b, 1.0, {"en": ["merged by a cataloguer"], "vi": ["cán bộ thư viện đã gộp"]},
                                "cataloguer"))

    def _reasons(self, verdict) -> dict[str, list[str]]:
        """What a cataloguer reads about a pair, in English (with each rule's detail) and Vietnamese."""
        return {"en": verdict.reasons, "vi": explain(verdict, "vi", self.model)}

    def _write(self, record_ids: list[str], clusters, edges, doubtful, everything: bool = False) -> None:
        """One transaction: entries, their edges and the open reports among these records."""
        old_entries = (set(self.catalogue.all_entry_ids()) if everything
                       else set(self.catalogue.entries_of(record_ids).values()))
        assignments, touched, edge_rows = [], set(old_entries), []
        entry_ids = self._entry_ids([min(members) for members in clusters if members])
        for index, members in enumerate(clusters):
            if not members:
                continue
            entry_id = entry_ids[min(members)]
            touched.add(entry_id)
            assignments.extend((entry_id, member) for member in members)
            edge_rows.extend((entry_id, *edge) for edge in edges.get(index, []))
        reports = [(a, b, verdict.score, self._reasons(verdict), verdict.differing) for a, b, verdict in doubtful]
        with self.catalogue.transaction() as db:
            self.catalogue.assign_entries(db, assignments, touched)
            self.cataloguers.save_clustering(db, None if everything else old_entries, edge_rows, record_ids, reports)

    def _entry_ids(self, founders: list[str]) -> dict[str, str]:
        """Each cluster's entry id from the record that founded it (its smallest record id), so links
        survive a rebuild; when that id is retired (published, then deleted), the first of
        ``<founder>#1``, ``#2``... that is not: the same answer on every run, never a retired id."""
        ids = {founder: entry_id_for(founder) for founder in founders}
        if not self.db.execute("SELECT 1 FROM retired_entries LIMIT 1").fetchone():
            return ids
        retired = self._retired(ids.values())
        for founder in founders:
            if ids[founder] in retired:
                n = 1
                while self._retired([candidate := entry_id_for(f"{founder}#{n}")]):
                    n += 1
                ids[founder] = candidate
        return ids

    def _retired(self, entry_ids) -> set[str]:
        found, entry_ids = set(), sorted(entry_ids)
        for _, some in _chunks(entry_ids):
            found.update(r[0] for r in self.db.execute(
                f"SELECT id FROM retired_entries WHERE id IN ({','.join('?' * len(some))})", some))
        return found

    # -- the cataloguers' decisions: kept by Decisions, obeyed here ---------------------------------
    def decide(self, action: str, who: str, comment: str | None = None, a: str | None = None,
               b: str | None = None, isbn: str | None = None, prefix: str | None = None) -> int:
        """Record a decision and re-cluster what it touches; returns the decision id."""
        decision_id = self.cataloguers.decide(action, who, comment, a=a, b=b, isbn=isbn, prefix=prefix)
        self._requeue_for(self.cataloguers.decision(decision_id))
        self.run()
        return decision_id

    def undo(self, decision_id: int, who: str) -> dict | None:
        undone = self.cataloguers.undo(decision_id, who)
        if undone:
            self._requeue_for(undone)
            self.run()
        return self.cataloguers.decision(decision_id)

    def _requeue_for(self, decision: dict) -> None:
        """The records a decision is about, and for a blocked ISBN every record holding it."""
        ids = {x for x in (decision["a"], decision["b"]) if x} | set(decision["others"] or [])
        if isbn := decision["isbn"]:
            ids |= {r[0] for r in self.db.execute("SELECT record_id FROM match_keys WHERE key = ?", (f"isbn:{isbn}",))}
            ids |= self.catalogue.record_ids_mentioning(isbn)
        self.catalogue.queue_for_dedup(ids)

    def constraints(self) -> Constraints:
        return self.cataloguers.constraints()

    def labels(self) -> list:
        return self.cataloguers.labels()

    def decision(self, decision_id: int) -> dict | None:
        return self.cataloguers.decision(decision_id)

    def decisions(self, limit: int = 100) -> list[dict]:
        return self.cataloguers.decisions(limit)

    def why(self, entry_id: str) -> list[dict]:
        return self.cataloguers.why(entry_id)

    def report(self, report_id: int) -> dict | None:
        return self.cataloguers.report(report_id)

    def reports(self, library: str | list[str] | None = None, status: str = "open", limit: int = 50,
                offset: int = 0) -> list[dict]:
        return self.cataloguers.reports(library, status, limit, offset)


_PREPARED_FIELDS = tuple(f.name for f in fields(Prepared) if f.name not in ("record", "author_names"))


def _signature(p) -> tuple:
    """Everything compare() decides on, in compared form: two copies of a book catalogued alike
    ("Nxb. Kim Đồng" or "Kim Đồng", NFD or NFC) get the same verdict against any third record."""
    r = p.record
    return (*(getattr(p, name) for name in _PREPARED_FIELDS), fold(r.title or ""), r.year, r.pages,
            r.material_type)


class _PreparedCache:
    """Records prepared for comparison, loaded on demand, the least recently used forgotten first;
    and verdicts between comparison signatures, so the copies of a popular book held by two
    hundred libraries are not compared two hundred times over.

    A full rebuild walks every record once; keeping them all would need gigabytes at a
    national scale, while the records compared at any moment are few.
    """

    def __init__(self, catalogue: Catalogue, model: MatchModel, limit: int = 60_000, verdict_limit: int = 100_000):
        self.catalogue, self.model, self.limit, self.verdict_limit = catalogue, model, limit, verdict_limit
        self.items: "OrderedDict[str, object]" = OrderedDict()
        self.signature_of: dict[str, int] = {}
        self.signature_ids: dict[tuple, int] = {}
        self.verdicts: dict[tuple[int, int], object] = {}
        self.generation = 0  # how many times the verdicts were forgotten

    def ensure(self, record_ids) -> None:
        items = self.items
        missing = []
        for record_id in record_ids:
            if record_id in items:
                items.move_to_end(record_id)
            else:
                missing.append(record_id)
        if not missing:
            return
        for record_id, record in self.catalogue.load_for_matching(list(dict.fromkeys(missing))).items():
            items[record_id] = prepare(record)
        while len(items) > self.limit:
            gone, _ = items.popitem(last=False)
            self.signature_of.pop(gone, None)

    def signature(self, record_id: str) -> int:
        """A small number standing for the record's comparison signature."""
        found = self.signature_of.get(record_id)
        if found is None:
            signature = _signature(self[record_id])
            found = self.signature_of[record_id] = self.signature_ids.setdefault(signature, len(self.signature_ids))
        return found

    def verdict(self, a: str, b: str, blocked):
        """compare(a, b) for deciding (its reasons may name another copy with the same signature)."""
        x, y = self.signature(a), self.signature(b)
        key = (x, y) if x <= y else (y, x)
        found = self.verdicts.get(key)
        if found is None:
            found = self.verdicts[key] = compare(self[a], self[b], blocked, self.model)
            if len(self.verdicts) >= self.verdict_limit or len(self.signature_ids) >= self.verdict_limit:
                self.verdicts.clear(), self.signature_ids.clear(), self.signature_of.clear()  # start afresh
                self.generation += 1
        return found

    def verdicts_against(self, record_id: str, others: list[str], blocked) -> dict[str, object]:
        """verdict(record_id, other) for each of the others; a popular book's copies mostly share a signature."""
        by_signature, found, generation = {}, {}, self.generation
        signature_of = self.signature_of
        for other in others:
            theirs = signature_of.get(other)
            if theirs is None:
                theirs = self.signature(other)
            verdict = by_signature.get(theirs)
            if verdict is None:
                verdict = self.verdict(record_id, other, blocked)
                if self.generation != generation:  # signatures were numbered afresh
                    by_signature, generation = {}, self.generation
                else:
                    by_signature[theirs] = verdict
            found[other] = verdict
        return found

    def __getitem__(self, record_id: str):
        if record_id not in self.items:
            self.ensure([record_id])
        return self.items[record_id]


class _DistinctMembers:
    """For each cluster, its first member of every comparison signature, in member order.

    Members with one signature get one verdict against a newcomer, so can_join over these gives
    the answer (and names the member) it gives over all members, without walking the two hundred
    copies of a popular book for each new copy."""

    def __init__(self, records: _PreparedCache, clusters: list[list[str]]):
        self.records, self.clusters = records, clusters
        self.firsts: dict[int, tuple[int, dict[int, str]]] = {}  # cluster -> (signature generation, firsts)

    def of(self, index: int) -> list:
        generation, firsts = self.firsts.get(index, (None, None))
        if generation != self.records.generation:  # new, or the signatures were numbered afresh
            firsts = {}
            for member in self.clusters[index]:
                firsts.setdefault(self.records.signature(member), member)
            self.firsts[index] = (self.records.generation, firsts)
        self.records.ensure(firsts.values())
        return [self.records[member] for member in firsts.values()]

    def added(self, index: int, record_id: str) -> None:
        generation, firsts = self.firsts.get(index, (None, None))
        if generation == self.records.generation:
            firsts.setdefault(self.records.signature(record_id), record_id)


def _keys_of_rows(job) -> dict[str, set[str]]:
    """Blocking keys of the records stored in a rowid range (run in a worker process)."""
    path, first, last, blocked = job
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        records = matching_records_in_rows(db, first, last)
    finally:
        db.close()
    return {record_id: blocking_keys(record, blocked) for record_id, record in records.items()}


class _KeyIndex:
    """Blocking keys of the records read so far, in memory, for a rebuild: the same answer as
    Clusters._candidates without a query per record. Keys are kept as their hash (a collision
    only costs one more comparison) and a key's only record as itself, not a list."""

    def __init__(self):
        self.by_key: dict[int, object] = {}
        self.pending: dict[str, list[int]] = {}  # the keys of records not yet asked about

    def add(self, keys_of: dict[str, set[str]]) -> None:
        by_key = self.by_key
        for record_id, keys in keys_of.items():
            hashes = [hash(key) for key in keys]
            self.pending[record_id] = hashes
            for h in hashes:
                found = by_key.get(h)
                if found is None:
                    by_key[h] = record_id
                elif isinstance(found, list):
                    found.append(record_id)
                else:
                    by_key[h] = [found, record_id]

    @classmethod
    def of(cls, db, record_ids: list[str]) -> "_KeyIndex":
        """The stored keys of these records; a key shared by too many records in the whole
        catalogue is left out, as Clusters._candidates does."""
        index, keys_of = cls(), defaultdict(set)
        for _, ids in _chunks(record_ids):
            for key, record_id in db.execute(
                    f"SELECT key, record_id FROM match_keys WHERE record_id IN ({','.join('?' * len(ids))})", ids):
                keys_of[record_id].add(key)
        too_common = set()
        for _, some in _chunks(sorted({key for keys in keys_of.values() for key in keys})):
            too_common.update(key for key, size in db.execute(
                f"SELECT key, count(*) FROM match_keys WHERE key IN ({','.join('?' * len(some))}) GROUP BY key", some)
                if size > MAX_KEY_SIZE)
        index.add({record_id: keys - too_common for record_id, keys in keys_of.items()})
        return index

    def candidates(self, record_id: str) -> set[str]:
        found: set[str] = set()
        for h in self.pending.pop(record_id, ()):
            members = self.by_key[h]
            if isinstance(members, list):
                if len(members) <= MAX_KEY_SIZE:
                    found.update(members)
            else:
                found.add(members)
        found.discard(record_id)
        return found


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield start, items[start:start + size]


def retire_entries(catalogue: Catalogue, entry_ids: list[str]) -> None:
    """These entry ids were published and are deleted now: no entry gets them again (Clusters._entry_ids)."""
    if entry_ids:
        with catalogue.transaction() as db:
            db.execute(RETIRED_ENTRIES)
            db.executemany("INSERT OR IGNORE INTO retired_entries (id) VALUES (?)", [(i,) for i in entry_ids])
