"""CooRTweet-style multi-row CSV, as in the German federal elections 2021 dataset.

Columns: ``account_id`` (``fb_…`` = Facebook, ``tw_…`` = Twitter), ``post_id``, ``url_id``,
``hashtag_id``, ``domain_id``, ``phash_id`` (anonymised perceptual hash of an image),
``timestamp`` (Unix seconds). A post with several URLs, hashtags or images spans several
rows; they are aggregated into one post with lists. The first row of a post becomes the
post (its line is ``source_record``); each further row of the same post is counted as
skipped with reason "row merged into its post".

The ids are anonymised, so URLs become reserved, never-resolvable pseudo URLs that keep
the URL-to-domain relation: ``https://d<domain_id>.anon.invalid/u<url_id>`` (``d0`` when
the row has no domain). A row with a domain but no URL adds the domain's root
``https://d<domain_id>.anon.invalid`` so co-domain analysis still sees it. Hashtag ids are
the hashtags; a ``phash_id`` goes to ``media.hash`` as ``phash:<id>``.

The whole file is aggregated in memory (rows of one post need not be adjacent); the real
dataset (219k rows) takes well under a second.
"""

from __future__ import annotations

from typing import IO, Any

from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._csv import header_of, iter_csv
from echoscope.ingest._util import unix_to_us

__all__ = ["CoortweetMulti"]

_PLATFORMS = {"fb": "facebook", "tw": "twitter", "ig": "instagram", "yt": "youtube",
              "tg": "telegram"}
_ID_COLS = ("url_id", "hashtag_id", "domain_id", "phash_id")


def platform_of(account_id: str, default: str) -> str:
    """``fb_123`` -> facebook, ``tw_9`` -> twitter; otherwise ``default``."""
    pre, sep, _ = account_id.partition("_")
    return _PLATFORMS.get(pre.lower(), default) if sep else default


class CoortweetMulti(Loader):
    name = "coortweet-multi"
    platform = "mixed"
    description = ("CooRTweet multi-row CSV (account_id, post_id, url_id, hashtag_id, "
                   "domain_id, phash_id, timestamp), e.g. the German elections 2021 data")
    suffixes = (".csv",)

    def sniff(self, head: bytes, filename: str) -> float:
        cols = set(header_of(head))
        if {"account_id", "post_id", "timestamp"} <= cols and cols & set(_ID_COLS):
            return 0.95
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        default = options.platform or "unknown"
        posts: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for line, raw, r, err in iter_csv(stream, required=("account_id", "post_id",
                                                            "timestamp"),
                                          path=sink.source_file):
            if r is None:
                sink.reject(line, raw, err or "unreadable record")
                continue
            acc = (r.get("account_id") or "").strip()
            pid = (r.get("post_id") or "").strip()
            ts = (r.get("timestamp") or "").strip()
            if not acc or not pid or not ts:
                missing = "account_id" if not acc else "post_id" if not pid else "timestamp"
                sink.reject(line, raw, f"missing field {missing}")
                continue
            try:
                created = unix_to_us(ts)
            except ValueError:
                sink.reject(line, raw, f"bad value: timestamp {ts!r} is not Unix seconds")
                continue
            plat = platform_of(acc, default)
            key = (plat, pid, acc, ts)
            p = posts.get(key)
            if p is None:
                p = posts[key] = {"line": line, "created": created, "urls": [], "tags": [],
                                  "media": []}
            else:
                sink.skip(line, "row merged into its post")
            url_id = (r.get("url_id") or "").strip()
            dom = (r.get("domain_id") or "").strip()
            if url_id:
                u = f"https://d{dom or '0'}.anon.invalid/u{url_id}"
            elif dom:
                u = f"https://d{dom}.anon.invalid"
            else:
                u = ""
            if u and u not in p["urls"]:
                p["urls"].append(u)
            tag = (r.get("hashtag_id") or "").strip()
            if tag and tag not in p["tags"]:
                p["tags"].append(tag)
            ph = (r.get("phash_id") or "").strip()
            if ph and all(m["hash"] != f"phash:{ph}" for m in p["media"]):
                p["media"].append({"media_id": None, "url": None, "hash": f"phash:{ph}"})
        for (plat, pid, acc, _), p in posts.items():
            sink.account(platform=plat, account_id=acc, seen_at=p["created"])
            sink.post(platform=plat, post_id=pid, account_id=acc, created_at=p["created"],
                      kind="post", urls=p["urls"], hashtags=p["tags"], media=p["media"],
                      record=p["line"])
