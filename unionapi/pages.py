"""Pages for people: patrons search and see who holds a book; cataloguers work through duplicates.

Server-rendered with Jinja, no front-end framework and no JavaScript, so a page is small and works
on a commune library's old PC or a phone on a slow connection. The pages call the same Python
objects the JSON API uses (engine, catalogue, clusters, the pipeline lock), never HTTP to itself.

Cataloguers sign in with their API token; the session lives on the server (auth.SessionStore) and
the signed, HttpOnly, SameSite=Strict cookie (Secure over https, behind a proxy too) holds only its
random id and the CSRF token. Signing out deletes the session; a token removed from settings.yaml
signs its sessions out. Every POST form carries a per-session CSRF token.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from flask import (Blueprint, flash, g, get_flashed_messages, redirect, render_template, request, session,
                   url_for)
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from storage.locks import Busy
from normalizer.ids import normalize_isbn
from normalizer.records import AVAILABLE
from unionapi import i18n
from unionapi.app import MAX_VALUES, pipeline_for_request, BadRequest, group_holdings, parse_search
from unionapi.auth import SessionStore, hash_token, who_holds
from unionapi.pipeline import clusters_for, index_changes
from unionapi.quality import quality_report
from unionapi.scheduler import next_runs, start_harvest
from unionapi.search import SearchRequest, representative, entry_document

log = logging.getLogger("unioncat.pages")
PAGE_SIZE = 20
REPORTS_PER_PAGE = 8
SESSION_LIFETIME = timedelta(hours=12)
DISPLAY_CHARS = 1000  # of one field on a page
MAX_SUGGESTION_SEARCHES = 6  # "did you mean" searches for one empty result
FILTERS = ("library", "language", "type", "year_from", "year_to", "available")
COMPARED = ("library", "record_id", "title", "authors", "year", "publisher", "edition", "series", "extent", "pages",
            "isbns", "languages", "material_type", "call_number")


def pages_blueprint(services) -> Blueprint:
    """The pages, over the same services as the API (the configuration is read through
    ``services.config`` on every request, since it can be reloaded while serving)."""
    bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/assets")
    bp.record_once(lambda state: _configure(state.app, Path(services.config.settings.data_dir)))
    sign_ins = SessionStore(Path(services.config.settings.data_dir) / "sessions.sqlite3",
                            int(SESSION_LIFETIME.total_seconds()))

    def libraries():
        return services.config.libraries

    def clusters():
        return clusters_for(services.config, services.catalogue)

    # -- language, CSRF, security headers, template helpers -----------------------------------
    @bp.before_request
    def language_and_csrf():
        asked = request.args.get("lang")
        g.lang = asked if asked in i18n.LANGUAGES else request.cookies.get("lang")
        g.lang = g.lang if g.lang in i18n.LANGUAGES else i18n.DEFAULT
        g.remember_lang = asked in i18n.LANGUAGES
        if request.method == "POST":
            sent, expected = request.form.get("csrf", ""), session.get("csrf", "")
            if not expected or not hmac.compare_digest(sent, expected):
                log.warning("refused %s %s from %s: missing or wrong CSRF token", request.method, request.path,
                            request.remote_addr)
                return message_page(t("csrf"), 400)
        return None

    @bp.after_request
    def headers(response):
        if g.get("remember_lang"):
            response.set_cookie("lang", g.lang, max_age=365 * 86400, httponly=True, samesite="Lax",
                                secure=is_https())
        if request.path.startswith("/cataloguer"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def t(key: str, **values) -> str:
        return i18n.translate(g.get("lang", i18n.DEFAULT), key, **values)

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

    @bp.app_template_filter("when")
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

    @bp.app_template_filter("language_name")
    def language_name(code: str) -> str:
        return i18n.label(i18n.LANGUAGE_NAMES, g.get("lang", i18n.DEFAULT), code)

    def status_text(status: str, due_date: str | None = None) -> str:
        if status == "on_loan" and due_date:
            return t("status.on_loan_until", date=when(due_date, date_only=True))
        return t(f"status.{status}")

    @bp.context_processor
    def helpers():
        lang = g.get("lang", i18n.DEFAULT)
        return {"t": t, "lang": lang, "csrf_token": csrf_token, "with_args": with_args,
                "switch_url": with_args(lang="en" if lang == "vi" else "vi"),
                "status_text": status_text, "type_label": lambda c: i18n.label(i18n.MATERIAL_TYPES, lang, c),
                "library_name": library_name, "who": g.get("who"), "css_version": _asset_version()}

    def message_page(text: str, status: int = 200, title: str | None = None):
        return render_template("message.html", title=title or text, text=text), status

    def library_name(library_id: str) -> str:
        library = libraries().get(library_id)
        return library.name if library else library_id

    def library_ref(library_id: str) -> dict:
        return {"id": library_id, "name": library_name(library_id)}

    # -- patron: home and search ---------------------------------------------------------------
    @bp.get("/")
    @bp.get("/search")
    def search():
        args = request.args
        if request.path == "/" and not any(args.get(k) for k in ("q", *FILTERS)):
            return render_template("home.html", libraries=len(libraries()), entries=services.engine.count())
        state = {"q": args.get("q", "").strip(), "library": distinct(args, "library"),
                 "language": distinct(args, "language"), "type": distinct(args, "type"),
                 "year_from": args.get("year_from", ""), "year_to": args.get("year_to", ""),
                 "available": "1" if args.get("available") in ("1", "true", "on") else ""}
        try:
            search_request = to_search_request(state, args.get("page") or "1")
        except BadRequest as exc:
            return render_template("search.html", state=state, error=t("bad_search", message=exc.message),
                                   result=None, url=search_url), 400
        result = services.engine.search(search_request)
        pages = -(-min(result.total, 10_000) // PAGE_SIZE)
        return render_template("search.html", state=state, result=result, request_=search_request,
                               pages=pages, url=search_url, facets=facet_links(state, result.facets),
                               suggestions=[] if result.total else suggestions(state), error=None)

    def distinct(args, name: str) -> list[str]:
        """A filter's values once each, and never so many that echoing them makes a huge page
        (one more than the API allows, so that the API's parser still says why)."""
        return list(dict.fromkeys(args.getlist(name)))[:MAX_VALUES + 1]

    def to_search_request(state: dict, page: str) -> SearchRequest:
        """The page's parameters checked by the API's own parser (same rules, same messages)."""
        api_args = MultiDict([("q", state["q"]), ("page", page), ("size", str(PAGE_SIZE))]
                             + [(name, state[name]) for name in ("year_from", "year_to", "available") if state[name]])
        for page_name, api_name in (("library", "library"), ("language", "lang"), ("type", "type")):
            for value in state[page_name]:
                api_args.add(api_name, value)
        return parse_search(api_args, services.config.settings.max_page_size, libraries())

    def search_url(state: dict, page: int | None = None, **changes) -> str:
        merged = {**state, **changes}
        pairs = [(k, v) for k in ("q", *FILTERS) for v in (merged[k] if isinstance(merged[k], list) else [merged[k]])
                 if v not in (None, "")]
        if page and page > 1:
            pairs.append(("page", page))
        if g.get("remember_lang"):
            pairs.append(("lang", g.lang))
        return url_for("pages.search") + "?" + urlencode(pairs)

    def toggle(values: list[str], value: str) -> list[str]:
        return [v for v in values if v != value] if value in values else [*values, value]

    def facet_links(state: dict, facets: dict) -> list[dict]:
        """Each facet value as a link that switches it on or off; the counts come from the engine."""
        groups = []
        for name, facet, label in (("library", "library", library_name),
                                   ("type", "type", lambda c: i18n.label(i18n.MATERIAL_TYPES, g.lang, c)),
                                   ("language", "lang", lambda c: i18n.label(i18n.LANGUAGE_NAMES, g.lang, c))):
            items = [{"label": label(f["value"]), "count": f["count"], "on": f["value"] in state[name],
                      "url": search_url(state, **{name: toggle(state[name], f["value"])})}
                     for f in facets.get(facet, [])]
            groups.append({"title": t(f"facet.{name}"), "items": items})
        years = []
        for bucket in facets.get("year", []):
            low, high = bucket["from"], bucket["to"]
            on = state["year_from"] == str(low or "") and state["year_to"] == str(high or "")
            text = (t("year.before", to=high + 1) if low is None else t("year.after", from_=low) if high is None
                    else f"{low}–{high}")
            years.append({"label": text, "count": bucket["count"], "on": on,
                          "url": search_url(state, year_from="" if on else low, year_to="" if on else high)})
        groups.insert(1, {"title": t("facet.year"), "items": years})
        return groups

    def suggestions(state: dict) -> list[dict]:
        """For an empty result: the same words without filters, then fewer words (only if they find something).

        At most MAX_SUGGESTION_SEARCHES searches: a query of hundreds of words must not cost hundreds.
        """
        out, seen = [], set()

        def offer(key: str, q: str, new_state: dict) -> None:
            if (q, key) in seen or not q or len(seen) >= MAX_SUGGESTION_SEARCHES:
                return
            seen.add((q, key))
            found = services.engine.search(to_search_request(new_state, "1")).total
            if found:
                out.append({"text": t(key, q=q, n=found), "url": search_url(new_state)})

        filtered = any(state[k] for k in FILTERS)
        if filtered:
            offer("results.without_filters", state["q"], {**{k: [] if isinstance(state[k], list) else ""
                                                               for k in FILTERS}, "q": state["q"]})
        words = state["q"].split()
        shorter = [" ".join(words[:-1])] + [" ".join(words[:i] + words[i + 1:]) for i in range(len(words) - 1)]
        for q in shorter if len(words) > 1 else []:
            offer("results.didyoumean", q, {**state, "q": q})
            if len(out) >= 3:
                break
        return out

    # -- patron: a union entry and its member records --------------------------------------------
    @bp.get("/entry/<entry_id>")
    def entry(entry_id: str):
        members = services.catalogue.members(entry_id)
        if not members:
            return message_page(t("entry.notfound"), 404)
        document = entry_document(entry_id, members)
        best = representative(members)
        return render_template("entry.html", entry=document, best=best, members=members,
                               rows=holding_rows(members))

    def holding_rows(members) -> list[dict]:
        """One row per copy, as the API groups them; a library that sends no copies gets one row."""
        rows = []
        for library in group_holdings(members, services, library_ref):
            for branch in library["branches"]:
                items = branch["items"] or [{"location": None, "call_number": None, "barcode": None, "status": s,
                                             "due_date": None, "no_items": True} for s in branch["counts"]]
                for item in items:
                    rows.append({"library": library["id"], "library_name": library["name"],
                                 "branch": branch["branch"], "as_of": library["as_of"], **item})
        covered = {row["library"] for row in rows}
        for member in members:
            if member.library not in covered:
                covered.add(member.library)
                rows.append({"library": member.library, "library_name": library_name(member.library),
                             "branch": None, "as_of": services.raw.last_success(member.library),
                             "location": None, "call_number": member.call_number, "barcode": None,
                             "status": "unknown", "due_date": None, "no_items": True})
        rows.sort(key=lambda r: r["status"] != AVAILABLE)  # stable: what is on a shelf first, API order kept
        return rows

    @bp.get("/entry/<entry_id>/record/<id:number>")
    def member(entry_id: str, number: int):
        members = services.catalogue.members(entry_id)
        if not 1 <= number <= len(members):
            return message_page(t("entry.notfound"), 404)
        record = members[number - 1]
        return render_template("record.html", entry_id=entry_id, record=record, number=number)

    # -- patron: the library directory -----------------------------------------------------------
    @bp.get("/libraries")
    def directory():
        counts = services.catalogue.record_counts()
        children, roots = defaultdict(list), []
        for library in libraries().values():
            (children[library.parent] if library.parent in libraries() else roots).append(library)
        facts = {i: {"count": counts.get(i, 0), "harvested": services.raw.last_success(i)} for i in libraries()}
        return render_template("libraries.html", roots=roots, children=children, facts=facts)

    @bp.get("/libraries/<library_id>")
    def library(library_id: str):
        found = libraries().get(library_id)
        if found is None:
            return message_page(t("libraries.notfound"), 404)
        return render_template("library.html", library=found, parent=libraries().get(found.parent or ""),
                               count=services.catalogue.record_counts().get(library_id, 0),
                               harvested=services.raw.last_success(library_id),
                               newest=services.catalogue.newest(library_id, limit=25),
                               children=[lib for lib in libraries().values() if lib.parent == library_id])

    # -- cataloguer: sign-in ---------------------------------------------------------------------
    def signed_in() -> str | None:
        """The cataloguer of this session, if it was not signed out and their token is still in settings.yaml."""
        who, key = sign_ins.get(session.get("sid")) or (None, None)
        if who and key and any(name == who and hmac.compare_digest(digest, key)
                               for name, digest in services.config.settings.api_tokens):
            return who
        return None

    def cataloguer_only(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            g.who = signed_in()
            if g.who is None:
                if request.method == "POST":
                    return message_page(t("login.needed"), 401)
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            return view(*args, **kwargs)
        return checked

    @bp.route("/cataloguer/login", methods=["GET", "POST"])
    def login():
        target = safe_next(request.values.get("next"))
        if request.method == "GET":
            return render_template("login.html", next=target, error=None)
        token = request.form.get("token", "").strip()
        who = who_holds(token, services.config.settings.api_tokens) if token else None
        if who is None:
            log.warning("refused sign-in from %s: %s", request.remote_addr, "no token" if not token else "unknown token")
            return render_template("login.html", next=target, error=t("login.refused")), 401
        session.clear()  # a fresh session (and CSRF token) for the signed-in cataloguer
        session.permanent = True
        session.update(sid=sign_ins.create(who, hash_token(token)), csrf=secrets.token_urlsafe(32))
        log.info("%s signed in from %s", who, request.remote_addr)
        return redirect(target)

    @bp.post("/cataloguer/logout")
    def logout():
        sign_ins.delete(session.get("sid"))  # a copy of the cookie kept from before opens nothing now
        session.clear()
        return redirect(url_for("pages.search"))

    @bp.get("/cataloguer/")
    @bp.get("/cataloguer")
    @cataloguer_only
    def cataloguer_home():
        return redirect(url_for("pages.duplicates"))

    def safe_next(target: str | None) -> str:
        """Only back into the cataloguer pages: never an open redirect, never a header split (CR/LF) nor
        anything else a Location header cannot carry as it is."""
        if (target and target.startswith("/cataloguer/") and "\\" not in target
                and all(0x21 <= ord(c) <= 0x7e for c in target)):
            return target
        return url_for("pages.duplicates")

    def back() -> str:
        return safe_next(request.form.get("back"))

    # -- cataloguer: duplicates and decisions ------------------------------------------------------
    @bp.get("/cataloguer/duplicates")
    @cataloguer_only
    def duplicates():
        library_id = request.args.get("library") or None
        library_id = library_id if library_id in libraries() else None
        page = request.args.get("page", "1")
        page = int(page) if page.isdigit() and 1 <= int(page) <= 1000 else 1
        reports = clusters().reports(library=library_id, status="open", limit=REPORTS_PER_PAGE + 1,
                                   offset=(page - 1) * REPORTS_PER_PAGE)
        return render_template("duplicates.html", reports=[comparison(r) for r in reports[:REPORTS_PER_PAGE]],
                               library=library_id, libraries=libraries().values(), page=page,
                               more=len(reports) > REPORTS_PER_PAGE, messages=get_flashed_messages(True))

    def comparison(report: dict) -> dict:
        """Both records side by side, a row per field, rows that differ marked."""
        records = services.catalogue.load([report["a"], report["b"]])
        sides = [records.get(report["a"]), records.get(report["b"])]

        def show(record, name: str) -> str:
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

        rows = []
        for name in COMPARED:
            a, b = show(sides[0], name), show(sides[1], name)
            differs = name not in ("library", "record_id") and (a != b or name in report["differing"])
            if a or b:
                rows.append({"label": t(f"field.{name}"), "a": a, "b": b, "differs": differs})
        splits = []
        for record in sides:
            entry_id = record and services.catalogue.entry_of(record.record_id)
            if entry_id and len(services.catalogue.members(entry_id)) > 1:
                splits.append({"entry": entry_id, "record": record.record_id})
        shared = [i for i in (sides[0].isbns if sides[0] else []) if sides[1] and i in sides[1].isbns]
        entries = [record and services.catalogue.entry_of(record.record_id) for record in sides]
        return {**report, "rows": rows, "splits": splits, "isbns": shared, "entries": entries,
                "missing": any(s is None for s in sides)}

    def comment() -> str | None:
        text = request.form.get("comment", "").strip()
        if len(text) > 2000:
            raise BadRequest(t("error.comment"))
        return text or None

    @contextmanager
    def pipeline_lock():
        """The API's lock: one decision at a time, never during a harvest's catalogue update."""
        try:
            with pipeline_for_request(services):
                yield
        except Busy as exc:
            raise BadRequest(t("error.busy", message=str(exc))) from None

    def decide(action: str, **what) -> int:
        """A decision exactly as the API makes it: under the same lock, then the index is updated."""
        note = comment()
        with pipeline_lock():
            decision_id = clusters().decide(action, who=g.who, comment=note, **what)
            index_changes(services.catalogue, services.engine)
        log.info("%s decided %s (decision %d) from the pages", g.who, action, decision_id)
        return decision_id

    def after(action):
        """Run a decision; say what happened (or why not) on the page the cataloguer came from."""
        try:
            message, ok = action()
        except BadRequest as exc:
            message, ok = exc.message, False
        flash(message, "ok" if ok else "error")
        return redirect(back())

    @bp.post("/cataloguer/duplicates/<id:report_id>/<any(merge, reject):action>")
    @cataloguer_only
    def decide_report(report_id: int, action: str):
        def run():
            report = clusters().report(report_id)
            if report is None:
                return t("error.report", id=report_id), False
            return t(f"done.{action}", id=decide(action, a=report["a"], b=report["b"])), True
        return after(run)

    @bp.post("/cataloguer/entries/<entry_id>/split")
    @cataloguer_only
    def split(entry_id: str):
        def run():
            members = {m.record_id for m in services.catalogue.members(entry_id)}
            record_id = request.form.get("record_id")
            if record_id not in members or len(members) < 2:
                return t("error.split", message=f"{record_id} / {entry_id}"), False
            return t("done.split", id=decide("split", a=record_id)), True
        return after(run)

    @bp.post("/cataloguer/block")
    @cataloguer_only
    def block():
        def run():
            isbn, _ = normalize_isbn(request.form.get("isbn", ""))
            if not isbn:
                return t("error.isbn"), False
            prefix = request.form.get("prefix", "").strip() or None
            return t("done.block", id=decide("block", isbn=isbn, prefix=prefix)), True
        return after(run)

    @bp.get("/cataloguer/decisions")
    @cataloguer_only
    def decisions():
        return render_template("decisions.html", decisions=clusters().decisions(limit=50),
                               messages=get_flashed_messages(True))

    @bp.post("/cataloguer/decisions/<id:decision_id>/undo")
    @cataloguer_only
    def undo(decision_id: int):
        def run():
            with pipeline_lock():
                found = clusters().undo(decision_id, who=g.who)
                index_changes(services.catalogue, services.engine)
            return (t("done.undo", id=decision_id), True) if found else (t("error.report", id=decision_id), False)
        return after(run)

    # -- cataloguer: data quality and harvesting -----------------------------------------------------
    @bp.get("/cataloguer/quality")
    @cataloguer_only
    def quality():
        library_id = request.args.get("library")
        summary = [quality_report(services, i, examples=0) for i in libraries()]
        report = quality_report(services, library_id, examples=5) if library_id in libraries() else None
        return render_template("quality.html", summary=summary, report=report)

    @bp.get("/cataloguer/harvest")
    @cataloguer_only
    def harvest():
        upcoming = next_runs(services.config.settings.data_dir)
        rows = []
        for library in libraries().values():
            last = services.raw.runs(library.id, limit=1)
            rows.append({"library": library, "last": last[0] if last else None,
                         "warning": services.raw.warning(library.id),
                         "success": services.raw.last_success(library.id), "next": upcoming.get(library.id)})
        return render_template("harvest.html", rows=rows, runs=services.raw.runs(limit=30),
                               messages=get_flashed_messages(True))

    @bp.post("/cataloguer/harvest/<library_id>")
    @cataloguer_only
    def harvest_library(library_id: str):
        def run():
            if library_id not in libraries():
                return t("libraries.notfound"), False
            if not start_harvest(services, library_id, who=f"{g.who} (pages)"):
                return t("error.harvest", message=f"{library_id} is being harvested already"), False
            return t("done.harvest", library=library_name(library_id)), True
        return after(run)

    return bp


def _configure(app, data_dir: Path) -> None:
    """Session cookie settings and the key that signs it (kept in the data directory across restarts)."""
    app.secret_key = os.environ.get("UNIONCAT_SECRET_KEY") or _secret_key(data_dir / "secret.key")
    app.config.update(SESSION_COOKIE_NAME="unioncat_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
                      SEND_FILE_MAX_AGE_DEFAULT=timedelta(days=7))
    app.session_interface = _SessionCookie()
    app.jinja_env.finalize = _clip


def _clip(value):
    """Every value a page prints, cut to DISPLAY_CHARS: a record with a 60,000-character title must
    not make a quarter-megabyte page. Links (all start with "/") are printed whole."""
    if (isinstance(value, str) and len(value) > DISPLAY_CHARS and not value.startswith("/")
            and not isinstance(value, Markup)):
        return value[:DISPLAY_CHARS] + "…"
    return value


def is_https() -> bool:
    """The browser reached us over https: directly, or through a proxy that says so. Only ever used to
    make a cookie Secure, so a forged header can do no harm (it only withholds the cookie from http)."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


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
