"""Simulator: determinism, exact sizes, ingestibility, statistical properties, truth."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from echoscope.errors import ParameterError
from echoscope.ingest import ingest_files
from echoscope.simulate import SimParams, simulate
from echoscope.simulate._names import derive_handle
from echoscope.simulate._writers import _civil, v1_time

SMALL = SimParams(posts=3000, seed=7, days=4.0)


def _tweets(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return [orjson.loads(line) for line in fh]


def _ts(t: dict[str, Any]) -> float:
    return dt.datetime.strptime(t["created_at"], "%a %b %d %H:%M:%S %z %Y").timestamp()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]],
                                                              dict[str, Any]]:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, SMALL)
    return out, _tweets(out / "tweets.jsonl"), orjson.loads((out / "truth.json").read_bytes())


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]],
                                                               dict[str, Any]]:
    out = tmp_path_factory.mktemp("sim_medium")
    simulate(out, SimParams(posts=20_000, seed=11, days=7.0, relay_delay=120.0,
                            relay_spread=300.0))
    return out, _tweets(out / "tweets.jsonl"), orjson.loads((out / "truth.json").read_bytes())


def test_exact_post_count_and_time_order(small: Any) -> None:
    _, tweets, truth = small
    assert len(tweets) == SMALL.posts == truth["posts"]
    assert len({t["id_str"] for t in tweets}) == len(tweets)
    times = [_ts(t) for t in tweets]
    assert times == sorted(times)


def test_twitter_v1_fields_as_twarc1_writes_them(small: Any) -> None:
    _, tweets, _ = small
    kinds = Counter()
    for t in tweets:
        assert t["id_str"] == str(t["id"])
        assert v1_time(0) == "Thu Jan 01 00:00:00 +0000 1970"
        assert t["created_at"].endswith("+0000 2014")
        assert t["source"].startswith("<a href=") and t["source"].endswith("</a>")
        u = t["user"]
        for k in ("id_str", "screen_name", "name", "created_at", "followers_count",
                  "friends_count", "statuses_count", "profile_image_url_https"):
            assert k in u
        for kind in ("hashtags", "urls", "user_mentions"):
            assert isinstance(t["entities"][kind], list)
        for h in t["entities"]["hashtags"]:  # indices are code-point offsets into text
            a, b = h["indices"]
            assert t["text"][a:b] == "#" + h["text"]
        for u2 in t["entities"]["urls"]:
            a, b = u2["indices"]
            assert t["text"][a:b] == u2["url"] and u2["url"].startswith("http://t.co/")
        if "retweeted_status" in t:
            kinds["repost"] += 1
            rt = t["retweeted_status"]
            assert t["text"].startswith(f"RT @{rt['user']['screen_name']}: ")
            assert "retweeted_status" not in rt
        elif t["in_reply_to_status_id_str"]:
            kinds["reply"] += 1
            assert t["text"].startswith("@" + t["in_reply_to_screen_name"])
        elif t["is_quote_status"]:
            kinds["quote"] += 1
            assert t["quoted_status"]["id_str"] == t["quoted_status_id_str"]
        else:
            kinds["post"] += 1
        for m in t.get("extended_entities", {}).get("media", []):
            assert len(m["phash"]) == 64 and m["type"] == "photo"
    assert all(kinds[k] > 0 for k in ("post", "repost", "reply", "quote")), kinds


def test_civil_matches_datetime() -> None:
    for t in (0, 1_402_650_764_000_000, 951_782_400_000_000, 4_107_542_399_000_000):
        d = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=t)
        y, m, day, hh, mm, ss, wd = _civil(t)
        assert (y, m, day, hh, mm, ss, wd) == (d.year, d.month, d.day, d.hour, d.minute,
                                              d.second, d.weekday())


def test_ingest_reads_every_record(small: Any, tmp_path: Path) -> None:
    out, _, _ = small
    s = ingest_files([out / "tweets.jsonl"], tmp_path / "ws.duckdb")
    f = s.files[0]
    assert f.format == "twitter-v1"
    assert (f.records, f.posts, f.rejects) == (SMALL.posts, SMALL.posts, 0)


@pytest.mark.parametrize("fmt,files", [
    ("twitter-v2", ["tweets.jsonl"]),
    ("cnt-csv", ["messages.csv"]),
    ("x-io", ["sim_tweets_csv_unhashed.csv"]),
])
def test_other_formats_hold_the_same_posts(fmt: str, files: list[str], small: Any,
                                          tmp_path: Path) -> None:
    out = tmp_path / "out"
    simulate(out, SMALL.replace(format=fmt))
    kw = {"users_file": str(out / "sim_users_csv_unhashed.csv")} if fmt == "x-io" else {}
    s = ingest_files([out / f for f in files], tmp_path / "ws.duckdb", format=fmt, **kw)
    assert (s.records, s.new_posts, s.rejects) == (SMALL.posts, SMALL.posts, 0)
    # the same seed gives the same posts and truth in every format
    assert (out / "truth.json").read_bytes().replace(fmt.encode(), b"twitter-v1") == \
        (small[0] / "truth.json").read_bytes()


def test_deterministic_per_seed(small: Any, tmp_path: Path) -> None:
    out, _, _ = small
    simulate(tmp_path / "again", SMALL)
    for name in ("tweets.jsonl", "truth.json", "suspended.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    simulate(tmp_path / "other", SMALL.replace(seed=8))
    assert (tmp_path / "other" / "tweets.jsonl").read_bytes() != \
        (out / "tweets.jsonl").read_bytes()


def test_activity_is_heavy_tailed(medium: Any) -> None:
    _, tweets, _ = medium
    per = np.array(sorted(Counter(t["user"]["id_str"] for t in tweets).values()))[::-1]
    top1 = per[: max(1, len(per) // 100)].sum() / per.sum()
    assert top1 > 0.08, top1        # top 1% of accounts write > 8% of posts
    assert per[0] > 20 * np.median(per)
    assert (per == 1).mean() > 0.1  # many accounts post once


def test_diurnal_cycle(medium: Any) -> None:
    _, tweets, _ = medium
    hours = Counter(int(t["created_at"][11:13]) for t in tweets
                    if "Scheduler" not in t["source"] and "Bot" not in t["source"])
    counts = np.array([hours[h] for h in range(24)], dtype=float)
    assert counts.max() > 1.5 * counts.min()
    # smooth cycle: neighbouring hours are closer than far-apart hours
    assert np.corrcoef(counts, np.roll(counts, 1))[0, 1] > 0.5


def test_app_relay_copies_are_staggered_by_the_configured_delays(medium: Any) -> None:
    _, tweets, truth = medium
    relay = next(c for c in truth["campaigns"] if c["style"] == "app_relay")
    orig_time = {t["id_str"]: _ts(t) for t in tweets if t["user"]["id_str"] == relay["hub"]}
    delays = [_ts(t) - orig_time[t["retweeted_status"]["id_str"]] for t in tweets
              if "retweeted_status" in t and t["retweeted_status"]["id_str"] in orig_time
              and relay["app"] in t["source"]]
    assert len(delays) > 50
    assert min(delays) >= 120 - 1 and max(delays) <= 420 + 1
    assert np.std(delays) > 60  # staggered, not simultaneous
    assert relay["relay_delay_s"] == [120.0, 420.0]


def test_breaking_news_cascade_is_fast_and_wide(medium: Any) -> None:
    _, tweets, truth = medium
    news = set(truth["hard_negatives"]["breaking_news"])
    by_parent: dict[str, list[str]] = defaultdict(list)
    for t in tweets:
        if "retweeted_status" in t and t["user"]["id_str"] in news:
            by_parent[t["retweeted_status"]["id_str"]].append(t["user"]["id_str"])
    biggest = max(len(v) for v in by_parent.values())
    assert biggest >= 50
    assert all(truth["accounts"][a] == "organic" for a in news)


def test_truth_is_consistent_with_the_data(medium: Any) -> None:
    out, tweets, truth = medium
    posters = {t["user"]["id_str"] for t in tweets}
    assert set(truth["accounts"]) == posters
    handle = {t["user"]["id_str"]: t["user"]["screen_name"] for t in tweets}
    name = {t["user"]["id_str"]: t["user"]["name"] for t in tweets}
    avatar = {t["user"]["id_str"]: t["user"]["profile_image_url_https"] for t in tweets}
    labels = Counter(truth["accounts"].values())
    assert labels["organic"] > labels["benign_automation"] > 0
    styles = {c["style"] for c in truth["campaigns"]}
    assert styles == set(SimParams().styles)
    for c in truth["campaigns"]:
        assert c["members"] and all(truth["accounts"][m] == c["name"] for m in c["members"])
        assert set(c["low_participation"]) <= set(c["members"])
    # suspended accounts post nothing after their suspension
    with open(out / "suspended.csv", newline="") as fh:
        susp = {r["user_id"]: dt.datetime.fromisoformat(r["suspended_at"].replace("Z", "+00:00"))
                .timestamp() for r in csv.DictReader(fh)}
    last: dict[str, float] = {}
    first: dict[str, float] = {}
    for t in tweets:
        a = t["user"]["id_str"]
        last[a] = max(last.get(a, 0.0), _ts(t))
        first.setdefault(a, _ts(t))
    for a, s in susp.items():
        assert last.get(a, 0.0) < s
    # re-created accounts: derived handle, same name and avatar, created after suspension,
    # mentioned by the old network soon after creation
    assert truth["reincarnations"]
    for r in truth["reincarnations"]:
        o, n = r["old_account_id"], r["new_account_id"]
        assert o in susp and handle[n] == r["new_handle"] and handle.get(o, r["old_handle"]) \
            == r["old_handle"]
        assert r["new_handle"] in {derive_handle(r["old_handle"], v) for v in range(4)} or \
            r["new_handle"][:8] == r["old_handle"][:8]
        assert name[n] == name.get(o, name[n]) and (o not in avatar or avatar[n] == avatar[o])
        assert first[n] > susp[o]
    mentioned = {m["id_str"] for t in tweets for m in t["entities"]["user_mentions"]}
    assert sum(r["new_account_id"] in mentioned for r in truth["reincarnations"]) >= 1
    # storms happen at the storm hour; hijacked tags are organically trending too
    storm = truth["hashtags"]["storms"][0]
    hours = {h[11:13] for h in storm["hours"]}
    assert hours == {f"{SimParams().storm_hour:02d}"}
    trending = {x["hashtag"] for x in truth["hashtags"]["trending"]}
    assert {h["hashtag"] for h in truth["hashtags"]["hijacks"]} <= trending
    storm_posts = [t for t in tweets if any(h["text"].lower() == storm["hashtag"]
                                             for h in t["entities"]["hashtags"])]
    assert storm_posts and all(t["created_at"][11:13] == hours.pop() or True
                               for t in storm_posts[:1])
    assert sum(t["created_at"][11:13] == f"{SimParams().storm_hour:02d}"
               for t in storm_posts) / len(storm_posts) > 0.9
    # image reposts share (near-)identical perceptual hashes under new media ids
    img = next(c for c in truth["campaigns"] if c["style"] == "image_repost")
    ref = [int(h, 16) for h in img["images"]]
    close = [m for t in tweets for m in t.get("extended_entities", {}).get("media", [])
             if min(bin(int(m["phash"], 16) ^ r).count("1") for r in ref) <= 8]
    assert len(close) > 10 and len({m["id_str"] for m in close}) == len(close)


def test_lookalike_handles_are_organic(medium: Any) -> None:
    _, _, truth = medium
    look = truth["hard_negatives"]["lookalike_handles"]
    assert look and all(truth["accounts"][a] == "organic" for a in look)


def test_derive_handle_variants() -> None:
    assert derive_handle("tavo_keth7", 0) == "tavo_keth8"
    assert derive_handle("tavoketh", 0) == "tavoketh2"
    assert derive_handle("tavoketh", 1) != "tavoketh"
    assert sorted(derive_handle("tavoketh", 2)) == sorted("tavoketh" + "a")


def test_bad_parameters_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="posts"):
        SimParams(posts=10)
    with pytest.raises(ParameterError, match="start"):
        SimParams(start="June 2014")
    with pytest.raises(ParameterError, match="format"):
        SimParams(format="myspace")
    with pytest.raises(ParameterError):
        simulate(tmp_path, SimParams(posts=300, campaign_share=0.5, hard_negative_share=0.5))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(posts=st.integers(400, 2500), seed=st.integers(0, 2**32),
       days=st.sampled_from([1.0, 2.5, 6.0]))
def test_any_size_gives_exact_count_and_consistent_truth(tmp_path: Path, posts: int, seed: int,
                                                        days: float) -> None:
    out = tmp_path / f"h{seed}_{posts}"
    res = simulate(out, SimParams(posts=posts, seed=seed, days=days))
    tweets = _tweets(out / "tweets.jsonl")
    truth = orjson.loads((out / "truth.json").read_bytes())
    assert len(tweets) == res.posts == posts
    assert set(truth["accounts"]) == {t["user"]["id_str"] for t in tweets}
    assert len({t["id_str"] for t in tweets}) == posts
