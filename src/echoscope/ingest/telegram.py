"""Telegram Desktop export ``result.json`` (one chat, or a full export with ``chats.list``).

Each message is one record (numbered across the file). Decisions, documented in
docs/formats.md:

- ``post_id`` = ``<chat id>/<message id>`` (message ids are per chat); ``account_id`` =
  ``from_id`` (``channel123``, ``user123``); for a channel post without ``from_id`` the
  channel (``channel<chat id>``). Otherwise the message is rejected.
- Time: ``date_unixtime`` (epoch seconds as a string). Old exports without it only have
  ``date`` in the *exporting machine's local time*; it is read as UTC and may be off by
  the exporter's UTC offset.
- A forward (``forwarded_from``) is a ``repost``: Telegram's re-broadcast. The export
  hides the original message id, so ``parent_post_id`` is synthesised as ``tgfwd:`` +
  BLAKE2b(source name, normalised text): two chats forwarding the same message of the same
  source get the same parent key. ``parent_account_id`` is ``forwarded_from_id`` when
  present (some exports), else empty.
- ``reply_to_message_id`` makes a ``reply``; the parent is ``<reply_to_peer_id or chat
  id>/<id>`` and its author is looked up in the same chat.
- ``text`` is a string or a list of strings and entity objects; links come from ``link``
  / ``text_link`` entities, hashtags and mentions from their entities; ``mention_name``
  gives a ``user<id>`` mention id.
- Media (``photo``, ``file``) become a weak fingerprint in ``media_id`` (type, file name
  or size and dimensions); the local file path is never used as a URL.
- ``service`` messages (channel created, pinned, joined...) and ``unsupported`` ones are
  skipped and counted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import IO, Any

import orjson

from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._util import iso_to_us, unix_to_us
from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag, normalise_text

__all__ = ["TelegramExport"]

PLATFORM = "telegram"


def _text(v: Any) -> tuple[str, list[Mapping[str, Any]]]:
    """Plain text and the entity objects of a ``text`` value (string or mixed list)."""
    if isinstance(v, str):
        return v, []
    if isinstance(v, list):
        parts: list[str] = []
        ents: list[Mapping[str, Any]] = []
        for p in v:
            if isinstance(p, str):
                parts.append(p)
            elif isinstance(p, Mapping):
                parts.append(str(p.get("text") or ""))
                ents.append(p)
            else:
                raise TypeError(f"text part is a {type(p).__name__}")
        return "".join(parts), ents
    if v is None:
        return "", []
    raise TypeError(f"text is a {type(v).__name__}, expected a string or a list")


def _media(m: Mapping[str, Any]) -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    if m.get("photo"):
        out.append({"media_id": f"photo:{m.get('width')}x{m.get('height')}:"
                                f"{m.get('photo_file_size')}", "url": None, "hash": None})
    if m.get("file"):
        kind = m.get("media_type") or "file"
        out.append({"media_id": f"{kind}:{m.get('file_name') or ''}:{m.get('file_size')}",
                    "url": None, "hash": None})
    return out


def forward_key(source: str, text: str) -> str:
    """Synthetic parent id of a forward: same source name and text -> same key."""
    h = hashlib.blake2b(f"{source}\x1f{normalise_text(text)}".encode(), digest_size=8)
    return "tgfwd:" + h.hexdigest()


def _message(m: Mapping[str, Any], chat: Mapping[str, Any], authors: Mapping[Any, str],
             sink: Sink, record: int) -> None:
    mid = m.get("id")
    if mid is None or isinstance(mid, bool):
        raise KeyError("id")
    chat_id = chat.get("id")
    if chat_id is None:
        raise KeyError("chat id")
    if m.get("date_unixtime") is not None:
        created = unix_to_us(str(m["date_unixtime"]))
    elif isinstance(m.get("date"), str):
        created = iso_to_us(m["date"])
    else:
        raise KeyError("date_unixtime")
    acc = m.get("from_id")
    if not acc:
        if "channel" in str(chat.get("type") or ""):
            acc = f"channel{chat_id}"
        else:
            raise KeyError("from_id")
    acc = str(acc)
    sink.account(platform=PLATFORM, account_id=acc, seen_at=created,
                 display_name=m.get("from") if isinstance(m.get("from"), str) else None)
    text, ents = _text(m.get("text"))
    if not ents and isinstance(m.get("text_entities"), list):
        ents = [e for e in m["text_entities"] if isinstance(e, Mapping)]
    urls: list[str] = []
    tags: list[str] = []
    mentions: list[str] = []
    mention_ids: list[str] = []
    for e in ents:
        typ = e.get("type")
        et = str(e.get("text") or "")
        if typ == "link":
            c = canonical_url(et)
        elif typ == "text_link":
            c = canonical_url(str(e.get("href") or ""))
        else:
            c = None
            if typ == "hashtag" and et:
                tags.append(normalise_hashtag(et))
            elif typ == "mention" and et:
                mentions.append(normalise_handle(et))
            elif typ == "mention_name" and e.get("user_id") is not None:
                mention_ids.append(f"user{e['user_id']}")
        if c and c not in urls:
            urls.append(c)
    kind = "post"
    parent = parent_acc = None
    if m.get("forwarded_from") or m.get("forwarded_from_id"):
        kind = "repost"
        src = str(m.get("forwarded_from") or m.get("forwarded_from_id"))
        parent = forward_key(src, text)
        parent_acc = str(m["forwarded_from_id"]) if m.get("forwarded_from_id") else None
    elif m.get("reply_to_message_id") is not None:
        kind = "reply"
        peer = m.get("reply_to_peer_id") or chat_id
        parent = f"{peer}/{m['reply_to_message_id']}"
        if peer == chat_id:
            parent_acc = authors.get(m["reply_to_message_id"])
    sink.post(
        platform=PLATFORM, post_id=f"{chat_id}/{mid}", account_id=acc,
        handle=None, created_at=created, kind=kind, text=text, parent_post_id=parent,
        parent_account_id=parent_acc, urls=urls, hashtags=tags, mentions=mentions,
        mention_ids=mention_ids, media=_media(m), record=record,
        source_app=str(m["via_bot"]) if m.get("via_bot") else None,
    )


def _chats(doc: Any) -> list[Mapping[str, Any]]:
    if not isinstance(doc, Mapping):
        raise TypeError(f"the document is a JSON {type(doc).__name__}, not an export object")
    if isinstance(doc.get("messages"), list):
        return [doc]
    out: list[Mapping[str, Any]] = []
    for key in ("chats", "left_chats"):
        sec = doc.get(key)
        if isinstance(sec, Mapping) and isinstance(sec.get("list"), list):
            out += [c for c in sec["list"] if isinstance(c, Mapping)]
    if not out and not any(k in doc for k in ("chats", "left_chats")):
        raise KeyError("messages")
    return out


class TelegramExport(Loader):
    name = "telegram"
    platform = PLATFORM
    description = "Telegram Desktop export result.json (one chat, or a full export)"
    suffixes = (".json",)

    def sniff(self, head: bytes, filename: str) -> float:
        h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not h.startswith(b"{"):
            return 0.0
        first = h[:16384]
        if b'"messages"' in first and (b'"date_unixtime"' in first or b'"from_id"' in first
                                       or b'"text_entities"' in first):
            return 0.95
        if b'"chats"' in first and b'"list"' in first:
            return 0.9
        if b'"messages"' in first and b'"type"' in first and b'"name"' in first:
            return 0.6
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        data = stream.read()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            msg = str(e)
            what = "invalid UTF-8" if "utf-8" in msg.lower() else "invalid JSON (truncated?)"
            sink.reject(1, data, f"{what}: the whole export cannot be read: {msg}")
            return
        try:
            chats = _chats(doc)
        except (KeyError, TypeError) as e:
            sink.reject(1, data, f"not a Telegram export: {e}")
            return
        record = 0
        for chat in chats:
            msgs = chat.get("messages")
            if not isinstance(msgs, list):
                continue
            authors = {m.get("id"): str(m["from_id"]) for m in msgs
                       if isinstance(m, Mapping) and m.get("from_id")
                       and isinstance(m.get("id"), (int, str))}
            for m in msgs:
                record += 1
                if not isinstance(m, Mapping):
                    sink.reject(record, orjson.dumps(m), "message is not a JSON object")
                    continue
                typ = m.get("type", "message")
                if typ == "service":
                    sink.skip(record, "service message")
                    continue
                if typ != "message":
                    sink.skip(record, f"{typ} message")
                    continue
                try:
                    _message(m, chat, authors, sink, record)
                except KeyError as e:
                    sink.reject(record, orjson.dumps(m), f"missing field {e.args[0]}")
                except (ValueError, TypeError, AttributeError) as e:
                    sink.reject(record, orjson.dumps(m), f"bad value: {e}")
