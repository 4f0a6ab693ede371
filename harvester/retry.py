"""Trying again, the same way for every client: OAI-PMH, SRU and export drops over HTTP, Z39.50, and the
search cluster's bulk requests.

Whether a failure heals by waiting is the caller's knowledge (a dropped connection may, a bad query
never does), so the caller decides. The wait is the same everywhere: exponential backoff, or the
server's own Retry-After when the failure carries one (``exc.retry_after``, in seconds).
"""
from __future__ import annotations

import logging
import math
import random
import time
from typing import Callable, TypeVar

T = TypeVar("T")


def retry(action: Callable[[], T], *, attempts: int, backoff_s: float, retryable: Callable[[Exception], bool],
          log: logging.Logger, sleep: Callable[[float], None] = time.sleep,
          describe: Callable[[Exception], str] = str, max_wait_s: float = math.inf, jitter: float = 0.0) -> T:
    """``action()``, tried up to ``attempts`` times while its failures are ``retryable``.

    After failure k it waits ``backoff_s * 2**(k-1)`` (at most ``max_wait_s``, less a random share of up
    to ``jitter`` so that parallel senders spread out), or the failure's ``retry_after``, and logs one
    line: "<describe(failure)>; retrying in <wait> s (attempt k of n)". The last failure, or one that is
    not retryable, is raised unchanged: the caller words the giving up.
    """
    attempt = 1
    while True:
        try:
            return action()
        except Exception as exc:
            if attempt >= attempts or not retryable(exc):
                raise
            wait = getattr(exc, "retry_after", None)
            if wait is None:
                wait = min(backoff_s * 2 ** (attempt - 1), max_wait_s) * (1 - jitter * random.random())
            log.warning("%s; retrying in %.1f s (attempt %d of %d)", describe(exc), wait, attempt, attempts)
            sleep(wait)
        attempt += 1
