"""twarc-csv output (``twarc2 csv``, 0.7.x: 84 columns, JSON-encoded list cells).

``--merge-retweets`` (twarc-csv's default) gives a retweet row the original's text,
entities and attachments while keeping its own author: that is the convention of every
loader here (a repost carries the original's full text). twarc-csv writes newlines in text
as the two characters ``\\n``; they are turned back into newlines. ``entities.urls`` holds
expanded URLs, including ``pic.twitter.com/...`` display links of the tweet's own media,
which are dropped (the media are in ``attachments.media``).
"""

from __future__ import annotations

from typing import IO

import orjson

from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._csv import header_of, iter_csv, parse_list_cell
from echoscope.ingest._util import csv_int, iso_to_us
from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag

__all__ = ["TwarcCsv"]

PLATFORM = "twitter"
REQUIRED = ("id", "author_id", "created_at", "text")




def _parse_row(r: dict[str, str], sink: Sink, record: int) -> None:
    pid = r.get("id", "").strip()
    if not pid:
        raise KeyError("id")
    aid = (r.get("author_id") or r.get("author.id") or "").strip()
    if not aid:
        raise KeyError("author_id")
    if not r.get("created_at"):
        raise KeyError("created_at")
    created = iso_to_us(r["created_at"])
    handle = r.get("author.username") or None
    sink.account(
        platform=PLATFORM, account_id=aid, seen_at=created, handle=handle,
        display_name=r.get("author.name") or None,
        created_at=iso_to_us(r["author.created_at"]) if r.get("author.created_at") else None,
        followers=csv_int(r.get("author.public_metrics.followers_count")),
        following=csv_int(r.get("author.public_metrics.following_count")),
        posts_count=csv_int(r.get("author.public_metrics.tweet_count")),
        description=r.get("author.description") or None,
        profile_image_url=r.get("author.profile_image_url") or None,
    )
    kind = "post"
    parent = parent_acc = parent_handle = None
    for col, k, ucol, hcol in (
        ("referenced_tweets.retweeted.id", "repost", "retweeted_user_id", "retweeted_username"),
        ("referenced_tweets.replied_to.id", "reply", "in_reply_to_user_id",
         "in_reply_to_username"),
        ("referenced_tweets.quoted.id", "quote", "quoted_user_id", "quoted_username"),
    ):
        if r.get(col):
            kind, parent = k, r[col].strip()
            parent_acc = (r.get(ucol) or "").strip() or None
            parent_handle = r.get(hcol) or None
            break
    if parent_acc and parent_handle:
        sink.account(platform=PLATFORM, account_id=parent_acc, seen_at=None,
                     handle=parent_handle)
    urls: list[str] = []
    for u in parse_list_cell(r.get("entities.urls")):
        if u.startswith(("pic.twitter.com/", "pic.x.com/")):
            continue
        c = canonical_url(u)
        if c and c not in urls:
            urls.append(c)
    media: list[dict[str, str | None]] = []
    if r.get("attachments.media"):
        items = orjson.loads(r["attachments.media"])
        if not isinstance(items, list):
            raise ValueError("attachments.media is not a JSON list")
        for m in items:
            if isinstance(m, dict):
                media.append({"media_id": m.get("media_key"),
                              "url": m.get("url") or m.get("preview_image_url"), "hash": None})
    else:
        media = [{"media_id": k, "url": None, "hash": None}
                 for k in parse_list_cell(r.get("attachments.media_keys"))]
    sink.post(
        platform=PLATFORM, post_id=pid, account_id=aid, handle=handle, created_at=created,
        kind=kind, text=(r.get("text") or "").replace("\\n", "\n"),
        lang=r.get("lang") or None, source_app=r.get("source") or None,
        parent_post_id=parent, parent_account_id=parent_acc,
        urls=urls,
        hashtags=[normalise_hashtag(h) for h in parse_list_cell(r.get("entities.hashtags"))],
        mentions=[normalise_handle(m) for m in parse_list_cell(r.get("entities.mentions"))],
        media=media, record=record,
    )


class TwarcCsv(Loader):
    name = "twarc-csv"
    platform = PLATFORM
    description = "twarc-csv CSV (twarc2 csv), 84 columns with JSON-encoded lists"
    suffixes = (".csv",)

    def sniff(self, head: bytes, filename: str) -> float:
        cols = set(header_of(head))
        if {"id", "author_id", "created_at", "text"} <= cols and (
            "referenced_tweets.retweeted.id" in cols or "author.username" in cols
        ):
            return 0.95
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        for n, raw, row, err in iter_csv(stream, required=REQUIRED, path=sink.source_file):
            if row is None:
                sink.reject(n, raw, err or "unreadable record")
                continue
            try:
                _parse_row(row, sink, n)
            except KeyError as e:
                sink.reject(n, raw, f"missing field {e.args[0]}")
            except (ValueError, TypeError, orjson.JSONDecodeError) as e:
                sink.reject(n, raw, f"bad value: {e}")
