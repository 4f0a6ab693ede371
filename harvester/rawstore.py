"""The raw store: every harvested record exactly as received, plus per-source harvest state.

The catalogue can be rebuilt and re-normalized from here without harvesting again. Each change
(new record, new content, new deletion) gets the next value of a global sequence number, so the
pipeline downstream only reads what changed since its cursor; a record harvested again with the
same content hash keeps its sequence number and is not re-processed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from storage.sqlite import SQLiteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_records (
    id TEXT PRIMARY KEY,            -- "<source>:<identifier at the source>"
    source TEXT NOT NULL,
    identifier TEXT NOT NULL,
    format TEXT NOT NULL,           -- normalizer format: marcxml | oai_dc | iso2709
    datestamp TEXT,                 -- the source's datestamp, as sent
    deleted INTEGER NOT NULL DEFAULT 0,
    sets TEXT NOT NULL DEFAULT '[]',
    content_hash TEXT NOT NULL,
    body BLOB,
    harvested_at TEXT NOT NULL,     -- when this content was stored (an unchanged copy sent again leaves it)
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS raw_records_seq ON raw_records(seq);
CREATE INDEX IF NOT EXISTS raw_records_source ON raw_records(source, deleted);
CREATE TABLE IF NOT EXISTS harvest_state (
    source TEXT PRIMARY KEY,
    last_success_response_date TEXT,  -- the server's responseDate when the last full listing began
    last_success_at TEXT,             -- local time it ended
    checkpoint TEXT,                  -- JSON: the listing in progress (token, params, counts)
    warning TEXT,                     -- deletions the mass-deletion guard refused, until a listing applies them
    warning_at TEXT
);
CREATE TABLE IF NOT EXISTS harvest_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT NOT NULL DEFAULT 'running',  -- running | ok | failed | interrupted
    mode TEXT,                                -- full | incremental | resumed
    pages INTEGER NOT NULL DEFAULT 0,
    added INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    note TEXT,                                -- what a person should know although the run went on
    warning TEXT,                             -- what went wrong although the run went on (refused deletions)
    detail TEXT                               -- for administrators only: a short escaped excerpt of what the
                                              -- server answered (never on public pages: it may be anything)
);
CREATE TABLE IF NOT EXISTS source_files (
    source TEXT NOT NULL,
    name TEXT NOT NULL,              -- file name or URL of an export drop
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    records INTEGER NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (source, name)
);
CREATE TABLE IF NOT EXISTS file_records (
    source TEXT NOT NULL,
    name TEXT NOT NULL,              -- the export drop (as in source_files) a record came from
    identifier TEXT NOT NULL,
    PRIMARY KEY (source, name, identifier)
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    identifier TEXT,                 -- when the bad item is a single record
    reason TEXT NOT NULL,
    body BLOB,                       -- what was received, unchanged
    created_at TEXT NOT NULL,        -- when first quarantined
    content_hash TEXT                -- of the body (of the reason when there is none): one entry per bad item
);
CREATE TABLE IF NOT EXISTS derived_ids (
    source TEXT NOT NULL,
    identifier TEXT NOT NULL,        -- "derived:...": the record had no id, or shared it with other records
    shared TEXT,                     -- the id several different records of one export carried; NULL: none
    origin TEXT,                     -- where it was read, e.g. "export.mrc, record 12"
    PRIMARY KEY (source, identifier)
);
"""


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_hash(body: bytes | None, deleted: bool) -> str:
    return "deleted" if deleted else hashlib.sha256(body or b"").hexdigest()


def _quarantine_hash(reason: str, body: bytes | None) -> str:
    """What makes two quarantined items the same: their bytes, or without bytes, the reason."""
    return hashlib.sha256(body if body else b"no body: " + reason.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class RawRecord:
    id: str
    source: str
    identifier: str
    format: str
    datestamp: str | None
    deleted: bool
    content_hash: str
    body: bytes | None
    seq: int


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    quarantined: int = 0

    def add(self, other: "Counts") -> None:
        for name in ("added", "updated", "deleted", "unchanged", "quarantined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def unexpected(exc: BaseException) -> str:
    """One sentence for an error nobody foresaw, so a failed run never has an empty reason."""
    text = " ".join(str(exc).split())[:200] or "no message"
    return f"the harvest stopped on an unexpected error ({exc.__class__.__name__}: {text})"


@dataclass
class HarvestResult:
    """What one harvest run did, whatever the protocol."""

    library: str
    outcome: str  # ok | failed
    mode: str  # full | incremental | resumed
    pages: int = 0  # OAI pages, Z39.50 present requests, or files
    counts: Counts = field(default_factory=Counts)
    error: str | None = None
    note: str | None = None  # what a person should know, e.g. a file still being written
    warning: str | None = None  # e.g. deletions refused by the mass-deletion guard
    run_id: int | None = None
    detail: str | None = None  # administrators only: a short escaped excerpt of a failed response


class RawStore(SQLiteFile):
    """SQLite in WAL mode: one writer at a time, readers never blocked."""

    def __init__(self, path: Path | str):
        super().__init__(path, SCHEMA)
        # stores made by older versions get the columns added since
        for table, column in (("harvest_runs", "note"), ("harvest_runs", "warning"), ("harvest_runs", "detail"),
                              ("harvest_state", "warning"),
                              ("harvest_state", "warning_at")):
            if column not in {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        if "content_hash" not in {row[1] for row in self.db.execute("PRAGMA table_info(quarantine)")}:
            self._key_quarantine()
        self.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS quarantine_item ON quarantine(source, content_hash)")

    def _key_quarantine(self) -> None:
        """Older stores added a quarantine row at every reading of the same bad item: keep the first of each."""
        with self.transaction():
            if "content_hash" in {row[1] for row in self.db.execute("PRAGMA table_info(quarantine)")}:
                return  # another process did it first
            self.db.execute("ALTER TABLE quarantine ADD COLUMN content_hash TEXT")
            rows = self.db.execute("SELECT id, reason, body FROM quarantine").fetchall()
            self.db.executemany("UPDATE quarantine SET content_hash = ? WHERE id = ?",
                                ((_quarantine_hash(reason, body), row_id) for row_id, reason, body in rows))
            self.db.execute("DELETE FROM quarantine WHERE id NOT IN"
                            " (SELECT min(id) FROM quarantine GROUP BY source, content_hash)")

    # -- records ---------------------------------------------------------------------------
    def store_page(self, source: str, items: list[dict], checkpoint: dict | None,
                   quarantined: list[dict] = ()) -> Counts:
        """Store one page of records and its checkpoint in one transaction.

        ``items``: dicts with identifier, format, datestamp, deleted, sets, body. Saving the
        checkpoint with the page is what makes an interrupted harvest resume without loss.
        """
        counts = Counts()
        now = utc_now()
        with self.transaction():
            seq = self.db.execute("SELECT coalesce(max(seq), 0) FROM raw_records").fetchone()[0]
            for item in items:
                record_id = f"{source}:{item['identifier']}"
                deleted = bool(item.get("deleted"))
                body = None if deleted else item["body"]
                digest = content_hash(body, deleted)
                if item.get("derived") is not None:
                    self.db.execute(
                        "INSERT INTO derived_ids (source, identifier, shared, origin) VALUES (?,?,?,?)"
                        " ON CONFLICT(source, identifier) DO UPDATE SET shared=excluded.shared, origin=excluded.origin",
                        (source, item["identifier"], item["derived"].get("shared"), item["derived"].get("origin")))
                row = self.db.execute("SELECT content_hash, deleted FROM raw_records WHERE id = ?",
                                      (record_id,)).fetchone()
                if row is not None and row[0] == digest:
                    counts.unchanged += 1
                    if item.get("datestamp") is not None:  # the same bytes re-sent: only a moved datestamp is news
                        self.db.execute("UPDATE raw_records SET datestamp = ?1 WHERE id = ?2 AND datestamp IS NOT ?1",
                                        (item["datestamp"], record_id))
                    continue
                if row is None and deleted:
                    counts.deleted += 1  # a tombstone for a record we never had: keep it, it is news
                elif row is None:
                    counts.added += 1
                elif deleted:
                    counts.deleted += 1
                else:
                    counts.updated += 1
                seq += 1
                self.db.execute(
                    "INSERT INTO raw_records (id, source, identifier, format, datestamp, deleted, sets,"
                    " content_hash, body, harvested_at, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(id) DO UPDATE SET format=CASE WHEN excluded.deleted THEN format ELSE excluded.format END, datestamp=excluded.datestamp,"
                    " deleted=excluded.deleted, sets=excluded.sets, content_hash=excluded.content_hash,"
                    " body=excluded.body, harvested_at=excluded.harvested_at, seq=excluded.seq",
                    (record_id, source, item["identifier"], item["format"], item.get("datestamp"),
                     int(deleted), json.dumps(item.get("sets") or []), digest, body, now, seq))
            for bad in quarantined:
                self._quarantine(source, bad.get("identifier"), bad["reason"], bad.get("body"))
                counts.quarantined += 1
            if checkpoint is not None:
                self._set_state(source, checkpoint=json.dumps(checkpoint))
        return counts

    def content_hashes(self, source: str, identifiers: list[str]) -> dict[str, str]:
        """identifier -> content hash of these records as stored (absent ones are left out)."""
        found = {}
        for start in range(0, len(identifiers), 500):
            chunk = [f"{source}:{identifier}" for identifier in identifiers[start:start + 500]]
            found.update(self.db.execute(
                f"SELECT identifier, content_hash FROM raw_records WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def changes_since(self, seq: int, batch: int = 1000) -> Iterator[RawRecord]:
        """Records whose content changed after ``seq``, in sequence order."""
        while True:
            rows = self.db.execute(
                "SELECT id, source, identifier, format, datestamp, deleted, content_hash, body, seq"
                " FROM raw_records WHERE seq > ? ORDER BY seq LIMIT ?", (seq, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield RawRecord(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7], row[8])
            seq = rows[-1][8]

    def get(self, record_id: str) -> RawRecord | None:
        row = self.db.execute(
            "SELECT id, source, identifier, format, datestamp, deleted, content_hash, body, seq"
            " FROM raw_records WHERE id = ?", (record_id,)).fetchone()
        return RawRecord(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7], row[8]) if row else None

    def max_seq(self) -> int:
        return self.db.execute("SELECT coalesce(max(seq), 0) FROM raw_records").fetchone()[0]

    def count(self, source: str | None = None, deleted: bool = False) -> int:
        if source is None:
            return self.db.execute("SELECT count(*) FROM raw_records WHERE deleted = ?", (int(deleted),)).fetchone()[0]
        return self.db.execute("SELECT count(*) FROM raw_records WHERE source = ? AND deleted = ?",
                               (source, int(deleted))).fetchone()[0]

    # -- quarantine --------------------------------------------------------------------------
    def quarantine(self, source: str, identifier: str | None, reason: str, body: bytes | None) -> None:
        with self.transaction():
            self._quarantine(source, identifier, reason, body)

    def _quarantine(self, source, identifier, reason, body) -> None:
        """One entry per bad item and source: reading the same file again updates it instead of adding one."""
        self.db.execute(
            "INSERT INTO quarantine (source, identifier, reason, body, created_at, content_hash) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(source, content_hash) DO UPDATE SET identifier=excluded.identifier, reason=excluded.reason",
            (source, identifier, reason, body, utc_now(), _quarantine_hash(reason, body)))

    def derived_ids(self, source: str) -> list[dict]:
        """Live records whose id was derived (none of their own, or one shared by several records)."""
        rows = self.db.execute(
            "SELECT d.identifier, d.shared, d.origin FROM derived_ids d JOIN raw_records r"
            " ON r.id = d.source || ':' || d.identifier WHERE d.source = ? AND r.deleted = 0 ORDER BY d.rowid",
            (source,)).fetchall()
        return [dict(zip(("identifier", "shared", "origin"), row)) for row in rows]

    def quarantined(self, source: str | None = None) -> list[dict]:
        sql = "SELECT id, source, identifier, reason, length(body), created_at FROM quarantine"
        rows = self.db.execute(sql + (" WHERE source = ?" if source else "") + " ORDER BY id",
                               (source,) if source else ()).fetchall()
        return [dict(zip(("id", "source", "identifier", "reason", "size", "created_at"), r)) for r in rows]

    # -- harvest state and history -------------------------------------------------------------
    def state(self, source: str) -> dict:
        row = self.db.execute("SELECT last_success_response_date, last_success_at, checkpoint FROM harvest_state"
                              " WHERE source = ?", (source,)).fetchone()
        if row is None:
            return {"last_success_response_date": None, "last_success_at": None, "checkpoint": None}
        return {"last_success_response_date": row[0], "last_success_at": row[1],
                "checkpoint": json.loads(row[2]) if row[2] else None}

    def clear_checkpoint(self, source: str) -> None:
        """Forget a listing in progress (a looping server's tokens lead nowhere): the next run starts again."""
        with self.transaction():
            self._set_state(source, checkpoint=None)

    def finish_listing(self, source: str, response_date: str) -> None:
        """A listing reached its end: remember where the next incremental harvest starts."""
        with self.transaction():
            self._set_state(source, last_success_response_date=response_date, last_success_at=utc_now(),
                            checkpoint=None)

    def _set_state(self, source: str, **values) -> None:
        self.db.execute("INSERT INTO harvest_state (source) VALUES (?) ON CONFLICT(source) DO NOTHING", (source,))
        for name, value in values.items():
            self.db.execute(f"UPDATE harvest_state SET {name} = ? WHERE source = ?", (value, source))

    def start_run(self, source: str, mode: str) -> int:
        with self.transaction():
            # a run still marked 'running' belongs to a process that died: say so
            self.db.execute("UPDATE harvest_runs SET outcome = 'interrupted', ended_at = ?,"
                            " error = 'the harvesting process stopped before the run ended'"
                            " WHERE source = ? AND outcome = 'running'", (utc_now(), source))
            return self.db.execute("INSERT INTO harvest_runs (source, started_at, mode) VALUES (?,?,?)",
                                   (source, utc_now(), mode)).lastrowid

    def update_run(self, run_id: int, counts: Counts, pages: int, outcome: str = "running",
                   error: str | None = None, note: str | None = None, warning: str | None = None,
                   detail: str | None = None) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE harvest_runs SET pages=?, added=?, updated=?, deleted=?, unchanged=?, quarantined=?,"
                " outcome=?, error=?, note=?, warning=?, detail=?,"
                " ended_at=CASE WHEN ? = 'running' THEN NULL ELSE ? END WHERE id=?",
                (pages, counts.added, counts.updated, counts.deleted, counts.unchanged, counts.quarantined,
                 outcome, error, note, warning, detail, outcome, utc_now(), run_id))

    def changed_since(self, seq: int, ids: list[str]) -> int:
        """How many of ``ids`` were stored or changed after change number ``seq``."""
        if not ids:
            return 0
        return self.db.execute(f"SELECT count(*) FROM raw_records WHERE seq > ? AND id IN ({','.join('?' * len(ids))})",
                               (seq, *ids)).fetchone()[0]

    def quarantine_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT source, count(*) FROM quarantine GROUP BY source").fetchall())

    def run_totals(self) -> list[tuple[str, str, int, float]]:
        """(library, outcome, runs, seconds spent) over every finished harvest run."""
        return [(library, outcome, count, total or 0.0) for library, outcome, count, total in self.db.execute(
            "SELECT source, outcome, count(*), sum((julianday(ended_at) - julianday(started_at)) * 86400)"
            " FROM harvest_runs WHERE ended_at IS NOT NULL GROUP BY source, outcome")]

    def last_success(self, source: str) -> str | None:
        """When the last harvest of this source that went well ended (any protocol)."""
        return self.db.execute("SELECT max(ended_at) FROM harvest_runs WHERE source = ? AND outcome = 'ok'",
                               (source,)).fetchone()[0]

    def last_failure(self, source: str) -> dict | None:
        row = self.db.execute("SELECT ended_at, error FROM harvest_runs WHERE source = ? AND outcome IN"
                              " ('failed', 'interrupted') ORDER BY id DESC LIMIT 1", (source,)).fetchone()
        return {"at": row[0], "error": row[1]} if row else None

    def warning(self, source: str) -> dict | None:
        """Deletions the mass-deletion guard refused and no later listing applied: {at, message}, or None."""
        row = self.db.execute("SELECT warning_at, warning FROM harvest_state WHERE source = ? AND warning IS NOT NULL",
                              (source,)).fetchone()
        return {"at": row[0], "message": row[1]} if row else None

    def runs(self, source: str | None = None, limit: int = 20, detail: bool = False) -> list[dict]:
        """The latest runs; ``detail`` (what a server answered, for administrators only) only when asked for."""
        cols = ("id", "source", "started_at", "ended_at", "outcome", "mode", "pages", "added", "updated",
                "deleted", "unchanged", "quarantined", "error", "note", "warning") + (("detail",) if detail else ())
        sql = f"SELECT {', '.join(cols)} FROM harvest_runs"
        rows = self.db.execute(sql + (" WHERE source = ?" if source else "") + " ORDER BY id DESC LIMIT ?",
                               ((source,) if source else ()) + (limit,)).fetchall()
        return [dict(zip(cols, r)) for r in rows]

    # -- sources without tombstones (Z39.50, export drops) ---------------------------------------
    def live_identifiers(self, source: str) -> set[str]:
        return {r[0] for r in self.db.execute(
            "SELECT identifier FROM raw_records WHERE source = ? AND deleted = 0", (source,))}

    def reconcile(self, source: str, present: set[str], max_delete_ratio: float, force: bool = False) -> tuple[int, str | None]:
        """After a *complete* listing: records no longer present become deletions.

        Refuses (and says why) when that would delete more than ``max_delete_ratio`` of the
        library's records at once, unless ``force``: a server that suddenly answers with few
        or no records is far more often broken than emptied. The refusal stays as the source's
        ``warning`` until a later listing applies the deletions or no longer needs them.
        """
        live = self.live_identifiers(source)
        missing = sorted(live - present)
        if missing and not force and len(missing) > max_delete_ratio * len(live):
            refusal = (f"{len(missing)} of {len(live)} records ({len(missing) / len(live):.0%}) are no longer at "
                       f"the source; deleting more than {max_delete_ratio:.0%} at once is refused. If the library "
                       f"really removed them, run `unioncat harvest {source} --full --force`.")
            with self.transaction():
                self._set_state(source, warning=refusal, warning_at=utc_now())
            return 0, refusal
        counts = self.store_page(source, [{"identifier": i, "format": "", "deleted": True} for i in missing], None)
        with self.transaction():
            self.db.execute("UPDATE harvest_state SET warning = NULL, warning_at = NULL WHERE source = ?", (source,))
        return counts.deleted, None

    def file_processed(self, source: str, name: str, content_hash: str) -> bool:
        """True when this exact file content was already processed for this source."""
        return self.db.execute("SELECT 1 FROM source_files WHERE source = ? AND name = ? AND content_hash = ?",
                               (source, name, content_hash)).fetchone() is not None

    def processed_files(self, source: str) -> list[dict]:
        cols = ("name", "content_hash", "size", "records", "processed_at")
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM source_files WHERE source = ? ORDER BY processed_at, name",
                               (source,))
        return [dict(zip(cols, r)) for r in rows]

    def forget_file(self, source: str, name: str) -> None:
        """An export drop that is no longer there: its records count for nothing any more."""
        with self.transaction():
            self.db.execute("DELETE FROM file_records WHERE source = ? AND name = ?", (source, name))
            self.db.execute("DELETE FROM source_files WHERE source = ? AND name = ?", (source, name))

    def file_identifiers(self, source: str, name: str) -> set[str]:
        """The identifiers the last processed version of an export drop held."""
        return {r[0] for r in self.db.execute(
            "SELECT identifier FROM file_records WHERE source = ? AND name = ?", (source, name))}

    def remember_file(self, source: str, name: str, content_hash: str, size: int, identifiers: set[str]) -> None:
        """Mark an export drop processed and remember its identifiers, in one transaction.

        The identifiers are what the next version of the same file is compared with to find
        deletions; keeping them with the hash means a crash never leaves one without the other.
        """
        with self.transaction():
            self.db.execute("DELETE FROM file_records WHERE source = ? AND name = ?", (source, name))
            self.db.executemany("INSERT INTO file_records (source, name, identifier) VALUES (?,?,?)",
                                ((source, name, i) for i in identifiers))
            self.db.execute(
                "INSERT INTO source_files (source, name, content_hash, size, records, processed_at) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(source, name) DO UPDATE SET content_hash=excluded.content_hash, size=excluded.size,"
                " records=excluded.records, processed_at=excluded.processed_at",
                (source, name, content_hash, size, len(identifiers), utc_now()))
