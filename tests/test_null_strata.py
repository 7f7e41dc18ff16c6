"""Thin popularity strata of the configuration null merged downwards (null.merge_thin_strata)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.detect import DetectParams
from echoscope.detect.kernel import sort_actions
from echoscope.detect.null import configuration_strata, merge_thin_strata


def test_merge_known_answer() -> None:
    # popularity strata floor(log2(n)): 1,1 -> 0; 2,3 -> 1; 4 -> 2; 8,9 -> 3; 0 = unused key
    n = np.array([1, 1, 2, 3, 4, 8, 9, 0], dtype=np.int64)
    assert merge_thin_strata(n, 0).tolist() == [0, 0, 1, 1, 2, 3, 3, 0]
    assert merge_thin_strata(n, 1).tolist() == [0, 0, 1, 1, 2, 3, 3, 0]
    # stratum 2 holds one key: merged into stratum 1
    assert merge_thin_strata(n, 2).tolist() == [0, 0, 1, 1, 1, 3, 3, 0]
    # top down: 3 (2 keys) into 2 (now 3 keys, kept); 1 (2 keys) into 0
    assert merge_thin_strata(n, 3).tolist() == [0, 0, 0, 0, 2, 2, 2, 0]
    # the lowest stratum is never merged away
    assert merge_thin_strata(n, 100).tolist() == [0] * 8


def test_merge_empty() -> None:
    assert merge_thin_strata(np.zeros(0, dtype=np.int64), 20).tolist() == []
    assert merge_thin_strata(np.zeros(3, dtype=np.int64), 20).tolist() == [0, 0, 0]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3000), min_size=1, max_size=80), st.integers(0, 30))
def test_merge_invariants(n_list: list[int], k: int) -> None:
    n = np.array(n_list, dtype=np.int64)
    base = merge_thin_strata(n, 0)
    out = merge_thin_strata(n, k)
    # never raises a stratum, keeps the order of popularity
    assert (out <= base).all()
    o = np.argsort(base, kind="stable")
    assert (np.diff(out[o]) >= 0).all()
    # every stratum above the lowest used one holds at least k keys
    used = out[n > 0]
    if used.size:
        s, c = np.unique(used, return_counts=True)
        assert (c[s > s.min()] >= k).all()


def _layer(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n_keys, n_acct, n = 60, 40, 600
    key = rng.zipf(1.6, n) % n_keys
    acct = rng.integers(0, n_acct, n).astype(np.int32)
    t = rng.integers(0, 3600, n).astype(np.int64)
    key = key.astype(np.int64)
    o = sort_actions(key, t, acct)
    key, t, acct = key[o], t[o], acct[o]
    n_acc = np.array([np.unique(acct[key == k]).size for k in range(n_keys)], dtype=np.int64)
    return key, t, acct, n_acc, n_acct


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 40))
def test_configuration_strata_merged_totals(seed: int, k: int) -> None:
    key, t, acct, n_acc, n_acct = _layer(seed)
    c0, ks0, p0, d0 = configuration_strata(key, t, acct, 60, n_acc, n_acct)
    c1, ks1, p1, d1 = configuration_strata(key, t, acct, 60, n_acc, n_acct,
                                           min_stratum_keys=k)
    # merging only pools strata: every action and every co-acting pair is still counted
    assert np.allclose(c1.sum(axis=1), c0.sum(axis=1))
    assert np.isclose(p1.sum(), p0.sum())
    assert p1.size <= p0.size
    # the pooled stratum's counts are the sums of the strata it pools
    for s in range(p1.size):
        olds = np.unique(ks0[ks1 == s])
        assert np.isclose(p1[s], p0[olds].sum())
        assert np.allclose(c1[:, s], c0[:, olds].sum(axis=1))
    if k <= 1:
        assert np.array_equal(ks0, ks1) and np.allclose(d0, d1)


def test_param_declared_and_recorded() -> None:
    assert DetectParams().min_stratum_keys == 0  # off: lowered precision at 3M posts
    assert DetectParams(min_stratum_keys=0).to_dict()["min_stratum_keys"] == 0


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 300), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_expected_coactions_same_bits_whatever_the_layout(n: int, k: int, seed: int) -> None:
    """The expectation ab @ rate, summed stratum by stratum: the same bits for the same
    numbers in an unaligned, a Fortran-ordered or a strided copy (a BLAS product may sum in
    another order depending on layout and threads), and equal to the product up to
    rounding."""
    from echoscope.detect.null import expected_coactions

    rng = np.random.default_rng(seed)
    ab = rng.integers(0, 1000, (n, k)).astype(np.float64)
    rate = rng.random(k) / 7.0
    want = expected_coactions(ab, rate)
    raw = np.empty(n * k + 1, dtype=np.float64)[1:].reshape(n, k)  # 8-byte offset
    raw[...] = ab
    wide = np.zeros((n, 2 * k))
    wide[:, ::2] = ab
    for other in (raw, np.asfortranarray(ab), wide[:, ::2]):
        assert expected_coactions(other, rate).tobytes() == want.tobytes()
    np.testing.assert_allclose(want, ab @ rate, rtol=1e-12)
