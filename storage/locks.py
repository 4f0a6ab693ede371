"""Cross-process locks, so a library is never harvested twice at once, even by two processes.

``flock`` locks die with the process that holds them, so a crashed harvest never leaves a lock
that blocks the next one; the pid written in the file is only there to say who holds it.
"""
from __future__ import annotations

import fcntl
import logging
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger("unioncat.locks")


class Busy(RuntimeError):
    """Someone else holds the lock; the message says who and since when."""


@contextmanager
def hold(folder: Path, name: str, wait_s: float = 0.0):
    """Hold the lock ``name`` (e.g. a library id, or "pipeline"); raise Busy after ``wait_s``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lock"
    handle = open(path, "a+")
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise Busy(f"{name} is busy: held by {holder}") from None
                time.sleep(0.2)
        handle.seek(0)
        previous = handle.read().strip()
        if previous:
            log.info("%s: the lock left by %s (no longer running) was cleared", name, previous)
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
