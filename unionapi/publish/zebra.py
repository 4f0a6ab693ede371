"""A real Zebra (the Z39.50/SRU server behind Koha): its register and its zebrasrv process.

The union catalogue is served through it (``unionapi.publish.z3950``), and the demo network's
Z39.50 library, the tests and the benchmarks run it as a source:

    with ZebraServer.start(folder, records_iso2709) as zebra:   # database "biblios", a fresh register
        ...  zebra.host, zebra.port  ...
        zebra.update([changed_record])      # same 001 replaces the record
        zebra.delete([record])              # leader/05 = 'd' removes it

The configuration (DOM filter, bib-1 indexes, Vietnamese ICU folding, CQL mapping) lives in
``zebra-config/`` beside this file and is copied into ``folder``; Debian's packages provide the
programs (``scripts/install-peers``). Changes go through ``zebraidx update`` + ``commit`` (shadow
files), so a running zebrasrv sees them whole, never half-written.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterable

CONFIG_DIR = Path(__file__).resolve().parent / "zebra-config"
PROGRAMS = ("zebraidx", "zebrasrv")
ATTRIBUTE_SET = Path("/usr/share/idzebra-2.0/tab/bib1.att")
_REGISTER = ("register", "shadow", "lock")  # what a fresh database wipes
_FOLDERS = (*_REGISTER, "tmp", "load")
_INITIALISED = "register.initialised"  # written by ZebraDatabase.init


class ZebraError(RuntimeError):
    """Zebra is missing, or indexing or starting it failed; the message says what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_installed() -> None:
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing or not ATTRIBUTE_SET.exists():
        raise ZebraError(f"Zebra is not installed ({', '.join(missing) or f'{ATTRIBUTE_SET} missing'}): "
                         "run scripts/install-peers")


def mark_deleted(record: bytes) -> bytes:
    """The same ISO2709 record with leader/05 = 'd': Zebra's extract turns it into a deletion."""
    return record[:5] + b"d" + record[6:]


_SERVING_ONLY = ("yazgfs.xml", "cql2pqf.txt")  # read by zebrasrv at start: no effect on what is indexed


def config_digest(config_dir: Path = CONFIG_DIR) -> str:
    """Of the files that decide what is indexed: records indexed under others must be indexed again."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(config_dir.iterdir()):
        if path.name not in _SERVING_ONLY:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class ZebraDatabase:
    """The register in ``folder`` holding one database, and the zebraidx calls that change it."""

    def __init__(self, folder: Path | str, database: str = "biblios", config_dir: Path = CONFIG_DIR):
        self.folder, self.database, self.config_dir = Path(folder), database, config_dir
        self._batch = 0

    def exists(self) -> bool:
        """A register was initialised here (an empty one has no files: init leaves a mark beside it)."""
        register = self.folder / "register"
        return register.is_dir() and ((self.folder / _INITIALISED).exists() or any(register.iterdir()))

    def configure(self, fresh: bool = False) -> None:
        """Copy the configuration in (``fresh``: wipe the register first); the folders Zebra needs."""
        check_installed()
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in _FOLDERS:
            path = self.folder / name
            if fresh and name in _REGISTER and path.exists():
                shutil.rmtree(path)
                (self.folder / _INITIALISED).unlink(missing_ok=True)
            path.mkdir(exist_ok=True)
        for source in self.config_dir.iterdir():
            if source.name != "yazgfs.xml":  # a template: written with its address by ZebraServer
                shutil.copy(source, self.folder / source.name)

    def init(self) -> None:
        """An empty register (every database in it emptied)."""
        self.zebraidx("init")
        (self.folder / _INITIALISED).touch()

    def update(self, records: Iterable[bytes]) -> None:
        """Add or replace records (matched by 001), delete those whose leader/05 is 'd'; visible to a
        running server once committed."""
        self._batch += 1
        path = self.folder / "load" / f"batch-{self._batch:05d}.mrc"
        path.write_bytes(b"".join(records))
        try:
            self.apply(path)
        finally:
            path.unlink(missing_ok=True)

    def apply(self, path: Path) -> None:
        """Index one ISO2709 file (``-g iso2709``: with ``-t`` Zebra indexes nothing and still exits 0), commit."""
        self.zebraidx("-g", "iso2709", "-d", self.database, "update", str(path))
        self.zebraidx("commit")

    def delete(self, records: Iterable[bytes]) -> None:
        """Remove records: they are sent again with leader/05 = 'd'."""
        self.update([mark_deleted(r) for r in records])

    def zebraidx(self, *args: str) -> str:
        done = subprocess.run(["zebraidx", "-c", "zebra.cfg", *args], cwd=self.folder, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace")
        path = _rotated(self.folder / "zebraidx.log")
        with open(path, "a", encoding="utf-8") as log:  # one line per record left out (a million on a first load)
            log.write(f"$ zebraidx {' '.join(args)}\n" + "".join(
                line for line in (done.stdout + done.stderr).splitlines(keepends=True) if not _PER_RECORD.search(line)))
        if done.returncode != 0:
            raise ZebraError(f"zebraidx {' '.join(args)} failed ({done.returncode}): {done.stderr[-800:]}")
        return done.stderr


_PER_RECORD = re.compile(r"\[log\] (add|update|delete) \S+ \S+ [0-9]+$")
LOG_MAX_BYTES = 10_000_000


def _rotated(path: Path) -> Path:
    """A log over LOG_MAX_BYTES becomes ``NAME.1`` (replacing the one before): logs never fill the disk."""
    try:
        if path.stat().st_size > LOG_MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
    return path


class ZebraServer:
    """One zebrasrv process serving the register in ``database.folder`` on ``host``:``port``."""

    def __init__(self, database: ZebraDatabase, host: str, port: int, tie_to_parent: bool = False):
        self.db, self.host, self.port = database, host, port
        self.folder = database.folder
        self.tie_to_parent = tie_to_parent
        self.process: subprocess.Popen | None = None

    # -- life cycle ------------------------------------------------------------------------
    @classmethod
    def start(cls, folder: Path | str, records_iso2709: Iterable[bytes] = (), port: int = 0,
              host: str = "127.0.0.1", database: str = "biblios", fresh: bool = True,
              config_dir: Path = CONFIG_DIR, tie_to_parent: bool = False) -> "ZebraServer":
        """Configure ``folder``, index the records and start the server; returns when it answers.

        ``fresh``: a new, empty register (the demo's sources, the tests); otherwise the register
        already there is served as it is (an empty one is made when there is none).
        ``tie_to_parent``: zebrasrv is told to stop when the thread starting it ends (the main thread
        of ``unioncat run``: a service killed with SIGKILL leaves no server holding its port)."""
        db = ZebraDatabase(folder, database, config_dir)
        db.configure(fresh=fresh)
        if fresh or not db.exists():
            db.init()
        records = list(records_iso2709)
        if records:
            db.update(records)
        server = cls(db, host, port or free_port(), tie_to_parent)
        server._run()
        return server

    def _run(self) -> None:
        self._check_port_free()
        gfs = (self.db.config_dir / "yazgfs.xml").read_text(encoding="utf-8")
        (self.folder / "yazgfs.xml").write_text(gfs.replace("{listen}", f"tcp:{self.host}:{self.port}"),
                                                encoding="utf-8")
        log = open(_rotated(self.folder / "zebrasrv.log"), "ab")
        # stdio redirected: a daemon holding the caller's stdout keeps `script | tee` from ending
        command = ["zebrasrv", "-f", "yazgfs.xml"]
        if self.tie_to_parent and shutil.which("setpriv"):  # util-linux, on every Debian
            command = ["setpriv", "--pdeathsig", "TERM", "--", *command]
        self.process = subprocess.Popen(command, cwd=self.folder,
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection((self._reach, self.port), timeout=0.5):
                    if self.process.poll() is None:
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ZebraError(f"zebrasrv did not start on {self.host}:{self.port}: {self._log_tail()}")

    @property
    def _reach(self) -> str:
        """Where to connect to check it answers (a server on every address answers on loopback)."""
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)

    def _check_port_free(self) -> None:
        """Another server on the port would answer our check for us: say so instead."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError as exc:
                raise ZebraError(f"cannot serve Z39.50 on {self.host}:{self.port}: {exc.strerror or exc} "
                                 "(another program uses the port? choose another one)") from None

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
        self.db.update(records)

    def delete(self, records: list[bytes]) -> None:
        self.db.delete(records)

    def replace_all(self, records: list[bytes]) -> None:
        """Re-index from scratch with only ``records`` (a library that reloaded its catalogue)."""
        running = self.process is not None
        self.stop()
        self.db.configure(fresh=True)
        self.db.init()
        if records:
            self.db.update(records)
        if running:
            self._run()

    def _log_tail(self) -> str:
        path = self.folder / "zebrasrv.log"
        return path.read_text(errors="replace")[-800:] if path.exists() else "(no log)"
