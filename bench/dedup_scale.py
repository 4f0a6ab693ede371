"""Benchmark: deduplicating a national-size network, through the same path `unioncat dedup` takes.

    python bench/dedup_scale.py [--records 1000000] [--libraries 231]

Generates (fixed seed) canonical records of a network of one provincial library, 30 district and
200 school libraries, where popular books are held by many libraries and each library catalogues
them a little differently; loads them into a catalogue in bench/out/; then times a full rebuild of
the clusters (Clusters.run(rebuild=True)). Last line: ``records=N seconds=S peak_rss_mb=M``.
"""
from __future__ import annotations

import argparse
import itertools
import random
import resource
import sys
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.normalize import PUBLISHERS, SUBJECTS, isbn13, person_name  # noqa: E402
from normalizer.records import Author, CanonicalRecord, Holding  # noqa: E402
from unionapi.catalogue import Catalogue  # noqa: E402
from unionapi.clusters import Clusters  # noqa: E402
from unionapi.demo.books import TITLE_WORDS  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
TOPICS = SUBJECTS + ["Hà Nội", "Huế", "Nam Bộ", "Tây Nguyên", "đồng bằng sông Cửu Long", "miền núi phía Bắc"]


def works(rnd: random.Random, count: int) -> list[dict]:
    out = []
    for number in range(count):
        words = [rnd.choice(TITLE_WORDS) for _ in range(rnd.randint(3, 7))]
        if rnd.random() < 0.5:
            words += ["về", rnd.choice(TOPICS).lower()]
        authors = [person_name(rnd) for _ in range(rnd.randint(1, 2))]
        out.append({"title": " ".join(words).capitalize(), "authors": authors, "year": rnd.randint(1980, 2025),
                    "isbn": isbn13(rnd).replace("-", "") if rnd.random() < 0.8 else None,
                    "publisher": rnd.choice(PUBLISHERS), "pages": rnd.randint(40, 900), "work": number})
    return out


def copy_of(work: dict, library: str, number: int, rnd: random.Random) -> CanonicalRecord:
    """One library's record of a work: NFD, inverted-comma names, no ISBN, no 'Nxb.' happen."""
    title = work["title"]
    authors = list(work["authors"])
    if rnd.random() < 0.2:
        authors = [a.replace(" ", ", ", 1) for a in authors]
    if rnd.random() < 0.1:
        title, authors = unicodedata.normalize("NFD", title), [unicodedata.normalize("NFD", a) for a in authors]
    publisher = work["publisher"] if rnd.random() < 0.7 else work["publisher"].replace("Nxb. ", "")
    return CanonicalRecord(
        record_id=f"{library}:{number}", library=library, format="marcxml", title=title, title_sort=title,
        authors=[Author(name=a) for a in authors], isbns=[work["isbn"]] if work["isbn"] and rnd.random() < 0.85 else [],
        publisher=publisher, year=work["year"], pages=work["pages"] if rnd.random() < 0.9 else None,
        languages=["vie"], material_type="book", holdings=[Holding(library=library)])


def generate(catalogue: Catalogue, records: int, libraries: int, seed: int = 20261123) -> dict[str, int]:
    rnd = random.Random(seed)
    pool = works(rnd, records // 3)
    weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(pool))]  # a few books everywhere, most in few
    names = ["tv-tinh"] + [f"tv-huyen-{i:02d}" for i in range(30)] + [f"truong-{i:03d}" for i in range(libraries - 31)]
    quota = {name: (records // 6 if name == "tv-tinh" else 0) for name in names}
    rest = records - quota["tv-tinh"]
    for name in names[1:]:
        quota[name] = rest // (len(names) - 1)
    quota["tv-tinh"] += records - sum(quota.values())
    truth, batch, cursor = {}, [], 0
    for library in names:
        chosen = {w["work"]: w for w in rnd.choices(pool, weights=weights, k=quota[library] * 2)}
        extra = iter(rnd.sample(pool, min(len(pool), quota[library])))
        while len(chosen) < quota[library]:
            w = next(extra)
            chosen.setdefault(w["work"], w)
        for number, work in enumerate(itertools.islice(chosen.values(), quota[library])):
            record = copy_of(work, library, number, rnd)
            truth[record.record_id] = work["work"]
            cursor += 1
            batch.append((record, cursor))
            if len(batch) == 5000:
                catalogue.apply(batch, [], [], cursor)
                batch = []
    catalogue.apply(batch, [], [], cursor)
    return truth


def quality(catalogue: Catalogue, truth: dict[str, int]) -> tuple[float, float]:
    found = defaultdict(list)
    for record_id, entry_id in catalogue.db.execute("SELECT id, entry_id FROM records"):
        found[entry_id].append(record_id)
    same_pairs = sum(len(m) * (len(m) - 1) // 2 for m in found.values())
    true_pairs = 0
    by_work = defaultdict(list)
    for record_id, work in truth.items():
        by_work[work].append(record_id)
    true_pairs = sum(len(m) * (len(m) - 1) // 2 for m in by_work.values())
    correct = sum(1 for members in found.values() for a, b in itertools.combinations(members, 2)
                  if truth[a] == truth[b])
    return correct / max(same_pairs, 1), correct / max(true_pairs, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--libraries", type=int, default=231)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"dedup_scale_{args.records}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    catalogue = Catalogue(path)
    started = time.monotonic()
    truth = generate(catalogue, args.records, args.libraries)
    print(f"generated {len(truth):,} records of {len(set(truth.values())):,} books in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    Clusters(catalogue).run(rebuild=True)
    seconds = time.monotonic() - started
    precision, recall = quality(catalogue, truth)
    print(f"entries={catalogue.entry_count():,} precision={precision:.4f} recall={recall:.4f} "
          "(recall counts a library's own duplicates, which are reported, not merged)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"(RUSAGE_CHILDREN max {workers:.0f} MB for the rebuild's key workers, one per core; on Linux it"
          " includes this process's memory at the moment a worker is forked, before it execs)")
    print(f"records={len(truth)} seconds={seconds:.0f} peak_rss_mb={peak:.0f}")


if __name__ == "__main__":
    main()
