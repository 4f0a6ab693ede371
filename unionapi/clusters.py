"""Deduplication over the catalogue: records grouped into union entries, and cataloguers' decisions.

The matcher (``normalizer.dedup``) decides about pairs; this module decides which records are
compared (blocking keys kept in the catalogue), builds clusters without chaining, keeps an edge
with its reasons for every accepted match, turns doubtful pairs into duplicate reports, and
re-applies every cataloguer decision (merge, reject, split, block an ISBN) each time clusters are
rebuilt, so a nightly harvest never undoes a person's work.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import OrderedDict, defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, fields, replace

from storage.sqlite import apply_schema
from normalizer.dedup import (MATCHER_REVISION, BlockList, Prepared, blocking_keys, can_join, compare, explain,
                              prepare, surely_apart)
from normalizer.match_model import MatchModel, default_model
from normalizer.text import fold
from unionapi.catalogue import MATCH_EXTRACT, Catalogue, entry_id_for, matching_record
from unionapi.workers import cores, in_order, process_pool

log = logging.getLogger("unioncat.dedup")

# both columns in each: a lookup never reads the table (a rebuild drops them and builds them once at the end)
MATCH_KEY_INDEXES = {"match_keys_by_key": "match_keys(key, record_id)",
                     "match_keys_by_record": "match_keys(record_id, key)"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS match_keys (key TEXT NOT NULL, record_id TEXT NOT NULL);
DROP INDEX IF EXISTS match_keys_key;      -- files made before MATCH_KEY_INDEXES covered both columns
DROP INDEX IF EXISTS match_keys_record;
CREATE TABLE IF NOT EXISTS edges (          -- why the members of an entry are together
    entry_id TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL, score REAL, reasons TEXT NOT NULL,
    kind TEXT NOT NULL                      -- matcher | cataloguer
);
CREATE INDEX IF NOT EXISTS edges_entry ON edges(entry_id);
CREATE TABLE IF NOT EXISTS reports (        -- doubtful pairs for a cataloguer to decide
    id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT NOT NULL, b TEXT NOT NULL, score REAL NOT NULL,
    reasons TEXT NOT NULL, differing TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',    -- open | merged | rejected | gone
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (a, b)
);
CREATE INDEX IF NOT EXISTS reports_b ON reports(b);
CREATE TABLE IF NOT EXISTS decisions (      -- every cataloguer action, kept forever, undoable
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,                   -- merge | reject | split | block
    a TEXT, b TEXT,                         -- the records (split: a = the record taken out)
    others TEXT,                            -- split: JSON list of the members it was taken away from
    isbn TEXT, prefix TEXT,                 -- block
    comment TEXT, who TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    undone_at TEXT, undone_by TEXT
);
""" + "".join(f"CREATE INDEX IF NOT EXISTS {name} ON {columns};\n" for name, columns in MATCH_KEY_INDEXES.items())
MAX_KEY_SIZE = 500  # a blocking key shared by more records than this is too vague to compare on
PREFETCH = 2000  # records read at once as clustering walks through them
KEY_JOB = 5000  # records per worker job when a rebuild computes blocking keys
PARALLEL_KEYS_FROM = 20_000  # a smaller catalogue's keys are computed in this process


@dataclass
class Constraints:
    """Cataloguer decisions in force, as the clustering needs them."""

    never: set[tuple[str, str]]  # pairs that must stay apart
    merge: list[tuple[str, str]]  # pairs that must be together
    blocked: BlockList


def _reasons_of(stored: str) -> dict[str, list[str]]:
    """``reasons`` (English) and ``reasons_vi`` from the stored JSON (files made before the
    Vietnamese lines hold a plain English list)."""
    found = json.loads(stored)
    if isinstance(found, list):
        return {"reasons": found, "reasons_vi": found}
    return {"reasons": found["en"], "reasons_vi": found["vi"]}


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


class Clusters:
    def __init__(self, catalogue: Catalogue, one_per_source: dict[str, bool] | None = None,
                 model: MatchModel | None = None):
        self.catalogue = catalogue
        self.one_per_source = one_per_source or {}  # source -> False lets its own duplicates merge
        self.model = model or default_model()  # frozen weights: every incremental run decides alike
        apply_schema(self.catalogue.db, SCHEMA, self.catalogue.path)

    @property
    def db(self):
        return self.catalogue.db

    # -- constraints ---------------------------------------------------------------------------
    def constraints(self) -> Constraints:
        never, merge, isbns = set(), [], defaultdict(list)
        for action, a, b, others, isbn, prefix in self.db.execute(
                "SELECT action, a, b, others, isbn, prefix FROM decisions WHERE undone_at IS NULL ORDER BY id"):
            if action == "reject":
                never.add(_pair(a, b))
            elif action == "merge":
                merge.append(_pair(a, b))
            elif action == "split":
                never.update(_pair(a, other) for other in json.loads(others))
            elif action == "block":
                isbns[isbn].append(prefix or "")
        blocked = BlockList(isbns={isbn: [p for p in prefixes if p] if all(prefixes) else []
                                   for isbn, prefixes in isbns.items()})
        return Constraints(never=never, merge=merge, blocked=blocked)

    def labels(self) -> list:
        """Every decision in force as a labelled pair for training: a merge says "same book", a
        not-duplicate or a split "different books"."""
        from normalizer.training import Label
        out = []
        for action, a, b, others in self.db.execute(
                "SELECT action, a, b, others FROM decisions WHERE undone_at IS NULL ORDER BY id"):
            if action in ("merge", "reject"):
                out.append(Label(a, b, action == "merge"))
            elif action == "split":
                out.extend(Label(a, other, False) for other in json.loads(others))
        return out

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
            queued_count = self.db.execute("SELECT count(*) FROM dedup_queue").fetchone()[0]
            rebuild = queued_count > 1000 and 2 * queued_count >= self.db.execute(
                "SELECT count(*) FROM records").fetchone()[0]
        if rebuild:
            affected = [r[0] for r in self.db.execute("SELECT id FROM records ORDER BY id")]
            with self.catalogue.transaction() as db:
                db.execute("DELETE FROM match_keys")
                db.execute("DELETE FROM dedup_queue")  # (edges are replaced entry by entry when written)
        else:
            queued = dict(self.db.execute("SELECT record_id, changed FROM dedup_queue ORDER BY record_id"))
            if not queued:
                return 0
            changed = [record_id for record_id, is_changed in queued.items() if is_changed]
            self._index_keys(changed, constraints)  # the others' keys are as they were
            affected = self._affected(list(queued), changed, constraints, records)
        if affected:
            log.info("deduplicating %d records%s", len(affected), " (full rebuild)" if rebuild else "")
        placed = self._recluster(affected, constraints, records, everything=rebuild)
        with self.catalogue.transaction() as db:
            db.execute("DELETE FROM dedup_queue")
            db.execute("INSERT OR REPLACE INTO cursors (name, seq) VALUES ('matcher_revision', ?)", (MATCHER_REVISION,))
            db.execute("INSERT OR REPLACE INTO cursors (name, seq) VALUES ('match_model', ?)", (self.model.fingerprint,))
            db.execute("UPDATE reports SET status = 'gone', updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
                       " WHERE status = 'open' AND (a NOT IN (SELECT id FROM records) OR b NOT IN (SELECT id FROM records))")
        if affected:
            log.info("deduplicated %d records into %d entries in %.1f s", len(affected), placed,
                     time.monotonic() - started)
        return len(affected)

    def _stale_revision(self) -> int | None:
        """The matcher revision the entries were made under, if not the current one (files made
        before revisions were recorded count as 1; a catalogue never clustered is not stale)."""
        row = self.db.execute("SELECT seq FROM cursors WHERE name = 'matcher_revision'").fetchone()
        revision = row[0] if row else 1
        if revision == MATCHER_REVISION or not self.db.execute("SELECT 1 FROM match_keys LIMIT 1").fetchone():
            return None
        return revision

    def _stale_model(self) -> bool:
        """The entries were made under other weights (files made before models count as current)."""
        row = self.db.execute("SELECT seq FROM cursors WHERE name = 'match_model'").fetchone()
        return bool(row) and row[0] != self.model.fingerprint

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
        linked = self._existing(queued)  # a deleted record's entry was queued by the catalogue
        changed = sorted(linked.intersection(changed))
        for _, chunk in _chunks(changed, 1000):
            candidates_of = self._candidates_of(chunk)
            entry_of = self._entries_of({x for others in candidates_of.values() for x in others} | set(chunk))
            taken = {entry_of[x] for x in chunk}  # re-clustered whole anyway: no need to compare
            facts = self._match_facts({x for others in candidates_of.values() for x in others  # (keys outlive
                                       if entry_of.get(x, taken) not in taken})               # deleted records)
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
            entries = set(self._entries_of(frontier).values())
            reached = self._select_in("SELECT id FROM records WHERE entry_id IN ({})", entries)
            reached |= self._select_in("SELECT b FROM reports WHERE status != 'gone' AND a IN ({})", frontier)
            reached |= self._select_in("SELECT a FROM reports WHERE status != 'gone' AND b IN ({})", frontier)
            reached |= {y for a, b in constraints.merge for x, y in ((a, b), (b, a)) if x in frontier}
            members |= frontier
            frontier = reached - members
        return sorted(self._existing(members))

    def _existing(self, record_ids) -> set[str]:
        return self._select_in("SELECT id FROM records WHERE id IN ({})", record_ids)

    def _entries_of(self, record_ids) -> dict[str, str]:
        found = {}
        for _, some in _chunks(sorted(record_ids)):
            found.update(self.db.execute(
                f"SELECT id, entry_id FROM records INDEXED BY records_entry_of"  # (not the wider row)
                f" WHERE id IN ({','.join('?' * len(some))})", some))
        return found

    def _match_facts(self, record_ids) -> dict[str, tuple]:
        """Year, pages and material type of each record, read without loading the records."""
        found = {}
        for _, some in _chunks(sorted(record_ids)):
            found.update((record_id, tuple(json.loads(facts))) for record_id, facts in self.db.execute(
                "SELECT id, json_extract(data, '$.year', '$.pages', '$.material_type') FROM records"
                f" WHERE id IN ({','.join('?' * len(some))})", some))
        return found

    def _select_in(self, query: str, values) -> set:
        found = set()
        for _, some in _chunks(sorted(values)):
            found.update(row[0] for row in self.db.execute(query.format(",".join("?" * len(some))), some))
        return found

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
        never_ids = {x for pair in constraints.never for x in pair}
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
                if record_id in never_ids and any(_pair(record_id, m) in constraints.never for m in members):
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
        first, last = self.db.execute("SELECT coalesce(min(rowid), 0), coalesce(max(rowid), -1) FROM records").fetchone()
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
        titles = {}
        if everything:  # a rebuild: one pass over the table
            titles.update(self.db.execute("SELECT id, json_extract(data, '$.title') FROM records"))
        for _, ids in _chunks([] if everything else record_ids):
            titles.update(self.db.execute(f"SELECT id, json_extract(data, '$.title') FROM records"
                                          f" WHERE id IN ({','.join('?' * len(ids))})", ids))
        return sorted(titles, key=lambda record_id: (fold(titles[record_id] or ""), record_id))

    @staticmethod
    def _apply_merges(constraints: Constraints, cluster_of, clusters, edges) -> None:
        for a, b in constraints.merge:
            if a not in cluster_of or b not in cluster_of or cluster_of[a] == cluster_of[b]:
                continue
            keep, gone = sorted((cluster_of[a], cluster_of[b]))
            if any(_pair(x, y) in constraints.never for x in clusters[keep] for y in clusters[gone]):
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
        stamp = max((self.catalogue.cursor(), 1))
        old_entries = ({r[0] for r in self.db.execute("SELECT DISTINCT entry_id FROM records")} if everything
                       else set(self._entries_of(record_ids).values()))
        assignments, touched, edge_rows = [], set(old_entries), []
        for index, members in enumerate(clusters):
            if not members:
                continue
            entry_id = entry_id_for(min(members))
            touched.add(entry_id)
            assignments.extend((entry_id, member) for member in members)
            edge_rows.extend((entry_id, a, b, score, json.dumps(reasons, ensure_ascii=False), kind)
                             for a, b, score, reasons, kind in edges.get(index, []))
        with self.catalogue.transaction() as db:
            if everything:
                db.execute("DELETE FROM edges")
            for _, ids in _chunks([] if everything else sorted(old_entries)):
                db.execute(f"DELETE FROM edges WHERE entry_id IN ({','.join('?' * len(ids))})", ids)
            db.executemany("UPDATE records SET entry_id = ? WHERE id = ? AND entry_id != ?",
                           ((entry_id, member, entry_id) for entry_id, member in assignments))
            db.executemany("INSERT INTO entries (id, dirty) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET dirty = ?",
                           ((entry_id, stamp, stamp) for entry_id in sorted(touched)))
            db.executemany("INSERT INTO edges (entry_id, a, b, score, reasons, kind) VALUES (?,?,?,?,?,?)", edge_rows)
            # open reports among these records are recomputed: a pair that no longer looks doubtful
            # (an ISBN blocked, a record corrected at the source) stops being reported
            inside = set(record_ids)
            stale = [(i, a, b) for i, a, b in db.execute("SELECT id, a, b FROM reports WHERE status = 'open'")
                     if a in inside and b in inside]
            db.executemany("UPDATE reports SET status = 'gone' WHERE id = ?", [(i,) for i, _, _ in stale])
            db.executemany(
                "INSERT INTO reports (a, b, score, reasons, differing) VALUES (?,?,?,?,?)"
                " ON CONFLICT(a, b) DO UPDATE SET score=excluded.score, reasons=excluded.reasons,"
                " differing=excluded.differing, status=CASE WHEN status = 'gone' THEN 'open' ELSE status END,"
                " updated_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                ((*_pair(a, b), verdict.score, json.dumps(self._reasons(verdict), ensure_ascii=False),
                  json.dumps(verdict.differing)) for a, b, verdict in doubtful))

    # -- cataloguer actions --------------------------------------------------------------------
    def decide(self, action: str, who: str, comment: str | None = None, a: str | None = None,
               b: str | None = None, isbn: str | None = None, prefix: str | None = None) -> int:
        """Record a decision and re-cluster what it touches; returns the decision id."""
        others = None
        if action == "split":
            entry = self.db.execute("SELECT entry_id FROM records WHERE id = ?", (a,)).fetchone()
            others = json.dumps([r[0] for r in self.db.execute(
                "SELECT id FROM records WHERE entry_id = ? AND id != ?", (entry[0], a))])
        with self.catalogue.transaction() as db:
            decision_id = db.execute(
                "INSERT INTO decisions (action, a, b, others, isbn, prefix, comment, who) VALUES (?,?,?,?,?,?,?,?)",
                (action, a, b, others, isbn, prefix, comment, who)).lastrowid
            if action in ("merge", "reject") and a and b:
                db.execute("UPDATE reports SET status = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
                           " WHERE a = ? AND b = ?", ("merged" if action == "merge" else "rejected", *_pair(a, b)))
        self._requeue_for(action, a, b, others, isbn)
        self.run()
        return decision_id

    def undo(self, decision_id: int, who: str) -> dict | None:
        row = self.db.execute("SELECT action, a, b, others, isbn, undone_at FROM decisions WHERE id = ?",
                              (decision_id,)).fetchone()
        if row is None:
            return None
        action, a, b, others, isbn, undone_at = row
        if undone_at is None:
            with self.catalogue.transaction() as db:
                db.execute("UPDATE decisions SET undone_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), undone_by = ?"
                           " WHERE id = ?", (who, decision_id))
                if action in ("merge", "reject") and a and b:
                    db.execute("UPDATE reports SET status = 'open' WHERE a = ? AND b = ?", _pair(a, b))
            self._requeue_for(action, a, b, others, isbn)
            self.run()
        return self.decision(decision_id)

    def _requeue_for(self, action, a, b, others, isbn) -> None:
        ids = {x for x in (a, b) if x} | set(json.loads(others) if others else [])
        if isbn:
            ids |= {r[0] for r in self.db.execute("SELECT record_id FROM match_keys WHERE key = ?",
                                                  (f"isbn:{isbn}",))}
            ids |= {r[0] for r in self.db.execute("SELECT id FROM records WHERE data LIKE ?", (f'%"{isbn}"%',))}
        with self.catalogue.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO dedup_queue (record_id) VALUES (?)", [(i,) for i in ids])

    # -- reading -------------------------------------------------------------------------------
    def decision(self, decision_id: int) -> dict | None:
        cols = ("id", "action", "a", "b", "others", "isbn", "prefix", "comment", "who", "at", "undone_at", "undone_by")
        row = self.db.execute(f"SELECT {', '.join(cols)} FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        if row is None:
            return None
        found = dict(zip(cols, row))
        found["others"] = json.loads(found["others"]) if found["others"] else None
        return found

    def decisions(self, limit: int = 100) -> list[dict]:
        ids = [r[0] for r in self.db.execute("SELECT id FROM decisions ORDER BY id DESC LIMIT ?", (limit,))]
        return [self.decision(i) for i in ids]

    def why(self, entry_id: str) -> list[dict]:
        rows = self.db.execute("SELECT a, b, score, reasons, kind FROM edges WHERE entry_id = ? ORDER BY a, b",
                               (entry_id,))
        return [{"a": a, "b": b, "score": score, **_reasons_of(reasons), "by": kind}
                for a, b, score, reasons, kind in rows]

    def report(self, report_id: int) -> dict | None:
        cols = ("id", "a", "b", "score", "reasons", "differing", "status", "created_at", "updated_at")
        row = self.db.execute(f"SELECT {', '.join(cols)} FROM reports WHERE id = ?", (report_id,)).fetchone()
        if row is None:
            return None
        found = dict(zip(cols, row))
        found.update(_reasons_of(found["reasons"]))
        found["differing"] = json.loads(found["differing"])
        return found

    def reports(self, library: str | None = None, status: str = "open", limit: int = 50,
                offset: int = 0) -> list[dict]:
        """Doubtful pairs, the likeliest duplicates first (highest score)."""
        sql = ("SELECT r.id FROM reports r JOIN records ra ON ra.id = r.a JOIN records rb ON rb.id = r.b"
               " WHERE r.status = ? AND ra.entry_id != rb.entry_id")
        params: list = [status]
        if status != "open":
            sql = "SELECT r.id FROM reports r WHERE r.status = ?"
        if library:
            sql += " AND (r.a LIKE ? OR r.b LIKE ?)"
            params += [f"{library}:%", f"{library}:%"]
        sql += " ORDER BY r.score DESC, r.id LIMIT ? OFFSET ?"
        return [self.report(r[0]) for r in self.db.execute(sql, [*params, limit, offset])]


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
        rows = db.execute(f"SELECT id, {MATCH_EXTRACT} FROM records WHERE rowid BETWEEN ? AND ?", (first, last)).fetchall()
    finally:
        db.close()
    return {record_id: blocking_keys(matching_record(values), blocked) for record_id, values in rows}


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
