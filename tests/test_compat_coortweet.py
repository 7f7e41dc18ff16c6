"""--compat coortweet: CooRTweet 2.1.3's outputs on the russian set, and its definition."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.detect.compat_coortweet import (
    CoortweetParams,
    Shares,
    coortweet_network,
    detect_groups,
    generate_coordinated_network,
    quantile_type7,
    shares_from_csv,
)
from echoscope.errors import ParameterError

RUSSIAN = "coortweet_russian_coord_tweets/russian_coord_tweets.csv"
REF = "coortweet_reference_outputs"


@pytest.fixture(scope="module")
def russian(datasets: Path) -> Shares:
    p = datasets / RUSSIAN
    if not p.exists():
        pytest.skip(f"{p} is absent")
    return shares_from_csv(str(p))


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(("tw", "mp", "name", "n_edges"), [
    (60, 2, "russian_tw60_mp2_edges_all.csv", 3721),
    (10, 5, "russian_tw10_mp5_edges_all.csv", 20),
])
def test_edges_equal_reference(russian: Shares, datasets: Path, tw: int, mp: int, name: str,
                               n_edges: int) -> None:
    got = coortweet_network(russian, CoortweetParams(time_window=tw, min_participation=mp,
                                                     edge_weight=0.5))
    ref = {frozenset((r["from"], r["to"])): r for r in _read(datasets / REF / name)}
    ours = {frozenset((r["from"], r["to"])): r for r in got.to_pylist()}
    assert len(ref) == n_edges
    assert ours.keys() == ref.keys()
    for k, r in ref.items():
        g = ours[k]
        assert g["from"] < g["to"]
        assert g["weight"] == int(r["weight"])
        assert g["avg_time_delta"] == pytest.approx(float(r["avg_time_delta"]), abs=1e-9)
        assert g["n_content_id"] == int(r["n_content_id"])
        assert g["n_content_id_y"] == int(r["n_content_id_y"])
        assert g["edge_symmetry_score"] == pytest.approx(float(r["edge_symmetry_score"]))
        assert g["weight_threshold"] == int(r["weight_threshold"])


def test_pairs_equal_reference(russian: Shares, datasets: Path) -> None:
    ref = _read(datasets / REF / "russian_tw60_mp2_pairs.csv")
    got = detect_groups(russian, 60, 2).to_pylist()

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["object_id"], r["content_id"], r["content_id_y"], float(r["time_delta"]),
                r["account_id"], r["account_id_y"])

    assert len(got) == len(ref) == 3791
    # even the older/newer order of simultaneous shares is CooRTweet's
    assert Counter(map(key, got)) == Counter(map(key, ref))


def test_weight_distribution_of_reference(russian: Shares) -> None:
    e = coortweet_network(russian, CoortweetParams(time_window=60, min_participation=2))
    w = Counter(e["weight"].to_pylist())
    assert w == {1: 3661, 2: 51, 3: 8, 4: 1}
    assert sum(e["weight_threshold"].to_pylist()) == 60


# -- known answers and the definition -------------------------------------------------


def shares(rows: list[tuple[str, str, str, float]]) -> Shares:
    return Shares([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                  np.asarray([r[3] for r in rows], dtype=np.float64))


def test_known_answer() -> None:
    s = shares([
        ("o1", "A", "c1", 0), ("o1", "B", "c2", 5), ("o1", "C", "c3", 100),
        ("o2", "A", "c4", 50), ("o2", "B", "c5", 45), ("o2", "C", "c6", 60),
        ("o3", "C", "c7", 0),
    ])
    pairs = detect_groups(s, 10, 2).to_pylist()
    got = sorted((p["object_id"], p["content_id"], p["content_id_y"], p["time_delta"])
                 for p in pairs)
    # C has only one coordinated content, but (c4, c6) stays: A's c4 qualifies
    assert got == [("o1", "c1", "c2", 5.0), ("o2", "c4", "c6", 10.0), ("o2", "c5", "c4", 5.0)]
    e = generate_coordinated_network(detect_groups(s, 10, 2), 0.5).to_pylist()
    assert [(r["from"], r["to"], r["weight"]) for r in e] == [("A", "B", 2), ("A", "C", 1)]
    ab = e[0]
    assert ab["avg_time_delta"] == 5.0
    assert (ab["n_content_id"], ab["n_content_id_y"]) == (2, 2)
    assert [r["weight_threshold"] for r in e] == [1, 0]  # above the median 1.5


def test_min_participation_drops_light_accounts() -> None:
    s = shares([("o1", "A", "c1", 0), ("o1", "B", "c2", 1), ("o2", "A", "c3", 0)])
    # B has one share: dropped before pairing
    assert detect_groups(s, 10, 2).num_rows == 0
    assert detect_groups(s, 10, 1).num_rows == 1


def test_quantile_type7() -> None:
    assert quantile_type7(np.array([1, 2, 3, 4]), 0.5) == 2.5
    assert quantile_type7(np.array([1, 1, 1, 5]), 0.5) == 1
    assert quantile_type7(np.array([3.0]), 0.9) == 3.0
    assert quantile_type7(np.array([1, 2, 3, 4, 5]), 1.0) == 5
    assert quantile_type7(np.array([1, 2, 3, 4, 5]), 0.0) == 1


@given(st.lists(st.integers(1, 50), min_size=1, max_size=60), st.floats(0, 1))
def test_quantile_type7_is_numpy_linear(values: list[int], q: float) -> None:
    assert quantile_type7(np.array(values), q) == pytest.approx(
        float(np.quantile(values, q, method="linear")), rel=1e-12, abs=1e-12)


def test_params_are_checked() -> None:
    with pytest.raises(ParameterError, match="edge_weight"):
        CoortweetParams(edge_weight=1.5)
    with pytest.raises(ParameterError, match="min_participation"):
        CoortweetParams(min_participation=0)


def oracle(rows: list[tuple[str, str, str, float]], tw: float, mp: int) -> Counter[Any]:
    """CooRTweet's detect_groups, step by step on plain lists."""
    n_acct = Counter(r[1] for r in rows)
    firsts: dict[str, int] = {}
    for i, r in enumerate(rows):
        firsts.setdefault(r[1], i)
    x = sorted((r for r in rows if n_acct[r[1]] >= mp),
               key=lambda r: firsts[r[1]])  # stable: input order within an account
    result = []
    for obj in dict.fromkeys(r[0] for r in x):
        g = [r for r in x if r[0] == obj]
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                td = g[i][3] - g[j][3]
                if abs(td) <= tw:
                    result.append((obj, g[i][2], g[j][2], td, g[i][1], g[j][1]))
    result = [r for r in result if r[0] != r[1] and r[0] != r[2] and r[1] != r[2]
              and r[4] != r[5]]
    contents = {r[1] for r in result} | {r[2] for r in result}
    per: Counter[str] = Counter(r[1] for r in x if r[2] in contents)
    good = {r[2] for r in x if r[2] in contents and per[r[1]] >= mp}
    result = [r for r in result if r[1] in good or r[2] in good]
    out: Counter[Any] = Counter()
    for o, c, cy, td, a, ay in result:
        if td > 0:
            c, cy, a, ay = cy, c, ay, a
        out[(o, c, cy, abs(td), a, ay)] += 1
    return out


SHARE_ROWS = st.lists(
    st.tuples(st.sampled_from(["o1", "o2", "o3", "c1"]), st.sampled_from(["A", "B", "C", "D"]),
              st.sampled_from(["c1", "c2", "c3", "c4", "c5", "c6", "o1"]),
              st.integers(0, 30).map(float)),
    max_size=30)


@settings(max_examples=300, deadline=None)
@given(rows=SHARE_ROWS, tw=st.sampled_from([0, 5, 10, 60]), mp=st.integers(1, 4))
def test_detect_groups_matches_definition(rows: list[tuple[str, str, str, float]], tw: int,
                                          mp: int) -> None:
    got = detect_groups(shares(rows), tw, mp).to_pylist()
    assert Counter((r["object_id"], r["content_id"], r["content_id_y"], r["time_delta"],
                    r["account_id"], r["account_id_y"]) for r in got) == oracle(rows, tw, mp)


@settings(max_examples=100, deadline=None)
@given(rows=SHARE_ROWS, tw=st.sampled_from([5, 10]), mp=st.integers(1, 3))
def test_invariants(rows: list[tuple[str, str, str, float]], tw: int, mp: int) -> None:
    # a wider window never removes a pair; weights count pairs
    narrow = detect_groups(shares(rows), tw, mp).num_rows
    wide = detect_groups(shares(rows), tw * 2, mp).num_rows
    assert wide >= narrow
    e = generate_coordinated_network(detect_groups(shares(rows), tw, mp), 0.5)
    assert sum(e["weight"].to_pylist()) == narrow
    for r in e.to_pylist():
        assert r["from"] < r["to"]
        assert 0 < r["edge_symmetry_score"] <= 1
