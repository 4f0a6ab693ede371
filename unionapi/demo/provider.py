"""A real OAI-PMH 2.0 data provider for one demo catalogue, built on pyoai's server.

    python -m unionapi.demo.provider --data tv-tinh.jsonl --port 8101 [--page-size 50]

Serves ``http://HOST:PORT/oai`` under waitress, re-reads the data file when it changes (so a
test can edit a catalogue between harvests), prints ``ready <url>`` once listening and then
keeps quiet. One process can also serve several catalogues, each a repository of its own at
``/<slug>/oai`` (``--repositories FILE``, a JSON object ``{slug: {"data": path, "name": ...,
"formats": [...]}}``; the ready line then gives ``http://HOST:PORT/``): a benchmark of a whole
province does not need a process per library.

pyoai 2.5.0 needs three fixes on Python 3.11, applied below: ``cgi.parse_qs`` is gone (every
resumptionToken request would fail with HTTP 500), a malformed token must give
badResumptionToken rather than a crash, and the last page of a resumed list must carry an
empty resumptionToken (OAI-PMH 2.0, 3.5).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import urllib.parse
import warnings
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import cgi
    except ImportError:  # Python 3.13 removed the module; pyoai only needs parse_qs from it
        cgi = sys.modules["cgi"] = types.ModuleType("cgi")
cgi.parse_qs = urllib.parse.parse_qs  # pyoai calls cgi.parse_qs, removed in Python 3.8

from lxml import etree  # noqa: E402

with warnings.catch_warnings():  # pyoai imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    from oaipmh import common, error, metadata, server  # noqa: E402

from unionapi.demo.network import SET_NAMES, ProviderRecord  # noqa: E402

FORMATS = {
    "marc21": ("http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd",
               "http://www.loc.gov/MARC21/slim"),
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
               "http://www.openarchives.org/OAI/2.0/oai_dc/"),
}
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
_TOKEN_KEYS = {"metadataPrefix", "set", "from_", "until", "batch_size"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


# --------------------------------------------------------------------------- pyoai patches
_pyoai_decode = server.decodeResumptionToken


def _strict_decode(token):
    """pyoai turns a token with a bad date or stray keys into HTTP 500; make it badResumptionToken."""
    try:
        kw, cursor = _pyoai_decode(token)
    except error.BadResumptionTokenError:
        raise
    except Exception:
        raise error.BadResumptionTokenError(f"Unable to decode resumption token: {token}")
    if cursor < 0 or "metadataPrefix" not in kw or not set(kw) <= _TOKEN_KEYS:
        raise error.BadResumptionTokenError(f"Invalid resumption token: {token}")
    return kw, cursor


server.decodeResumptionToken = _strict_decode


class _TreeServer(server.XMLTreeServer):
    def _outputResuming(self, element, input_func, output_func, kw):
        super()._outputResuming(element, input_func, output_func, kw)
        if "resumptionToken" in kw and element.find(server.nsoai("resumptionToken")) is None:
            etree.SubElement(element, server.nsoai("resumptionToken"))  # end of a resumed list


class OAIServer(server.BatchingServer):
    def __init__(self, catalogue, registry, page_size):
        super().__init__(catalogue, registry, resumption_batch_size=page_size)
        self._tree_server = _TreeServer(self._tree_server._server, registry)


def _payload_writer(element, payload: str):
    """The stored payload is already the XML of the format: parse it and put it under <metadata>."""
    element.append(etree.fromstring(payload.encode("utf-8"), _PARSER))


# --------------------------------------------------------------------------- the catalogue
def _parse_stamp(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")  # naive UTC, as pyoai wants


def _record_order(pair) -> tuple:
    """Lists go in local-number order, like Koha's biblionumber order: an edit during a harvest
    moves a datestamp but not a record's place, so the stateless cursor skips nothing."""
    identifier = pair[1].identifier
    number = re.search(r"(\d+)$", identifier)
    return (identifier[:number.start()] if number else identifier,
            int(number.group(1)) if number else -1, identifier)


class _Payloads(Mapping):
    """One record's payloads (prefix -> XML), read from the data file when a page asks for them.

    A province's catalogues would not fit in memory beside the harvester on one machine, and a
    real library's server reads its records from its database too. The open file is shared by
    the snapshot's records, so a file replaced by rename keeps serving the old snapshot until the
    new one is loaded."""

    __slots__ = ("_file", "_offset", "_length", "_prefixes")

    def __init__(self, file, offset: int, length: int, prefixes: tuple[str, ...]):
        self._file, self._offset, self._length, self._prefixes = file, offset, length, prefixes

    def __getitem__(self, prefix: str) -> str:
        if prefix not in self._prefixes:
            raise KeyError(prefix)
        return json.loads(os.pread(self._file.fileno(), self._length, self._offset))["metadata"][prefix]

    def __contains__(self, prefix) -> bool:
        return prefix in self._prefixes

    def __iter__(self):
        return iter(self._prefixes)

    def __len__(self) -> int:
        return len(self._prefixes)


def _read_records(path) -> list[ProviderRecord]:
    """The records of a data file, their payloads left on disk."""
    records, shared = [], {}  # shared: one tuple for every equal list of prefixes or sets
    file = open(path, "rb")
    offset = 0
    for line in file:
        if line.strip():
            d = json.loads(line)
            prefixes = shared.setdefault(tuple(d["metadata"]), tuple(d["metadata"]))
            sets = shared.setdefault(tuple(d["sets"]), tuple(d["sets"]))
            records.append(ProviderRecord(d["identifier"], d["datestamp"], d["deleted"], sets,
                                          _Payloads(file, offset, len(line), prefixes)))
        offset += len(line)
    return records


class _Snapshot:
    def __init__(self, records: list[ProviderRecord]):
        self.records = sorted(((_parse_stamp(r.datestamp), r) for r in records), key=_record_order)
        self.by_id = {r.identifier: (dt, r) for dt, r in self.records}
        self.earliest = min(self.by_id[i][0] for i in self.by_id) if records else datetime(2026, 1, 1)
        specs = sorted({s for _, r in self.records for s in r.sets})
        self.sets = [(s, SET_NAMES.get(s, s), None) for s in specs]
        self.prefixes = sorted({p for _, r in self.records for p in r.metadata})


class Catalogue:
    """IBatchingOAI over a JSON-lines file, reloaded whenever the file changes."""

    def __init__(self, data_path, name: str, formats: list[str] | None = None):
        self.path = Path(data_path)
        self.name = name
        self.base_url = "http://127.0.0.1/oai"
        self._lock = threading.Lock()
        self._signature = None
        self._snap = _Snapshot([])
        self._load()
        self.formats = formats or [p for p in FORMATS if p in self._snap.prefixes] or ["oai_dc"]

    # -- data
    def _load(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # keep what we have; the file may be in the middle of a rename
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature == self._signature:
            return
        with self._lock:
            if signature == self._signature:
                return
            try:
                self._snap = _Snapshot(_read_records(self.path))
                self._signature = signature
            except (ValueError, KeyError) as exc:
                print(f"cannot read {self.path}: {exc}", file=sys.stderr, flush=True)

    def snapshot(self) -> _Snapshot:
        self._load()
        return self._snap

    # -- IBatchingOAI
    def identify(self):
        snap = self.snapshot()
        ident = common.Identify(
            repositoryName=self.name, baseURL=self.base_url, protocolVersion="2.0",
            adminEmails=[f"thuvien@{self._repository_id(snap) or 'localhost'}"],
            earliestDatestamp=snap.earliest, deletedRecord="persistent",
            granularity=GRANULARITY, compression=["identity"], toolkit_description=False)
        repo = self._repository_id(snap)
        if repo:
            sample = snap.records[0][1].identifier
            ident.add_description(
                '<oai-identifier xmlns="http://www.openarchives.org/OAI/2.0/oai-identifier" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation='
                '"http://www.openarchives.org/OAI/2.0/oai-identifier '
                'http://www.openarchives.org/OAI/2.0/oai-identifier.xsd">'
                f"<scheme>oai</scheme><repositoryIdentifier>{repo}</repositoryIdentifier>"
                f"<delimiter>:</delimiter><sampleIdentifier>{sample}</sampleIdentifier>"
                "</oai-identifier>")
        return ident

    @staticmethod
    def _repository_id(snap: _Snapshot) -> str | None:
        if not snap.records:
            return None
        parts = snap.records[0][1].identifier.split(":")
        return parts[1] if len(parts) >= 3 and parts[0] == "oai" else None

    def listMetadataFormats(self, identifier=None):
        prefixes = self.formats
        if identifier is not None:
            found = self.snapshot().by_id.get(identifier)
            if found is None:
                raise error.IdDoesNotExistError(f"Id does not exist: {identifier}")
            if not found[1].deleted:
                prefixes = [p for p in prefixes if p in found[1].metadata]
                if not prefixes:
                    raise error.NoMetadataFormatsError(f"No formats for {identifier}")
        return [(p, *FORMATS[p]) for p in prefixes]

    def listSets(self, cursor=0, batch_size=10):
        snap = self.snapshot()
        if not snap.sets:
            raise error.NoSetHierarchyError("This repository does not support sets.")
        return snap.sets[cursor:cursor + batch_size]

    def getRecord(self, metadataPrefix, identifier):
        self._check_prefix(metadataPrefix)
        found = self.snapshot().by_id.get(identifier)
        if found is None:
            raise error.IdDoesNotExistError(f"Id does not exist: {identifier}")
        dt, rec = found
        if not rec.deleted and metadataPrefix not in rec.metadata:
            raise error.CannotDisseminateFormatError(
                f"{identifier} is not available as {metadataPrefix}")
        return self._header(dt, rec), rec.metadata.get(metadataPrefix), None

    def listIdentifiers(self, metadataPrefix, set=None, from_=None, until=None, cursor=0,
                        batch_size=10):
        return [self._header(dt, rec) for dt, rec in
                self._select(metadataPrefix, set, from_, until, cursor, batch_size)]

    def listRecords(self, metadataPrefix, set=None, from_=None, until=None, cursor=0,
                    batch_size=10):
        return [(self._header(dt, rec), rec.metadata.get(metadataPrefix), None) for dt, rec in
                self._select(metadataPrefix, set, from_, until, cursor, batch_size)]

    # -- helpers
    def _check_prefix(self, prefix):
        if prefix not in self.formats:
            raise error.CannotDisseminateFormatError(f"Unknown metadata format: {prefix}")

    @staticmethod
    def _header(dt, rec):
        return common.Header(None, rec.identifier, dt, rec.sets, rec.deleted)

    def _select(self, prefix, set_spec, from_, until, cursor, batch_size):
        self._check_prefix(prefix)
        if from_ is not None and until is not None and from_ > until:
            raise error.BadArgumentError("'from' is later than 'until'.")
        snap = self.snapshot()
        if set_spec is not None and not snap.sets:
            raise error.NoSetHierarchyError("This repository does not support sets.")
        cursor = int(cursor)
        picked = [(dt, rec) for dt, rec in snap.records
                  if (rec.deleted or prefix in rec.metadata)
                  and (set_spec is None or set_spec in rec.sets)
                  and (from_ is None or dt >= from_) and (until is None or dt <= until)]
        page = picked[cursor:cursor + batch_size]
        if cursor and not page:
            raise error.BadResumptionTokenError("The resumption token is past the end of the list.")
        return page


# --------------------------------------------------------------------------- WSGI
_VERBS = {"Identify", "ListMetadataFormats", "ListSets", "ListIdentifiers", "ListRecords",
          "GetRecord"}


def make_app(catalogue: Catalogue, page_size: int = 50, verbose: bool = False):
    registry = metadata.MetadataRegistry()
    for prefix in catalogue.formats:
        registry.registerWriter(prefix, _payload_writer)
    oai = OAIServer(catalogue, registry, page_size)

    def oai_error(exc) -> bytes:
        return oai.handleException({}, (type(exc), exc, None))

    def app(environ, start_response):
        started = time.monotonic()
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.rstrip("/") != "/oai":
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Not found: the OAI-PMH endpoint is /oai\n"]
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            query = environ["wsgi.input"].read(length).decode("utf-8", "replace")
        elif method in ("GET", "HEAD"):
            query = environ.get("QUERY_STRING", "")
        else:
            start_response("405 Method Not Allowed", [("Allow", "GET, POST")])
            return [b""]
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        args = dict(pairs)
        status = "200 OK"
        try:
            if len(args) != len(pairs):
                body = oai_error(error.BadArgumentError("Repeated arguments are not allowed."))
            elif args.get("verb") not in _VERBS:  # pyoai also answers a private 'GetMetadata'
                body = oai_error(error.BadVerbError(f"Illegal verb: {args.get('verb')}"))
            else:
                body = oai.handleRequest(args)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            status, body = "500 Internal Server Error", b"Internal server error\n"
        if verbose:
            print(f"{method} {path}?{query} {status[:3]} {len(body)}B "
                  f"{(time.monotonic() - started) * 1000:.0f}ms", file=sys.stderr, flush=True)
        ctype = "text/xml; charset=utf-8" if status.startswith("200") else "text/plain"
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [b""] if method == "HEAD" else [body]

    return app


_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def make_multi_app(apps: dict):
    """Dispatch ``/<slug>/oai`` to that repository's app (which sees ``/oai``)."""
    def app(environ, start_response):
        slug, _, rest = environ.get("PATH_INFO", "").lstrip("/").partition("/")
        target = apps.get(slug)
        if target is None:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"Not found: the repositories are /<slug>/oai for {', '.join(sorted(apps))}\n".encode()]
        environ = dict(environ, PATH_INFO="/" + rest, SCRIPT_NAME=environ.get("SCRIPT_NAME", "") + "/" + slug)
        return target(environ, start_response)
    return app


def _read_repositories(path, ap) -> dict:
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        ap.error(f"cannot read the repositories file {path}: {exc}")
    if not isinstance(spec, dict) or not spec:
        ap.error(f"{path}: expected a JSON object {{slug: {{\"data\": path, \"name\": ..., \"formats\": [...]}}}}")
    for slug, entry in spec.items():
        if not _SLUG.match(slug) or not isinstance(entry, dict) or "data" not in entry:
            ap.error(f"{path}: repository {slug!r}: expected a slug of letters, digits, '.', '_', '-' and "
                     f"{{\"data\": path, ...}}")
        if not Path(entry["data"]).is_file():
            ap.error(f"{path}: repository {slug!r}: no data file {entry['data']}")
        for f in entry.get("formats") or []:
            if f not in FORMATS:
                ap.error(f"{path}: repository {slug!r}: unknown format {f!r}; known: {', '.join(FORMATS)}")
    return spec


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m unionapi.demo.provider",
                                 description="Serve one demo catalogue (or several) over OAI-PMH 2.0.")
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="JSON-lines file of ProviderRecords")
    source.add_argument("--repositories", metavar="FILE", help="JSON {slug: {data, name, formats}}: serve each "
                        "catalogue at /<slug>/oai")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--page-size", type=int, default=50)
    ap.add_argument("--name", default=None, help="repositoryName (default: from the file name)")
    ap.add_argument("--formats", default=None, help="e.g. marc21,oai_dc (default: as in the data)")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each answer (a slow library server)")
    args = ap.parse_args(argv)

    from waitress.server import create_server

    formats = [f.strip() for f in args.formats.split(",") if f.strip()] if args.formats else None
    for f in formats or []:
        if f not in FORMATS:
            ap.error(f"unknown format {f!r}; known: {', '.join(FORMATS)}")
    if args.repositories:
        spec = _read_repositories(args.repositories, ap)
        catalogues = {slug: Catalogue(entry["data"], entry.get("name") or slug, entry.get("formats") or formats)
                      for slug, entry in spec.items()}
        app = make_multi_app({slug: make_app(c, args.page_size, args.verbose) for slug, c in catalogues.items()})
    else:
        if not Path(args.data).is_file():
            ap.error(f"no data file {args.data}")
        catalogue = Catalogue(args.data, args.name or Path(args.data).stem, formats)
        app = make_app(catalogue, args.page_size, args.verbose)
    if args.delay > 0:
        app = _slowly(app, args.delay)
    srv = create_server(app, host=args.host, port=args.port, threads=args.threads,
                        ident="unioncat-demo-oai")
    url_host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{url_host}:{srv.effective_port}"
    if args.repositories:
        for slug, c in catalogues.items():
            c.base_url = f"{base}/{slug}/oai"
        ready = f"{base}/"
    else:
        ready = catalogue.base_url = f"{base}/oai"
    for sig in (signal.SIGTERM, signal.SIGINT):  # SIGINT too: background jobs inherit it ignored
        signal.signal(sig, lambda *_: sys.exit(0))  # waitress closes on SystemExit
    print(f"ready {ready}", flush=True)
    # Stay quiet from here on: a parent that read the ready line may never read stdout again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    try:
        srv.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.close()


# --------------------------------------------------------------------------- for tests and the demo
class ProviderStartError(OSError):
    """The provider process did not come up (port taken, bad data file...); an OSError because
    callers already handle a busy port as one."""


class ProviderProcess:
    """A running provider subprocess: .url, .port, .stop(); also a context manager.

    Serving several repositories, .url is the server's root and .url_for(slug) a repository's base URL."""

    def __init__(self, proc: subprocess.Popen, url: str, log):
        self.proc = proc
        self.url = url
        self.port = urllib.parse.urlsplit(url).port
        self._log = log

    def url_for(self, slug: str) -> str:
        return f"{self.url.rstrip('/')}/{slug}/oai"

    def stop(self, timeout: float = 10) -> None:
        terminate(self.proc, timeout)
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def terminate(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a child process politely, then firmly."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


def _slowly(app, delay: float):
    """A district library's server on a slow line: every answer takes ``delay`` seconds longer."""
    def slow_app(environ, start_response):
        time.sleep(delay)
        return app(environ, start_response)
    return slow_app


def start_provider(data_path, port: int = 0, page_size: int = 50, name: str | None = None,
                   formats=None, host: str = "127.0.0.1", log_path=None,
                   timeout: float = 15, delay: float = 0.0) -> ProviderProcess:
    """Start ``python -m unionapi.demo.provider`` and wait for its ready line.

    With port=0 the child binds a free port itself and reports it, so there is no race.
    stderr goes to log_path (appended) or to an anonymous temporary file.
    """
    return _start(["--data", str(data_path)], data_path, port, page_size, name, formats, host, log_path,
                  timeout, delay)


def start_repositories(repositories: dict, spec_path, port: int = 0, page_size: int = 50, formats=None,
                       host: str = "127.0.0.1", log_path=None, timeout: float = 15,
                       delay: float = 0.0) -> ProviderProcess:
    """Serve several catalogues from one process: ``repositories`` is {slug: {"data": path,
    "name": repositoryName, "formats": [...]}}, written to ``spec_path`` for the child; each is
    then at ``.url_for(slug)``."""
    spec = {slug: {k: (str(v) if k == "data" else v) for k, v in entry.items()}
            for slug, entry in repositories.items()}
    Path(spec_path).write_text(json.dumps(spec, ensure_ascii=False, indent=1), encoding="utf-8")
    return _start(["--repositories", str(spec_path)], spec_path, port, page_size, None, formats, host,
                  log_path, timeout, delay)


def _start(source: list[str], data_path, port, page_size, name, formats, host, log_path, timeout,
           delay) -> ProviderProcess:
    cmd = [sys.executable, "-m", "unionapi.demo.provider", *source,
           "--port", str(port), "--host", host, "--page-size", str(page_size)]
    if name:
        cmd += ["--name", name]
    if delay:
        cmd += ["--delay", str(delay)]
    if formats:
        cmd += ["--formats", formats if isinstance(formats, str) else ",".join(formats)]
    log = open(log_path, "ab") if log_path else tempfile.TemporaryFile()
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                            env=env)
    deadline = time.monotonic() + timeout
    line = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
            reason = f"no ready line within {timeout} s"
            break
        line = proc.stdout.readline()
        if not line:
            reason = f"exited with code {proc.wait()}"
            break
        if line.startswith(b"ready "):
            return ProviderProcess(proc, line.decode().split(None, 1)[1].strip(), log)
    terminate(proc)
    tail = ""
    if not log_path:
        log.seek(0)
        tail = log.read()[-2000:].decode("utf-8", "replace")
    log.close()
    raise ProviderStartError(f"OAI provider for {data_path} did not start ({reason}): {tail}")


if __name__ == "__main__":
    main()
