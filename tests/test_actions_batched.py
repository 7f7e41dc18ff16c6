"""build_actions reads posts in batches: the actions must not depend on the batch size."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope import schema
from echoscope.actions import ACTION_TYPES, ActionParams, actions_from_posts, build_actions
from echoscope.workspace import Workspace

T0 = dt.datetime(2024, 1, 1)
WORDS = ("river", "lantern", "meadow", "copper", "window", "garden", "harbor", "pebble",
         "violet", "thunder", "maple", "orbit", "saddle", "canyon", "velvet", "ember")
ORDER = [("type", "ascending"), ("key", "ascending"), ("time", "ascending"),
         ("account_id", "ascending"), ("post_id", "ascending")]


def _text(rng: random.Random, base: list[str]) -> str:
    words = list(base)
    if rng.random() < 0.5:  # a near copy: one word changed
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words)


def make_posts(n: int, seed: int = 0) -> pa.Table:
    """Synthetic neutral posts of every kind, with every action type represented."""
    rng = random.Random(seed)
    bases = [[rng.choice(WORDS) for _ in range(9)] for _ in range(6)]
    rows = []
    for i in range(n):
        kind = rng.choice(("post", "post", "repost", "reply", "quote"))
        parent = None if kind == "post" else (f"p{rng.randrange(max(i, 1))}"
                                              if rng.random() < 0.8 else None)
        tags = rng.sample(WORDS[:5], rng.randrange(0, 4))
        rows.append({
            "platform": "twitter", "post_id": f"p{i}",
            "account_id": f"a{rng.randrange(12)}" if rng.random() > 0.02 else None,
            "handle": None,
            "created_at": (T0 + dt.timedelta(seconds=rng.randrange(3600))
                           if rng.random() > 0.03 else None),
            "kind": kind,
            "text": _text(rng, rng.choice(bases)) + (" https://t.co/x @bob" if i % 3 else "")
            if rng.random() > 0.05 else None,
            "lang": None, "source_app": None, "parent_post_id": parent,
            "parent_account_id": None, "parent_created_at": None,
            "urls": [f"https://www.site{rng.randrange(3)}.org/{rng.randrange(4)}"]
            if rng.random() < 0.4 else ["https://twitter.com/a/status/1"]
            if rng.random() < 0.1 else [],
            "hashtags": tags + tags[:1],  # a repeated tag acts once
            "mentions": [f"u{rng.randrange(4)}"] if rng.random() < 0.3 else [],
            "mention_ids": [],
            "media": [{"media_id": f"m{rng.randrange(5)}", "url": None,
                       "hash": f"h{rng.randrange(3)}" if rng.random() < 0.5 else None}]
            if rng.random() < 0.2 else [],
            "source_file": "x", "source_record": i + 1,
        })
    return pa.Table.from_pylist(rows, schema=schema.TABLES["posts"].schema)


def batched(posts: pa.Table, p: ActionParams) -> pa.Table:
    with Workspace(":memory:") as ws:
        ws.append("posts", posts)
        n = build_actions(ws, p)
        out = ws.table("actions").sort_by(ORDER)
        assert n == out.num_rows
        return out


def test_every_type_present_and_batches_equal_whole() -> None:
    posts = make_posts(400)
    whole = actions_from_posts(posts).sort_by(ORDER)
    assert set(whole.column("type").to_pylist()) == set(ACTION_TYPES)
    for size in (17, 64, 399, 400, 10_000):
        assert batched(posts, ActionParams(batch_posts=size)).equals(whole), size


def test_near_text_without_text_type() -> None:
    posts = make_posts(200, seed=3)
    p = ActionParams(types=("near_text", "hashtag"), batch_posts=13)
    got = batched(posts, p)
    assert set(got.column("type").to_pylist()) == {"near_text", "hashtag"}
    assert got.equals(actions_from_posts(posts, p).sort_by(ORDER))


def test_run_log_counts_batches() -> None:
    with Workspace(":memory:") as ws:
        ws.append("posts", make_posts(50))
        build_actions(ws, ActionParams(batch_posts=20))
        counts = ws.runs()[-1]["counts"]
        assert counts["actions_batches"] == 3
        assert sum(counts["actions_by_type"].values()) == counts["actions"]
        assert ws.count("actions") == counts["actions"]


@settings(max_examples=15, deadline=None)
@given(n=st.integers(0, 60), size=st.integers(1, 70), seed=st.integers(0, 1000))
def test_batch_boundaries_never_change_actions(n: int, size: int, seed: int) -> None:
    posts = make_posts(n, seed)
    got = batched(posts, ActionParams(batch_posts=size))
    assert got.equals(actions_from_posts(posts).sort_by(ORDER))
