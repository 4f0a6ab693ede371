"""bench/dedup_quality.py: the bound --bounds prints is a proof only if the largest veto-free group
containing each record is found exactly (checked against trying every group of a small cluster); and
--degrade prints one line per degradation, each degradation doing what its name says."""
from __future__ import annotations

import re
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.dedup_quality import DEGRADED_LIBRARIES, demo_sources, largest_groups, main
from bench.degradations import DEGRADATIONS
from normalizer import normalize
from normalizer.records import SourceContext
from normalizer.text import fold


@st.composite
def clusters_with_vetoes(draw):
    size = draw(st.integers(1, 9))
    pairs = list(combinations(range(size), 2))
    vetoed = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    vetoes = {k: set() for k in range(size)}
    for a, b in vetoed:
        vetoes[a].add(b), vetoes[b].add(a)
    return size, vetoes


@settings(max_examples=300, deadline=None)
@given(clusters_with_vetoes())
def test_largest_groups_equal_trying_every_group(cluster):
    size, vetoes = cluster
    expected = [1] * size
    for n in range(2, size + 1):
        for group in combinations(range(size), n):
            if all(b not in vetoes[a] for a, b in combinations(group, 2)):
                for k in group:
                    expected[k] = max(expected[k], n)
    assert largest_groups(size, vetoes) == expected


# --- the degradation suite (issue 18, point 7) ----------------------------------------------------
# The figures are not asserted against the targets here: the suite is there to show where the matcher
# misses them. What is asserted is that each line is printed with sane figures, and that each
# degradation does to a library's records what its name says, as the normalizer reads them.

LINE = re.compile(r"^(\S+) precision=([0-9.]+) recall=([0-9.]+) f1=([0-9.]+) records=(\d+) degraded=(\d+) "
                  r"(PASS|MISS) \(target precision>=0\.995 recall>=0\.9\)$", re.M)


def _lines(out: str) -> dict[str, tuple]:
    return {m.group(1): (*map(float, m.group(2, 3, 4)), int(m.group(5)), int(m.group(6)), m.group(7))
            for m in LINE.finditer(out)}


def _check(lines: dict, name: str, records: int) -> None:
    p, r, f1, n, degraded, verdict = lines[name]
    assert all(0.0 <= x <= 1.0 for x in (p, r, f1)) and n == records and 0 < degraded <= records
    assert verdict == ("PASS" if p >= 0.995 and r >= 0.90 else "MISS")


def test_every_demo_degradation_prints_its_line(capsys):
    main(["--only", "demo", "--degrade", "all", "--demo-records", "600"])
    out = capsys.readouterr().out
    records = int(re.search(r"^  demo: records=(\d+)", out, re.M).group(1))
    lines = _lines(out)
    assert sorted(lines) == sorted(f"demo/{name}" for name in DEGRADATIONS)
    for name in lines:
        _check(lines, name, records)
        assert re.search(rf"^  {re.escape(name)}: missed because: ", out, re.M)


def test_dirty_dblp_acm_prints_its_line(capsys):
    main(["--only", "dblp-acm", "--degrade", "dirty"])
    lines = _lines(capsys.readouterr().out)
    assert list(lines) == ["dblp-acm/dirty"]
    _check(lines, "dblp-acm/dirty", 4910)


@pytest.fixture(scope="module")
def library_records():
    """(library, record id, format, payload, record as normalized) of the degraded libraries' records."""
    rows, _ = demo_sources(300)
    return [(*row, normalize(row[3], row[2], SourceContext(library=row[0], record_id=row[1])))
            for row in rows if row[0] in DEGRADED_LIBRARIES]


def _degraded(rows, name):
    for lib, rid, fmt, body, before in rows:
        new_fmt, new_body = DEGRADATIONS[name](fmt, body, rid)
        yield fmt, before, new_fmt, normalize(new_body, new_fmt, SourceContext(library=lib, record_id=rid))


def _words(name: str) -> list[str]:
    return sorted(name.replace(",", " ").split())


def test_the_degradations_do_what_they_say(library_records):
    assert {row[2] for row in library_records} == {"marcxml", "oai_dc"}  # one MARC, one Dublin Core library
    for _, before, _, after in _degraded(library_records, "no_year"):
        assert before.year and after.year is None
    for _, before, _, after in _degraded(library_records, "no_authors"):
        assert after.authors == [] and after.title == before.title
    for _, before, _, after in _degraded(library_records, "responsibility_in_title"):
        if before.authors:
            assert after.title.startswith(before.title.split(" : ")[0]) and " / " in after.title
            assert fold(before.authors[0].name.split(",")[0]) in fold(after.title)
    changed = 0
    for _, before, _, after in _degraded(library_records, "name_order"):
        assert [_words(a.name) for a in after.authors] == [_words(a.name) for a in before.authors]
        changed += [a.name for a in after.authors] != [a.name for a in before.authors]
    assert changed > len(library_records) // 2
    for _, before, _, after in _degraded(library_records, "truncated_title"):
        words = fold(before.title).replace(":", " ").split()
        assert fold(after.title).rstrip(".").split() == words[:max(1, round(0.6 * len(words)))]
    for _, before, _, after in _degraded(library_records, "reworded_title"):
        assert after.title != before.title and after.authors == before.authors
    for _, before, _, after in _degraded(library_records, "unaccented_names"):
        assert all(a.name.isascii() for a in after.authors)
        assert [fold(a.name) for a in after.authors] == [fold(a.name) for a in before.authors]
    for fmt, before, new_fmt, after in _degraded(library_records, "dublin_core"):
        assert new_fmt == after.format == "oai_dc"
        assert (after.year, after.isbns, after.languages) == (before.year, before.isbns, before.languages)
        assert fold(after.title).rstrip(" /.") == fold(before.title).rstrip(" /.")
        assert [a.name for a in after.authors] == [a.name for a in before.authors]


def test_reencoded_names_arrive_in_legacy_bytes_and_are_mostly_repaired(library_records):
    repaired = vietnamese = 0
    for fmt, before, new_fmt, after in _degraded(library_records, "reencoded_names"):
        assert new_fmt == ("iso2709" if fmt == "marcxml" else "oai_dc")
        if any(not a.name.isascii() for a in before.authors):
            vietnamese += 1
            repaired += [a.name for a in after.authors] == [a.name for a in before.authors]
            assert after.repairs or [a.name for a in after.authors] != [a.name for a in before.authors]
        assert after.title == before.title
    assert vietnamese > 20 and repaired > vietnamese // 2
