"""Write access: bearer tokens checked against the SHA-256 hashes in settings.yaml; the pages' sign-ins."""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flask import g, jsonify, request

log = logging.getLogger("unioncat.api")


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to put in settings.yaml."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def who_holds(token: str, tokens: tuple[tuple[str, str], ...]) -> str | None:
    digest = hash_token(token)
    for name, expected in tokens:
        if hmac.compare_digest(digest, expected):
            return name
    return None


def require_token(tokens):
    """Decorator: the request needs ``Authorization: Bearer <token>``; the caller's name goes to ``g.who``.

    ``tokens``: the (name, sha256) pairs, or a function giving them (the configuration can be reloaded).
    """
    def wrap(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            known = tokens() if callable(tokens) else tokens
            who = who_holds(token.strip(), known) if scheme.lower() == "bearer" and token.strip() else None
            if who is None:
                # never log the token itself
                log.warning("refused %s %s from %s: %s", request.method, request.path, request.remote_addr,
                            "no bearer token" if not token.strip() else "unknown token")
                response = jsonify(error="unauthorized", message="this action needs an API token: send "
                                   "'Authorization: Bearer <token>' (tokens are configured in settings.yaml)")
                response.headers["WWW-Authenticate"] = 'Bearer realm="unioncat"'
                return response, 401
            g.who = who
            return view(*args, **kwargs)
        return checked
    return wrap


class SessionStore:
    """Cataloguers' sign-ins, kept on the server so that signing out (or a token removed from
    settings.yaml) ends them for good: the cookie holds only a random session id, never a token
    or its hash, and only the id's hash is stored here (a copy of this file opens no session)."""

    def __init__(self, path: Path, lifetime_s: int):
        self.path, self.lifetime_s = path, lifetime_s
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, who TEXT NOT NULL, "
                       "token_hash TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL)")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)  # one per call: requests come on many threads
        try:
            with db:  # commit, or roll back
                yield db
        finally:
            db.close()

    def create(self, who: str, token_hash: str) -> str:
        session_id, now = secrets.token_urlsafe(32), time.time()
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                       (hash_token(session_id), who, token_hash, now, now + self.lifetime_s))
        return session_id

    def get(self, session_id: str | None) -> tuple[str, str] | None:
        """(who, token hash) of a live session."""
        if not session_id or not isinstance(session_id, str):
            return None
        with self._db() as db:
            row = db.execute("SELECT who, token_hash FROM sessions WHERE id_hash = ? AND expires_at >= ?",
                             (hash_token(session_id), time.time())).fetchone()
        return (row[0], row[1]) if row else None

    def delete(self, session_id: str | None) -> None:
        if session_id and isinstance(session_id, str):
            with self._db() as db:
                db.execute("DELETE FROM sessions WHERE id_hash = ?", (hash_token(session_id),))

