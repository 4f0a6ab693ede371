"""Cataloguers' decisions over the real API, and that no later harvest or rebuild undoes them."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from tests.conftest import REPO, conforms, write_config
from unionapi.auth import hash_token
from unionapi.demo.network import DEMO_SEED, generate_network, save_records
from unionapi.demo.provider import start_provider

TOKEN = "test-token-for-lan"


def unioncat(config_dir, *args):
    return subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), *args], cwd=REPO,
                          capture_output=True, text=True, check=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dedup")
    generated = generate_network(DEMO_SEED, total_records=1000)
    providers, libraries = [], []
    for library_id, branches in (("tv-tinh", {"TRUNGTAM": "Trụ sở chính"}), ("tv-kim-son", {})):
        save_records(folder / f"{library_id}.jsonl", generated[library_id])
        provider = start_provider(folder / f"{library_id}.jsonl", port=0, formats="marc21,oai_dc")
        providers.append(provider)
        libraries.append({"id": library_id, "name": library_id, "kind": "district", "protocol": "oai",
                          "endpoint": provider.url, "metadata_prefix": "marc21", "branches": branches})
    config_dir = write_config(folder / "config", libraries,
                              api={"tokens": [{"name": "lan", "sha256": hash_token(TOKEN)}]})
    unioncat(config_dir, "harvest")
    yield config_dir
    for provider in providers:
        provider.stop()


def entry_members(server, record_id: str) -> set[str]:
    reports = server.get("/api/decisions")  # any read: make sure the server answers
    assert reports.ok
    entry = record_entry(server, record_id)
    return {m["record_id"] for m in server.get(f"/api/entries/{entry}").json()["members"]}


def record_entry(server, record_id: str) -> str:
    for status in ("open", "merged", "rejected"):
        for report in server.get("/api/duplicates", status=status).json()["duplicates"]:
            for side in report["records"]:
                if side and side["record_id"] == record_id:
                    return side["entry_id"]
    raise AssertionError(f"{record_id} is in no report")


def post(server, path, token=TOKEN, **body):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(server.url + path, json=body, headers=headers, timeout=30)


def test_decisions_are_kept_through_reharvest_and_rebuild(catalogue, api_server):
    server = api_server(catalogue)
    reports = server.get("/api/duplicates").json()["duplicates"]
    assert len(reports) >= 3, "the demo library catalogued some books twice; those must be reported"
    same_library = [r for r in reports if r["a"].split(":")[0] == r["b"].split(":")[0]]
    to_merge, to_reject = same_library[0], same_library[1]
    for report in reports:
        conforms(report, "Report")
    for report in (to_merge, to_reject):
        assert report["reasons"] and all(side["title"] for side in report["records"])
        assert report["records"][0]["entry_id"] != report["records"][1]["entry_id"]

    # writes need a valid token; the refusal is logged without the token
    assert post(server, f"/api/duplicates/{to_merge['id']}/merge", token=None).status_code == 401
    assert post(server, f"/api/duplicates/{to_merge['id']}/merge", token="guess").status_code == 401
    log = (catalogue / "serve.log").read_text(errors="replace")
    assert "refused POST" in log and "guess" not in log

    merged = post(server, f"/api/duplicates/{to_merge['id']}/merge", comment="same book, two barcodes")
    assert merged.status_code == 200, merged.text
    assert merged.json()["decision"]["who"] == "lan"
    conforms(merged.json()["decision"], "Decision")
    assert {to_merge["a"], to_merge["b"]} <= entry_members(server, to_merge["a"])
    rejected = post(server, f"/api/duplicates/{to_reject['id']}/reject", comment="two different printings")
    assert rejected.json()["report"]["status"] == "rejected"

    # split one library's record out of a multi-library entry
    multi = next(r for r in reports if r["a"].split(":")[0] != r["b"].split(":")[0]
                 and r["records"][0]["entry_id"] and len(entry_members(server, r["a"])) > 1)
    entry = record_entry(server, multi["a"])
    members = entry_members(server, multi["a"])
    taken_out = sorted(members)[0]
    split = post(server, f"/api/entries/{entry}/split", record_id=taken_out, comment="a different edition")
    assert split.status_code == 200, split.text
    others = members - {taken_out}
    assert entry_members(server, taken_out).isdisjoint(others)

    why = server.get(f"/api/entries/{record_entry(server, to_merge['a'])}/why").json()
    conforms(why, "Why")
    assert any(edge["by"] == "cataloguer" and "merged by a cataloguer" in edge["reasons"] for edge in why["edges"])

    # a full re-harvest, re-normalization and re-deduplication change none of it
    unioncat(catalogue, "harvest", "--full")
    unioncat(catalogue, "index", "--rebuild")
    assert {to_merge["a"], to_merge["b"]} <= entry_members(server, to_merge["a"])
    assert to_reject["b"] not in entry_members(server, to_reject["a"])
    assert entry_members(server, taken_out).isdisjoint(others)

    # undo brings the split record back
    decision = split.json()["decision"]["id"]
    undone = post(server, f"/api/decisions/{decision}/undo")
    assert undone.json()["decision"]["undone_by"] == "lan"
    assert taken_out in entry_members(server, sorted(others)[0])


def test_bad_decision_requests_say_what_is_wrong(catalogue, api_server):
    server = api_server(catalogue)
    assert post(server, "/api/identifiers/block", isbn="12345").status_code == 400
    assert "valid ISBN" in post(server, "/api/identifiers/block", isbn="12345").json()["message"]
    assert post(server, "/api/duplicates/999999/merge").status_code == 404
    assert post(server, "/api/decisions/999999/undo").status_code == 404
    assert server.get("/api/duplicates", status="maybe").status_code == 400


def test_blocked_isbn_is_no_longer_evidence(catalogue, api_server):
    server = api_server(catalogue)
    report = next(r for r in server.get("/api/duplicates").json()["duplicates"]
                  if any("isbn" in reason and "shared" in reason for reason in r["reasons"]))
    isbn = report["records"][0]["isbns"][0]
    blocked = post(server, "/api/identifiers/block", isbn=isbn, comment="printed on several books")
    assert blocked.status_code == 200 and blocked.json()["decision"]["isbn"] == isbn
    after = server.get(f"/api/duplicates/{report['id']}").json()
    isbn_reasons = [reason for reason in after["reasons"] if isbn in reason]
    assert isbn_reasons and all("blocked" in reason and "(+" not in reason for reason in isbn_reasons)
