"""Matching queries (hashed files, or a workspace's posts and media) against banks.

Match kinds, per signal type:

- ``pdq``: Hamming distance ``<= pdq_radius`` (default 31) is an automatic match;
  ``pdq_radius < distance <= review_radius`` (default 52) is reported with
  ``match_kind = review`` for a human to look at. Every PDQ variant of a query (dihedral
  transforms, unboxed, centre crops) is compared with the bank's ``orig``, ``unboxed`` and
  crop variants; the closest pair is reported. Hashes of quality ``< min_quality`` (50,
  featureless images) are not matched, on either side.
- ``md5``, ``text_exact``, ``url``: equality of canonical values.
- ``text_near``: MinHash (character 5-gram shingles) estimated Jaccard similarity
  ``>= text_threshold`` (default 0.8), candidates from MinHash-LSH.

One row per (query, media item, bank entry item, label): the best match.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import numpy as np
import polars as pl
import pyarrow as pa

from echoscope import progress, schema
from echoscope.bank._index import radius_search
from echoscope.bank._signals import SIGNAL_TYPES, bank_text, pdq_to_words
from echoscope.bank.banks import bank_entries, import_bank
from echoscope.bank.hashing import (
    DIHEDRAL,
    HASH_SCHEMA,
    MINHASH_SCHEME,
    MINHASH_SEED,
    NUM_PERM,
    HashParams,
    hash_image,
    iter_files,
    minhash_signatures,
    parse_signature,
)
from echoscope.errors import InputError, ParameterError
from echoscope.normalise import text_hash
from echoscope.params import Params, choice, limit
from echoscope.workspace import Workspace

__all__ = [
    "QUERY_SCHEMA",
    "MatchParams",
    "match_hash_file",
    "match_hashes",
    "match_queries",
    "match_workspace",
    "read_hashes_file",
    "workspace_queries",
    "write_hashes",
]

#: What is matched: one row per query hash.
QUERY_SCHEMA = pa.schema(
    [
        ("query_type", pa.string()),
        ("query_id", pa.string()),
        ("post_id", pa.string()),
        ("account_id", pa.string()),
        ("media_id", pa.string()),
        ("file", pa.string()),
        ("signal_type", pa.string()),
        ("variant", pa.string()),
        ("value", pa.string()),
        ("quality", pa.int64()),
    ]
)

_HEX = re.compile(r"^[0-9a-f]+$")

#: Bank-side PDQ variants that are compared (the query side supplies the dihedral ones).
_BANK_SKIP_VARIANTS = frozenset(DIHEDRAL) - {"orig"}


@dataclass(frozen=True)
class MatchParams(Params):
    """Thresholds of matching."""

    pdq_radius: int = field(default=31, metadata=limit(0, 64, "bits",
                            "PDQ Hamming distance of an automatic match"))
    review_radius: int = field(default=52, metadata=limit(0, 64, "bits",
                               "PDQ distances above pdq_radius up to this are for review"))
    min_quality: int = field(default=50, metadata=limit(0, 100, "",
                             "PDQ hashes of lower quality (featureless images) are not matched"))
    text_threshold: float = field(default=0.8, metadata=limit(0.1, 1.0, "Jaccard",
                                  "near-text similarity of a match"))
    text_min_length: int = field(default=20, metadata=limit(0, 100_000, "characters",
                                 "shorter normalised texts are not near-matched"))
    signal_types: tuple[str, ...] = field(default=SIGNAL_TYPES,
                                          metadata=choice(*SIGNAL_TYPES))

    def validate(self) -> None:
        if self.review_radius and self.review_radius < self.pdq_radius:
            raise ParameterError(
                f"review_radius = {self.review_radius} is below pdq_radius = "
                f"{self.pdq_radius}; set it to 0 to turn the review band off."
            )


_KEYS = ["query_type", "query_id", "media_id", "file", "signal_type", "bank", "item", "label"]


def _empty_matches() -> pa.Table:
    return schema.empty("bank_matches")


def _finish(frames: list[pl.DataFrame], params: MatchParams) -> pa.Table:
    cols = [c for c in schema.TABLES["bank_matches"].columns if c != "match_kind"]
    frames = [f.select(cols) for f in frames if f.height]
    if not frames:
        return _empty_matches()
    df = pl.concat(frames, how="vertical_relaxed")
    df = df.with_columns(
        pl.when((pl.col("signal_type") == "pdq") & (pl.col("distance") > params.pdq_radius))
        .then(pl.lit("review")).otherwise(pl.lit("auto")).alias("match_kind")
    )
    df = (
        df.sort(["similarity", "query_variant", "bank_variant"], descending=[True, False, False],
                nulls_last=True)
        .unique(subset=_KEYS, keep="first", maintain_order=True)
        .sort(["query_type", "query_id", "media_id", "signal_type", "bank", "item", "label"],
              nulls_last=True)
    )
    return schema.check("bank_matches", df.select(schema.TABLES["bank_matches"].columns).to_arrow(),
                        stage="match")


def _join_frame(q: pl.DataFrame, e: pl.DataFrame) -> pl.DataFrame:
    """Query rows x entry rows on (signal_type, value), as bank_matches columns."""
    return (
        q.join(e, on=["signal_type", "value"], how="inner")
        .with_columns(
            pl.col("variant").alias("query_variant"),
            pl.col("variant_bank").alias("bank_variant"),
            pl.col("value").alias("bank_value"),
            pl.lit(0, dtype=pl.Int64).alias("distance"),
            pl.lit(1.0).alias("similarity"),
        )
    )


def match_queries(queries: pa.Table, entries: pa.Table,
                  params: MatchParams | None = None) -> pa.Table:
    """Match query hashes (:data:`QUERY_SCHEMA`) against ``bank_entries`` rows.

    Returns ``bank_matches`` rows (not written anywhere).
    """
    p = params or MatchParams()
    q = pl.from_arrow(queries.cast(QUERY_SCHEMA))
    e = pl.from_arrow(schema.check("bank_entries", entries))
    assert isinstance(q, pl.DataFrame) and isinstance(e, pl.DataFrame)
    q = q.filter(pl.col("value").is_not_null() & (pl.col("value") != "")
                 & pl.col("signal_type").is_in(list(p.signal_types)))
    e = e.filter(pl.col("signal_type").is_in(list(p.signal_types))).rename(
        {"variant": "variant_bank", "quality": "quality_bank"})
    frames: list[pl.DataFrame] = []
    exact = ["md5", "text_exact", "url"]
    frames.append(_join_frame(q.filter(pl.col("signal_type").is_in(exact)),
                              e.filter(pl.col("signal_type").is_in(exact))))
    frames.append(_match_pdq(q.filter(pl.col("signal_type") == "pdq"),
                             e.filter(pl.col("signal_type") == "pdq"), p))
    frames.append(_match_near(q.filter(pl.col("signal_type") == "text_near"),
                              e.filter(pl.col("signal_type") == "text_near"), p))
    return _finish(frames, p)


def _match_pdq(q: pl.DataFrame, e: pl.DataFrame, p: MatchParams) -> pl.DataFrame:
    q = q.filter(pl.col("quality").is_null() | (pl.col("quality") >= p.min_quality))
    e = e.filter((pl.col("quality_bank").is_null() | (pl.col("quality_bank") >= p.min_quality))
                 & ~pl.col("variant_bank").is_in(list(_BANK_SKIP_VARIANTS)))
    if q.height == 0 or e.height == 0:
        return pl.DataFrame()
    qv = q.get_column("value").unique().sort().to_list()
    ev = e.get_column("value").unique().sort().to_list()
    radius = max(p.pdq_radius, p.review_radius)
    with progress.task(f"PDQ: {len(qv):,} query hashes vs {len(ev):,} bank hashes"):
        qi, bi, d = radius_search(pdq_to_words(qv), pdq_to_words(ev), radius)
    pairs = pl.DataFrame({
        "value": np.asarray(qv, dtype=object)[qi].tolist() if len(qi) else [],
        "bank_value": np.asarray(ev, dtype=object)[bi].tolist() if len(bi) else [],
        "distance": d,
    }, schema={"value": pl.String, "bank_value": pl.String, "distance": pl.Int64})
    return (
        q.join(pairs, on="value", how="inner")
        .join(e.rename({"value": "bank_value"}).drop("signal_type"), on="bank_value",
              how="inner")
        .with_columns(
            pl.col("variant").alias("query_variant"),
            pl.col("variant_bank").alias("bank_variant"),
            (1.0 - pl.col("distance").cast(pl.Float64) / 256.0).alias("similarity"),
        )
    )


def _minhash(sig: Any) -> Any:
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashvalues=sig, scheme=MINHASH_SCHEME)


def _match_near(q: pl.DataFrame, e: pl.DataFrame, p: MatchParams) -> pl.DataFrame:
    if q.height == 0 or e.height == 0:
        return pl.DataFrame()
    from datasketch import MinHashLSH

    ev = e.get_column("value").unique().sort().to_list()
    esig = minhash_signatures(ev)
    lsh = MinHashLSH(threshold=p.text_threshold, num_perm=NUM_PERM)
    for i, sig in enumerate(esig):
        lsh.insert(i, _minhash(sig))
    qvals = [v for v in q.get_column("value").unique().sort().to_list()
             if v.startswith("mh1:") or len(v) >= p.text_min_length]
    texts = [v for v in qvals if not v.startswith("mh1:")]
    sigs = dict(zip(texts, minhash_signatures(texts), strict=True))
    rows: list[tuple[str, str, float]] = []
    for v in qvals:
        if v in sigs:
            sig = sigs[v]
        else:
            try:
                sig = parse_signature(v)
            except ValueError:
                continue
        for i in lsh.query(_minhash(sig)):
            sim = float(np.mean(sig == esig[i]))
            if sim >= p.text_threshold:
                rows.append((v, ev[i], sim))
    if not rows:
        return pl.DataFrame()
    pairs = pl.DataFrame(rows, schema={"value": pl.String, "bank_value": pl.String,
                                       "similarity": pl.Float64}, orient="row")
    return (
        q.join(pairs, on="value", how="inner")
        .join(e.rename({"value": "bank_value"}).drop("signal_type"), on="bank_value",
              how="inner")
        .with_columns(
            pl.col("variant").alias("query_variant"),
            pl.col("variant_bank").alias("bank_variant"),
            pl.lit(None, dtype=pl.Int64).alias("distance"),
        )
    )


# -- hashes files --------------------------------------------------------------------


def read_hashes_file(path: str | os.PathLike[str]) -> pa.Table:
    """Read a hashes file written by ``echoscope hash`` (CSV) into :data:`HASH_SCHEMA`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read hashes file ({e}).", path=str(path)) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    need = {"item", "signal_type", "value"}
    if reader.fieldnames is None or not need <= {f.strip() for f in reader.fieldnames}:
        raise InputError(
            f"{path}: a hashes file needs the columns item, signal_type and value "
            "(write one with `echoscope hash PATH... -o hashes.csv`).", path=str(path))
    rows: list[dict[str, Any]] = []
    for i, r in enumerate(reader, start=2):
        q = (r.get("quality") or "").strip()
        try:
            quality = int(q) if q else None
        except ValueError:
            raise InputError(f"{path}, line {i}: quality {q!r} is not an integer.",
                             path=str(path)) from None
        rows.append({
            "item": r.get("item") or "", "kind": r.get("kind") or "",
            "signal_type": (r.get("signal_type") or "").strip().lower(),
            "variant": r.get("variant") or "", "value": (r.get("value") or "").strip().lower()
            if (r.get("signal_type") or "").strip().lower() in ("pdq", "md5", "text_exact")
            else (r.get("value") or "").strip(),
            "quality": quality, "error": r.get("error") or None,
        })
    return pa.Table.from_pylist(rows, schema=HASH_SCHEMA)


def write_hashes(table: pa.Table, out: str | os.PathLike[str] | IO[str]) -> int:
    """Write a :data:`HASH_SCHEMA` table as CSV (a path or an open text stream)."""
    rows = table.cast(HASH_SCHEMA).to_pylist()
    ctx = (open(out, "w", newline="", encoding="utf-8")  # noqa: SIM115
           if isinstance(out, str | os.PathLike) else None)
    f: Any = ctx if ctx is not None else out
    try:
        w = csv.DictWriter(f, fieldnames=HASH_SCHEMA.names)
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    finally:
        if ctx is not None:
            ctx.close()
    return len(rows)


def _hash_queries(hashes: pa.Table) -> pa.Table:
    h = pl.from_arrow(hashes.cast(HASH_SCHEMA))
    assert isinstance(h, pl.DataFrame)
    h = h.filter(pl.col("error").is_null() | (pl.col("error") == ""))
    df = h.select(
        pl.when(pl.col("kind") == "text").then(pl.lit("text")).otherwise(pl.lit("file"))
        .alias("query_type"),
        pl.col("item").alias("query_id"),
        pl.lit(None, dtype=pl.String).alias("post_id"),
        pl.lit(None, dtype=pl.String).alias("account_id"),
        pl.lit(None, dtype=pl.String).alias("media_id"),
        pl.when(pl.col("kind") == "text").then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("item")).alias("file"),
        "signal_type", "variant", "value", "quality",
    )
    return df.to_arrow().cast(QUERY_SCHEMA)


def match_hashes(hashes: pa.Table, entries: pa.Table,
                 params: MatchParams | None = None) -> pa.Table:
    """Match a hashes table (from :func:`~echoscope.bank.hashing.hash_files`) against banks."""
    return match_queries(_hash_queries(hashes), entries, params)


# -- workspaces ----------------------------------------------------------------------


def _media_index(media_dir: str | os.PathLike[str]) -> dict[str, Path]:
    d = Path(media_dir)
    if not d.is_dir():
        raise InputError(f"media folder {media_dir} does not exist or is not a folder.",
                         path=str(media_dir))
    index: dict[str, Path] = {}
    for f in iter_files([d]):
        index.setdefault(f.name, f)
        index.setdefault(f.stem, f)
    return index


def _url_name(url: str | None) -> str:
    """Last path segment of a media URL (the string is parsed, never fetched)."""
    if not url:
        return ""
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    name = unquote(path.rsplit("/", 1)[-1])
    return name.split(":", 1)[0]  # Twitter's ...jpg:large


def workspace_queries(ws: Workspace, *, media_dir: str | os.PathLike[str] | None = None,
                      signal_types: Sequence[str] = SIGNAL_TYPES,
                      hash_params: HashParams | None = None) -> pa.Table:
    """Query hashes of a workspace's posts: texts, URLs, media hashes and local media files.

    Media are matched to files in ``media_dir`` by media id or by the file name in the
    media URL (never fetched); each file is hashed once.
    """
    types = set(signal_types)
    rows: list[dict[str, Any]] = []

    def add(post: dict[str, Any], st: str, value: str, variant: str = "",
            quality: int | None = None, media_id: str | None = None,
            file: str | None = None) -> None:
        rows.append({"query_type": "post", "query_id": post["post_id"],
                     "post_id": post["post_id"], "account_id": post["account_id"],
                     "media_id": media_id, "file": file, "signal_type": st,
                     "variant": variant, "value": value, "quality": quality})

    if types & {"text_exact", "text_near"}:
        posts = ws.sql("SELECT post_id, account_id, text FROM posts WHERE text IS NOT NULL "
                       "AND text <> '' ORDER BY platform, post_id").to_pylist()
        for post in progress.track(posts, "texts", total=len(posts)):
            norm = bank_text(post["text"])
            if not norm:
                continue
            if "text_exact" in types:
                add(post, "text_exact", text_hash(norm))
            if "text_near" in types:
                add(post, "text_near", norm)
    if "url" in types:
        for post in ws.sql("SELECT post_id, account_id, unnest(urls) AS url FROM posts "
                           "ORDER BY platform, post_id").to_pylist():
            if post["url"]:
                add(post, "url", post["url"])
    if types & {"pdq", "md5"}:
        media = ws.sql(
            "SELECT post_id, account_id, m.media_id AS media_id, m.url AS url, m.hash AS hash "
            "FROM (SELECT post_id, account_id, platform, unnest(media) AS m FROM posts) "
            "ORDER BY platform, post_id, media_id").to_pylist()
        index = _media_index(media_dir) if media_dir is not None else {}
        cache: dict[Path, list[tuple[str, str, str, int | None]]] = {}
        hp = hash_params or HashParams()
        for m in progress.track(media, "media", total=len(media)):
            h = (m["hash"] or "").strip().lower()
            if not _HEX.match(h):
                h = ""
            if len(h) == 64 and "pdq" in types:
                add(m, "pdq", h, "orig", None, m["media_id"])
            elif len(h) == 32 and "md5" in types:
                add(m, "md5", h, "", None, m["media_id"])
            if not index:
                continue
            f = None
            for key in (m["media_id"], _url_name(m["url"])):
                if key and key in index:
                    f = index[key]
                    break
            if f is None:
                continue
            if f not in cache:
                from echoscope.bank.hashing import file_md5

                hs: list[tuple[str, str, str, int | None]] = [("md5", "", file_md5(f), None)]
                try:
                    hs += [("pdq", x.variant, x.value, x.quality) for x in hash_image(f, hp)]
                except ValueError as e:
                    progress.info(f"{f}: {e}; only its MD5 is matched.")
                cache[f] = hs
            for st, variant, value, quality in cache[f]:
                if st in types:
                    add(m, st, value, variant, quality, m["media_id"], str(f))
    return pa.Table.from_pylist(rows, schema=QUERY_SCHEMA)


def _resolve_banks(ws: Workspace, banks: Sequence[str]) -> list[str] | None:
    names: list[str] = []
    for b in banks:
        path = Path(b)
        if path.is_file():
            summary = import_bank(ws, path.stem, path)
            names.append(summary.bank)
        elif path.suffix.lower() in (".csv", ".jsonl", ".ndjson", ".json") or os.sep in b:
            raise InputError(f"bank file {b}: no such file.", path=b)
        else:
            names.append(b)
    return names or None


def match_workspace(
    ws: Workspace,
    banks: Sequence[str] = (),
    media_dir: str | os.PathLike[str] | None = None,
    params: MatchParams | None = None,
    hash_params: HashParams | None = None,
) -> pa.Table:
    """Match a workspace's posts (text, URLs, media) against banks; writes ``bank_matches``.

    ``banks`` are bank names in the workspace, or bank files (imported first, as a bank
    named after the file); empty means every bank in the workspace. Returns the matches.
    """
    p = params or MatchParams()
    ws.ensure_table("bank_entries")
    ws.ensure_table("bank_matches")
    with ws.run("match", {"banks": list(banks), "media_dir": str(media_dir or ""),
                          **p.to_dict()}, [b for b in banks if Path(b).is_file()]) as run:
        names = _resolve_banks(ws, banks)
        entries = bank_entries(ws, names)
        present = set(entries.column("signal_type").to_pylist())
        types = tuple(t for t in p.signal_types if t in present)
        with run.timed("queries"):
            queries = workspace_queries(ws, media_dir=media_dir, signal_types=types,
                                        hash_params=hash_params)
        with run.timed("match"):
            matches = match_queries(queries, entries, p.replace(signal_types=types or
                                                                 p.signal_types))
        ws.replace("bank_matches", matches, stage="match")
        run.count("bank_entries", entries.num_rows)
        run.count("queries", queries.num_rows)
        run.count("bank_matches", matches.num_rows)
    return matches


def match_hash_file(
    hashes: str | os.PathLike[str],
    banks: Sequence[str | os.PathLike[str]],
    params: MatchParams | None = None,
    *,
    strict: bool = False,
) -> tuple[pa.Table, list[str]]:
    """Match a hashes file against bank files (no workspace needed).

    Returns the matches and one message per rejected bank row (``strict``: the first bad
    row raises instead).
    """
    from echoscope.bank.banks import read_bank_file

    if not banks:
        raise ParameterError("give at least one bank file (--bank BANK.csv).")
    tables: list[pa.Table] = []
    problems: list[str] = []
    for b in banks:
        t, rejects = read_bank_file(b, strict=strict)
        tables.append(t)
        problems += [f"{b}, line {r.line}: {r.reason}" for r in rejects]
    entries = pa.concat_tables(tables)
    return match_hashes(read_hashes_file(hashes), entries, params), problems
