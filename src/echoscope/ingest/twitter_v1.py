"""Twitter API v1.1 tweets as twarc1 (and tweepy, Gnip original format) write them.

One tweet object per line (JSONL), or a JSON array / single object. Handles ``text``,
``full_text`` and ``extended_tweet.full_text``; retweets via ``retweeted_status`` (the
post's text is the original's full text); quotes; replies; entities and
``extended_entities.media``; ``source`` anchors -> app names. Non-tweet lines (``delete``,
``limit``, ``warning`` notices) are skipped and counted.
"""

from __future__ import annotations

import io
import os
from typing import IO, Any

import orjson

from echoscope.errors import InputError, ParameterError
from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._util import (
    app_from_source,
    iter_json_lines,
    json_int,
    twitter_time_to_us,
)
from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag

__all__ = ["TwitterV1"]

PLATFORM = "twitter"
#: which fast path ``load_fast`` takes: "struct" (msgspec typed decoding, the default),
#: "parallel" (the struct path in 2 processes, see ``_v1_parallel``) or "sql" (DuckDB);
#: see benchmarks/RESULTS.md "Ingest". Any other value is an error when a file is read.
V1_PATH = os.environ.get("ECHOSCOPE_V1_PATH") or "struct"
V1_PATHS = ("struct", "parallel", "sql")
_NOTICES = ("delete", "limit", "warning", "scrub_geo", "status_withheld", "user_withheld",
            "disconnect", "event", "friends")


def _full_text(t: dict[str, Any]) -> str:
    ext = t.get("extended_tweet")
    if isinstance(ext, dict) and ext.get("full_text"):
        return str(ext["full_text"])
    return str(t.get("full_text") or t.get("text") or "")


def _entities(t: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    ext = t.get("extended_tweet")
    if isinstance(ext, dict) and ext.get("entities"):
        return ext.get("entities") or {}, ext.get("extended_entities") or {}
    return t.get("entities") or {}, t.get("extended_entities") or {}


def _text(v: Any, field: str) -> str | None:
    """A text field: a string or null; any other type is a bad value (a reject)."""
    if v is None or isinstance(v, str):
        return v
    raise TypeError(f"{field} is a JSON {type(v).__name__}, not a string")


def _user_account(sink: Sink, user: dict[str, Any], seen_at: int | None) -> tuple[str, str | None]:
    uid = user.get("id_str") or (str(user["id"]) if user.get("id") is not None else None)
    if not uid:
        raise KeyError("user.id_str")
    handle = _text(user.get("screen_name"), "user.screen_name")
    created = user.get("created_at")
    sink.account(
        platform=PLATFORM,
        account_id=str(uid),
        seen_at=seen_at,
        handle=handle,
        display_name=_text(user.get("name"), "user.name"),
        created_at=twitter_time_to_us(created) if isinstance(created, str) else None,
        followers=json_int(user.get("followers_count")),
        following=json_int(user.get("friends_count")),
        posts_count=json_int(user.get("statuses_count")),
        description=_text(user.get("description"), "user.description"),
        profile_image_url=_text(user.get("profile_image_url_https")
                                or user.get("profile_image_url"), "user.profile_image_url"),
    )
    return str(uid), handle




def _id(t: dict[str, Any], key: str) -> str | None:
    v = t.get(key + "_str")
    if v:
        return str(v)
    v = t.get(key)
    return str(v) if v is not None else None


def parse_tweet(t: dict[str, Any], sink: Sink, record: int) -> None:
    """Parse one v1.1 tweet object into the sink (raises KeyError/ValueError/TypeError)."""
    pid = _id(t, "id")
    if not pid:
        raise KeyError("id_str")
    created_raw = t.get("created_at")
    if not isinstance(created_raw, str):
        raise KeyError("created_at")
    created = twitter_time_to_us(created_raw)
    user = t.get("user")
    if not isinstance(user, dict):
        raise KeyError("user")
    uid, handle = _user_account(sink, user, created)

    rt = t.get("retweeted_status")
    quoted = t.get("quoted_status")
    parent_id = parent_acc = None
    parent_time = None
    content = t
    if isinstance(rt, dict):
        kind = "repost"
        content = rt
        parent_id = _id(rt, "id")
        ru = rt.get("user")
        if isinstance(ru, dict):
            ptime = rt.get("created_at")
            parent_time = twitter_time_to_us(ptime) if isinstance(ptime, str) else None
            parent_acc, _ = _user_account(sink, ru, parent_time)
    elif _id(t, "in_reply_to_status_id"):
        kind = "reply"
        parent_id = _id(t, "in_reply_to_status_id")
        parent_acc = _id(t, "in_reply_to_user_id")
    elif t.get("is_quote_status") or _id(t, "quoted_status_id") or isinstance(quoted, dict):
        kind = "quote"
        parent_id = _id(t, "quoted_status_id") or (
            _id(quoted, "id") if isinstance(quoted, dict) else None)
        if isinstance(quoted, dict) and isinstance(quoted.get("user"), dict):
            qtime = quoted.get("created_at")
            parent_time = twitter_time_to_us(qtime) if isinstance(qtime, str) else None
            parent_acc, _ = _user_account(sink, quoted["user"], parent_time)
        if parent_id is None:
            kind = "post"
    else:
        kind = "post"

    text = _full_text(content)
    ents, ext_ents = _entities(content)
    urls: list[str] = []
    seen: set[str] = set()
    for u in ents.get("urls") or ():
        if not isinstance(u, dict):
            continue
        c = canonical_url(u.get("url"), u.get("unwound", {}).get("url") if isinstance(
            u.get("unwound"), dict) else u.get("expanded_url"))
        if c is None and u.get("expanded_url"):
            c = canonical_url(u.get("expanded_url"))
        if c and c not in seen:
            seen.add(c)
            urls.append(c)
    hashtags = [normalise_hashtag(h["text"]) for h in ents.get("hashtags") or ()
                if isinstance(h, dict) and h.get("text")]
    mentions: list[str] = []
    mention_ids: list[str] = []
    for m in ents.get("user_mentions") or ():
        if not isinstance(m, dict):
            continue
        if m.get("screen_name"):
            mentions.append(normalise_handle(m["screen_name"]))
        mid = _id(m, "id")
        if mid:
            mention_ids.append(mid)
    media_src = ext_ents.get("media") or ents.get("media") or ()
    media = []
    for m in media_src:
        if isinstance(m, dict):
            media.append({
                "media_id": _id(m, "id"),
                "url": _text(m.get("media_url_https") or m.get("media_url"), "media_url"),
                "hash": None,
            })
    sink.post(
        platform=PLATFORM,
        post_id=pid,
        account_id=uid,
        handle=handle,
        created_at=created,
        kind=kind,
        text=text,
        lang=_text(t.get("lang"), "lang"),
        source_app=app_from_source(t.get("source")),
        parent_post_id=parent_id,
        parent_account_id=parent_acc,
        parent_created_at=parent_time,
        urls=urls,
        hashtags=hashtags,
        mentions=mentions,
        mention_ids=mention_ids,
        media=media,
        record=record,
    )


def _dispatch(obj: Any, sink: Sink, record: int, raw: bytes) -> None:
    if not isinstance(obj, dict):
        sink.reject(record, raw, f"not a tweet object: a JSON {type(obj).__name__}")
        return
    if "id_str" not in obj and "id" not in obj:
        for k in _NOTICES:
            if k in obj:
                sink.skip(record, f"{k} notice")
                return
        sink.reject(record, raw, "not a tweet object: no id_str")
        return
    try:
        parse_tweet(obj, sink, record)
    except KeyError as e:
        sink.reject(record, raw, f"missing field {e.args[0]}")
    except (ValueError, TypeError, AttributeError) as e:
        sink.reject(record, raw, f"bad value: {e}")


class TwitterV1(Loader):
    name = "twitter-v1"
    platform = PLATFORM
    description = "Twitter API v1.1 tweets, JSON lines as twarc1 writes them (or a JSON array)"
    suffixes = (".jsonl", ".json")

    def sniff(self, head: bytes, filename: str) -> float:
        h = head.lstrip(b"\xef\xbb\xbf \t\r\n[")
        if not h.startswith(b"{"):
            return 0.0
        first = h[:1 << 16]  # a long first tweet (quoted, extended) may push "user" far
        if b'"id_str"' in first and (b'"user"' in first or b'"screen_name"' in first):
            return 0.9
        if b'"created_at"' in first and b'"retweeted_status"' in first:
            return 0.8
        if b'"delete"' in first[:50] and b'"status"' in first[:80]:
            return 0.5
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        head = stream.peek(1 << 12)[:1 << 12] if hasattr(stream, "peek") else b""
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            # A JSON array of tweets (or one pretty-printed object): read whole.
            data = stream.read()
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            try:
                items = orjson.loads(data)
            except orjson.JSONDecodeError as e:
                sink.reject(1, data[:1 << 20], f"invalid JSON document: {e}")
                return
            for i, obj in enumerate(items if isinstance(items, list) else [items], start=1):
                _dispatch(obj, sink, i, orjson.dumps(obj))
            return
        text_start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if text_start.startswith(b"{") and b"\n" in head and not _looks_like_jsonl(head):
            data = stream.read()
            try:
                obj = orjson.loads(data.lstrip(b"\xef\xbb\xbf"))
                _dispatch(obj, sink, 1, data)
                return
            except orjson.JSONDecodeError:
                # not one document: fall back to lines
                import io

                stream = io.BytesIO(data)
        for n, raw, obj, err in iter_json_lines(stream):
            if err is not None:
                sink.reject(n, raw, err)
            else:
                _dispatch(obj, sink, n, raw)


    def load_fast(self, con: Any, path: str, stage: str, sink: Sink,
                  options: LoadOptions) -> bool:
        """The fast path for JSON-lines files; False to decline (not JSON lines).

        By default the msgspec path of ``_v1_struct`` (``ECHOSCOPE_V1_PATH=parallel``:
        the same in two processes); ``ECHOSCOPE_V1_PATH=sql`` selects the DuckDB SQL path
        of ``_v1_fast``. All give the reference parser's result; the msgspec path is the
        fastest and its memory stays bounded (see benchmarks/RESULTS.md). Another value
        of ``ECHOSCOPE_V1_PATH`` is a :class:`ParameterError`.
        """
        if V1_PATH not in V1_PATHS:
            retired = " (the tight path was retired)" if V1_PATH == "tight" else ""
            raise ParameterError(
                f"ECHOSCOPE_V1_PATH={V1_PATH!r} is not a Twitter v1.1 ingest path"
                f"{retired}: use struct (the default), parallel or sql, or unset it.")
        if V1_PATH == "sql":
            return self.load_sql(con, path, stage, sink, options)
        from echoscope.ingest._io import STREAM_ERRORS, open_input, peek_head
        from echoscope.ingest._v1_struct import struct_load_v1

        stream = open_input(path)
        try:
            try:
                head, stream = peek_head(stream, name=path)
            except (InputError, *STREAM_ERRORS):  # type: ignore[misc]
                return False  # a broken stream: the reference path keeps what it can read
            start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
            # only when load() reads line by line from the start (its 4 KiB head test; a
            # first line longer than that is read as lines too)
            head = head[: 1 << 12]
            if not start.startswith(b"{") or (b"\n" in head and not _looks_like_jsonl(head)):
                return False
            if stream.__class__ is not io.BufferedReader or not isinstance(
                    getattr(stream, "raw", None), io.FileIO):
                # a plain file whose head was re-wrapped: read it afresh (in big
                # blocks; a decompressing stream is read line by line)
                with open(path, "rb") as f:
                    plain = f.read(4)[:2] not in (b"\x1f\x8b", b"\x28\xb5")
                if plain:
                    stream.close()
                    stream = open(path, "rb")  # noqa: SIM115 - closed below
            struct_load_v1(stream, sink, con, stage)
        finally:
            stream.close()
        return True

    def load_sql(self, con: Any, path: str, stage: str, sink: Sink,
                 options: LoadOptions) -> bool:
        """The SQL fast path (see ``_v1_fast``) for JSON-lines files; False to decline."""
        from echoscope.ingest._io import STREAM_ERRORS, open_input
        from echoscope.ingest._v1_fast import fast_load_v1

        with open(path, "rb") as f:
            magic = f.read(4)
        compression = ("gzip" if magic[:2] == b"\x1f\x8b" else
                       "zstd" if magic == b"\x28\xb5\x2f\xfd" else "none")
        try:
            stream = open_input(path)
            try:
                head = stream.peek(1 << 12)[: 1 << 12] if hasattr(stream, "peek") else b""
                start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
                if not start.startswith(b"{") or not _looks_like_jsonl(start):
                    return False
                n_lines, last = 0, b"\n"
                while chunk := stream.read(1 << 20):
                    n_lines += chunk.count(b"\n")
                    last = chunk[-1:]
                if last != b"\n":
                    n_lines += 1
            finally:
                stream.close()
        except STREAM_ERRORS:
            return False  # a broken stream: the line-by-line path keeps what it can read
        rest = fast_load_v1(con, path, compression, stage, sink, n_lines)
        if rest is None:
            return False
        if rest:
            from echoscope.ingest._util import parse_json_line

            todo = iter(rest)
            want = next(todo, None)
            stream = open_input(path)
            try:
                for n, raw in enumerate(stream, start=1):
                    if want is None:
                        break
                    if n != want:
                        continue
                    want = next(todo, None)
                    if not raw.strip() or (n == 1 and raw.startswith(b"\xef\xbb\xbf")
                                           and not raw[3:].strip()):
                        continue  # blank line: not a record
                    obj, err = parse_json_line(raw, first=n == 1)
                    if err is not None:
                        sink.reject(n, raw, err)
                    else:
                        _dispatch(obj, sink, n, raw)
            finally:
                stream.close()
        return True


def _looks_like_jsonl(head: bytes) -> bool:
    """True if the first line is a complete JSON value (one record per line)."""
    first = head.split(b"\n", 1)[0].strip().lstrip(b"\xef\xbb\xbf")
    try:
        orjson.loads(first)
        return True
    except orjson.JSONDecodeError:
        return False
