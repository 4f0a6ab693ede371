"""What the API and the two page blueprints share inside Flask: the services of the app answering a
request, and, for the pages, the language, the translations, the template helpers and the session cookie.

The services are read through ``current_services()`` on every request: ``create_app`` puts them in
``app.extensions``, and the configuration in them can be reloaded while serving.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from flask import current_app, g, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from unionapi import i18n
from unionapi.actions import library_ref
from unionapi.params import MAX_VALUES
from unionapi.pipeline import clusters_for

log = logging.getLogger("unioncat.pages")
SESSION_LIFETIME = timedelta(hours=12)
DISPLAY_CHARS = 1000  # of one field on a page


def current_services():
    return current_app.extensions["unioncat"]


def current_clusters():
    services = current_services()
    return clusters_for(services.config, services.catalogue)


def libraries() -> dict:
    return current_services().config.libraries


def library_name(library_id: str) -> str:
    return library_ref(current_services().config, library_id)["name"]


# -- the pages' app-wide settings -------------------------------------------------------------
def configure_pages(app, data_dir: Path) -> None:
    """Session cookie settings and the key that signs it (kept in the data directory across restarts),
    the template filters, and the cut of over-long values."""
    app.secret_key = os.environ.get("UNIONCAT_SECRET_KEY") or _secret_key(data_dir / "secret.key")
    app.config.update(SESSION_COOKIE_NAME="unioncat_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
                      SEND_FILE_MAX_AGE_DEFAULT=timedelta(days=7))
    app.session_interface = _SessionCookie()
    app.jinja_env.finalize = _clip
    app.add_template_filter(when)
    app.add_template_filter(language_name)


def install_page_hooks(bp) -> None:
    """The language (asked, remembered or the default) and the template helpers, on a page blueprint."""
    bp.before_request(_choose_language)
    bp.after_request(_remember_language)
    bp.context_processor(_helpers)


def _choose_language() -> None:
    asked = request.args.get("lang")
    g.lang = asked if asked in i18n.LANGUAGES else request.cookies.get("lang")
    g.lang = g.lang if g.lang in i18n.LANGUAGES else i18n.DEFAULT
    g.remember_lang = asked in i18n.LANGUAGES


def _remember_language(response):
    if g.get("remember_lang"):
        response.set_cookie("lang", g.lang, max_age=365 * 86400, httponly=True, samesite="Lax", secure=is_https())
    return response


def _helpers() -> dict:
    lang = g.get("lang", i18n.DEFAULT)
    return {"t": t, "lang": lang, "csrf_token": csrf_token, "with_args": with_args,
            "switch_url": with_args(lang="en" if lang == "vi" else "vi"),
            "status_text": status_text, "type_label": lambda c: i18n.label(i18n.MATERIAL_TYPES, lang, c),
            "library_name": library_name, "who": g.get("who"), "css_version": _asset_version()}


# -- helpers of both blueprints and their templates ---------------------------------------------
def t(key: str, **values) -> str:
    return i18n.translate(g.get("lang", i18n.DEFAULT), key, **values)


def message_page(text: str, status: int = 200, title: str | None = None):
    return render_template("message.html", title=title or text, text=text), status


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def with_args(**changes) -> str:
    """This page's URL with some query parameters replaced (None removes one)."""
    args = MultiDict(request.args)
    for key, value in changes.items():
        args.pop(key, None)
        if value is not None:
            args[key] = value
    pairs, per_key = [], defaultdict(int)
    for pair in dict.fromkeys(args.items(multi=True)):  # each value once, few per parameter: no huge links
        per_key[pair[0]] += 1
        if per_key[pair[0]] <= MAX_VALUES:
            pairs.append(pair)
    query = urlencode(pairs)
    return request.path + ("?" + query if query else "")


def when(value: str | None, date_only: bool = False) -> str:
    """An ISO timestamp (UTC) in the server's local time, the way a reader here writes dates."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    if g.get("lang") == "en":
        return moment.strftime("%Y-%m-%d" if date_only or len(value) <= 10 else "%Y-%m-%d %H:%M")
    return moment.strftime("%d/%m/%Y" if date_only or len(value) <= 10 else "%H:%M %d/%m/%Y")


def language_name(code: str) -> str:
    return i18n.label(i18n.LANGUAGE_NAMES, g.get("lang", i18n.DEFAULT), code)


def status_text(status: str, due_date: str | None = None) -> str:
    if status == "on_loan" and due_date:
        return t("status.on_loan_until", date=when(due_date, date_only=True))
    return t(f"status.{status}")


def is_https() -> bool:
    """The browser reached us over https: directly, or through a proxy that says so. Only ever used to
    make a cookie Secure, so a forged header can do no harm (it only withholds the cookie from http)."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


def _clip(value):
    """Every value a page prints, cut to DISPLAY_CHARS: a record with a 60,000-character title must
    not make a quarter-megabyte page. Links (all start with "/") are printed whole."""
    if (isinstance(value, str) and len(value) > DISPLAY_CHARS and not value.startswith("/")
            and not isinstance(value, Markup)):
        return value[:DISPLAY_CHARS] + "…"
    return value


class _SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, ``Secure`` whenever the request came over https."""

    def get_cookie_secure(self, app) -> bool:
        return is_https() or super().get_cookie_secure(app)


def _secret_key(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return path.read_text().strip()
    except OSError as exc:
        log.warning("cannot keep the session key in %s (%s); sessions end when the server restarts", path, exc)
        return key
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    return key


@functools.lru_cache(maxsize=1)
def _asset_version() -> str:
    """A hash of the stylesheet, in its URL, so browsers may cache it for a week and still see changes."""
    css = Path(__file__).parent / "static" / "site.css"
    return hashlib.sha256(css.read_bytes()).hexdigest()[:10] if css.exists() else "0"
