"""Shared test helpers: paths, a config written to a temp folder, a free port, a running API."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
THIRD_PARTY = REPO / "tests" / "data" / "third_party"  # real public test data, one folder per origin (see its README)
SCHEMAS = THIRD_PARTY / "schemas"  # the public XML schemas (OAI-PMH 2.0, MARC21 slim, oai_dc...), kept offline


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(folder: Path, libraries: list[dict], **settings) -> Path:
    """A config folder (sources.yaml + settings.yaml) with its data directory inside ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    # every peer in the tests is on 127.0.0.1: a private address a harvest must be allowed to reach
    base = {"data_dir": str(folder / "data"),
            "harvest": {"max_retries": 2, "backoff_s": 0.05, "allow_private_addresses": True},
            # no Zebra of the union catalogue unless a test asks for one (publish={"z3950": {...}})
            "publish": {"z3950": {"enabled": False}}}
    for key, value in settings.items():
        base[key] = {**base[key], **value} if key == "harvest" else value
    (folder / "settings.yaml").write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    (folder / "sources.yaml").write_text(yaml.safe_dump({"libraries": libraries}, allow_unicode=True),
                                         encoding="utf-8")
    return folder


def oai_library(library_id: str, endpoint: str, prefix: str = "oai_dc", **extra) -> dict:
    entry = {"id": library_id, "name": f"Thư viện {library_id}", "kind": "district", "protocol": "oai",
             "endpoint": endpoint, "metadata_prefix": prefix, "schedule": "0 2 * * *"}
    entry.update(extra)
    return entry


def reconcile(config, library_id: str, raw=None, update: bool = True) -> dict:
    """After a fault: the rest of the chain as `unioncat index` runs it (normalize -> deduplicate -> index,
    ``update_catalogue``) over ``config``'s stores, then `unioncat check` for one library.

    Returns check's report (``ok``, the counts, what differs) with ``text``: the sentences the CLI prints.
    ``raw``: a raw store the test already holds open (it stays open); by default the one in the data dir.
    """
    from harvester.rawstore import RawStore
    from unionapi.catalogue import Catalogue
    from unionapi.check import check_library, format_check
    from unionapi.pipeline import update_catalogue
    from unionapi.search import open_engine
    from unionapi.services import Services
    data = Path(config.settings.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    services = Services(config=config, raw=raw or RawStore(data / "raw.sqlite3"),
                        catalogue=Catalogue(data / "catalogue.sqlite3"), engine=open_engine(config.settings))
    try:
        if update:
            update_catalogue(services)
        report = check_library(services, config.library(library_id))
    finally:
        services.catalogue.close()
        if raw is None:
            services.raw.close()
    report["text"] = format_check(report)
    return report


def assert_consistent(report: dict, records: int | None = None) -> None:
    """check says consistent, and the numbers say so too: source = raw store = catalogue, entries = indexed."""
    assert report["ok"] and report["text"].splitlines()[0].endswith("consistent"), report["text"]
    assert report["source"] == report["raw"] == report["catalogue"] + report["rejected"], report["text"]
    assert report["entries"] == report["indexed_entries"] > 0, report["text"]
    if records is not None:
        assert report["source"] == records, report["text"]


def conforms(body: dict, schema_name: str) -> None:
    """The response matches the schema the API's OpenAPI document promises."""
    import jsonschema

    from unionapi.app import load_openapi
    components = load_openapi()["components"]
    jsonschema.validate(body, {"$ref": f"#/components/schemas/{schema_name}", "components": components})


class ApiServer:
    """``unioncat serve`` as a real process, as a user would run it."""

    def __init__(self, config_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(config_dir / "serve.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "serve", "--port", str(self.port)],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
            if self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the API did not start: {(config_dir / 'serve.log').read_text(errors='replace')}")

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(self.url + path, params=params, timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture
def api_server():
    servers = []

    def start(config_dir: Path) -> ApiServer:
        server = ApiServer(config_dir)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# One OpenSearch node per session for every module that asks for it (imported into each module, a session
# fixture would start one node per module).
from tests.opensearch import opensearch_url  # noqa: E402,F401


def local_schema(*namespaces: tuple[str, str]):
    """One validator for several standards: ``(namespace, file name)`` pairs, each imported from its
    local copy in SCHEMAS; every schemaLocation (relative, or a URL such as simpledc's xml.xsd) is
    answered from the copy of the same name, and lxml fetches nothing (a schema not kept there is a
    LookupError). An OAI-PMH response checks its <metadata> strictly: it needs MARC21 slim and oai_dc too."""
    from lxml import etree

    class LocalSchemas(etree.Resolver):
        def resolve(self, url, pubid, context):
            local = SCHEMAS / url.rsplit("/", 1)[-1]
            if not local.is_file():
                raise LookupError(f"schema {url} is not kept in {SCHEMAS}: add it there (with SOURCES)")
            return self.resolve_filename(str(local), context)

    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(LocalSchemas())
    driver = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
              + "".join(f'<xs:import namespace="{ns}" schemaLocation="{name}"/>' for ns, name in namespaces)
              + "</xs:schema>")
    return etree.XMLSchema(etree.fromstring(driver.encode(), parser, base_url=SCHEMAS.as_uri() + "/"))


def demo_catalogue(folder: Path, records: int = 1000) -> dict:
    """The demo network's ``records`` records through the real normalizer and matcher, with no
    providers: each library's records go straight into the raw store as its protocol would deliver
    them. Returns config_dir, config, raw, catalogue and the entries' search documents (the caller
    closes raw and catalogue)."""
    from config import load_config
    from harvester.rawstore import RawStore
    from unionapi.catalogue import Catalogue
    from unionapi.demo.network import DEMO_SEED, generate_network
    from unionapi.pipeline import deduplicate_changes, normalize_changes
    from unionapi.search import entry_document
    generated = generate_network(DEMO_SEED, total_records=records)
    libraries = yaml.safe_load((REPO / "config" / "demo-sources.yaml").read_text(encoding="utf-8"))["libraries"]
    config_dir = write_config(folder / "config", libraries)
    config = load_config(config_dir)
    data = config.settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    raw, catalogue = RawStore(data / "raw.sqlite3"), Catalogue(data / "catalogue.sqlite3")
    for library in config.libraries.values():
        prefix = library.metadata_prefix or "marc21"
        raw.store_page(library.id, [{"identifier": r.identifier, "datestamp": r.datestamp, "deleted": r.deleted,
                                     "sets": r.sets, "format": "oai_dc" if prefix == "oai_dc" else "marcxml",
                                     "body": None if r.deleted else r.metadata[prefix].encode("utf-8")}
                                    for r in generated[library.id]], None)
    normalize_changes(config, raw, catalogue)
    deduplicate_changes(config, catalogue)
    members = catalogue.members_of(list(catalogue.all_entry_ids()))
    documents = [entry_document(entry_id, records) for entry_id, records in members.items() if records]
    return {"config_dir": config_dir, "config": config, "raw": raw, "catalogue": catalogue, "documents": documents}


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (tests/browser.py) for one test module; screenshots go to test-artifacts/."""
    from tests.browser import SCREENSHOTS, start_chromium, stop_chromium
    driver = start_chromium()
    driver.implicitly_wait(0)
    driver.set_script_timeout(60)
    yield driver
    stop_chromium(driver)
    print(f"\nscreenshots: {SCREENSHOTS}")


def embedded_schema_before_sru():
    """The embedded engine's tantivy schema as it was before fielded search (SRU, issue 21): for tests
    of an index made by an older unioncat."""
    import tantivy
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in ("title", "title_exact", "authors", "authors_exact", "all", "all_exact"):
        builder.add_text_field(name, stored=False, tokenizer_name="default")
    for name in ("library", "lang", "type", "subject", "available"):
        builder.add_text_field(name, stored=False, tokenizer_name="raw", fast=True)
    builder.add_text_field("isbn", stored=False, tokenizer_name="raw")
    builder.add_integer_field("year", stored=False, indexed=True, fast=True)
    builder.add_bytes_field("summary", stored=True, indexed=False, fast=False)
    return builder.build()
