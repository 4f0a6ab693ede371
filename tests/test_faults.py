"""Faults with real peers: afterwards source, raw store, catalogue and index reconcile exactly."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from tests.conftest import REPO, free_port, write_config
from unionapi.demo.network import DEMO_SEED, generate_network, save_records
from unionapi.demo.provider import start_provider

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def unioncat(config_dir, *args):
    return subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), *args], cwd=REPO,
                          env=ENV, capture_output=True, text=True, timeout=300)


def test_provider_killed_mid_listing_and_restarted(tmp_path):
    records = generate_network(DEMO_SEED, total_records=1000)["tv-tinh"]
    save_records(tmp_path / "tinh.jsonl", records)
    port = free_port()
    config_dir = write_config(tmp_path / "config", [{
        "id": "tv-tinh", "name": "Thư viện tỉnh", "kind": "provincial", "protocol": "oai",
        "endpoint": f"http://127.0.0.1:{port}/oai", "metadata_prefix": "oai_dc"}])
    raw = config_dir / "data" / "raw.sqlite3"
    provider = start_provider(tmp_path / "tinh.jsonl", port=port, page_size=10, formats="oai_dc", delay=0.05)
    try:
        _kill_provider_mid_listing(provider, config_dir, raw)
    finally:
        provider.stop()
    assert unioncat(config_dir, "check").returncode == 1  # the source is down: not consistent

    with start_provider(tmp_path / "tinh.jsonl", port=port, page_size=10, formats="oai_dc"):
        again = unioncat(config_dir, "harvest")
        assert again.returncode == 0, again.stderr
        assert "resumed harvest" in again.stderr
        check = unioncat(config_dir, "check")
        assert check.returncode == 0 and "consistent" in check.stdout, check.stdout
        live = sum(not r.deleted for r in records)
        assert f"source {live}, raw store {live}" in check.stdout


def _kill_provider_mid_listing(provider, config_dir, raw):
    harvest = subprocess.Popen([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "harvest"],
                               cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    stored = 0
    while time.monotonic() < deadline and stored < 100:
        time.sleep(0.05)
        if raw.exists():
            try:
                stored = sqlite3.connect(raw).execute("SELECT count(*) FROM raw_records").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    provider.proc.send_signal(signal.SIGKILL)  # the library's server dies in the middle of the listing
    provider.proc.wait(10)
    _, errors = harvest.communicate(timeout=120)
    assert 0 < stored, "the harvest had not started"
    assert harvest.returncode == 1 and "cannot reach" in errors


def test_killed_rebuild_leaves_a_whole_catalogue_and_a_serving_index(tmp_path, api_server):
    generated = generate_network(DEMO_SEED, total_records=2400)
    libraries = []
    providers = []
    for library_id in ("tv-tinh", "tv-kim-son"):
        save_records(tmp_path / f"{library_id}.jsonl", generated[library_id])
        providers.append(start_provider(tmp_path / f"{library_id}.jsonl", port=0, formats="marc21,oai_dc"))
        libraries.append({"id": library_id, "name": library_id, "kind": "district", "protocol": "oai",
                          "endpoint": providers[-1].url, "metadata_prefix": "marc21"})
    config_dir = write_config(tmp_path / "config", libraries)
    try:
        assert unioncat(config_dir, "harvest").returncode == 0
        server = api_server(config_dir)
        before = server.get("/api/search", size=1).json()["total"]
        hits = server.get("/api/search", q="truyen kieu").json()["hits"]
        for stage in ("normalized 1000 of", "deduplicating", "indexing"):
            rebuild = subprocess.Popen([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "index",
                                        "--rebuild"], cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
            seen = ""
            for line in rebuild.stderr:
                seen += line
                if stage in line:
                    rebuild.send_signal(signal.SIGKILL)
                    break
            rebuild.wait(30)
            assert rebuild.returncode == -signal.SIGKILL, f"the rebuild ended before '{stage}': {seen}"
            # what patrons see is whole: the same entries, every record page answers
            time.sleep(1.1)  # the API picks up index commits within a second
            assert server.get("/api/search", size=1).json()["total"] == before
            for hit in hits:
                entry = server.get(hit["url"])
                assert entry.status_code == 200 and entry.json()["members"], stage
        assert unioncat(config_dir, "index", "--rebuild").returncode == 0
        check = unioncat(config_dir, "check")
        assert check.returncode == 0, check.stdout
    finally:
        for provider in providers:
            provider.stop()
