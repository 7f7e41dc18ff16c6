"""Consensus of campaign assignments (ClusterParams.runs): known answers and invariants."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.cluster import (
    ClusterParams,
    cluster_pairs,
    combine_pairs,
    consensus_campaigns,
    find_campaigns,
    run_seeds,
)
from echoscope.errors import ParameterError
from test_cluster import _planted


def _pairs(ties: list[tuple[str, str]]) -> pa.Table:
    rows = [{"account_a": a, "account_b": b, "type": "text", "window": 60.0, "n_keys": 3,
             "n_pairs": 3, "min_delay": 1.0, "median_delay": 1.0, "weight": 1.0,
             "p_value": 0.01, "q_value": 0.5} for a, b in ties]
    return combine_pairs(pa.Table.from_pylist(rows))


def _assignment(pairs: pa.Table, groups: dict[str, int]) -> tuple[pa.Table, set[int]]:
    """A membership over the tie graph's accounts: ``groups`` (others -1), all accepted."""
    base = cluster_pairs(pairs)
    ids = base.column("account_id").to_pylist()
    cl = [groups.get(a, -1) for a in ids]
    return (pa.table({"account_id": base.column("account_id"),
                      "cluster": pa.array(cl, pa.int64())}),
            {c for c in cl if c >= 0})


def _groups(table: pa.Table) -> set[frozenset[str]]:
    by: dict[int, set[str]] = {}
    for a, c in zip(table.column("account_id").to_pylist(),
                    table.column("cluster").to_pylist(), strict=True):
        if c >= 0:
            by.setdefault(c, set()).add(a)
    return {frozenset(v) for v in by.values()}


def _clique(names: list[str]) -> list[tuple[str, str]]:
    return list(itertools.combinations(names, 2))


A = [f"a{i}" for i in range(4)]
B = [f"b{i}" for i in range(4)]
PAIRS = _pairs(_clique(A) + _clique(B) + [("a0", "b0"), ("a1", "b1"), ("a2", "b2")])


def test_one_run_that_splits_is_outvoted() -> None:
    whole = dict.fromkeys(A + B, 0)
    split = {**dict.fromkeys(A, 0), **dict.fromkeys(B, 1)}
    out, keep = consensus_campaigns(PAIRS, [_assignment(PAIRS, split),
                                            _assignment(PAIRS, whole),
                                            _assignment(PAIRS, whole)], min_size=3)
    assert _groups(out) == {frozenset(A + B)}
    assert len(keep) == 1


def test_majority_split_stands_and_minority_members_leave() -> None:
    split = {**dict.fromkeys(A, 0), **dict.fromkeys(B, 1)}
    whole = dict.fromkeys(A + B, 0)
    no_b3 = {k: v for k, v in split.items() if k != "b3"}
    out, _ = consensus_campaigns(PAIRS, [_assignment(PAIRS, split),
                                            _assignment(PAIRS, no_b3),
                                            _assignment(PAIRS, whole)], min_size=3)
    # b3 is a member in 2 of 3 runs (stays); A and B are apart in 2 of 3
    assert _groups(out) == {frozenset(A), frozenset(B)}
    out, _ = consensus_campaigns(PAIRS, [_assignment(PAIRS, no_b3),
                                         _assignment(PAIRS, no_b3),
                                         _assignment(PAIRS, whole)], min_size=3)
    assert _groups(out) == {frozenset(A), frozenset(B) - {"b3"}}


def test_groups_below_min_size_are_dropped() -> None:
    small = {"a0": 0, "a1": 0, **dict.fromkeys(B, 1)}
    out, keep = consensus_campaigns(PAIRS, [_assignment(PAIRS, small)] * 3, min_size=3)
    assert _groups(out) == {frozenset(B)}
    assert len(keep) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(2, 6), min_size=1, max_size=4), st.integers(1, 5))
def test_identical_runs_give_back_the_run(sizes: list[int], k: int) -> None:
    """k copies of one assignment of clique campaigns: the consensus is that assignment."""
    ties: list[tuple[str, str]] = []
    groups: dict[str, int] = {}
    for g, n in enumerate(sizes):
        names = [f"g{g}_{i}" for i in range(n)]
        ties += _clique(names)
        groups.update(dict.fromkeys(names, g))
    ties += [(f"g{g}_0", f"g{g + 1}_0") for g in range(len(sizes) - 1)]
    pairs = _pairs(ties)
    one = _assignment(pairs, groups)
    out, keep = consensus_campaigns(pairs, [one] * k, min_size=3)
    want = {frozenset(a for a, c in groups.items() if c == g)
            for g, n in enumerate(sizes) if n >= 3}
    assert _groups(out) == want
    assert len(keep) == len(want)


def test_run_seeds_deterministic_and_distinct() -> None:
    s = run_seeds(7, 5)
    assert s == run_seeds(7, 5)
    assert s[0] == 7 and len(set(s)) == 5
    assert set(run_seeds(8, 5)[1:]).isdisjoint(s[1:])
    assert run_seeds(3, 1) == [3]


def test_runs_is_a_declared_limit() -> None:
    assert ClusterParams().runs == 5
    assert ClusterParams(runs=1).to_dict()["runs"] == 1
    assert ClusterParams(runs=5).to_dict()["runs"] == 5
    with pytest.raises(ParameterError):
        ClusterParams(runs=0)


def test_find_campaigns_with_consensus_known_answer_and_stable() -> None:
    with _planted() as ws:
        find_campaigns(ws, ClusterParams(seed=3))
        single = ws.sql("SELECT campaign_id, account_id FROM campaign_members "
                        "ORDER BY ALL").to_pylist()
        res = find_campaigns(ws, ClusterParams(seed=3, runs=5))
        assert res.n_campaigns == 2
        first = ws.sql("SELECT * FROM campaign_members ORDER BY ALL").to_pylist()
        assert [{k: r[k] for k in ("campaign_id", "account_id")} for r in first] == single
        find_campaigns(ws, ClusterParams(seed=3, runs=5))
        assert ws.sql("SELECT * FROM campaign_members ORDER BY ALL").to_pylist() == first
        camps = ws.sql("SELECT campaign_id, summary FROM campaigns ORDER BY 1").to_pylist()
        assert "campaign test" in camps[1]["summary"]
