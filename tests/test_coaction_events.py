"""Co-action events: keys co-acted on at the same two action times count once."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.detect import DetectParams, coaction_edges
from echoscope.detect.kernel import pair_event, sort_actions, sweep_pair_events
from test_detect_conformance import actions, edge_set

NONE = dict(null="none", episode_window=0.0)


def _rows(t: pa.Table) -> list[dict[str, object]]:
    """The rows of ``t`` with NaN as None (so that equal tables compare equal)."""
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for r in t.to_pylist()]


def test_one_multi_tag_post_each_is_one_event():
    """Two accounts each post once, within a minute, with the same four trending tags:
    four keys, but one co-action event, so no pair reaches two keys."""
    tags = ["t1", "t2", "t3", "t4"]
    rows = [("a", 100, "hashtag", k) for k in tags] + [("b", 130, "hashtag", k) for k in tags]
    keys_only = coaction_edges(actions(rows), DetectParams(event_types=(), **NONE))
    assert keys_only.to_pylist()[0]["n_keys"] == 4
    assert coaction_edges(actions(rows), DetectParams(**NONE)
                          ).num_rows == 0


def test_separate_posts_stay_separate_events():
    """The same tags in two separate posts of each account: two events, two keys; and
    two keys acted on at identical times by each account are still one event."""
    rows = [("a", 100, "hashtag", "t1"), ("b", 130, "hashtag", "t1"),
            ("a", 5000, "hashtag", "t2"), ("b", 5010, "hashtag", "t2"),
            ("a", 5000, "hashtag", "t3"), ("b", 5010, "hashtag", "t3")]
    e = coaction_edges(actions(rows), DetectParams(**NONE))
    r = e.to_pylist()
    assert len(r) == 1 and r[0]["n_keys"] == 2 and r[0]["n_pairs"] == 3
    # simultaneous actions (delay 0) on different keys at different times: distinct events
    rows = [("a", 0, "text", "x"), ("b", 0, "text", "x"),
            ("a", 900, "text", "y"), ("b", 900, "text", "y")]
    e = coaction_edges(actions(rows), DetectParams(**NONE))
    assert e.to_pylist()[0]["n_keys"] == 2


def test_types_with_one_key_per_post_are_not_capped():
    """Two reposts by each account in the same (minute-resolution) instant are two posts:
    reposts carry one key per post, so they are not in the default event_types; with
    repost in event_types the same instant would count once."""
    rows = [("a", 60, "repost", "p1"), ("a", 60, "repost", "p2"),
            ("b", 60, "repost", "p1"), ("b", 60, "repost", "p2")]
    assert coaction_edges(actions(rows), DetectParams(**NONE)).to_pylist()[0]["n_keys"] == 2
    assert coaction_edges(actions(rows), DetectParams(event_types=("repost",), **NONE)
                          ).num_rows == 0


def test_event_orientation_is_canonical():
    """Which account acted first is part of the event: a at 0 / b at 10 and b at 0 / a at
    10 are two events with the same delay."""
    rows = [("a", 0, "hashtag", "t1"), ("b", 10, "hashtag", "t1"),
            ("b", 0, "hashtag", "t2"), ("a", 10, "hashtag", "t2")]
    e = coaction_edges(actions(rows), DetectParams(**NONE))
    assert e.to_pylist()[0]["n_keys"] == 2
    assert list(pair_event(np.array([0, 10]), np.array([10, 0]))) == [0, 21]


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 300), st.integers(0, 4)),
                min_size=2, max_size=60), st.integers(0, 120))
def test_events_kernel_matches_brute_force(rows, w):
    acct = np.array([r[0] for r in rows], dtype=np.int32)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    key = np.array([r[2] for r in rows], dtype=np.int64)
    o = sort_actions(key, t, acct)
    key, t, acct = key[o], t[o], acct[o]
    c2, k2, _d2, ev = sweep_pair_events(key, t, acct, w, 6)
    # brute force: the event of each pair from the two actions' times
    want = []
    for i in range(key.size):
        for j in range(i + 1, key.size):
            if key[i] == key[j] and acct[i] != acct[j] and abs(t[j] - t[i]) <= w:
                lo, hi = (i, j) if acct[i] < acct[j] else (j, i)
                want.append((min(acct[i], acct[j]) * 6 + max(acct[i], acct[j]), int(key[i]),
                             int(pair_event(np.array([t[lo]]), np.array([t[hi]]))[0])))
    assert sorted(want) == sorted(zip(c2.tolist(), k2.tolist(), ev.tolist(), strict=True))


@settings(max_examples=40)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 600),
                          st.sampled_from(["hashtag", "url"]), st.sampled_from("wxyz")),
                min_size=2, max_size=50))
def test_events_never_add_edges_or_keys_and_ignore_row_order(rows):
    acts = actions(rows)
    on = coaction_edges(acts, DetectParams(windows=(60.0,), **NONE))
    off = coaction_edges(acts, DetectParams(windows=(60.0,), event_types=(), **NONE))
    assert edge_set(on) <= edge_set(off)
    nk_off = {(r["account_a"], r["account_b"], r["type"]): r["n_keys"] for r in off.to_pylist()}
    for r in on.to_pylist():
        assert 2 <= r["n_keys"] <= nk_off[(r["account_a"], r["account_b"], r["type"])]
    rev = acts.take(pa.array(list(range(acts.num_rows))[::-1]))
    again = coaction_edges(rev, DetectParams(windows=(60.0,), **NONE))
    # p- and q-values are NaN without a null model, and NaN != NaN for Table.equals
    assert on.schema == again.schema
    assert _rows(on) == _rows(again)
