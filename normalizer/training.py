"""Estimating the matcher's weights from a catalogue (Fellegi–Sunter, as splink does it).

* u — how often each comparison level occurs between two records that are *not* the same book —
  from random pairs of records of different libraries (almost all such pairs are different books).
* m — how often it occurs between records of the same book — by expectation–maximisation over
  the pairs blocking proposes (u held fixed), started from and pulled towards a prior model, so a
  small catalogue cannot swing the weights wildly (EM alone is unstable there).
* Cataloguers' decisions are labelled pairs: they enter the EM with their label fixed (a merge is
  a match, a not-duplicate or a split a non-match), and calibrate the "same" threshold.

Pure: records and labels in, a :class:`MatchModel` out. The pairs are compared by
:func:`normalizer.dedup.compare` itself (``full=True``), so training and matching read a pair the
same way. Hand-written rather than through splink: the comparison levels are Python (Vietnamese
name keys, volume and title-word rules) that splink would have to re-express as SQL, and the
whole estimation is a few hundred distinct patterns once the pairs are compared.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from .dedup import DIFFERENT, DOUBTFUL, EMPTY, SAME, VETO_LEVELS, BlockList, Prepared, candidate_pairs, compare, prepare
from .match_model import LEVELS, MatchModel
from .records import CanonicalRecord

FIELDS = tuple(LEVELS)
MAX_WEIGHT = 20.0  # bits; a level never seen among random pairs would otherwise weigh without bound
SAME_PROBABILITY = 0.995  # posterior probability of a match from which a pair is "same" ...
DOUBTFUL_PROBABILITY = 0.5  # ... and "doubtful"
FALSE_MERGE_COST = 5  # a wrong merge costs a cataloguer five times what a missed duplicate does


@dataclass(frozen=True)
class Label:
    """A pair a cataloguer decided: ``match`` True for a merge, False for not-duplicate / split."""

    a: str
    b: str
    match: bool


def _pattern(verdict) -> tuple[str, ...]:
    return tuple(verdict.levels.get(f, "") for f in FIELDS)


def _patterns(prepared: Sequence[Prepared], pairs: Iterable[tuple[int, int]], blocked: BlockList) -> Counter:
    out: Counter = Counter()
    for i, j in pairs:
        out[_pattern(compare(prepared[i], prepared[j], blocked, full=True))] += 1
    return out


def _random_pairs(prepared: Sequence[Prepared], n: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    size = len(prepared)
    pairs = set()
    tries = 0
    while len(pairs) < n and tries < 20 * n and size > 1:
        tries += 1
        i, j = rng.randrange(size), rng.randrange(size)
        if i != j and prepared[i].record.library != prepared[j].record.library:
            pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def _proportions(counts: Counter, pseudo: dict[str, dict[str, float]] | None = None, strength: float = 0.0,
                 floor: float = 0.5) -> dict[str, dict[str, float]]:
    """Per field, the share of each level among pairs where the field is present (Laplace-smoothed,
    optionally pulled towards ``pseudo`` with ``strength`` pairs' worth of weight)."""
    out = {}
    for k, f in enumerate(FIELDS):
        seen = Counter()
        for pattern, c in counts.items():
            if pattern[k]:
                seen[pattern[k]] += c
        levels = LEVELS[f]
        prior = (pseudo or {}).get(f, {})
        total = sum(seen.values()) + floor * len(levels) + strength
        out[f] = {lv: (seen[lv] + floor + strength * prior.get(lv, 1 / len(levels))) / total for lv in levels}
    return out


def _log_ratio(pattern: tuple[str, ...], m: dict, u: dict) -> float:
    return sum(math.log2(m[f][lv] / u[f][lv]) for f, lv in zip(FIELDS, pattern) if lv)


def _em(blocked_patterns: Counter, labelled: Counter, u: dict, prior: MatchModel | None, strength: float,
        iterations: int = 40) -> tuple[dict, float]:
    """m and the share of matches among blocked pairs, u held fixed; labelled patterns keep their label."""
    m = {f: dict(prior.m[f]) for f in FIELDS} if prior and prior.m else {
        f: {lv: (0.9 if k == 0 else 0.1 / (len(LEVELS[f]) - 1)) for k, lv in enumerate(LEVELS[f])} for f in FIELDS}
    prior_m = dict(prior.m) if prior and prior.m else None
    share = 0.3
    total = sum(blocked_patterns.values()) or 1
    for _ in range(iterations):
        odds = share / (1 - share)
        weighted: Counter = Counter()
        expected = 0.0
        for pattern, c in blocked_patterns.items():
            ratio = odds * 2.0 ** max(-60.0, min(60.0, _log_ratio(pattern, m, u)))
            p = ratio / (1 + ratio)
            weighted[pattern] += c * p
            expected += c * p
        for (pattern, is_match), c in labelled.items():
            if is_match:
                weighted[pattern] += c
        share = min(0.99, max(0.001, expected / total))
        m = _proportions(weighted, prior_m, strength)
    return m, share


def estimate(records: Sequence[CanonicalRecord | Prepared], labels: Iterable[Label] = (), *,
             prior: MatchModel | None = None, name: str = "trained", blocked: BlockList = EMPTY,
             random_pairs: int = 200_000, max_blocked_pairs: int = 500_000, prior_strength: float = 200.0,
             label_weight: int = 20, seed: int = 20261204) -> MatchModel:
    """A model estimated from ``records`` (all libraries pooled) and the cataloguers' ``labels``.

    ``prior``: the model to start from and shrink towards (``prior_strength`` pairs' worth);
    ``label_weight``: how many blocked pairs one cataloguer decision counts as.
    """
    prepared = [prepare(r) for r in records]
    index = {p.record.record_id: k for k, p in enumerate(prepared)}
    rng = random.Random(seed)
    pairs = [(i, j) for i, j in sorted(candidate_pairs(prepared, blocked))
             if prepared[i].record.library != prepared[j].record.library]
    n_blocked = len(pairs)
    if len(pairs) > max_blocked_pairs:
        pairs = sorted(rng.sample(pairs, max_blocked_pairs))
    blocked_patterns = _patterns(prepared, pairs, blocked)
    random_patterns = _patterns(prepared, _random_pairs(prepared, random_pairs, seed), blocked)
    u = _proportions(random_patterns, dict(prior.u) if prior and prior.u else None,
                     prior_strength if prior and prior.u else 0.0)
    labelled: Counter = Counter()
    used = []
    for lab in labels:
        if lab.a in index and lab.b in index:
            pattern = _pattern(compare(prepared[index[lab.a]], prepared[index[lab.b]], blocked, full=True))
            labelled[(pattern, lab.match)] += label_weight
            used.append((pattern, lab.match))
    m, share = _em(blocked_patterns, labelled, u, prior, prior_strength if prior and prior.m else 0.0)
    weights = {f: {lv: round(max(-MAX_WEIGHT, min(MAX_WEIGHT, math.log2(m[f][lv] / u[f][lv]))), 2)
                   for lv in LEVELS[f]} for f in FIELDS}
    # The weights measure against random pairs (u), so the prior is a random pair's chance of
    # being a match: the matches EM finds among blocked pairs over all pairs of two libraries.
    sizes = Counter(p.record.library for p in prepared)
    all_pairs = (len(prepared) ** 2 - sum(n * n for n in sizes.values())) / 2
    matches = max(1.0, share * n_blocked)
    prior_odds = math.log2(matches / max(all_pairs - matches, 1.0))
    same_at = math.log2(SAME_PROBABILITY / (1 - SAME_PROBABILITY)) - prior_odds
    doubtful_at = math.log2(DOUBTFUL_PROBABILITY / (1 - DOUBTFUL_PROBABILITY)) - prior_odds
    calibrated = _calibrate(used, weights, same_at, doubtful_at)
    model = MatchModel(
        weights=weights, same_at=round(calibrated, 2), doubtful_at=round(min(doubtful_at, calibrated), 2), name=name,
        m={f: {lv: round(v, 6) for lv, v in levels.items()} for f, levels in m.items()},
        u={f: {lv: round(v, 8) for lv, v in levels.items()} for f, levels in u.items()},
        trained_on={"records": len(prepared), "libraries": len({p.record.library for p in prepared}),
                    "blocked_pairs": n_blocked, "random_pairs": sum(random_patterns.values()),
                    "labelled_pairs": len(used), "match_share_in_blocks": round(share, 4),
                    "prior_log2_odds": round(prior_odds, 2),
                    "same_probability": SAME_PROBABILITY, "doubtful_probability": DOUBTFUL_PROBABILITY})
    return model


def _score(pattern: tuple[str, ...], weights: dict) -> float | None:
    """The summed weight of a pattern, or None when a veto level decides it."""
    if any(lv and f"{f}.{lv}" in VETO_LEVELS for f, lv in zip(FIELDS, pattern)):
        return None
    return sum(weights[f][lv] for f, lv in zip(FIELDS, pattern) if lv)


def _calibrate(used: list[tuple[tuple[str, ...], bool]], weights: dict, same_at: float, doubtful_at: float) -> float:
    """The "same" threshold that agrees best with the cataloguers (a wrong merge costing
    FALSE_MERGE_COST missed ones), never below "doubtful"; unchanged with fewer than ten decisions
    of each kind (too few to move it)."""
    scored = [(s, match) for pattern, match in used if (s := _score(pattern, weights)) is not None]
    if sum(1 for _, match in scored if match) < 10 or sum(1 for _, match in scored if not match) < 10:
        return same_at
    candidates = sorted({same_at} | {s + 0.01 for s, _ in scored if s + 0.01 > doubtful_at})

    def cost(t: float) -> tuple[float, float]:
        wrong = sum(FALSE_MERGE_COST if not match else 0 for s, match in scored if s >= t)
        missed = sum(1 for s, match in scored if match and s < t)
        return wrong + missed, abs(t - same_at)

    return min(candidates, key=cost)


def agreement(model: MatchModel, records: Sequence[CanonicalRecord | Prepared], labels: Iterable[Label],
              blocked: BlockList = EMPTY) -> dict[str, int]:
    """How the matcher decides the pairs cataloguers decided: merges it would also call "same",
    "doubtful" (asked) or "different" (missed), and not-duplicates it would have merged."""
    prepared = {p.record.record_id: p for p in map(prepare, records)}
    out = Counter()
    for lab in labels:
        if lab.a in prepared and lab.b in prepared:
            decision = compare(prepared[lab.a], prepared[lab.b], blocked, model).decision
            kind = "merge" if lab.match else "not_duplicate"
            out[f"{kind}_{ {SAME: 'same', DOUBTFUL: 'doubtful', DIFFERENT: 'different'}[decision] }"] += 1
    return {k: out.get(k, 0) for k in ("merge_same", "merge_doubtful", "merge_different",
                                          "not_duplicate_same", "not_duplicate_doubtful", "not_duplicate_different")}
