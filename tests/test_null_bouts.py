"""The configuration null counted in bouts (DetectParams.null_bouts, opt-in).

An edge counts distinct keys; the default null counts co-acting *action* pairs. A crew
whose members post one tag many times within minutes (the 10M simulated storm: ~18 posts
each in 12 minutes) has an expectation of hundreds of action pairs against a handful of
shared keys, and is never significant. In bouts (an account's actions on one key with
gaps of at most W count once) the expectation is in the statistic's unit.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.detect import DetectParams, coaction_edges
from echoscope.detect.null import bout_pairs_per_key, bouts
from echoscope.errors import ParameterError
from test_detect import organic, planted, table


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 300), st.integers(0, 3)),
                max_size=30), st.integers(0, 60))
def test_bout_pairs_match_brute_force(rows: list[tuple[int, int, int]], w: int) -> None:
    key = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    acct = np.array([r[2] for r in rows], dtype=np.int32)
    bk, ba, bs, be = bouts(key, t, acct, w)
    got = bout_pairs_per_key(bk, bs, be, w, 3)
    # each action's bout, then bout pairs with an action pair within w
    which = [next(j for j in range(bk.size) if bk[j] == key[i] and ba[j] == acct[i]
                  and bs[j] <= t[i] <= be[j]) for i in range(key.size)]
    pairs = {tuple(sorted((which[i], which[j]))) for i, j in itertools.product(
        range(key.size), repeat=2)
        if key[i] == key[j] and acct[i] != acct[j] and abs(int(t[i]) - int(t[j])) <= w}
    expected = np.bincount([bk[a] for a, _ in pairs], minlength=3).astype(float)
    assert got.tolist() == expected.tolist()
    # bouts partition the actions: same-account gaps inside a bout are at most w
    assert sum(1 for _ in which) == key.size


def test_identical_to_action_counts_without_repeats():
    # organic data where no account acts on a key twice within the window: same edges
    acc, key, t = organic(n_acc=120, n_keys=3000, n_act=2000, seed=3)
    pa_, pk, pt = planted(n=8, keys=12)
    acts = table(np.r_[acc, pa_], np.r_[key, pk], np.r_[t, pt])
    p = DetectParams(types=("repost",), windows=(60.0,), alpha=1.0)
    a = coaction_edges(acts, p)
    b = coaction_edges(acts, p.replace(null_bouts=True))
    assert a.num_rows > 0
    assert a.column("p_value").to_pylist() == pytest.approx(b.column("p_value").to_pylist())
    assert a.select(["account_a", "account_b", "n_keys"]).equals(
        b.select(["account_a", "account_b", "n_keys"]))


def storm_crew(seed: int = 0):
    """Organic background (one action per account and key) and a crew of 30 accounts
    posting their own tag 15 times each within 10 minutes, on 6 days; 10 of them take
    part on one day only (not candidates), as low-participation members do."""
    rng = np.random.default_rng(seed)
    acc, key, t = organic(n_acc=300, n_keys=3000, n_act=8000, seed=seed)
    ca, ck, ct = [], [], []
    for d in range(6):
        t0 = d * 86400 + 18 * 3600
        crew = list(range(20)) + ([20 + d] if d < 6 else [])
        crew += list(range(26, 30)) if d == 0 else []
        for a in crew:
            for _ in range(15):
                ca.append(90000 + a)
                ck.append(10**6 + d)
                ct.append(t0 + int(rng.integers(0, 600)))
    return table(np.r_[acc, ca], np.r_[key, ck], np.r_[t, ct])


def test_storm_crew_tied_in_bouts_not_in_action_pairs():
    # the campaign stage ties pairs at p <= 0.1: in action pairs the crew's pairs, sharing
    # all six days, get p ~ 1; in bouts below 0.05 (median 2e-3)
    acts = storm_crew()
    p = DetectParams(types=("repost",), windows=(60.0,), alpha=1.0)
    core = {f"u{90000 + a:05d}" for a in range(20)}

    def inside(e):
        return [r for r in e.to_pylist() if r["account_a"] in core and r["account_b"] in core]

    before = inside(coaction_edges(acts, p))
    after = inside(coaction_edges(acts, p.replace(null_bouts=True)))
    assert len(before) == len(after) == 20 * 19 // 2
    assert all(r["n_keys"] == 6 for r in after)
    assert min(r["p_value"] for r in before) > 0.5
    assert max(r["p_value"] for r in after) < 0.05


def test_needs_popularity_strata_only():
    with pytest.raises(ParameterError, match="null_bouts"):
        DetectParams(null_bouts=True, time_classes=6)


def test_spark_engine_refuses_bouts():
    pytest.importorskip("pyspark")
    from echoscope.engines.spark import edges_from_actions

    with pytest.raises(ParameterError, match="null_bouts"):
        edges_from_actions(object(), DetectParams(null_bouts=True))  # type: ignore[arg-type]
