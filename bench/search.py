"""Benchmark: search through the HTTP API on the embedded engine or on OpenSearch.

    python bench/search.py --engine embedded|opensearch --records 1000000 [--queries 2000] [--clients 4]

Generates N union entries directly in the ``entry_document`` shape (fixed seed: Vietnamese titles,
authors, subjects, 231 libraries, holdings with branches and statuses), indexes them with the engine's
own ``write(..., replace_all=True)`` (timed: index_docs_per_s), then serves the real Flask app under
waitress on 127.0.0.1 and runs a fixed mix of patron queries over HTTP: title words typed without
diacritics, authors, subjects, with and without facet filters (library, language, type, years,
available). Latency percentiles come from one client sending one query at a time; qps from
``--clients`` clients at once. Last line:

    engine=E records=N index_docs_per_s=X p50_ms=A p95_ms=B qps=Q

OpenSearch: ``--url`` or $UNIONCAT_SEARCH_URL, else the project's own node (scripts/install-opensearch,
512 MB heap unless --heap) is started on a free port and stopped at the end.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import unicodedata
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.normalize import FAMILY, GIVEN, MIDDLE, PUBLISHERS, SUBJECTS, TITLE_WORDS, isbn13  # noqa: E402
from normalizer.text import fold  # noqa: E402

SEED = 20261123
STATUSES = ["available"] * 6 + ["on_loan"] * 3 + ["not_for_loan", "lost"]
TYPES = ["book"] * 17 + ["serial", "map", "sound"]
LANGS = [["vie"]] * 17 + [["eng"], ["fra"], ["vie", "eng"]]
ONSETS = ["b", "c", "ch", "d", "đ", "g", "h", "kh", "l", "m", "n", "ng", "nh", "ph", "qu", "s", "t", "th", "tr", "v", "x"]
RHYMES = ["a", "ai", "am", "an", "ang", "anh", "ao", "ay", "ăn", "âm", "ân", "âu", "e", "em", "en", "eo", "ê", "ênh",
          "i", "im", "in", "inh", "o", "oa", "oan", "oi", "om", "on", "ong", "ô", "ôi", "ông", "ơ", "ơi", "ơn", "u",
          "ui", "um", "un", "ung", "uy", "ư", "ưa", "ươi", "ương", "ưu"]
TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]


def libraries() -> dict[str, list[str]]:
    """One provincial library (3 branches), 30 district (2 branches) and 200 school libraries (1)."""
    out = {"tv-tinh": ["Trụ sở chính", "Phòng đọc Thiếu nhi", "Thư viện lưu động"]}
    for i in range(30):
        out[f"tv-huyen-{i:02d}"] = [f"Thư viện huyện {i}", f"Tủ sách xã {i}"]
    for i in range(200):
        out[f"truong-{i:03d}"] = [f"Thư viện trường {i}"]
    return out


def vocabulary(rnd: random.Random, count: int = 3000) -> list[str]:
    words = set()
    while len(words) < count:
        rhyme = rnd.choice(RHYMES)  # the tone mark goes on the rhyme's first vowel
        words.add(unicodedata.normalize("NFC", rnd.choice(ONSETS) + rhyme[0] + rnd.choice(TONES) + rhyme[1:]))
    return sorted(words)


def documents(count: int, seed: int = SEED):
    """``count`` entry documents in the entry_document shape, the same ones for every engine."""
    rnd = random.Random(seed)
    rare = vocabulary(rnd)
    libs = libraries()
    lib_ids = list(libs)
    weights = [60] + [8] * 30 + [1] * 200  # the provincial library holds most, schools a little
    for number in range(count):
        words = [rnd.choice(TITLE_WORDS) for _ in range(rnd.randint(2, 4))]
        words += [rnd.choice(rare) for _ in range(rnd.randint(1, 3))]
        rnd.shuffle(words)
        title = " ".join(words).capitalize()
        authors = [f"{rnd.choice(FAMILY)} {rnd.choice(MIDDLE)} {rnd.choice(GIVEN)}" for _ in range(rnd.randint(1, 2))]
        subjects = rnd.sample(SUBJECTS, rnd.randint(1, 2))
        held = sorted(set(rnd.choices(lib_ids, weights=weights, k=rnd.randint(1, 4))))
        holdings = []
        for library in held:
            for _ in range(rnd.randint(1, 2)):
                holdings.append({"library": library, "branch": rnd.choice(libs[library]),
                                 "call_number": f"{rnd.randint(0, 999):03d}.{rnd.randint(0, 99)} {title[0]}",
                                 "status": rnd.choice(STATUSES)})
        unique = list({tuple(h.values()): h for h in holdings}.values())
        isbns = [isbn13(rnd)] if rnd.random() < 0.7 else []
        year = rnd.randint(1960, 2025) if rnd.random() < 0.95 else None
        publisher = rnd.choice(PUBLISHERS)
        yield {
            "id": f"{number:016x}",
            "title": title,
            "title_sort": fold(title),
            "titles": [title],
            "authors": authors,
            "subjects": subjects,
            "publisher": publisher,
            "year": year,
            "languages": rnd.choice(LANGS),
            "material_type": rnd.choice(TYPES),
            "isbns": isbns,
            "libraries": held,
            "available_libraries": sorted({h["library"] for h in unique if h["status"] == "available"}),
            "holdings": unique,
            "member_count": len(held),
            "other_text": [publisher, *isbns],
        }


def query_mix(count: int, seed: int = SEED) -> list[dict]:
    """A fixed mix of patron searches (the parameters of GET /api/search)."""
    rnd = random.Random(seed + 1)
    rare = vocabulary(random.Random(seed))
    lib_ids = list(libraries())
    out = []
    for number in range(count):
        kind = number % 10
        if kind in (0, 1, 2):  # title words typed without diacritics
            params = {"q": fold(" ".join([rnd.choice(TITLE_WORDS), rnd.choice(rare)]))}
        elif kind == 3:
            params = {"q": fold(" ".join(rnd.sample(TITLE_WORDS, 2)))}  # two common words: big result sets
        elif kind == 4:  # an author, as typed (with or without marks)
            name = f"{rnd.choice(FAMILY)} {rnd.choice(GIVEN)}"
            params = {"q": name if rnd.random() < 0.5 else fold(name)}
        elif kind == 5:  # a subject
            params = {"q": fold(rnd.choice(SUBJECTS))}
        elif kind == 6:  # title words at my library, available now
            params = {"q": fold(rnd.choice(rare)), "library": rnd.choice(lib_ids[:31]), "available": "true"}
        elif kind == 7:  # words + language + years
            params = {"q": fold(rnd.choice(TITLE_WORDS)), "lang": "vie", "year_from": "2010", "year_to": "2025"}
        elif kind == 8:  # browsing: filters only
            params = {"library": rnd.choice(lib_ids), "type": "book"}
        else:  # rare word, second page
            params = {"q": fold(rnd.choice(rare)), "page": "2"}
        out.append(params)
    return out


def start_opensearch(heap: str):
    from bench.opensearch_node import LocalOpenSearch
    LocalOpenSearch.install()
    node = LocalOpenSearch(heap=heap).start(timeout_s=180)
    print(f"# OpenSearch started at {node.url} in {node.startup_s:.1f} s (heap {heap})", file=sys.stderr)
    return node


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("embedded", "opensearch"), required=True)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000, help="queries in the latency run (default 2000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients in the throughput run")
    parser.add_argument("--url", default=os.environ.get("UNIONCAT_SEARCH_URL"), help="an OpenSearch to use")
    parser.add_argument("--heap", default="512m", help="heap of the OpenSearch this script starts")
    args = parser.parse_args(argv)

    from waitress import create_server

    from config import Config, Settings
    from config import Library as LibraryConfig
    from harvester.rawstore import RawStore
    from unionapi.app import create_app
    from unionapi.catalogue import Catalogue
    from unionapi.services import Services

    work = Path(tempfile.mkdtemp(prefix="unioncat-bench-search-"))
    node = None
    engine = None
    server = None
    try:
        if args.engine == "embedded":
            from unionapi.search.embedded import EmbeddedEngine
            engine = EmbeddedEngine(work / "index")
        else:
            url = args.url
            if not url:
                node = start_opensearch(args.heap)
                url = node.url
            from unionapi.search.cluster import ClusterEngine
            engine = ClusterEngine(url, index="unioncat-bench", product="opensearch", timeout_s=120)

        started = time.monotonic()
        docs = list(documents(args.records))
        print(f"# generated {len(docs)} documents in {time.monotonic() - started:.1f} s", file=sys.stderr)
        started = time.monotonic()
        engine.write(docs, [], replace_all=True)
        index_s = time.monotonic() - started
        del docs
        print(f"# indexed in {index_s:.1f} s; {engine.count()} searchable", file=sys.stderr)

        settings = Settings(data_dir=work, search_engine=args.engine, max_page_size=100)
        libs = {lib: LibraryConfig(id=lib, name=lib, kind="school", protocol="file", schedule="0 2 * * *")
                for lib in libraries()}
        config = Config(settings=settings, libraries=libs, sources_file=work / "sources.yaml")
        services = Services(config=config, raw=RawStore(work / "raw.sqlite3"),
                            catalogue=Catalogue(work / "catalogue.sqlite3"), engine=engine)
        server = create_server(create_app(services), host="127.0.0.1", port=0, threads=8)
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{server.effective_port}/api/search"

        mix = query_mix(args.queries)
        session = requests.Session()
        for params in mix[:50]:  # warm-up
            session.get(base, params=params, timeout=60).raise_for_status()
        latencies = []
        for params in mix:
            t0 = time.perf_counter()
            answer = session.get(base, params=params, timeout=60)
            latencies.append((time.perf_counter() - t0) * 1000)
            answer.raise_for_status()

        def client(part: list[dict]) -> None:
            with requests.Session() as own:
                for params in part:
                    own.get(base, params=params, timeout=60).raise_for_status()

        threads = [threading.Thread(target=client, args=(mix[i::args.clients],)) for i in range(args.clients)]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        qps = len(mix) / (time.perf_counter() - t0)

        latencies.sort()
        p50 = statistics.median(latencies)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"engine={args.engine} records={args.records} index_docs_per_s={args.records / index_s:.0f} "
              f"p50_ms={p50:.1f} p95_ms={p95:.1f} qps={qps:.0f}")
        return 0
    finally:
        if server is not None:
            server.close()
        if engine is not None and args.engine == "opensearch":
            if node is None:  # a cluster we did not start: leave it as we found it
                for name in engine._safe_alias_targets():
                    engine._delete_quietly(name)
            engine.close()
        if node is not None:
            node.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
