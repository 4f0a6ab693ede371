"""What the union catalogue has published, entry by entry: the OAI-PMH provider's memory.

Its own SQLite file (``data/publish.sqlite3``) beside the catalogue, updated by the indexing step
(``pipeline.index_changes``) and read by the provider. Per entry id: a digest of the search document
(titles, authors, libraries, holdings with their status...) and of its member records (what MARC
and Dublin Core publish besides: extent, place, 035...), whether the entry is deleted, its
holding libraries (for the sets) and the generation that last changed it; each generation has a
datestamp. An entry whose digest changes, or that is new, moves to a new generation; an entry that
disappears is marked deleted in one and stays deleted (OAI-PMH ``deletedRecord`` persistent).

Datestamps (UTC, whole seconds) never go backwards and are given so that a harvester asking
``from=<responseDate of an earlier answer>`` sees every change it has not seen:

- one generation per indexing run that changed something, numbered upwards; its datestamp is at
  least the previous generation's (a clock set back, or two runs within one second, give the same
  datestamp, never an earlier one), so datestamps never decrease along generations;
- the provider takes its responseDate before it reads, and the datestamp of a generation is set by
  the very last statement of the transaction that publishes it; once committed, if the clock has
  since passed into a later second, the datestamp is moved to that second (and again, until a
  commit and its check fall within one second). So a change is either visible to a request, or
  has a datestamp no earlier than that request's responseDate.

Entries are listed in (generation, id) order, an index on both: a page costs what the page holds.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from storage.sqlite import SQLiteFile

log = logging.getLogger("unioncat.publish")
FILE = "publish.sqlite3"  # in the data directory, beside catalogue.sqlite3
CHECK_BATCH = 500  # documents whose digests are compared in one query

SCHEMA = """
CREATE TABLE IF NOT EXISTS stamps (
    gen INTEGER PRIMARY KEY,        -- one per indexing run that changed something
    datestamp INTEGER NOT NULL      -- UTC seconds since the epoch; never lower than the previous gen's
);
CREATE INDEX IF NOT EXISTS stamps_by_datestamp ON stamps(datestamp, gen);
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    gen INTEGER NOT NULL,           -- the generation that last changed what it publishes
    deleted INTEGER NOT NULL DEFAULT 0,
    digest TEXT NOT NULL            -- of the entry's search document, when it was last published
);
CREATE INDEX IF NOT EXISTS entries_by_gen ON entries(gen, id);
CREATE TABLE IF NOT EXISTS holdings (  -- the libraries holding each entry (a deleted one keeps its last)
    entry TEXT NOT NULL,
    library TEXT NOT NULL,
    gen INTEGER NOT NULL,           -- the entry's, so that a set is listed from this table's index alone
    PRIMARY KEY (entry, library)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holdings_by_library ON holdings(library, gen, entry);
"""
# A page: an index seek to the (generation, id) after the last one sent, whatever the page's depth (a
# condition on the generation alone would seek to the generation and walk through it: a first
# publication puts every entry in one generation).
PAGE_SQL = ("SELECT e.id, e.gen, s.datestamp, e.deleted FROM entries e INDEXED BY entries_by_gen"
            " JOIN stamps s ON s.gen = e.gen WHERE e.gen <= ? AND (e.gen, e.id) > (?, ?) ORDER BY e.gen, e.id LIMIT ?")
HELD_SQL = ("SELECT gen, entry FROM holdings INDEXED BY holdings_by_library WHERE library = ? AND gen <= ?"
            " AND (gen, entry) > (?, ?) ORDER BY gen, entry LIMIT ?")
# the changes of one indexing run, in this connection only, until they are published in one transaction
_PENDING = """
CREATE TEMP TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, digest TEXT NOT NULL) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS pending_holdings (entry TEXT NOT NULL, library TEXT NOT NULL);
CREATE TEMP TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS gone (id TEXT PRIMARY KEY) WITHOUT ROWID;
DELETE FROM pending; DELETE FROM pending_holdings; DELETE FROM seen; DELETE FROM gone;
"""


MEMBERS_KEY = "_members"  # put in a document by the pipeline, seen here, never given to a search engine


def members_digest(members) -> str:
    """What the members say beyond the search document (extent, place, 035, the people's dates and
    roles, year confidence...): published in MARC and Dublin Core, so its changes must move the
    datestamp too. What the normalizer noted or repaired is not published and does not count."""
    rows = [{k: v for k, v in m.to_dict().items() if k not in ("notes", "repairs")} for m in members]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def digest(document: dict) -> str:
    """A stable hash of an entry's search document (keys sorted: the same entry, the same digest)."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass(frozen=True)
class Published:
    """One entry as the provider lists it."""
    id: str
    gen: int
    datestamp: int
    deleted: bool


class PublicationState(SQLiteFile):
    def __init__(self, path: Path | str, clock=time.time):
        super().__init__(path, SCHEMA)
        self.clock = clock  # the tests move it

    @classmethod
    def beside(cls, catalogue_path: Path | str) -> "PublicationState":
        """The state of the catalogue in this file's folder (the data directory)."""
        return cls(Path(catalogue_path).with_name(FILE))

    # -- writing (pipeline.index_changes) ------------------------------------------------------
    def is_empty(self) -> bool:
        return self.db.execute("SELECT 1 FROM entries LIMIT 1").fetchone() is None

    def changes(self, full: bool = False) -> "Changes":
        """Collect one indexing run's changes; ``full``: the run writes every entry (a rebuild), so an
        entry published before and not written now is gone."""
        return Changes(self, full)

    # -- reading (the provider) ----------------------------------------------------------------
    def earliest(self) -> int | None:
        row = self.db.execute("SELECT datestamp FROM stamps ORDER BY gen LIMIT 1").fetchone()
        return row[0] if row else None

    def gens_between(self, start: int | None, end: int | None) -> tuple[int, int] | None:
        """The generations whose datestamp is within [start, end] seconds (None: unbounded), or None
        when there are none (datestamps grow with generations: the answer is one range)."""
        low = self.db.execute("SELECT min(gen) FROM stamps WHERE datestamp >= ?",
                              (start if start is not None else -2**62,)).fetchone()[0]
        high = self.db.execute("SELECT max(gen) FROM stamps WHERE datestamp <= ?",
                               (end if end is not None else 2**62,)).fetchone()[0]
        if low is None or high is None or low > high:
            return None
        return low, high

    def page(self, gens: tuple[int, int], libraries: list[str] | None, after: tuple[int, str] | None,
             limit: int) -> list[Published]:
        """The next ``limit`` entries in (generation, id) order after ``after``, in these generations,
        held by one of ``libraries`` (None: any entry)."""
        low, high = gens
        after = max(after or (low, ""), (low, ""))  # (the seek below must be on (gen, id), not on gen alone)
        if libraries is None:
            rows = self.db.execute(PAGE_SQL, (high, *after, limit))
            return [Published(i, g, d, bool(x)) for i, g, d, x in rows]
        # a set: each library's entries in order, from the index, merged (an entry two libraries hold once)
        chunk = limit + 1 if len(libraries) == 1 else 32
        keys: list[tuple[int, str]] = []
        for key in heapq.merge(*(self._held(library, high, after, chunk) for library in sorted(set(libraries)))):
            if not keys or keys[-1] != key:
                keys.append(key)
                if len(keys) == limit:
                    break
        ids = [entry for _, entry in keys]
        found = {i: Published(i, g, d, bool(x)) for i, g, d, x in self.db.execute(
            "SELECT e.id, e.gen, s.datestamp, e.deleted FROM entries e JOIN stamps s ON s.gen = e.gen"
            f" WHERE e.id IN ({','.join('?' * len(ids))})", ids)} if ids else {}
        return [found[i] for i in ids if i in found]

    def _held(self, library: str, high: int, after: tuple[int, str], chunk: int) -> Iterator[tuple[int, str]]:
        """(generation, entry) of a library's entries after ``after``, read ``chunk`` at a time."""
        while True:
            rows = self.db.execute(HELD_SQL, (library, high, *after, chunk)).fetchall()
            yield from rows
            if len(rows) < chunk:
                return
            after = rows[-1]

    def count(self, gens: tuple[int, int], libraries: list[str] | None) -> int:
        if libraries is None:
            return self.db.execute("SELECT count(*) FROM entries WHERE gen BETWEEN ? AND ?", gens).fetchone()[0]
        libraries = sorted(set(libraries))
        what = "count(*)" if len(libraries) == 1 else "count(DISTINCT entry)"
        return self.db.execute(f"SELECT {what} FROM holdings WHERE library IN ({','.join('?' * len(libraries))})"
                               " AND gen BETWEEN ? AND ?", (*libraries, *gens)).fetchone()[0]

    def get(self, entry_id: str) -> Published | None:
        row = self.db.execute("SELECT e.id, e.gen, s.datestamp, e.deleted FROM entries e JOIN stamps s"
                              " ON s.gen = e.gen WHERE e.id = ?", (entry_id,)).fetchone()
        return Published(row[0], row[1], row[2], bool(row[3])) if row else None

    def holding(self, entry_ids: list[str]) -> dict[str, list[str]]:
        """The libraries holding each of these entries (a deleted one: those that held it last)."""
        found: dict[str, list[str]] = {}
        for start in range(0, len(entry_ids), 500):
            some = entry_ids[start:start + 500]
            for entry, library in self.db.execute(f"SELECT entry, library FROM holdings WHERE entry IN"
                                                  f" ({','.join('?' * len(some))}) ORDER BY entry, library", some):
                found.setdefault(entry, []).append(library)
        return found


class Changes:
    """One indexing run: ``watch`` the documents as the engine takes them, say which entries are
    ``gone``, then ``commit`` (all in one transaction, or nothing when the run fails before)."""

    def __init__(self, state: PublicationState, full: bool):
        self.state, self.full = state, full
        self.db = state.db  # this thread's connection: the temporary tables live in it
        self.db.executescript(_PENDING)
        self.changed = 0

    def watch(self, documents: Iterable[dict]) -> Iterator[dict]:
        """The documents (without MEMBERS_KEY); those whose digest differs from the published one are noted."""
        batch: list[dict] = []
        for document in documents:
            batch.append(document)
            if len(batch) >= CHECK_BATCH:
                self._note(batch)
                yield from _engine_documents(batch)
                batch = []
        if batch:
            self._note(batch)
            yield from _engine_documents(batch)

    def _note(self, documents: list[dict]) -> None:
        ids = [d["id"] for d in documents]
        known = {i: (d, x) for i, d, x in self.db.execute(
            f"SELECT id, digest, deleted FROM entries WHERE id IN ({','.join('?' * len(ids))})", ids)}
        rows, holdings = [], []
        for document in documents:
            new = digest(document)
            if known.get(document["id"]) != (new, 0):
                rows.append((document["id"], new))
                holdings.extend((document["id"], library) for library in document.get("libraries") or ())
        self.db.executemany("INSERT OR REPLACE INTO temp.pending (id, digest) VALUES (?, ?)", rows)
        self.db.executemany("INSERT INTO temp.pending_holdings (entry, library) VALUES (?, ?)", holdings)
        if self.full:
            self.db.executemany("INSERT OR IGNORE INTO temp.seen (id) VALUES (?)", [(i,) for i in ids])
        self.changed += len(rows)

    def gone(self, removed: Iterable[str]) -> list[str]:
        """Of the entries the catalogue lost, those published (live) before: they become deleted on
        commit. In a full run, also every published entry the run did not write."""
        removed = sorted(set(removed))
        for start in range(0, len(removed), 500):
            some = removed[start:start + 500]
            self.db.execute(f"INSERT OR IGNORE INTO temp.gone (id) SELECT id FROM entries WHERE deleted = 0 AND"
                            f" id IN ({','.join('?' * len(some))})", some)
        if self.full:
            self.db.execute("INSERT OR IGNORE INTO temp.gone (id) SELECT id FROM entries WHERE deleted = 0"
                            " AND id NOT IN (SELECT id FROM temp.seen)")
        self.db.execute("DELETE FROM temp.gone WHERE id IN (SELECT id FROM temp.pending)")  # (written again)
        return [r[0] for r in self.db.execute("SELECT id FROM temp.gone ORDER BY id")]

    def commit(self) -> int | None:
        """Publish the changes under a new generation; its datestamp (None: nothing changed)."""
        db, state = self.db, self.state
        pending = db.execute("SELECT (SELECT count(*) FROM temp.pending) + (SELECT count(*) FROM temp.gone)"
                             ).fetchone()[0]
        if not pending:
            return None
        with state.transaction():
            last_gen, last_stamp = db.execute("SELECT coalesce(max(gen), 0), coalesce(max(datestamp), 0)"
                                              " FROM stamps").fetchone()
            gen = last_gen + 1
            db.execute("INSERT INTO stamps (gen, datestamp) VALUES (?, ?)", (gen, last_stamp))
            db.execute("INSERT INTO entries (id, gen, deleted, digest) SELECT id, ?, 0, digest FROM temp.pending"
                       " WHERE true ON CONFLICT(id) DO UPDATE SET gen = excluded.gen, deleted = 0,"
                       " digest = excluded.digest", (gen,))
            db.execute("DELETE FROM holdings WHERE entry IN (SELECT id FROM temp.pending)")
            db.execute("INSERT OR IGNORE INTO holdings (entry, library, gen) SELECT entry, library, ?"
                       " FROM temp.pending_holdings", (gen,))
            for table, column, extra in (("entries", "id", ", deleted = 1"), ("holdings", "entry", "")):
                db.execute(f"UPDATE {table} SET gen = ?{extra} WHERE {column} IN (SELECT id FROM temp.gone)", (gen,))
            stamp = max(int(state.clock()), last_stamp)
            db.execute("UPDATE stamps SET datestamp = ? WHERE gen = ?", (stamp, gen))  # the last statement
        while (now := int(state.clock())) > stamp:  # the commit crossed into a later second
            with state.transaction():
                db.execute("UPDATE stamps SET datestamp = ? WHERE gen = ?", (now, gen))
            stamp = now
        gone = db.execute("SELECT count(*) FROM temp.gone").fetchone()[0]
        log.info("published %d changed entries and %d deletions at %s", self.changed, gone, utc(stamp))
        db.executescript(_PENDING)
        return stamp


def _engine_documents(documents: list[dict]) -> Iterator[dict]:
    for document in documents:
        document.pop(MEMBERS_KEY, None)
        yield document
