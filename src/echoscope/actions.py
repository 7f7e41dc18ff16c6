"""Posts -> actions: one row per thing an account did that another account could also do.

:func:`actions_from_posts` is the pure, engine-neutral core (Arrow in, Arrow out; Spark
runs it per partition, except ``near_text`` which needs all texts at once);
:func:`build_actions` reads ``posts`` from a workspace and replaces ``actions``.

Action types and their keys (see docs/methods.md for caveats):

=============  ==========================================================================
type           key
=============  ==========================================================================
repost         the reposted post's id; ``text:<hash>`` of the reposted text (normalised,
               links kept) when the record names no parent (IRA files, some exports)
reply          the replied-to post's id
quote          the quoted post's id
text           ``text_hash`` of the normalised own text (URLs and @mentions removed) of
               posts, quotes and replies at least ``min_text_length`` characters long
near_text      near-duplicate cluster of those texts (MinHash-LSH over character
               5-grams, Jaccard >= ``near_threshold``): the smallest text hash in the cluster
url            canonical URL (as ingest canonicalised it)
domain         host of the URL without ``www.``; the platform's own hosts are excluded
hashtag        case-folded hashtag
hashtag_set    the post's distinct hashtags, sorted and joined by a space (>= 2 of them)
media          media hash when the record has one, else media id
mention        mentioned handle (case-folded)
=============  ==========================================================================

Reposts produce only a ``repost`` action by default: the repost carries the original's
text, URLs and hashtags, and counting them again would let one retweet count as five
co-actions (``repost_content=True`` changes that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from echoscope import progress, schema
from echoscope.normalise import domain_of, normalise_text, text_hash
from echoscope.params import Params, choice, limit
from echoscope.workspace import RunLog, Workspace

__all__ = ["ACTION_TYPES", "ActionParams", "actions_from_posts", "build_actions"]

ACTION_TYPES: tuple[str, ...] = (
    "repost", "reply", "quote", "text", "near_text", "url", "domain", "hashtag",
    "hashtag_set", "media", "mention",
)

#: Hosts of the platforms themselves: a link to twitter.com says nothing about a domain
#: being promoted (quote tweets carry such links), so ``domain`` ignores them.
PLATFORM_HOSTS: tuple[str, ...] = (
    "twitter.com", "mobile.twitter.com", "x.com", "t.co", "facebook.com", "m.facebook.com",
    "instagram.com", "t.me", "telegram.me", "bsky.app", "youtube.com", "m.youtube.com",
)


@dataclass(frozen=True)
class ActionParams(Params):
    """How posts become actions."""

    types: tuple[str, ...] = field(
        default=ACTION_TYPES,
        metadata=choice(*ACTION_TYPES, help="action types to derive"),
    )
    min_text_length: int = field(
        default=20,
        metadata=limit(1, 10_000, "characters",
                       "shortest normalised text (URLs and mentions removed) for text and "
                       "near_text actions; shorter texts ('thanks!') say nothing"),
    )
    text_kinds: tuple[str, ...] = field(
        default=("post", "quote", "reply"),
        metadata=choice("post", "quote", "reply", "repost",
                        help="post kinds whose own text gives text/near_text actions"),
    )
    near_threshold: float = field(
        default=0.7,
        metadata=limit(0.3, 1.0, "",
                       "estimated Jaccard similarity of character 5-gram sets for near_text"),
    )
    shingle: int = field(default=5, metadata=limit(2, 20, "characters"))
    num_perm: int = field(default=64, metadata=limit(16, 512, "permutations"))
    bands: int = field(default=16, metadata=limit(1, 512, "LSH bands"))
    repost_content: bool = field(
        default=False,
        metadata={"help": "also derive text/url/hashtag/... actions from reposts"},
    )
    parentless_reposts: bool = field(
        default=True,
        metadata={"help": "key reposts whose record names no parent post by the reposted "
                          "text (links kept): 'text:<hash>'"},
    )
    exclude_hosts: tuple[str, ...] = field(
        default=PLATFORM_HOSTS, metadata={"help": "hosts never used as domain keys"}
    )
    seed: int = field(default=1, metadata=limit(0, 2**31 - 1, "", "MinHash permutation seed"))

    def validate(self) -> None:
        from echoscope.errors import ParameterError

        if self.num_perm % self.bands:
            raise ParameterError(
                f"num_perm = {self.num_perm} must be a multiple of bands = {self.bands}."
            )


_POST_COLUMNS = ("post_id", "account_id", "created_at", "kind", "text", "parent_post_id",
                 "urls", "hashtags", "mentions", "media")


def _piece(acct: pa.Array, time: pa.Array, typ: str, key: pa.Array,
           post: pa.Array) -> pa.Table:
    n = len(key)
    return pa.table({
        "account_id": acct,
        "time": time,
        "type": pa.array([typ] * n, pa.string()) if n else pa.array([], pa.string()),
        "key": key,
        "post_id": post,
    })


def _take(posts: pa.Table, mask: Any) -> pa.Table:
    return posts.filter(mask) if mask is not None else posts


def _explode(posts: pa.Table, column: str) -> tuple[pa.Table, pa.Array]:
    """Rows of ``posts`` repeated once per list element, and the elements."""
    col = posts.column(column).combine_chunks()
    if len(col) == 0:
        return posts.slice(0, 0), pa.array([], col.type.value_type)
    parents = pc.list_parent_indices(col)
    values = pc.list_flatten(col)
    return posts.take(parents), values


def _dedupe(t: pa.Table) -> pa.Table:
    """One action per (post, type, key): a post naming a hashtag twice acts once."""
    if t.num_rows == 0:
        return t
    return t.group_by(["account_id", "time", "type", "key", "post_id"],
                      use_threads=False).aggregate([])


def actions_from_posts(posts: pa.Table, params: ActionParams | None = None) -> pa.Table:
    """Derive actions from posts (Arrow in, Arrow ``actions`` out, checked).

    Posts without a time or account cannot co-act with anything and give no actions (the
    caller counts them: :func:`build_actions` reports them in the run log).
    """
    p = params or ActionParams()
    missing = [c for c in _POST_COLUMNS if c not in posts.column_names]
    if missing:
        from echoscope.errors import EchoscopeError

        raise EchoscopeError(f"posts table lacks column(s) {missing} needed for actions")
    posts = posts.select(list(_POST_COLUMNS))
    valid = pc.and_(pc.is_valid(posts["created_at"]), pc.is_valid(posts["account_id"]))
    posts = posts.filter(valid)
    types = set(p.types)
    kind = posts["kind"]
    is_repost = pc.equal(kind, "repost")
    pieces: list[pa.Table] = []

    def add(sub: pa.Table, typ: str, key: pa.Array | pa.ChunkedArray) -> None:
        keep = pc.and_(pc.is_valid(key), pc.not_equal(key, ""))
        sub = sub.filter(keep)
        key = pc.filter(key, keep)
        if sub.num_rows:
            pieces.append(_piece(sub["account_id"], sub["created_at"], typ, key,
                                 sub["post_id"]))

    for typ in ("repost", "reply", "quote"):
        if typ in types:
            sub = posts.filter(pc.fill_null(pc.equal(kind, typ), False))
            add(sub, typ, sub["parent_post_id"])
    if "repost" in types and p.parentless_reposts:
        # reposts whose record names no parent (IRA files, some exports): the reposted
        # post is identified by its text, links included (a repost copies the original's
        # t.co links, so two copies of one original share them)
        sub = posts.filter(pc.and_(pc.fill_null(is_repost, False),
                                   pc.is_null(posts["parent_post_id"])))
        sub = sub.filter(pc.is_valid(sub["text"]))
        if sub.num_rows:
            add(sub, "repost", _text_keys(sub["text"], p.min_text_length))

    content = posts if p.repost_content else posts.filter(pc.invert(pc.fill_null(is_repost,
                                                                                  False)))
    if types & {"text", "near_text"}:
        kinds = pa.array(list(p.text_kinds), pa.string())
        sub = posts.filter(pc.fill_null(pc.is_in(kind, value_set=kinds), False))
        sub = sub.filter(pc.is_valid(sub["text"]))
        _text_actions(sub, p, types, pieces)

    if types & {"url", "domain"}:
        sub, urls = _explode(content, "urls")
        if "url" in types:
            add(sub, "url", urls)
        if "domain" in types and len(urls):
            excluded = set(p.exclude_hosts)
            doms = [domain_of(u) if u else None for u in urls.to_pylist()]
            dom_arr = pa.array([None if (d is None or d in excluded or not d) else d
                                for d in doms], pa.string())
            add(sub, "domain", dom_arr)

    if types & {"hashtag", "hashtag_set"}:
        sub, tags = _explode(content, "hashtags")
        if "hashtag" in types:
            add(sub, "hashtag", tags)
        if "hashtag_set" in types:
            sets: list[str | None] = []
            for row in content["hashtags"].to_pylist():
                uniq = sorted({t for t in (row or []) if t})
                sets.append(" ".join(uniq) if len(uniq) >= 2 else None)
            add(content, "hashtag_set", pa.array(sets, pa.string()))

    if "media" in types:
        sub, media = _explode(content, "media")
        if len(media):
            key = pc.coalesce(pc.struct_field(media, "hash"), pc.struct_field(media, "media_id"))
            add(sub, "media", key)

    if "mention" in types:
        sub, ments = _explode(content, "mentions")
        add(sub, "mention", ments)

    if not pieces:
        return schema.empty("actions")
    out = pa.concat_tables(pieces)
    out = _dedupe(out)
    out = out.sort_by([("type", "ascending"), ("key", "ascending"), ("time", "ascending"),
                       ("account_id", "ascending"), ("post_id", "ascending")])
    return schema.check("actions", out, stage="actions")


def _text_keys(text: pa.ChunkedArray | pa.Array, min_length: int) -> pa.Array:
    """``text:<hash>`` of each normalised text (links kept), null when shorter than
    ``min_length``: the key of a repost that names no parent."""
    enc = pc.dictionary_encode(text.combine_chunks() if isinstance(text, pa.ChunkedArray)
                               else text)
    keys: list[str | None] = []
    for t in enc.dictionary.to_pylist():
        norm = normalise_text(t)
        keys.append("text:" + text_hash(norm) if len(norm) >= min_length else None)
    return pc.take(pa.array(keys, pa.string()), enc.indices)


def _text_actions(sub: pa.Table, p: ActionParams, types: set[str],
                  pieces: list[pa.Table]) -> None:
    raw = sub["text"].combine_chunks()
    if len(raw) == 0:
        return
    enc = pc.dictionary_encode(raw)
    uniq = enc.dictionary.to_pylist()
    norm = [normalise_text(t, strip_urls=True, strip_mentions=True) for t in uniq]
    ok = np.array([len(t) >= p.min_text_length for t in norm], dtype=bool)
    hashes = np.array([text_hash(t) if good else "" for t, good in zip(norm, ok, strict=True)],
                      dtype=object)
    idx = enc.indices.to_numpy(zero_copy_only=False)
    row_ok = ok[idx]
    keep_rows = pa.array(row_ok)
    sub_ok = sub.filter(keep_rows)
    idx_ok = idx[row_ok]
    if "text" in types and sub_ok.num_rows:
        pieces.append(_piece(sub_ok["account_id"], sub_ok["created_at"], "text",
                             pa.array(hashes[idx_ok].tolist(), pa.string()), sub_ok["post_id"]))
    if "near_text" in types and sub_ok.num_rows:
        # cluster distinct normalised texts (exact copies collapse first), in sorted order:
        # LSH joins each bucket member to the bucket's first text, so the clusters would
        # otherwise depend on input row order (the Spark engine uses the same order)
        good = np.flatnonzero(ok)
        texts: list[str] = sorted({norm[u] for u in good})
        distinct = {t: j for j, t in enumerate(texts)}
        text_of = np.empty(len(uniq), dtype=np.int64)
        for u in good:
            text_of[u] = distinct[norm[u]]
        from echoscope.detect.minhash import cluster_near_duplicates

        labels = cluster_near_duplicates(texts, threshold=p.near_threshold, k=p.shingle,
                                         num_perm=p.num_perm, bands=p.bands, seed=p.seed)
        thash = np.array([int(text_hash(t), 16) for t in texts], dtype=np.uint64)
        # cluster key = smallest text hash among members (hex of equal length sorts as int)
        cmin = np.full(len(texts), np.iinfo(np.uint64).max, dtype=np.uint64)
        np.minimum.at(cmin, labels, thash)
        key_of_text = np.array([f"{int(v):016x}" for v in cmin[labels]], dtype=object)
        keys = key_of_text[text_of[idx_ok]]
        pieces.append(_piece(sub_ok["account_id"], sub_ok["created_at"], "near_text",
                             pa.array(keys.tolist(), pa.string()), sub_ok["post_id"]))


def build_actions(ws: Workspace, params: ActionParams | None = None, *,
                  log: RunLog | None = None) -> int:
    """Replace the workspace's ``actions`` with those derived from ``posts``; row count.

    Counts (actions per type, posts without a time) go to ``log`` when given, else to a
    run-log entry of its own (command ``actions``).
    """
    p = params or ActionParams()
    if log is None:
        with ws.run("actions", {"actions": p.to_dict()}) as own:
            return build_actions(ws, p, log=own)
    cols = ", ".join(f'"{c}"' for c in _POST_COLUMNS)
    with progress.task("actions"), log.timed("actions"):
        posts = ws.sql(f"SELECT {cols} FROM posts")
        no_time = int(pc.sum(pc.is_null(posts["created_at"])).as_py() or 0) \
            if posts.num_rows else 0
        actions = actions_from_posts(posts, p)
        n = ws.replace("actions", actions, stage="actions")
    per_type: dict[str, int] = {}
    if n:
        for row in actions.group_by("type").aggregate([("key", "count")]).to_pylist():
            per_type[str(row["type"])] = int(row["key_count"])
    log.count("actions", n)
    log.count("actions_by_type", per_type)
    log.count("posts_without_time", no_time)
    if no_time:
        progress.info(f"actions: {no_time} post(s) have no time and give no actions")
    progress.info(f"actions: {n:,} actions from {posts.num_rows:,} posts")
    return n
