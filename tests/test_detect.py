from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sstats

from echoscope import schema
from echoscope.detect import DetectParams, coaction_edges, detect_edges
from echoscope.detect.coaction import benjamini_hochberg, choose_window, shift_null_counts
from echoscope.errors import ParameterError
from echoscope.workspace import Workspace
from test_detect_conformance import actions, edge_set

NONE = dict(null="none")


def one(edges: pa.Table, a: str, b: str, typ: str, window: float) -> dict:
    rows = [r for r in edges.to_pylist()
            if (r["account_a"], r["account_b"], r["type"], r["window"]) == (a, b, typ, window)]
    assert len(rows) == 1, rows
    return rows[0]


# -- known answers -----------------------------------------------------------------------


def test_known_answer_counts_and_delays():
    acts = actions([
        ("b", 0, "url", "u1"), ("a", 10, "url", "u1"), ("a", 20, "url", "u1"),
        ("a", 100, "url", "u2"), ("b", 160, "url", "u2"),  # 60 s: inclusive
        ("a", 300, "url", "u3"), ("b", 361, "url", "u3"),  # 61 s: outside
    ])
    e = coaction_edges(acts, DetectParams(windows=(60.0,), **NONE))
    r = one(e, "a", "b", "url", 60.0)
    assert r["n_keys"] == 2
    assert r["n_pairs"] == 3
    assert r["min_delay"] == 10.0
    assert r["median_delay"] == 20.0
    # rarity: both keys acted on by 2 accounts -> 2 / log2(3)
    assert r["weight"] == pytest.approx(2 / np.log2(3))
    assert np.isnan(r["p_value"]) and np.isnan(r["q_value"])


def test_min_keys_counts_distinct_keys_not_pairs():
    acts = actions([("a", i, "text", "t1") for i in range(5)] +
                   [("b", i, "text", "t1") for i in range(5)])
    assert coaction_edges(acts, DetectParams(windows=(60.0,), **NONE)).num_rows == 0
    e = coaction_edges(acts, DetectParams(windows=(60.0,), min_keys=1, **NONE))
    assert one(e, "a", "b", "text", 60.0)["n_pairs"] == 25


def test_wide_window_only_for_rare_content_of_wide_types():
    rows = [("a", 0, "text", "t1"), ("b", 1800, "text", "t1"),
            ("a", 5000, "text", "t2"), ("b", 7000, "text", "t2"),
            ("a", 0, "hashtag", "h1"), ("b", 1800, "hashtag", "h1"),
            ("a", 5000, "hashtag", "h2"), ("b", 7000, "hashtag", "h2")]
    p = DetectParams(windows=(60.0, 3600.0), episode_window=0.0, **NONE)
    assert {(e[2], e[3]) for e in edge_set(coaction_edges(actions(rows), p))} == {
        ("text", 3600.0)}
    # rare hashtag episodes get the episode window (6 h) instead (test_episode_window.py)
    assert {(e[2], e[3]) for e in edge_set(coaction_edges(actions(rows), p.replace(
        episode_window=6 * 3600.0)))} == {("text", 3600.0), ("hashtag", 6 * 3600.0)}
    # a popular text (more accounts than wide_max_accounts) is not used at the wide scale
    crowd = [(f"z{i}", 9000 + 900 * i, "text", "t1") for i in range(4)]
    p2 = DetectParams(windows=(60.0, 3600.0), wide_max_accounts=5, **NONE)
    e = coaction_edges(actions(rows + crowd), p2)
    assert ("a", "b", "text", 3600.0) not in edge_set(e)


def test_self_pairs_never_edges():
    acts = actions([("a", i, "repost", f"p{i % 3}") for i in range(30)])
    assert coaction_edges(acts, DetectParams(min_keys=1, **NONE)).num_rows == 0


def test_params_validation():
    with pytest.raises(ParameterError):
        DetectParams(window="sometimes")
    with pytest.raises(ParameterError):
        DetectParams(windows=())
    with pytest.raises(ParameterError):
        DetectParams(alpha=1.5)
    with pytest.raises(ParameterError):
        DetectParams(null="bayes")
    assert DetectParams(window=30).resolved_windows() == (30.0,)
    assert DetectParams(windows=(3600.0, 60.0, 60.0)).resolved_windows() == (60.0, 3600.0)
    assert DetectParams(window="auto").to_dict()["window"] == "auto"


def test_benjamini_hochberg_known_answer():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    q = benjamini_hochberg(p)
    assert q.tolist() == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    # a larger family (untested pairs have p = 1) only raises q-values
    assert (benjamini_hochberg(p, 100) >= q).all()


# -- calibration on simulated data ----------------------------------------------------------

def organic(n_acc: int = 300, n_keys: int = 3000, n_act: int = 20000, days: int = 7,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent accounts (lognormal activity) acting on Zipf-popular keys, daily rhythm."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_keys + 1)
    pop /= pop.sum()
    act = rng.lognormal(0, 1, n_acc)
    act /= act.sum()
    acc = rng.choice(n_acc, n_act, p=act)
    key = rng.choice(n_keys, n_act, p=pop)
    day = rng.integers(0, days, n_act)
    hour = rng.normal(14, 3, n_act) % 24
    return acc, key, (day * 86400 + hour * 3600).astype(np.int64)


def table(acc, key, t, typ="repost") -> pa.Table:
    return pa.table({
        "account_id": [f"u{a:05d}" for a in acc],
        "time": pa.array(np.asarray(t, dtype=np.int64) * 1_000_000).cast(pa.timestamp("us")),
        "type": [typ] * len(acc),
        "key": [f"k{k}" for k in key],
        "post_id": [f"p{i}" for i in range(len(acc))],
    })


def planted(n: int = 8, keys: int = 12, spread: int = 30, seed: int = 5):
    rng = np.random.default_rng(seed)
    acc, key, t = [], [], []
    for k in range(keys):
        t0 = int(rng.integers(0, 7 * 86400))
        for a in range(n):
            acc.append(90000 + a)
            key.append(10**6 + k)
            t.append(t0 + int(rng.integers(0, spread)))
    return np.array(acc), np.array(key), np.array(t)


@pytest.mark.parametrize("seed", [0, 1])
def test_calibration_on_organic_data(seed):
    acc, key, t = organic(seed=seed)
    st_: dict = {}
    p = DetectParams(types=("repost",), windows=(600.0,), alpha=1.0, min_keys=1)
    e = coaction_edges(table(acc, key, t), p, stats=st_)
    family = st_["family_size"]
    pv = e["p_value"].to_numpy()
    # every account pair is a test; pairs that never co-acted have p = 1
    assert (pv <= 0.05).sum() <= 0.05 * family
    assert (pv <= 0.01).sum() <= 0.01 * family * 1.5 + 5
    # p-values of co-acting pairs are super-uniform: P(p <= x) <= x over the family
    for x in (0.001, 0.01, 0.1, 0.5):
        assert (pv <= x).sum() <= x * family + 3 * np.sqrt(x * family) + 1
    kept = coaction_edges(table(acc, key, t), p.replace(alpha=0.05, min_keys=2))
    assert kept.num_rows <= 2


def test_poisson_expectation_matches_observed_total():
    # the configuration null's λ (in action pairs) summed over all pairs equals the
    # observed pair total
    acc, key, t = organic(n_acc=100, n_act=5000, seed=3)
    st_: dict = {}
    coaction_edges(table(acc, key, t), DetectParams(types=("repost",), windows=(600.0,),
                                                    alpha=1.0, min_keys=1, null_bouts=False),
                   stats=st_)
    layer = st_["layers"][0]
    assert layer["null_pairs"] >= layer["candidate_pairs"] > 0


def test_planted_coordination_found():
    acc, key, t = organic()
    pa_, pk, pt = planted()
    e = coaction_edges(table(np.r_[acc, pa_], np.r_[key, pk], np.r_[t, pt]),
                       DetectParams(types=("repost",)))
    planted_ids = {f"u{90000 + i:05d}" for i in range(8)}
    pairs = {(r["account_a"], r["account_b"]) for r in e.to_pylist() if r["window"] == 60.0}
    assert len(pairs) == 28  # all pairs of the 8 planted accounts
    assert {a for p in pairs for a in p} == planted_ids
    assert max(e["q_value"].to_pylist()) <= 0.05
    assert min(r["n_keys"] for r in e.to_pylist() if r["window"] == 60.0) == 12


def test_staggered_copies_found_only_by_wide_window():
    acc, key, t = organic()
    pa_, pk, pt = planted(spread=1500)  # copies staggered over 25 minutes
    e = coaction_edges(table(np.r_[acc, pa_], np.r_[key, pk], np.r_[t, pt], typ="text"),
                       DetectParams(types=("text",)))
    wide = {(r["account_a"], r["account_b"]) for r in e.to_pylist() if r["window"] == 3600.0}
    tight = {(r["account_a"], r["account_b"]) for r in e.to_pylist() if r["window"] == 60.0}
    assert len(wide) == 28
    assert len(tight) < 28


def test_breaking_news_burst_not_significant():
    # 200 organic accounts repost 3 viral posts within minutes of their publication
    rng = np.random.default_rng(2)
    acc, key, t = organic()
    va, vk, vt = [], [], []
    for k in range(3):
        t0 = int(rng.integers(0, 6 * 86400))
        for a in rng.choice(300, 200, replace=False):
            va.append(a)
            vk.append(5 * 10**6 + k)
            vt.append(t0 + int(rng.exponential(300)))
    e = coaction_edges(table(np.r_[acc, va], np.r_[key, vk], np.r_[t, vt]),
                       DetectParams(types=("repost",)))
    assert e.num_rows <= 5


# -- the shift null ---------------------------------------------------------------------


def test_shift_null_expectation_matches_real_shifts():
    acc, key, t = organic(n_acc=40, n_keys=60, n_act=1500, days=2, seed=4)
    tab = table(acc, key, t)
    runs = shift_null_counts(tab, "repost", 1800.0, shuffles=60, seed=1)
    mean_total = np.mean([sum(r.values()) for r in runs])
    # analytic: S * (2W + 1us) / T summed over pairs = all pairs on shared keys * fraction
    _, per_key = np.unique(key, return_counts=True)
    _, per_ak = np.unique(key * 1000 + acc, return_counts=True)
    s_total = ((per_key.astype(float) ** 2).sum() - (per_ak.astype(float) ** 2).sum()) / 2
    span = (t.max() - t.min()) * 1e6 + 1
    expected = s_total * (2 * 1800e6 + 1) / span
    assert mean_total == pytest.approx(expected, rel=0.05)
    # and it runs under the shift null end to end
    e = coaction_edges(tab, DetectParams(types=("repost",), null="shift", alpha=1.0))
    assert np.all((e["p_value"].to_numpy() >= 0) & (e["p_value"].to_numpy() <= 1))


# -- the popular-key cap ------------------------------------------------------------------


def test_cap_is_reported_and_keeps_rare_keys():
    rows = [(f"v{i}", i % 50, "repost", "viral") for i in range(200)]
    rows += [("a", 0, "repost", "r1"), ("b", 1, "repost", "r1"),
             ("a", 100, "repost", "r2"), ("b", 101, "repost", "r2"),
             ("a", 3, "repost", "viral")]
    st_: dict = {}
    e = coaction_edges(actions(rows), DetectParams(windows=(60.0,), max_pairs=10, min_keys=1,
                                                   **NONE), stats=st_)
    layer = st_["layers"][0]
    assert layer["capped_keys"] == 1
    assert layer["cap_accounts_per_key"] == 2
    assert edge_set(e) == {("a", "b", "repost", 60.0)}


# -- auto window ----------------------------------------------------------------------------


def test_auto_window_finds_the_planted_scale():
    rng = np.random.default_rng(7)
    n = 4000
    key = rng.integers(0, 400, n)
    acct = rng.integers(0, 200, n).astype(np.int32)
    t = rng.integers(0, 14 * 86400, n) * 1_000_000
    # 60 groups of 6 accounts hitting a key within ~3 minutes
    k2, a2, t2 = [], [], []
    for g in range(60):
        t0 = int(rng.integers(0, 14 * 86400))
        for a in range(6):
            k2.append(1000 + g)
            a2.append(300 + a)
            t2.append((t0 + int(rng.integers(0, 180))) * 1_000_000)
    w, curve = choose_window(np.r_[key, k2].astype(np.int64), np.r_[t, t2].astype(np.int64),
                             np.r_[acct, a2].astype(np.int32))
    assert 60.0 <= w <= 600.0
    assert len(curve) == 10
    e = coaction_edges(table(np.r_[acct, a2], np.r_[key, k2], np.r_[t, t2] // 1_000_000),
                       DetectParams(types=("repost",), window="auto"), stats=(st_ := {}))
    assert st_["windows"]["repost"][0] == w
    assert e.num_rows >= 15


# -- invariants (Hypothesis) --------------------------------------------------------------

rows_strategy = st.lists(
    st.tuples(st.sampled_from("abcdef"), st.integers(0, 600), st.sampled_from(
        ["repost", "hashtag"]), st.sampled_from(["k1", "k2", "k3", "k4"])),
    min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.integers(1, 3), st.sampled_from([0.0, 0.01, 0.2, 1.0]),
       st.integers(0, 120))
def test_invariants(rows, min_keys, alpha, w):
    acts = actions(rows)
    base = DetectParams(windows=(float(w),), min_keys=min_keys, alpha=alpha)
    e = coaction_edges(acts, base)
    got = {x[:3] for x in edge_set(e)}
    # raising min keys or lowering alpha never adds edges
    assert {x[:3] for x in edge_set(coaction_edges(acts, base.replace(
        min_keys=min_keys + 1)))} <= got
    assert {x[:3] for x in edge_set(coaction_edges(acts, base.replace(
        alpha=alpha / 2)))} <= got
    # without the null model, shrinking the window never adds edges
    raw = DetectParams(windows=(float(w),), min_keys=min_keys, null="none")
    raw_set = {x[:3] for x in edge_set(coaction_edges(acts, raw))}
    assert got <= raw_set
    assert {x[:3] for x in edge_set(coaction_edges(acts, raw.replace(
        windows=(w / 2,))))} <= raw_set
    # row order does not matter; edges are symmetric (one row per unordered pair)
    rev = actions(rows[::-1])
    assert edge_set(coaction_edges(rev, base)) == edge_set(e)
    for r in e.to_pylist():
        assert r["account_a"] < r["account_b"]
        assert r["n_keys"] >= min_keys
        assert r["n_pairs"] >= r["n_keys"]
        assert 0 <= r["min_delay"] <= r["median_delay"] <= r["window"]
        assert r["q_value"] >= r["p_value"]


@settings(max_examples=40, deadline=None)
@given(rows_strategy, st.integers(0, 120))
def test_matches_brute_force(rows, w):
    e = coaction_edges(actions(rows), DetectParams(windows=(float(w),), min_keys=1,
                                                   null="none", episode_window=0.0,
                                                   event_types=()))
    exp: dict[tuple[str, str, str], set[str]] = {}
    for i, (a, ta, ty, k) in enumerate(rows):
        for b, tb, ty2, k2 in rows[i + 1:]:
            if ty == ty2 and k == k2 and a != b and abs(ta - tb) <= w:
                exp.setdefault((min(a, b), max(a, b), ty), set()).add(k)
    got = {(r["account_a"], r["account_b"], r["type"]): r["n_keys"] for r in e.to_pylist()}
    assert got == {k: len(v) for k, v in exp.items()}


# -- workspace stage ------------------------------------------------------------------------


def test_detect_edges_workspace_and_run_log():
    acts = actions([("a", 0, "repost", "p1"), ("b", 2, "repost", "p1"),
                    ("a", 50, "repost", "p2"), ("b", 52, "repost", "p2")])
    with Workspace(":memory:") as ws:
        ws.append("actions", acts)
        e = detect_edges(ws, DetectParams(windows=(60.0,), null="none"))
        assert e.num_rows == 1 == ws.count("edges")
        assert ws.table("edges").schema.equals(schema.TABLES["edges"].schema)
        run = ws.runs()[-1]
        assert run["command"] == "detect-edges"
        assert run["counts"]["edges"] == 1
        assert run["counts"]["detect"]["layers"][0]["type"] == "repost"
        assert run["params"]["detect"]["null"] == "none"


def test_ks_uniformity_of_shift_free_layer_pvalues_is_super_uniform():
    # KS against uniform over the whole family (untested pairs p = 1): loose bound
    acc, key, t = organic(seed=9)
    st_: dict = {}
    e = coaction_edges(table(acc, key, t), DetectParams(types=("repost",), windows=(600.0,),
                                                        alpha=1.0, min_keys=1), stats=st_)
    pv = np.r_[e["p_value"].to_numpy(), np.ones(st_["family_size"] - e.num_rows)]
    # one-sided: the CDF never rises above uniform by more than the KS tolerance
    res = sstats.kstest(pv, "uniform", alternative="greater")
    assert res.pvalue > 0.01


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 200), st.integers(0, 4)),
                max_size=40), st.integers(0, 100))
def test_sweep_pair_events_codes_match_sweep_pairs(rows, w):
    from echoscope.detect.kernel import sort_actions, sweep_pair_events, sweep_pairs

    key = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    acct = np.array([r[2] for r in rows], dtype=np.int32)
    o = sort_actions(key, t, acct)
    key, t, acct = key[o], t[o], acct[o]
    ii, jj = sweep_pairs(key, t, acct, w)
    code, pkey, delay, _event = sweep_pair_events(key, t, acct, w, 5)
    lo = np.minimum(acct[ii], acct[jj]).astype(np.int64)
    hi = np.maximum(acct[ii], acct[jj]).astype(np.int64)
    assert code.tolist() == (lo * 5 + hi).tolist()
    assert pkey.tolist() == key[ii].tolist()
    assert delay.tolist() == (t[jj] - t[ii]).tolist()


def test_one_huge_key_is_pruned_exactly_without_the_cap():
    # DESIGN.md's hard case: 20,000 accounts act on one key inside one window
    # (2 x 10^8 candidate pairs) — exact pruning removes it before any pair is built
    n = 20_000
    rows = table(np.arange(n), np.zeros(n, dtype=np.int64), np.arange(n) % 50)
    extra = actions([("a", 0, "repost", "r1"), ("b", 1, "repost", "r1"),
                     ("a", 100, "repost", "r2"), ("b", 101, "repost", "r2")])
    st_: dict = {}
    e = coaction_edges(pa.concat_tables([rows, extra]),
                       DetectParams(windows=(60.0,), null="none"), stats=st_)
    layer = st_["layers"][0]
    assert layer["candidate_pairs"] == 2
    assert layer["capped_keys"] == 0
    assert edge_set(e) == {("a", "b", "repost", 60.0)}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 200), st.integers(0, 4)),
                max_size=40), st.integers(0, 100))
def test_pairs_per_key_matches_the_sweep(rows, w):
    from echoscope.detect.coaction import pairs_per_key
    from echoscope.detect.kernel import sort_actions, sweep_pairs

    key = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    acct = np.array([r[2] for r in rows], dtype=np.int32)
    o = sort_actions(key, t, acct)
    key, t, acct = key[o], t[o], acct[o]
    ii, _ = sweep_pairs(key, t, acct, w)
    expected = np.bincount(key[ii], minlength=4)
    assert pairs_per_key(key, t, acct, w, 4).tolist() == expected.astype(float).tolist()


def test_campaign_that_fills_its_popularity_stratum_is_still_found():
    # the planted keys are the only ones with 8 accounts: the campaign alone makes up its
    # stratum, and must not define its own null
    acc, key, t = organic(n_acc=100, n_keys=2000, n_act=1500)
    pa_, pk, pt = planted(n=8, keys=12)
    e = coaction_edges(table(np.r_[acc, pa_], np.r_[key, pk], np.r_[t, pt]),
                       DetectParams(types=("repost",), windows=(60.0,)))
    assert e.num_rows == 28


def test_episode_keys_split_a_key_at_long_pauses_only():
    from echoscope.detect.coaction import episode_keys

    t0 = 1_700_000_000
    rows = [("a", t0, "hashtag", "x"), ("b", t0 + 3000, "hashtag", "x"),
            ("a", t0 + 86400, "hashtag", "x"), ("c", t0 + 86400 + 30, "hashtag", "x"),
            ("d", t0 + 5, "url", "x"), ("e", t0, "hashtag", "y")]
    tab = pa.table({
        "account_id": [r[0] for r in rows],
        "time": pa.array([r[1] * 1_000_000 for r in rows]).cast(pa.timestamp("us")),
        "type": [r[2] for r in rows], "key": [r[3] for r in rows],
        "post_id": [f"p{i}" for i in range(len(rows))]})
    keys = episode_keys(tab, ("hashtag",), 6 * 3600.0)["key"].to_pylist()
    assert keys[0] == keys[1] != keys[2] == keys[3]
    assert keys[0].startswith("x@") and keys[4] == "x" and keys[5].startswith("y@")
    # row order does not matter
    perm = [5, 3, 1, 0, 4, 2]
    again = episode_keys(tab.take(perm), ("hashtag",), 6 * 3600.0)["key"].to_pylist()
    assert again == [keys[i] for i in perm]
    # a hashtag stormed on two days by the same crew is two keys
    crew = pa.table({
        "account_id": ["a", "b", "a", "b"],
        "time": pa.array([t0 * 10**6, (t0 + 20) * 10**6, (t0 + 86400) * 10**6,
                          (t0 + 86410) * 10**6]).cast(pa.timestamp("us")),
        "type": ["hashtag"] * 4, "key": ["x"] * 4, "post_id": ["q1", "q2", "q3", "q4"]})
    p = DetectParams(types=("hashtag",), alpha=1.0, min_keys=1, episode_window=0.0)
    assert coaction_edges(crew, p)["n_keys"].to_pylist() == [2]
    assert coaction_edges(crew, p.replace(episode_types=()))["n_keys"].to_pylist() == [1]


def test_campaign_alone_in_its_stratum_does_not_set_its_own_null():
    # organic accounts post only texts of their own (no shared content); 8 accounts post 5
    # identical texts each, every text by 5-7 of them within 30 s: the planted keys are the
    # only keys of their popularity, and the members' one-key pairs used to set the rate
    rng = np.random.default_rng(4)
    acc = list(rng.integers(0, 300, 4000))
    key = list(range(100, 4100))
    t = list(rng.integers(0, 7 * 86400, 4000))
    for k in range(5):
        t0 = int(rng.integers(0, 7 * 86400))
        who = rng.choice(8, int(rng.integers(5, 8)), replace=False)
        for a in who:
            acc.append(1000 + int(a))
            key.append(k)
            t.append(t0 + int(rng.integers(0, 30)))
    e = coaction_edges(table(np.array(acc), np.array(key), np.array(t), typ="text"),
                       DetectParams(types=("text",), windows=(60.0,), alpha=1.0))
    pv = [r["p_value"] for r in e.to_pylist()
          if r["account_a"] >= "u01000" and r["account_b"] >= "u01000" and r["n_keys"] >= 3]
    assert pv and max(pv) < 1e-3
