"""A real OpenSearch node for the cluster-engine tests and the benchmark.

``opensearch_url`` (session fixture): ``$UNIONCAT_SEARCH_URL`` when set (any OpenSearch 2.x, or an
Elasticsearch 8.x with ``UNIONCAT_SEARCH_ENGINE=elasticsearch``); otherwise installs OpenSearch 2.5.0
with ``scripts/install-opensearch`` (idempotent, cached in ``.peers/``), starts it with
``scripts/start-opensearch run`` on a free port of 127.0.0.1 with a throw-away data folder, waits until
it answers and stops it when the session ends. If it cannot be installed or started the tests FAIL
with the reason and "run scripts/install-peers" (which installs it too): a cluster engine that was
never tested must not look green.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, free_port

INSTALL = REPO / "scripts" / "install-opensearch"
START = REPO / "scripts" / "start-opensearch"
# The tests' node compiles with C1 only: it answers in ~7 s instead of ~9-10 s, on half the CPU (6 s
# instead of 13 s at start), and the tests' few thousand documents never need C2. The benchmark keeps the default.
TEST_JAVA_OPTS = "-XX:TieredStopAtLevel=1"


class LocalOpenSearch:
    """One node on 127.0.0.1, started by this process and stopped by its pid."""

    def __init__(self, port: int | None = None, heap: str | None = None, java_opts: str = ""):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = Path(tempfile.mkdtemp(prefix="unioncat-opensearch-"))
        self.log_path = self.data / "console.log"
        self.process: subprocess.Popen | None = None
        self.heap, self.java_opts = heap, java_opts
        self.startup_s = 0.0

    @staticmethod
    def install() -> None:
        run = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=900)
        if run.returncode != 0:
            raise RuntimeError(f"scripts/install-opensearch failed (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")

    def start(self, timeout_s: float = 120) -> "LocalOpenSearch":
        started = time.monotonic()
        env = dict(os.environ)
        opts = [env.get("OPENSEARCH_JAVA_OPTS", ""), self.java_opts]
        if self.heap:
            opts.append(f"-Xms{self.heap} -Xmx{self.heap}")
        env["OPENSEARCH_JAVA_OPTS"] = " ".join(o for o in opts if o)
        log = open(self.log_path, "wb")
        # the data folder itself is handed to the unprivileged user by the start script
        self.process = subprocess.Popen([str(START), "run", "--port", str(self.port), "--data", str(self.data)],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        log.close()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop(keep_log=True)
                raise RuntimeError(f"OpenSearch exited with {self.process.returncode} while starting:\n{self.tail()}")
            try:
                health = requests.get(self.url + "/_cluster/health", timeout=2)
                if health.ok and health.json()["status"] in ("green", "yellow"):
                    self.startup_s = time.monotonic() - started
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop(keep_log=True)
        raise RuntimeError(f"OpenSearch did not answer at {self.url} within {timeout_s:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, keep_log: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # the java process itself: the start script execs it
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if keep_log:  # read by the caller's error message first
            shutil.rmtree(self.data / "data", ignore_errors=True)
        else:
            shutil.rmtree(self.data, ignore_errors=True)


def cluster_product() -> str:
    return os.environ.get("UNIONCAT_SEARCH_ENGINE") if os.environ.get("UNIONCAT_SEARCH_ENGINE") in (
        "opensearch", "elasticsearch") else "opensearch"


@pytest.fixture(scope="session")
def opensearch_url():
    """The URL of a cluster the tests may create and delete ``unioncat-test-*`` indexes in."""
    url = os.environ.get("UNIONCAT_SEARCH_URL")
    if url:
        try:
            requests.get(url, timeout=5)
        except requests.RequestException as exc:
            pytest.fail(f"UNIONCAT_SEARCH_URL={url} does not answer: {exc}")
        yield url.rstrip("/")
        return
    try:
        LocalOpenSearch.install()
        node = LocalOpenSearch(java_opts=TEST_JAVA_OPTS).start()
    except Exception as exc:  # noqa: BLE001 - reported as a failure, never a skip
        pytest.fail(f"could not install or start OpenSearch for the cluster-engine tests (run scripts/install-peers, "
                    f"which installs it): {exc}", pytrace=False)
    print(f"\nOpenSearch {node.url} ready in {node.startup_s:.1f} s")
    yield node.url
    node.stop()
