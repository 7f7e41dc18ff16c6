"""The shared sort-and-sweep kernel: every co-action network is built on it.

Given actions sorted by ``(key, time)`` with integer-encoded keys and accounts, emit every
pair of actions ``(i, j)`` with the same key, different accounts and
``0 <= time[j] - time[i] <= window`` (``i < j`` in sort order, so each unordered pair once;
the window is inclusive, sliding, never binned). Counting comes first so callers can check
the number of pairs against a memory budget before allocating anything.

Compiled with numba; the same functions run per partition under Spark.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["count_pairs", "isolated_mask", "pair_event", "sort_actions",
           "sweep_pair_events", "sweep_pairs"]

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


@njit(cache=True, nogil=True)
def _count_per_row(key: I64, t: I64, acct: I32, window: int) -> I64:  # pragma: no cover
    n = key.shape[0]
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        k = key[i]
        ti = t[i]
        a = acct[i]
        c = 0
        j = i + 1
        while j < n and key[j] == k and t[j] - ti <= window:
            if acct[j] != a:
                c += 1
            j += 1
        out[i] = c
    return out


@njit(cache=True, nogil=True)
def _fill(key: I64, t: I64, acct: I32, window: int, offsets: I64,
          ii: I64, jj: I64) -> None:  # pragma: no cover
    n = key.shape[0]
    for i in range(n):
        k = key[i]
        ti = t[i]
        a = acct[i]
        p = offsets[i]
        j = i + 1
        while j < n and key[j] == k and t[j] - ti <= window:
            if acct[j] != a:
                ii[p] = i
                jj[p] = j
                p += 1
            j += 1


@njit(cache=True, nogil=True)
def _fill_events(key: I64, t: I64, acct: I32, window: int, offsets: I64, n_accounts: int,
                 code: I64, pkey: I64, delay: I64, event: I64) -> None:  # pragma: no cover
    n = key.shape[0]
    for i in range(n):
        k = key[i]
        ti = t[i]
        a = acct[i]
        p = offsets[i]
        j = i + 1
        while j < n and key[j] == k and t[j] - ti <= window:
            b = acct[j]
            if b != a:
                d = t[j] - ti
                if a < b:
                    code[p] = a * n_accounts + b
                    event[p] = 2 * ti
                else:
                    code[p] = b * n_accounts + a
                    event[p] = 2 * t[j] + (1 if d > 0 else 0)
                pkey[p] = k
                delay[p] = d
                p += 1
            j += 1


@njit(cache=True, nogil=True)
def _isolated(key: I64, t: I64, acct: I32, window: int) -> npt.NDArray[np.bool_]:  # pragma: no cover
    """True where no other account acted on the same key within the window.

    O(n), whatever the pairs: the nearest action of another account before (and after)
    each action is carried along the sorted run, so a key acted on by 20,000 accounts in
    one window costs 20,000 steps, not 2 x 10^8.
    """
    n = key.shape[0]
    has = np.zeros(n, dtype=np.bool_)
    prev = -1  # nearest earlier index (same key) whose account differs from acct[i]
    for i in range(n):
        if i == 0 or key[i - 1] != key[i]:
            prev = -1
        elif acct[i - 1] != acct[i]:
            prev = i - 1
        # else: same account as i-1, so i-1's nearest other-account action is i's too
        if prev >= 0 and t[i] - t[prev] <= window:
            has[i] = True
    nxt = -1
    for i in range(n - 1, -1, -1):
        if i == n - 1 or key[i + 1] != key[i]:
            nxt = -1
        elif acct[i + 1] != acct[i]:
            nxt = i + 1
        if nxt >= 0 and t[nxt] - t[i] <= window:
            has[i] = True
    return ~has


def _check(key: I64, t: I64, acct: I32) -> tuple[I64, I64, I32]:
    key = np.ascontiguousarray(key, dtype=np.int64)
    t = np.ascontiguousarray(t, dtype=np.int64)
    acct = np.ascontiguousarray(acct, dtype=np.int32)
    if not (key.shape == t.shape == acct.shape):
        raise ValueError("key, time and account arrays must have the same length")
    return key, t, acct


def sort_actions(key: I64, t: I64, acct: I32) -> npt.NDArray[np.int64]:
    """The permutation that sorts actions by (key, time, account)."""
    return np.lexsort((acct, t, key)).astype(np.int64)


def count_pairs(key: I64, t: I64, acct: I32, window: int) -> int:
    """Number of pairs :func:`sweep_pairs` would return (no allocation of pairs)."""
    key, t, acct = _check(key, t, acct)
    if key.size == 0:
        return 0
    return int(_count_per_row(key, t, acct, int(window)).sum())


def isolated_mask(key: I64, t: I64, acct: I32, window: int) -> npt.NDArray[np.bool_]:
    """Actions with no other account's action on the same key within the window.

    Dropping them never changes any edge (exact pruning); input must be sorted.
    """
    key, t, acct = _check(key, t, acct)
    if key.size == 0:
        return np.zeros(0, dtype=np.bool_)
    return np.asarray(_isolated(key, t, acct, int(window)))


def sweep_pairs(key: I64, t: I64, acct: I32, window: int) -> tuple[I64, I64]:
    """All co-action pairs ``(i, j)``; arrays must be sorted by (key, time).

    Returns two int64 index arrays (into the sorted input) with ``i < j``,
    ``key[i] == key[j]``, ``acct[i] != acct[j]`` and ``t[j] - t[i] <= window``.
    """
    key, t, acct = _check(key, t, acct)
    if key.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    counts = _count_per_row(key, t, acct, int(window))
    offsets = np.zeros(key.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    total = int(counts.sum())
    ii = np.empty(total, dtype=np.int64)
    jj = np.empty(total, dtype=np.int64)
    _fill(key, t, acct, int(window), offsets, ii, jj)
    return ii, jj


def pair_event(t_low: I64, t_high: I64) -> I64:
    """The co-action event of an account pair's two actions (vectorised): ``2 * t_low``
    plus 1 when the higher-coded account acted strictly first, with ``t_low`` / ``t_high``
    the times of the lower- / higher-coded account's action. With the delay
    ``|t_high - t_low|`` it identifies the pair of action times, independent of sort order
    (what :func:`sweep_pair_events` writes)."""
    return np.asarray(2 * t_low + (t_high < t_low), dtype=np.int64)


def sweep_pair_events(key: I64, t: I64, acct: I32, window: int,
                      n_accounts: int) -> tuple[I64, I64, I64, I64]:
    """Like :func:`sweep_pairs`, but returns what aggregation needs and nothing more.

    For every co-action pair: ``code = min(acct) * n_accounts + max(acct)`` (the unordered
    account pair), the key, the delay ``t[j] - t[i] >= 0`` and the pair's event
    (:func:`pair_event`): two keys acted on at the same two times (one post carrying
    several hashtags, by each account) are one co-action event, not two. 32 bytes a pair
    instead of the index arrays plus the gathers. Arrays must be sorted by (key, time).
    """
    key, t, acct = _check(key, t, acct)
    if key.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy(), empty.copy()
    if acct.size and int(acct.max()) >= n_accounts:
        raise ValueError("n_accounts must exceed every account code")
    counts = _count_per_row(key, t, acct, int(window))
    offsets = np.zeros(key.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    total = int(counts.sum())
    code = np.empty(total, dtype=np.int64)
    pkey = np.empty(total, dtype=np.int64)
    delay = np.empty(total, dtype=np.int64)
    event = np.empty(total, dtype=np.int64)
    _fill_events(key, t, acct, int(window), offsets, int(n_accounts), code, pkey, delay,
                 event)
    return code, pkey, delay, event
