"""Faults with real peers: afterwards source, raw store, catalogue and index reconcile exactly."""
from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

from tests.conftest import REPO, free_port, oai_library, write_config
from tests.opensearch import cluster_product  # opensearch_url: the session fixture, from tests/conftest.py
from unionapi.demo.network import DEMO_SEED, generate_network, save_records
from unionapi.demo.provider import start_provider
from unionapi.search.cluster import ClusterEngine

# the search engine is the one in each test's settings.yaml, whatever this shell says
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("UNIONCAT_SEARCH_")}, "PYTHONPATH": str(REPO)}


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
    down = unioncat(config_dir, "check")  # the source is down: not consistent, and check says why
    assert down.returncode == 1 and "DIFFERENCES" in down.stdout, down.stdout
    assert "the source could not be read: " in down.stdout and "cannot reach" in down.stdout, down.stdout

    with start_provider(tmp_path / "tinh.jsonl", port=port, page_size=10, formats="oai_dc"):
        again = unioncat(config_dir, "harvest")
        assert again.returncode == 0, again.stderr
        assert "resumed harvest" in again.stderr
        check = unioncat(config_dir, "check")
        assert check.returncode == 0 and "consistent" in check.stdout, check.stdout
        live = sum(not r.deleted for r in records)
        assert f"source {live}, raw store {live}, catalogue {live} (+0 rejected)" in check.stdout, check.stdout


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
    generated = generate_network(DEMO_SEED, total_records=2000)  # 1,268 records: two normalize batches of 1,000
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
        searched = time.monotonic()
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
            # (a search reloads the index when the last reload is over a second old: wait only for what is left)
            time.sleep(max(0.0, searched + 1.1 - time.monotonic()))
            assert server.get("/api/search", size=1).json()["total"] == before
            for hit in hits:
                entry = server.get(hit["url"])
                assert entry.status_code == 200 and entry.json()["members"], stage
            searched = time.monotonic()
        assert unioncat(config_dir, "index", "--rebuild").returncode == 0
        check = unioncat(config_dir, "check")
        assert check.returncode == 0 and check.stdout.count("consistent") == 2, check.stdout
        for library_id in ("tv-tinh", "tv-kim-son"):
            live = sum(not r.deleted for r in generated[library_id])
            assert f"{library_id}: source {live}, raw store {live}, catalogue {live} (+0 rejected)" in check.stdout
    finally:
        for provider in providers:
            provider.stop()


class Relay:
    """The search cluster's address (127.0.0.1:port) in front of the real node, byte for byte, as a load
    balancer would be: while it is stopped the cluster is down for unioncat (connections refused), and
    stopping it cuts the open connections too."""

    def __init__(self, port: int, upstream: str):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.listener = socket.create_server(("127.0.0.1", port))  # SO_REUSEADDR: the same port again later
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                return
            server.settimeout(None)
            self.open += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for end in self.open:
            end.close()


def test_search_cluster_down_during_indexing_is_caught_up(tmp_path, opensearch_url):
    """A real provider answers; the real OpenSearch node configured in settings.yaml is down (nothing answers at
    its address) when the harvest ends. The harvest and the catalogue are kept, the index is not written; check
    gives every count it can and says the cluster is not answering, then once it is back that the index lacks the catalogue's entries, and
    `unioncat index` catches up."""
    records = generate_network(DEMO_SEED, total_records=600)["tv-tinh"]
    live = sum(not r.deleted for r in records)
    save_records(tmp_path / "tinh.jsonl", records)
    port, index = free_port(), f"unioncat-test-{uuid.uuid4().hex[:8]}"
    try:
        with start_provider(tmp_path / "tinh.jsonl", port=0, formats="oai_dc") as provider:
            config_dir = write_config(tmp_path / "config", [oai_library("tv-tinh", provider.url)],
                                      search={"engine": cluster_product(), "url": f"http://127.0.0.1:{port}",
                                              "index": index})
            harvest = unioncat(config_dir, "harvest")
            assert harvest.returncode == 1 and "tv-tinh: harvest done" in harvest.stderr, harvest.stderr
            assert f"at http://127.0.0.1:{port} is not answering" in harvest.stderr, harvest.stderr
            assert "the harvest is kept; run `unioncat index` when it is back" in harvest.stderr
            down = unioncat(config_dir, "check")  # the other counts are still given
            assert down.returncode == 1, down.stdout
            assert (f"tv-tinh: source {live}, raw store {live}, catalogue {live} (+0 rejected), entries "
                    in down.stdout and ", indexed ?: DIFFERENCES" in down.stdout), down.stdout
            assert "the search index could not be read:" in down.stdout and "is not answering" in down.stdout

            with Relay(port, opensearch_url):  # the cluster is back at its address
                behind = unioncat(config_dir, "check")
                assert behind.returncode == 1 and "DIFFERENCES" in behind.stdout, behind.stdout
                assert f"source {live}, raw store {live}, catalogue {live} (+0 rejected)" in behind.stdout
                entries = int(re.search(r"entries (\d+), indexed 0:", behind.stdout).group(1))
                assert entries > 0
                assert (f"the index has 0 entries for this library, the catalogue {entries} (run `unioncat index`)"
                        in behind.stdout)
                catch_up = unioncat(config_dir, "index")
                assert catch_up.returncode == 0, catch_up.stderr
                check = unioncat(config_dir, "check")
                assert check.returncode == 0, check.stdout
                assert (f"tv-tinh: source {live}, raw store {live}, catalogue {live} (+0 rejected), "
                        f"entries {entries}, indexed {entries}: consistent") in check.stdout, check.stdout
    finally:
        cluster = ClusterEngine(opensearch_url, index=index, product=cluster_product())
        for name in cluster._safe_alias_targets():
            cluster._delete_quietly(name)
        cluster.close()
