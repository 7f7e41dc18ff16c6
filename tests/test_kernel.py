from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.detect.kernel import count_pairs, isolated_mask, sort_actions, sweep_pairs


def brute(key, t, acct, w):
    out = set()
    n = len(key)
    for i in range(n):
        for j in range(n):
            if i != j and key[i] == key[j] and acct[i] != acct[j] and 0 <= t[j] - t[i] <= w:
                a, b = (i, j) if (t[i], i) < (t[j], j) else (j, i)
                out.add((a, b))
    return out


def test_known_answer_inclusive_window():
    key = np.array([1, 1, 1, 2], dtype=np.int64)
    t = np.array([0, 60, 61, 0], dtype=np.int64)
    acct = np.array([0, 1, 2, 1], dtype=np.int32)
    ii, jj = sweep_pairs(key, t, acct, 60)
    pairs = {(int(a), int(b)) for a, b in zip(ii, jj, strict=True)}
    # 0-60 counts (inclusive), 0-61 does not, 60-61 does
    assert pairs == {(0, 1), (1, 2)}
    assert count_pairs(key, t, acct, 60) == 2
    assert isolated_mask(key, t, acct, 60).tolist() == [False, False, False, True]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 200), st.integers(0, 4)),
        min_size=0, max_size=40,
    ),
    st.integers(0, 100),
)
def test_matches_brute_force(rows, w):
    key = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    acct = np.array([r[2] for r in rows], dtype=np.int32)
    order = sort_actions(key, t, acct)
    key, t, acct = key[order], t[order], acct[order]
    ii, jj = sweep_pairs(key, t, acct, w)
    got = {(int(a), int(b)) for a, b in zip(ii, jj, strict=True)}
    # compare as unordered pairs of (key, time, acct) multisets via indices in sorted order
    exp = brute(list(key), list(t), list(acct), w)
    norm = lambda s: sorted(tuple(sorted(p)) for p in s)  # noqa: E731
    assert norm(got) == norm(exp)
    assert count_pairs(key, t, acct, w) == len(got)
    iso = isolated_mask(key, t, acct, w)
    involved = {i for p in got for i in p}
    assert {i for i in range(len(key)) if not iso[i]} == involved
