"""Campaign finding: significance rule, tie combination, Leiden, evidence, stable ids."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope import schema
from echoscope.cluster import (
    ClusterParams,
    campaign_test,
    cluster_pairs,
    combine_pairs,
    find_campaigns,
    merge_campaigns,
    refine_campaigns,
    significant_edges,
    tie_edges,
    trim_members,
)
from echoscope.errors import ParameterError
from echoscope.score import CampaignFeatures, campaign_score, tie_significance
from echoscope.workspace import Workspace

NAN = math.nan
T0 = dt.datetime(2024, 3, 1, 12, 0, 0)


def edge(a: str, b: str, type_: str = "text", window: float = 60.0, n_keys: int = 3,
         weight: float = 1.0, p: float = NAN, q: float = NAN) -> dict[str, Any]:
    return {"account_a": a, "account_b": b, "type": type_, "window": window, "n_keys": n_keys,
            "n_pairs": n_keys, "min_delay": 0.0, "median_delay": 1.0, "weight": weight,
            "p_value": p, "q_value": q}


def edges_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema.TABLES["edges"].schema)


def clique(names: list[str], **kw: Any) -> list[dict[str, Any]]:
    return [edge(a, b, **kw) for i, a in enumerate(names) for b in names[i + 1:]]


def test_significant_edges_rule() -> None:
    t = edges_table([
        edge("a", "b", p=0.001, q=0.01),      # significant
        edge("a", "c", p=0.01, q=0.2),        # not significant although many keys
        edge("b", "c", n_keys=2),             # no p-value: 2 keys is enough
        edge("c", "d", n_keys=1),             # no p-value: 1 key is not
        edge("d", "e", p=0.01, q=NAN),        # p without q: p is used
    ])
    kept = significant_edges(t, alpha=0.05, min_keys=2)
    assert kept.select(["account_a", "account_b"]).to_pylist() == [
        {"account_a": "a", "account_b": "b"},
        {"account_a": "b", "account_b": "c"},
        {"account_a": "d", "account_b": "e"},
    ]
    assert significant_edges(t, alpha=0.05, min_keys=1).num_rows == 4


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.integers(1, 6), st.booleans()), min_size=1,
                max_size=30),
       st.floats(0, 1), st.floats(0, 1), st.integers(1, 5), st.integers(1, 5))
def test_raising_threshold_never_adds_edges(rows: list[tuple[float, int, bool]], a1: float,
                                            a2: float, k1: int, k2: int) -> None:
    t = edges_table([edge(f"a{i}", f"b{i}", n_keys=k, p=q if has else NAN, q=q if has else NAN)
                     for i, (q, k, has) in enumerate(rows)])
    loose = significant_edges(t, max(a1, a2), min(k1, k2))
    strict = significant_edges(t, min(a1, a2), max(k1, k2))
    assert set(strict.column("account_a").to_pylist()) <= set(
        loose.column("account_a").to_pylist())


def test_combine_pairs_max_over_windows_sum_over_types() -> None:
    t = edges_table([
        edge("b", "a", "text", 60, weight=2.0),
        edge("a", "b", "text", 3600, weight=5.0),       # same type, wider window: max
        edge("a", "b", "url", 60, weight=1.5, p=0.01, q=0.02),
        edge("a", "c", "hashtag", 60, weight=NAN, n_keys=4),  # no weight: n_keys
    ])
    pairs = combine_pairs(t).to_pylist()
    assert pairs == [
        {"account_a": "a", "account_b": "b", "weight": 6.5, "types": ["text", "url"],
         "n_types": 2, "min_p": 0.01, "min_q": 0.02, "max_keys": 3},
        {"account_a": "a", "account_b": "c", "weight": 4.0, "types": ["hashtag"],
         "n_types": 1, "min_p": pytest.approx(NAN, nan_ok=True),
         "min_q": pytest.approx(NAN, nan_ok=True), "max_keys": 4},
    ]


def test_cluster_pairs_separates_components_and_ignores_row_order() -> None:
    rows = clique(["a1", "a2", "a3", "a4"]) + clique(["b1", "b2", "b3"])
    pairs = combine_pairs(edges_table(rows))
    m1 = cluster_pairs(pairs, seed=1).to_pylist()
    m2 = cluster_pairs(combine_pairs(edges_table(rows[::-1])), seed=1).to_pylist()
    assert m1 == m2
    cl = {r["account_id"]: r["cluster"] for r in m1}
    assert len({cl[x] for x in ("a1", "a2", "a3", "a4")}) == 1
    assert len({cl[x] for x in ("b1", "b2", "b3")}) == 1
    assert cl["a1"] != cl["b1"]


def test_cluster_pairs_splits_two_cliques_joined_by_one_weak_tie() -> None:
    a = [f"a{i}" for i in range(6)]
    b = [f"b{i}" for i in range(6)]
    rows = clique(a, weight=5.0) + clique(b, weight=5.0) + [edge("a0", "b0", weight=0.5)]
    cl = {r["account_id"]: r["cluster"]
          for r in cluster_pairs(combine_pairs(edges_table(rows)), seed=0).to_pylist()}
    assert len({cl[x] for x in a}) == 1 and len({cl[x] for x in b}) == 1
    assert cl["a0"] != cl["b0"]


def _workspace_with(rows: list[dict[str, Any]], actions: list[dict[str, Any]],
                    posts: list[dict[str, Any]]) -> Workspace:
    ws = Workspace(":memory:")
    ws.replace("edges", edges_table(rows))
    ws.replace("actions", pa.Table.from_pylist(actions, schema=schema.TABLES["actions"].schema))
    full = [{c: p.get(c) for c in schema.TABLES["posts"].columns} for p in posts]
    ws.replace("posts", pa.Table.from_pylist(full, schema=schema.TABLES["posts"].schema))
    return ws


def _planted() -> Workspace:
    big = [f"u{i:02d}" for i in range(5)]
    small = ["v1", "v2", "v3"]
    rows = clique(big, type_="text", p=1e-6, q=1e-5) + clique(big, type_="url", n_keys=2)
    rows += clique(small, type_="hashtag", p=0.01, q=0.04)
    rows += [edge("w1", "w2", "text", p=1e-6, q=1e-6)]  # a strong pair: below min_size
    rows += [edge("x1", "x2", "text", p=0.5, q=0.9)]     # not significant
    actions, posts = [], []
    for i, acct in enumerate(big):
        for j, key in enumerate(("t1", "t2")):
            pid = f"p{acct}{key}"
            actions.append({"account_id": acct, "time": T0 + dt.timedelta(minutes=3 * i + j),
                            "type": "text", "key": key, "post_id": pid})
            posts.append({"platform": "twitter", "post_id": pid, "account_id": acct,
                          "created_at": T0, "kind": "post", "text": f"invented text {key}"})
        actions.append({"account_id": acct, "time": T0, "type": "hashtag", "key": "news",
                        "post_id": f"p{acct}t1"})
    for acct in small:
        actions.append({"account_id": acct, "time": T0, "type": "hashtag", "key": "cats",
                        "post_id": f"h{acct}"})
    return _workspace_with(rows, actions, posts)


def test_find_campaigns_known_answer() -> None:
    with _planted() as ws:
        res = find_campaigns(ws, ClusterParams(seed=3))
        assert res.n_campaigns == 2
        camps = ws.sql("SELECT * FROM campaigns ORDER BY campaign_id").to_pylist()
        assert [c["campaign_id"] for c in camps] == ["C0001", "C0002"]
        assert camps[0]["size"] == 5 and camps[0]["signals"] == ["text", "url"]
        assert camps[0]["density"] == 1.0 and camps[0]["n_edges"] == 10
        assert camps[1]["size"] == 3 and camps[1]["signals"] == ["hashtag"]
        assert 0 <= camps[1]["score"] < camps[0]["score"] <= 1
        members = ws.sql("SELECT campaign_id, account_id, degree FROM campaign_members "
                         "ORDER BY 1, 2").to_pylist()
        assert [m["account_id"] for m in members if m["campaign_id"] == "C0001"] == [
            f"u{i:02d}" for i in range(5)]
        assert all(m["degree"] == 4 for m in members if m["campaign_id"] == "C0001")
        assert "w1" not in {m["account_id"] for m in members}
        ev = ws.sql("SELECT * FROM campaign_evidence WHERE campaign_id = 'C0001'").to_pylist()
        # keys of the tying types first (text), then others (hashtag 'news')
        assert [(e["type"], e["key"]) for e in ev] == [("text", "t1"), ("text", "t2"),
                                                       ("hashtag", "news")]
        assert ev[0]["n_accounts"] == 5 and ev[0]["n_actions"] == 5
        assert ev[0]["example_post_id"] == "pu00t1"
        assert ev[0]["example_text"] == "invented text t1"
        assert ev[0]["last_time"] - ev[0]["first_time"] == dt.timedelta(minutes=12)
        assert camps[0]["first_time"] == T0


def test_find_campaigns_is_stable_and_replaces() -> None:
    with _planted() as ws:
        find_campaigns(ws, ClusterParams(seed=7))
        first = ws.sql("SELECT * FROM campaign_members ORDER BY ALL").to_pylist()
        find_campaigns(ws, ClusterParams(seed=7))
        assert ws.sql("SELECT * FROM campaign_members ORDER BY ALL").to_pylist() == first
        find_campaigns(ws, ClusterParams(min_size=2))
        assert ws.count("campaigns") == 3
        with pytest.raises(ParameterError, match="max_pairs"):
            find_campaigns(ws, ClusterParams(max_pairs=3))


def test_find_campaigns_empty_workspace() -> None:
    with Workspace(":memory:") as ws:
        res = find_campaigns(ws)
        assert res.n_campaigns == 0 and ws.count("campaigns") == 0


def test_tie_edges_group_and_edges_methods() -> None:
    t = edges_table([
        edge("a", "b", p=0.08, q=0.6),     # weak: a tie for the group method only
        edge("a", "c", p=0.3, q=0.9),      # too weak for both
        edge("b", "c", p=1e-5, q=1e-3),    # strong: both
        edge("c", "d", n_keys=2),          # no p-value: min_keys rule in both
    ])
    group = tie_edges(t, ClusterParams())
    strict = tie_edges(t, ClusterParams(method="edges"))
    pairs = lambda x: [(r["account_a"], r["account_b"]) for r in x.to_pylist()]  # noqa: E731
    assert pairs(group) == [("a", "b"), ("b", "c"), ("c", "d")]
    assert pairs(strict) == [("b", "c"), ("c", "d")]


def _background_with_campaign(seed: int) -> tuple[pa.Table, list[str]]:
    """A sparse random tie graph of 300 accounts plus a dense group of 12."""
    import random

    rng = random.Random(seed)
    names = [f"o{i:03d}" for i in range(300)]
    rows = []
    for _ in range(330):
        a, b = rng.sample(names, 2)
        rows.append(edge(min(a, b), max(a, b), p=0.05, q=0.9, weight=rng.uniform(0.2, 1)))
    camp = [f"c{i:02d}" for i in range(12)]
    for i, a in enumerate(camp):
        for b in camp[i + 1:]:
            if rng.random() < 0.7:
                rows.append(edge(a, b, p=0.03, q=0.9, weight=rng.uniform(0.2, 1)))
    return combine_pairs(edges_table(rows)), camp


def test_campaign_test_finds_dense_group_not_background() -> None:
    pairs, camp = _background_with_campaign(5)
    membership = cluster_pairs(pairs, seed=0)
    tests, null_max = campaign_test(pairs, membership, null_graphs=19, seed=0)
    assert len(null_max) == 19
    cl = {r["account_id"]: r["cluster"] for r in membership.to_pylist()}
    camp_cluster = cl[camp[0]]
    assert all(cl[a] == camp_cluster for a in camp)
    passing = {c for c, (_, p) in tests.items() if p <= 0.05}
    assert passing == {camp_cluster}
    stat, p = tests[camp_cluster]
    assert p == pytest.approx(1 / 20) and stat > max(null_max)
    again, null_again = campaign_test(pairs, membership, null_graphs=19, seed=0)
    assert again == tests and null_again == null_max


def test_campaign_test_group_of_weak_ties_becomes_campaign() -> None:
    pairs, camp = _background_with_campaign(9)
    rows = [edge(r["account_a"], r["account_b"], p=0.04, q=0.9, weight=r["weight"])
            for r in pairs.to_pylist()]
    with _workspace_with(rows, [], []) as ws:
        # at alpha = 0.01 (99 rewirings) a background cluster passes by chance in 1% of
        # seeds; at the default 0.05, in 5%
        res = find_campaigns(ws, ClusterParams(alpha=0.01, null_graphs=99))
        members = {r["account_id"] for r in ws.sql(
            "SELECT account_id FROM campaign_members").to_pylist()}
        assert res.n_campaigns == 1 and members == set(camp)
        assert "campaign test" in ws.scalar("SELECT summary FROM campaigns")
        find_campaigns(ws, ClusterParams(method="edges"))
        assert ws.count("campaigns") == 0


def test_cluster_params_limits() -> None:
    with pytest.raises(ParameterError, match="null_graphs"):
        ClusterParams(alpha=0.01, null_graphs=19)
    ClusterParams(alpha=0.01, null_graphs=99)
    with pytest.raises(ParameterError, match="min_size"):
        ClusterParams(min_size=1)
    with pytest.raises(ParameterError, match="alpha"):
        ClusterParams(alpha=1.5)


@given(st.floats(0, 1), st.floats(0, 1), st.integers(0, 20), st.integers(0, 10_000),
       st.one_of(st.none(), st.floats(0, 1)))
def test_score_in_unit_interval(sig: float, dens: float, nt: int, nk: int,
                                auto: float | None) -> None:
    s = campaign_score(CampaignFeatures(sig, dens, nt, nk, auto))
    assert 0.0 <= s <= 1.0
    assert campaign_score(CampaignFeatures(sig, dens, nt, nk + 1, auto)) >= s


def test_tie_significance() -> None:
    assert tie_significance(1e-4, 1) == 1.0
    assert tie_significance(1.0, 50) == 0.0
    assert tie_significance(None, 1) == 0.0
    assert 0.4 < tie_significance(None, 3) < tie_significance(None, 10) < 1.0


def _membership(groups: dict[int, list[str]]) -> pa.Table:
    rows = sorted((a, c) for c, names in groups.items() for a in names)
    return pa.table({"account_id": pa.array([a for a, _ in rows], pa.string()),
                     "cluster": pa.array([c for _, c in rows], pa.int64())})


def test_merge_campaigns_joins_densely_tied_campaigns_and_attaches_small_clusters() -> None:
    a = [f"a{i}" for i in range(6)]
    b = [f"b{i}" for i in range(6)]
    c = [f"c{i}" for i in range(5)]
    rows = clique(a) + clique(b) + clique(c)
    rows += [edge(x, y) for x in a for y in b if (int(x[1:]) + int(y[1:])) % 3 == 0]  # 12
    rows += [edge("a0", "c0")]  # c: one tie only, stays apart
    rows += [edge("s0", "s1"), edge("s0", "a1"), edge("s1", "a2")]  # pair tied into a
    rows += [edge("t0", "t1"), edge("t0", "a1"), edge("t1", "c1")]  # pair tied to a and c
    pairs = combine_pairs(edges_table(rows))
    memb = _membership({0: a, 1: b, 2: c, 3: ["s0", "s1"], 4: ["t0", "t1"]})
    tests = {0: (5.0, 0.05), 1: (6.0, 0.05), 2: (4.0, 0.1)}
    out, keep, t2 = merge_campaigns(pairs, memb, {0, 1, 2}, tests, ratio=0.2, min_ties=3)
    cl = dict(zip(out.column("account_id").to_pylist(), out.column("cluster").to_pylist(),
                  strict=True))
    assert keep == {0, 2}
    assert {cl[x] for x in a + b + ["s0", "s1"]} == {0}
    assert {cl[x] for x in c} == {2} and cl["t0"] == cl["t1"] == 4
    assert t2[0] == (6.0, 0.05) and t2[2] == tests[2]
    # a stricter ratio keeps a and b apart (density between 12/36 = 0.33 of 1.0 inside)
    _, keep2, _ = merge_campaigns(pairs, memb, {0, 1, 2}, tests, ratio=0.5, min_ties=3)
    assert keep2 == {0, 1, 2}
    # row order of the ties does not matter
    out3, _, _ = merge_campaigns(combine_pairs(edges_table(rows[::-1])), memb, {0, 1, 2},
                                 tests, ratio=0.2, min_ties=3)
    assert out3.to_pylist() == out.to_pylist()


def test_trim_members_drops_accounts_held_by_one_weak_tie() -> None:
    a = [f"a{i}" for i in range(6)]
    rows = clique(a, p=0.01, q=0.2)
    rows += [edge("o1", "a0", p=0.05, q=0.5)]  # one weak tie: leaves
    rows += [edge("o2", "a1", p=0.05, q=0.5), edge("o2", "a2", p=0.05, q=0.5)]  # stays
    rows += [edge("o3", "a3", p=1e-9, q=0.001)]  # one tie, significant on its own: stays
    pairs = combine_pairs(edges_table(rows))
    memb = _membership({0: [*a, "o1", "o2", "o3"], 1: ["x1"]})
    out, keep = trim_members(pairs, memb, {0}, ClusterParams(member_ties=2))
    cl = dict(zip(out.column("account_id").to_pylist(), out.column("cluster").to_pylist(),
                  strict=True))
    assert keep == {0} and cl["o1"] == -1
    assert all(cl[x] == 0 for x in [*a, "o2", "o3"]) and cl["x1"] == 1
    # a triangle keeps its members (the need is at most size - 1)
    tri = combine_pairs(edges_table(clique(["t1", "t2", "t3"], p=0.05, q=0.5)))
    _, keep2 = trim_members(tri, _membership({0: ["t1", "t2", "t3"]}), {0},
                            ClusterParams(member_ties=5))
    assert keep2 == {0}
    # raising the bar never adds members
    _, keep3 = trim_members(pairs, memb, {0}, ClusterParams(member_ties=7))
    assert keep3 <= keep


def test_refine_campaigns_drops_a_sparse_periphery_carried_by_a_dense_core() -> None:
    core = [f"c{i:02d}" for i in range(12)]
    ring = [f"r{i:02d}" for i in range(12)]
    rows = clique(core)
    rows += [edge(ring[i], ring[(i + 1) % 12]) for i in range(12)]
    rows += [edge("r00", "c00"), edge("r06", "c06")]
    rows += [edge(f"x{i:03d}", f"y{i:03d}") for i in range(200)]  # the rest of the graph
    pairs = combine_pairs(edges_table(rows))
    groups = {0: core + ring}
    groups.update({i + 1: [f"x{i:03d}", f"y{i:03d}"] for i in range(200)})
    memb = _membership(groups)
    params = ClusterParams()
    out, keep, tests = refine_campaigns(pairs, memb, {0}, {0: (60.0, 0.05)}, [30.0] * 19,
                                        params)
    cl = dict(zip(out.column("account_id").to_pylist(), out.column("cluster").to_pylist(),
                  strict=True))
    kept = {a for a, c in cl.items() if c in keep}
    assert kept == set(core)
    assert all(tests[c][1] <= params.alpha for c in keep)
    # a campaign without pieces stays as it is
    only = combine_pairs(edges_table(clique(core) + rows[-200:]))
    memb2 = _membership({0: core, **{i + 1: [f"x{i:03d}", f"y{i:03d}"] for i in range(200)}})
    out2, keep2, _ = refine_campaigns(only, memb2, {0}, {0: (60.0, 0.05)}, [30.0] * 19,
                                      params)
    assert keep2 == {0} and out2.to_pylist() == memb2.to_pylist()
