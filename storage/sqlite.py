"""A SQLite file shared by threads: one connection per thread, WAL, writes in short transactions.

WAL lets the API read while a harvest writes; per-thread connections keep waitress's worker
threads from sharing a connection; ``BEGIN IMMEDIATE`` takes the write lock up front so two
writers queue instead of failing half-way.
"""
from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("unioncat.storage")
_CREATE_INDEX = re.compile(r"CREATE\s+INDEX\s+IF\s+NOT\s+EXISTS\s+(\w+)\s+ON\s+(\w+)", re.IGNORECASE)


def apply_schema(db: sqlite3.Connection, schema: str, path: Path | str) -> None:
    """Run a schema script, saying so first when it indexes tables that already hold rows: a file
    made by an older version gets its new indexes once, which takes a while on a large catalogue."""
    existing = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    new = [index for index, table in _CREATE_INDEX.findall(schema)
           if index not in existing and table in tables and db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()]
    if new:
        log.info("%s: building %d new index(es) after an update (%s), once; a large catalogue takes a minute or two",
                 Path(path).name, len(new), ", ".join(new))
    started = time.monotonic()
    db.executescript(schema)
    if new:
        log.info("%s: new indexes built in %.1f s", Path(path).name, time.monotonic() - started)


class SQLiteFile:
    def __init__(self, path: Path | str, schema: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self.db.execute("PRAGMA journal_mode=WAL")
        apply_schema(self.db, schema, self.path)

    @property
    def db(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=60000")
            self._local.connection = connection
            self._connections.append(connection)
        return connection

    @contextmanager
    def transaction(self):
        """All or nothing; concurrent writers wait for each other."""
        with self._write_lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()
        self._local = threading.local()
