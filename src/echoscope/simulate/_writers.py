"""Writers: the same simulated posts in each supported input format.

Writers never draw random numbers, so every format of one seed holds the same posts.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import IO, Any

import orjson

from echoscope.simulate._images import media_file_name
from echoscope.simulate._names import _mix
from echoscope.simulate._post import KIND_QUOTE, KIND_REPLY, KIND_REPOST, Post
from echoscope.simulate._world import World

__all__ = ["WRITERS", "Writer", "compose"]

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
Span = tuple[str, int, int, Any]


def _tco(n: int) -> str:
    x = _mix(n)
    s = []
    for _ in range(10):
        x, r = divmod(x, 62)
        s.append(_B62[r])
    return "http://t.co/" + "".join(s)


def _civil(t_us: int) -> tuple[int, int, int, int, int, int, int]:
    """(year, month, day, hour, minute, second, weekday) of a UTC µs time."""
    secs = t_us // 1_000_000
    days, rem = divmod(secs, 86_400)
    # Howard Hinnant's days-to-civil algorithm
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y += m <= 2
    return y, m, d, rem // 3600, rem % 3600 // 60, rem % 60, (days + 3) % 7


_DAY_CACHE: dict[int, tuple[str, str]] = {}


def v1_time(t_us: int) -> str:
    """``'Fri Jun 13 09:12:44 +0000 2014'`` (the day part is cached)."""
    secs = t_us // 1_000_000
    day, rem = divmod(secs, 86_400)
    parts = _DAY_CACHE.get(day)
    if parts is None:
        y, m, d, _, _, _, wd = _civil(day * 86_400_000_000)
        parts = (f"{_DAYS[wd]} {_MONTHS[m - 1]} {d:02d} ", f" +0000 {y}")
        if len(_DAY_CACHE) > 10_000:
            _DAY_CACHE.clear()
        _DAY_CACHE[day] = parts
    return f"{parts[0]}{rem // 3600:02d}:{rem % 3600 // 60:02d}:{rem % 60:02d}{parts[1]}"


def iso_time(t_us: int) -> str:
    y, m, d, hh, mm, ss, _ = _civil(t_us)
    return f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}.000Z"


def compose(p: Post, w: World) -> tuple[str, list[Span]]:
    """The post's text as the platform shows it, and its entity spans (code points)."""
    if p.composed is not None:
        return p.composed  # type: ignore[return-value]
    spans: list[Span] = []
    if p.kind == KIND_REPOST and p.parent is not None:
        ptext, pspans = compose(p.parent, w)
        h = w.handles[p.parent.acct]
        prefix = f"RT @{h}: "
        text = prefix + ptext
        if len(text) > 140:
            text = text[:139] + "\u2026"
        spans.append(("mention", 3, 4 + len(h), p.parent.acct))
        off = len(prefix)
        spans.extend((k, a + off, b + off, v) for k, a, b, v in pspans if b + off <= len(text))
        p.composed = (text, spans)
        return text, spans
    parts: list[str] = []
    pos = 0

    def put(s: str, kind: str | None = None, value: Any = None) -> None:
        nonlocal pos
        if parts:
            parts.append(" ")
            pos += 1
        if kind is not None:
            spans.append((kind, pos, pos + len(s), value))
        parts.append(s)
        pos += len(s)

    if p.kind == KIND_REPLY and p.parent is not None:
        put("@" + w.handles[p.parent.acct], "mention", p.parent.acct)
    put(p.text)
    for a in p.mentions:
        if p.kind == KIND_REPLY and p.parent is not None and a == p.parent.acct:
            continue
        put("@" + w.handles[a], "mention", a)
    for tag in p.tags:
        put("#" + tag, "hashtag", tag)
    for i, u in enumerate(p.urls):
        put(_tco(p.id * 16 + i), "url", u)
    if p.kind == KIND_QUOTE and p.parent is not None:
        link = f"https://twitter.com/{w.handles[p.parent.acct]}/status/{p.parent.id}"
        put(_tco(p.id * 16 + 9), "url", link)
    for i, (mid, ph, _) in enumerate(p.media):
        put(_tco(p.id * 16 + 10 + i), "media", (mid, ph))
    text = "".join(parts)
    p.composed = (text, spans)
    return text, spans


class _GzipOut(gzip.GzipFile):
    """Gzip output that owns its file and writes a reproducible header (mtime 0)."""

    def __init__(self, path: Path) -> None:
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        super().__init__(filename="", mode="wb", compresslevel=9, mtime=0, fileobj=self._raw)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


class Writer:
    """Base: subclasses write batches of time-ordered posts, then close."""

    name = ""

    def __init__(self, out_dir: Path, world: World, *, gzip_out: bool = False) -> None:
        self.dir = out_dir
        self.w = world
        self.gzip = gzip_out
        self.files: list[Path] = []

    def _open(self, name: str) -> IO[bytes]:
        path = self.dir / (name + (".gz" if self.gzip else ""))
        self.files.append(path)
        if self.gzip:
            # mtime=0 and no file name in the header: the same seed gives the same bytes
            return _GzipOut(path)  # type: ignore[return-value]
        return open(path, "wb")

    def write(self, posts: list[Post]) -> None:
        raise NotImplementedError

    def close(self) -> list[Path]:
        return self.files

    # shared pieces
    def app(self, p: Post) -> tuple[str, str]:
        return self.w.apps[p.app]

    def avatar(self, a: int) -> str:
        av = int(self.w.avatar[a])
        return f"https://pbs.twimg.com/profile_images/{100_000 + av}/{_mix(av) % 10**8:08x}_normal.jpeg"


class TwitterV1Writer(Writer):
    """Twitter API v1.1 tweet objects, one per line, as twarc1 writes them."""

    name = "twitter-v1"

    def __init__(self, out_dir: Path, world: World, *, gzip_out: bool = False) -> None:
        super().__init__(out_dir, world, gzip_out=gzip_out)
        self.fh = self._open("tweets.jsonl")
        self.users: dict[int, orjson.Fragment] = {}
        self.nested: dict[int, orjson.Fragment] = {}
        self.sources: dict[int, str] = {}

    def user(self, a: int) -> orjson.Fragment:
        """The user object, serialised once per account (an orjson Fragment)."""
        u = self.users.get(a)
        if u is None:
            if len(self.users) > 100_000:
                self.users.clear()
            w = self.w
            uid = int(w.account_ids[a])
            av = self.avatar(a)
            d = {
                "id": uid, "id_str": str(uid), "name": w.names[a], "screen_name": w.handles[a],
                "location": "", "description": "", "url": None,
                "entities": {"description": {"urls": []}}, "protected": False,
                "followers_count": int(w.followers[a]), "friends_count": int(w.friends[a]),
                "listed_count": 0, "created_at": v1_time(int(w.created[a])),
                "favourites_count": 0, "utc_offset": None, "time_zone": None,
                "geo_enabled": False, "verified": False,
                "statuses_count": int(w.posts_of[a]) if w.posts_of.size > a else 0,
                "lang": "en", "profile_image_url": av.replace("https://", "http://"),
                "profile_image_url_https": av, "default_profile": True,
                "default_profile_image": False,
            }
            u = orjson.Fragment(orjson.dumps(d).decode())
            self.users[a] = u
        return u

    def source(self, app: int) -> str:
        s = self.sources.get(app)
        if s is None:
            name, href = self.w.apps[app]
            s = f'<a href="{href}" rel="nofollow">{name}</a>'
            self.sources[app] = s
        return s

    def entities(self, p: Post, spans: list[Span]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        w = self.w
        tags, urls, ments, media = [], [], [], []
        for kind, a, b, v in spans:
            if kind == "hashtag":
                tags.append({"text": v, "indices": [a, b]})
            elif kind == "url":
                urls.append({"url": _tco_at(p, a, spans, w), "expanded_url": v,
                             "display_url": _display(v), "indices": [a, b]})
            elif kind == "mention":
                uid = int(w.account_ids[v])
                ments.append({"screen_name": w.handles[v], "name": w.names[v], "id": uid,
                              "id_str": str(uid), "indices": [a, b]})
            elif kind == "media":
                mid, ph = v
                key = f"{_mix(mid) % 10**15:015d}"
                media.append({
                    "id": mid, "id_str": str(mid), "indices": [a, b],
                    "media_url": f"http://pbs.twimg.com/media/{media_file_name(mid)}",
                    "media_url_https": f"https://pbs.twimg.com/media/{media_file_name(mid)}",
                    "url": _tco_at(p, a, spans, w),
                    "display_url": f"pic.twitter.com/{key[:10]}",
                    "expanded_url": f"http://twitter.com/{w.handles[p.acct]}/status/{p.id}/photo/1",
                    "type": "photo", "phash": ph,
                    "sizes": {"large": {"w": 1024, "h": 768, "resize": "fit"}},
                })
        ents: dict[str, Any] = {"hashtags": tags, "symbols": [], "urls": urls,
                                "user_mentions": ments}
        if media:
            ents["media"] = media[:1]
        return ents, media

    def nested_tweet(self, p: Post) -> orjson.Fragment:
        """An original as nested in retweets and quotes, serialised once."""
        f = self.nested.get(p.id)
        if f is None:
            if len(self.nested) > 20_000:
                self.nested.clear()
            f = orjson.Fragment(orjson.dumps(self.tweet(p, nested=True)).decode())
            self.nested[p.id] = f
        return f

    def tweet(self, p: Post, nested: bool = False) -> dict[str, Any]:
        text, spans = compose(p, self.w)
        w = self.w
        d: dict[str, Any] = {
            "created_at": v1_time(p.t), "id": p.id, "id_str": str(p.id), "text": text,
            "source": self.source(p.app), "truncated": False,
            "in_reply_to_status_id": None, "in_reply_to_status_id_str": None,
            "in_reply_to_user_id": None, "in_reply_to_user_id_str": None,
            "in_reply_to_screen_name": None, "user": self.user(p.acct), "geo": None,
            "coordinates": None, "place": None, "contributors": None,
        }
        par = p.parent
        if p.kind == KIND_REPLY and par is not None:
            puid = int(w.account_ids[par.acct])
            d["in_reply_to_status_id"] = par.id
            d["in_reply_to_status_id_str"] = str(par.id)
            d["in_reply_to_user_id"] = puid
            d["in_reply_to_user_id_str"] = str(puid)
            d["in_reply_to_screen_name"] = w.handles[par.acct]
        if p.kind == KIND_REPOST and par is not None and not nested:
            d["retweeted_status"] = self.nested_tweet(par)
        if p.kind == KIND_QUOTE and par is not None:
            d["quoted_status_id"] = par.id
            d["quoted_status_id_str"] = str(par.id)
            if not nested:
                d["quoted_status"] = self.nested_tweet(par)
        d["is_quote_status"] = p.kind == KIND_QUOTE
        d["retweet_count"] = 0
        d["favorite_count"] = 0
        ents, media = self.entities(p, spans)
        d["entities"] = ents
        if media:
            d["extended_entities"] = {"media": media}
        d["favorited"] = False
        d["retweeted"] = False
        if p.urls or media:
            d["possibly_sensitive"] = False
        d["filter_level"] = "low"
        d["lang"] = "en"
        return d

    def write(self, posts: list[Post]) -> None:
        dumps = orjson.dumps
        self.fh.write(b"".join(dumps(self.tweet(p)) + b"\n" for p in posts))

    def close(self) -> list[Path]:
        self.fh.close()
        return self.files


def _tco_at(p: Post, start: int, spans: list[Span], w: World) -> str:
    text, _ = compose(p, w)
    return text[start:start + 22]


def _display(url: str) -> str:
    u = url.split("://", 1)[-1]
    return u if len(u) <= 26 else u[:25] + "\u2026"


class TwitterV2Writer(Writer):
    """Twitter API v2 response pages (100 tweets each) as twarc2 writes them."""

    name = "twitter-v2"
    PAGE = 100

    def __init__(self, out_dir: Path, world: World, *, gzip_out: bool = False) -> None:
        super().__init__(out_dir, world, gzip_out=gzip_out)
        self.fh = self._open("tweets.jsonl")
        self.buf: list[Post] = []
        self.retrieved = iso_time(world.params.end_us)

    def user(self, a: int) -> dict[str, Any]:
        w = self.w
        return {
            "id": str(int(w.account_ids[a])), "username": w.handles[a], "name": w.names[a],
            "created_at": iso_time(int(w.created[a])), "description": "", "location": "",
            "url": "", "protected": False, "verified": False,
            "profile_image_url": self.avatar(a),
            "public_metrics": {"followers_count": int(w.followers[a]),
                               "following_count": int(w.friends[a]),
                               "tweet_count": int(w.posts_of[a]) if w.posts_of.size > a else 0,
                               "listed_count": 0},
        }

    def tweet(self, p: Post, users: set[int], media: dict[str, Any]) -> dict[str, Any]:
        w = self.w
        text, spans = compose(p, w)
        users.add(p.acct)
        d: dict[str, Any] = {
            "id": str(p.id), "text": text, "author_id": str(int(w.account_ids[p.acct])),
            "conversation_id": str(p.id), "created_at": iso_time(p.t), "lang": "en",
            "source": w.apps[p.app][0], "possibly_sensitive": False,
            "reply_settings": "everyone",
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                               "quote_count": 0},
        }
        par = p.parent
        if par is not None:
            rtype = {KIND_REPOST: "retweeted", KIND_REPLY: "replied_to",
                     KIND_QUOTE: "quoted"}[p.kind]
            d["referenced_tweets"] = [{"type": rtype, "id": str(par.id)}]
            if p.kind == KIND_REPLY:
                d["in_reply_to_user_id"] = str(int(w.account_ids[par.acct]))
                d["conversation_id"] = str(par.id)
        ents: dict[str, list[dict[str, Any]]] = {}
        keys = []
        for kind, a, b, v in spans:
            if kind == "hashtag":
                ents.setdefault("hashtags", []).append({"start": a, "end": b, "tag": v})
            elif kind == "mention":
                users.add(v)
                ents.setdefault("mentions", []).append({
                    "start": a, "end": b, "username": w.handles[v],
                    "id": str(int(w.account_ids[v]))})
            elif kind == "url":
                ents.setdefault("urls", []).append({
                    "start": a, "end": b, "url": text[a:b], "expanded_url": v,
                    "display_url": _display(v)})
            elif kind == "media":
                mid, ph = v
                key = f"3_{mid}"
                keys.append(key)
                media[key] = {"media_key": key, "type": "photo",
                              "url": f"https://pbs.twimg.com/media/{media_file_name(mid)}",
                              "phash": ph}
                ents.setdefault("urls", []).append({
                    "start": a, "end": b, "url": text[a:b],
                    "expanded_url": f"https://twitter.com/{w.handles[p.acct]}/status/{p.id}/photo/1",
                    "display_url": f"pic.twitter.com/{key[2:12]}", "media_key": key})
        if ents:
            d["entities"] = ents
        if keys:
            d["attachments"] = {"media_keys": keys}
        return d

    def _flush(self) -> None:
        if not self.buf:
            return
        users: set[int] = set()
        media: dict[str, Any] = {}
        data = [self.tweet(p, users, media) for p in self.buf]
        refs: dict[int, dict[str, Any]] = {}
        for p in self.buf:
            if p.parent is not None and p.parent.id not in refs:
                refs[p.parent.id] = self.tweet(p.parent, users, media)
        page: dict[str, Any] = {
            "data": data,
            "includes": {"users": [self.user(a) for a in sorted(users)],
                         "tweets": list(refs.values())},
            "meta": {"newest_id": data[-1]["id"], "oldest_id": data[0]["id"],
                     "result_count": len(data)},
            "__twarc": {"url": "https://api.twitter.com/2/tweets/search/all",
                        "version": "2.14.0", "retrieved_at": self.retrieved},
        }
        if media:
            page["includes"]["media"] = list(media.values())
        self.fh.write(orjson.dumps(page) + b"\n")
        self.buf = []

    def write(self, posts: list[Post]) -> None:
        for p in posts:
            self.buf.append(p)
            if len(self.buf) >= self.PAGE:
                self._flush()

    def close(self) -> list[Path]:
        self._flush()
        self.fh.close()
        return self.files


IO_TWEET_COLUMNS = (
    "tweetid", "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count",
    "account_creation_date", "account_language", "tweet_language", "tweet_text", "tweet_time",
    "tweet_client_name", "in_reply_to_userid", "in_reply_to_tweetid", "quoted_tweet_tweetid",
    "is_retweet", "retweet_userid", "retweet_tweetid", "latitude", "longitude", "quote_count",
    "reply_count", "like_count", "retweet_count", "hashtags", "urls", "user_mentions",
    "poll_choices",
)
IO_USER_COLUMNS = IO_TWEET_COLUMNS[1:11]


class XioWriter(Writer):
    """X information-operations archive CSVs (unhashed): tweets and users files."""

    name = "x-io"

    def __init__(self, out_dir: Path, world: World, *, gzip_out: bool = False) -> None:
        super().__init__(out_dir, world, gzip_out=gzip_out)
        self.fh = self._open("sim_tweets_csv_unhashed.csv")
        self.text = io.TextIOWrapper(self.fh, encoding="utf-8", newline="")  # type: ignore[arg-type]
        self.csv = csv.writer(self.text)
        self.csv.writerow(IO_TWEET_COLUMNS)
        self.seen: set[int] = set()

    def profile(self, a: int) -> list[Any]:
        w = self.w
        return [int(w.account_ids[a]), w.names[a], w.handles[a], "", "", "",
                f"{float(w.followers[a])}", f"{float(w.friends[a])}",
                iso_time(int(w.created[a]))[:10], "en"]

    def write(self, posts: list[Post]) -> None:
        w = self.w
        rows = []
        for p in posts:
            text, spans = compose(p, w)
            self.seen.add(p.acct)
            par = p.parent
            src = par if (p.kind == KIND_REPOST and par is not None) else p
            _, sspans = compose(src, w)
            tags = [v for k, _, _, v in sspans if k == "hashtag"]
            urls = [v for k, _, _, v in sspans if k == "url"]
            ments = [int(w.account_ids[v]) for k, _, _, v in spans if k == "mention"]
            y, m, d, hh, mm, _, _ = _civil(p.t)
            rows.append([
                p.id, *self.profile(p.acct)[:10], "en", text,
                f"{y}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}", w.apps[p.app][0],
                int(w.account_ids[par.acct]) if p.kind == KIND_REPLY and par else "",
                par.id if p.kind == KIND_REPLY and par else "",
                par.id if p.kind == KIND_QUOTE and par else "",
                "True" if p.kind == KIND_REPOST else "False",
                int(w.account_ids[par.acct]) if p.kind == KIND_REPOST and par else "",
                par.id if p.kind == KIND_REPOST and par else "",
                "absent", "absent", "0.0", "0.0", "0.0", "0.0",
                "[" + ", ".join(tags) + "]", "[" + ", ".join(f"'{u}'" for u in urls) + "]",
                "[" + ", ".join(str(x) for x in ments) + "]", "",
            ])
        self.csv.writerows(rows)

    def close(self) -> list[Path]:
        self.text.close()
        fh = self._open("sim_users_csv_unhashed.csv")
        with io.TextIOWrapper(fh, encoding="utf-8", newline="") as t:  # type: ignore[arg-type]
            cw = csv.writer(t)
            cw.writerow(IO_USER_COLUMNS)
            cw.writerows(self.profile(a) for a in sorted(self.seen))
        return self.files


class CntCsvWriter(Writer):
    """coordination-network-toolkit CSV: message_id,user_id,username,repost_id,reply_id,
    message,timestamp,urls (timestamp in whole seconds, urls space-separated)."""

    name = "cnt-csv"

    def __init__(self, out_dir: Path, world: World, *, gzip_out: bool = False) -> None:
        super().__init__(out_dir, world, gzip_out=gzip_out)
        self.fh = self._open("messages.csv")
        self.text = io.TextIOWrapper(self.fh, encoding="utf-8", newline="")  # type: ignore[arg-type]
        self.csv = csv.writer(self.text)
        self.csv.writerow(("message_id", "user_id", "username", "repost_id", "reply_id",
                           "message", "timestamp", "urls"))

    def write(self, posts: list[Post]) -> None:
        w = self.w
        rows = []
        for p in posts:
            text, _ = compose(p, w)
            par = p.parent
            src = par if (p.kind == KIND_REPOST and par is not None) else p
            _, sspans = compose(src, w)
            urls = " ".join(v for k, _, _, v in sspans if k == "url")
            rows.append((p.id, int(w.account_ids[p.acct]), w.handles[p.acct],
                         par.id if p.kind == KIND_REPOST and par else "",
                         par.id if p.kind == KIND_REPLY and par else "",
                         text, p.t // 1_000_000, urls))
        self.csv.writerows(rows)

    def close(self) -> list[Path]:
        self.text.close()
        return self.files


WRITERS: dict[str, type[Writer]] = {
    c.name: c for c in (TwitterV1Writer, TwitterV2Writer, XioWriter, CntCsvWriter)
}
