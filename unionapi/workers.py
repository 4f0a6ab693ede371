"""Worker processes for the CPU-bound steps that split cleanly: parsing raw records, computing
blocking keys and building search documents. Each only reads, so only bytes and small results cross; ``spawn`` (not fork) because
the parent may hold SQLite connections and scheduler threads."""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Callable, Iterable, Iterator


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"))


def in_order(pool: ProcessPoolExecutor, function: Callable, items: Iterable, ahead: int) -> Iterator:
    """``pool.map`` without reading every item first: at most ``ahead`` items in flight, results in order."""
    waiting: deque = deque()
    for item in items:
        waiting.append(pool.submit(function, item))
        if len(waiting) >= ahead:
            yield waiting.popleft().result()
    while waiting:
        yield waiting.popleft().result()
