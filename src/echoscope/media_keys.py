"""Perceptual-hash keys for ``media`` actions, from media files on disk (``--media-dir``).

A campaign that re-uploads one graphic again and again gives every copy a new media id,
so media-id keys never repeat. Analysts usually have the files (twarc and hydrators
download them). :func:`build_media_keys` finds each post's media file in a local folder
(by media id, or by the file name in the media URL: the string is parsed, never fetched —
the same lookup as bank matching, :func:`echoscope.bank.workspace_queries`), hashes it
with PDQ (:func:`echoscope.bank.hash_files`: the ``orig`` hash plus the variants that make
bank matching robust to flips, letterboxing and light crops) and groups near-duplicates:

1. two files are *near* when a PDQ variant of one is within ``radius`` bits (default 31,
   the bank's automatic-match radius) of the ``orig``, ``unboxed`` or crop hash of the
   other — exact multi-index search (:func:`echoscope.bank.radius_search`);
2. clusters are the connected components of that relation (single linkage);
3. a cluster's key is ``pdq:`` + the smallest ``orig`` hash among its files, so keys do
   not depend on the order of files, posts or threads.

Files whose PDQ quality is below ``min_quality`` (featureless: flat colours, near-empty
frames, which PDQ cannot tell apart) and files that are not readable images get
``md5:<md5 of the bytes>``: only byte-identical copies share it.

The keys go to the workspace table ``media_keys`` (post, position in its media list,
file, hash, key). :func:`apply_media_keys` puts them into the ``media.hash`` field of a
posts frame, which :mod:`echoscope.actions` uses as the ``media`` action key (it prefers
a hash to the media id), so visually identical re-uploads co-act. The table stays in the
workspace: ``echoscope detect`` on the workspace uses it too; a later ``analyze
--media-dir`` replaces it.

Caveat: single linkage can chain: A near B and B near C puts A and C in one cluster even
when A and C are 40 bits apart. At radius 31 unrelated pictures are about 128 bits apart
(99 at the least among thousands of synthetic pictures), so chains need a sequence of
edits; an analyst sees the cluster's files in the evidence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from echoscope import progress, schema
from echoscope.params import Params, limit
from echoscope.workspace import RunLog, Workspace

__all__ = ["MediaKeyParams", "apply_media_keys", "build_media_keys", "cluster_media_hashes",
           "rekey_media_actions", "workspace_media_keys"]

#: Variants compared on the target side (the query side uses every variant), as in
#: bank matching: the dihedral transforms of both files would only repeat each other.
_TARGET_VARIANTS = ("orig", "unboxed")


@dataclass(frozen=True)
class MediaKeyParams(Params):
    """How media files become ``media`` action keys."""

    radius: int = field(default=31, metadata=limit(
        0, 64, "bits", "PDQ Hamming distance under which two files are the same picture"))
    min_quality: int = field(default=50, metadata=limit(
        0, 100, "", "files of lower PDQ quality (featureless) are keyed by MD5 only"))
    variants: bool = field(default=True, metadata={
        "help": "compare flipped, rotated, unboxed and cropped variants too (robust, "
                "slower); False = the orig hash only"})


def _targets(variant: str) -> bool:
    return variant in _TARGET_VARIANTS or variant.startswith("crop")


def cluster_media_hashes(hashes: pa.Table, params: MediaKeyParams | None = None
                         ) -> dict[str, str]:
    """Item (file) -> key, from a hashes table as :func:`echoscope.bank.hash_files` makes
    it (columns item, signal_type, variant, value, quality, error).

    Items with a usable PDQ ``orig`` hash get ``pdq:<smallest orig hash of their
    cluster>``; the others ``md5:<md5>`` when their MD5 is known; items with neither are
    left out.
    """
    from echoscope.bank import radius_search
    from echoscope.bank._signals import pdq_to_words

    p = params or MediaKeyParams()
    rows = hashes.select(["item", "signal_type", "variant", "value", "quality", "error"]
                         ).to_pylist()
    md5: dict[str, str] = {}
    orig: dict[str, str] = {}
    variants: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        item, st, value = r["item"], r["signal_type"], r["value"] or ""
        if r["error"] or not value:
            continue
        if st == "md5":
            md5[item] = value
        elif st == "pdq" and (r["quality"] is None or r["quality"] >= p.min_quality):
            variant = r["variant"] or "orig"
            if variant == "orig":
                orig[item] = value
            if p.variants or variant == "orig":
                variants.setdefault(item, []).append((variant, value))
    items = sorted(orig)
    pos = {it: i for i, it in enumerate(items)}
    parent = np.arange(len(items), dtype=np.int64)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    q_item: list[int] = []
    q_val: list[str] = []
    t_item: list[int] = []
    t_val: list[str] = []
    for it in items:
        for variant, value in variants.get(it, []):
            q_item.append(pos[it])
            q_val.append(value)
            if _targets(variant):
                t_item.append(pos[it])
                t_val.append(value)
    if q_val and t_val:
        with progress.task(f"media keys: {len(items):,} images"):
            qi, ti, _ = radius_search(pdq_to_words(q_val), pdq_to_words(t_val), p.radius)
        qa = np.asarray(q_item, dtype=np.int64)[qi]
        ta = np.asarray(t_item, dtype=np.int64)[ti]
        for a, b in zip(qa.tolist(), ta.tolist(), strict=True):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    smallest: dict[int, str] = {}
    for it in items:
        root = find(pos[it])
        h = orig[it]
        if root not in smallest or h < smallest[root]:
            smallest[root] = h
    out = {it: "pdq:" + smallest[find(pos[it])] for it in items}
    for it, h in md5.items():
        out.setdefault(it, "md5:" + h)
    return out


def _media_items(ws: Workspace, media_dir: str | os.PathLike[str]
                 ) -> list[dict[str, Any]]:
    """(post, position, media id, local file) of every media item found in media_dir."""
    from echoscope.bank.match import _media_index, _url_name

    index = _media_index(media_dir)
    found: list[dict[str, Any]] = []
    if not index:
        return found
    rows = ws.sql("SELECT post_id, media FROM posts WHERE len(media) > 0 "
                  "ORDER BY platform, post_id").to_pylist()
    for r in rows:
        for i, m in enumerate(r["media"] or ()):
            if m is None:
                continue
            f = None
            for key in (m.get("media_id"), _url_name(m.get("url"))):
                if key and key in index:
                    f = index[key]
                    break
            if f is not None:
                found.append({"post_id": r["post_id"], "media_index": i,
                              "media_id": m.get("media_id"),
                              "recorded_key": m.get("hash") or m.get("media_id"),
                              "file": str(f)})
    return found


def build_media_keys(ws: Workspace, media_dir: str | os.PathLike[str],
                     params: MediaKeyParams | None = None, *,
                     log: RunLog | None = None) -> int:
    """Hash the posts' media files found in ``media_dir`` and replace ``media_keys``.

    Returns the number of media items keyed. Counts (items, files, images, clusters
    holding two or more files) go to ``log`` when given, else to a run-log entry of its
    own (command ``media-keys``).
    """
    from echoscope.bank import HASH_SCHEMA, HashParams, hash_files
    from echoscope.errors import InputError

    p = params or MediaKeyParams()
    if not Path(media_dir).is_dir():
        raise InputError(f"--media-dir {media_dir}: no such folder.", path=str(media_dir))
    if log is None:
        with ws.run("media-keys", {"media_dir": str(media_dir), **p.to_dict()}) as own:
            return build_media_keys(ws, media_dir, p, log=own)
    ws.ensure_table("media_keys")
    with log.timed("media_keys"):
        items = _media_items(ws, media_dir)
        files = sorted({it["file"] for it in items})
        hp = HashParams() if p.variants else HashParams(dihedral=False, unbox=False, crops=())
        hashes = hash_files(files, hp) if files else HASH_SCHEMA.empty_table()
        keys = cluster_media_hashes(hashes, p)
        orig: dict[str, tuple[str, int | None]] = {}
        for r in hashes.filter(pc.equal(hashes["variant"], "orig")).to_pylist():
            if r["signal_type"] == "pdq" and r["value"]:
                orig[r["item"]] = (r["value"], r["quality"])
        rows = []
        for it in items:
            key = keys.get(it["file"])
            if key is None:
                continue
            pdq, quality = orig.get(it["file"], (None, None))
            rows.append({**it, "pdq": pdq, "quality": quality, "key": key})
        table = pa.Table.from_pylist(rows, schema=schema.TABLES["media_keys"].schema)
        n = ws.replace("media_keys", table, stage="media_keys")
    per_key: dict[str, int] = {}
    for it in items:
        k = keys.get(it["file"])
        if k is not None:
            per_key[k] = per_key.get(k, 0) + 1
    shared = sum(1 for v in per_key.values() if v > 1)
    log.count("media_items_found", len(items))
    log.count("media_files", len(files))
    log.count("media_keys", n)
    log.count("media_keys_shared", shared)
    progress.info(f"media keys: {len(items):,} media items found in {media_dir} "
                  f"({len(files):,} files), {shared:,} pictures posted more than once")
    return n


def apply_media_keys(posts: pa.Table, keys: pa.Table) -> pa.Table:
    """``posts`` with ``media[i].hash`` set to the key of (post_id, i) where ``keys``
    (``media_keys`` rows) has one; every other value is left as it is."""
    if keys.num_rows == 0 or posts.num_rows == 0 or "media" not in posts.column_names:
        return posts
    media = posts.column("media").combine_chunks()
    if not isinstance(media, pa.ListArray) or len(media) == 0:
        return posts
    offs = media.offsets.to_numpy().astype(np.int64)
    base = int(offs[0])
    flat = media.values.slice(base, int(offs[-1]) - base)
    if len(flat) == 0:
        return posts
    lengths = np.diff(offs)
    parents = np.repeat(np.arange(len(media), dtype=np.int64), lengths)
    position = np.arange(len(flat), dtype=np.int64) - np.repeat(offs[:-1] - base, lengths)
    pids = pc.take(posts.column("post_id"), pa.array(parents))
    lookup = {(a, b): k for a, b, k in zip(keys.column("post_id").to_pylist(),
                                           keys.column("media_index").to_pylist(),
                                           keys.column("key").to_pylist(), strict=True)}
    old = flat.field("hash").to_pylist()
    new = [lookup.get((pid, pos), h) for pid, pos, h in
           zip(pids.to_pylist(), position.tolist(), old, strict=True)]
    if new == old:
        return posts
    struct = pa.StructArray.from_arrays(
        [flat.field("media_id"), flat.field("url"), pa.array(new, pa.string())],
        names=["media_id", "url", "hash"], mask=flat.is_null() if flat.null_count else None)
    offsets = pa.array(offs - base, pa.int32())
    rebuilt = pa.ListArray.from_arrays(offsets, struct, type=media.type,
                                       mask=media.is_null() if media.null_count else None)
    i = posts.column_names.index("media")
    return posts.set_column(i, posts.schema.field(i), rebuilt)


def workspace_media_keys(ws: Workspace, posts: pa.Table) -> pa.Table:
    """``posts`` with the workspace's ``media_keys`` applied (unchanged when it has none)."""
    present = ws.scalar("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = 'media_keys'")
    if not present or not ws.count("media_keys"):
        return posts
    keys = ws.sql("SELECT post_id, media_index, key FROM media_keys")
    return apply_media_keys(posts, keys)


def rekey_media_actions(ws: Workspace) -> int:
    """Give the workspace's ``media`` actions the keys of ``media_keys``, in place.

    A media action of a post whose item has a row in ``media_keys`` (same post, key equal
    to the row's ``recorded_key``) takes the row's key; an action that would then repeat
    another of the same post (two copies of one picture in one post) is dropped, as
    :func:`echoscope.actions.actions_from_posts` keeps one action per (post, type, key).
    Returns the number of actions re-keyed (0 when the table is absent or empty). The
    pipeline calls this right after building actions, so ``analyze`` and ``detect`` (on
    either engine) see the same keys; :func:`apply_media_keys` does the same on a posts
    frame before :func:`~echoscope.actions.actions_from_posts`.
    """
    present = ws.scalar("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = 'media_keys'")
    if not present or not ws.count("media_keys"):
        return 0
    with ws.transaction() as con:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _media_rekey AS
            SELECT DISTINCT m.post_id, m.recorded_key, m.key FROM media_keys m
            WHERE m.recorded_key IS NOT NULL AND m.key <> m.recorded_key""").fetchall()
        n = int(con.execute("""
            SELECT count(*) FROM actions a JOIN _media_rekey r
              ON a.type = 'media' AND a.post_id = r.post_id AND a.key = r.recorded_key
            """).fetchall()[0][0])
        if n:
            con.execute("""
                UPDATE actions SET key = r.key FROM _media_rekey r
                WHERE actions.type = 'media' AND actions.post_id = r.post_id
                  AND actions.key = r.recorded_key""").fetchall()
            con.execute("""
                DELETE FROM actions WHERE type = 'media' AND rowid IN (
                  SELECT rowid FROM (
                    SELECT rowid, row_number() OVER (
                      PARTITION BY account_id, "time", type, key, post_id ORDER BY rowid) AS k
                    FROM actions WHERE type = 'media') WHERE k > 1)""").fetchall()
        con.execute("DROP TABLE IF EXISTS _media_rekey").fetchall()
    return n
