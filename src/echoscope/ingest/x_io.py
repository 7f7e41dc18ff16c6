"""X/Twitter information-operations archive CSVs (the "hashed" releases).

The tweets file (``<set>_tweets_csv_hashed.csv``, 31 columns) gives one post per row:
``tweet_time`` is minute precision (``YYYY-MM-DD HH:MM``, UTC); ids of small accounts are
hashes; list columns are Python-list text (``['http://a']``, ``[123]``, ``[tag]``); the
literal ``absent`` stands for a missing value; counts are floats (``4.0``). ``is_retweet``
(``True``/``False``) makes a repost of ``retweet_tweetid``; ``in_reply_to_tweetid`` a reply;
``quoted_tweet_tweetid`` a quote. Retweet rows keep their ``RT @name:`` text (the text
normaliser removes it). ``user_mentions`` holds account ids (hashed where the account is).

The users file (``<set>_users_csv_hashed.csv``) fills ``accounts``: it is read when given
with ``--users FILE``, or found automatically beside a tweets file of the same set. Ingested
on its own it adds accounts only (every row counted as skipped: "account row").

Columns are matched by name, never by position (column orders differ between releases).
Hashed ids are consistent inside one release but not across releases.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import IO

from echoscope.errors import InputError
from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._csv import header_of, iter_csv, parse_list_cell
from echoscope.ingest._util import csv_int
from echoscope.normalise import canonical_url, normalise_hashtag

__all__ = ["XInfoOps", "users_file_beside"]

PLATFORM = "twitter"
TWEET_COLUMNS = ("tweetid", "userid", "tweet_time")
_EPOCH = dt.datetime(1970, 1, 1)
_MISSING = ("", "absent", "None", "nan", "NaN")


def _v(r: dict[str, str], k: str) -> str | None:
    v = r.get(k)
    if v is None:
        return None
    v = v.strip()
    return None if v in _MISSING else v




def _time_us(s: str) -> int:
    """``2018-12-02 14:07`` (or with seconds, or a date) as UTC microseconds."""
    s = s.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            d = dt.datetime.strptime(s, fmt)
        except ValueError:
            continue
        delta = d - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000
    raise ValueError(f"unrecognised time {s!r} (expected YYYY-MM-DD HH:MM)")


def users_file_beside(path: str) -> str | None:
    """The users file of the same release beside a ``*_tweets_csv_hashed.csv`` file."""
    m = re.match(r"^(.*)_tweets_csv_(un)?hashed(\.csv(?:\.gz|\.zst)?)$", path)
    if not m:
        return None
    base, un, _ = m.groups()
    for ext in (".csv", ".csv.gz", ".csv.zst"):
        cand = f"{base}_users_csv_{un or ''}hashed{ext}"
        if os.path.isfile(cand):
            return cand
    return None


def _account(sink: Sink, r: dict[str, str], platform: str) -> str:
    uid = _v(r, "userid")
    if uid is None:
        raise KeyError("userid")
    created = _v(r, "account_creation_date")
    sink.account(
        platform=platform, account_id=uid, seen_at=None,
        handle=_v(r, "user_screen_name"), display_name=_v(r, "user_display_name"),
        created_at=_time_us(created) if created else None,
        followers=csv_int(_v(r, "follower_count")), following=csv_int(_v(r, "following_count")),
        description=_v(r, "user_profile_description"),
    )
    return uid


def _parse_tweet(r: dict[str, str], sink: Sink, record: int, platform: str) -> None:
    pid = _v(r, "tweetid")
    if pid is None:
        raise KeyError("tweetid")
    t = _v(r, "tweet_time")
    if t is None:
        raise KeyError("tweet_time")
    created = _time_us(t)
    uid = _account(sink, r, platform)
    # the profile columns are the archive's snapshot; the tweet time marks activity
    sink.account(platform=platform, account_id=uid, seen_at=created)
    is_rt = (_v(r, "is_retweet") or "").lower() in ("true", "1", "yes")
    kind, parent, parent_acc = "post", None, None
    if is_rt or _v(r, "retweet_tweetid"):
        kind, parent, parent_acc = "repost", _v(r, "retweet_tweetid"), _v(r, "retweet_userid")
    elif _v(r, "in_reply_to_tweetid"):
        kind, parent, parent_acc = "reply", _v(r, "in_reply_to_tweetid"), _v(
            r, "in_reply_to_userid")
    elif _v(r, "quoted_tweet_tweetid"):
        kind, parent = "quote", _v(r, "quoted_tweet_tweetid")
    urls: list[str] = []
    for u in parse_list_cell(r.get("urls")):
        c = canonical_url(u)
        if c and c not in urls:
            urls.append(c)
    sink.post(
        platform=platform, post_id=pid, account_id=uid, handle=_v(r, "user_screen_name"),
        created_at=created, kind=kind, text=r.get("tweet_text") or "",
        lang=_v(r, "tweet_language"), source_app=_v(r, "tweet_client_name"),
        parent_post_id=parent, parent_account_id=parent_acc, urls=urls,
        hashtags=[normalise_hashtag(h) for h in parse_list_cell(r.get("hashtags"))],
        mention_ids=parse_list_cell(r.get("user_mentions")), record=record,
    )


def _read_users(path: str, sink: Sink, platform: str) -> None:
    from echoscope.ingest._io import open_input

    stream = open_input(path)
    try:
        for n, _raw, row, err in iter_csv(stream, required=("userid",), path=path):
            if row is None:
                raise InputError(f"{path}, line {n}: {err}", path=path)
            try:
                _account(sink, row, platform)
            except (KeyError, ValueError) as e:
                raise InputError(f"{path}, line {n}: bad users row ({e}).", path=path) from None
    finally:
        stream.close()


class XInfoOps(Loader):
    name = "x-io"
    platform = PLATFORM
    description = ("X/Twitter information-operations archive CSV (tweets file; users file "
                   "with --users or found beside it)")
    suffixes = (".csv",)

    def sniff(self, head: bytes, filename: str) -> float:
        cols = set(header_of(head))
        if set(TWEET_COLUMNS) <= cols:
            return 0.95
        if {"userid", "user_screen_name", "account_creation_date"} <= cols:
            return 0.9
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        platform = options.platform or PLATFORM
        users = options.users_file or users_file_beside(sink.source_file)
        if users:
            _read_users(users, sink, platform)
        tweets_mode: bool | None = None
        for n, raw, row, err in iter_csv(stream, required=("userid",), path=sink.source_file):
            if row is None:
                sink.reject(n, raw, err or "unreadable record")
                continue
            if tweets_mode is None:
                tweets_mode = "tweetid" in row
            try:
                if tweets_mode:
                    _parse_tweet(row, sink, n, platform)
                else:
                    _account(sink, row, platform)
                    sink.skip(n, "account row (users file)")
            except KeyError as e:
                sink.reject(n, raw, f"missing field {e.args[0]}")
            except ValueError as e:
                sink.reject(n, raw, f"bad value: {e}")
