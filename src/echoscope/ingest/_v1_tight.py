"""The default path of the Twitter v1.1 JSONL loader: orjson and a tight extraction loop.

The reference parser (:func:`echoscope.ingest.twitter_v1.parse_tweet`) is written for
clarity: keyword calls per post and per account snapshot, rows of tuples, a Python merge
per snapshot. This path does the same work for the common shape of a tweet with far less
per-tweet Python: values go straight into column lists (one Arrow array per column per
batch of 50,000), Twitter times are computed from cached days and times of day, canonical
URLs come from the normaliser's caches, account snapshots become rows that DuckDB
aggregates (as the SQL path's do, see ``_driver._fast_snapshots``; memory stays bounded
however many accounts there are), and the cyclic garbage collector is paused in the loop.

Exactness is by construction: each line's values are computed into locals first, with
strict type checks; anything unexpected (a missing or mistyped field, a numeric-only id,
an exception of any kind) sends the *whole line* to the reference parser before anything
was recorded for it, so it gets exactly the reference's post, skip or reject. Tests
compare this path, the SQL path and the reference parser on the example records, mixed
bad files, long lines and Hypothesis mutations.
"""

from __future__ import annotations

import gc
import uuid
from types import NoneType
from typing import IO, Any

import orjson
import pyarrow as pa

from echoscope import schema
from echoscope.ingest._base import Sink
from echoscope.ingest._util import app_from_source, parse_json_line, twitter_time_to_us
from echoscope.normalise import _canonical, canonical_url, normalise_handle, normalise_hashtag

__all__ = ["tight_load_v1"]

#: posts per Arrow batch appended to the stage table
BATCH = 50_000
_POST_SCHEMA = schema.TABLES["posts"].schema
_MONTHS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7, "Aug": 8,
           "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}


_SNAP_FIELDS = [("line", pa.int64()), ("account_id", pa.string()), ("handle", pa.string()),
                ("display_name", pa.string()), ("created_at", schema.TS),
                ("followers", pa.int64()), ("following", pa.int64()),
                ("posts_count", pa.int64()), ("description", pa.string()),
                ("profile_image_url", pa.string()), ("seen", schema.TS)]
_SNAP_DDL = ", ".join(f'"{n}" {schema.duck_type(t)}' for n, t in _SNAP_FIELDS)
#: the type each profile field must have (or be None) on this path
_KINDS = (str, str, int, int, int, int, str, str)


class _Odd(Exception):
    """This line is not of the common shape: the reference parser takes it."""


def _id(d: dict[str, Any], key: str, key_str: str) -> str | None:
    """The reference ``_id`` for the usual cases (a string id or none at all)."""
    v = d.get(key_str)
    if v.__class__ is str and v:
        return v  # type: ignore[no-any-return]
    if (v is None or v == "") and d.get(key) is None:
        return None
    raise _Odd


def tight_load_v1(stream: IO[bytes], sink: Sink, con: Any, stage: str) -> None:
    """Read JSON lines from ``stream`` into ``stage`` (posts) and ``sink`` (the rest).

    Lines the reference parser must see are handed to it (its posts reach the stage
    table through the driver's usual flush). Rows collected here are appended to
    ``stage`` in batches, and before any exception leaves (a broken stream keeps what
    was read, as on the reference path).
    """
    from echoscope.ingest.twitter_v1 import _dispatch

    cols: list[list[Any]] = [[] for _ in range(18)]
    (c_pid, c_uid, c_handle, c_created, c_kind, c_text, c_lang, c_app, c_par, c_paracc,
     c_partime, c_urls, c_tags, c_men, c_menids, c_media, c_rec) = cols[1:]
    days: dict[str, int] = {}
    # account snapshots: (order, account id, *profile, seen) rows, aggregated in SQL by the
    # driver like the SQL path's (``_driver._fast_snapshots``), so memory stays bounded
    # however many accounts there are; order 2n for the author of line n, 2n+1 for the
    # parent's author (a later call wins a tie, as in Sink.snapshot)
    snaps: list[tuple[Any, ...]] = []
    acc_table = f"_v1_tacc_{uuid.uuid4().hex[:8]}"
    con.execute(f'CREATE TABLE "{acc_table}" ({_SNAP_DDL})')
    sink.fast_accounts.append(acc_table)
    loads = orjson.loads

    secs: dict[str, int] = {}
    kinds_ok: set[tuple[type, ...]] = set()

    def ttime(s: Any) -> int:
        # == twitter_time_to_us(s) for the usual '+0000' layout (day and time of day
        # cached apart); any other layout goes there
        if s.__class__ is not str:
            raise _Odd
        if len(s) != 30 or s[19:26] != " +0000 ":
            return twitter_time_to_us(s)
        d = days.get(s[4:11] + s[26:])
        if d is None:
            d = days[s[4:11] + s[26:]] = twitter_time_to_us(s[:11] + "00:00:00 +0000" + s[25:])
        hms = s[11:19]
        sec = secs.get(hms)
        if sec is None:
            sec = secs[hms] = (int(s[11:13]) * 3600 + int(s[14:16]) * 60
                               + int(s[17:19])) * 1_000_000
        return d + sec

    def user_of(user: dict[str, Any], seen: int | None) -> tuple[str, tuple[Any, ...]]:
        uid = user.get("id_str")
        if uid.__class__ is not str or not uid:
            raise _Odd
        created = user.get("created_at")
        prof = (user.get("screen_name"), user.get("name"),
                ttime(created) if created.__class__ is str else None,
                user.get("followers_count"), user.get("friends_count"),
                user.get("statuses_count"), user.get("description"),
                user.get("profile_image_url_https") or user.get("profile_image_url"))
        kinds = tuple(map(type, prof))
        if kinds not in kinds_ok:
            for k, want in zip(kinds, _KINDS, strict=True):
                if k is not want and k is not NoneType:
                    raise _Odd  # e.g. a float or bool count: the reference's _int decides
            kinds_ok.add(kinds)
        return uid, prof  # type: ignore[return-value]

    def flush() -> None:
        if snaps:
            scols = list(zip(*snaps, strict=True))
            snaps.clear()
            stable = pa.table({name: pa.array(values, type=typ) for (name, typ), values
                               in zip(_SNAP_FIELDS, scols, strict=True)})
            sview = f"_v1_tight_s_{stage}"
            con.register(sview, stable)
            try:
                con.execute(f'INSERT INTO "{acc_table}" SELECT * FROM "{sview}"')
            finally:
                con.unregister(sview)
        n = len(c_rec)
        if not n:
            return
        cols[0] = ["twitter"] * n  # type: ignore[list-item]
        data = {name: pa.array(values, type=_POST_SCHEMA.field(name).type)
                for name, values in zip(Sink.POST_COLUMNS, cols, strict=True)}
        data["source_file"] = pa.array([sink.source_file] * n, pa.string())
        table = pa.table(data).select(_POST_SCHEMA.names)
        for c in cols:
            c.clear()
        view = f"_v1_tight_{stage}"
        con.register(view, table)
        try:
            con.execute(f'INSERT INTO "{stage}" SELECT * FROM "{view}"')
        finally:
            con.unregister(view)
        sink.n_posts += n

    # The loop makes millions of small containers and no reference cycles: the cyclic
    # collector would only rescan the growing column lists (~25 % of the time).
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        for n, raw in enumerate(stream, start=1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                if not raw[3:].strip():
                    continue
                obj, err = parse_json_line(raw, first=True)
                if err is not None:
                    sink.reject(n, raw, err)
                else:
                    _dispatch(obj, sink, n, raw)
                continue
            try:
                t = loads(raw)
            except orjson.JSONDecodeError:
                if not raw.strip():
                    continue  # a blank line: not a record
                obj, err = parse_json_line(raw, first=n == 1)
                if err is not None:
                    sink.reject(n, raw, err)
                else:
                    _dispatch(obj, sink, n, raw)
                continue
            try:
                if t.__class__ is not dict:
                    raise _Odd
                pid = t.get("id_str")
                if pid.__class__ is not str or not pid:
                    raise _Odd
                created = ttime(t.get("created_at"))
                user = t.get("user")
                if user.__class__ is not dict:
                    raise _Odd
                uid, prof = user_of(user, created)
                rt = t.get("retweeted_status")
                quoted = t.get("quoted_status")
                parent_id = parent_acc = parent_time = None
                psnap: tuple[str, tuple[Any, ...]] | None = None
                content = t
                if rt is not None:
                    if rt.__class__ is not dict:
                        raise _Odd
                    kind = "repost"
                    content = rt
                    parent_id = _id(rt, "id", "id_str")
                    ru = rt.get("user")
                    if ru.__class__ is not dict:
                        raise _Odd
                    ptime = rt.get("created_at")
                    parent_time = ttime(ptime) if ptime.__class__ is str else None
                    psnap = user_of(ru, parent_time)
                    parent_acc = psnap[0]
                elif (reply := _id(t, "in_reply_to_status_id", "in_reply_to_status_id_str")):
                    kind = "reply"
                    parent_id = reply
                    parent_acc = _id(t, "in_reply_to_user_id", "in_reply_to_user_id_str")
                else:
                    qid = _id(t, "quoted_status_id", "quoted_status_id_str")
                    if quoted is not None and quoted.__class__ is not dict:
                        raise _Odd
                    if t.get("is_quote_status") or qid or quoted is not None:
                        kind = "quote"
                        parent_id = qid or (_id(quoted, "id", "id_str") if quoted else None)
                        if quoted is not None:
                            qu = quoted.get("user")
                            if qu is not None:
                                if qu.__class__ is not dict:
                                    raise _Odd
                                qtime = quoted.get("created_at")
                                parent_time = ttime(qtime) if qtime.__class__ is str else None
                                psnap = user_of(qu, parent_time)
                                parent_acc = psnap[0]
                        if parent_id is None:
                            kind = "post"
                    else:
                        kind = "post"
                ext = content.get("extended_tweet")
                if ext is not None and ext.__class__ is not dict:
                    raise _Odd
                text = (ext.get("full_text") if ext else None) or content.get(
                    "full_text") or content.get("text") or ""
                if text.__class__ is not str:
                    raise _Odd
                if ext and ext.get("entities"):
                    ents = ext.get("entities")
                    xents = ext.get("extended_entities") or {}
                else:
                    ents = content.get("entities") or {}
                    xents = content.get("extended_entities") or {}
                if ents.__class__ is not dict or xents.__class__ is not dict:
                    raise _Odd
                urls: list[str] = []
                lst = ents.get("urls")
                if lst:
                    if lst.__class__ is not list:
                        raise _Odd
                    for u in lst:
                        if u.__class__ is not dict:
                            continue
                        url = u.get("url")
                        expanded = u.get("expanded_url")
                        unw = u.get("unwound")
                        b = unw.get("url") if unw.__class__ is dict else expanded
                        if b and url.__class__ is str and url.startswith(
                                ("https://t.co/", "http://t.co/")):
                            s = b.strip()
                            c = _canonical(s) if s else None
                        else:
                            c = canonical_url(url, b)
                        if c is None and expanded:
                            c = canonical_url(expanded)
                        if c and c not in urls:
                            urls.append(c)
                lst = ents.get("hashtags")
                tags: list[str] = []
                if lst:
                    if lst.__class__ is not list:
                        raise _Odd
                    tags = [normalise_hashtag(h["text"]) for h in lst
                            if h.__class__ is dict and h.get("text")]
                men: list[str] = []
                menids: list[str] = []
                lst = ents.get("user_mentions")
                if lst:
                    if lst.__class__ is not list:
                        raise _Odd
                    for m in lst:
                        if m.__class__ is not dict:
                            continue
                        sn = m.get("screen_name")
                        if sn:
                            men.append(normalise_handle(sn))
                        mid = _id(m, "id", "id_str")
                        if mid:
                            menids.append(mid)
                media: list[dict[str, Any]] = []
                lst = xents.get("media") or ents.get("media")
                if lst:
                    if lst.__class__ is not list:
                        raise _Odd
                    for m in lst:
                        if m.__class__ is dict:
                            murl = m.get("media_url_https") or m.get("media_url")
                            if murl is not None and murl.__class__ is not str:
                                raise _Odd
                            media.append({"media_id": _id(m, "id", "id_str"),
                                          "url": murl, "hash": None})
                lang = t.get("lang")
                if lang is not None and lang.__class__ is not str:
                    raise _Odd
                source = t.get("source")
                if source is not None and source.__class__ is not str:
                    raise _Odd
                app = app_from_source(source)
            except Exception:
                _dispatch(t, sink, n, raw)
                continue
            # record it (nothing above changed any state)
            snaps.append((2 * n, uid, *prof, created))
            if psnap is not None:
                snaps.append((2 * n + 1, psnap[0], *psnap[1], parent_time))
            c_pid.append(pid)
            c_uid.append(uid)
            c_handle.append(prof[0])
            c_created.append(created)
            c_kind.append(kind)
            c_text.append(text)
            c_lang.append(lang)
            c_app.append(app)
            c_par.append(parent_id)
            c_paracc.append(parent_acc)
            c_partime.append(parent_time)
            c_urls.append(urls)
            c_tags.append(tags)
            c_men.append(men)
            c_menids.append(menids)
            c_media.append(media)
            c_rec.append(n)
            if len(c_rec) >= BATCH:
                flush()
    finally:
        try:
            flush()
        finally:
            if gc_was_on:
                gc.enable()
