"""Hashtag bursts, storms and hijacks: known answers, organic confounders, invariants."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.signals import HashtagParams, hashtag_signals
from echoscope.signals.hashtags import detect_bursts, text_similarity
from test_signals_data import at, build

WORDS = ["rain", "sunny", "forecast", "cloud", "wind", "cold", "warm", "drizzle", "umbrella", "breeze"]


def _world(with_hijack: bool = True) -> list[dict[str, Any]]:
    rnd = random.Random(3)
    posts: list[dict[str, Any]] = []
    # background: 300 people posting without hashtags, so that many accounts are online
    for _ in range(4000):
        posts.append(dict(account_id=f"b{rnd.randrange(300)}", created_at=at(rnd.uniform(0, 120)),
                          text="an ordinary day"))
    # an organic hashtag: 40 people, steady over five days, about the weather
    for _ in range(300):
        posts.append(dict(account_id=f"o{rnd.randrange(40)}", created_at=at(rnd.uniform(0, 120)),
                          hashtags=["weather"],
                          text=" ".join(rnd.choices(WORDS, k=6)) + " #weather"))
    # organic breaking news: 200 different people within two hours (a burst, not a storm)
    for i in range(200):
        posts.append(dict(account_id=f"n{i}", created_at=at(50 + rnd.uniform(0, 2)),
                          hashtags=["newsday"], text=f"bridge closed downtown {i} #newsday"))
    # a scheduled storm: campaign c1 (20 members) at 20:00 on four days, its own hashtag
    for d in range(4):
        for m in range(20):
            for k in range(3):
                posts.append(dict(account_id=f"m{m}", created_at=at(20, days=d, seconds=60 * k + m),
                                  hashtags=["ourtag"], text="join our garden club meeting #ourtag"))
    if with_hijack:
        # the same campaign pushes its message into the organic weather hashtag
        for m in range(20):
            for k in range(2):
                posts.append(dict(account_id=f"m{m}", created_at=at(30, seconds=60 * k + 7 * m),
                                  hashtags=["weather"],
                                  text=f"join our garden club meeting now #weather {k}"))
    return posts


MEMBERS = [("c1", f"m{m}") for m in range(20)]


def _by_tag(t: Any) -> dict[str, dict[str, Any]]:
    return {r["hashtag"]: r for r in t.to_pylist()}


def test_storm_hijack_and_organic_burst() -> None:
    with build(_world(), members=MEMBERS) as ws:
        tags = _by_tag(hashtag_signals(ws))
    storm, news, weather = tags["ourtag"], tags["newsday"], tags["weather"]
    assert storm["storm"] and not storm["hijack"]
    assert storm["bursts"] == 4 and storm["recurring_hours"] == "20"
    assert storm["campaign_share"] == pytest.approx(1.0)
    assert "Recurs at 20:00 on 4 days" in storm["evidence"]
    # breaking news bursts but is carried by 200 unrelated people: not a storm
    assert news["bursts"] == 1 and not news["storm"] and not news["hijack"]
    assert news["top_share"] == pytest.approx(10 / 200)
    assert news["campaign_share"] == pytest.approx(0.0)
    # the campaign's burst inside the organic weather hashtag is a hijack
    assert weather["hijack"] and not weather["storm"]  # exclusive per hashtag
    assert weather["content_similarity"] < 0.2
    assert weather["posts"] == 340 and weather["peak_posts"] >= 40  # + organic posts
    assert "hijack" in weather["evidence"]


def test_organic_hashtag_without_campaign_burst_is_quiet() -> None:
    with build(_world(with_hijack=False), members=MEMBERS) as ws:
        w = _by_tag(hashtag_signals(ws))["weather"]
    assert w["bursts"] == 0 and not w["storm"] and not w["hijack"]
    assert w["baseline"] == pytest.approx(300 / 121, rel=0.05)
    assert "no burst" in w["evidence"]


def test_same_topic_burst_is_not_a_hijack() -> None:
    posts = _world(with_hijack=False)
    rnd = random.Random(5)
    for m in range(20):
        for _ in range(2):
            posts.append(dict(account_id=f"m{m}", created_at=at(30, seconds=rnd.uniform(0, 3000)),
                              hashtags=["weather"],
                              text=" ".join(rnd.choices(WORDS, k=6)) + " #weather"))
    with build(posts, members=MEMBERS) as ws:
        w = _by_tag(hashtag_signals(ws))["weather"]
    assert w["storm"] and not w["hijack"]
    assert w["content_similarity"] > 0.2


def test_without_campaigns_crews_stand_in() -> None:
    posts = _world()
    # five accounts post 30 times each in one hour: concentrated without any campaign
    for a in range(5):
        for k in range(30):
            posts.append(dict(account_id=f"s{a}", created_at=at(70, seconds=100 * k + a),
                              hashtags=["flood"], text="same words again"))
    with build(posts) as ws:
        tags = _by_tag(hashtag_signals(ws))
    # the same 20 accounts carry five bursts together: a crew, found without campaigns
    assert tags["ourtag"]["storm"] and tags["ourtag"]["campaign_share"] == 0.0
    assert "also carry together" in tags["ourtag"]["evidence"]
    assert tags["weather"]["hijack"] and "#ourtag" in tags["weather"]["evidence"]
    assert tags["flood"]["storm"] and tags["flood"]["top_share"] == pytest.approx(1.0)
    assert not tags["newsday"]["storm"] and not tags["newsday"]["hijack"]


def test_one_off_burst_without_campaign_is_not_a_hijack() -> None:
    posts = [p for p in _world() if "ourtag" not in p.get("hashtags", [])]
    with build(posts) as ws:
        w = _by_tag(hashtag_signals(ws))["weather"]
    # a single burst by accounts seen nowhere else together: nothing ties them
    assert w["bursts"] == 1 and not w["hijack"]


def test_empty_workspace() -> None:
    with build([]) as ws:
        assert hashtag_signals(ws).num_rows == 0


def test_detect_bursts_known_answers() -> None:
    p = HashtagParams()
    flat = np.full(100, 3)
    mask, lam = detect_bursts(flat, p)
    assert not mask.any() and lam == pytest.approx(3.0)
    spike = flat.copy()
    spike[40] = 40
    mask, lam = detect_bursts(spike, p)
    assert mask.tolist() == [i == 40 for i in range(100)]
    assert lam == pytest.approx(3.0)  # the burst is excluded from its own baseline
    zero = np.zeros(50, dtype=int)
    zero[10] = 4  # below min_burst_posts
    assert not detect_bursts(zero, p)[0].any()
    zero[10] = 5
    assert detect_bursts(zero, p)[0][10]
    assert detect_bursts(np.zeros(0), p)[0].size == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=300),
       st.floats(1.0, 20.0), st.floats(1.0, 20.0))
def test_raising_the_ratio_never_adds_bursts(counts: list[int], r1: float, r2: float) -> None:
    lo, hi = sorted((r1, r2))
    x = np.array(counts)
    a, _ = detect_bursts(x, HashtagParams(burst_ratio=lo))
    b, _ = detect_bursts(x, HashtagParams(burst_ratio=hi))
    assert b.sum() <= a.sum()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=300))
def test_burst_hours_meet_every_condition(counts: list[int]) -> None:
    p = HashtagParams()
    x = np.array(counts)
    mask, lam = detect_bursts(x, p)
    assert lam >= p.baseline_floor
    for v in x[mask]:
        assert v >= p.min_burst_posts and v >= p.burst_ratio * lam


def test_text_similarity() -> None:
    a = ["the quick brown fox", "a lazy dog sleeps"]
    assert text_similarity(a, a) == pytest.approx(1.0)
    assert text_similarity(a, ["completely different words here"]) == pytest.approx(0.0)
    assert math.isnan(text_similarity([], a))
    assert text_similarity(["alpha beta #tag"], ["gamma delta #tag"], drop="tag") == 0.0
    s = text_similarity(["rain and wind today"], ["rain and sun today"])
    assert 0.0 < s < 1.0


def test_relative_similarity() -> None:
    from echoscope.signals.hashtags import relative_similarity

    rnd = random.Random(2)
    usual = [" ".join(rnd.choices(WORDS, k=6)) for _ in range(60)]
    same = [" ".join(rnd.choices(WORDS, k=6)) for _ in range(30)]
    slogans = ["garden", "club", "meeting", "tonight", "join", "members", "welcome"]
    other = [" ".join(rnd.choices(slogans, k=6)) for _ in range(30)]
    assert relative_similarity(same, usual) > 0.8
    assert relative_similarity(other, usual) == pytest.approx(0.0)
    # a minority of ordinary posts mixed into the group does not change the answer
    assert relative_similarity(other + same[:8], usual) < 0.2
    assert math.isnan(relative_similarity([], usual))
    assert relative_similarity(["rain wind"], ["rain wind"]) == pytest.approx(1.0)


@settings(max_examples=1, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(seed: int) -> None:
    posts = _world()
    shuffled = posts[:]
    random.Random(seed).shuffle(shuffled)
    with build(posts) as a, build(shuffled) as b:
        ta, tb = hashtag_signals(a), hashtag_signals(b)
    drop = ["evidence", "content_similarity"]
    assert ta.drop_columns(drop).to_pylist() == tb.drop_columns(drop).to_pylist()
    sa = ta.column("content_similarity").to_pylist()
    sb = tb.column("content_similarity").to_pylist()
    assert [x is None for x in sa] == [x is None for x in sb]
    assert [x for x in sa if x is not None] == pytest.approx([x for x in sb if x is not None])
