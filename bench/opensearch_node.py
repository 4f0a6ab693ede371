"""A real OpenSearch node on 127.0.0.1 for the benchmarks and the tests (which import it from here:
benches never import the test suite).

``LocalOpenSearch().start()`` runs ``scripts/start-opensearch run`` (the distribution that
``scripts/install-opensearch`` puts in ``.peers/``) on a free port with a throw-away data folder and
returns once the node answers; ``stop()`` ends it and removes the folder.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "scripts" / "install-opensearch"
START = REPO / "scripts" / "start-opensearch"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
                health = httpx.get(self.url + "/_cluster/health", timeout=2)
                if health.is_success and health.json()["status"] in ("green", "yellow"):
                    self.startup_s = time.monotonic() - started
                    return self
            except httpx.HTTPError:
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
