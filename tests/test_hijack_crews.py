"""Hijack crews (echoscope.crews, ClusterParams.crew_tags): known answers, organic
confounders (trend followers, a popular site), invariants. Neutral invented content."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from echoscope import schema
from echoscope.actions import build_actions
from echoscope.cluster import ClusterParams, find_campaigns
from echoscope.crews import apart_hashtags, attach_crews, crew_matches
from echoscope.signals.hashtags import hashtag_crews
from test_signals_data import at, build

CREW = [f"k{i:02d}" for i in range(15)]
FOLLOWERS = [f"f{i}" for i in range(8)]
TRENDS = [("picnic", 10.0), ("marathon", 40.0), ("harvest", 70.0)]  # (tag, start hour)
WORDS = ["garden", "river", "bread", "music", "train", "paint", "field", "lamp", "kite"]


def _world(*, crew_site_users: int = 0, trends: int = 3, seed: int = 5) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    posts: list[dict[str, Any]] = []
    # background: 1000 people over five days, some linking a popular site
    for _ in range(6000):
        a = f"b{rnd.randrange(1000)}"
        u = [f"https://news.example/{rnd.randrange(500)}"] if rnd.random() < 0.3 else []
        posts.append(dict(account_id=a, created_at=at(rnd.uniform(0, 120)), urls=u,
                          text=" ".join(rnd.choices(WORDS, k=5))))
    for j, (tag, h) in enumerate(TRENDS[:trends]):
        # an organic trend: 25 people within four hours, ordinary content
        for i in range(25):
            posts.append(dict(account_id=f"t{j}_{i}", created_at=at(h + rnd.uniform(0, 4)),
                              hashtags=[tag], text=f"lovely {tag} today {i} #{tag}"))
        # trend followers join every trend, sharing the popular site
        for a in FOLLOWERS:
            posts.append(dict(account_id=a, created_at=at(h + rnd.uniform(0, 4)),
                              hashtags=[tag], urls=[f"https://news.example/{rnd.randrange(500)}"],
                              text=f"{tag} is on again #{tag}"))
        # the crew injects its own message and site into the trend
        for n, a in enumerate(CREW):
            posts.append(dict(account_id=a, created_at=at(h + rnd.uniform(0, 4)),
                              hashtags=[tag], urls=[f"https://crew-site.example/{j}-{n}"],
                              text=f"visit our lantern shop {n} {j} #{tag}"))
    # ordinary readers of the crew's site (posting it outside any trend)
    for i in range(crew_site_users):
        posts.append(dict(account_id=f"r{i}", created_at=at(rnd.uniform(0, 120)),
                          urls=[f"https://crew-site.example/r{i}"], text="a nice shop"))
    return posts


def _matches(posts: list[dict[str, Any]], min_tags: int = 2) -> list[Any]:
    with build(posts) as ws:
        build_actions(ws)
        return crew_matches(ws, owned_share=2 / 3, owned_partners=3, min_tags=min_tags)


def test_crew_found_and_followers_left_out() -> None:
    posts = _world()
    with build(posts) as ws:
        crews = hashtag_crews(ws)
    # the statistics of the hashtag signals see one crew: the injectors and the followers
    assert len(crews) == 1
    assert set(CREW) <= crews[0].accounts
    assert {b[0] for b in crews[0].bursts} == {t for t, _ in TRENDS}
    (m,) = _matches(posts)
    # only the accounts that pushed the crew's own site into the trends are members
    assert m.accounts == tuple(CREW)
    assert m.keys[0] == ("domain", "crew-site.example", 3)
    assert m.hashtags == ("harvest", "marathon", "picnic")
    assert "crew-site.example" in m.describe() and "#picnic" in m.describe()


def test_site_not_owned_by_the_crew_is_not_injected() -> None:
    # 40 ordinary readers post the site too: the crew makes up less than two thirds of it
    assert _matches(_world(crew_site_users=40)) == []


def test_raising_min_tags_never_adds() -> None:
    posts = _world()
    assert len(_matches(posts, min_tags=3)[0].accounts) == len(CREW)
    assert _matches(posts, min_tags=4) == []


def test_one_trend_is_not_a_crew() -> None:
    assert _matches(_world(trends=1)) == []


def test_find_campaigns_opt_in() -> None:
    with build(_world()) as ws:
        build_actions(ws)
        ws.replace("edges", schema.empty("edges"))
        off = find_campaigns(ws, ClusterParams(crew_tags=0))
        assert off.n_campaigns == 0
        on = find_campaigns(ws, ClusterParams(crew_tags=2))
        assert on.n_campaigns == 1
        camp = ws.table("campaigns").to_pylist()[0]
        assert "hijack_crew" in camp["signals"]
        assert "hijack crew: 15 accounts" in camp["summary"]
        assert camp["summary"].startswith("15 accounts, no co-action ties")
        members = sorted(ws.table("campaign_members").column("account_id").to_pylist())
        assert members == CREW
        assert set(ws.table("campaign_members").column("joined_by").to_pylist()) == {
            "hijack_crew"}
        ev = {(r["type"], r["key"]) for r in ws.table("campaign_evidence").to_pylist()}
        assert ("domain", "crew-site.example") in ev


def test_attach_joins_the_campaign_holding_most() -> None:
    members = pa.table({"account_id": pa.array([*CREW[:5], "x1", "x2", "x3"], pa.string()),
                        "cluster": pa.array([7] * 5 + [2] * 3, pa.int64())})
    with build(_world()) as ws:
        build_actions(ws)
        out, notes = attach_crews(ws, members, owned_share=2 / 3, owned_partners=3,
                                  min_tags=2, min_size=3)
    where = dict(zip(out.column("account_id").to_pylist(), out.column("cluster").to_pylist(),
                     strict=True))
    assert all(where[a] == 7 for a in CREW)
    assert where["x1"] == 2 and out.num_rows == len(CREW) + 3
    assert list(notes) == [7]


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(order: int) -> None:
    posts = _world(seed=9)
    base = _matches(posts)
    assert base
    shuffled = [dict(p, post_id=f"p{i}") for i, p in enumerate(posts)]
    random.Random(order).shuffle(shuffled)
    assert _matches(shuffled) == base


H = 3_600_000_000


def test_apart_hashtags_known_answers() -> None:
    # one post carrying two concurrent trending tags (and its reposts): one trend moment
    assert apart_hashtags([("a", 10 * H, 14 * H), ("b", 11 * H, 13 * H)]) == 1
    # adjacent hours are not apart either (the crews' own rule)
    assert apart_hashtags([("a", 10 * H, 14 * H), ("b", 14 * H, 16 * H)]) == 1
    assert apart_hashtags([("a", 10 * H, 14 * H), ("b", 15 * H, 16 * H)]) == 2
    # the same hashtag on another day counts once
    assert apart_hashtags([("a", 10 * H, 14 * H), ("a", 40 * H, 44 * H)]) == 1
    assert apart_hashtags([]) == 0


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 50), st.integers(1, 6)),
                max_size=12), st.randoms(use_true_random=False))
def test_apart_hashtags_bounded_and_order_free(raw: list[tuple[str, int, int]],
                                               rnd: random.Random) -> None:
    bursts = [(t, h * H, (h + d) * H) for t, h, d in raw]
    n = apart_hashtags(bursts)
    assert n <= len({t for t, _, _ in bursts})
    assert (n == 0) == (not bursts)
    shuffled = list(bursts)
    rnd.shuffle(shuffled)
    assert apart_hashtags(shuffled) == n


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 3)), min_size=2, max_size=8),
       st.dictionaries(st.integers(0, 24), st.sets(st.sampled_from([f"a{i}" for i in range(12)]),
                                                     max_size=8), max_size=25),
       st.data())
def test_online_union_is_the_union_of_the_hours(spans: list[tuple[int, int]],
                                                online: dict[int, set[str]],
                                                data: st.DataObject) -> None:
    # the crews' population of a burst pair (signals.hashtags._online_union) is exactly
    # the accounts online in the hours of either burst
    from echoscope.signals.hashtags import _Episode, _online_union

    eps = [_Episode(f"t{k}", h0, h0 + d) for k, (h0, d) in enumerate(spans)]
    n = len(eps)
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                               min_size=1, max_size=10))
    ci = np.array([a for a, _ in pairs], dtype=np.int64)
    cj = np.array([b for _, b in pairs], dtype=np.int64)
    got = _online_union(eps, online, ci, cj)
    for k, (a, b) in enumerate(pairs):
        hours = {*range(eps[a].h0, eps[a].h1 + 1), *range(eps[b].h0, eps[b].h1 + 1)}
        assert got[k] == len(set().union(*(online.get(h, set()) for h in hours)))
