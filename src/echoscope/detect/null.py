"""Null models of co-action and the false-discovery rate (default mode).

* the stratified configuration null (:func:`configuration_strata`, :func:`robust_rates`):
  expected co-acting pairs of two accounts from their activity per popularity stratum,
  with rate constants estimated without the candidate pairs;
* the random circular shift null: its exact expectation (:func:`shift_shared`) and real
  seeded shifts to check it (:func:`shift_null_counts`);
* :func:`pairs_per_key` (co-acting pairs per key in O(n log n)), :func:`poisson_tail`,
  :func:`benjamini_hochberg`;
* the account-level test (:func:`chance_partners`, :func:`account_excess`): how many
  partners each account would reach ``min_keys`` shared keys with by chance, against how
  many it did.

docs/methods.md ("Significance") explains the models and their caveats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit
from scipy import special

from echoscope import schema
from echoscope.detect._util import F64, I32, I64, US, encode, times_us
from echoscope.detect.kernel import sort_actions, sweep_pairs

__all__ = [
    "account_excess",
    "benjamini_hochberg",
    "bout_pairs_per_key",
    "bout_strata",
    "bouts",
    "chance_partners",
    "configuration_strata",
    "heavy_accounts",
    "layer_rate",
    "merge_thin_strata",
    "pair_bout_pairs",
    "pairs_per_key",
    "poisson_tail",
    "rates",
    "robust_rates",
    "shift_null_counts",
    "shift_shared",
    "thin_strata_remap",
    "time_class",
]


def benjamini_hochberg(p: F64, m: int | None = None) -> F64:
    """Benjamini-Hochberg q-values of ``p`` within a family of ``m >= len(p)`` tests.

    Tests outside ``p`` (pairs that never co-acted) have p = 1 and so never change a
    q-value except through ``m``.
    """
    p = np.asarray(p, dtype=np.float64)
    n = p.size
    m = n if m is None else max(int(m), n)
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n, dtype=np.float64)
    out[order] = np.minimum(q, 1.0)
    return out


def poisson_tail(nk: F64, lam: F64) -> F64:
    """P(X >= nk) for X ~ Poisson(lam)."""
    return np.where(lam > 0, special.pdtrc(nk - 1.0, np.maximum(lam, 1e-300)), 0.0)


@njit(cache=True, nogil=True)
def _later_within(group: I64, t: I64, window: int) -> I64:  # pragma: no cover
    """For rows sorted by (group, time): how many later rows of the group are within W."""
    n = group.shape[0]
    out = np.zeros(n, dtype=np.int64)
    hi = 0
    for i in range(n):
        if hi < i + 1:
            hi = i + 1
        while hi < n and group[hi] == group[i] and t[hi] - t[i] <= window:
            hi += 1
        out[i] = hi - i - 1
    return out


def pairs_per_key(key: I64, t: I64, acct: I32, w: int, n_keys: int) -> F64:
    """Co-action pairs (different accounts, ``|Δt| <= W``) per key, in O(n log n).

    All pairs within the window minus the pairs of the same account, each counted with
    a two-pointer pass — never pair by pair, so a key of 20,000 accounts in one window is
    cheap. Input sorted by (key, time, account).
    """
    if key.size == 0:
        return np.zeros(n_keys, dtype=np.float64)
    allp = np.asarray(_later_within(key, t, w)).astype(np.float64)
    m = int(acct.max()) + 1
    grp = key * m + acct.astype(np.int64)
    o = np.lexsort((t, grp))
    same = np.asarray(_later_within(grp[o], t[o], w)).astype(np.float64)
    total = np.bincount(key, weights=allp, minlength=n_keys).astype(np.float64)
    return total - np.bincount(key[o], weights=same, minlength=n_keys).astype(np.float64)


def rates(pairs: F64, denom: F64) -> F64:
    return np.divide(np.maximum(pairs, 0.0), denom, out=np.zeros(pairs.size),
                     where=denom > 0)


def expected_coactions(ab: F64, rate: F64) -> F64:
    """``ab @ rate`` (each pair's expected co-actions: Σ_s ab[:, s] · rate[s]), summed
    stratum by stratum in a fixed order. A BLAS product may sum in another order from one
    run to the next (its kernels split rows among threads and handle aligned and unaligned
    blocks differently), which changed the last digit of a weight between the engines
    once; element-wise steps give the same bits every time."""
    out = np.zeros(ab.shape[0], dtype=np.float64)
    for s in range(ab.shape[1] if ab.ndim == 2 else 0):
        out += ab[:, s] * rate[s]
    return out


def time_class(key: I64, acct: I32, per_key: F64, n_keys: int, classes: int) -> I64:
    """Each key's class of time concentration: the share ``q_k`` of its pairs of different
    accounts' actions that fall within the window, in factors of 4 (class 0: q > 1/4,
    1: q in (1/16, 1/4], ...; the last class: no pair within the window, or no pair).
    A breaking story reposted by hundreds within minutes has q near 1; a hashtag in use
    all week, the same popularity, a small q."""
    if classes <= 1 or key.size == 0:
        return np.zeros(n_keys, dtype=np.int64)
    m = np.bincount(key, minlength=n_keys).astype(np.float64)
    na = int(acct.max()) + 1
    _, inv, cnt = np.unique(key * na + acct.astype(np.int64), return_inverse=True,
                            return_counts=True)
    first = np.zeros(cnt.size, dtype=np.int64)
    first[inv] = key
    same = np.bincount(first, weights=cnt.astype(np.float64) ** 2, minlength=n_keys)
    allp = (m * m - same) / 2.0
    q = np.divide(per_key, allp, out=np.zeros(n_keys), where=allp > 0)
    cls = np.full(n_keys, classes - 1, dtype=np.int64)
    pos = q > 0
    cls[pos] = np.clip(np.floor(-np.log2(np.minimum(q[pos], 1.0)) / 2.0), 0,
                       classes - 2).astype(np.int64)
    return cls


def merge_thin_strata(n_acc_key: I64, min_keys: int) -> I64:
    """Each key's popularity stratum ``floor(log2(accounts acting on it))``, with strata
    holding fewer than ``min_keys`` keys (of those acted on) merged into the next lower
    one, top down: a stratum of five keys cannot say how often accounts acting on keys
    that popular co-act by chance, and a small campaign's few keys would set their own
    stratum's rate. ``min_keys <= 1`` merges nothing. The lowest stratum is never merged.
    Keys nobody acted on keep stratum 0."""
    pop = np.floor(np.log2(np.maximum(n_acc_key, 1))).astype(np.int64)
    if min_keys <= 1 or pop.size == 0:
        return pop
    present = n_acc_key > 0
    n_str = int(pop[present].max()) + 1 if present.any() else 1
    remap = thin_strata_remap(np.bincount(pop[present], minlength=n_str), min_keys)
    out: I64 = remap[np.minimum(pop, n_str - 1)]
    return out


def thin_strata_remap(keys_per_level: I64, min_keys: int) -> I64:
    """The rule of :func:`merge_thin_strata` on a histogram: ``keys_per_level[s]`` keys
    at popularity level ``s``; returns each level's stratum after merging (the Spark
    engine counts the keys per level in Spark and calls this on the driver)."""
    nkeys = np.asarray(keys_per_level, dtype=np.int64).copy()
    remap = np.arange(nkeys.size, dtype=np.int64)
    if min_keys <= 1:
        return remap
    for s in range(nkeys.size - 1, 0, -1):
        if nkeys[s] < min_keys:
            nkeys[s - 1] += nkeys[s]
            nkeys[s] = 0
            remap[remap == s] = s - 1
    return remap


def configuration_strata(key: I64, t: I64, acct: I32, w: int, n_acc_key: I64,
                         n_acct: int, time_classes: int = 1, min_stratum_keys: int = 0
                         ) -> tuple[F64, I64, F64, F64]:
    """Per-account actions per stratum, each key's stratum, and per stratum the co-acting
    pairs ``P_s`` and ``D_s = Σ_{a<b} n_a(s) n_b(s)`` (so ``C_s = P_s / D_s``).

    Keys are stratified by popularity (``floor(log2(accounts acting on the key))``), so an
    account that spends most of its few actions on viral posts is compared with what
    viral posts give, not with the layer average; with ``time_classes > 1`` also by their
    own time concentration (:func:`time_class`), so an account that uses hashtags while
    they trend is compared with what trending hashtags give, not with hashtags of the same
    popularity spread over weeks. ``λ_ab = Σ_s n_a(s) n_b(s) C_s``. Popularity strata
    of fewer than ``min_stratum_keys`` keys are merged downwards (:func:`merge_thin_strata`).
    """
    per_key = pairs_per_key(key, t, acct, w, n_acc_key.size)
    pop = merge_thin_strata(n_acc_key, min_stratum_keys)
    cls = time_class(key, acct, per_key, n_acc_key.size, time_classes)
    if time_classes <= 1:
        # the popularity level itself (0 .. highest level), as the Spark engine numbers
        # strata: the same strata in the same order, so λ sums in the same order
        key_stratum = np.asarray(pop, dtype=np.int64).reshape(-1)
    else:
        _, key_stratum = np.unique(pop * time_classes + cls, return_inverse=True)
        key_stratum = key_stratum.astype(np.int64).reshape(-1)
    counts, pairs, denom = _tally(key_stratum, per_key, key, acct, n_acct)
    return counts, key_stratum, pairs, denom


def _tally(key_stratum: I64, per_key: F64, key: I64, acct: npt.NDArray[np.integer[Any]],
           n_acct: int) -> tuple[F64, F64, F64]:
    """Per stratum: each account's rows (``key``, ``acct``: actions or bouts), the
    co-acting pairs (``per_key`` summed) and :func:`pair_denominator`."""
    n_str = int(key_stratum.max()) + 1 if key_stratum.size else 1
    pairs = np.bincount(key_stratum, weights=per_key, minlength=n_str)[:n_str]
    counts = np.bincount(acct.astype(np.int64) * n_str + key_stratum[key],
                         minlength=n_acct * n_str).astype(np.float64).reshape(n_acct, n_str)
    return counts, pairs.astype(np.float64), pair_denominator(counts)


def pair_denominator(counts: F64) -> F64:
    """Per stratum ``Σ_{a<b} n_a(s) n_b(s)`` over pairs of distinct accounts (rows of
    ``counts``, one column per stratum)."""
    m = counts.sum(axis=0)
    out: F64 = (m * m - (counts * counts).sum(axis=0)) / 2.0
    return out


@njit(cache=True, nogil=True)
def _bout_marks(key: I64, acct: I64, t: I64, window: int) -> npt.NDArray[np.bool_]:  # pragma: no cover
    """Rows sorted by (key, account, time): True where a new bout starts."""
    n = key.shape[0]
    new = np.ones(n, dtype=np.bool_)
    for i in range(1, n):
        if key[i] == key[i - 1] and acct[i] == acct[i - 1] and t[i] - t[i - 1] <= window:
            new[i] = False
    return new


def bouts(key: I64, t: I64, acct: I32, w: int) -> tuple[I64, I64, I64, I64]:
    """An account's actions on one key with gaps of at most ``w`` form one *bout*:
    returns each bout's key, account, first and last time (any input order)."""
    if key.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, z
    a64 = acct.astype(np.int64)
    o = np.lexsort((t, a64, key))
    k, a, tt = key[o], a64[o], t[o]
    new = np.asarray(_bout_marks(k, a, tt, w))
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, k.size - 1]
    return k[first], a[first], tt[first], tt[last]


@njit(cache=True, nogil=True)
def _overlaps(key: I64, lo: I64, key_e: I64, hi: I64) -> I64:  # pragma: no cover
    """Per row of (key, lo) sorted by (key, lo): intervals of the same key that start
    before it (in that order) and end at or after its start; (key_e, hi) is the same
    intervals' ends sorted by (key, hi)."""
    n = key.shape[0]
    out = np.zeros(n, dtype=np.int64)
    g = 0
    e = 0
    while g < n:
        h = g
        while h < n and key[h] == key[g]:
            h += 1
        while e < n and key_e[e] < key[g]:
            e += 1
        e0 = e
        for j in range(g, h):
            while e < n and key_e[e] == key[g] and hi[e] < lo[j]:
                e += 1
            out[j] = (j - g) - (e - e0)
        while e < n and key_e[e] == key[g]:
            e += 1
        g = h
    return out


def bout_pairs_per_key(bkey: I64, start: I64, end: I64, w: int, n_keys: int) -> F64:
    """Co-acting bout pairs per key: two bouts of one key co-act when some action of one
    is within ``w`` of some action of the other, which for bouts (gaps of at most ``w``
    inside) is ``distance([start, end], [start', end']) <= w``. Counted as overlaps of the
    intervals widened by ``w/2`` (in doubled time units), never pair by pair. Two bouts
    of one account on one key are more than ``w`` apart, so they never count."""
    if bkey.size == 0:
        return np.zeros(n_keys, dtype=np.float64)
    lo = 2 * start - w
    hi = 2 * end + w
    o = np.lexsort((lo, bkey))
    oe = np.lexsort((hi, bkey))
    per = np.asarray(_overlaps(bkey[o], lo[o], bkey[oe], hi[oe])).astype(np.float64)
    return np.bincount(bkey[o], weights=per, minlength=n_keys).astype(np.float64)


@njit(cache=True, nogil=True)
def _pair_bout_counts(lo_a: I64, hi_a: I64, lo_b: I64, hi_b: I64, start: I64, end: I64,
                      w: int) -> I64:  # pragma: no cover
    """Per query: co-acting pairs between bouts ``[lo_a, hi_a)`` and ``[lo_b, hi_b)``."""
    n = lo_a.shape[0]
    out = np.zeros(n, dtype=np.int64)
    for q in range(n):
        c = 0
        for i in range(lo_a[q], hi_a[q]):
            for j in range(lo_b[q], hi_b[q]):
                if start[j] - end[i] <= w and start[i] - end[j] <= w:
                    c += 1
        out[q] = c
    return out


def pair_bout_pairs(bts: tuple[I64, I64, I64, I64], qa: I64, qb: I64, qk: I64,
                    w: int, n_acct: int) -> I64:
    """Co-acting bout pairs of accounts ``qa`` and ``qb`` on key ``qk`` (per query), from
    the bouts of :func:`bouts` (sorted by key, account, start): the tested pairs' own
    co-action in the null's unit, so that leaving it out of the rate constants leaves all
    of it out (a pair whose accounts act on one key in several bouts co-acts in several
    bout pairs, not one)."""
    bk, ba, bs, be = bts
    out = np.zeros(qa.size, dtype=np.int64)
    if qa.size == 0:
        return out
    comp = bk * n_acct + ba
    for i in range(0, qa.size, 1 << 20):  # in chunks: few temporaries of the queries' size
        j = min(i + (1 << 20), qa.size)
        ca = qk[i:j] * n_acct + qa[i:j]
        cb = qk[i:j] * n_acct + qb[i:j]
        out[i:j] = _pair_bout_counts(
            np.searchsorted(comp, ca, side="left").astype(np.int64),
            np.searchsorted(comp, ca, side="right").astype(np.int64),
            np.searchsorted(comp, cb, side="left").astype(np.int64),
            np.searchsorted(comp, cb, side="right").astype(np.int64), bs, be, w)
    return out


def bout_strata(key: I64, t: I64, acct: I32, w: int, n_acc_key: I64, n_acct: int,
                min_stratum_keys: int = 0) -> tuple[F64, I64, F64, F64, tuple[I64, I64, I64, I64]]:
    """:func:`configuration_strata` counted in bouts (:func:`bouts`): each account's
    bouts per stratum and the co-acting bout pairs per stratum, so that the null's
    expectation is in the unit of the edge's statistic (distinct keys) rather than
    action pairs (an account posting one tag 18 times within minutes is one bout, not
    18 draws). Identical to :func:`configuration_strata` when no account acts on a key
    twice within ``w``. Also returns the bouts (key, account, start, end)."""
    bk, ba, bs, be = bouts(key, t, acct, w)
    key_stratum = np.asarray(merge_thin_strata(n_acc_key, min_stratum_keys),
                             dtype=np.int64).reshape(-1)
    per_key = bout_pairs_per_key(bk, bs, be, w, n_acc_key.size)
    counts, pairs, denom = _tally(key_stratum, per_key, bk, ba, n_acct)
    return counts, key_stratum, pairs, denom, (bk, ba, bs, be)


def candidate_denominator(strata: F64, cand: npt.NDArray[np.bool_]) -> F64:
    """Per stratum ``Σ_{a<b}`` over pairs of candidate accounts of ``n_a(s) n_b(s)``."""
    return pair_denominator(strata[cand])


def robust_rates(results: list[dict[str, Any]], nk: F64, family: int,
                          stats: dict[str, Any]) -> F64:
    """λ of every candidate, with rate constants estimated without the candidates.

    With ``cc_pairs`` / ``cc_denom`` in a layer's null (both engines provide them), every
    co-acting pair among candidate accounts is left out (one-key pairs too), and
    ``C_s = (P'_s + 1) / (D'_s + 1 / C̄)`` with ``C̄`` the layer's pooled rate: a stratum
    that the candidates' accounts fill borrows the layer's rate instead of setting its own.
    Otherwise (older callers) only the candidate pairs are left out, as follows.

    ``C_s`` is estimated from the co-acting pairs of accounts that share fewer than two
    keys in the layer: the candidate pairs (two or more distinct keys) are left out of
    both ``P_s`` and ``D_s``. Under the null these hold a second-order share of the pairs
    (``O(λ²)``), so the estimate barely moves; a campaign that makes up most of a
    popularity stratum, whose members all share many keys, no longer defines its own null.
    """
    parts = []
    start = 0
    left_out = 0
    for r in results:
        n = r["a"].size
        nl = r["null"]
        out = nk[start:start + n] >= 2
        left_out += int(out.sum())
        rate = layer_rate(nl, out)
        nl["rate"] = rate
        parts.append(expected_coactions(nl["ab"], rate) if n else np.zeros(0))
        start += n
    stats["null_left_out_pairs"] = left_out
    return np.concatenate(parts) if parts else np.zeros(0)


def layer_rate(nl: dict[str, Any], out: npt.NDArray[np.bool_]) -> F64:
    """The rate constants ``C_s`` of one layer's null (see :func:`robust_rates`); ``out``
    marks the layer's candidate pairs (only used without ``cc_pairs``)."""
    if "cc_pairs" in nl:
        pairs = np.maximum(nl["pairs"] - nl["cc_pairs"], 0.0)
        denom = np.maximum(nl["denom"] - nl["cc_denom"], 0.0)
        tot_p, tot_d = float(pairs.sum()), float(denom.sum())
        if tot_p > 0 and tot_d > 0:
            pool = tot_p / tot_d
            rate: F64 = (pairs + 1.0) / (denom + 1.0 / pool)
            return rate
        return rates(pairs, denom)
    pairs = nl["pairs"] - nl["own"][out].sum(axis=0)
    denom = nl["denom"] - nl["ab"][out].sum(axis=0)
    return rates(pairs, denom)


#: Accounts per layer (the most active) whose pairs :func:`chance_partners` computes
#: exactly; the λ²/2 form over-counts pairs of two active accounts (λ >~ 1).
EXACT_PARTNERS = 2000


def heavy_accounts(strata: F64, k: int = EXACT_PARTNERS) -> I64:
    """The ``k`` accounts with the most actions in a layer (ties by code), sorted."""
    tot = strata.sum(axis=1)
    active = np.flatnonzero(tot > 0)
    if active.size <= k:
        return active.astype(np.int64)
    top = active[np.argsort(-tot[active], kind="stable")[:k]]
    return np.sort(top).astype(np.int64)


def chance_partners(rows: F64, row_ids: I64, heavy: F64, heavy_ids: I64, gram_light: F64,
                    colsum: F64, rate: F64, min_keys: int) -> F64:
    """Expected number of partners each account reaches ``min_keys`` keys with by chance.

    ``rows``: actions per popularity stratum of the accounts asked about (account codes
    ``row_ids``); ``heavy``/``heavy_ids`` the same for the layer's most active accounts
    (:func:`heavy_accounts`), ``gram_light = Nᵀ N`` over all the *other* accounts of the
    layer, ``colsum`` the actions per stratum of all accounts, ``rate`` the layer's
    ``C_s``. With ``λ_ab = Σ_s n_a(s) n_b(s) C_s``: partners among the heavy accounts
    count ``P(X ≥ min_keys | λ_ab)`` exactly; the others ``λ_ab² / 2`` (the small-λ form
    of ``P(X ≥ 2)``, an upper bound for every ``min_keys ≥ 2``), summed through the
    stratum Gram matrix in O(accounts · strata²) rather than pair by pair. For
    ``min_keys = 1`` the sum is ``Σ_b λ_ab`` (≥ ``Σ_b P(X ≥ 1)``).
    """
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    v = rows * rate
    self_lam = (v * rows).sum(axis=1)
    if min_keys <= 1:
        out1: F64 = np.maximum(v @ colsum - self_lam, 0.0)
        return out1
    is_heavy = np.isin(row_ids, heavy_ids)
    light = np.einsum("is,st,it->i", v, gram_light, v)
    light = np.maximum(light - np.where(is_heavy, 0.0, self_lam * self_lam), 0.0) / 2.0
    exact = np.zeros(rows.shape[0], dtype=np.float64)
    if heavy_ids.size:
        for i in range(0, rows.shape[0], 4096):
            lam = v[i:i + 4096] @ heavy.T
            pr = special.pdtrc(min_keys - 1.0, np.maximum(lam, 1e-300))
            pr[row_ids[i:i + 4096, None] == heavy_ids[None, :]] = 0.0  # not its own partner
            exact[i:i + 4096] = pr.sum(axis=1)
    out: F64 = light + exact
    return out


def account_excess(partners: F64, expected: F64) -> F64:
    """P-value of each account's partner count: ``P(X >= partners)``, X ~ Poisson(expected).

    An account that co-acted with more other accounts (on at least ``min_keys`` keys) than
    its own activity predicts under the null has a small value; one that reposted the same
    breaking stories as thousands of others has as many such partners as chance gives.
    """
    partners = np.asarray(partners, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    out: F64 = np.where(partners <= 0, 1.0,
                        np.where(expected > 0,
                                 special.pdtrc(partners - 1.0, np.maximum(expected, 1e-300)),
                                 0.0))
    return out


@njit(cache=True, nogil=True)
def _shared_pairs(a: I64, b: I64, indptr: I64, keys: I64, counts: I64) -> I64:  # pragma: no cover
    """For each pair (a, b): Σ over shared keys of count_a(k) * count_b(k) (CSR, sorted)."""
    out = np.zeros(a.shape[0], dtype=np.int64)
    for e in range(a.shape[0]):
        i = indptr[a[e]]
        ie = indptr[a[e] + 1]
        j = indptr[b[e]]
        je = indptr[b[e] + 1]
        s = 0
        while i < ie and j < je:
            if keys[i] < keys[j]:
                i += 1
            elif keys[i] > keys[j]:
                j += 1
            else:
                s += counts[i] * counts[j]
                i += 1
                j += 1
        out[e] = s
    return out


def shift_shared(key: I64, acct: I32, ea: I64, eb: I64, n_acct: int) -> I64:
    """S_ab: action pairs of a and b on shared keys at any time."""
    if ea.size == 0:
        return np.zeros(0, dtype=np.int64)
    m = int(key.max()) + 1
    u, cnt = np.unique(acct.astype(np.int64) * m + key, return_counts=True)
    ua = u // m
    uk = u % m
    indptr = np.zeros(n_acct + 1, dtype=np.int64)
    np.cumsum(np.bincount(ua, minlength=n_acct), out=indptr[1:])
    return np.asarray(_shared_pairs(ea, eb, indptr, uk, cnt.astype(np.int64)))


def shift_null_counts(actions: pa.Table, action_type: str, window: float, shuffles: int,
                      seed: int = 0) -> list[dict[tuple[str, str], int]]:
    """Co-acting action pairs per account pair after random circular time shifts.

    Each shuffle shifts every account's timeline by an independent uniform offset modulo
    the observation span (seeded); returns one ``{(a, b): pairs}`` dict per shuffle. Used
    to check the analytic expectation of ``null="shift"``; slow on big inputs.
    """
    actions = schema.check("actions", actions, stage="detect")
    sub = actions.filter(pc.equal(actions["type"], action_type))
    if sub.num_rows == 0:
        return [{} for _ in range(shuffles)]
    key, _ = encode(sub["key"])
    acct, adict = encode(sub["account_id"])
    t = times_us(sub["time"])
    t0 = int(t.min())
    span = int(t.max()) - t0 + 1
    w = round(window * US)
    rng = np.random.default_rng(seed)
    out: list[dict[tuple[str, str], int]] = []
    names = adict.to_pylist()
    for _ in range(shuffles):
        off = rng.integers(0, span, size=int(acct.max()) + 1)
        ts = (t - t0 + off[acct]) % span
        # circular: also compare across the wrap by duplicating the first W of the span
        wrap = ts < w
        k2 = np.concatenate([key, key[wrap]])
        t2 = np.concatenate([ts, ts[wrap] + span])
        a2 = np.concatenate([acct, acct[wrap]]).astype(np.int32)
        src = np.concatenate([np.arange(key.size), np.flatnonzero(wrap)])
        dup = np.concatenate([np.zeros(key.size, bool), np.ones(int(wrap.sum()), bool)])
        o = sort_actions(k2, t2, a2)
        ii, jj = sweep_pairs(k2[o], t2[o], a2[o], w)
        both = dup[o][ii] & dup[o][jj]  # a pair of copies repeats a pair of originals
        si, sj = src[o][ii][~both], src[o][jj][~both]
        counts: dict[tuple[str, str], int] = {}
        for x, y in zip(si.tolist(), sj.tolist(), strict=True):
            na, nb = names[acct[x]], names[acct[y]]
            pair = (na, nb) if na < nb else (nb, na)
            counts[pair] = counts.get(pair, 0) + 1
        out.append(counts)
    return out
