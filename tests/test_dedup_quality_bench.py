"""The bound bench/dedup_quality.py --bounds prints is a proof only if the largest veto-free group
containing each record is found exactly: checked against trying every group of a small cluster."""
from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.dedup_quality import largest_groups


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
