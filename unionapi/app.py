"""The Flask app: the JSON API (this module's blueprint) and the pages (pages_patron, pages_cataloguer).

The request checks are in unionapi.params, what the API and the pages both do in unionapi.actions;
the views here only turn requests into calls and answers into JSON.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from config.directory import DAYS
from normalizer.match_model import label
from normalizer.training import agreement
from storage.locks import Busy
from unionapi import actions, pages_cataloguer, pages_patron
from unionapi.actions import library_ref, public_error
from unionapi.auth import require_token, who_holds
from unionapi.metrics import Metrics
from unionapi.params import (BadRequest, UnknownLibrary, parse_block, parse_body, parse_flag, parse_search,
                             parse_whole_number, search_echo)
from unionapi.pipeline import update_catalogue
from unionapi.publish import downloads, oai, sru
from unionapi.quality import quality_report
from unionapi.scheduler import reload, start_harvest
from unionapi.search import SearchUnavailable, entry_document, summary
from unionapi.services import Services
from unionapi.web import configure_pages, current_clusters, current_services

log = logging.getLogger("unioncat.api")
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                               "form-action 'self'; base-uri 'none'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
BUSY_RETRY_S = 30  # Retry-After when a decision finds the catalogue being updated

api = Blueprint("api", __name__)


class IdConverter(IntegerConverter):
    """A row id: a whole number SQLite can hold; a bigger one is simply not found (404), never a 500."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, max=2**63 - 1)


def create_app(services: Services, scheduler=None) -> Flask:
    """The API and the pages; with ``scheduler`` (``unioncat run``) the admin reload also re-reads the schedules."""
    app = Flask(__name__)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.url_map.converters["id"] = IdConverter
    app.extensions.update({"unioncat": services, "unioncat.scheduler": scheduler,
                           "unioncat.metrics": Metrics(services), "unioncat.rebuilds": Rebuilds(services)})
    configure_pages(app, Path(services.config.settings.data_dir))
    app.register_error_handler(BadRequest, bad_request)
    app.register_error_handler(SearchUnavailable, search_down)
    app.register_error_handler(HTTPException, http_error)
    app.before_request(start_timer)
    app.after_request(record_latency)
    app.after_request(security_headers)
    for blueprint in (api, pages_patron.bp, pages_cataloguer.bp, oai.bp, sru.bp, downloads.bp):
        app.register_blueprint(blueprint)
    return app


def serve(services: Services, host: str, port: int, threads: int = 8, scheduler=None) -> None:
    """Serve the app with waitress (the production server) until interrupted."""
    import waitress
    app = create_app(services, scheduler=scheduler)
    log.info("serving the union catalogue at http://%s:%d/api/search?q=... (Ctrl-C to stop)", host, port)
    proxy = services.config.settings.api_trusted_proxy
    # behind a reverse proxy that ends TLS, only its X-Forwarded-Proto/For tell that the patron used https
    # (cookies are then Secure); waitress drops those headers from anyone else
    behind = dict(trusted_proxy=proxy, trusted_proxy_headers={"x-forwarded-proto", "x-forwarded-for"},
                  clear_untrusted_proxy_headers=True) if proxy else {}
    waitress.serve(app, host=host, port=port, threads=threads, ident="unioncat", **behind)


def load_openapi() -> dict:
    return json.loads(resources.files("unionapi").joinpath("openapi.json").read_text("utf-8"))


# -- on every answer ----------------------------------------------------------------------------
def bad_request(exc: BadRequest):
    return jsonify(error=exc.error, message=exc.message), exc.status


def search_down(exc: SearchUnavailable):
    return jsonify(error="search_unavailable", message=str(exc)), 503


def http_error(exc: HTTPException):
    if not request.path.startswith("/api/"):
        return exc  # pages: the plain HTML error page
    response = jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description)
    for name, value in exc.get_headers():  # e.g. Allow on a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, exc.code


@api.errorhandler(Busy)
def busy(exc: Busy):
    """A decision while the catalogue is being updated: refused at once, never queued behind a rebuild."""
    response = jsonify(error="busy", message=f"the catalogue is being updated ({exc}); nothing was changed, "
                                             f"try again in {BUSY_RETRY_S} seconds")
    response.headers["Retry-After"] = str(BUSY_RETRY_S)
    return response, 503


def security_headers(response):
    """On every answer: API, pages, errors, /metrics."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def start_timer():
    g.started = time.perf_counter()


def record_latency(response):
    if request.url_rule is not None and "started" in g:
        current_app.extensions["unioncat.metrics"].observe(request.url_rule.rule, time.perf_counter() - g.started)
    return response


# -- helpers of the views -----------------------------------------------------------------------
def token_required(view):
    """Writes need an API token (the configuration, and so the tokens, can be reloaded while serving)."""
    return require_token(lambda: current_services().config.settings.api_tokens)(view)


def is_admin() -> bool:
    """The request carries a valid API token (admins see more of a failed harvest)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return bool(scheme.lower() == "bearer" and token.strip()
                and who_holds(token.strip(), current_services().config.settings.api_tokens))


def body(allowed: tuple[str, ...]) -> dict:
    """The JSON body of a write, with only the ``allowed`` fields (no body at all: nothing to say)."""
    data = request.get_json(silent=True)
    if data is None and request.content_length:
        raise BadRequest("the request body must be JSON, e.g. {\"comment\": \"...\"}")
    return parse_body(data, allowed)


def ref(library_id: str) -> dict:
    return library_ref(current_services().config, library_id)


def run_view(run: dict, full: bool) -> dict:
    return {**run, "error": public_error(run.get("error"), full)}


def side(record_id: str) -> dict | None:
    services = current_services()
    record = services.catalogue.load([record_id]).get(record_id)
    return ({**record.to_dict(), "library_name": ref(record.library)["name"],
             "entry_id": services.catalogue.entry_of(record_id)} if record else None)


def full_report(report: dict) -> dict:
    return {**report, "records": [side(report["a"]), side(report["b"])]}


def not_found(message: str):
    return jsonify(error="not_found", message=message), 404


# -- reading --------------------------------------------------------------------------------------
@api.get("/metrics")
def prometheus():
    return current_app.response_class(current_app.extensions["unioncat.metrics"].render(),
                                      mimetype="text/plain; version=0.0.4")


@api.get("/api/health")
def health():
    services = current_services()
    return jsonify(status="ok", engine=services.engine.name, entries=services.engine.count(),
                   config_error=services.config_error)


@api.get("/api/openapi.json")
def openapi():
    return current_app.response_class(resources.files("unionapi").joinpath("openapi.json").read_bytes(),
                                      mimetype="application/json")


@api.get("/api/search")
def search():
    services = current_services()
    search_request = parse_search(request.args, services.config.settings.max_page_size, services.config.network)
    result = services.engine.search(search_request)
    hits = [{**hit, "libraries": [ref(i) for i in hit["libraries"]],
             "available_libraries": [ref(i) for i in hit["available_libraries"]],
             "url": f"/api/records/{hit['id']}"} for hit in result.hits]
    facets = dict(result.facets)
    facets["library"] = [{**f, "label": ref(f["value"])["name"]} for f in facets["library"]]
    return jsonify(query=search_echo(search_request), total=result.total, page=search_request.page,
                   size=search_request.size, hits=hits, facets=facets)


@api.get("/api/entries/<entry_id>")
@api.get("/api/records/<entry_id>")
def record(entry_id: str):
    services = current_services()
    members = services.catalogue.members(entry_id)
    if not members:
        return not_found(f"no union entry with id '{entry_id}'")
    document = summary(entry_document(entry_id, members, services.config.network))
    document["libraries"] = [ref(i) for i in document["libraries"]]
    document["available_libraries"] = [ref(i) for i in document["available_libraries"]]
    document["members"] = [{**m.to_dict(), "library_name": ref(m.library)["name"]} for m in members]
    document["holdings"] = actions.group_holdings(members, services)
    return jsonify(document)


@api.get("/api/libraries")
def network():
    full = is_admin()
    return jsonify(libraries=[library_view(row, full) for row in actions.network_status(current_services())])


@api.get("/api/libraries/<library_id>")
def one_library(library_id: str):
    """One library; a former id answers for the library that replaced it (``id`` says which), a divided one
    with 409 and the libraries it went to."""
    services = current_services()
    now = services.config.network.resolve(library_id)
    if not now:
        return not_found(f"no library with id '{library_id}'; see /api/libraries")
    if len(now) > 1:
        return jsonify(error="conflict", message=f"'{library_id}' was divided between {', '.join(now)}",
                       libraries=[ref(i) for i in now]), 409
    row = next(row for row in actions.network_status(services) if row.library.id == now[0])
    return jsonify(library_view(row, is_admin()))


def library_view(row, full: bool) -> dict:
    """A library in /api/libraries: its harvests, its records (with those of the libraries it replaced,
    and ``records_in_tree`` with every library under it) and its history (``replaces``, ``valid_from``)."""
    history = current_services().config.network.history(row.library.id)
    return {
        "id": row.library.id, "name": row.library.name, "kind": row.library.kind, "parent": row.library.parent,
        "protocol": row.library.protocol, "enabled": row.library.enabled, "last_success": row.last_success,
        "last_failure": row.last_failure and {**row.last_failure,
                                              "error": public_error(row.last_failure["error"], full)},
        "last_run": row.last_run and {k: run_view(row.last_run, full)[k]
                                      for k in ("started_at", "ended_at", "outcome", "error", "note", "warning")},
        "warning": row.warning, "next_run": row.next_run, "record_count": row.record_count,
        "records_in_tree": row.records_in_tree, "valid_from": row.library.valid_from,
        "replaces": history, "harvested_as": row.library.storage_id, "directory": directory_view(row.library)}


def directory_view(library) -> dict | None:
    """Where the library is and when it opens (sources.yaml's directory), with "open now" in its time zone."""
    d = getattr(library, "directory", None)
    if d is None or d.empty:
        return None
    hours = None if d.hours is None else {
        day: [f"{start // 60}:{start % 60:02d}-{(end // 60) % 24}:{end % 60:02d}" for start, end in d.hours[k]]
        for k, day in enumerate(DAYS)}
    return {"address": d.address, "commune": d.commune, "phone": d.phone, "email": d.email, "website": d.website,
            "hours": hours, "closed": list(d.closed), "timezone": d.timezone, "lat": d.lat, "lon": d.lon,
            "open_now": d.is_open(datetime.now(timezone.utc))}


@api.get("/api/harvests")
def harvests():
    services, library = current_services(), request.args.get("library")
    if library and not services.config.network.resolve(library):
        raise UnknownLibrary(library)
    if library in services.config.libraries:
        library = services.config.libraries[library].storage_id  # a renamed library's harvests go on there
    limit = parse_whole_number("limit", request.args.get("limit", "50"), 1000)
    full = is_admin()
    return jsonify(harvests=[run_view(r, full) for r in services.raw.runs(library, limit=limit, detail=full)])


@api.get("/api/libraries/<library_id>/quality")
def quality(library_id: str):
    services = current_services()
    if not services.config.network.resolve(library_id):
        return not_found(f"no library with id '{library_id}'")
    report, full = quality_report(services, library_id, examples=5), is_admin()
    for example in report.get("quarantined", {}).get("examples", []):
        example["reason"] = public_error(example.get("reason"), full)
    return jsonify(report)


# -- deduplication: explanations, duplicate reports, cataloguers' decisions -----------------------
@api.get("/api/entries/<entry_id>/why")
def why(entry_id: str):
    members = current_services().catalogue.members(entry_id)
    if not members:
        return not_found(f"no union entry with id '{entry_id}'")
    return jsonify(id=entry_id, members=[m.record_id for m in members], edges=current_clusters().why(entry_id))


@api.get("/api/matcher")
def matcher():
    """The weights in force and how the matcher decides the pairs cataloguers decided."""
    found = current_clusters()
    model, labels = found.model, found.labels()
    records = current_services().catalogue.load_for_matching(sorted({x for lab in labels for x in (lab.a, lab.b)}))
    return jsonify(name=model.name, fingerprint=model.fingerprint, same_at=model.same_at,
                   doubtful_at=model.doubtful_at, trained_on=model.trained_on,
                   weights={f: {lv: {"weight": w, "en": label(f"{f}.{lv}", "en"), "vi": label(f"{f}.{lv}", "vi")}
                                for lv, w in levels.items()} for f, levels in model.weights.items()},
                   decisions=len(labels),
                   agreement=agreement(model, list(records.values()), labels, found.constraints().blocked))


@api.get("/api/duplicates")
def duplicates():
    library, status = request.args.get("library"), request.args.get("status", "open")
    network = current_services().config.network
    if library and not network.resolve(library):
        raise UnknownLibrary(library)
    if status not in ("open", "merged", "rejected", "gone"):
        raise BadRequest(f"'status' is one of open, merged, rejected, gone; got '{status}'")
    page = parse_whole_number("page", request.args.get("page", "1"), 1000)
    sources = network.filter_ids(library) if library else None  # its records, and its former libraries'
    reports = current_clusters().reports(library=sources, status=status, limit=50, offset=(page - 1) * 50)
    return jsonify(duplicates=[full_report(r) for r in reports], page=page)


@api.get("/api/duplicates/<id:report_id>")
def duplicate(report_id: int):
    report = current_clusters().report(report_id)
    if report is None:
        return not_found(f"no duplicate report {report_id}")
    return jsonify(full_report(report))


@api.post("/api/duplicates/<id:report_id>/merge")
@token_required
def merge(report_id: int):
    return decide_report(report_id, "merge")


@api.post("/api/duplicates/<id:report_id>/reject")
@token_required
def reject(report_id: int):
    return decide_report(report_id, "reject")


def decide_report(report_id: int, action: str):
    data = body(("comment",))
    decision_id = actions.decide_report(current_services(), report_id, action, g.who, data.get("comment"))
    clusters = current_clusters()
    return jsonify(decision=clusters.decision(decision_id), report=full_report(clusters.report(report_id)))


@api.post("/api/entries/<entry_id>/split")
@token_required
def split(entry_id: str):
    data = body(("record_id", "comment"))
    decision_id = actions.split(current_services(), entry_id, data.get("record_id"), g.who, data.get("comment"))
    return jsonify(decision=current_clusters().decision(decision_id))


@api.post("/api/identifiers/block")
@token_required
def block():
    data = body(("isbn", "prefix", "comment"))
    isbn, prefix = parse_block(data)
    decision_id = actions.block(current_services(), isbn, prefix, g.who, data.get("comment"))
    return jsonify(decision=current_clusters().decision(decision_id))


@api.get("/api/decisions")
def decisions():
    return jsonify(decisions=current_clusters().decisions(limit=200))


@api.post("/api/decisions/<id:decision_id>/undo")
@token_required
def undo(decision_id: int):
    body(())
    return jsonify(decision=actions.undo(current_services(), decision_id, g.who))


# -- admin: run a harvest now, rebuild the index, reload the configuration -------------------------
@api.post("/api/admin/harvest/<library_id>")
@token_required
def harvest_now(library_id: str):
    services = current_services()
    if len(services.config.network.resolve(library_id)) != 1:
        return not_found(f"no library with id '{library_id}'")
    library_id = services.config.library(library_id).id  # a former id: the library that replaced it
    full = parse_flag("full", request.args.get("full", "false"))
    if not start_harvest(services, library_id, full=full, who=g.who):
        return jsonify(error="busy", message=f"{library_id} is being harvested already; see "
                                             f"/api/harvests?library={library_id}"), 409
    return jsonify(library=library_id, status="started", history=f"/api/harvests?library={library_id}"), 202


@api.post("/api/admin/reindex")
@token_required
def reindex():
    log.info("index rebuild requested by %s", g.who)
    return jsonify(status=current_app.extensions["unioncat.rebuilds"].request(), status_url="/api/admin/reindex"), 202


@api.get("/api/admin/reindex")
@token_required
def reindex_status():
    return jsonify(current_app.extensions["unioncat.rebuilds"].state())


@api.post("/api/admin/reload")
@token_required
def reload_config():
    services = current_services()
    error = reload(services, current_app.extensions["unioncat.scheduler"], services.config_dir, services.sources_file)
    if error:
        return jsonify(error="bad_configuration", message=f"not reloaded, the previous configuration stays: "
                                                          f"{error}"), 400
    return jsonify(status="reloaded", libraries=len(services.config.libraries))


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
