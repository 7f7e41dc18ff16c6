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
    batch_posts: int = field(
        default=250_000,
        metadata=limit(1, 10**9, "posts",
                       "posts read per batch by build_actions (memory only: the actions "
                       "are the same for every batch size)"),
    )

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
    return _derive(posts, params or ActionParams())


@dataclass
class _NearSink:
    """What a batch leaves for the global near_text step (see :func:`build_actions`):
    its distinct normalised texts with their hashes, and, when ``text`` actions are not
    derived, its text rows (type ``text``, key = text hash)."""

    texts: list[pa.Table] = field(default_factory=list)
    rows: list[pa.Table] = field(default_factory=list)


def _derive(posts: pa.Table, p: ActionParams, near_sink: _NearSink | None = None) -> pa.Table:
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
        _text_actions(sub, p, types, pieces, near_sink)

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
                  pieces: list[pa.Table], near_sink: _NearSink | None = None) -> None:
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
    if "near_text" in types and sub_ok.num_rows and near_sink is not None:
        # batched (build_actions): the clusters need every text, so keep this batch's
        # distinct texts and text rows; near_text keys are set once all batches are read
        good = np.flatnonzero(ok)
        near_sink.texts.append(pa.table({
            "norm": pa.array([norm[u] for u in good], pa.string()),
            "h": pa.array(hashes[good].tolist(), pa.string())}))
        if "text" not in types:
            near_sink.rows.append(_piece(sub_ok["account_id"], sub_ok["created_at"], "text",
                                         pa.array(hashes[idx_ok].tolist(), pa.string()),
                                         sub_ok["post_id"]))
    elif "near_text" in types and sub_ok.num_rows:
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

    Posts are read in batches of ``params.batch_posts`` rows (by ``rowid``), so memory
    does not grow with the workspace. ``near_text`` clusters need every text at once: each
    batch keeps only its distinct normalised texts (in a temporary DuckDB table, which
    spills to disk under the memory limit); once all batches are read the distinct texts
    are streamed in sorted order, signed (MinHash), clustered, and the ``near_text``
    actions are the ``text`` rows with the cluster key of their text. The result is the
    set of rows :func:`actions_from_posts` gives on all posts at once, for every batch
    size (tests/test_actions_batched.py); only the physical row order differs.

    Counts (actions per type, posts without a time) go to ``log`` when given, else to a
    run-log entry of its own (command ``actions``).
    """
    p = params or ActionParams()
    if log is None:
        with ws.run("actions", {"actions": p.to_dict()}) as own:
            return build_actions(ws, p, log=own)
    cols = ", ".join(f'"{c}"' for c in _POST_COLUMNS)
    types = set(p.types)
    near = "near_text" in types
    rows_src = "actions" if "text" in types else "_actions_text_rows"
    with progress.task("actions"), log.timed("actions"):
        lo, hi, n_posts, no_time = ws.con.execute(
            "SELECT min(rowid), max(rowid), count(*), count(*) FILTER (created_at IS NULL) "
            "FROM posts").fetchall()[0]
        batches = 0
        with ws.transaction() as con:
            con.execute("DELETE FROM actions")
            if near:
                con.execute("CREATE OR REPLACE TEMP TABLE _actions_texts "
                            "(norm VARCHAR, h VARCHAR)")
                if rows_src != "actions":
                    con.execute("CREATE OR REPLACE TEMP TABLE _actions_text_rows AS "
                                "SELECT * FROM actions LIMIT 0")
            start = int(lo) if lo is not None else 0
            while hi is not None and start <= int(hi):
                posts = ws.sql(f"SELECT {cols} FROM posts WHERE rowid >= ? AND rowid < ?",
                               [start, start + p.batch_posts])
                start += p.batch_posts
                batches += 1
                sink = _NearSink() if near else None
                ws.append("actions", _derive(posts, p, sink), stage="actions")
                if sink is not None:
                    _stash(ws, sink)
                del posts, sink
            if near:
                # DuckDB's cache is dropped for the signatures' NumPy phase (docs/scale.md)
                with ws.capped_memory():
                    _near_text_actions(ws, p, rows_src)
                con.execute("DROP TABLE IF EXISTS _actions_texts")
                con.execute("DROP TABLE IF EXISTS _actions_text_rows")
        per_type = {str(t): int(c) for t, c in ws.con.execute(
            "SELECT type, count(*) FROM actions GROUP BY type ORDER BY type").fetchall()}
        n = sum(per_type.values())
    log.count("actions", n)
    log.count("actions_by_type", per_type)
    log.count("posts_without_time", int(no_time))
    log.count("actions_batches", batches)
    if no_time:
        progress.info(f"actions: {no_time} post(s) have no time and give no actions")
    progress.info(f"actions: {n:,} actions from {int(n_posts):,} posts")
    return n


def _stash(ws: Workspace, sink: _NearSink) -> None:
    """Keep a batch's distinct texts (and text rows) for the near_text step."""
    for table, parts in (("_actions_texts", sink.texts), ("_actions_text_rows", sink.rows)):
        if not parts:
            continue
        data = pa.concat_tables(parts)
        if table == "_actions_texts":
            data = data.group_by(["norm", "h"], use_threads=False).aggregate([])
        # Workspace._insert reads the Arrow data without registering a view, which inside
        # this transaction would keep every batch's texts alive until COMMIT
        ws._insert(table, data)


def _near_text_actions(ws: Workspace, p: ActionParams, rows_src: str,
                       chunk: int = 100_000) -> None:
    """near_text actions from the stashed texts: the same clusters and keys as
    :func:`actions_from_posts` (distinct normalised texts in sorted order, MinHash-LSH,
    key = smallest text hash of the cluster), holding signatures, not texts."""
    from echoscope.detect import minhash

    if p.num_perm % p.bands:
        raise ValueError("num_perm must be a multiple of bands")
    # the distinct texts once, so their number is known and the signatures go straight
    # into one array (appending chunks and concatenating them held them twice)
    ws.con.execute("CREATE OR REPLACE TEMP TABLE _actions_distinct AS SELECT DISTINCT norm, "
                   "('0x' || h)::UBIGINT AS hv FROM _actions_texts")
    ws.con.execute("DROP TABLE IF EXISTS _actions_texts")
    n = int(ws.scalar("SELECT count(*) FROM _actions_distinct"))
    sig = np.empty((n, p.num_perm), dtype=np.uint64)
    thash = np.empty(n, dtype=np.uint64)
    # VARCHAR order in DuckDB is UTF-8 byte order = code point order = Python's str order;
    # the hex text hash becomes its 64-bit value in SQL (no Python string per text)
    reader = ws.con.sql("SELECT norm, hv FROM _actions_distinct "
                        "ORDER BY norm").to_arrow_reader(chunk)
    done = 0
    for batch in reader or ():
        if batch.num_rows:
            end = done + batch.num_rows
            sig[done:end] = minhash.minhash_signatures(
                batch.column(0).to_pylist(), k=p.shingle, num_perm=p.num_perm, seed=p.seed)
            thash[done:end] = np.asarray(batch.column(1).to_numpy(), dtype=np.uint64)
            done = end
    del reader  # DuckDB frees the sorted texts with the result
    ws.con.execute("DROP TABLE IF EXISTS _actions_distinct")
    if done != n:
        from echoscope.errors import EngineError

        raise EngineError(f"near_text: read {done:,} distinct texts, expected {n:,}")
    if not n:
        return
    pa.default_memory_pool().release_unused()
    parent = np.arange(n, dtype=np.int64)
    rows = p.num_perm // p.bands
    for band in range(p.bands):
        h = np.asarray(minhash._band_hash(sig, band * rows, rows))
        order = np.argsort(h, kind="stable").astype(np.int64)
        minhash._join_buckets(sig, h, order, parent, float(p.near_threshold))
    del sig, h, order
    labels = minhash._roots(parent)
    # cluster key = smallest text hash among members, as 16 hex digits
    cmin = np.full(n, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(cmin, labels, thash)
    _actions_near_map = pa.table(  # read by the SQL below (replacement scan)
        {"hv": pa.array(thash), "cmin": pa.array(cmin[labels])})
    del thash, cmin, labels
    ws.con.execute(
        "INSERT INTO actions (account_id, time, type, key, post_id) "
        "SELECT r.account_id, r.time, 'near_text', lower(lpad(to_hex(m.cmin), 16, '0')), "
        f"r.post_id FROM {rows_src} r JOIN _actions_near_map m "
        "ON ('0x' || r.key)::UBIGINT = m.hv WHERE r.type = 'text'")
