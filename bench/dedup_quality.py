"""Benchmark: the record matcher's quality on real labelled data and on the demo network.

    python bench/dedup_quality.py [--only dblp-acm,cora,demo]

Reads ``../shared/data/dedup/`` (DBLP-ACM and Cora, from pyJedAI) and generates the demo network.
Each dataset goes through a small adapter that only maps fields onto CanonicalRecord (title,
authors, venue -> series, publisher, year); the matcher is the one the catalogue uses, with no
rule tuned to these files. Clusters come from ``normalizer.dedup.cluster`` ("same" pairs only;
doubtful pairs are not merged and are counted separately). Metrics are pairwise over clusters:
predicted pairs = pairs inside our clusters; true pairs = pairs inside the transitive closure of
the ground truth. One line per dataset:

    <dataset> precision=P recall=R f1=F
"""
from __future__ import annotations

import argparse
import csv
import html
import re
import sys
import time
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from normalizer import normalize  # noqa: E402
from normalizer.dedup import DOUBTFUL, candidate_pairs, cluster, compare, prepare  # noqa: E402
from normalizer.records import Author, CanonicalRecord, SourceContext  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "dedup"


# --------------------------------------------------------------------------- adapters (fields only)

def _year(text: str) -> int | None:
    m = re.search(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)", text or "")
    return int(m.group(1)) if m else None


def _clean(text: str) -> str:
    return " ".join(html.unescape(text or "").split()).strip(" ,.;:'\"`")


def _record(rid: str, library: str, title: str, authors: list[str], year, series="", publisher=""):
    return CanonicalRecord(record_id=rid, library=library, format="csv", title=_clean(title),
                           title_sort=_clean(title), authors=[Author(name=a) for a in authors if a],
                           year=year, series=[series] if series else [], publisher=publisher or None)


def load_dblp_acm():
    folder = DATA / "dblp-acm_pyjedai"
    records, index = [], {}
    for source in ("dblp", "acm"):
        with open(folder / f"{source}.csv", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter="%", quoting=csv.QUOTE_NONE):
                if row.get(None):  # 14 ACM rows lost their empty authors field: venue%year sit one left
                    row.update(authors="", venue=row["authors"].lstrip('"'), year=row["venue"])
                # DBLP writes '?' for an unknown author
                authors = [_clean(a) for a in (row["authors"] or "").split(",") if _clean(a) != "?"]
                index[(source, row["id"])] = len(records)
                records.append(_record(f"{source}:{row['id']}", source, row["title"], authors,
                                       _year(row["year"]), series=_clean(row["venue"])))
    truth = []
    with open(folder / "gt.csv", encoding="utf-8") as f:
        next(f)
        for line in f:
            if line.strip():
                a, b = line.strip().split("%")
                truth.append({index[("dblp", a)], index[("acm", b)]})
    return records, truth, True


_INITIALS = re.compile(r"^(?:[a-z](?:\.|\s|$)\s*-?\s*)+$", re.IGNORECASE)


def split_citation_authors(text: str) -> list[str]:
    """'kearns, m. & valiant, l. g.' -> ['kearns, m.', 'valiant, l. g.']; 'p. auer, n. cesa-bianchi,
    and r. e. schapire' -> three names. A comma piece of initials only belongs to the name before."""
    names = []
    for chunk in re.split(r"\s*(?:\band\b|&|;)\s*", _clean(text)):
        for piece in (p.strip() for p in chunk.split(",")):
            if not piece:
                continue
            if names and _INITIALS.match(piece) and " " not in names[-1].strip() and "," not in names[-1]:
                names[-1] = f"{names[-1]}, {piece}"
            else:
                names.append(piece)
    return [n for n in names if not n.startswith("et al")]


def load_cora():
    folder = DATA / "cora_pyjedai"
    records, index = [], {}
    with open(folder / "cora.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="|", quoting=csv.QUOTE_NONE):
            rid = row["Entity Id"]
            index[rid] = len(records)
            records.append(_record(f"cora:{rid}", "cora", row["title"], split_citation_authors(row["author"]),
                                   _year(row["year"]), series=_clean(row["venue"]),
                                   publisher=_clean(row["publisher"])))
    truth = []
    with open(folder / "cora_gt.csv", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                a, b = line.strip().split("|")
                truth.append({index[a], index[b]})
    return records, truth, False


def load_demo():
    from unionapi.demo.network import DEMO_SEED, generate_network, work_keys
    network, keys = generate_network(DEMO_SEED, 5200), work_keys(DEMO_SEED, 5200)
    records, by_work = [], defaultdict(list)
    for lib, provider_records in network.items():
        for rec in provider_records:
            if rec.deleted:
                continue
            fmt, body = (("marcxml", rec.metadata["marc21"]) if "marc21" in rec.metadata
                         else ("oai_dc", rec.metadata["oai_dc"]))
            ctx = SourceContext(library=lib, record_id=f"{lib}:{rec.identifier}")
            by_work[keys[lib][rec.identifier]].append(len(records))
            records.append(normalize(body.encode("utf-8"), fmt, ctx))
    # one record per source per cluster: a library's own duplicates are reported, not merged
    truth = [set(g) for g in by_work.values() if len(g) > 1]
    return records, truth, True


# --------------------------------------------------------------------------- metrics

def true_clusters(truth_groups) -> list[list[int]]:
    """The transitive closure of the labelled groups (union-find)."""
    parent: dict[int, int] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for g in truth_groups:
        g = sorted(g)
        for x in g[1:]:
            parent[find(x)] = find(g[0])
    clusters = defaultdict(list)
    for x in parent:
        clusters[find(x)].append(x)
    return list(clusters.values())


def closure_pairs(groups, records, one_per_source: bool) -> set[tuple[int, int]]:
    """All pairs inside the transitive closure of the given groups."""
    return _pairs(true_clusters(groups), records, one_per_source)


def _pairs(clusters, records, one_per_source: bool) -> set[tuple[int, int]]:
    out = set()
    for c in clusters:
        for i, j in combinations(sorted(c), 2):
            if not (one_per_source and records[i].library == records[j].library):
                out.add((i, j))
    return out


def evaluate(name: str, records, truth_groups, one_per_source: bool) -> None:
    start = time.perf_counter()
    prepared = [prepare(r) for r in records]
    pairs = candidate_pairs(prepared)
    clusters = cluster(prepared, one_per_source=one_per_source, pairs=pairs)
    seconds = time.perf_counter() - start  # prepare + blocking + compare + clustering
    doubtful = sum(1 for i, j in pairs if compare(prepared[i], prepared[j]).decision == DOUBTFUL)
    predicted = _pairs(clusters, records, one_per_source)
    true = closure_pairs(truth_groups, records, one_per_source)
    tp = len(predicted & true)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(true) if true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    reachable = len(true & {(min(i, j), max(i, j)) for i, j in pairs}) / len(true) if true else 1.0
    print(f"{name} precision={p:.3f} recall={r:.3f} f1={f1:.3f}")
    print(f"  {name}: records={len(records)} candidate_pairs={len(pairs)} "
          f"blocking_recall={reachable:.3f} doubtful_pairs={doubtful} true_pairs={len(true)} "
          f"predicted_pairs={len(predicted)} cluster_seconds={seconds:.1f}", flush=True)


def largest_groups(size: int, vetoes: dict[int, set[int]]) -> list[int]:
    """For each record k < size, the size of the largest group containing it whose records veto
    none of each other (the largest clique of the "not vetoed" graph containing k): every maximal
    clique, found by Bron–Kerbosch with a pivot, over bit sets."""
    full = (1 << size) - 1
    allowed = [full & ~(1 << k) & ~sum(1 << o for o in vetoes.get(k, ())) for k in range(size)]
    best = [1] * size

    def bits(v: int):
        while v:
            low = v & -v
            yield low.bit_length() - 1
            v ^= low

    def expand(group: int, n: int, free: int, done: int) -> None:
        if not free and not done:
            for k in bits(group):
                best[k] = max(best[k], n)
            return
        pivot = max(bits(free | done), key=lambda u: (free & allowed[u]).bit_count())
        for k in bits(free & ~allowed[pivot]):
            expand(group | 1 << k, n + 1, free & allowed[k], done & allowed[k])
            free &= ~(1 << k)
            done |= 1 << k

    expand(0, 0, full, 0)
    return best


def veto_bounds(name: str, records, truth_groups, one_per_source: bool) -> None:
    """How much recall the vetoes leave, whatever the scores. In any clustering that respects
    them a record's entry is a group of records vetoing none of each other, so it is at most the
    largest such group among its true duplicates: ``recall_at_most`` sums that over records (a
    proof, not an estimate). ``oracle_recall``: what a clustering that knows the truth and only has
    to respect the vetoes reaches (greedy, then records moved to larger groups, 30 shuffled
    starts); ``oracle_f1`` at precision 1.0."""
    import random
    prepared = [prepare(r) for r in records]
    true = closure_pairs(truth_groups, records, one_per_source)
    kinds: Counter = Counter()
    rng, achievable, at_most = random.Random(1), 0, 0
    for members in true_clusters(truth_groups):
        members = sorted(members)
        vetoes: dict[int, set[int]] = {k: set() for k in range(len(members))}
        for (x, i), (y, j) in combinations(enumerate(members), 2):
            # one record per library: two of a library's records never share an entry (nor a true pair)
            if not (one_per_source and records[i].library == records[j].library):
                v = compare(prepared[i], prepared[j])
                if not v.vetoed:
                    continue
                first = next(r for r in v.reasons if r.startswith("veto") or "despite" in r)
                kinds["year" if "years" in first else "author" if "authors" in first
                      else "title" if "title" in first else "other"] += 1
            vetoes[x].add(y)
            vetoes[y].add(x)
        at_most += sum(n - 1 for n in largest_groups(len(members), vetoes)) / 2
        best = 0
        for _ in range(30):
            order = list(range(len(members)))
            rng.shuffle(order)
            groups: list[set[int]] = []
            for k in order:
                fits = [g for g in groups if not vetoes[k] & g]
                if fits:
                    max(fits, key=len).add(k)
                else:
                    groups.append({k})
            moved = True
            while moved:
                moved = False
                for g in groups:
                    for k in list(g):
                        to = next((h for h in groups if h is not g and len(h) >= len(g) and not vetoes[k] & h), None)
                        if to is not None:
                            g.discard(k)
                            to.add(k)
                            moved = True
                groups = [g for g in groups if g]
            best = max(best, sum(len(g) * (len(g) - 1) // 2 for g in groups))
        achievable += best
    oracle, bound = achievable / len(true), at_most / len(true)
    print(f"  {name}: vetoed_true_pairs={sum(kinds.values())} "
          f"({', '.join(f'{k} {n}' for k, n in kinds.most_common())}) "
          f"recall_at_most={bound:.3f} f1_at_most={2 * bound / (1 + bound):.3f} "
          f"oracle_recall={oracle:.3f} oracle_f1={2 * oracle / (1 + oracle):.3f}", flush=True)


LOADERS = {"dblp-acm": load_dblp_acm, "cora": load_cora, "demo": load_demo}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(LOADERS), help="comma-separated datasets")
    ap.add_argument("--bounds", action="store_true",
                    help="also print the best recall the vetoes allow (an oracle that knows the truth)")
    args = ap.parse_args(argv)
    for name in args.only.split(","):
        t0 = time.perf_counter()
        records, truth, one_per_source = LOADERS[name]()
        load_s = time.perf_counter() - t0
        evaluate(name, records, truth, one_per_source)
        if args.bounds:
            veto_bounds(name, records, truth, one_per_source)
        print(f"  {name}: load_seconds={load_s:.1f}", flush=True)


if __name__ == "__main__":
    main()
