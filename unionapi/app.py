"""The JSON API over the union catalogue (Flask). Pages for people come in a later issue."""
from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from importlib import resources

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from normalizer.ids import normalize_isbn
from normalizer.match_model import label
from normalizer.training import agreement
from normalizer.records import STATUSES
from storage.locks import Busy, hold
from unionapi.auth import require_token, who_holds
from unionapi.metrics import Metrics
from unionapi.pipeline import clusters_for, index_changes, update_catalogue
from unionapi.scheduler import next_runs, reload, start_harvest
from unionapi.search import MAX_RESULT_WINDOW, SearchRequest, SearchUnavailable, entry_document, summary
from unionapi.quality import quality_report
from unionapi.services import Services

log = logging.getLogger("unioncat.api")
MATERIAL_TYPES = ("book", "serial", "map", "score", "sound", "video", "image", "computer", "mixed", "other")
SEARCH_PARAMS = {"q", "library", "year_from", "year_to", "lang", "type", "available", "page", "size"}
# one value of lang= / type= (repeat the parameter, or comma-separate): the patterns openapi.json states
LANG_VALUE = r"^[a-z]{3}(,[a-z]{3})*$"
ISBN_SHAPE = r"^[0-9Xx][0-9Xx -]{8,20}$"
TYPE_VALUE = "^({0})(,({0}))*$".format("|".join(MATERIAL_TYPES))
MAX_VALUES = 50  # values of one search parameter (repeated or comma-separated): more is an attack, not a search
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                               "form-action 'self'; base-uri 'none'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
BUSY_RETRY_S = 30  # Retry-After when a decision finds the catalogue being updated
LOCK_WAIT_S = 1.5  # how long a request waits for the pipeline lock before saying "busy"
# where a harvest error's own sentence ends and what the server sent begins (an excerpt of its body)
_BODY_EXCERPT = re.compile(r""":\s*b?['"]""")


class IdConverter(IntegerConverter):
    """A row id: a whole number SQLite can hold; a bigger one is simply not found (404), never a 500."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, max=2**63 - 1)


def public_error(text: str | None, full: bool = False) -> str | None:
    """A harvest error for everyone: the sentence only, never what the failing server answered.
    ``full`` (a request with an API token): the whole text, cut to 500 characters."""
    if not text:
        return text
    if full:
        return text if len(text) <= 500 else text[:500] + "…"
    m = _BODY_EXCERPT.search(text)
    text = text[:m.start()] if m else text
    return text if len(text) <= 300 else text[:300] + "…"


class BadRequest(Exception):
    status, error = 400, "bad_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(BadRequest):
    status, error = 404, "not_found"


class Conflict(BadRequest):
    """The request is well formed but the catalogue is not (or no longer) in the state it assumes."""
    status, error = 409, "conflict"


class UnknownLibrary(BadRequest):
    """A library id the network does not have: not found (the set of ids is configuration, not schema)."""
    status, error = 404, "not_found"

    def __init__(self, library_id: str):
        super().__init__(f"unknown library '{library_id}'; see /api/libraries for the ids")


def create_app(services: Services, scheduler=None) -> Flask:
    """The API; with ``scheduler`` (``unioncat run``) the admin reload also re-reads the schedules."""
    app = Flask(__name__)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.url_map.converters["id"] = IdConverter
    # the configuration can be reloaded while serving: always read it through services.config

    def library_ref(library_id: str) -> dict:
        library = services.config.libraries.get(library_id)
        return {"id": library_id, "name": library.name if library else library_id}

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest):
        return jsonify(error=exc.error, message=exc.message), exc.status

    @app.errorhandler(SearchUnavailable)
    def search_down(exc: SearchUnavailable):
        return jsonify(error="search_unavailable", message=str(exc)), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if not request.path.startswith("/api/"):
            return exc  # pages: the plain HTML error page
        response = jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description)
        for name, value in exc.get_headers():  # e.g. Allow on a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, exc.code

    metrics = Metrics(services)

    @app.after_request
    def security_headers(response):
        """On every answer: API, pages, errors, /metrics."""
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def is_admin() -> bool:
        """The request carries a valid API token (admins see more of a failed harvest)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return bool(scheme.lower() == "bearer" and token.strip()
                    and who_holds(token.strip(), services.config.settings.api_tokens))

    def run_view(run: dict, full: bool) -> dict:
        return {**run, "error": public_error(run.get("error"), full)}

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def record_latency(response):
        if request.url_rule is not None and "started" in g:
            metrics.observe(request.url_rule.rule, time.perf_counter() - g.started)
        return response

    @app.get("/metrics")
    def prometheus():
        return app.response_class(metrics.render(), mimetype="text/plain; version=0.0.4")

    @app.get("/api/health")
    def health():
        return jsonify(status="ok", engine=services.engine.name, entries=services.engine.count(),
                       config_error=services.config_error)

    @app.get("/api/openapi.json")
    def openapi():
        return app.response_class(resources.files("unionapi").joinpath("openapi.json").read_bytes(),
                                  mimetype="application/json")

    @app.get("/api/search")
    def search():
        search_request = parse_search(request.args, services.config.settings.max_page_size, services.config.libraries)
        result = services.engine.search(search_request)
        hits = []
        for hit in result.hits:
            hits.append({**hit, "libraries": [library_ref(i) for i in hit["libraries"]],
                         "available_libraries": [library_ref(i) for i in hit["available_libraries"]],
                         "url": f"/api/records/{hit['id']}"})
        facets = dict(result.facets)
        facets["library"] = [{**f, "label": library_ref(f["value"])["name"]} for f in facets["library"]]
        return jsonify(query=search_echo(search_request), total=result.total, page=search_request.page,
                       size=search_request.size, hits=hits, facets=facets)

    @app.get("/api/entries/<entry_id>")
    @app.get("/api/records/<entry_id>")
    def record(entry_id: str):
        members = services.catalogue.members(entry_id)
        if not members:
            return jsonify(error="not_found", message=f"no union entry with id '{entry_id}'"), 404
        document = summary(entry_document(entry_id, members))
        document["libraries"] = [library_ref(i) for i in document["libraries"]]
        document["available_libraries"] = [library_ref(i) for i in document["available_libraries"]]
        document["members"] = [{**m.to_dict(), "library_name": library_ref(m.library)["name"]} for m in members]
        document["holdings"] = group_holdings(members, services, library_ref)
        return jsonify(document)

    @app.get("/api/libraries")
    def network():
        counts = services.catalogue.record_counts()
        upcoming = next_runs(services.config.settings.data_dir)
        out, full = [], is_admin()
        for library in services.config.libraries.values():
            runs = [run_view(r, full) for r in services.raw.runs(library.id, limit=1)]
            failure = services.raw.last_failure(library.id)
            failure = failure and {**failure, "error": public_error(failure["error"], full)}
            out.append({"id": library.id, "name": library.name, "kind": library.kind, "parent": library.parent,
                        "protocol": library.protocol, "enabled": library.enabled,
                        "last_success": services.raw.last_success(library.id),
                        "last_failure": failure,
                        "last_run": ({k: runs[0][k] for k in ("started_at", "ended_at", "outcome", "error", "note",
                                                              "warning")} if runs else None),
                        "warning": services.raw.warning(library.id),
                        "next_run": upcoming.get(library.id),
                        "record_count": counts.get(library.id, 0)})
        return jsonify(libraries=out)

    @app.get("/api/harvests")
    def harvests():
        library = request.args.get("library")
        if library and library not in services.config.libraries:
            raise UnknownLibrary(library)
        limit = request.args.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            raise BadRequest(f"'limit' must be a whole number from 1 to 1000; got '{limit}'")
        full = is_admin()
        return jsonify(harvests=[run_view(r, full) for r in services.raw.runs(library, limit=int(limit), detail=full)])

    # -- admin: run a harvest now, rebuild the index, reload the configuration ------------------
    admin = require_token(lambda: services.config.settings.api_tokens)

    @app.post("/api/admin/harvest/<library_id>")
    @admin
    def harvest_now(library_id: str):
        library = services.config.libraries.get(library_id)
        if library is None:
            return jsonify(error="not_found", message=f"no library with id '{library_id}'"), 404
        full = request.args.get("full", "false").lower()
        if full not in ("true", "false"):
            raise BadRequest(f"'full' must be true or false; got '{full}'")
        if not start_harvest(services, library_id, full=full == "true", who=g.who):
            return jsonify(error="busy", message=f"{library_id} is being harvested already; see "
                                                 f"/api/harvests?library={library_id}"), 409
        return jsonify(library=library_id, status="started", history=f"/api/harvests?library={library_id}"), 202

    rebuilds = Rebuilds(services)

    @app.post("/api/admin/reindex")
    @admin
    def reindex():
        log.info("index rebuild requested by %s", g.who)
        return jsonify(status=rebuilds.request(), status_url="/api/admin/reindex"), 202

    @app.get("/api/admin/reindex")
    @admin
    def reindex_status():
        return jsonify(rebuilds.state())

    @app.post("/api/admin/reload")
    @admin
    def reload_config():
        error = reload(services, scheduler, services.config_dir, services.sources_file)
        if error:
            return jsonify(error="bad_configuration", message=f"not reloaded, the previous configuration stays: "
                                                              f"{error}"), 400
        return jsonify(status="reloaded", libraries=len(services.config.libraries))

    @app.get("/api/libraries/<library_id>/quality")
    def quality(library_id: str):
        if library_id not in services.config.libraries:
            return jsonify(error="not_found", message=f"no library with id '{library_id}'"), 404
        report, full = quality_report(services, library_id, examples=5), is_admin()
        for example in report.get("quarantined", {}).get("examples", []):
            example["reason"] = public_error(example.get("reason"), full)
        return jsonify(report)

    # -- deduplication: explanations, duplicate reports, cataloguers' decisions -----------------
    def clusters():
        return clusters_for(services.config, services.catalogue)
    def write(view):
        """A cataloguer's decision re-clusters and re-indexes: one at a time, and never during a pipeline run.

        See pipeline_for_request: a request never sits behind a rebuild.
        """
        @functools.wraps(view)
        def locked(*args, **kwargs):
            try:
                with pipeline_for_request(services):
                    return view(*args, **kwargs)
            except Busy as exc:
                response = jsonify(error="busy", message=f"the catalogue is being updated ({exc}); nothing was "
                                                         f"changed, try again in {BUSY_RETRY_S} seconds")
                response.headers["Retry-After"] = str(BUSY_RETRY_S)
                return response, 503
        return require_token(lambda: services.config.settings.api_tokens)(locked)

    def after_decision():
        index_changes(services.catalogue, services.engine)

    def body() -> dict:
        data = request.get_json(silent=True)
        if data is None and request.content_length:
            raise BadRequest("the request body must be JSON, e.g. {\"comment\": \"...\"}")
        data = {} if data is None else data  # no body at all: nothing to say
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        comment = data.get("comment")
        if "comment" in data and (not isinstance(comment, str) or len(comment) > 2000):
            raise BadRequest("'comment' must be text of at most 2000 characters")
        return data

    def side(record_id: str) -> dict | None:
        record = services.catalogue.load([record_id]).get(record_id)
        return ({**record.to_dict(), "library_name": library_ref(record.library)["name"],
                 "entry_id": services.catalogue.entry_of(record_id)} if record else None)

    def full_report(report: dict) -> dict:
        return {**report, "records": [side(report["a"]), side(report["b"])]}

    @app.get("/api/entries/<entry_id>/why")
    def why(entry_id: str):
        members = services.catalogue.members(entry_id)
        if not members:
            return jsonify(error="not_found", message=f"no union entry with id '{entry_id}'"), 404
        return jsonify(id=entry_id, members=[m.record_id for m in members], edges=clusters().why(entry_id))

    @app.get("/api/matcher")
    def matcher():
        """The weights in force and how the matcher decides the pairs cataloguers decided."""
        found = clusters()
        model, labels = found.model, found.labels()
        records = services.catalogue.load_for_matching(sorted({x for lab in labels for x in (lab.a, lab.b)}))
        return jsonify(name=model.name, fingerprint=model.fingerprint, same_at=model.same_at,
                       doubtful_at=model.doubtful_at, trained_on=model.trained_on,
                       weights={f: {lv: {"weight": w, "en": label(f"{f}.{lv}", "en"), "vi": label(f"{f}.{lv}", "vi")}
                                    for lv, w in levels.items()} for f, levels in model.weights.items()},
                       decisions=len(labels),
                       agreement=agreement(model, list(records.values()), labels, found.constraints().blocked))

    @app.get("/api/duplicates")
    def duplicates():
        library, status = request.args.get("library"), request.args.get("status", "open")
        if library and library not in services.config.libraries:
            raise UnknownLibrary(library)
        if status not in ("open", "merged", "rejected", "gone"):
            raise BadRequest(f"'status' is one of open, merged, rejected, gone; got '{status}'")
        page = request.args.get("page", "1")
        if not page.isdigit() or not 1 <= int(page) <= 1000:
            raise BadRequest(f"'page' must be a whole number from 1 to 1000; got '{page}'")
        page = int(page)
        reports = clusters().reports(library=library, status=status, limit=50, offset=(page - 1) * 50)
        return jsonify(duplicates=[full_report(r) for r in reports], page=page)

    @app.get("/api/duplicates/<id:report_id>")
    def duplicate(report_id: int):
        report = clusters().report(report_id)
        if report is None:
            return jsonify(error="not_found", message=f"no duplicate report {report_id}"), 404
        return jsonify(full_report(report))

    def decide_on_report(report_id: int, action: str):
        data = body()
        report = clusters().report(report_id)
        if report is None:
            return jsonify(error="not_found", message=f"no duplicate report {report_id}"), 404
        decision_id = clusters().decide(action, who=g.who, comment=data.get("comment"), a=report["a"], b=report["b"])
        after_decision()
        return jsonify(decision=clusters().decision(decision_id), report=full_report(clusters().report(report_id)))

    @app.post("/api/duplicates/<id:report_id>/merge")
    @write
    def merge(report_id: int):
        return decide_on_report(report_id, "merge")

    @app.post("/api/duplicates/<id:report_id>/reject")
    @write
    def reject(report_id: int):
        return decide_on_report(report_id, "reject")

    @app.post("/api/entries/<entry_id>/split")
    @write
    def split(entry_id: str):
        data = body()
        members = {m.record_id for m in services.catalogue.members(entry_id)}
        if not members:
            return jsonify(error="not_found", message=f"no union entry with id '{entry_id}'"), 404
        record_id = data.get("record_id")
        if not isinstance(record_id, str):
            raise BadRequest("'record_id' (text) is the record to take out of this entry")
        if record_id not in members:
            raise Conflict(f"'record_id' must be one of this entry's records: {', '.join(sorted(members))}")
        if len(members) == 1:
            raise Conflict("this entry has only one record; there is nothing to split")
        decision_id = clusters().decide("split", who=g.who, comment=data.get("comment"), a=record_id)
        after_decision()
        return jsonify(decision=clusters().decision(decision_id))

    @app.post("/api/identifiers/block")
    @write
    def block():
        data = body()
        typed = data.get("isbn")
        if not isinstance(typed, str) or not re.fullmatch(ISBN_SHAPE, typed):
            raise BadRequest("'isbn' must be a valid ISBN-10 or ISBN-13 (digits, X, hyphens or spaces)")
        isbn, _ = normalize_isbn(typed)
        if not isbn:  # the right characters, but a wrong length or check digit: no record can carry it
            raise NotFound(f"'{typed}' is not a valid ISBN-10 or ISBN-13 (length or check digit); no record "
                           "carries it, so there is nothing to block")
        prefix = data.get("prefix")
        if "prefix" in data and (not isinstance(prefix, str) or not prefix.strip()):
            raise BadRequest("'prefix' (optional) must be the beginning of the titles to block it for")
        decision_id = clusters().decide("block", who=g.who, comment=data.get("comment"), isbn=isbn,
                                      prefix=prefix.strip() if prefix else None)
        after_decision()
        return jsonify(decision=clusters().decision(decision_id))

    @app.get("/api/decisions")
    def decisions():
        return jsonify(decisions=clusters().decisions(limit=200))

    @app.post("/api/decisions/<id:decision_id>/undo")
    @write
    def undo(decision_id: int):
        body()
        found = clusters().undo(decision_id, who=g.who)
        if found is None:
            return jsonify(error="not_found", message=f"no decision {decision_id}"), 404
        after_decision()
        return jsonify(decision=found)

    from unionapi.pages import pages_blueprint  # imports this module: only once it is loaded
    app.register_blueprint(pages_blueprint(services))
    return app


@contextmanager
def pipeline_for_request(services: Services):
    """The pipeline lock for a request: at most two request threads wait for it (or hold it), only
    LOCK_WAIT_S each; otherwise Busy at once. Waiting threads would otherwise take all the server's
    threads during a rebuild, and nothing else (not even /api/health) would be answered."""
    if not services.writers.acquire(blocking=False):
        raise Busy("other changes are already waiting for it")
    try:
        with hold(services.locks_dir, "pipeline", wait_s=LOCK_WAIT_S):
            yield
    finally:
        services.writers.release()


class Rebuilds:
    """Admin rebuilds coalesce: one runs in a background thread, at most one more waits for it;
    asking again while one waits changes nothing (it will see every change made before it starts)."""

    def __init__(self, services: Services):
        self.services, self.lock = services, threading.Lock()
        self.running = self.pending = False
        self.last = {"started_at": None, "ended_at": None, "error": None}

    def request(self) -> str:
        with self.lock:
            if self.running:
                already, self.pending = self.pending, True
                return "queued (already)" if already else "queued"
            self.running = True
        threading.Thread(target=self._work, daemon=True, name="reindex").start()
        return "started"

    def state(self) -> dict:
        with self.lock:
            return {"running": self.running, "pending": self.pending, **self.last}

    def _work(self) -> None:
        while True:
            self.last.update(started_at=_now(), ended_at=None, error=None)
            try:
                update_catalogue(self.services, rebuild=True)
            except Exception as exc:  # noqa: BLE001 - said in the status and the log, never lost
                log.exception("index rebuild failed")
                self.last["error"] = str(exc)
            self.last["ended_at"] = _now()
            with self.lock:
                if not self.pending:
                    self.running = False
                    return
                self.pending = False


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_search(args, max_size: int, libraries) -> SearchRequest:
    unknown = sorted(set(args) - SEARCH_PARAMS)
    if unknown:
        raise BadRequest(f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(SEARCH_PARAMS))}")

    def integer(name: str, low: int, high: int) -> int | None:
        value = args.get(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d{1,9}", value.strip()):
            raise BadRequest(f"'{name}' must be a whole number; got '{value}'")
        number = int(value)
        if not low <= number <= high:
            raise BadRequest(f"'{name}' must be between {low} and {high}; got {number}")
        return number

    def many(name: str) -> list[str]:
        values = args.getlist(name)
        if len(values) > MAX_VALUES or sum(v.count(",") + 1 for v in values) > MAX_VALUES:
            raise BadRequest(f"'{name}' takes at most {MAX_VALUES} values")
        return list(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))

    q = args.get("q", "")
    if len(q) > 1000:
        raise BadRequest("'q' is longer than 1000 characters")
    page = integer("page", 1, MAX_RESULT_WINDOW) or 1
    size = min(integer("size", 1, 10_000) or 20, max_size)
    if page * size > MAX_RESULT_WINDOW:
        raise NotFound(f"page {page} of size {size} goes deeper than the first {MAX_RESULT_WINDOW} results; "
                         "narrow the search instead")
    library = many("library")
    for value in library:
        if value not in libraries:
            raise UnknownLibrary(value)
    lang, types = many("lang"), many("type")  # their number first: a flood is refused before any work
    for value in args.getlist("lang"):
        if not re.fullmatch(LANG_VALUE, value):
            raise BadRequest(f"'lang' takes ISO 639-2 codes such as vie or eng (comma-separated); got '{value}'")
    for value in args.getlist("type"):
        if not re.fullmatch(TYPE_VALUE, value):
            wrong = next((v for v in value.split(",") if v not in MATERIAL_TYPES), value)
            raise BadRequest(f"unknown type '{wrong}'; one of {', '.join(MATERIAL_TYPES)} (comma-separated)")
    year_from, year_to = integer("year_from", 0, 9999), integer("year_to", 0, 9999)
    if year_from is not None and year_to is not None and year_from > year_to:
        year_from, year_to = year_to, year_from  # the same years, typed the other way round (echoed back)
    available = args.get("available", "false").lower()
    if available not in ("0", "1", "true", "false"):
        raise BadRequest(f"'available' must be true or false; got '{available}'")
    return SearchRequest(q=q, library=library, lang=lang, type=types, year_from=year_from, year_to=year_to,
                         available=available in ("1", "true"), page=page, size=size)


def search_echo(r: SearchRequest) -> dict:
    return {"q": r.q, "library": r.library, "lang": r.lang, "type": r.type, "year_from": r.year_from,
            "year_to": r.year_to, "available": r.available}


def group_holdings(members, services: Services, library_ref) -> list[dict]:
    """Holdings of all members, by library then branch, with when each library was last harvested."""
    grouped: "OrderedDict[str, OrderedDict[str, list]]" = OrderedDict()
    for member in members:
        for holding in member.holdings:
            branches = grouped.setdefault(holding.library, OrderedDict())
            branches.setdefault(holding.branch or "", []).append(holding)
    out = []
    for library_id, branches in grouped.items():
        branch_list = []
        for branch, holdings in branches.items():
            items = [{"location": h.location, "call_number": h.call_number, "barcode": h.barcode,
                      "status": h.status, "due_date": h.due_date} for h in holdings
                     if h.status != "unknown" or h.call_number or h.barcode or h.location]
            counts = {status: sum(1 for h in holdings if h.status == status) for status in STATUSES}
            branch_list.append({"branch": branch or None, "items": items,
                                "counts": {k: v for k, v in counts.items() if v}})
        out.append({**library_ref(library_id), "as_of": services.raw.last_success(library_id),
                    "branches": branch_list})
    return out


def load_openapi() -> dict:
    return json.loads(resources.files("unionapi").joinpath("openapi.json").read_text("utf-8"))
