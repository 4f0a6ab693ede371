"""Cataloguers' decisions and the duplicate reports they decide on, and why an entry's records are together.

Every decision (merge, reject, split, block an ISBN) is kept forever and can be undone; the
clustering (``unionapi.clusters``) obeys the ones in force each time it runs, so a nightly harvest
never undoes a person's work, and hands back here the edges and doubtful pairs it found.
"""
from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from storage.sqlite import apply_schema
from normalizer.dedup import BlockList
from unionapi.catalogue import Catalogue

SCHEMA = """
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
"""
_NOW = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"


@dataclass
class Constraints:
    """Cataloguer decisions in force, as the clustering needs them."""

    never: set[tuple[str, str]]  # pairs that must stay apart
    merge: list[tuple[str, str]]  # pairs that must be together
    blocked: BlockList


def pair(a: str, b: str) -> tuple[str, str]:
    """A pair of records in the one order it is stored and looked up in."""
    return (a, b) if a < b else (b, a)


def _reasons_of(stored: str) -> dict[str, list[str]]:
    """``reasons`` (English) and ``reasons_vi`` from the stored JSON (files made before the
    Vietnamese lines hold a plain English list)."""
    found = json.loads(stored)
    if isinstance(found, list):
        return {"reasons": found, "reasons_vi": found}
    return {"reasons": found["en"], "reasons_vi": found["vi"]}


class Decisions:
    """Owns ``decisions``, ``reports`` and ``edges``: what cataloguers decided, what they are asked
    to decide, and why an entry's records are together."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue  # the tables live in the catalogue's file, beside the entries they explain
        apply_schema(self.catalogue.db, SCHEMA, self.catalogue.path)

    @property
    def db(self):
        return self.catalogue.db

    # -- in force --------------------------------------------------------------------------------
    def constraints(self) -> Constraints:
        never, merge, isbns = set(), [], defaultdict(list)
        for action, a, b, others, isbn, prefix in self.db.execute(
                "SELECT action, a, b, others, isbn, prefix FROM decisions WHERE undone_at IS NULL ORDER BY id"):
            if action == "reject":
                never.add(pair(a, b))
            elif action == "merge":
                merge.append(pair(a, b))
            elif action == "split":
                never.update(pair(a, other) for other in json.loads(others))
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

    # -- a cataloguer acts -------------------------------------------------------------------------
    def decide(self, action: str, who: str, comment: str | None = None, a: str | None = None,
               b: str | None = None, isbn: str | None = None, prefix: str | None = None) -> int:
        """Keep a decision (and close the report it answers); returns its id. A split remembers the
        members the record is taken from: it stays apart from them, whatever they are matched with later."""
        others = None
        if action == "split":
            others = json.dumps(sorted(self.catalogue.member_ids([self.catalogue.entry_of(a)]) - {a}))
        with self.catalogue.transaction() as db:
            decision_id = db.execute(
                "INSERT INTO decisions (action, a, b, others, isbn, prefix, comment, who) VALUES (?,?,?,?,?,?,?,?)",
                (action, a, b, others, isbn, prefix, comment, who)).lastrowid
            if action in ("merge", "reject") and a and b:
                db.execute(f"UPDATE reports SET status = ?, updated_at = {_NOW} WHERE a = ? AND b = ?",
                           ("merged" if action == "merge" else "rejected", *pair(a, b)))
        return decision_id

    def undo(self, decision_id: int, who: str) -> dict | None:
        """Undo a decision in force (its report opens again); returns it, or None when there is no
        such decision in force."""
        found = self.decision(decision_id)
        if found is None or found["undone_at"] is not None:
            return None
        with self.catalogue.transaction() as db:
            db.execute(f"UPDATE decisions SET undone_at = {_NOW}, undone_by = ? WHERE id = ?", (who, decision_id))
            if found["action"] in ("merge", "reject") and found["a"] and found["b"]:
                db.execute("UPDATE reports SET status = 'open' WHERE a = ? AND b = ?", pair(found["a"], found["b"]))
        return found

    # -- what the clustering found ---------------------------------------------------------------------
    @staticmethod
    def save_clustering(db: sqlite3.Connection, entries: set[str] | None, edges: list[tuple], record_ids: list[str],
                        doubtful: list[tuple]) -> None:
        """In the caller's transaction, with the entries: the edges of ``entries`` (of every entry
        when None: a rebuild) replaced by ``edges`` (entry id, a, b, score, reasons, kind), and the
        open reports among these records by ``doubtful`` (a, b, score, reasons, differing)."""
        if entries is None:
            db.execute("DELETE FROM edges")
        old = sorted(entries or ())
        for start in range(0, len(old), 500):
            some = old[start:start + 500]
            db.execute(f"DELETE FROM edges WHERE entry_id IN ({','.join('?' * len(some))})", some)
        db.executemany("INSERT INTO edges (entry_id, a, b, score, reasons, kind) VALUES (?,?,?,?,?,?)",
                       ((entry_id, a, b, score, json.dumps(reasons, ensure_ascii=False), kind)
                        for entry_id, a, b, score, reasons, kind in edges))
        # a pair that no longer looks doubtful (an ISBN blocked, a record corrected at the source)
        # stops being reported
        inside = set(record_ids)
        stale = [(i,) for i, a, b in db.execute("SELECT id, a, b FROM reports WHERE status = 'open'")
                 if a in inside and b in inside]
        db.executemany("UPDATE reports SET status = 'gone' WHERE id = ?", stale)
        db.executemany(
            "INSERT INTO reports (a, b, score, reasons, differing) VALUES (?,?,?,?,?)"
            " ON CONFLICT(a, b) DO UPDATE SET score=excluded.score, reasons=excluded.reasons,"
            " differing=excluded.differing, status=CASE WHEN status = 'gone' THEN 'open' ELSE status END,"
            f" updated_at={_NOW}",
            ((*pair(a, b), score, json.dumps(reasons, ensure_ascii=False), json.dumps(differing))
             for a, b, score, reasons, differing in doubtful))

    def close_reports_of_deleted_records(self, db: sqlite3.Connection) -> None:
        """In the caller's transaction: an open report about a record deleted since is gone."""
        open_reports = db.execute("SELECT id, a, b FROM reports WHERE status = 'open'").fetchall()
        existing = self.catalogue.entries_of({x for _, a, b in open_reports for x in (a, b)})
        db.executemany(f"UPDATE reports SET status = 'gone', updated_at = {_NOW} WHERE id = ?",
                       [(i,) for i, a, b in open_reports if a not in existing or b not in existing])

    def reported_with(self, record_ids: Iterable[str]) -> set[str]:
        """The records these are reported with (in reports not gone)."""
        found, ids = set(), sorted(record_ids)
        for start in range(0, len(ids), 500):
            some = ids[start:start + 500]
            marks = ",".join("?" * len(some))
            found.update(r[0] for r in self.db.execute(
                f"SELECT b FROM reports WHERE status != 'gone' AND a IN ({marks})"
                f" UNION SELECT a FROM reports WHERE status != 'gone' AND b IN ({marks})", some + some))
        return found

    # -- reading -------------------------------------------------------------------------------------
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

    def reports(self, library: str | list[str] | None = None, status: str = "open", limit: int = 50,
                offset: int = 0) -> list[dict]:
        """Doubtful pairs, the likeliest duplicates first (highest score); an open one only while
        both records exist and are in different entries. ``library``: a record of it (or of one of
        these ids: a library and the former libraries it replaced) is in the pair."""
        sql, params = "SELECT id, a, b FROM reports WHERE status = ?", [status]
        if library:
            ids = [library] if isinstance(library, str) else list(library)
            sql += " AND (" + " OR ".join(["a LIKE ? OR b LIKE ?"] * len(ids)) + ")"
            params += [f"{i}:%" for i in ids for _ in "ab"]
        rows = self.db.execute(sql + " ORDER BY score DESC, id", params)
        shown: list[int] = []
        while len(shown) < offset + limit and (some := rows.fetchmany(500)):
            if status == "open":
                entry_of = self.catalogue.entries_of({x for _, a, b in some for x in (a, b)})
                some = [(i, a, b) for i, a, b in some if a in entry_of and b in entry_of and entry_of[a] != entry_of[b]]
            shown.extend(i for i, _, _ in some)
        return [self.report(i) for i in shown[offset:offset + limit]]
