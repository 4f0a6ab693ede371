"""Benchmark: giving the union catalogue back (issue 21) on a national-size catalogue.

    python bench/publish.py [--records 1000000] [--oai-records 20000] [--queries 300] [--skip-zebra]

**The catalogue.** ``bench.dedup_scale.generate`` (fixed seed): records of a network of one
provincial library, 30 district and 200 school libraries, where a few books are held nearly
everywhere and most by one or two libraries; the records of one book are put in one entry as the
generator knows them (the matcher's own time is ``bench/dedup_scale.py``'s figure). Then the real
``pipeline.index_changes`` (embedded engine) builds the index and the publication state. Kept in
``bench/out/publish-<records>/`` and reused while its marker is there; building is not in any
figure except ``index_s``.

**OAI-PMH.** ``unioncat serve`` (waitress) over that data directory; one keep-alive httpx client
harvests ``ListRecords`` in ``marc21`` from the start for ``--oai-records`` records (``--oai-passes``
times; the median counts), then a library's
set; records/s, and the server's resident memory after the first 2,000 records and at the end (flat
memory: the two are close whatever the number of records).

**SRU and Z39.50.** ``--queries`` searches sampled from the catalogue (title words with and without
diacritics, an author, an ISBN), one after the other: p50 and p99 latency. SRU over HTTP
(``maximumRecords=10``, marcxml); Z39.50 on a real Zebra loaded from the publication state
(``publish.z3950.ZebraFeed``; its first load is timed as ``zebra_load_s``), through the project's
libyaz binding, fetching the first 10 records of each answer.

**The daily delta.** 1 % of the records changed (a copy lent or returned, a title edited) and 0.1 %
deleted, applied to the catalogue; then ``index_changes`` (which moves the publication state) and
one Zebra feed step, timed: ``delta_index_s`` and ``delta_zebra_s`` (the target is on the latter).

Last lines: one ``target ...: MET|MISSED`` per target (OAI >= 2,000 records/s with memory flat,
SRU and Z39.50 p50 <= 50 ms, Zebra up to date after the delta <= 60 s). It never fails because a
target is missed.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import yaml  # noqa: E402
from lxml import etree  # noqa: E402

from bench.dedup_scale import generate  # noqa: E402
from bench.network import free_port, proc_status_mb  # noqa: E402
from normalizer.records import AVAILABLE, ON_LOAN  # noqa: E402
from unionapi.catalogue import Catalogue, entry_id_for  # noqa: E402
from unionapi.pipeline import index_changes  # noqa: E402
from unionapi.publish.state import PublicationState  # noqa: E402
from unionapi.search.embedded import EmbeddedEngine  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
OAI_NS = "{http://www.openarchives.org/OAI/2.0/}"


def build(root: Path, records: int) -> dict:
    """The catalogue, index and publication state in ``root/data`` (reused when already built)."""
    data = root / "data"
    marker = root / "built.json"
    if marker.exists():
        return json.loads(marker.read_text())
    shutil.rmtree(root, ignore_errors=True)
    data.mkdir(parents=True)
    catalogue = Catalogue(data / "catalogue.sqlite3")
    started = time.monotonic()
    truth = generate(catalogue, records, 231)
    books: dict[int, list[str]] = {}
    for record_id, work in truth.items():
        books.setdefault(work, []).append(record_id)
    with catalogue.transaction() as db:  # one entry per book, as the generator knows them
        assignments = [(entry_id_for(min(ids)), record_id) for ids in books.values() for record_id in ids]
        catalogue.assign_entries(db, assignments, {entry for entry, _ in assignments})
    generate_s = time.monotonic() - started
    print(f"generated {len(truth):,} records of {len(books):,} books in {generate_s:.0f} s", flush=True)
    started = time.monotonic()
    index_changes(catalogue, EmbeddedEngine(data / "index"))
    index_s = time.monotonic() - started
    libraries = sorted({record_id.split(":")[0] for record_id in truth})
    catalogue.close()
    built = {"records": len(truth), "entries": len(books), "index_s": round(index_s, 1), "libraries": libraries}
    marker.write_text(json.dumps(built))
    return built


def write_config(root: Path, libraries: list[str]) -> Path:
    config = root / "config"
    drops = root / "drops"
    drops.mkdir(parents=True, exist_ok=True)
    config.mkdir(exist_ok=True)
    kinds = {"tv-tinh": "provincial"}
    entries = [{"id": lib, "name": lib, "kind": kinds.get(lib, "district" if lib.startswith("tv-") else "school"),
                **({} if lib == "tv-tinh" else {"parent": "tv-tinh"}),
                "protocol": "file", "path": str(drops), "schedule": "0 2 * * *", "enabled": False}
               for lib in libraries]
    (config / "sources.yaml").write_text(yaml.safe_dump({"libraries": entries}, allow_unicode=True), encoding="utf-8")
    settings = {"data_dir": str(root / "data"), "publish": {"z3950": {"enabled": False}}}  # Zebra: zebra_figures
    (config / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return config


def start_server(config: Path, port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "unionapi.cli", "--config", str(config), "serve",
                             "--port", str(port)], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parents[1])
    log.close()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the API server stopped: see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the API server did not answer in 300 s")


def harvest(client: httpx.Client, base: str, limit: int, pid: int, **params) -> dict:
    """ListRecords marc21 until ``limit`` records (or the list ends); records/s and the server's memory."""
    count, rss_early, token = 0, None, None
    started = time.monotonic()
    while count < limit:
        args = {"verb": "ListRecords", "resumptionToken": token} if token else \
            {"verb": "ListRecords", "metadataPrefix": "marc21", **params}
        root = etree.fromstring(client.get(base, params=args).content)
        count += len(root.findall(f"{OAI_NS}ListRecords/{OAI_NS}record"))
        if rss_early is None and count >= 2000:
            rss_early = proc_status_mb(pid, "VmRSS")
        token = root.findtext(f"{OAI_NS}ListRecords/{OAI_NS}resumptionToken")
        if not token:
            break
    seconds = time.monotonic() - started
    return {"records": count, "per_s": count / seconds if seconds else 0.0, "rss_early_mb": rss_early,
            "rss_end_mb": proc_status_mb(pid, "VmRSS")}


def sample_queries(catalogue: Catalogue, count: int, seed: int) -> list[tuple[str, str]]:
    """(kind, text) pairs: title words, the same without diacritics, an author, an ISBN."""
    from normalizer.text import fold
    rnd = random.Random(seed)
    total = catalogue.db.execute("SELECT max(rowid) FROM records").fetchone()[0]
    out: list[tuple[str, str]] = []
    while len(out) < count:
        row = catalogue.db.execute("SELECT data FROM records WHERE rowid = ?", (rnd.randint(1, total),)).fetchone()
        if not row:
            continue
        record = json.loads(row[0])
        words = record["title"].split()[:2]
        kind = rnd.choice(("title", "title_folded", "author", "isbn"))
        if kind == "title":
            out.append(("title", " ".join(words)))
        elif kind == "title_folded":
            out.append(("title", fold(" ".join(words))))
        elif kind == "author" and record["authors"]:
            out.append(("author", record["authors"][0]["name"].replace(",", "")))
        elif kind == "isbn" and record["isbns"]:
            out.append(("isbn", record["isbns"][0]))
    return out


def sru_latencies(client: httpx.Client, base: str, queries: list[tuple[str, str]]) -> tuple[list[float], int]:
    index = {"title": "dc.title", "author": "dc.creator", "isbn": "bath.isbn"}
    times, errors = [], 0
    for kind, text in queries:
        cql = f'{index[kind]} = "{text}"'
        started = time.perf_counter()
        response = client.get(base, params={"version": "1.2", "operation": "searchRetrieve", "query": cql,
                                            "maximumRecords": "10", "recordSchema": "marcxml"})
        times.append((time.perf_counter() - started) * 1000)
        errors += response.status_code != 200 or b"<diag:diagnostic" in response.content
    return times, errors


def z3950_latencies(port: int, database: str, queries: list[tuple[str, str]]) -> tuple[list[float], int]:
    from harvester.zoom import ZoomConnection, ZoomError
    use = {"title": 4, "author": 1003, "isbn": 7}
    times, errors = [], 0
    connection = ZoomConnection("127.0.0.1", port, {"databaseName": database, "preferredRecordSyntax": "usmarc",
                                                    "timeout": "30"})
    try:
        for kind, text in queries:
            started = time.perf_counter()
            try:
                found = connection.search(f'@attr 1={use[kind]} "{text}"')
                connection.records(0, min(found, 10))
            except ZoomError:
                errors += 1
            times.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return times, errors


def delta(catalogue: Catalogue, seed: int) -> tuple[int, int]:
    """1 % of the records changed (a copy lent or returned, or a title edited), 0.1 % deleted."""
    rnd = random.Random(seed)
    total = catalogue.db.execute("SELECT max(rowid) FROM records").fetchone()[0]
    from normalizer.records import CanonicalRecord
    cursor = catalogue.cursor()
    rows = catalogue.db.execute("SELECT id, data FROM records WHERE rowid IN (%s)" % ",".join(
        str(r) for r in rnd.sample(range(1, total + 1), total // 100 + total // 1000))).fetchall()
    changed, deleted = [], []
    for k, (record_id, data) in enumerate(rows):
        if k < total // 1000:
            deleted.append(record_id)
            continue
        record = CanonicalRecord.from_dict(json.loads(data))
        if rnd.random() < 0.8 and record.holdings:
            holding = record.holdings[0]
            holding.status = ON_LOAN if holding.status == AVAILABLE else AVAILABLE
        else:
            record.title += " : tái bản"
        changed.append((record, cursor + 1))
    catalogue.apply(changed, deleted, [], cursor + 1)
    return len(changed), len(deleted)


def verdict(name: str, ok: bool, shown: str) -> str:
    return f"target {name}: {'MET' if ok else 'MISSED'} ({shown})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--oai-records", type=int, default=20_000, help="records harvested for the OAI figure")
    parser.add_argument("--oai-passes", type=int, default=1, help="harvests of the same list (the median counts)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--skip-zebra", action="store_true", help="no Z39.50 figures (Zebra not installed)")
    args = parser.parse_args(argv)
    root = OUT / f"publish-{args.records}"
    built = build(root, args.records)
    print(f"records={built['records']} entries={built['entries']} index_s={built['index_s']}", flush=True)
    config = write_config(root, built["libraries"])
    port = free_port()
    server = start_server(config, port, root / "serve.log")
    lines = []
    try:
        with httpx.Client(timeout=120) as client:
            passes = []
            for _ in range(args.oai_passes):  # the same list again: the first pass may read a cold cache
                oai = harvest(client, f"http://127.0.0.1:{port}/oai", args.oai_records, server.pid)
                print(f"oai_records={oai['records']} oai_records_per_s={oai['per_s']:.0f} "
                      f"server_rss_mb_after_2000={oai['rss_early_mb']:.0f} server_rss_mb_end={oai['rss_end_mb']:.0f}",
                      flush=True)
                passes.append(oai)
            oai = {**passes[0], "per_s": statistics.median(p["per_s"] for p in passes),
                   "rss_end_mb": max(p["rss_end_mb"] for p in passes)}
            school = harvest(client, f"http://127.0.0.1:{port}/oai", 5000, server.pid, set="library:truong-150")
            print(f"oai_set_records={school['records']} oai_set_records_per_s={school['per_s']:.0f}", flush=True)
            catalogue = Catalogue(root / "data" / "catalogue.sqlite3")
            queries = sample_queries(catalogue, args.queries, args.seed)
            sru, sru_errors = sru_latencies(client, f"http://127.0.0.1:{port}/sru", queries)
            sru_p50, sru_p99 = statistics.median(sru), statistics.quantiles(sru, n=100)[98]
            print(f"sru_queries={len(sru)} sru_p50_ms={sru_p50:.1f} sru_p99_ms={sru_p99:.1f} errors={sru_errors}",
                  flush=True)
        memory_flat = oai["rss_end_mb"] <= 1.25 * oai["rss_early_mb"] + 20
        lines.append(verdict("OAI ListRecords >= 2000 records/s, memory flat", oai["per_s"] >= 2000 and memory_flat,
                             f"{oai['per_s']:.0f} records/s, server {oai['rss_early_mb']:.0f} -> "
                             f"{oai['rss_end_mb']:.0f} MB"))
        lines.append(verdict("SRU p50 <= 50 ms", sru_p50 <= 50, f"{sru_p50:.1f} ms, p99 {sru_p99:.1f} ms"))
        if not args.skip_zebra:
            lines += zebra_figures(root, catalogue, queries, args.seed)
        else:
            started = time.monotonic()
            delta(catalogue, args.seed)
            index_changes(catalogue, EmbeddedEngine(root / "data" / "index"))
            print(f"delta_index_s={time.monotonic() - started:.1f}")
        catalogue.close()
    finally:
        server.terminate()
        server.wait(30)
    print("\n".join(lines))
    return 0


def zebra_figures(root: Path, catalogue: Catalogue, queries, seed: int) -> list[str]:
    from unionapi.publish.z3950 import DATABASE, ZebraFeed
    from unionapi.publish.zebra import ZebraServer
    data = root / "data"
    publication = PublicationState.beside(catalogue.path)
    feed = ZebraFeed(data / "z3950", catalogue, publication)
    started = time.monotonic()
    report = feed.step()
    print(f"zebra_load_s={time.monotonic() - started:.1f} zebra_loaded={report.changed}"
          f"{' (reloaded)' if report.reloaded else ''}", flush=True)
    server = ZebraServer.start(feed.folder, database=DATABASE, fresh=False)
    lines = []
    try:
        times, errors = z3950_latencies(server.port, DATABASE, queries)
        p50, p99 = statistics.median(times), statistics.quantiles(times, n=100)[98]
        print(f"z3950_queries={len(times)} z3950_p50_ms={p50:.1f} z3950_p99_ms={p99:.1f} errors={errors}", flush=True)
        lines.append(verdict("Z39.50 p50 <= 50 ms", p50 <= 50, f"{p50:.1f} ms, p99 {p99:.1f} ms"))
        changed, deleted = delta(catalogue, seed)
        started = time.monotonic()
        index_changes(catalogue, EmbeddedEngine(data / "index"))
        index_s = time.monotonic() - started
        started = time.monotonic()
        report = feed.step()
        zebra_s = time.monotonic() - started
        print(f"delta_records_changed={changed} delta_records_deleted={deleted} delta_index_s={index_s:.1f} "
              f"delta_zebra_s={zebra_s:.1f} zebra_updated={len(report.updated)} zebra_deleted={len(report.deleted)}",
              flush=True)
        lines.append(verdict("Zebra up to date after a 1 % delta <= 60 s", zebra_s <= 60, f"{zebra_s:.1f} s"))
    finally:
        server.stop()
        publication.close()
    return lines


if __name__ == "__main__":
    sys.exit(main())
