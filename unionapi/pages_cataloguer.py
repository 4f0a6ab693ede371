"""Pages for cataloguers: sign in, work through duplicates, undo decisions, read quality reports,
start a harvest. The decisions are the API's own (unionapi.actions): same lock, same index update.

Cataloguers sign in with their API token; the session lives on the server (auth.SessionStore) and
the signed, HttpOnly, SameSite=Strict cookie (Secure over https, behind a proxy too) holds only its
random id and the CSRF token. Signing out deletes the session; a token removed from settings.yaml
signs its sessions out. Every POST form carries a per-session CSRF token.
"""
from __future__ import annotations

import functools
import hmac
import logging
import secrets
from pathlib import Path

from flask import (Blueprint, current_app, flash, g, get_flashed_messages, redirect, render_template, request,
                   session, url_for)

from normalizer.ids import normalize_isbn
from storage.locks import Busy
from unionapi import actions, i18n
from unionapi.auth import SessionStore, hash_token, who_holds
from unionapi.params import MAX_COMMENT, BadRequest
from unionapi.quality import quality_report
from unionapi.scheduler import start_harvest
from unionapi.web import (SESSION_LIFETIME, current_clusters, current_services, install_page_hooks, libraries,
                          library_name, message_page, t)

log = logging.getLogger("unioncat.pages")
REPORTS_PER_PAGE = 8
COMPARED = ("library", "record_id", "title", "authors", "year", "publisher", "edition", "series", "extent", "pages",
            "isbns", "languages", "material_type", "call_number")

bp = Blueprint("cataloguer", __name__, template_folder="templates")
install_page_hooks(bp)


@bp.record_once
def open_sign_ins(state) -> None:
    data_dir = Path(state.app.extensions["unioncat"].config.settings.data_dir)
    state.app.extensions["unioncat.sign_ins"] = SessionStore(data_dir / "sessions.sqlite3",
                                                             int(SESSION_LIFETIME.total_seconds()))


def sign_ins() -> SessionStore:
    return current_app.extensions["unioncat.sign_ins"]


@bp.before_request
def check_csrf():
    if request.method == "POST":
        sent, expected = request.form.get("csrf", ""), session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent, expected):
            log.warning("refused %s %s from %s: missing or wrong CSRF token", request.method, request.path,
                        request.remote_addr)
            return message_page(t("csrf"), 400)
    return None


@bp.after_request
def never_cached(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- sign-in -----------------------------------------------------------------------------------------
def signed_in() -> str | None:
    """The cataloguer of this session, if it was not signed out and their token is still in settings.yaml."""
    who, key = sign_ins().get(session.get("sid")) or (None, None)
    if who and key and any(name == who and hmac.compare_digest(digest, key)
                           for name, digest in current_services().config.settings.api_tokens):
        return who
    return None


def cataloguer_only(view):
    @functools.wraps(view)
    def checked(*args, **kwargs):
        g.who = signed_in()
        if g.who is None:
            if request.method == "POST":
                return message_page(t("login.needed"), 401)
            return redirect(url_for("cataloguer.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return checked


@bp.route("/cataloguer/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None)
    token = request.form.get("token", "").strip()
    who = who_holds(token, current_services().config.settings.api_tokens) if token else None
    if who is None:
        log.warning("refused sign-in from %s: %s", request.remote_addr, "no token" if not token else "unknown token")
        return render_template("login.html", next=target, error=t("login.refused")), 401
    session.clear()  # a fresh session (and CSRF token) for the signed-in cataloguer
    session.permanent = True
    session.update(sid=sign_ins().create(who, hash_token(token)), csrf=secrets.token_urlsafe(32))
    log.info("%s signed in from %s", who, request.remote_addr)
    return redirect(target)


@bp.post("/cataloguer/logout")
def logout():
    sign_ins().delete(session.get("sid"))  # a copy of the cookie kept from before opens nothing now
    session.clear()
    return redirect(url_for("patron.search"))


@bp.get("/cataloguer/")
@bp.get("/cataloguer")
@cataloguer_only
def cataloguer_home():
    return redirect(url_for("cataloguer.duplicates"))


def safe_next(target: str | None) -> str:
    """Only back into the cataloguer pages: never an open redirect, never a header split (CR/LF) nor
    anything else a Location header cannot carry as it is."""
    if (target and target.startswith("/cataloguer/") and "\\" not in target
            and all(0x21 <= ord(c) <= 0x7e for c in target)):
        return target
    return url_for("cataloguer.duplicates")


# -- duplicates and decisions -------------------------------------------------------------------------
@bp.get("/cataloguer/duplicates")
@cataloguer_only
def duplicates():
    network = current_services().config.network
    library_id = request.args.get("library") or None
    library_id = (network.resolve(library_id) or [None])[0] if library_id else None  # a former id: its successor
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 1 <= int(page) <= 1000 else 1
    sources = network.source_ids(library_id) if library_id else None  # its records, and its former libraries'
    reports = current_clusters().reports(library=sources, status="open", limit=REPORTS_PER_PAGE + 1,
                                         offset=(page - 1) * REPORTS_PER_PAGE)
    return render_template("duplicates.html", reports=[comparison(r) for r in reports[:REPORTS_PER_PAGE]],
                           library=library_id, libraries=libraries().values(), page=page,
                           more=len(reports) > REPORTS_PER_PAGE, messages=get_flashed_messages(True))


def comparison(report: dict) -> dict:
    """Both records side by side, a row per field, rows that differ marked."""
    catalogue = current_services().catalogue
    records = catalogue.load([report["a"], report["b"]])
    sides = [records.get(report["a"]), records.get(report["b"])]
    rows = []
    for name in COMPARED:
        a, b = shown(sides[0], name), shown(sides[1], name)
        differs = name not in ("library", "record_id") and (a != b or name in report["differing"])
        if a or b:
            rows.append({"label": t(f"field.{name}"), "a": a, "b": b, "differs": differs})
    splits = []
    for record in sides:
        entry_id = record and catalogue.entry_of(record.record_id)
        if entry_id and len(catalogue.members(entry_id)) > 1:
            splits.append({"entry": entry_id, "record": record.record_id})
    shared = [i for i in (sides[0].isbns if sides[0] else []) if sides[1] and i in sides[1].isbns]
    entries = [record and catalogue.entry_of(record.record_id) for record in sides]
    return {**report, "rows": rows, "splits": splits, "isbns": shared, "entries": entries,
            "missing": any(s is None for s in sides)}


def shown(record, name: str) -> str:
    """One field of a record as the comparison prints it."""
    if record is None:
        return ""
    if name == "library":
        return library_name(record.library)
    value = getattr(record, name)
    if name == "authors":
        return "; ".join(a.name for a in value)
    if name == "material_type":
        return i18n.label(i18n.MATERIAL_TYPES, g.lang, value)
    if name == "languages":
        return ", ".join(i18n.label(i18n.LANGUAGE_NAMES, g.lang, code) for code in value)
    return ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))


def comment() -> str | None:
    text = request.form.get("comment", "").strip()
    if len(text) > MAX_COMMENT:
        raise BadRequest(t("error.comment"))
    return text or None


def after(action):
    """Run a decision; say what happened (or why not) on the page the cataloguer came from."""
    try:
        message, ok = action()
    except BadRequest as exc:
        message, ok = exc.message, False
    except Busy as exc:
        message, ok = t("error.busy", message=str(exc)), False
    flash(message, "ok" if ok else "error")
    return redirect(safe_next(request.form.get("back")))


def decided(action: str, decision_id: int) -> tuple[str, bool]:
    log.info("%s decided %s (decision %d) from the pages", g.who, action, decision_id)
    return t(f"done.{action}", id=decision_id), True


@bp.post("/cataloguer/duplicates/<id:report_id>/<any(merge, reject):action>")
@cataloguer_only
def decide_report(report_id: int, action: str):
    def run():
        note = comment()
        try:
            return decided(action, actions.decide_report(current_services(), report_id, action, g.who, note))
        except BadRequest:
            return t("error.report", id=report_id), False
    return after(run)


@bp.post("/cataloguer/entries/<entry_id>/split")
@cataloguer_only
def split(entry_id: str):
    def run():
        record_id, note = request.form.get("record_id"), comment()
        try:
            return decided("split", actions.split(current_services(), entry_id, record_id, g.who, note))
        except BadRequest:
            return t("error.split", message=f"{record_id} / {entry_id}"), False
    return after(run)


@bp.post("/cataloguer/block")
@cataloguer_only
def block():
    def run():
        isbn, _ = normalize_isbn(request.form.get("isbn", ""))
        if not isbn:
            return t("error.isbn"), False
        prefix = request.form.get("prefix", "").strip() or None
        return decided("block", actions.block(current_services(), isbn, prefix, g.who, comment()))
    return after(run)


@bp.get("/cataloguer/decisions")
@cataloguer_only
def decisions():
    return render_template("decisions.html", decisions=current_clusters().decisions(limit=50),
                           messages=get_flashed_messages(True))


@bp.post("/cataloguer/decisions/<id:decision_id>/undo")
@cataloguer_only
def undo(decision_id: int):
    def run():
        try:
            actions.undo(current_services(), decision_id, g.who)
        except BadRequest:
            return t("error.report", id=decision_id), False
        return t("done.undo", id=decision_id), True
    return after(run)


# -- data quality and harvesting --------------------------------------------------------------------
@bp.get("/cataloguer/quality")
@cataloguer_only
def quality():
    services, library_id = current_services(), request.args.get("library")
    summary = [quality_report(services, i, examples=0) for i in libraries()]
    report = quality_report(services, library_id, examples=5) if library_id in libraries() else None
    return render_template("quality.html", summary=summary, report=report)


@bp.get("/cataloguer/harvest")
@cataloguer_only
def harvest():
    services = current_services()
    return render_template("harvest.html", rows=actions.network_status(services), runs=services.raw.runs(limit=30),
                           messages=get_flashed_messages(True))


@bp.post("/cataloguer/harvest/<library_id>")
@cataloguer_only
def harvest_library(library_id: str):
    def run():
        if library_id not in libraries():
            return t("libraries.notfound"), False
        if not start_harvest(current_services(), library_id, who=f"{g.who} (pages)"):
            return t("error.harvest", message=f"{library_id} is being harvested already"), False
        return t("done.harvest", library=library_name(library_id)), True
    return after(run)
