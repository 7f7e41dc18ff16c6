"""IRA troll tweets: FiveThirtyEight's ``russian-troll-tweets`` CSVs and the bet4a re-split.

bet4a columns: ``author_id, content, region, language, publish_date, harvested_date,
following, followers, updates, post_type, retweet`` (``publish_date`` =
``YYYY-MM-DD HH:MM:SS``, minute precision, UTC; ``post_type`` empty / ``R`` / ``Q``).
FiveThirtyEight columns add ``author``, ``tweet_id``, ``alt_external_id``, ``tco1_step1``...
(``publish_date`` = ``M/D/YYYY H:MM``; ``post_type`` ``RETWEET`` / ``QUOTE_TWEET``).

Accounts are identified by their handle (``author`` or bet4a's ``author_id``), case-folded,
so both releases name an account the same way (538's numeric ``external_author_id`` is
float-mangled).

The bet4a files have **no tweet ids**. A stable ``post_id`` is synthesised as
``ira:`` + the first 16 hex digits of BLAKE2b over (handle, publish time, content, n), where
n counts earlier rows of the same file with the same handle, time and content. The same row
therefore gets the same id whenever the file is read, and two identical tweets by one
account in the same minute stay two posts. Retweets carry the retweeted text without the
``RT @`` prefix, so the retweeted account and post are unknown (``parent_post_id`` empty).
URLs (the ``t.co`` links in the text, or 538's ``tco*_step1`` first redirects), hashtags
and mentions are taken from the text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import IO

from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._csv import header_of, iter_csv
from echoscope.ingest._util import csv_int, entities_from_text
from echoscope.normalise import canonical_url, normalise_handle

__all__ = ["IraCsv", "synthetic_post_id"]

PLATFORM = "twitter"
_EPOCH = dt.datetime(1970, 1, 1)
_KINDS = {"r": "repost", "retweet": "repost", "q": "quote", "quote_tweet": "quote"}


def _time_us(s: str) -> int:
    s = s.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"):
        try:
            d = dt.datetime.strptime(s, fmt)
        except ValueError:
            continue
        delta = d - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000
    raise ValueError(f"unrecognised publish_date {s!r}")




def synthetic_post_id(handle: str, publish_date: str, content: str, n: int) -> str:
    """The stable id of a tweet row that has none (see the module docstring)."""
    h = hashlib.blake2b(digest_size=8)
    for part in (handle, publish_date.strip(), content, str(n)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return "ira:" + h.hexdigest()


class IraCsv(Loader):
    name = "ira"
    platform = PLATFORM
    description = ("IRA troll tweets CSV (FiveThirtyEight russian-troll-tweets, or the bet4a "
                   "per-author re-split); post ids synthesised where missing")
    suffixes = (".csv",)

    def sniff(self, head: bytes, filename: str) -> float:
        cols = set(header_of(head))
        if {"content", "publish_date", "post_type"} <= cols and (
            "author" in cols or "author_id" in cols
        ):
            return 0.95
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        platform = options.platform or PLATFORM
        seen: dict[tuple[str, str, str], int] = {}
        for line, raw, r, err in iter_csv(stream, required=("content", "publish_date"),
                                          path=sink.source_file):
            if r is None:
                sink.reject(line, raw, err or "unreadable record")
                continue
            author = (r.get("author") or r.get("author_id") or "").strip()
            if not author:
                sink.reject(line, raw, "missing field author")
                continue
            pd = (r.get("publish_date") or "").strip()
            try:
                created = _time_us(pd)
            except ValueError as e:
                sink.reject(line, raw, f"bad value: {e}")
                continue
            handle = normalise_handle(author)
            content = r.get("content") or ""
            pid = (r.get("tweet_id") or "").strip()
            if not pid:
                key = (handle, pd, content)
                n = seen.get(key, 0)
                seen[key] = n + 1
                pid = synthetic_post_id(handle, pd, content, n)
            sink.account(
                platform=platform, account_id=handle, seen_at=created, handle=author,
                followers=csv_int(r.get("followers")), following=csv_int(r.get("following")),
                posts_count=csv_int(r.get("updates")),
            )
            kind = _KINDS.get((r.get("post_type") or "").strip().lower(), "post")
            if kind == "post" and (r.get("retweet") or "").strip() == "1":
                kind = "repost"
            urls, tags, mentions = entities_from_text(content)
            step1 = [canonical_url(r[c]) for c in ("tco1_step1", "tco2_step1", "tco3_step1")
                     if r.get(c)]
            if any(step1):
                urls = [u for u in step1 if u]
            sink.post(
                platform=platform, post_id=pid, account_id=handle, handle=author,
                created_at=created, kind=kind, text=content,
                lang=(r.get("language") or None), urls=urls, hashtags=tags,
                mentions=mentions, record=line,
            )
