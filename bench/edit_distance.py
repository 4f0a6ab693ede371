"""Benchmark: ``normalizer.dedup.edit_distance`` (rapidfuzz's OSA distance) against the hand-written
banded version it replaced, on Vietnamese-like pairs.

    python bench/edit_distance.py [--pairs 100000] [--seed 7] [--repeat 3]

Generates (fixed seed) pairs like those the matcher compares: NFC titles and name parts with
diacritics, the second one retyped with typos (a letter changed, lost, doubled or swapped with its
neighbour, a tone mark changed, a word lost or added), or unrelated, or identical; each pair with a
limit as the call sites compute it. Checks that both give the same answer on every pair, and that
plain Levenshtein would not (swapped neighbours count once). Times are the best of the repeats.
Last line:
``pairs=N agree=A rapidfuzz_s=T baseline_s=B ratio=R``.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapidfuzz.distance import Levenshtein  # noqa: E402

from normalizer.dedup import AUTHOR_EDITS, TITLE_EDITS, edit_distance  # noqa: E402

SYLLABLES = ("lịch sử văn hóa việt nam giáo trình kinh tế xã hội nghiên cứu truyện ngắn tiểu thuyết thơ ca "
             "dế mèn phiêu lưu ký kỹ thuật nuôi lợn thịt nái trồng lúa nước đồng bằng sông cửu long toán "
             "tiếng việt lớp sách giáo khoa bài tập địa lý sinh học vật hóa chính trị pháp luật "
             "tư tưởng hồ chí minh người thầy quê hương đất nước chiến tranh hòa bình tuổi thơ "
             "nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương thị hữu đức ngọc "
             "thanh quang xuân hùng hưng hương khánh linh phương thảo thắng tuấn yến").split()
TONES = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323")  # huyền, sắc, ngã, hỏi, nặng
LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxy"


def baseline_edit_distance(a: str, b: str, limit: int) -> int | None:
    """The hand-written version rapidfuzz replaced: Levenshtein plus swapped neighbours (optimal
    string alignment), banded: cost grows with length x limit. Kept here only as the baseline."""
    if abs(len(a) - len(b)) > limit:
        return None
    if a == b:
        return 0
    if len(a) > len(b):
        a, b = b, a
    big = limit + 1
    before: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [big] * (len(b) + 1)
        cur[0] = i if i <= limit else big
        best = cur[0]
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            cb = b[j - 1]
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if before is not None and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                v = min(v, before[j - 2] + 1)
            cur[j] = v
            if v < best:
                best = v
        if best > limit:
            return None
        before, prev = prev, cur
    return prev[len(b)] if prev[len(b)] <= limit else None


def _retone(word: str, rng: random.Random) -> str:
    """The same letters with another tone mark (or none): 'hùng' -> 'hưng'/'húng'/'hung'."""
    plain = "".join(c for c in unicodedata.normalize("NFD", word) if c not in TONES)
    vowels = [k for k, c in enumerate(plain) if c in "aeiouy"]
    if not vowels:
        return word
    k = rng.choice(vowels) + 1
    while k < len(plain) and unicodedata.combining(plain[k]):
        k += 1  # after the vowel's own marks (ư, ơ, â...)
    tone = rng.choice(TONES + ("",))
    return unicodedata.normalize("NFC", plain[:k] + tone + plain[k:])


def _typo(text: str, rng: random.Random) -> str:
    if not text:
        return text
    k = rng.randrange(len(text))
    kind = rng.randrange(6)
    if kind == 0:
        return text[:k] + rng.choice(LETTERS) + text[k + 1:]  # a letter changed
    if kind == 1:
        return text[:k] + text[k + 1:]  # a letter lost
    if kind == 2:
        return text[:k] + text[k] + text[k:]  # a letter doubled
    if kind == 3 and k + 1 < len(text):
        return text[:k] + text[k + 1] + text[k] + text[k + 2:]  # swapped neighbours
    words = text.split()
    w = rng.randrange(len(words))
    if kind == 4:
        words[w] = _retone(words[w], rng)
    elif len(words) > 1:
        del words[w]  # a word lost
    else:
        words.append(rng.choice(SYLLABLES))
    return " ".join(words)


def make_pairs(count: int, seed: int) -> list[tuple[str, str, int]]:
    """(a, b, limit) like the matcher's calls: whole titles (TITLE_EDITS), name parts (AUTHOR_EDITS),
    a replaced word (a third of its letters) and long unmarked words (1)."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        words = rng.randint(1, 2) if rng.random() < 0.4 else rng.randint(3, 12)
        a = unicodedata.normalize("NFC", " ".join(rng.choice(SYLLABLES) for _ in range(words)))
        roll = rng.random()
        if roll < 0.1:
            b = a
        elif roll < 0.25:
            b = unicodedata.normalize("NFC", " ".join(rng.choice(SYLLABLES) for _ in range(words)))
        else:
            b = a
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 5))):
                b = _typo(b, rng)
        longest = max(len(a), len(b))
        limit = rng.choice((int(TITLE_EDITS * longest), int(AUTHOR_EDITS * longest), max(1, longest // 3), 1))
        pairs.append((a, b, limit))
    return pairs


def timed(function, pairs, repeat: int) -> tuple[float, list]:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        results = [function(a, b, limit) for a, b, limit in pairs]
        best = min(best, time.perf_counter() - started)
    return best, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pairs = make_pairs(args.pairs, args.seed)
    rapidfuzz_s, ours = timed(edit_distance, pairs, args.repeat)
    baseline_s, theirs = timed(baseline_edit_distance, pairs, args.repeat)
    agree = sum(x == y for x, y in zip(ours, theirs))
    within = sum(x is not None for x in theirs)
    print(f"{len(pairs)} pairs, {within} within their limit ({sum(x == 0 for x in theirs)} identical)")
    differ = [(pair, x, y) for pair, x, y in zip(pairs, ours, theirs) if x != y]
    for (a, b, limit), x, y in differ[:10]:
        print(f"  differ: {a!r} / {b!r} limit {limit}: rapidfuzz {x}, baseline {y}")
    plain = sum((d if d <= limit else None) == y
                for (a, b, limit), y in zip(pairs, theirs)
                for d in [Levenshtein.distance(a, b, score_cutoff=limit)])
    print(f"plain Levenshtein (no swapped neighbours) would agree on {plain} of {len(pairs)}")
    print(f"pairs={len(pairs)} agree={agree} rapidfuzz_s={rapidfuzz_s:.3f} baseline_s={baseline_s:.3f} "
          f"ratio={baseline_s / rapidfuzz_s:.0f}")
    sys.exit(0 if agree == len(pairs) else 1)


if __name__ == "__main__":
    main()
