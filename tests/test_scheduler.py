"""The service harvests by itself: schedules, isolation, locks, resume after a kill, admin actions."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import requests
import yaml

from tests.conftest import REPO, conforms, free_port, write_config
from unionapi.auth import hash_token
from unionapi.demo.network import DEMO_SEED, as_iso2709, generate_network, save_records
from unionapi.demo.provider import start_provider
from unionapi.demo.zebra import ZebraServer

TOKEN = "admin-token-for-tests"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


class Service:
    """`unioncat run` as a real process."""

    def __init__(self, config_dir):
        self.config_dir = config_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(config_dir / "run.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "run", "--port", str(self.port)],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=ENV)
        try:
            wait_for(lambda: requests.get(self.url + "/api/health", timeout=2).ok, 20, "the service to start")
        except AssertionError:
            self.stop()
            raise AssertionError(f"the service did not start: {self.text()}") from None

    def get(self, path, **params):
        return requests.get(self.url + path, params=params, timeout=5)

    def post(self, path, token=TOKEN, **body):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url + path, json=body, headers=headers, timeout=10)

    def library(self, library_id):
        return next(lib for lib in self.get("/api/libraries").json()["libraries"] if lib["id"] == library_id)

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def text(self):
        return (self.config_dir / "run.log").read_text(errors="replace")


def wait_for(condition, seconds, what, every=0.3):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (requests.RequestException, KeyError, ValueError, StopIteration):
            pass
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture(scope="module")
def generated():
    return generate_network(DEMO_SEED, total_records=1000)


def oai_entry(library_id, url, schedule="every 2 seconds", **extra):
    return {"id": library_id, "name": f"Thư viện {library_id}", "kind": "district", "protocol": "oai",
            "endpoint": url, "metadata_prefix": "oai_dc", "schedule": schedule, **extra}


def settings(**scheduler):
    return {"api": {"tokens": [{"name": "it-admin", "sha256": hash_token(TOKEN)}]},
            "scheduler": {"failure_backoff_s": 1, "max_parallel_harvests": 2, **scheduler}}


def test_schedules_harvest_by_themselves_and_a_dead_server_costs_nothing(tmp_path, generated):
    save_records(tmp_path / "yen-mo.jsonl", generated["tv-yen-mo"])
    dead_port = free_port()
    with start_provider(tmp_path / "yen-mo.jsonl", port=0, formats="oai_dc") as provider, \
            ZebraServer.start(tmp_path / "zebra", as_iso2709(generated["tv-hoa-lu"]), port=0) as zebra:
        config_dir = write_config(tmp_path / "config", [
            oai_entry("tv-yen-mo", provider.url),
            {"id": "tv-hoa-lu", "name": "Thư viện huyện Hoa Lư", "kind": "district", "protocol": "z3950",
             "host": "127.0.0.1", "port": zebra.port, "database": "biblios", "schedule": "every 2 seconds"},
            oai_entry("tv-down", f"http://127.0.0.1:{dead_port}/oai")], **settings())
        service = Service(config_dir)
        try:
            # records appear through the API without any manual step
            wait_for(lambda: {"tv-yen-mo", "tv-hoa-lu"} <= {f["value"] for f in
                                                          service.get("/api/search").json()["facets"]["library"]},
                     60, "both libraries' records to be searchable")
            down = service.library("tv-down")
            assert down["last_failure"] and "cannot reach" in down["last_failure"]["error"]
            assert down["record_count"] == 0
            assert service.library("tv-hoa-lu")["next_run"]
            wait_for(lambda: "skipped: failed" in service.text(), 20, "the dead library to be backed off")

            # the library's server comes back: the next run catches up
            save_records(tmp_path / "down.jsonl", generated["thpt-lvt"])
            with start_provider(tmp_path / "down.jsonl", port=dead_port, formats="oai_dc"):
                wait_for(lambda: service.library("tv-down")["record_count"] == len(generated["thpt-lvt"]), 60,
                         "the library that was down to catch up")
            runs = service.get("/api/harvests", library="tv-down", limit=50).json()["harvests"]
            assert runs[0]["outcome"] == "ok" and any(r["outcome"] == "failed" for r in runs)
            metrics = service.get("/metrics").text
            assert 'unioncat_records{library="tv-hoa-lu"}' in metrics
            assert 'unioncat_harvests_total{library="tv-down",outcome="failed"}' in metrics
            assert "unioncat_api_request_seconds_bucket" in metrics
        finally:
            service.stop()


def test_killed_service_resumes_and_admin_actions_need_a_token(tmp_path, generated):
    records = generated["tv-tinh"]
    save_records(tmp_path / "tinh.jsonl", records)
    with start_provider(tmp_path / "tinh.jsonl", port=0, page_size=10, formats="oai_dc", delay=0.05) as provider:
        config_dir = write_config(tmp_path / "config", [oai_entry("tv-tinh", provider.url, schedule="0 3 * * *")],
                                  **settings())
        service = Service(config_dir)
        raw = config_dir / "data" / "raw.sqlite3"
        try:
            assert service.post("/api/admin/harvest/tv-tinh", token=None).status_code == 401
            assert service.post("/api/admin/harvest/tv-tinh", token="nope").status_code == 401
            assert service.post("/api/admin/reindex", token=None).status_code == 401
            assert "nope" not in service.text()
            assert service.post("/api/admin/harvest/tv-tinh").status_code == 202
            assert service.post("/api/admin/harvest/tv-tinh").status_code == 409  # already running

            def stored():
                return sqlite3.connect(raw).execute("SELECT count(*) FROM raw_records").fetchone()[0]
            wait_for(lambda: stored() >= 50, 30, "the harvest to be under way", every=0.05)
            service.stop(signal.SIGKILL)
            assert stored() < len(records), "the harvest finished before the kill"
        finally:
            service.stop()

        service = Service(config_dir)
        try:
            assert service.post("/api/admin/harvest/tv-tinh").status_code == 202
            wait_for(lambda: service.library("tv-tinh")["last_run"]["outcome"] == "ok", 60, "the resumed harvest")
            runs = service.get("/api/harvests", library="tv-tinh").json()["harvests"]
            for run in runs:
                conforms(run, "Run")
            conforms(service.library("tv-tinh"), "Library")
            assert runs[0]["mode"] == "resumed" and runs[1]["outcome"] == "interrupted"
            identifiers = [r[0] for r in sqlite3.connect(raw).execute("SELECT identifier FROM raw_records")]
            assert sorted(identifiers) == sorted(r.identifier for r in records)  # none twice, none lost

            # a bad configuration is refused and the old one keeps running
            sources = config_dir / "sources.yaml"
            good = sources.read_text(encoding="utf-8")
            sources.write_text(good.replace("kind: district", "kind: village"), encoding="utf-8")
            refused = service.post("/api/admin/reload")
            assert refused.status_code == 400 and "field 'kind'" in refused.json()["message"]
            assert service.get("/api/health").json()["config_error"]
            assert service.library("tv-tinh")["kind"] == "district"
            changed = yaml.safe_load(good)
            changed["libraries"][0]["name"] = "Thư viện tỉnh (đổi tên)"
            sources.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
            assert service.post("/api/admin/reload").status_code == 200
            assert service.library("tv-tinh")["name"] == "Thư viện tỉnh (đổi tên)"
        finally:
            service.stop()


def test_two_harvests_of_one_library_at_once(tmp_path, generated):
    save_records(tmp_path / "tinh.jsonl", generated["tv-tinh"])
    with start_provider(tmp_path / "tinh.jsonl", port=0, page_size=50, formats="oai_dc", delay=0.4) as provider:
        config_dir = write_config(tmp_path / "config", [oai_entry("tv-tinh", provider.url)])
        command = [sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "harvest", "tv-tinh"]
        first = subprocess.Popen(command, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lock = config_dir / "data" / "locks" / "harvest-tv-tinh.lock"
        wait_for(lambda: lock.exists() and lock.read_text().startswith("process"), 20, "the first harvest")
        second = subprocess.run(command, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "not harvested: harvest-tv-tinh is busy: held by process" in second.stderr
        assert first.wait(60) == 0
        waited = subprocess.run([*command, "--wait", "30"], cwd=REPO, env=ENV, capture_output=True, text=True,
                                timeout=90)
        assert waited.returncode == 0, waited.stderr


def test_a_machine_off_for_a_while_runs_each_missed_harvest_once(tmp_path, generated):
    from datetime import datetime, timezone

    from config import load_config
    from unionapi.scheduler import start
    from unionapi.services import Services
    save_records(tmp_path / "ths.jsonl", generated["thpt-lvt"])
    with start_provider(tmp_path / "ths.jsonl", port=0, formats="oai_dc") as provider:
        config = load_config(write_config(tmp_path / "config", [oai_entry("thpt-lvt", provider.url,
                                                                          schedule="every 4 seconds")], **settings()))
        services = Services.open(config)
        start(services).shutdown()
        time.sleep(13)  # the machine is off: three runs are missed

        back_on = time.time()
        scheduler = start(services)  # back on, with the same job store
        try:
            wait_for(lambda: services.raw.runs("thpt-lvt") and services.raw.runs("thpt-lvt")[-1]["outcome"] == "ok",
                     15, "the missed harvest")
            started = [datetime.strptime(run["started_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
                       for run in services.raw.runs("thpt-lvt")]
            # the three missed runs were coalesced into one, right away; later runs follow the schedule
            assert sum(stamp.timestamp() < back_on + 3 for stamp in started) == 1, (back_on, started)
        finally:
            scheduler.shutdown()
            services.close()
