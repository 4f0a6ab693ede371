"""Benchmark: the whole network at full scale, through the project's real code path (issue 9).

    python bench/network.py [--records 1000000] [--seed N] [--skip-api] [--api-seconds 30] [--clients 8]

**The network.** One provincial library (20% of the records), 30 district and commune libraries
(1.5% each) and 200 school libraries (0.175% each), generated with a fixed seed by
``unionapi.demo.scaled_network``. Popularity follows a zipf-like law over ``records / 3`` works (the
demo network's books first), so a few books are held nearly everywhere and most by one or two
libraries. Every library has its own
cataloguing habits, drawn from the seed: NFD or NFC text, "Nguyễn, Du" or "Nguyễn Du", ISBNs missing,
hyphenated, bare or as ISBN-10, "Nxb. Kim Đồng" or "Kim Đồng" or "NXB Kim Đồng", "H." for Hà Nội,
"[2015]", subtitles dropped, old-style tone marks. The provincial and the 30 district/commune
libraries are Koha-style MARC21 (952 items with statuses, 999 $c) served over OAI-PMH by real
pyoai providers (``unionapi.demo.provider``: each library a repository with its own URL, served by
``--provider-processes`` processes, pages of ``--page-size``);
the 200 schools are Libol-style ISO2709 exports (852 holdings) dropped into one folder each.
Generated data (and the next day's changes) go to ``bench/out/network-<records>/gen/`` and are
reused while the marker for (seed, records) is there; generation is not part of any figure.

**The full build.** A fresh data directory (``bench/out/network-<records>/run/``), a
``sources.yaml`` and ``settings.yaml`` written there and read with ``config.load_config``,
``Services.open``; then ``pipeline.harvest_one`` for every library (``--harvest-workers`` at once,
default 2 = the scheduler's ``max_parallel_harvests``), then ``normalize_changes``,
``deduplicate_changes`` and ``index_changes`` under the pipeline lock, timed one by one: exactly
what ``update_catalogue`` does, with the embedded search engine. Prints

    records=N harvest_s=A normalize_s=B dedup_s=C index_s=D total_s=T peak_rss_mb=M

**The daily delta.** 1% of the records changed (Koha: a copy checked out or returned, or a
cataloguer's edit: ISBN added, subtitle, pages; Libol: an edit) and 0.1% deleted, spread over all
libraries. Providers serve the changed records with the current time as datestamp and the deleted
ones as OAI ``deleted``; schools with a change drop a replaced export (same name) without the
deleted records. Then every library is harvested again incrementally (no ``full``) and the
pipeline runs on what changed; ``delta_total_s`` is that whole cycle, harvest included:

    delta_records=K delta_total_s=S

After each cycle the catalogue's record count is compared with what the sources hold; a
difference is printed as a ``MISMATCH`` line (a real bug, not something to hide).

**The API load.** ``python -m unionapi.cli serve`` (waitress, the project's server) on a free
port of 127.0.0.1 over the built catalogue; a separate process (this script with
``--load-worker``) runs ``--clients`` threads, each with its own keep-alive ``http.client``
connection, for ``--api-warmup`` seconds of warm-up and then ``--api-seconds`` measured: title
words without and with diacritics, author names, ISBN lookups, library facet filters, page 2,
record pages, sampled from the catalogue. Non-2xx answers and exceptions are errors:

    api_qps=Q p50_ms=A p99_ms=B errors=E

Then one ``target ...: MET|MISSED (...)`` line per target (2-core machine: full build <= 1200 s,
delta <= 60 s, API >= 200 q/s with p99 < 200 ms and no errors). The script never fails because a
target is missed.

**Peak RSS.** ``peak_rss_mb`` is the benchmark process itself (``RUSAGE_SELF`` max RSS at the end
of the full build): the harvester threads, the raw store, the normalizer, deduplication and
indexing all run in it; generation runs in child processes and is not in it. The other processes
are reported on their own line, from ``VmHWM`` in ``/proc/<pid>/status`` read just before each is
stopped: the OAI providers (sum and largest), the API server, and the load process (its own
``VmHWM``). ``RUSAGE_CHILDREN`` (the largest child waited for) is printed too, but read it with care:
Linux counts in it the parent's image a child had between fork and exec, and the generators.
Wall-clock figures come with the CPU seconds of the benchmark process per stage and the load
average, since other work on the machine slows every figure.
"""
from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import logging
import os
import pstats
import random
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from unionapi.demo.network import DEMO_SEED  # noqa: E402
from unionapi.demo.provider import terminate  # noqa: E402
from unionapi.demo.scaled_network import VERSION, Lib, generate, layout  # noqa: E402

log = logging.getLogger("bench.network")
OUT = Path(__file__).resolve().parent / "out"
EXPORT_NAME = "export-2026-11-22.mrc"
TARGETS = {"full_build_s": 1200, "delta_s": 60, "api_qps": 200, "api_p99_ms": 200}
ENV_OVERRIDES = ("UNIONCAT_DATA_DIR", "UNIONCAT_SEARCH_ENGINE", "UNIONCAT_SEARCH_URL", "UNIONCAT_SEARCH_INDEX",
                 "UNIONCAT_PORT", "UNIONCAT_CONFIG")


# --------------------------------------------------------------------------- helpers for the run
def rss_hwm_mb(pid: int) -> float | None:
    return proc_status_mb(pid, "VmHWM")


def proc_status_mb(pid: int, key: str) -> float | None:
    """A memory figure of a process from /proc/<pid>/status (VmHWM: its peak, VmRSS: now), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(config_dir: Path, data_dir: Path, libs: list[Lib], endpoints: dict, drops_dir: Path,
                 workers: int) -> None:
    import yaml
    config_dir.mkdir(parents=True, exist_ok=True)
    settings = {"data_dir": str(data_dir), "search": {"engine": "embedded"},
                "api": {"host": "127.0.0.1", "port": 8080, "max_page_size": 100, "tokens": []},
                "harvest": {"max_retries": 5, "backoff_s": 2, "max_pages": 100000,
                            "allow_private_addresses": True},  # the bench's providers are on 127.0.0.1
                "scheduler": {"max_parallel_harvests": workers},
                # the union catalogue's own Zebra is measured by bench/publish.py, not in these figures
                "publish": {"z3950": {"enabled": False}}}
    entries = []
    for lib in libs:
        entry = {"id": lib.id, "name": lib.name, "kind": lib.kind}
        if lib.parent:
            entry["parent"] = lib.parent
        if lib.protocol == "oai":
            entry.update(protocol="oai", endpoint=endpoints[lib.id], metadata_prefix="marc21", schedule="0 2 * * *",
                         branches=lib.branches)
        else:
            entry.update(protocol="file", path=str(drops_dir / lib.id), schedule="*/30 * * * *")
        entries.append(entry)
    (config_dir / "settings.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False),
                                              encoding="utf-8")
    (config_dir / "sources.yaml").write_text(
        "# written by bench/network.py for this run\n" +
        yaml.safe_dump({"libraries": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")


class _ThinProgress(logging.Filter):
    """The pipeline logs every 1000 records; keep one line in 50."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "normalized %d of %d" and record.args and record.args[0] % 50_000:
            return False
        return True


class Profiler:
    """With --profile: the chosen stages under cProfile, stats written next to the run."""

    def __init__(self, folder: Path | None, stages: set[str] = frozenset()):
        self.folder = folder
        self.stages = stages

    def on(self, name: str) -> bool:
        """``name`` is "<cycle>-<stage>"; a stage is chosen for both cycles ("dedup") or for one ("delta-dedup")."""
        return self.folder is not None and (name in self.stages or name.split("-", 1)[1] in self.stages)

    def run(self, name: str, fn, *args, **kwargs):
        if not self.on(name):
            return fn(*args, **kwargs)
        profile = cProfile.Profile()
        try:
            return profile.runcall(fn, *args, **kwargs)
        finally:
            self.folder.mkdir(parents=True, exist_ok=True)
            profile.dump_stats(self.folder / f"{name}.pstats")
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
            text.write("\n")
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(30)
            (self.folder / f"{name}.txt").write_text(text.getvalue())
            log.info("profile of %s written to %s", name, self.folder / f"{name}.txt")


def harvest_all(services, libs, workers: int, profiler: Profiler, label: str) -> dict:
    """pipeline.harvest_one for every library, ``workers`` at a time; per-protocol sums of library times."""
    from unionapi.pipeline import harvest_one
    config = services.config
    times: dict[str, float] = {}
    results = {}

    def one(lib_id: str):
        started = time.monotonic()
        try:
            results[lib_id] = harvest_one(services, config.library(lib_id))
        except Exception as exc:  # a failed harvest is a figure too
            log.exception("%s: harvest raised", lib_id)
            results[lib_id] = exc
        times[lib_id] = time.monotonic() - started

    order = [lib.id for lib in sorted(libs, key=lambda lib: -lib.quota)]
    if workers <= 1 or profiler.on(f"{label}-harvest"):
        profiler.run(f"{label}-harvest", lambda: [one(lib_id) for lib_id in order])
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="harvest") as pool:
            list(pool.map(one, order))
    summary = {"oai_s": 0.0, "file_s": 0.0, "added": 0, "updated": 0, "deleted": 0, "unchanged": 0,
               "quarantined": 0, "failed": []}
    protocol = {lib.id: lib.protocol for lib in libs}
    for lib_id, result in results.items():
        summary["oai_s" if protocol[lib_id] == "oai" else "file_s"] += times[lib_id]
        if isinstance(result, Exception) or result.outcome != "ok":
            summary["failed"].append((lib_id, str(result) if isinstance(result, Exception) else result.error))
            continue
        for name in ("added", "updated", "deleted", "unchanged", "quarantined"):
            summary[name] += getattr(result.counts, name)
    return summary


def cycle(services, libs, workers: int, profiler: Profiler, label: str, stop_after_normalize: bool = False) -> dict:
    """Harvest everything, then normalize -> deduplicate -> index what changed, each timed."""
    from storage.locks import hold
    from unionapi.pipeline import deduplicate_changes, index_changes, normalize_changes
    t0, c0 = time.monotonic(), time.process_time()
    log.info("[%s] harvesting %d libraries, %d at a time", label, len(libs), workers)
    harvest = harvest_all(services, libs, workers, profiler, label)
    t1, c1 = time.monotonic(), time.process_time()
    rss = {"harvest": _maxrss()}
    log.info("[%s] harvest done in %.1f s", label, t1 - t0)
    with hold(services.locks_dir, "pipeline", wait_s=3600):
        report = profiler.run(f"{label}-normalize", normalize_changes, services.config, services.raw,
                              services.catalogue)
        t2, c2 = time.monotonic(), time.process_time()
        rss["normalize"] = _maxrss()
        if stop_after_normalize:
            return {"harvest_s": t1 - t0, "normalize_s": t2 - t1, "cpu": {"harvest": c1 - c0, "normalize": c2 - c1},
                    "rss": rss, "harvest": harvest, "normalized": report.normalized, "rejected": report.rejected}
        profiler.run(f"{label}-dedup", deduplicate_changes, services.config, services.catalogue)
        t3, c3 = time.monotonic(), time.process_time()
        rss["dedup"] = _maxrss()
        log.info("[%s] deduplication done in %.1f s", label, t3 - t2)
        indexed = profiler.run(f"{label}-index", index_changes, services.catalogue, services.engine)
        t4, c4 = time.monotonic(), time.process_time()
        rss["index"] = _maxrss()
    return {"harvest_s": t1 - t0, "normalize_s": t2 - t1, "dedup_s": t3 - t2, "index_s": t4 - t3, "total_s": t4 - t0,
            "cpu": {"harvest": c1 - c0, "normalize": c2 - c1, "dedup": c3 - c2, "index": c4 - c3}, "rss": rss,
            "harvest": harvest, "normalized": report.normalized, "norm_deleted": report.deleted,
            "rejected": report.rejected, "indexed": indexed}


def cpu_line(label: str, result: dict) -> str:
    """CPU seconds of this process per stage (all its threads), beside the wall-clock figures: on a
    busy machine the difference is time spent waiting for a core (or, for the harvest, for the providers)."""
    return (f"[{label}] cpu seconds of the benchmark process: " +
            ", ".join(f"{k} {v:.1f}" for k, v in result["cpu"].items()) +
            "; its peak RSS (MB) after each stage: " + ", ".join(f"{k} {v:.0f}" for k, v in result["rss"].items()) +
            f"; load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _maxrss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_counts(services, expected: int, per_library: dict[str, int], label: str) -> bool:
    """The catalogue must hold every live record of the sources; a rejected record counts as missing (and is shown)."""
    catalogue, raw = services.catalogue, services.raw
    records = catalogue.db.execute("SELECT count(*) FROM records").fetchone()[0]
    rejected = catalogue.db.execute("SELECT count(*) FROM rejected").fetchone()[0]
    live_raw = raw.count()
    entries = catalogue.entry_count()
    indexed = services.engine.count()
    quarantined = raw.db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    dirty = catalogue.db.execute("SELECT count(*) FROM entries WHERE dirty != 0").fetchone()[0]
    print(f"[{label}] catalogue records={records} expected={expected} (raw live={live_raw}, rejected={rejected}, "
          f"quarantined={quarantined}) entries={entries} indexed={indexed} dirty_entries={dirty}", flush=True)
    ok = True
    if records != expected:
        ok = False
        print(f"[{label}] MISMATCH: the catalogue holds {records} records, the sources hold {expected} "
              f"(rejected by the normalizer: {rejected})", flush=True)
        counts = catalogue.record_counts()
        diffs = [(lib, counts.get(lib, 0), want) for lib, want in per_library.items() if counts.get(lib, 0) != want]
        for lib, have, want in diffs[:20]:
            print(f"[{label}] MISMATCH   {lib}: catalogue {have}, source {want}", flush=True)
        if len(diffs) > 20:
            print(f"[{label}] MISMATCH   ... and {len(diffs) - 20} more libraries", flush=True)
    if live_raw != expected:
        ok = False
        print(f"[{label}] MISMATCH: the raw store holds {live_raw} live records, the sources hold {expected}",
              flush=True)
    if indexed != entries:
        ok = False
        print(f"[{label}] MISMATCH: the index holds {indexed} entries, the catalogue {entries}", flush=True)
    return ok


def serve_delta(gen_dir: Path, serve_dir: Path, drops_dir: Path, libs: list[Lib], manifest: dict) -> list[str]:
    """The next day at every library (not timed): providers' files with the changes, replaced exports.

    Returns the ids of the OAI libraries whose file changed (their providers reload it)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    changed_oai = []
    for lib in libs:
        stats = manifest["libraries"][lib.id]
        if not (stats["changed"] or stats["deleted"]):
            continue
        if lib.protocol == "oai":
            replacements = {}
            with open(gen_dir / "oai" / f"{lib.id}.delta.jsonl", encoding="utf-8") as f:
                for line in f:
                    item = json.loads(line)
                    item["record"]["datestamp"] = now
                    replacements[item["line"]] = json.dumps(item["record"], ensure_ascii=False) + "\n"
            target = serve_dir / f"{lib.id}.jsonl"
            tmp = serve_dir / f".{lib.id}.jsonl.tmp"
            with open(gen_dir / "oai" / f"{lib.id}.jsonl", encoding="utf-8") as src, \
                    open(tmp, "w", encoding="utf-8") as out:
                for number, line in enumerate(src):
                    out.write(replacements.get(number, line))
            os.replace(tmp, target)
            changed_oai.append(lib.id)
        else:
            folder = drops_dir / lib.id
            tmp = folder / ".export.tmp"
            shutil.copyfile(gen_dir / "drops" / f"{lib.id}.delta.mrc", tmp)
            os.utime(tmp, (time.time() - 3600,) * 2)  # the new export finished an hour ago: settled
            os.replace(tmp, folder / EXPORT_NAME)
    return changed_oai


def sample_queries(services, libs: list[Lib], count: int, seed: int) -> list[str]:
    """A mix of patron requests, from records of the catalogue (popular books come up more often)."""
    from normalizer.text import fold
    from unionapi.search import words
    rng = random.Random(f"{seed}:queries")
    db = services.catalogue.db
    top = db.execute("SELECT max(rowid) FROM records").fetchone()[0] or 0
    rowids = sorted(rng.sample(range(1, top + 1), min(top, count * 2)))
    rows = []
    for start in range(0, len(rowids), 500):
        chunk = rowids[start:start + 500]
        rows += db.execute(f"SELECT entry_id, data FROM records WHERE rowid IN ({','.join('?' * len(chunk))})",
                           chunk).fetchall()
    rng.shuffle(rows)
    kinds = ["title_folded"] * 25 + ["title_exact"] * 15 + ["author"] * 15 + ["isbn"] * 10 + ["library"] * 15 + \
            ["page2"] * 10 + ["record"] * 10
    out = []
    for entry_id, data in rows:
        if len(out) >= count:
            break
        record = json.loads(data)
        title_words = words(record["title"])
        kind = rng.choice(kinds)
        if kind == "record":
            out.append(f"/api/entries/{entry_id}")
            continue
        if kind == "isbn":
            if not record["isbns"]:
                continue
            out.append("/api/search?" + urlencode({"q": rng.choice(record["isbns"])}))
            continue
        if kind == "author":
            if not record["authors"]:
                continue
            name = record["authors"][0]["name"]
            out.append("/api/search?" + urlencode({"q": fold(name) if rng.random() < 0.5 else name}))
            continue
        if not title_words:
            continue
        n = min(len(title_words), rng.randint(2, 3))
        start = rng.randrange(len(title_words) - n + 1)
        phrase = " ".join(title_words[start:start + n])
        if kind == "title_exact":
            out.append("/api/search?" + urlencode({"q": phrase}))
        elif kind == "title_folded":
            out.append("/api/search?" + urlencode({"q": fold(phrase)}))
        elif kind == "library":
            lib = record["library"] if rng.random() < 0.7 else rng.choice(libs).id
            out.append("/api/search?" + urlencode({"q": fold(title_words[0]), "library": lib}))
        else:  # page 2 of a short, broad query
            out.append("/api/search?" + urlencode({"q": fold(title_words[0]), "page": 2}))
    return out


def start_server(config_dir: Path, port: int, threads: int, log_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "serve", "--host", "127.0.0.1",
           "--port", str(port), "--threads", str(threads)]
    log.info("starting the API: %s", " ".join(cmd))
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT)


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API server exited with code {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/health")
            response = conn.getresponse()
            body = response.read()
            conn.close()
            if response.status == 200:
                return json.loads(body)
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the API server did not answer /api/health within {timeout:.0f} s")


def verdict(name: str, ok: bool, shown: str) -> str:
    return f"target {name}: {'MET' if ok else 'MISSED'} ({shown})"


# --------------------------------------------------------------------------- the run
def run(args) -> int:
    from config import load_config
    from unionapi.demo.provider import start_repositories
    from unionapi.services import Services

    for name in ENV_OVERRIDES:
        os.environ.pop(name, None)
    out = OUT / f"network-{args.records}"
    gen_dir = out / "gen"
    libs = layout(args.records, args.seed)
    marker = gen_dir / f"generated-{VERSION}-{args.seed}-{args.records}"
    if marker.exists():
        manifest = json.loads((gen_dir / "manifest.json").read_text())
        log.info("reusing the generated network in %s (%d records, seed %d)", gen_dir, manifest["records"], args.seed)
    else:
        manifest = generate(gen_dir, args.records, args.seed, args.gen_workers)
        marker.touch()
    total, n_changed, n_deleted = manifest["records"], manifest["changed"], manifest["deleted"]
    n_oai = sum(lib.quota for lib in libs if lib.protocol == "oai")
    print(f"network: {len(libs)} libraries ({sum(lib.protocol == 'oai' for lib in libs)} over OAI-PMH holding "
          f"{n_oai} records, {sum(lib.protocol == 'file' for lib in libs)} export drops holding {total - n_oai}); "
          f"{manifest['works']} works; generated in {manifest['generation_s']} s (not timed)", flush=True)
    import hashlib
    import importlib
    importlib.import_module("unionapi.clusters")  # now: the code measured is the code of this moment
    versions = " ".join(f"{name}={hashlib.sha256((ROOT / name).read_bytes()).hexdigest()[:10]}"
                        for name in ("unionapi/clusters.py", "normalizer/dedup.py", "unionapi/pipeline.py",
                                     "harvester/rawstore.py"))
    print(f"code: {versions}", flush=True)
    print(f"machine: {os.cpu_count()} cores; load average before the run "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine slows every figure)",
          flush=True)

    run_dir = out / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    data_dir, serve_dir, drops_dir, logs = (run_dir / "data", run_dir / "serve", run_dir / "drops",
                                            run_dir / "logs")
    for folder in (data_dir, serve_dir, drops_dir, logs):
        folder.mkdir(parents=True)
    for lib in libs:
        if lib.protocol == "oai":
            os.link(gen_dir / "oai" / f"{lib.id}.jsonl", serve_dir / f"{lib.id}.jsonl")
        else:
            (drops_dir / lib.id).mkdir()
            export = drops_dir / lib.id / EXPORT_NAME
            shutil.copyfile(gen_dir / "drops" / f"{lib.id}.mrc", export)
            os.utime(export, (time.time() - 3600,) * 2)  # finished an hour ago, as the demo does
    stages = {"harvest", "normalize", "dedup", "index"}
    known = stages | {f"{cycle_name}-{stage}" for cycle_name in ("full", "delta") for stage in stages}
    wanted = stages if args.profile == "all" else set((args.profile or "").split(",")) - {""}
    if wanted - known:
        raise SystemExit(f"--profile: unknown stage(s) {', '.join(sorted(wanted - known))}; "
                         f"known: {', '.join(sorted(stages))}, or one cycle's, e.g. delta-dedup")
    profiler = Profiler(out / "profile" if wanted else None, wanted)
    if wanted:
        print(f"profiling {', '.join(sorted(wanted))} (their figures include cProfile's overhead"
              f"{'; the harvest runs one library at a time' if wanted & {'harvest', 'full-harvest', 'delta-harvest'} else ''})", flush=True)
    figures: dict = {}
    peaks: dict = {}

    with ExitStack() as stack:
        # -- the libraries' own servers (not timed: they are the libraries', not ours). Every library is a
        # repository of its own (its own URL, Identify, datestamps); --provider-processes processes serve them.
        oai_libs = [lib for lib in libs if lib.protocol == "oai"]
        started = time.monotonic()
        groups: list[list[Lib]] = [[] for _ in range(max(1, min(args.provider_processes, len(oai_libs))))]
        for lib in sorted(oai_libs, key=lambda lib: -lib.quota):  # balanced by records
            min(groups, key=lambda g: sum(x.quota for x in g)).append(lib)
        providers = {}  # process number -> ProviderProcess
        serving = {}  # library id -> process number

        def start(number: int):
            repos = {lib.id: {"data": serve_dir / f"{lib.id}.jsonl", "name": lib.name, "formats": ["marc21"]}
                     for lib in groups[number]}
            providers[number] = start_repositories(repos, run_dir / f"providers-{number}.json", port=0,
                                                   page_size=args.page_size,
                                                   log_path=logs / f"provider-{number}.log", timeout=1800)
            serving.update((lib.id, number) for lib in groups[number])

        try:
            with ThreadPoolExecutor(len(groups)) as pool:
                list(pool.map(start, range(len(groups))))
        finally:
            for provider in providers.values():
                stack.callback(provider.stop)
        log.info("%d OAI-PMH repositories served by %d provider processes, up in %.0f s (page size %d)",
                 len(serving), len(providers), time.monotonic() - started, args.page_size)
        endpoints = {lib_id: providers[number].url_for(lib_id) for lib_id, number in serving.items()}
        config_dir = run_dir / "config"
        write_config(config_dir, data_dir, libs, endpoints, drops_dir, args.harvest_workers)
        config = load_config(config_dir)
        services = Services.open(config)
        stack.callback(services.close)

        # -- the full build
        if args.stop_after_normalize:
            part = cycle(services, libs, args.harvest_workers, profiler, "full", stop_after_normalize=True)
            print(cpu_line("full", part), flush=True)
            print(f"records={total} harvest_s={part['harvest_s']:.1f} normalize_s={part['normalize_s']:.1f} "
                  f"(stopped after normalize: normalized {part['normalized']}, rejected {part['rejected']}; no dedup, "
                  "index, delta or API)", flush=True)
            return 0
        full = cycle(services, libs, args.harvest_workers, profiler, "full")
        peaks["self"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        h = full["harvest"]
        print(f"[full] harvest: {h['added']} added, {h['updated']} updated, {h['deleted']} deleted, "
              f"{h['quarantined']} quarantined; library-seconds: OAI {h['oai_s']:.0f} s, drops {h['file_s']:.0f} s; "
              f"normalized {full['normalized']}, rejected {full['rejected']}; {full['indexed']} entries indexed",
              flush=True)
        for lib_id, error in h["failed"]:
            print(f"[full] HARVEST FAILED {lib_id}: {error}", flush=True)
        print(cpu_line("full", full), flush=True)
        check_counts(services, total, {k: s["records"] for k, s in manifest["libraries"].items()}, "full")
        figures["full"] = full
        print(f"records={total} harvest_s={full['harvest_s']:.1f} normalize_s={full['normalize_s']:.1f} "
              f"dedup_s={full['dedup_s']:.1f} index_s={full['index_s']:.1f} total_s={full['total_s']:.1f} "
              f"peak_rss_mb={peaks['self']:.0f}", flush=True)

        # -- the next day
        if not args.skip_delta:
            started = time.monotonic()
            changed_oai = serve_delta(gen_dir, serve_dir, drops_dir, libs, manifest)
            for lib_id in changed_oai:  # let each repository reload its file before the clock starts
                url = urlsplit(endpoints[lib_id])
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
                conn.request("GET", f"{url.path}?verb=Identify")
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status != 200:
                    print(f"[delta] the provider of {lib_id} answered HTTP {response.status} to Identify", flush=True)
            log.info("the next day's changes are at the sources (%d providers reloaded) in %.0f s (not timed)",
                     len(changed_oai), time.monotonic() - started)
            time.sleep(1.1)  # the OAI datestamps of the changes are this second: be past it
            delta = cycle(services, libs, args.harvest_workers, profiler, "delta")
            h = delta["harvest"]
            oai_changed = sum(manifest["libraries"][lib.id]["changed"] for lib in oai_libs)
            oai_deleted = sum(manifest["libraries"][lib.id]["deleted"] for lib in oai_libs)
            print(f"[delta] harvest: {h['added']} added, {h['updated']} updated (expected {n_changed}: "
                  f"{oai_changed} OAI, {n_changed - oai_changed} drops), {h['deleted']} deleted (expected {n_deleted}: "
                  f"{oai_deleted} OAI, {n_deleted - oai_deleted} drops), {h['unchanged']} unchanged, "
                  f"{h['quarantined']} quarantined; library-seconds: OAI {h['oai_s']:.1f} s, drops {h['file_s']:.1f} s",
                  flush=True)
            print(f"[delta] stages: harvest_s={delta['harvest_s']:.1f} normalize_s={delta['normalize_s']:.1f} "
                  f"dedup_s={delta['dedup_s']:.1f} index_s={delta['index_s']:.1f}; normalized {delta['normalized']}, "
                  f"deletions {delta['norm_deleted']}, rejected {delta['rejected']}; {delta['indexed']} entries "
                  "reindexed", flush=True)
            print(cpu_line("delta", delta), flush=True)
            for lib_id, error in h["failed"]:
                print(f"[delta] HARVEST FAILED {lib_id}: {error}", flush=True)
            if h["updated"] != n_changed or h["deleted"] != n_deleted or h["added"]:
                print(f"[delta] MISMATCH: the incremental harvest saw {h['added']} added, {h['updated']} updated, "
                      f"{h['deleted']} deleted; the sources changed {n_changed} and deleted {n_deleted}", flush=True)
            per_lib = {}
            for lib in libs:
                s = manifest["libraries"][lib.id]
                per_lib[lib.id] = s["records"] - s["deleted"]
            check_counts(services, total - n_deleted, per_lib, "delta")
            figures["delta"] = delta
            print(f"delta_records={n_changed + n_deleted} delta_total_s={delta['total_s']:.1f}", flush=True)

        queries = sample_queries(services, libs, args.queries, args.seed)
        services.close()
        provider_peaks = {number: rss_hwm_mb(p.proc.pid) for number, p in providers.items()}
        for provider in providers.values():
            provider.stop()
        known = [v for v in provider_peaks.values() if v]
        if known:
            peaks["providers_sum"], peaks["providers_max"] = sum(known), max(known)

        # -- the API under load, from another process
        if not args.skip_api:
            queries_file = run_dir / "queries.txt"
            queries_file.write_text("\n".join(queries) + "\n", encoding="utf-8")
            port = free_port()
            server = start_server(config_dir, port, args.server_threads, logs / "server.log")
            stack.callback(terminate, server, 15)
            health = wait_healthy(port, server)
            log.info("API up on port %d: %s", port, health)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--load-worker", "--url",
                   f"http://127.0.0.1:{port}", "--queries-file", str(queries_file),
                   "--api-seconds", str(args.api_seconds),
                   "--api-warmup", str(args.api_warmup), "--clients", str(args.clients), "--seed", str(args.seed)]
            log.info("API load: %d clients, %.0f s warm-up, %.0f s measured, %d distinct requests", args.clients,
                     args.api_warmup, args.api_seconds, len(set(queries)))
            done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            peaks["server"] = rss_hwm_mb(server.pid)
            terminate(server, 15)
            if done.returncode != 0:
                print(f"API load process failed with code {done.returncode}", flush=True)
            else:
                api = json.loads(done.stdout.strip().splitlines()[-1])
                figures["api"] = api
                peaks["load"] = api["peak_rss_mb"]
                print(f"[api] {api['requests']} requests in {api['seconds']:.0f} s measured; by kind (p50/p99 ms): "
                      + ", ".join(f"{k} {v['n']}x {v['p50_ms']:.0f}/{v['p99_ms']:.0f}" for k, v in api['kinds'].items())
                      + f"; warm-up errors {api['warmup_errors']}" + (f"; first errors: {api['error_samples']}"
                                                                      if api["error_samples"] else "")
                      + f"; load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
                print(f"api_qps={api['qps']:.1f} p50_ms={api['p50_ms']:.1f} p99_ms={api['p99_ms']:.1f} "
                      f"errors={api['errors']}", flush=True)

    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("peak rss (MB): benchmark process (harvest+pipeline) {:.0f}; OAI providers {}; API server {}; "
          "load process {}; RUSAGE_CHILDREN max {:.0f} (see the docstring)".format(
              peaks["self"],
              f"sum {peaks['providers_sum']:.0f} (largest {peaks['providers_max']:.0f}, {len(providers)} processes)"
              if "providers_sum" in peaks else "?",
              f"{peaks['server']:.0f}" if peaks.get("server") else "-",
              f"{peaks['load']:.0f}" if peaks.get("load") else "-", children), flush=True)
    full = figures["full"]
    print(verdict(f"full_build<={TARGETS['full_build_s']}s", full["total_s"] <= TARGETS["full_build_s"],
                  f"{full['total_s']:.0f} s"), flush=True)
    if "delta" in figures:
        d = figures["delta"]["total_s"]
        print(verdict(f"delta<={TARGETS['delta_s']}s", d <= TARGETS["delta_s"], f"{d:.1f} s"), flush=True)
    if "api" in figures:
        api = figures["api"]
        print(verdict(f"api_qps>={TARGETS['api_qps']}", api["qps"] >= TARGETS["api_qps"], f"{api['qps']:.1f} q/s"),
              flush=True)
        print(verdict(f"api_p99<{TARGETS['api_p99_ms']}ms", api["p99_ms"] < TARGETS["api_p99_ms"],
                      f"{api['p99_ms']:.1f} ms"), flush=True)
        print(verdict("api_errors=0", api["errors"] == 0, f"{api['errors']} errors"), flush=True)
    return 0


# --------------------------------------------------------------------------- the load process
def load_worker(args) -> int:
    """Runs in its own process: ``clients`` keep-alive connections, warm-up, then the measured window."""
    queries = [line for line in Path(args.queries_file).read_text(encoding="utf-8").splitlines() if line]
    url = urlsplit(args.url)
    host, port = url.hostname, url.port
    begin = time.monotonic() + 0.2
    measure_from = begin + args.api_warmup
    end = measure_from + args.api_seconds
    results = [[] for _ in range(args.clients)]  # (kind, seconds, ok)
    warm_errors = [0] * args.clients
    error_samples: list[str] = []

    def kind_of(path: str) -> str:
        if path.startswith("/api/entries/"):
            return "record"
        if "library=" in path:
            return "library"
        if "page=2" in path:
            return "page2"
        q = path.split("q=", 1)[1].split("&", 1)[0]
        if q.isdigit():
            return "isbn"
        return "search"

    def client(k: int) -> None:
        rng = random.Random(f"{args.seed}:client:{k}")
        conn = http.client.HTTPConnection(host, port, timeout=60)
        while time.monotonic() < begin:
            time.sleep(0.01)
        while True:
            t = time.monotonic()
            if t >= end:
                break
            path = rng.choice(queries)
            ok, problem = False, None
            try:
                conn.request("GET", path, headers={"Accept": "application/json"})
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
                if not ok:
                    problem = f"HTTP {response.status} for {path}"
                if response.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=60)
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc} for {path}"
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
            done = time.monotonic()
            if problem and len(error_samples) < 5:
                error_samples.append(problem)
            if t >= measure_from and done <= end:
                results[k].append((kind_of(path), done - t, ok))
            elif t < measure_from and not ok:
                warm_errors[k] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [r for rs in results for r in rs]
    latencies = sorted(r[1] for r in everything)

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")

    kinds = {}
    for name in sorted({r[0] for r in everything}):
        values = sorted(r[1] for r in everything if r[0] == name)
        kinds[name] = {"n": len(values), "p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99)}
    print(json.dumps({"requests": len(everything), "seconds": args.api_seconds,
                      "qps": len(everything) / args.api_seconds, "p50_ms": pct(latencies, 0.5),
                      "p99_ms": pct(latencies, 0.99), "errors": sum(1 for r in everything if not r[2]),
                      "warmup_errors": sum(warm_errors), "error_samples": error_samples, "kinds": kinds,
                      "peak_rss_mb": rss_hwm_mb(os.getpid())}), flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--skip-api", action="store_true", help="stop after the delta")
    parser.add_argument("--skip-delta", action="store_true", help="no daily delta")
    parser.add_argument("--api-seconds", type=float, default=30.0, help="measured seconds of API load (default 30)")
    parser.add_argument("--api-warmup", type=float, default=5.0, help="warm-up seconds before measuring (default 5)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients (default 8)")
    parser.add_argument("--server-threads", type=int, default=8,
                        help="waitress threads of `unioncat serve` (default 8)")
    parser.add_argument("--queries", type=int, default=3000, help="distinct requests sampled for the load")
    parser.add_argument("--harvest-workers", type=int, default=2,
                        help="libraries harvested at once (default 2, the scheduler's max_parallel_harvests)")
    parser.add_argument("--page-size", type=int, default=500, help="OAI-PMH records per page (default 500)")
    parser.add_argument("--provider-processes", type=int, default=2,
                        help="processes serving the 31 OAI-PMH repositories (default 2)")
    parser.add_argument("--gen-workers", type=int, default=2, help="processes generating the network (default 2)")
    parser.add_argument("--profile", nargs="?", const="all", metavar="STAGES",
                        help="cProfile the stages (all, or e.g. harvest,normalize,index, or one cycle's: delta-dedup; the harvest then runs one "
                             "library at a time) into bench/out/network-<records>/profile/; figures include the "
                             "profiler's overhead")
    parser.add_argument("--stop-after-normalize", action="store_true",
                        help="only harvest and normalize (e.g. to profile those two at scale quickly)")
    parser.add_argument("--load-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_worker:
        return load_worker(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    for noisy in ("urllib3", "waitress.queue"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("unioncat.pipeline").addFilter(_ThinProgress())
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
