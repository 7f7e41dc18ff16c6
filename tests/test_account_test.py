"""The account-level test of the default detector (echoscope.detect.null.chance_partners,
account_excess) and its use in the member trim of echoscope.cluster."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from echoscope.cluster import ClusterParams, combine_pairs, trim_members
from echoscope.detect import DetectParams, coaction_edges, detect_edges
from echoscope.detect.null import account_excess, chance_partners, heavy_accounts
from echoscope.workspace import Workspace
from test_cluster import _membership, clique, edge, edges_table
from test_detect import organic, planted, table


def _brute(strata: np.ndarray, rate: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    lam = (strata * rate) @ strata.T
    pr = special.pdtrc(k - 1.0, np.maximum(lam, 1e-300))
    np.fill_diagonal(pr, 0.0)
    return pr[ids].sum(axis=1)


def _parts(strata: np.ndarray, n_heavy: int):
    heavy = heavy_accounts(strata, n_heavy)
    gram_light = strata.T @ strata - strata[heavy].T @ strata[heavy]
    return heavy, strata[heavy], gram_light, strata.sum(axis=0)


def test_chance_partners_exact_when_every_account_is_heavy() -> None:
    rng = np.random.default_rng(0)
    strata = rng.poisson(3.0, size=(40, 5)).astype(float)
    rate = np.array([0.05, 0.02, 0.01, 0.2, 0.001])
    ids = np.arange(40)
    heavy, hrows, gl, cs = _parts(strata, 1000)
    got = chance_partners(strata, ids, hrows, heavy, gl, cs, rate, 2)
    np.testing.assert_allclose(got, _brute(strata, rate, ids, 2), rtol=1e-9)
    got3 = chance_partners(strata, ids, hrows, heavy, gl, cs, rate, 3)
    np.testing.assert_allclose(got3, _brute(strata, rate, ids, 3), rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 30), st.integers(1, 3))
def test_chance_partners_is_an_upper_bound_of_the_exact_sum(seed: int, n_heavy: int,
                                                            k: int) -> None:
    rng = np.random.default_rng(seed)
    strata = rng.poisson(rng.uniform(0.2, 4.0), size=(30, 4)).astype(float)
    rate = rng.uniform(0.0, 0.1, size=4)
    ids = np.arange(0, 30, 2)
    heavy, hrows, gl, cs = _parts(strata, n_heavy)
    got = chance_partners(strata[ids], ids, hrows, heavy, gl, cs, rate, k)
    assert np.all(got >= _brute(strata, rate, ids, k) - 1e-9)
    assert np.all(np.isfinite(got)) and np.all(got >= 0)


def test_account_excess_known_answers() -> None:
    p = account_excess(np.array([0, 1, 3, 5]), np.array([2.0, 0.0, 3.0, 0.1]))
    assert p[0] == 1.0 and p[1] == 0.0
    assert abs(p[2] - (1 - special.pdtr(2, 3.0))) < 1e-12
    assert p[3] < 1e-6


def test_breaking_news_reposters_fail_the_account_test_a_campaign_passes() -> None:
    # 2,000 organic accounts; 20 bursts of 150 reposters each within minutes (the same
    # accounts meet in several bursts by chance); 8 planted accounts co-repost 12 keys
    rng = np.random.default_rng(2)
    acc, key, t = organic(n_acc=2000, n_act=20_000)
    va, vk, vt = [], [], []
    for k in range(20):
        t0 = int(rng.integers(0, 6 * 86400))
        for a in rng.choice(2000, 150, replace=False):
            va.append(a)
            vk.append(5 * 10**6 + k)
            vt.append(t0 + int(rng.lognormal(np.log(100), 0.9)))
    pa_, pk, pt = planted()
    stats: dict = {}
    coaction_edges(table(np.r_[acc, va, pa_], np.r_[key, vk, pk], np.r_[t, vt, pt]),
                   DetectParams(types=("repost",), alpha=1.0), stats=stats)
    acc_t = stats["_accounts"].to_pandas().set_index("account_id")
    planted_ids = [f"u{90000 + i:05d}" for i in range(8)]
    assert (acc_t.loc[planted_ids, "p_value"] < 1e-6).all()
    organic_rows = acc_t.drop(index=planted_ids)
    assert len(organic_rows) > 500  # most reposters share two or more bursts with others
    # ... as chance predicts: over all 2,000 organic accounts P(p <= x) <= x (with the
    # sampling margin of test_detect) at the level the member trim uses; in the far tail
    # partner counts are over-dispersed (reposters of the same bursts form cliques), so
    # 1% allows twice the margin
    x = 0.1
    assert (organic_rows["p_value"] <= x).sum() <= x * 2000 + 3 * np.sqrt(x * 2000) + 1
    x = 0.01
    assert (organic_rows["p_value"] <= x).sum() <= x * 2000 + 6 * np.sqrt(x * 2000) + 1


def test_detect_edges_writes_the_account_table(tmp_path) -> None:
    acc, key, t = organic(n_acc=100, n_act=2000)
    pa_, pk, pt = planted()
    with Workspace(tmp_path / "ws.duckdb") as ws:
        ws.replace("actions", table(np.r_[acc, pa_], np.r_[key, pk], np.r_[t, pt]))
        detect_edges(ws, DetectParams(types=("repost",), alpha=1.0))
        got = ws.table("coaction_accounts")
        edges = ws.table("edges")
    ids = set(edges["account_a"].to_pylist()) | set(edges["account_b"].to_pylist())
    assert set(got["account_id"].to_pylist()) == ids
    assert min(got["partners"].to_pylist()) >= 1


def test_trim_members_removes_accounts_that_chance_explains() -> None:
    a = [f"a{i}" for i in range(6)]
    rows = clique(a, p=0.01, q=0.2)
    rows += [edge("o1", "a0", p=0.05, q=0.5), edge("o1", "a1", p=0.05, q=0.5)]
    rows += [edge("o2", "a2", p=0.05, q=0.5), edge("o2", "a3", p=0.05, q=0.5)]
    rows += [edge("o3", "a3", p=1e-9, q=0.001)]  # significant on its own: stays
    pairs = combine_pairs(edges_table(rows))
    memb = _membership({0: [*a, "o1", "o2", "o3"]})
    params = ClusterParams(member_ties=2)
    out0, keep0 = trim_members(pairs, memb, {0}, params)
    chance = pa.array(["o1", "o3", "zz"])
    out, keep = trim_members(pairs, memb, {0}, params, chance=chance)
    cl = dict(zip(out.column("account_id").to_pylist(), out.column("cluster").to_pylist(),
                  strict=True))
    assert keep == keep0 == {0}
    assert cl["o1"] == -1 and cl["o2"] == 0 and cl["o3"] == 0
    assert all(cl[x] == 0 for x in a)
    # the account test only removes: never a member that the trim alone drops comes back
    # the account test only removes members, never adds one
    cl0 = dict(zip(out0.column("account_id").to_pylist(),
                   out0.column("cluster").to_pylist(), strict=True))
    assert {x for x, c in cl.items() if c == -1} >= {x for x, c in cl0.items() if c == -1}


def test_time_class_known_answer() -> None:
    from echoscope.detect.null import pairs_per_key, time_class

    # key 0: 3 accounts within the window (q = 1); key 1: 3 accounts an hour apart (q = 0);
    # key 2: 2 of 3 pairs in the window... one account twice (its own pair never counts)
    key = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    acct = np.array([0, 1, 2, 0, 1, 2, 0, 0, 1, 2], dtype=np.int32)
    t = np.array([0, 10, 20, 0, 3600, 7200, 0, 1, 5000, 5010]) * 1_000_000
    per = pairs_per_key(key, t, acct, 60 * 1_000_000, 3)
    cls = time_class(key, acct, per, 3, 6)
    # key 2: pairs of different accounts: 2 * 1 + 2 * 1 + 1 * 1 = 5, within 60 s: 1
    assert per.tolist() == [3.0, 0.0, 1.0]
    assert cls.tolist() == [0, 5, 1]
    assert time_class(key, acct, per, 3, 1).tolist() == [0, 0, 0]


def _trend_table(seed: int) -> pa.Table:
    # 400 accounts use 40 hashtags of the same popularity (60 accounts each): 20 trend for
    # half an hour, 20 are used all week; nobody coordinates
    rng = np.random.default_rng(seed)
    acc, key, t = [], [], []
    for k in range(40):
        t0 = int(rng.integers(0, 6 * 86400))
        for a in rng.choice(400, 60, replace=False):
            acc.append(int(a))
            key.append(k)
            t.append(t0 + int(rng.integers(0, 1800)) if k < 20
                     else int(rng.integers(0, 7 * 86400)))
    return table(np.array(acc), np.array(key), np.array(t), typ="hashtag")


def test_trending_keys_get_their_own_null_stratum() -> None:
    # pairs that met on two trending hashtags within a minute are less surprising once
    # trending keys are compared with trending keys (seeds 0, 1: 24 -> 10, 20 -> 4 pairs
    # at p <= 0.001 of 79,800), and the model stays calibrated over the family
    base = DetectParams(types=("hashtag",), alpha=1.0, episode_types=(), null_bouts=False)
    for seed in (0, 1):
        tab = _trend_table(seed)
        st1: dict = {}
        e1 = coaction_edges(tab, base.replace(time_classes=1), stats=st1)
        e6 = coaction_edges(tab, base.replace(time_classes=6))
        p1, p6 = np.asarray(e1["p_value"]), np.asarray(e6["p_value"])
        assert (p6 <= 1e-3).sum() < (p1 <= 1e-3).sum()
        for x in (1e-3, 1e-2, 0.1):
            assert (p6 <= x).sum() <= (p1 <= x).sum()
            assert (p6 <= x).sum() <= x * st1["family_size"]


def test_account_test_compares_trending_keys_with_trending_keys() -> None:
    # the same trend users: with time classes in the account test's null fewer of them
    # have "more partners than chance", and the test stays calibrated over the 400 accounts
    base = DetectParams(types=("hashtag",), alpha=1.0, episode_types=(), null_bouts=False)
    for seed in (0, 1):
        tab = _trend_table(seed)
        st1: dict = {}
        st6: dict = {}
        coaction_edges(tab, base.replace(account_time_classes=1), stats=st1)
        coaction_edges(tab, base.replace(account_time_classes=6), stats=st6)
        p1 = np.asarray(st1["_accounts"]["p_value"])
        p6 = np.asarray(st6["_accounts"]["p_value"])
        assert (p6 <= 0.1).sum() <= (p1 <= 0.1).sum()
        assert (p6 <= 0.1).sum() <= 0.1 * 400 + 3 * np.sqrt(0.1 * 400) + 1
