"""Benchmark: the record matcher's quality on real labelled data and on the demo network.

    python bench/dedup_quality.py [--only dblp-acm,cora,demo] [--bounds] [--degrade [all|name,...]]

Reads ``tests/data/third_party/{dblp-acm,cora}_pyjedai/`` (DBLP-ACM and Cora, from pyJedAI; Apache-2.0) and
generates the demo network.
Each dataset goes through a small adapter that only maps fields onto CanonicalRecord (title,
authors, venue -> series, publisher, year); the matcher is the one the catalogue uses, with no
rule tuned to these files. Clusters come from ``normalizer.dedup.cluster`` ("same" pairs only;
doubtful pairs are not merged and are counted separately). Metrics are pairwise over clusters:
predicted pairs = pairs inside our clusters; true pairs = pairs inside the transitive closure of
the ground truth. One line per dataset:

    <dataset> precision=P recall=R f1=F

``--degrade [all|name,...]`` (issue 18, point 7) measures the same clustering under single
degradations (``bench/degradations.py``): the whole catalogues of two demo libraries, Kim Sơn
(Koha MARC21) and Yên Mô (home-made Dublin Core), 30% of the records, are degraded one way at a
time as their systems would send them (no years, no authors, the statement of responsibility typed
into the title, names in another order, titles cut to 60% of their words or reworded, names in
TCVN3/VNI or without diacritics, Dublin Core instead of MARC), normalized again and clustered with
every other record; ``dirty`` is DBLP-ACM with authors, venue and year moved into the title as in
DeepMatcher's dirty set. One line per degradation against the target (precision >= 0.995 and
recall >= 0.90), then the pairs it touched and the rule that kept each missed pair apart:

    demo/<degradation> precision=P recall=R f1=F records=N degraded=D PASS|MISS (target ...)

About 12 s more on a 2-core machine (19 s in all; the default run stays about 6 s).
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
from normalizer.dedup import (DOUBTFUL, MATCH_FIELDS, SAME, candidate_pairs, cluster,  # noqa: E402
                              compare, prepare)
from normalizer.match_model import default_model  # noqa: E402
from normalizer.records import Author, CanonicalRecord, RejectedRecord, SourceContext  # noqa: E402

from bench.degradations import DEGRADATIONS, dirty  # noqa: E402

DATA = ROOT / "tests" / "data" / "third_party"  # computed here: a bench does not import the test suite


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


DEMO_RECORDS = 5200


def demo_sources(total: int = DEMO_RECORDS):
    """The demo network's live records as their libraries send them, (library, record id, format,
    payload bytes), and the truth: groups of indices describing the same book."""
    from unionapi.demo.network import DEMO_SEED, generate_network, work_keys
    network, keys = generate_network(DEMO_SEED, total), work_keys(DEMO_SEED, total)
    rows, by_work = [], defaultdict(list)
    for lib, provider_records in network.items():
        for rec in provider_records:
            if rec.deleted:
                continue
            fmt, body = (("marcxml", rec.metadata["marc21"]) if "marc21" in rec.metadata
                         else ("oai_dc", rec.metadata["oai_dc"]))
            by_work[keys[lib][rec.identifier]].append(len(rows))
            rows.append((lib, f"{lib}:{rec.identifier}", fmt, body.encode("utf-8")))
    # one record per source per cluster: a library's own duplicates are reported, not merged
    return rows, [set(g) for g in by_work.values() if len(g) > 1]


def _normalized(lib: str, rid: str, fmt: str, body: bytes) -> CanonicalRecord:
    return normalize(body, fmt, SourceContext(library=lib, record_id=rid))


def load_demo(total: int = DEMO_RECORDS):
    rows, truth = demo_sources(total)
    return [_normalized(*row) for row in rows], truth, True


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


def measure(records, truth_groups, one_per_source: bool, model=None) -> dict:
    """Cluster as the catalogue does and count: predicted, true and candidate pairs, doubtful pairs."""
    start = time.perf_counter()
    prepared = [prepare(r) for r in records]
    pairs = candidate_pairs(prepared)
    clusters = cluster(prepared, one_per_source=one_per_source, pairs=pairs, model=model)
    seconds = time.perf_counter() - start  # prepare + blocking + compare + clustering
    doubtful = sum(1 for i, j in pairs if compare(prepared[i], prepared[j], model=model).decision == DOUBTFUL)
    predicted = _pairs(clusters, records, one_per_source)
    true = closure_pairs(truth_groups, records, one_per_source)
    tp = len(predicted & true)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(true) if true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    candidates = {(min(i, j), max(i, j)) for i, j in pairs}
    reachable = len(true & candidates) / len(true) if true else 1.0
    return dict(precision=p, recall=r, f1=f1, prepared=prepared, candidates=candidates, predicted=predicted,
                true=true, blocking_recall=reachable, doubtful=doubtful, seconds=seconds)


def evaluate(name: str, records, truth_groups, one_per_source: bool) -> dict:
    m = measure(records, truth_groups, one_per_source)
    print(f"{name} precision={m['precision']:.3f} recall={m['recall']:.3f} f1={m['f1']:.3f}")
    print(f"  {name}: records={len(records)} candidate_pairs={len(m['candidates'])} "
          f"blocking_recall={m['blocking_recall']:.3f} doubtful_pairs={m['doubtful']} true_pairs={len(m['true'])} "
          f"predicted_pairs={len(m['predicted'])} cluster_seconds={m['seconds']:.1f}", flush=True)
    return m


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


# --------------------------------------------------------------------------- degradations

# Whole catalogues are degraded, one way at a time, as in a real network one library's catalogue is
# poor in one way (a school that never records years, a system without a Vietnamese keyboard): Kim Sơn
# (Koha, MARC21 over OAI-PMH) and Yên Mô (home-made Dublin Core), 30% of the demo's records. Their
# records are degraded as sent, then normalized, so the normalizer is part of what is measured.
DEGRADED_LIBRARIES = ("tv-kim-son", "tv-yen-mo")
TARGET_PRECISION, TARGET_RECALL = 0.995, 0.90  # issue 18, under each single degradation
_COMPARED = [f for f in MATCH_FIELDS if f not in ("record_id", "library")]


def degrade_demo(rows, records, degradation: str):
    """The demo records with DEGRADED_LIBRARIES' payloads degraded and normalized again: (records, indices
    of the degraded ones, how many of those the normalizer repaired, records it rejected — kept as empty
    records). Degraded: the matched fields changed, or the normalizer had to repair the record."""
    degrade = DEGRADATIONS[degradation]
    out, changed, repaired, rejected = list(records), set(), 0, 0
    for i, (lib, rid, fmt, body) in enumerate(rows):
        if lib not in DEGRADED_LIBRARIES:
            continue
        fmt, body = degrade(fmt, body, rid)
        try:
            rec = _normalized(lib, rid, fmt, body)
        except RejectedRecord:
            rec, rejected = CanonicalRecord(record_id=rid, library=lib, format=fmt), rejected + 1
        fixed = len(rec.repairs) > len(records[i].repairs)
        if fixed or any(getattr(rec, f) != getattr(records[i], f) for f in _COMPARED):
            out[i] = rec
            changed.add(i)
            repaired += fixed
    return out, changed, repaired, rejected


_RULE_END = re.compile(r"""[0-9'"(\[:]""")


def _why_missed(i: int, j: int, m: dict) -> str:
    """The matcher's rule that kept a true pair apart: no shared blocking key, the first veto, too few
    points, or "same" but the clusters could not be merged (a member vetoes, or a library twice)."""
    if (i, j) not in m["candidates"]:
        return "no shared blocking key"
    v = compare(m["prepared"][i], m["prepared"][j])
    if v.vetoed:
        first = next(r for r in v.reasons if r.startswith("veto") or "despite" in r)
        return "veto " + _RULE_END.split(first.removeprefix("veto: "), maxsplit=1)[0].strip(" ,")
    if v.decision == SAME:
        return "same, clusters not merged"
    return f"{v.decision} (score {v.score:.1f})" if v.decision == DOUBTFUL else f"score {v.score:.1f} < {default_model().doubtful_at:.1f}"


def _show(k: int, m: dict) -> str:
    r = m["prepared"][k].record
    return f"{r.record_id} | {r.title} | {[a.name for a in r.authors]} | {r.year} | {r.publisher} | {r.pages}p"


def evaluate_degraded(name: str, records, truth_groups, degraded: set[int], repaired: int = 0, rejected: int = 0,
                      one_per_source: bool = True, examples: int = 0) -> dict:
    """One line per degradation against the target, then what happened to the pairs it touched."""
    m = measure(records, truth_groups, one_per_source)
    ok = m["precision"] >= TARGET_PRECISION and m["recall"] >= TARGET_RECALL
    print(f"{name} precision={m['precision']:.3f} recall={m['recall']:.3f} f1={m['f1']:.3f} "
          f"records={len(records)} degraded={len(degraded)} {'PASS' if ok else 'MISS'} "
          f"(target precision>={TARGET_PRECISION} recall>={TARGET_RECALL})")
    touched = {q for q in m["true"] if q[0] in degraded or q[1] in degraded}
    predicted_touched = {q for q in m["predicted"] if q[0] in degraded or q[1] in degraded}
    recall_on = len(touched & m["predicted"]) / len(touched) if touched else 1.0
    precision_on = len(predicted_touched & m["true"]) / len(predicted_touched) if predicted_touched else 1.0
    missed, false = sorted(m["true"] - m["predicted"]), sorted(m["predicted"] - m["true"])
    print(f"  {name}: true_pairs_with_a_degraded_record={len(touched)} recall_on_them={recall_on:.3f} "
          f"precision_on_them={precision_on:.3f} blocking_recall={m['blocking_recall']:.3f} "
          f"missed_pairs={len(missed)} false_pairs={len(false)} doubtful_pairs={m['doubtful']} repaired={repaired} rejected={rejected} cluster_seconds={m['seconds']:.1f}")
    why = Counter(_why_missed(i, j, m) for i, j in missed)
    print(f"  {name}: missed because: {'; '.join(f'{k} {n}' for k, n in why.most_common(6)) or 'nothing missed'}",
          flush=True)
    for label, some in (("missed", missed), ("false", false)):
        for i, j in some[:examples]:
            print(f"    {label}: {_show(i, m)}\n           {_show(j, m)}\n           "
                  + "; ".join(compare(m["prepared"][i], m["prepared"][j]).reasons))
    return m


LOADERS = {"dblp-acm": load_dblp_acm, "cora": load_cora, "demo": load_demo}


def train_bundled_model(demo_records: int = DEMO_RECORDS) -> None:
    """The model shipped in the repository: weights estimated from the demo network, DBLP-ACM and
    Cora pooled (each source a library), without their truth."""
    from normalizer.match_model import MatchModel
    from normalizer.training import estimate
    t0 = time.perf_counter()
    pooled = [r for name in ("demo", "dblp-acm", "cora") for r in LOADERS[name]()[0]]
    model = estimate(pooled, name="bundled: demo network + DBLP-ACM + Cora, pooled, unlabelled")
    path = ROOT / "normalizer" / "match_model.json"
    old = MatchModel.from_json(path.read_text("utf-8")) if path.exists() else None
    path.write_text(model.to_json(), "utf-8")
    print(f"train records={len(pooled)} seconds={time.perf_counter() - t0:.1f} same_at={model.same_at:.2f} "
          f"doubtful_at={model.doubtful_at:.2f} match_share={model.trained_on['match_share_in_blocks']}")
    for f, levels in model.weights.items():
        print(f"  {f}: " + ", ".join(f"{lv} {w:+.1f}" for lv, w in levels.items()))
    for line in model.changes_from(old) if old else []:
        print(f"  changed: {line}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(LOADERS), help="comma-separated datasets")
    ap.add_argument("--bounds", action="store_true",
                    help="also print the best recall the vetoes allow (an oracle that knows the truth)")
    ap.add_argument("--degrade", nargs="?", const="all", default="",
                    help="also measure under single degradations: all, or some of "
                         f"{','.join(DEGRADATIONS)},dirty (dirty: DBLP-ACM)")
    ap.add_argument("--demo-records", type=int, default=DEMO_RECORDS, help="size of the demo network")
    ap.add_argument("--examples", type=int, default=0,
                    help="with --degrade: print this many missed and false pairs per degradation, with reasons")
    ap.add_argument("--train", action="store_true",
                    help="first estimate the bundled matcher model from the pooled datasets (no labels) "
                         "and write it to normalizer/match_model.json")
    args = ap.parse_args(argv)
    if args.train:
        train_bundled_model(args.demo_records)
    wanted = [*DEGRADATIONS, "dirty"] if args.degrade == "all" else [d for d in args.degrade.split(",") if d]
    unknown = set(wanted) - {*DEGRADATIONS, "dirty"}
    if unknown:
        ap.error(f"unknown degradation(s): {', '.join(sorted(unknown))}")
    for name in args.only.split(","):
        t0 = time.perf_counter()
        if name == "demo":
            rows, truth = demo_sources(args.demo_records)
            records, one_per_source = [_normalized(*row) for row in rows], True
        else:
            records, truth, one_per_source = LOADERS[name]()
        load_s = time.perf_counter() - t0
        evaluate(name, records, truth, one_per_source)
        if args.bounds:
            veto_bounds(name, records, truth, one_per_source)
        print(f"  {name}: load_seconds={load_s:.1f}", flush=True)
        if name == "demo":
            for degradation in (d for d in wanted if d in DEGRADATIONS):
                t0 = time.perf_counter()
                degraded, changed, repaired, rejected = degrade_demo(rows, records, degradation)
                evaluate_degraded(f"demo/{degradation}", degraded, truth, changed, repaired, rejected,
                                  examples=args.examples)
                print(f"  demo/{degradation}: seconds={time.perf_counter() - t0:.1f}", flush=True)
        if name == "dblp-acm" and "dirty" in wanted:
            degraded, changed = dirty(records)
            evaluate_degraded("dblp-acm/dirty", degraded, truth, changed, one_per_source=one_per_source,
                              examples=args.examples)


if __name__ == "__main__":
    main()
