"""A SQLite file shared by threads: one connection per thread, WAL, writes in short transactions.

WAL lets the API read while a harvest writes; per-thread connections keep waitress's worker
threads from sharing a connection; ``BEGIN IMMEDIATE`` takes the write lock up front so two
writers queue instead of failing half-way.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path


class SQLiteFile:
    def __init__(self, path: Path | str, schema: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(schema)

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
