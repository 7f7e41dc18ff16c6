"""Twitter API v2 as twarc2 writes it: response pages, or flattened tweets (one per line).

A *page* is ``{data: [...], includes: {users, tweets, media}, meta, errors, __twarc}``:
authors, referenced tweets and media are resolved from ``includes``. A *flattened* line
(``twarc2 flatten``) is one tweet with ``author``, ``referenced_tweets[]`` (each with its
own ``author``) and ``attachments.media`` inlined. Both may be mixed in one file.

Record numbers count tweets (a page of 100 tweets is 100 records); a line that is not
valid JSON is one reject. A page with no ``data`` (only ``errors`` or ``meta``) is skipped
and counted. Retweets carry the original's full text and entities (the retweet's own
``text`` is cut at 140 characters), like the v1.1 loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._util import iso_to_us, iter_json_lines, json_int
from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag

__all__ = ["TwitterV2", "parse_v2_tweet"]

PLATFORM = "twitter"
_EMPTY: Mapping[str, Any] = {}




def _time(v: Any) -> int | None:
    return iso_to_us(v) if isinstance(v, str) and v else None


def _account(sink: Sink, user: Mapping[str, Any], seen_at: int | None) -> str | None:
    uid = user.get("id")
    if not uid:
        return None
    pm = user.get("public_metrics") or _EMPTY
    sink.account(
        platform=PLATFORM,
        account_id=str(uid),
        seen_at=seen_at,
        handle=user.get("username") or None,
        display_name=user.get("name") or None,
        created_at=_time(user.get("created_at")),
        followers=json_int(pm.get("followers_count")),
        following=json_int(pm.get("following_count")),
        posts_count=json_int(pm.get("tweet_count")),
        description=user.get("description") or None,
        profile_image_url=user.get("profile_image_url") or None,
    )
    return str(uid)


class _Includes:
    """Lookup tables of one page's ``includes`` (empty for flattened tweets)."""

    def __init__(self, inc: Mapping[str, Any] | None = None) -> None:
        inc = inc if isinstance(inc, Mapping) else _EMPTY
        self.users = {str(u["id"]): u for u in inc.get("users") or () if isinstance(u, dict)
                      and u.get("id")}
        self.tweets = {str(t["id"]): t for t in inc.get("tweets") or () if isinstance(t, dict)
                       and t.get("id")}
        self.media = {str(m["media_key"]): m for m in inc.get("media") or ()
                      if isinstance(m, dict) and m.get("media_key")}

    def author(self, t: Mapping[str, Any]) -> Mapping[str, Any] | None:
        a = t.get("author")
        if isinstance(a, Mapping) and a.get("id"):
            return a
        aid = t.get("author_id")
        return self.users.get(str(aid)) if aid else None

    def referenced(self, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
        # flattened: the reference carries the tweet; page: look it up in includes.tweets
        if ref.get("text") is not None or ref.get("author_id"):
            return ref
        return self.tweets.get(str(ref.get("id")))

    def media_of(self, t: Mapping[str, Any]) -> list[dict[str, str | None]]:
        att = t.get("attachments") or _EMPTY
        items = att.get("media")
        out: list[dict[str, str | None]] = []
        if isinstance(items, list) and items:
            src = [m for m in items if isinstance(m, Mapping)]
        else:
            src = [self.media[k] for k in att.get("media_keys") or () if k in self.media]
            known = {m.get("media_key") for m in src}
            src += [{"media_key": k} for k in att.get("media_keys") or () if k not in known]
        for m in src:
            out.append({
                "media_id": str(m["media_key"]) if m.get("media_key") else None,
                "url": m.get("url") or m.get("preview_image_url"),
                "hash": None,
            })
        return out


_KIND = {"retweeted": "repost", "replied_to": "reply", "quoted": "quote"}
_PRIORITY = ("retweeted", "replied_to", "quoted")


def parse_v2_tweet(t: Mapping[str, Any], inc: _Includes, sink: Sink, record: int) -> None:
    """Parse one v2 tweet (raises KeyError/ValueError/TypeError on a bad record)."""
    pid = t.get("id")
    if not pid or not isinstance(pid, (str, int)):
        raise KeyError("id")
    created_raw = t.get("created_at")
    if not isinstance(created_raw, str):
        raise KeyError("created_at")
    created = iso_to_us(created_raw)
    author_id = t.get("author_id") or (t.get("author") or _EMPTY).get("id")
    if not author_id:
        raise KeyError("author_id")
    author = inc.author(t)
    handle = None
    if author is not None:
        _account(sink, author, created)
        handle = author.get("username") or None
    else:
        sink.account(platform=PLATFORM, account_id=str(author_id), seen_at=created)

    refs = {r.get("type"): r for r in t.get("referenced_tweets") or () if isinstance(r, Mapping)}
    kind = "post"
    parent_id = parent_acc = None
    parent_time = None
    content: Mapping[str, Any] = t
    for typ in _PRIORITY:
        ref = refs.get(typ)
        if ref is None or not ref.get("id"):
            continue
        kind = _KIND[typ]
        parent_id = str(ref["id"])
        full = inc.referenced(ref)
        if full is not None:
            parent_time = _time(full.get("created_at"))
            pa_ = inc.author(full)
            if pa_ is not None:
                parent_acc = _account(sink, pa_, parent_time)
            elif full.get("author_id"):
                parent_acc = str(full["author_id"])
            if typ == "retweeted":
                content = full
        if parent_acc is None and typ == "replied_to" and t.get("in_reply_to_user_id"):
            parent_acc = str(t["in_reply_to_user_id"])
        break

    ents = content.get("entities") or _EMPTY
    urls: list[str] = []
    for u in ents.get("urls") or ():
        if not isinstance(u, Mapping) or u.get("media_key"):
            continue  # a link to the tweet's own photo: it is in media
        c = canonical_url(u.get("url"), u.get("unwound_url") or u.get("expanded_url"))
        if c and c not in urls:
            urls.append(c)
    hashtags = [normalise_hashtag(h["tag"]) for h in ents.get("hashtags") or ()
                if isinstance(h, Mapping) and h.get("tag")]
    mentions: list[str] = []
    mention_ids: list[str] = []
    for m in ents.get("mentions") or ():
        if not isinstance(m, Mapping):
            continue
        if m.get("username"):
            mentions.append(normalise_handle(str(m["username"])))
        if m.get("id"):
            mention_ids.append(str(m["id"]))
    sink.post(
        platform=PLATFORM,
        post_id=str(pid),
        account_id=str(author_id),
        handle=handle,
        created_at=created,
        kind=kind,
        text=str(content.get("text") or ""),
        lang=t.get("lang") or None,
        source_app=t.get("source") or None,
        parent_post_id=parent_id,
        parent_account_id=parent_acc,
        parent_created_at=parent_time,
        urls=urls,
        hashtags=hashtags,
        mentions=mentions,
        mention_ids=mention_ids,
        media=inc.media_of(content),
        record=record,
    )


def _one(t: Any, inc: _Includes, sink: Sink, record: int, raw: bytes | None) -> None:
    """Parse one tweet; ``raw`` None means "re-serialise the object if it is rejected"."""
    reason = None
    if not isinstance(t, Mapping):
        reason = f"not a tweet object: a JSON {type(t).__name__}"
    else:
        try:
            parse_v2_tweet(t, inc, sink, record)
        except KeyError as e:
            reason = f"missing field {e.args[0]}"
        except (ValueError, TypeError, AttributeError) as e:
            reason = f"bad value: {e}"
    if reason is not None:
        if raw is None:
            import orjson

            raw = orjson.dumps(t)
        sink.reject(record, raw, reason)


class TwitterV2(Loader):
    name = "twitter-v2"
    platform = PLATFORM
    description = "Twitter API v2 as twarc2 writes it: response pages or flattened tweets (JSONL)"
    suffixes = (".jsonl", ".json")

    def sniff(self, head: bytes, filename: str) -> float:
        h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not h.startswith(b"{"):
            return 0.0
        first = h[:8192]
        if first.startswith(b'{"data"') or first.startswith(b'{"data":'):
            return 0.95
        if b'"data"' in first and (b'"includes"' in first or b'"__twarc"' in first
                                   or b'"meta"' in first):
            return 0.9
        if b'"author_id"' in first and b'"id_str"' not in first and b'"created_at"' in first:
            return 0.85
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        record = 0
        for n, raw, obj, err in iter_json_lines(stream):
            if err is not None:
                record += 1
                sink.reject(record, raw, f"line {n}: {err}")
                continue
            if isinstance(obj, dict) and ("data" in obj or "includes" in obj
                                          or ("errors" in obj and "id" not in obj)
                                          or ("meta" in obj and "id" not in obj)):
                data = obj.get("data")
                if isinstance(data, dict):
                    data = [data]
                if not data:
                    record += 1
                    sink.skip(record, "page without tweets (only errors or meta)")
                    continue
                if not isinstance(data, list):
                    record += 1
                    sink.reject(record, raw, f"line {n}: page 'data' is not a list")
                    continue
                try:
                    inc = _Includes(obj.get("includes"))
                except (TypeError, AttributeError, KeyError) as e:
                    record += 1
                    sink.reject(record, raw, f"line {n}: bad includes: {e}")
                    continue
                for t in data:
                    record += 1
                    _one(t, inc, sink, record, None)
            else:
                record += 1
                _one(obj, _Includes(), sink, record, raw)
