"""A real Zebra (the Z39.50/SRU server behind Koha) for the demo network, tests and benchmarks.

    with ZebraServer.start(folder, records_iso2709) as zebra:   # database "biblios"
        ...  zebra.host, zebra.port  ...
        zebra.update([changed_record])      # same 001 replaces the record
        zebra.delete([record])              # leader/05 = 'd' removes it

The configuration (DOM filter, bib-1 indexes, Vietnamese ICU folding, CQL mapping) lives in
``unionapi/demo/zebra/`` and is copied into ``folder``; Debian's packages provide the programs
(``scripts/install-peers``).
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent / "zebra-config"
DATABASE = "biblios"
PROGRAMS = ("zebraidx", "zebrasrv")


class ZebraError(RuntimeError):
    """Zebra is missing, or indexing or starting it failed; the message says what to do."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_installed() -> None:
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing or not Path("/usr/share/idzebra-2.0/tab/bib1.att").exists():
        raise ZebraError(f"Zebra is not installed ({', '.join(missing) or 'bib1.att missing'}): "
                         "run scripts/install-peers")


def mark_deleted(record: bytes) -> bytes:
    """The same ISO2709 record with leader/05 = 'd': Zebra's extract turns it into a deletion."""
    return record[:5] + b"d" + record[6:]


class ZebraServer:
    """One zebrasrv process on 127.0.0.1 serving the ``biblios`` database from ``folder``."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.host, self.port = folder, "127.0.0.1", port
        self.process: subprocess.Popen | None = None
        self._batch = 0

    # -- life cycle ------------------------------------------------------------------------
    @classmethod
    def start(cls, folder: Path | str, records_iso2709: list[bytes] = (), port: int = 0) -> "ZebraServer":
        """Configure ``folder``, index the records and start the server; returns when it answers."""
        _check_installed()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        server = cls(folder, port or _free_port())
        server._configure()
        server._zebraidx("init")
        if records_iso2709:
            server.update(records_iso2709)
        server._run()
        return server

    def _configure(self) -> None:
        for name in ("register", "shadow", "lock", "tmp", "load"):
            path = self.folder / name
            if name in ("register", "shadow", "lock") and path.exists():
                shutil.rmtree(path)  # a fresh database each start
            path.mkdir(exist_ok=True)
        for source in CONFIG_DIR.iterdir():
            if source.name != "yazgfs.xml":
                shutil.copy(source, self.folder / source.name)
        gfs = (CONFIG_DIR / "yazgfs.xml").read_text(encoding="utf-8")
        (self.folder / "yazgfs.xml").write_text(gfs.replace("{listen}", f"tcp:{self.host}:{self.port}"),
                                                encoding="utf-8")

    def _run(self) -> None:
        log = open(self.folder / "zebrasrv.log", "ab")
        # stdio redirected: a daemon holding the caller's stdout keeps `script | tee` from ending
        self.process = subprocess.Popen(["zebrasrv", "-f", "yazgfs.xml"], cwd=self.folder,
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ZebraError(f"zebrasrv did not start on port {self.port}: {self._log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> "ZebraServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- changing the database -----------------------------------------------------------------
    def update(self, records: list[bytes]) -> None:
        """Add or replace records (matched by 001); visible to the running server after commit."""
        self._batch += 1
        path = self.folder / "load" / f"batch-{self._batch:05d}.mrc"
        path.write_bytes(b"".join(records))
        try:
            self._zebraidx("-g", "iso2709", "-d", DATABASE, "update", str(path))
            self._zebraidx("commit")
        finally:
            path.unlink(missing_ok=True)

    def delete(self, records: list[bytes]) -> None:
        """Remove records: they are sent again with leader/05 = 'd'."""
        self.update([mark_deleted(r) for r in records])

    def replace_all(self, records: list[bytes]) -> None:
        """Re-index from scratch with only ``records`` (a library that reloaded its catalogue)."""
        running = self.process is not None
        self.stop()
        self._configure()
        self._zebraidx("init")
        if records:
            self.update(records)
        if running:
            self._run()

    def _zebraidx(self, *args: str) -> None:
        done = subprocess.run(["zebraidx", "-c", "zebra.cfg", *args], cwd=self.folder, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace")
        with open(self.folder / "zebraidx.log", "a", encoding="utf-8") as log:
            log.write(f"$ zebraidx {' '.join(args)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise ZebraError(f"zebraidx {' '.join(args)} failed ({done.returncode}): {done.stderr[-800:]}")

    def _log_tail(self) -> str:
        path = self.folder / "zebrasrv.log"
        return path.read_text(errors="replace")[-800:] if path.exists() else "(no log)"
