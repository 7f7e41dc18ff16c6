"""Bluesky Jetstream JSON lines (the ``/subscribe`` JSON events).

Every line is one event (one record):

- ``commit`` / ``create`` of ``app.bsky.feed.post``: a post, reply (``record.reply``) or
  quote (``embed.record`` / ``embed.recordWithMedia``). ``post_id`` is the AT-URI
  ``at://<did>/app.bsky.feed.post/<rkey>``; ``account_id`` the author's DID.
- ``commit`` / ``create`` of ``app.bsky.feed.repost``: a ``repost`` whose parent is
  ``record.subject.uri`` (parent author = the DID in that URI).
- Likes (``app.bsky.feed.like``) are skipped with reason "like" (they are not posts; the
  repost is the amplification act). Other collections (follows, blocks, profiles...),
  ``update`` and ``delete`` commits are skipped with their reason.
- ``identity`` events give the account's handle (kept in the handle history) and are
  counted as skipped; ``account`` events (takedowns, deactivations) are skipped too.

Time is ``time_us`` (when Jetstream saw the event): ``record.createdAt`` is set by the
client and can be back-dated. Facets carry UTF-8 **byte** offsets; mention handles are
sliced from the text's bytes; links and tags come from the features. Link cards
(``embed.external.uri``) add a URL. Images (``embed.images``) keep the blob CID, a content
hash, as ``media_id`` and ``hash`` (``cid:<cid>``): identical uploads share it.
Events of the newer wire format (``{"$type": "message", "payload": {...}}``) are unwrapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._util import iso_to_us, iter_json_lines
from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag

__all__ = ["BlueskyJetstream"]

PLATFORM = "bluesky"
_EMPTY: Mapping[str, Any] = {}


def did_of(uri: str) -> str | None:
    """``at://did:plc:x/app.bsky.feed.post/rk`` -> ``did:plc:x``."""
    if not uri.startswith("at://"):
        return None
    return uri[5:].split("/", 1)[0] or None


def _images(embed: Mapping[str, Any]) -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    for img in embed.get("images") or ():
        if not isinstance(img, Mapping):
            continue
        blob = img.get("image") or _EMPTY
        ref = blob.get("ref") if isinstance(blob, Mapping) else None
        cid = ref.get("$link") if isinstance(ref, Mapping) else blob.get("cid")
        if cid:
            out.append({"media_id": str(cid), "url": None, "hash": f"cid:{cid}"})
    video = embed.get("video")
    if isinstance(video, Mapping):
        ref = video.get("ref")
        cid = ref.get("$link") if isinstance(ref, Mapping) else None
        if cid:
            out.append({"media_id": str(cid), "url": None, "hash": f"cid:{cid}"})
    return out


def _post(ev: Mapping[str, Any], did: str, created: int, sink: Sink, record: int) -> None:
    c = ev["commit"]
    rec = c.get("record")
    if not isinstance(rec, Mapping):
        raise KeyError("commit.record")
    rkey = c.get("rkey")
    if not rkey:
        raise KeyError("commit.rkey")
    pid = f"at://{did}/{c['collection']}/{rkey}"
    text = rec.get("text")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise TypeError("record.text is not a string")
    btext = text.encode("utf-8")
    urls: list[str] = []
    tags: list[str] = []
    mentions: list[str] = []
    mention_ids: list[str] = []
    for f in rec.get("facets") or ():
        if not isinstance(f, Mapping):
            continue
        idx = f.get("index") or _EMPTY
        for feat in f.get("features") or ():
            if not isinstance(feat, Mapping):
                continue
            typ = str(feat.get("$type") or "")
            if typ.endswith("#link") and feat.get("uri"):
                u = canonical_url(str(feat["uri"]))
                if u and u not in urls:
                    urls.append(u)
            elif typ.endswith("#tag") and feat.get("tag"):
                tags.append(normalise_hashtag(str(feat["tag"])))
            elif typ.endswith("#mention"):
                if feat.get("did"):
                    mention_ids.append(str(feat["did"]))
                bs, be = idx.get("byteStart"), idx.get("byteEnd")
                if isinstance(bs, int) and isinstance(be, int) and 0 <= bs < be <= len(btext):
                    h = btext[bs:be].decode("utf-8", "replace").strip()
                    if h.startswith("@"):
                        mentions.append(normalise_handle(h))
    embed = rec.get("embed") or _EMPTY
    etype = str(embed.get("$type") or "")
    quoted = None
    media: list[dict[str, str | None]] = []
    if etype.startswith("app.bsky.embed.external"):
        ext = embed.get("external") or _EMPTY
        u = canonical_url(str(ext.get("uri") or "")) if ext.get("uri") else None
        if u and u not in urls:
            urls.append(u)
    elif etype.startswith("app.bsky.embed.recordWithMedia"):
        inner = (embed.get("record") or _EMPTY).get("record") or _EMPTY
        quoted = inner.get("uri")
        media = _images(embed.get("media") or _EMPTY)
    elif etype.startswith("app.bsky.embed.record"):
        quoted = (embed.get("record") or _EMPTY).get("uri")
    elif etype.startswith(("app.bsky.embed.images", "app.bsky.embed.video")):
        media = _images(embed)
    kind, parent = "post", None
    reply = rec.get("reply")
    if isinstance(reply, Mapping) and isinstance(reply.get("parent"), Mapping):
        kind, parent = "reply", reply["parent"].get("uri")
    elif quoted:
        kind, parent = "quote", quoted
    langs = rec.get("langs")
    sink.account(platform=PLATFORM, account_id=did, seen_at=created)
    sink.post(
        platform=PLATFORM, post_id=pid, account_id=did, created_at=created, kind=kind,
        text=text, lang=str(langs[0]) if isinstance(langs, list) and langs else None,
        parent_post_id=str(parent) if parent else None,
        parent_account_id=did_of(str(parent)) if parent else None,
        urls=urls, hashtags=tags, mentions=mentions, mention_ids=mention_ids, media=media,
        record=record,
    )


def _repost(ev: Mapping[str, Any], did: str, created: int, sink: Sink, record: int) -> None:
    c = ev["commit"]
    rec = c.get("record") or _EMPTY
    subject = rec.get("subject") if isinstance(rec, Mapping) else None
    if not isinstance(subject, Mapping) or not subject.get("uri"):
        raise KeyError("record.subject.uri")
    if not c.get("rkey"):
        raise KeyError("commit.rkey")
    uri = str(subject["uri"])
    sink.account(platform=PLATFORM, account_id=did, seen_at=created)
    sink.post(
        platform=PLATFORM, post_id=f"at://{did}/{c['collection']}/{c['rkey']}",
        account_id=did, created_at=created, kind="repost", text=None,
        parent_post_id=uri, parent_account_id=did_of(uri), record=record,
    )


def _event(ev: Any, sink: Sink, record: int, raw: bytes) -> None:
    if isinstance(ev, Mapping) and ev.get("$type") == "message" and isinstance(
            ev.get("payload"), Mapping):
        ev = ev["payload"]
    if not isinstance(ev, Mapping):
        sink.reject(record, raw, f"not an event object: a JSON {type(ev).__name__}")
        return
    try:
        did = ev.get("did")
        if not isinstance(did, str) or not did:
            raise KeyError("did")
        tu = ev.get("time_us")
        if isinstance(tu, bool) or not isinstance(tu, (int, float)):
            if isinstance(ev.get("time"), str):
                created = iso_to_us(ev["time"])
            else:
                raise KeyError("time_us")
        else:
            created = int(tu)
        kind = ev.get("kind")
        if kind == "identity":
            ident = ev.get("identity") or _EMPTY
            if ident.get("handle"):
                sink.account(platform=PLATFORM, account_id=did, seen_at=created,
                             handle=str(ident["handle"]))
            sink.skip(record, "identity event")
            return
        if kind == "account":
            sink.skip(record, "account event")
            return
        if kind != "commit":
            raise ValueError(f"unknown event kind {kind!r}")
        c = ev.get("commit")
        if not isinstance(c, Mapping):
            raise KeyError("commit")
        op = c.get("operation")
        coll = str(c.get("collection") or "")
        if op != "create":
            sink.skip(record, f"{op} commit")
            return
        if coll == "app.bsky.feed.post":
            _post(ev, did, created, sink, record)
        elif coll == "app.bsky.feed.repost":
            _repost(ev, did, created, sink, record)
        elif coll == "app.bsky.feed.like":
            sink.skip(record, "like")
        else:
            sink.skip(record, f"{coll or 'unknown'} record")
    except KeyError as e:
        sink.reject(record, raw, f"missing field {e.args[0]}")
    except (ValueError, TypeError, AttributeError) as e:
        sink.reject(record, raw, f"bad value: {e}")


class BlueskyJetstream(Loader):
    name = "bluesky"
    platform = PLATFORM
    description = "Bluesky Jetstream JSON lines (posts, reposts; likes and other events skipped)"
    suffixes = (".jsonl", ".json")

    def sniff(self, head: bytes, filename: str) -> float:
        h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not h.startswith(b"{"):
            return 0.0
        first = h[:4096]
        if b'"did"' in first and (b'"time_us"' in first or b'"jetstream' in first):
            return 0.95
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        for n, raw, obj, err in iter_json_lines(stream):
            if err is not None:
                sink.reject(n, raw, err)
            else:
                _event(obj, sink, n, raw)
