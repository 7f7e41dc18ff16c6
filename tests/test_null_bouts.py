"""The configuration null counted in bouts (DetectParams.null_bouts, the default).

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
from echoscope.detect.coaction import _Layer, _layer_edges
from echoscope.detect.null import bout_pairs_per_key, bouts, pair_bout_pairs
from echoscope.errors import ParameterError
from test_detect import organic, planted, table

#: actions as (key 0-2, time 0-300, account 0-3) rows, and a window
ROWS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 300), st.integers(0, 3)),
                max_size=30)
WINDOW = st.integers(0, 60)


def _arrays(rows: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """key, time and account arrays of ``ROWS``."""
    return (np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.int64),
            np.array([r[2] for r in rows], dtype=np.int32))


@settings(max_examples=200, deadline=None)
@given(ROWS, WINDOW)
def test_bout_pairs_match_brute_force(rows: list[tuple[int, int, int]], w: int) -> None:
    key, t, acct = _arrays(rows)
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
    p = DetectParams(types=("repost",), windows=(60.0,), alpha=1.0, null_bouts=False)
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
    p = DetectParams(types=("repost",), windows=(60.0,), alpha=1.0, null_bouts=False)
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


def _brute_pair_bouts(bk, ba, bs, be, a: int, b: int, k: int, w: int) -> int:
    ia = [i for i in range(bk.size) if bk[i] == k and ba[i] == a]
    ib = [j for j in range(bk.size) if bk[j] == k and ba[j] == b]
    return sum(1 for i in ia for j in ib if bs[j] - be[i] <= w and bs[i] - be[j] <= w)


@settings(max_examples=200, deadline=None)
@given(ROWS, WINDOW)
def test_pair_bout_pairs_match_brute_force(rows: list[tuple[int, int, int]], w: int) -> None:
    key, t, acct = _arrays(rows)
    bts = bouts(key, t, acct, w)
    q = [(a, b, k) for a in range(4) for b in range(4) if a != b for k in range(3)]
    qa, qb, qk = (np.array(c, dtype=np.int64) for c in zip(*q, strict=True))
    got = pair_bout_pairs(bts, qa, qb, qk, w, 4)
    assert got.tolist() == [_brute_pair_bouts(*bts, a, b, k, w) for a, b, k in q]
    # summed over account pairs (a < b), the per-key co-acting bout pairs
    per_key = bout_pairs_per_key(bts[0], bts[2], bts[3], w, 3)
    lower = qa < qb
    assert np.bincount(qk[lower], weights=got[lower], minlength=3).tolist() == \
        per_key.tolist()


def test_own_coaction_counted_in_bouts():
    # a crew acting on each of its keys in two bursts 20 minutes apart: each member pair
    # co-acts in two bout pairs per key, and leaving the pair's own co-action out of the
    # rate constants must leave out both (one per key left the crew's own co-action in
    # its stratum's rate: the 3M storm's recall fell 0.874 -> 0.754)
    rng = np.random.default_rng(1)
    acc, key, t = organic(n_acc=150, n_keys=2000, n_act=3000, seed=1)
    ca, ck, ct = [], [], []
    for k in range(6):
        for burst in (0, 1200):
            t0 = k * 86400 + 10 * 3600 + burst
            for a in range(10):
                for _ in range(3):
                    ca.append(90000 + a)
                    ck.append(10**6 + k)
                    ct.append(t0 + int(rng.integers(0, 120)))
    acc, key, t = np.r_[acc, ca], np.r_[key, ck], np.r_[t, ct] * 1_000_000
    w = 60_000_000
    acct = acc.astype(np.int32)
    p = DetectParams(types=("repost",), windows=(60.0,), alpha=1.0, null_bouts=True)
    cols, _ = _layer_edges(_Layer("repost", 60.0, key.astype(np.int64), t.astype(np.int64),
                                  acct, int(acct.max()) + 1), p, {})
    bts = bouts(key.astype(np.int64), t.astype(np.int64), acct, w)
    crew = (cols["a"] >= 90000) & (cols["b"] >= 90000)
    assert crew.sum() == 45
    own = cols["null"]["own"].sum(axis=1)
    for i in np.flatnonzero(crew):
        a, b = int(cols["a"][i]), int(cols["b"][i])
        expect = sum(_brute_pair_bouts(*bts, a, b, 10**6 + k, w) for k in range(6))
        assert expect >= 12  # two bursts on each of the six keys
        assert own[i] == expect
