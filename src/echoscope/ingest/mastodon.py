"""Mastodon REST Status entities: a JSON array, one object, or JSON lines.

- ``post_id`` is the status ``uri`` (global ActivityPub id; the numeric ``id`` is per
  instance), so the same status fetched from two instances is one post.
- ``account_id`` is the account's ``url`` (global), else ``acct@<instance>``; the handle
  is ``acct`` with the instance added for local accounts (``user@instance``).
- A boost (``reblog`` set) is a ``repost`` at the outer status's time, carrying the
  original's text, tags, links and media; its parent is the original's ``uri`` and author.
- A reply's parent is only known by its per-instance id: ``parent_post_id`` =
  ``mastodon-local:<instance>:<in_reply_to_id>`` (consistent within data collected from one
  instance). A quote (``quote.quoted_status``, Mastodon 4.4+) is a ``quote`` of its uri.
- ``content`` is HTML: the text is extracted with the standard library's ``html.parser``
  (``<br>`` and paragraphs become newlines; nothing is fetched or rendered); links are the
  ``<a href>`` targets that are not mentions or hashtags, plus ``card.url``.
- Hashtags from ``tags[].name``; mentions from ``mentions[]`` (``acct`` as handle, ``url``
  as id); media from ``media_attachments`` (``remote_url`` preferred, never fetched);
  ``application.name`` as the posting app when present.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._util import iso_to_us, iter_json_lines
from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag

__all__ = ["MastodonStatuses", "html_to_text"]

PLATFORM = "mastodon"
_EMPTY: Mapping[str, Any] = {}


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip_link_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            cls = (a.get("class") or "").split()
            rel = (a.get("rel") or "").split()
            if "mention" in cls or "hashtag" in cls or "tag" in rel:
                return
            href = a.get("href")
            if href:
                self.links.append(href)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> tuple[str, list[str]]:
    """Plain text and link targets of a status's HTML ``content`` (nothing is fetched)."""
    if not html:
        return "", []
    p = _Html()
    p.feed(html)
    p.close()
    return "".join(p.parts).strip(), p.links


def _instance(status: Mapping[str, Any]) -> str:
    for k in ("uri", "url"):
        v = status.get(k)
        if isinstance(v, str) and v:
            host = urlsplit(v).hostname
            if host:
                return host.lower()
    return "unknown"


def _account(sink: Sink, acc: Any, instance: str, seen_at: int | None) -> tuple[str, str]:
    if not isinstance(acc, Mapping):
        raise KeyError("account")
    acct = str(acc.get("acct") or acc.get("username") or "")
    if not acct:
        raise KeyError("account.acct")
    handle = acct if "@" in acct else f"{acct}@{instance}"
    aid = str(acc.get("url") or acc.get("uri") or handle)
    created = acc.get("created_at")
    note, _ = html_to_text(str(acc.get("note") or ""))
    sink.account(
        platform=PLATFORM, account_id=aid, seen_at=seen_at, handle=handle.lower(),
        display_name=acc.get("display_name") or None,
        created_at=iso_to_us(created) if isinstance(created, str) and created else None,
        followers=_int(acc.get("followers_count")), following=_int(acc.get("following_count")),
        posts_count=_int(acc.get("statuses_count")), description=note or None,
        profile_image_url=acc.get("avatar") or None,
    )
    return aid, handle.lower()


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def parse_status(s: Mapping[str, Any], sink: Sink, record: int) -> None:
    """One Status entity into the sink (raises KeyError/ValueError/TypeError)."""
    uri = s.get("uri")
    if not isinstance(uri, str) or not uri:
        raise KeyError("uri")
    if not isinstance(s.get("created_at"), str):
        raise KeyError("created_at")
    created = iso_to_us(s["created_at"])
    instance = _instance(s)
    aid, handle = _account(sink, s.get("account"), instance, created)
    content: Mapping[str, Any] = s
    kind, parent, parent_acc = "post", None, None
    parent_time = None
    reblog = s.get("reblog")
    quote = s.get("quote")
    if isinstance(reblog, Mapping):
        kind = "repost"
        content = reblog
        parent = reblog.get("uri")
        if not isinstance(parent, str) or not parent:
            raise KeyError("reblog.uri")
        if isinstance(reblog.get("created_at"), str):
            parent_time = iso_to_us(reblog["created_at"])
        parent_acc, _ = _account(sink, reblog.get("account"), _instance(reblog), parent_time)
    elif s.get("in_reply_to_id"):
        kind = "reply"
        parent = f"mastodon-local:{instance}:{s['in_reply_to_id']}"
    elif isinstance(quote, Mapping) and isinstance(quote.get("quoted_status"), Mapping):
        q = quote["quoted_status"]
        if q.get("uri"):
            kind, parent = "quote", str(q["uri"])
            if isinstance(q.get("account"), Mapping):
                parent_acc, _ = _account(sink, q["account"], _instance(q), None)
    text, links = html_to_text(str(content.get("content") or ""))
    urls: list[str] = []
    card = content.get("card")
    for link in [*links, *([card.get("url")] if isinstance(card, Mapping) else [])]:
        c = canonical_url(link) if isinstance(link, str) else None
        if c and c not in urls:
            urls.append(c)
    tags = [normalise_hashtag(str(t["name"])) for t in content.get("tags") or ()
            if isinstance(t, Mapping) and t.get("name")]
    mentions: list[str] = []
    mention_ids: list[str] = []
    for m in content.get("mentions") or ():
        if isinstance(m, Mapping):
            if m.get("acct"):
                mentions.append(normalise_handle(str(m["acct"])))
            if m.get("url"):
                mention_ids.append(str(m["url"]))
    media = [{"media_id": str(m.get("id")) if m.get("id") else None,
              "url": m.get("remote_url") or m.get("url"), "hash": None}
             for m in content.get("media_attachments") or () if isinstance(m, Mapping)]
    app = s.get("application")
    sink.post(
        platform=PLATFORM, post_id=uri, account_id=aid, handle=handle, created_at=created,
        kind=kind, text=text, lang=content.get("language") or None,
        source_app=app.get("name") if isinstance(app, Mapping) and app.get("name") else None,
        parent_post_id=parent, parent_account_id=parent_acc, parent_created_at=parent_time,
        urls=urls, hashtags=tags, mentions=mentions, mention_ids=mention_ids, media=media,
        record=record,
    )


def _one(s: Any, sink: Sink, record: int, raw: bytes | None) -> None:
    reason = None
    if not isinstance(s, Mapping):
        reason = f"not a status object: a JSON {type(s).__name__}"
    else:
        try:
            parse_status(s, sink, record)
        except KeyError as e:
            reason = f"missing field {e.args[0]}"
        except (ValueError, TypeError, AttributeError) as e:
            reason = f"bad value: {e}"
    if reason is not None:
        sink.reject(record, raw if raw is not None else orjson.dumps(s), reason)


def _items(doc: Any) -> Iterator[Any]:
    if isinstance(doc, list):
        yield from doc
    else:
        yield doc


class MastodonStatuses(Loader):
    name = "mastodon"
    platform = PLATFORM
    description = "Mastodon Status JSON (an array, one object, or JSON lines); boosts via reblog"
    suffixes = (".json", ".jsonl")

    def sniff(self, head: bytes, filename: str) -> float:
        h = head.lstrip(b"\xef\xbb\xbf \t\r\n[")
        if not h.lstrip().startswith(b"{"):
            return 0.0
        first = h[:16384]
        if b'"uri"' in first and b'"acct"' in first and b'"content"' in first:
            return 0.9
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        head = stream.peek(1 << 12)[: 1 << 12] if hasattr(stream, "peek") else b""
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        first_line = start.split(b"\n", 1)[0].strip()
        # an array, or one pretty-printed object ("{" alone on its line): one document;
        # anything else is read as JSON lines (a broken line is then one reject)
        if start.startswith(b"[") or first_line == b"{":
            data = stream.read()
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            try:
                doc = orjson.loads(data)
            except orjson.JSONDecodeError as e:
                msg = str(e)
                what = "invalid UTF-8" if "utf-8" in msg.lower() else "invalid JSON (truncated?)"
                sink.reject(1, data, f"{what}: the document cannot be read: {msg}")
                return
            for i, s in enumerate(_items(doc), start=1):
                _one(s, sink, i, None)
            return
        for n, raw, obj, err in iter_json_lines(stream):
            if err is not None:
                sink.reject(n, raw, err)
            else:
                _one(obj, sink, n, raw)
