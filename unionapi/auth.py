"""Write access to the API: bearer tokens checked against the SHA-256 hashes in settings.yaml."""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets

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
