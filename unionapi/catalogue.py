"""The catalogue: normalized records grouped into union entries, what the index is built from.

Kept in its own SQLite file beside the raw store: it can always be thrown away and rebuilt from
the raw store. Entries touched by a change are marked ``dirty`` in the same transaction as the
change, so an indexing step that dies half-way is simply run again.
"""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Iterable, Iterator

from storage.sqlite import SQLiteFile
from normalizer.dedup import MATCH_FIELDS
from normalizer.records import CanonicalRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,            -- the raw store's namespaced id
    source TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    raw_seq INTEGER NOT NULL,
    data TEXT NOT NULL,             -- CanonicalRecord as JSON
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
DROP INDEX IF EXISTS records_entry;        -- files made before the two indexes below
CREATE INDEX IF NOT EXISTS records_by_entry ON records(entry_id, id);  -- entry <-> members without reading
CREATE INDEX IF NOT EXISTS records_entry_of ON records(id, entry_id);  -- the records' JSON
CREATE INDEX IF NOT EXISTS records_source ON records(source);
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    dirty INTEGER NOT NULL DEFAULT 1   -- 0 = in the index as it is; else a stamp of the last change
);
CREATE INDEX IF NOT EXISTS entries_dirty ON entries(dirty) WHERE dirty != 0;
CREATE TABLE IF NOT EXISTS rejected (
    record_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    raw_seq INTEGER NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS record_issues (   -- what the normalizer repaired or doubted, for the quality report
    record_id TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,             -- repair | warning
    code TEXT NOT NULL,             -- what kind of problem, for counting ("TCVN3", "ISBN # is not valid ...")
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS record_issues_record ON record_issues(record_id);
CREATE INDEX IF NOT EXISTS record_issues_source ON record_issues(source, kind, code);
CREATE TABLE IF NOT EXISTS dedup_queue (   -- to be (re)clustered
    record_id TEXT PRIMARY KEY,
    changed INTEGER NOT NULL DEFAULT 1      -- 0: the record is as it was, only its entry lost a member
);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    """Short enough for SQLite's limit on a statement's parameters."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def members_of(db: sqlite3.Connection, entry_ids: list[str]) -> dict[str, list[CanonicalRecord]]:
    """Each entry's member records, in id order (also read by worker processes with a connection of their own)."""
    found: dict[str, list[CanonicalRecord]] = {entry_id: [] for entry_id in entry_ids}
    for chunk in _chunks(entry_ids):
        rows = db.execute(f"SELECT entry_id, data FROM records WHERE entry_id IN ({','.join('?' * len(chunk))})"
                          " ORDER BY id", chunk)
        for entry_id, data in rows:
            found[entry_id].append(CanonicalRecord.from_dict(json.loads(data)))
    return found


def _matching_changed(old: dict, new: dict) -> bool:
    """Did anything the record matcher reads change? (Holdings and notes do not count.)"""
    return any(old.get(name) != new.get(name) for name in MATCH_FIELDS)


_MATCHING_READS = (*MATCH_FIELDS, "format")  # (format: required to make a record)
_MATCH_EXTRACT = "json_extract(data, {})".format(", ".join(f"'$.{name}'" for name in _MATCHING_READS))


def _matching_record(values: str) -> CanonicalRecord:
    """A record from _MATCH_EXTRACT's JSON array: the matcher's fields, the rest left empty."""
    return CanonicalRecord.from_dict(dict(zip(_MATCHING_READS, json.loads(values))))


def matching_records_in_rows(db: sqlite3.Connection, first: int, last: int) -> dict[str, CanonicalRecord]:
    """The records stored in a rowid range, with only what the matcher reads (read by the worker
    processes of a rebuild, each with a connection of its own)."""
    rows = db.execute(f"SELECT id, {_MATCH_EXTRACT} FROM records WHERE rowid BETWEEN ? AND ?", (first, last)).fetchall()
    return {record_id: _matching_record(values) for record_id, values in rows}


def entry_id_for(record_id: str) -> str:
    """A stable entry id from the record that founded it, so links survive a rebuild."""
    return hashlib.blake2b(record_id.encode("utf-8"), digest_size=8).hexdigest()


class Catalogue(SQLiteFile):
    def __init__(self, path: Path | str):
        super().__init__(path, SCHEMA)
        if "changed" not in {row[1] for row in self.db.execute("PRAGMA table_info(dedup_queue)")}:
            self.db.execute("ALTER TABLE dedup_queue ADD COLUMN changed INTEGER NOT NULL DEFAULT 1")  # older files

    # -- writing (the pipeline) --------------------------------------------------------------
    def apply(self, upserts: Iterable[tuple[CanonicalRecord, int]], deletions: Iterable[str],
              rejections: Iterable[tuple[str, str, int, str]], cursor: int) -> None:
        """Apply one batch of normalizer output and advance the cursor, all or nothing."""
        with self.transaction():
            for record, raw_seq in upserts:
                row = self.db.execute("SELECT entry_id, data FROM records WHERE id = ?",
                                      (record.record_id,)).fetchone()
                entry = row[0] if row else entry_id_for(record.record_id)
                data = record.to_dict()
                self.db.execute(
                    "INSERT INTO records (id, source, entry_id, raw_seq, data) VALUES (?,?,?,?,?)"
                    " ON CONFLICT(id) DO UPDATE SET raw_seq=excluded.raw_seq, data=excluded.data,"
                    " updated_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                    (record.record_id, record.library, entry, raw_seq, json.dumps(data, ensure_ascii=False)))
                self.db.execute("DELETE FROM rejected WHERE record_id = ?", (record.record_id,))
                self._record_issues(record)
                if row is None or _matching_changed(json.loads(row[1]), data):
                    self.db.execute("INSERT INTO dedup_queue (record_id, changed) VALUES (?, 1)"
                                    " ON CONFLICT(record_id) DO UPDATE SET changed = 1", (record.record_id,))
                self._touch(entry, cursor)
            for record_id in deletions:
                row = self.db.execute("SELECT entry_id FROM records WHERE id = ?", (record_id,)).fetchone()
                self.db.execute("DELETE FROM records WHERE id = ?", (record_id,))
                self.db.execute("DELETE FROM rejected WHERE record_id = ?", (record_id,))
                self.db.execute("DELETE FROM record_issues WHERE record_id = ?", (record_id,))
                if row:  # the entry it leaves must be clustered again without it
                    self.db.execute("INSERT OR IGNORE INTO dedup_queue (record_id, changed) SELECT id, 0 FROM records"
                                    " WHERE entry_id = ?", (row[0],))
                    self._touch(row[0], cursor)
            for record_id, source, raw_seq, reason in rejections:
                self.db.execute(
                    "INSERT INTO rejected (record_id, source, raw_seq, reason) VALUES (?,?,?,?)"
                    " ON CONFLICT(record_id) DO UPDATE SET raw_seq=excluded.raw_seq, reason=excluded.reason,"
                    " created_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", (record_id, source, raw_seq, reason))
            self.db.execute("INSERT INTO cursors (name, seq) VALUES ('normalize', ?)"
                            " ON CONFLICT(name) DO UPDATE SET seq = excluded.seq", (cursor,))

    def _record_issues(self, record: CanonicalRecord) -> None:
        self.db.execute("DELETE FROM record_issues WHERE record_id = ?", (record.record_id,))
        rows = [(record.record_id, record.library, "repair", str(r.get("from", "?")),
                 f"{r.get('field', '?')} repaired from {r.get('from', '?')}: {r.get('before', '')!r} -> "
                 f"{r.get('after', '')!r}") for r in record.repairs]
        rows += [(record.record_id, record.library, "warning", _issue_code(note), note)
                 for note in record.notes if not note.startswith("repaired ")]
        self.db.executemany("INSERT INTO record_issues (record_id, source, kind, code, detail) VALUES (?,?,?,?,?)",
                            rows)

    def _touch(self, entry_id: str, stamp: int) -> None:
        stamp = max(stamp, 1)
        self.db.execute("INSERT INTO entries (id, dirty) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET dirty = ?",
                        (entry_id, stamp, stamp))

    def cursor(self) -> int:
        row = self.db.execute("SELECT seq FROM cursors WHERE name = 'normalize'").fetchone()
        return row[0] if row else 0

    def rewind(self, normalizer_revision: int | None = None) -> None:
        """Normalize everything again from the raw store, record by record, in place.

        Nothing is deleted first: until each record's new version is written, its old one stays
        visible, so a rebuild that is killed half-way leaves a whole catalogue, never an empty one.
        ``normalizer_revision``: the revision that will have normalized it (noted in the same transaction).
        """
        with self.transaction() as db:
            db.execute("DELETE FROM cursors WHERE name = 'normalize'")
            if normalizer_revision is not None:
                self.note_normalizer_revision(db, normalizer_revision)

    def normalizer_revision(self) -> int | None:
        row = self.db.execute("SELECT seq FROM cursors WHERE name = 'normalizer_revision'").fetchone()
        return row[0] if row else None

    @staticmethod
    def note_normalizer_revision(db: sqlite3.Connection, revision: int) -> None:
        db.execute("INSERT INTO cursors (name, seq) VALUES ('normalizer_revision', ?)"
                   " ON CONFLICT(name) DO UPDATE SET seq = excluded.seq", (revision,))

    def dirty_entries(self) -> list[tuple[str, int]]:
        """(entry id, change stamp) pairs still to be written to the index."""
        return self.db.execute("SELECT id, dirty FROM entries WHERE dirty != 0 ORDER BY id").fetchall()

    def mark_all_dirty(self) -> None:
        with self.transaction() as db:
            db.execute("UPDATE entries SET dirty = 1 WHERE dirty = 0")

    def mark_dirty_from(self, sources: list[str]) -> None:
        """The entries holding a record of these libraries, to index again (the network was reorganised)."""
        with self.transaction() as db:
            for some in _chunks(sorted(sources)):
                db.execute("UPDATE entries SET dirty = 1 WHERE dirty = 0 AND id IN (SELECT entry_id FROM records"
                           f" WHERE source IN ({','.join('?' * len(some))}))", some)

    def mark_clean(self, entries: list[tuple[str, int]]) -> None:
        """After the index committed them; an entry changed again meanwhile stays dirty."""
        with self.transaction():
            for entry_id, stamp in entries:
                self.db.execute("UPDATE entries SET dirty = 0 WHERE id = ? AND dirty = ?", (entry_id, stamp))
                self.db.execute("DELETE FROM entries WHERE id = ? AND dirty = 0 AND NOT EXISTS"
                                " (SELECT 1 FROM records WHERE entry_id = ?)", (entry_id, entry_id))

    # -- clustering: its queue, the entries it assigns, what it reads without loading records --------
    # (methods taking ``db`` write in the caller's transaction: a clustering's entries, edges and
    # reports change together)
    def dedup_queue(self) -> dict[str, bool]:
        """Records to cluster again, by id: True when the record changed, False when only its entry lost a member."""
        return {record_id: bool(changed) for record_id, changed in
                self.db.execute("SELECT record_id, changed FROM dedup_queue ORDER BY record_id")}

    def dedup_queue_size(self) -> int:
        return self.db.execute("SELECT count(*) FROM dedup_queue").fetchone()[0]

    def queue_for_dedup(self, record_ids: Iterable[str]) -> None:
        """A cataloguer's decision touches these records: they are clustered again."""
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO dedup_queue (record_id) VALUES (?)", [(i,) for i in record_ids])

    @staticmethod
    def clear_dedup_queue(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM dedup_queue")

    def clustering_rules(self) -> tuple[int | None, int | None]:
        """The matcher revision and model fingerprint the entries were made under (None: not recorded)."""
        found = dict(self.db.execute("SELECT name, seq FROM cursors WHERE name IN ('matcher_revision', 'match_model')"))
        return found.get("matcher_revision"), found.get("match_model")

    @staticmethod
    def set_clustering_rules(db: sqlite3.Connection, matcher_revision: int, match_model: int) -> None:
        """A later change of either re-clusters everything once."""
        db.executemany("INSERT OR REPLACE INTO cursors (name, seq) VALUES (?, ?)",
                       [("matcher_revision", matcher_revision), ("match_model", match_model)])

    def assign_entries(self, db: sqlite3.Connection, assignments: list[tuple[str, str]], touched: set[str]) -> None:
        """Move records to entries ((entry id, record id) pairs) and mark the entries touched dirty
        (one that lost all its records is then removed from the index)."""
        stamp = max(self.cursor(), 1)
        db.executemany("UPDATE records SET entry_id = ? WHERE id = ? AND entry_id != ?",
                       ((entry_id, member, entry_id) for entry_id, member in assignments))
        db.executemany("INSERT INTO entries (id, dirty) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET dirty = ?",
                       ((entry_id, stamp, stamp) for entry_id in sorted(touched)))

    def entries_of(self, record_ids: Iterable[str]) -> dict[str, str]:
        """Each record's entry id; records that do not exist (any more) are left out."""
        found = {}
        for some in _chunks(sorted(record_ids)):  # from the index, not the wider row
            found.update(self.db.execute(f"SELECT id, entry_id FROM records INDEXED BY records_entry_of"
                                         f" WHERE id IN ({','.join('?' * len(some))})", some))
        return found

    def member_ids(self, entry_ids: Iterable[str]) -> set[str]:
        """The ids of these entries' records, read from an index, not from the records."""
        found = set()
        for some in _chunks(sorted(entry_ids)):
            found.update(r[0] for r in self.db.execute(
                f"SELECT id FROM records WHERE entry_id IN ({','.join('?' * len(some))})", some))
        return found

    def match_facts(self, record_ids: Iterable[str]) -> dict[str, tuple]:
        """Year, pages and material type of each record, read without loading the records."""
        found = {}
        for some in _chunks(sorted(record_ids)):
            found.update((record_id, tuple(json.loads(facts))) for record_id, facts in self.db.execute(
                "SELECT id, json_extract(data, '$.year', '$.pages', '$.material_type') FROM records"
                f" WHERE id IN ({','.join('?' * len(some))})", some))
        return found

    def titles(self, record_ids: list[str] | None = None) -> dict[str, str | None]:
        """The title of each of these records (of every record when None: one pass over the table)."""
        if record_ids is None:
            return dict(self.db.execute("SELECT id, json_extract(data, '$.title') FROM records"))
        found = {}
        for some in _chunks(record_ids):
            found.update(self.db.execute(f"SELECT id, json_extract(data, '$.title') FROM records"
                                         f" WHERE id IN ({','.join('?' * len(some))})", some))
        return found

    def record_ids_mentioning(self, isbn: str) -> set[str]:
        """Records holding this ISBN anywhere in their data, not only where the blocking keys read it."""
        return {r[0] for r in self.db.execute("SELECT id FROM records WHERE data LIKE ?", (f'%"{isbn}"%',))}

    def row_span(self) -> tuple[int, int]:
        """The first and last rowid of the records ((0, -1) when there are none), to split a full read into jobs."""
        return self.db.execute("SELECT coalesce(min(rowid), 0), coalesce(max(rowid), -1) FROM records").fetchone()

    # -- reading (index, API) ------------------------------------------------------------------
    def members(self, entry_id: str) -> list[CanonicalRecord]:
        rows = self.db.execute("SELECT data FROM records WHERE entry_id = ? ORDER BY id", (entry_id,))
        return [CanonicalRecord.from_dict(json.loads(r[0])) for r in rows]

    def load(self, record_ids: list[str]) -> dict[str, CanonicalRecord]:
        found = {}
        for chunk in _chunks(record_ids):
            rows = self.db.execute(f"SELECT id, data FROM records WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            found.update((record_id, CanonicalRecord.from_dict(json.loads(data))) for record_id, data in rows)
        return found

    def load_for_matching(self, record_ids: list[str]) -> dict[str, CanonicalRecord]:
        """The records with only what the matcher reads (no holdings, notes, subjects): a third of
        the text to decode, for the hundreds of thousands of records a rebuild compares."""
        found = {}
        for chunk in _chunks(record_ids):
            rows = self.db.execute(f"SELECT id, {_MATCH_EXTRACT} FROM records"
                                   f" WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            found.update((record_id, _matching_record(values)) for record_id, values in rows)
        return found

    def entry_of(self, record_id: str) -> str | None:
        row = self.db.execute("SELECT entry_id FROM records WHERE id = ?", (record_id,)).fetchone()
        return row[0] if row else None

    def entries_without_records(self, entry_ids: list[str]) -> list[str]:
        """Which of these entries lost their last record (to be removed from the index)."""
        with_records = set()
        for chunk in _chunks(entry_ids):
            with_records |= {r[0] for r in self.db.execute(
                f"SELECT DISTINCT entry_id FROM records WHERE entry_id IN ({','.join('?' * len(chunk))})", chunk)}
        return [entry_id for entry_id in entry_ids if entry_id not in with_records]

    def members_of(self, entry_ids: list[str]) -> dict[str, list[CanonicalRecord]]:
        return members_of(self.db, entry_ids)

    def all_entry_ids(self) -> Iterator[str]:
        yield from (r[0] for r in self.db.execute("SELECT DISTINCT entry_id FROM records ORDER BY entry_id").fetchall())

    def record_ids(self, source: str | None = None) -> list[str]:
        """Every record's id (or one library's), in id order."""
        if source is None:
            return [r[0] for r in self.db.execute("SELECT id FROM records ORDER BY id")]
        return [r[0] for r in self.db.execute("SELECT id FROM records WHERE source = ? ORDER BY id", (source,))]

    def record_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT source, count(*) FROM records GROUP BY source").fetchall())

    def newest(self, source: str | list[str], limit: int = 20) -> list[tuple[str, CanonicalRecord]]:
        """(entry id, record) of a library's most recently changed records, newest first (its page);
        ``source`` may be the several ids a library's records are stored under (config.network)."""
        sources = [source] if isinstance(source, str) else list(source)[:500]
        rows = self.db.execute(f"SELECT entry_id, data FROM records WHERE source IN ({','.join('?' * len(sources))})"
                               " ORDER BY updated_at DESC, raw_seq DESC LIMIT ?", (*sources, limit))
        return [(entry_id, CanonicalRecord.from_dict(json.loads(data))) for entry_id, data in rows]

    def entry_count(self, source: str | list[str] | None = None) -> int:
        """How many entries (holding a record of this library, or of one of these ids, when given)."""
        if source is None:
            return self.db.execute("SELECT count(DISTINCT entry_id) FROM records").fetchone()[0]
        sources = [source] if isinstance(source, str) else list(source)[:500]
        return self.db.execute("SELECT count(DISTINCT entry_id) FROM records"
                               f" WHERE source IN ({','.join('?' * len(sources))})", sources).fetchone()[0]

    def rejected_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT source, count(*) FROM rejected GROUP BY source").fetchall())

    def rejected(self, source: str | None = None) -> list[dict]:
        sql = "SELECT record_id, source, raw_seq, reason, created_at FROM rejected"
        rows = self.db.execute(sql + (" WHERE source = ?" if source else "") + " ORDER BY record_id",
                               (source,) if source else ())
        return [dict(zip(("record_id", "source", "raw_seq", "reason", "created_at"), r)) for r in rows]

    def quality(self, source: str, examples: int = 3) -> dict:
        """Repairs, warnings and rejected records of one library, counted by kind, with examples."""
        total = self.db.execute("SELECT count(*) FROM records WHERE source = ?", (source,)).fetchone()[0]
        report = {"records": total, "repairs": [], "warnings": []}
        for kind in ("repair", "warning"):
            rows = self.db.execute("SELECT code, count(*), count(DISTINCT record_id) FROM record_issues"
                                   " WHERE source = ? AND kind = ? GROUP BY code ORDER BY count(*) DESC",
                                   (source, kind)).fetchall()
            for code, count, records in rows:
                sample = self.db.execute("SELECT record_id, detail FROM record_issues WHERE source = ? AND kind = ?"
                                         " AND code = ? ORDER BY record_id LIMIT ?",
                                         (source, kind, code, examples)).fetchall()
                report[kind + "s"].append({"code": code, "count": count, "records": records,
                                           "examples": [{"record_id": r, "detail": d} for r, d in sample]})
        report["records_with_repairs"] = self.db.execute(
            "SELECT count(DISTINCT record_id) FROM record_issues WHERE source = ? AND kind = 'repair'",
            (source,)).fetchone()[0]
        rejected = self.rejected(source)
        report["rejected"] = {"count": len(rejected), "examples": rejected[:examples]}
        return report


def _issue_code(note: str) -> str:
    """A note with its particulars (quoted values, numbers) blanked, so like notes count together."""
    return re.sub(r"'[^']*'|\"[^\"]*\"|\d[\d\-X]*", "#", note)[:120]
