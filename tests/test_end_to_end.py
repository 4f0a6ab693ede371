"""The whole chain over real sockets: demo providers -> harvest -> normalize -> index -> API over HTTP."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
import yaml
from lxml import etree

from config import load_config
from harvester import RawStore
from tests.conftest import REPO, conforms, write_config
from unionapi.demo.network import DEMO_SEED, as_iso2709, generate_network, load_records, save_records
from unionapi.demo.provider import start_provider
from unionapi.demo.zebra import ZebraServer
from unionapi.services import Services

MARC = "{http://www.loc.gov/MARC21/slim}"


def unioncat(config_dir, *args, check=True):
    return subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), *args],
                          cwd=REPO, capture_output=True, text=True, check=check, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """The demo network, smaller, each library served the way the demo serves it: four real OAI-PMH
    providers, a real Zebra (Z39.50) and a folder with a Libol export."""
    folder = tmp_path_factory.mktemp("network")
    generated = generate_network(DEMO_SEED, total_records=1000)
    demo = yaml.safe_load((REPO / "config" / "demo-sources.yaml").read_text(encoding="utf-8"))["libraries"]
    providers, libraries, zebras = {}, [], []
    for entry in demo:
        library_id = entry["id"]
        if entry["protocol"] == "oai":
            path = folder / f"{library_id}.jsonl"
            save_records(path, generated[library_id])
            formats = "marc21,oai_dc" if entry["metadata_prefix"] == "marc21" else "oai_dc"
            providers[library_id] = start_provider(path, port=0, page_size=7, formats=formats)
            libraries.append({**entry, "endpoint": providers[library_id].url})
        elif entry["protocol"] == "z3950":
            zebra = ZebraServer.start(folder / "zebra", as_iso2709(generated[library_id]), port=0)
            zebras.append(zebra)
            libraries.append({**entry, "port": zebra.port, "batch_size": 50})
        else:
            drop = folder / "drops" / library_id
            drop.mkdir(parents=True)
            export = drop / "export.mrc"
            export.write_bytes(b"".join(as_iso2709(generated[library_id])))
            os.utime(export, (time.time() - 3600,) * 2)  # written an hour ago: complete
            libraries.append({**entry, "path": str(drop)})
    config_dir = write_config(folder / "config", libraries)
    yield {"config_dir": config_dir, "providers": providers, "records": generated, "folder": folder}
    for provider in providers.values():
        provider.stop()
    for zebra in zebras:
        zebra.stop()


def expected_items(records, title_word: str) -> set[tuple]:
    """(branch code, barcode, status) of every 952 item of matching titles, read straight from MARC."""
    items = set()
    for record in records:
        if record.deleted or "marc21" not in record.metadata:
            continue
        root = etree.fromstring(record.metadata["marc21"].encode())
        title = " ".join(root.xpath("m:datafield[@tag='245']/m:subfield[@code='a']/text()",
                                    namespaces={"m": MARC[1:-1]}))
        if title_word not in title:
            continue
        for field in root.iterfind(f"{MARC}datafield[@tag='952']"):
            sub = {s.get("code"): (s.text or "").strip() for s in field.iterfind(f"{MARC}subfield")}
            flag = lambda code: sub.get(code, "") not in ("", "0")  # noqa: E731
            status = ("withdrawn" if flag("0") else "lost" if flag("1") else "on_loan" if sub.get("q")
                      else "not_for_loan" if flag("7") or flag("4") else "available")
            items.add((sub.get("b") or sub.get("a"), sub.get("p"), status))
    return items


def test_harvest_index_and_search_over_http(network, api_server):
    config_dir = network["config_dir"]
    run = unioncat(config_dir, "harvest")
    assert "harvest done" in run.stderr
    # source, raw store, catalogue and index agree for every library, whatever its protocol
    check = unioncat(config_dir, "check")
    assert check.stdout.count("consistent") == 6, check.stdout
    config = load_config(config_dir)
    server = api_server(config_dir)

    health = server.get("/api/health").json()
    assert health["status"] == "ok" and health["entries"] > 500

    # a patron types without diacritics and finds the book with them
    response = server.get("/api/search", q="truyen kieu")
    assert response.status_code == 200
    body = response.json()
    conforms(body, "SearchResult")
    top = body["hits"][0]
    assert top["title"].startswith("Truyện Kiều")
    assert "Nguyễn Du" in top["authors"]
    held_by = {lib["id"] for hit in body["hits"] if hit["title"].startswith("Truyện Kiều") for lib in hit["libraries"]}
    assert held_by == {"tv-tinh", "tv-kim-son", "tv-yen-mo", "thpt-lvt", "tv-hoa-lu", "thcs-ths"}
    assert {f["value"] for f in body["facets"]["library"]} >= held_by
    assert all(f["label"].startswith("Thư viện") for f in body["facets"]["library"])

    # the provincial library's record shows its items by branch, with the statuses in its 952s
    provincial = next(h for h in body["hits"] if h["title"].startswith("Truyện Kiều")
                      and any(lib["id"] == "tv-tinh" for lib in h["libraries"]))
    entry = server.get(provincial["url"]).json()
    conforms(entry, "Entry")
    holdings = next(lib for lib in entry["holdings"] if lib["id"] == "tv-tinh")
    assert holdings["name"] == "Thư viện tỉnh Sơn Nam" and holdings["as_of"]
    branch_names = config.library("tv-tinh").branches
    shown = {(branch["branch"], item["barcode"], item["status"]) for branch in holdings["branches"]
             for item in branch["items"]}
    member_ids = {m["record_id"].split(":", 1)[1] for m in entry["members"] if m["library"] == "tv-tinh"}
    tinh_records = [r for r in network["records"]["tv-tinh"] if r.identifier in member_ids]
    expected = {(branch_names.get(code, code), barcode, status)
                for code, barcode, status in expected_items(tinh_records, "Truyện Kiều")}
    assert shown == expected and len(expected) >= 1

    # however the name is typed (no marks, capitals, NFC, NFD), the same records are found
    import unicodedata
    found = [{h["id"] for h in server.get("/api/search", q=q, size=100).json()["hits"]}
             for q in ("nguyen du", "NGUYEN DU", "Nguyễn Du", unicodedata.normalize("NFD", "Nguyễn Du"))]
    assert found[0] and all(f == found[0] for f in found)

    # exact diacritics rank the exact word first: "dế" before "dê"
    for query, word in (("con dế", "dế"), ("con dê", "dê")):
        hits = server.get("/api/search", q=query).json()["hits"]
        assert hits and word in hits[0]["title"].lower().split()

    libraries = server.get("/api/libraries").json()
    for library in libraries["libraries"]:
        conforms(library, "Library")
        assert library["record_count"] > 0 and library["last_success"]
    assert {lib["id"]: lib["parent"] for lib in libraries["libraries"]}["thpt-lvt"] == "tv-tinh"
    quality = server.get("/api/libraries/tv-tinh/quality").json()
    conforms(quality, "QualityReport")
    assert quality["records"] == next(lib["record_count"] for lib in libraries["libraries"] if lib["id"] == "tv-tinh")

    # filters and facets agree: the library facet count is what the library filter returns
    facet = next(f for f in body["facets"]["library"] if f["value"] == "tv-yen-mo")
    filtered = server.get("/api/search", q="truyen kieu", library="tv-yen-mo").json()
    assert filtered["total"] == facet["count"]
    assert all(any(lib["id"] == "tv-yen-mo" for lib in h["libraries"]) for h in filtered["hits"])

    # listing everything again brings nothing new, and nothing is normalized or indexed again
    again = unioncat(config_dir, "harvest", "--full", "tv-kim-son")
    listed = len(network["records"]["tv-kim-son"])
    assert f"0 added, 0 updated, 0 deleted, {listed} unchanged" in again.stderr
    assert "normalizing" not in again.stderr and "indexing" not in again.stderr


def test_bad_parameters_and_unknown_ids(network, api_server):
    server = api_server(network["config_dir"])
    for params, fragment in (({"page": "zero"}, "'page' must be a whole number"),
                             ({"lang": ""}, "'lang' takes ISO 639-2 codes"),
                             ({"type": "cd"}, "unknown type 'cd'"),
                             ({"libary": "tv-tinh"}, "unknown parameter(s) libary")):
        response = server.get("/api/search", **params)
        assert response.status_code == 400, params
        conforms(response.json(), "Error")
        assert fragment in response.json()["message"]
    assert server.get("/api/search", size="5000").json()["size"] == 100  # capped, not refused
    unknown = server.get("/api/search", library="tv-nowhere")  # ids are configuration: not found, not malformed
    assert unknown.status_code == 404 and "unknown library 'tv-nowhere'" in unknown.json()["message"]
    swapped = server.get("/api/search", year_from="2020", year_to="1990").json()["query"]
    assert (swapped["year_from"], swapped["year_to"]) == (1990, 2020)
    too_deep = server.get("/api/search", page="500", size="100")  # a page that cannot be shown
    assert too_deep.status_code == 404 and "deeper than the first 10000" in too_deep.json()["message"]
    assert server.get("/api/libraries/tv-nowhere/quality").status_code == 404
    missing = server.get("/api/records/0000000000000000")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert server.get("/api/nothing-here").status_code == 404
    spec = server.get("/api/openapi.json").json()
    # every route the app serves is described, and nothing else
    from unionapi.app import create_app
    routes = {re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "{id}", str(rule))
              for rule in create_app(Services.open(load_config(network["config_dir"]))).url_map.iter_rules()
              if str(rule).startswith("/api/")}
    assert routes == set(spec["paths"])


def test_killed_harvest_resumes_from_its_checkpoint(tmp_path, network):
    """A harvest killed half-way continues where it stopped; every record ends up stored once."""
    provider = network["providers"]["tv-tinh"]
    entry = next(lib for lib in yaml.safe_load((network["config_dir"] / "sources.yaml").read_text())["libraries"]
                 if lib["id"] == "tv-tinh")
    config_dir = write_config(tmp_path, [{**entry, "endpoint": provider.url}])
    raw_path = load_config(config_dir).settings.data_dir / "raw.sqlite3"
    total = len(network["records"]["tv-tinh"])
    process = subprocess.Popen([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "harvest",
                                "--no-index"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    stored_at_kill = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if raw_path.exists():
            try:
                stored_at_kill = sqlite3.connect(raw_path).execute("SELECT count(*) FROM raw_records").fetchone()[0]
            except sqlite3.OperationalError:
                stored_at_kill = 0
            if stored_at_kill >= 100:
                process.send_signal(signal.SIGKILL)
                break
        time.sleep(0.01)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL, "the harvest finished before it could be interrupted"
    assert stored_at_kill < total

    store = RawStore(raw_path)
    checkpoint = store.state("tv-tinh")["checkpoint"]
    assert checkpoint and checkpoint["token"]
    already = store.count("tv-tinh") + store.count("tv-tinh", deleted=True)

    unioncat(config_dir, "harvest", "--no-index")
    runs = store.runs("tv-tinh")
    assert runs[0]["mode"] == "resumed" and runs[0]["outcome"] == "ok"
    assert runs[1]["outcome"] == "interrupted"
    # the resumed run fetched only what was missing (at most the page in flight again)
    assert runs[0]["added"] + runs[0]["deleted"] == total - already
    assert runs[0]["unchanged"] <= 7
    assert store.count("tv-tinh") + store.count("tv-tinh", deleted=True) == total
    identifiers = [row[0] for row in store.db.execute("SELECT identifier FROM raw_records")]
    assert sorted(identifiers) == sorted(r.identifier for r in network["records"]["tv-tinh"])
    assert store.state("tv-tinh")["checkpoint"] is None


def test_incremental_harvest_asks_from_and_carries_changes_to_search(tmp_path, network):
    provider_files = network["folder"]
    entry = next(lib for lib in yaml.safe_load((network["config_dir"] / "sources.yaml").read_text())["libraries"]
                 if lib["id"] == "tv-yen-mo")
    config_dir = write_config(tmp_path, [{**entry, "parent": None}])
    config = load_config(config_dir)
    unioncat(config_dir, "harvest")
    services = Services.open(config)
    try:
        before = services.catalogue.record_counts()["tv-yen-mo"]
        path = provider_files / "tv-yen-mo.jsonl"
        records = load_records(path)
        live = [r for r in records if not r.deleted]
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        changed, gone = live[:3], live[3]
        for record in changed:
            record.metadata["oai_dc"] = record.metadata["oai_dc"].replace("</dc:title>", " (bản sửa đổi)</dc:title>", 1)
            record.datestamp = now
        gone.deleted, gone.metadata, gone.datestamp = True, {}, now
        time.sleep(1.1)  # a new second, so the file's mtime and the datestamps move on
        save_records(path, records)
        check = unioncat(config_dir, "check", check=False)
        assert check.returncode == 1
        assert "1 harvested but no longer at the source" in check.stdout and gone.identifier in check.stdout

        unioncat(config_dir, "harvest")
        run = services.raw.runs("tv-yen-mo")[0]
        assert run["mode"] == "incremental" and run["outcome"] == "ok"
        # a full listing would have shown hundreds of unchanged records
        assert (run["updated"], run["deleted"]) == (3, 1) and run["unchanged"] == 0
        assert services.catalogue.record_counts()["tv-yen-mo"] == before - 1
        from unionapi.search import SearchRequest
        hits = services.engine.search(SearchRequest(q="ban sua doi", size=10)).hits
        assert len(hits) == 3
        gone_id = f"tv-yen-mo:{gone.identifier}"
        assert services.raw.get(gone_id).deleted
        assert services.catalogue.db.execute("SELECT count(*) FROM records WHERE id = ?", (gone_id,)).fetchone()[0] == 0
        assert unioncat(config_dir, "check").returncode == 0
    finally:
        services.close()
