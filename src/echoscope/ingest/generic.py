"""Any CSV or Parquet table, with a column mapping onto the ``posts`` columns.

``--map account_id=user,created_at=time,text=body`` maps canonical ``posts`` column names
to the file's columns; a column already named like a canonical column needs no mapping.
Needed: ``account_id`` and ``created_at``. Everything else is optional:

- ``created_at`` / ``parent_created_at``: ISO 8601 (naive = UTC) or Unix seconds
  (numbers above 10^11 are read as milliseconds).
- ``urls``, ``hashtags``, ``mentions``, ``mention_ids``, ``media``: a JSON list, a
  Python-list text, or words separated by spaces/commas. ``media`` items are media URLs.
  When no ``urls`` / ``hashtags`` / ``mentions`` column is mapped they are taken from the
  text.
- ``post_id``: when absent, a stable id is synthesised (``gen:`` + BLAKE2b of account,
  time, text and the occurrence number, as for the IRA data).
- ``platform``: a column, or ``--platform NAME``, else ``generic``.
- ``kind``: a column (post/repost/reply/quote); else ``repost`` when a
  ``parent_post_id`` is given and ``post`` otherwise.

Sniffing picks this loader only when the header already uses canonical names
(``post_id``, ``account_id``, ``created_at``) or the file is Parquet; ``--map`` without
``--format`` also selects it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Mapping
from typing import IO, Any

import orjson

from echoscope.errors import InputError, ParameterError
from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._csv import header_of, iter_csv, parse_list_cell
from echoscope.ingest._util import entities_from_text, iso_to_us
from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag

__all__ = ["CANONICAL", "GenericCsv", "GenericParquet"]

CANONICAL = (
    "platform", "post_id", "account_id", "handle", "created_at", "kind", "text", "lang",
    "source_app", "parent_post_id", "parent_account_id", "parent_created_at", "urls",
    "hashtags", "mentions", "mention_ids", "media",
)
_KINDS = frozenset({"post", "repost", "reply", "quote"})


def _time(v: Any) -> int:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        f = float(v)
        return round(f * 1000) if abs(f) > 1e11 else round(f * 1_000_000)
    if hasattr(v, "timestamp") and hasattr(v, "tzinfo"):  # datetime from Parquet
        import datetime as dt

        d = v if v.tzinfo is not None else v.replace(tzinfo=dt.UTC)
        return round(float(d.timestamp()) * 1_000_000)
    s = str(v).strip()
    try:
        f = float(s)
    except ValueError:
        return iso_to_us(s.replace(" ", "T", 1) if " " in s and "T" not in s else s)
    return round(f * 1000) if abs(f) > 1e11 else round(f * 1_000_000)


def _list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v if x is not None and str(x) != ""]
    return parse_list_cell(str(v))


def resolve_map(columns: list[str], column_map: Mapping[str, str], path: str) -> dict[str, str]:
    """{canonical name: file column}: the user's map plus same-named columns."""
    bad = [k for k in column_map if k not in CANONICAL]
    if bad:
        raise ParameterError(
            f"--map names {', '.join(bad)} are not posts columns; use: {', '.join(CANONICAL)}."
        )
    have = {c.lower(): c for c in columns}
    out: dict[str, str] = {}
    for canon in CANONICAL:
        if canon in column_map:
            src = column_map[canon]
            if src not in columns and src.lower() not in have:
                raise InputError(
                    f"{path}: --map {canon}={src}, but the file has no column {src!r} "
                    f"(its columns: {', '.join(columns[:20])}).", path=path)
            out[canon] = src if src in columns else have[src.lower()]
        elif canon in have:
            out[canon] = have[canon]
    missing = [c for c in ("account_id", "created_at") if c not in out]
    if missing:
        raise InputError(
            f"{path}: no column for {', '.join(missing)}; map one with "
            f"--map {missing[0]}=COLUMN (the file's columns: {', '.join(columns[:20])}).",
            path=path)
    return out


class _Rows:
    """Turns mapped rows into posts; keeps the occurrence counts for synthetic ids."""

    def __init__(self, cmap: dict[str, str], sink: Sink, options: LoadOptions) -> None:
        self.cmap = cmap
        self.sink = sink
        self.platform = options.platform or "generic"
        self.seen: dict[tuple[str, int, str], int] = {}

    def get(self, r: Mapping[str, Any], k: str) -> Any:
        col = self.cmap.get(k)
        if col is None:
            return None
        v = r.get(col)
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        return v

    def row(self, r: Mapping[str, Any], record: int) -> None:
        g = self.get
        acc = g(r, "account_id")
        if acc is None:
            raise KeyError("account_id")
        created_raw = g(r, "created_at")
        if created_raw is None:
            raise KeyError("created_at")
        created = _time(created_raw)
        acc = str(acc).strip()
        text = str(g(r, "text") or "")
        plat = str(g(r, "platform") or self.platform)
        pid = g(r, "post_id")
        if pid is None:
            key = (acc, created, text)
            n = self.seen.get(key, 0)
            self.seen[key] = n + 1
            h = hashlib.blake2b(f"{acc}\x1f{created}\x1f{text}\x1f{n}".encode(
                "utf-8", "surrogatepass"), digest_size=8)
            pid = "gen:" + h.hexdigest()
        parent = g(r, "parent_post_id")
        kind = str(g(r, "kind") or ("repost" if parent is not None else "post")).lower()
        if kind not in _KINDS:
            raise ValueError(f"kind {kind!r} is not one of post, repost, reply, quote")
        t_urls, t_tags, t_ments = entities_from_text(text) if text else ([], [], [])
        urls: list[str] = []
        if "urls" in self.cmap:
            for u in _list(g(r, "urls")):
                c = canonical_url(u)
                if c and c not in urls:
                    urls.append(c)
        else:
            urls = t_urls
        tags = ([normalise_hashtag(t) for t in _list(g(r, "hashtags"))]
                if "hashtags" in self.cmap else t_tags)
        ments = ([normalise_handle(m) for m in _list(g(r, "mentions"))]
                 if "mentions" in self.cmap else t_ments)
        pc = g(r, "parent_created_at")
        handle = g(r, "handle")
        self.sink.account(platform=plat, account_id=acc, seen_at=created,
                          handle=str(handle) if handle is not None else None)
        pacc = g(r, "parent_account_id")
        lang = g(r, "lang")
        app = g(r, "source_app")
        self.sink.post(
            platform=plat, post_id=str(pid).strip(), account_id=acc,
            handle=str(handle) if handle is not None else None, created_at=created,
            kind=kind, text=text, lang=str(lang) if lang is not None else None,
            source_app=str(app) if app is not None else None,
            parent_post_id=str(parent).strip() if parent is not None else None,
            parent_account_id=str(pacc).strip() if pacc is not None else None,
            parent_created_at=_time(pc) if pc is not None else None,
            urls=urls, hashtags=tags, mentions=ments,
            mention_ids=_list(g(r, "mention_ids")),
            media=[{"media_id": None, "url": u, "hash": None} for u in _list(g(r, "media"))],
            record=record,
        )

    def one(self, r: Mapping[str, Any], record: int, raw: bytes | None) -> None:
        reason = None
        try:
            self.row(r, record)
        except KeyError as e:
            reason = f"missing field {e.args[0]}"
        except (ValueError, TypeError, OverflowError) as e:
            reason = f"bad value: {e}"
        if reason is not None:
            if raw is None:
                raw = orjson.dumps(dict(r), default=str)
            self.sink.reject(record, raw, reason)


class GenericCsv(Loader):
    name = "csv"
    platform = "generic"
    description = "any CSV with a column mapping (--map account_id=user,created_at=time,...)"
    suffixes = (".csv", ".tsv")

    def sniff(self, head: bytes, filename: str) -> float:
        cols = set(header_of(head))
        if {"post_id", "account_id", "created_at"} <= cols:
            return 0.5
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        it = iter_csv(stream, path=sink.source_file)
        rows: _Rows | None = None
        for line, raw, r, err in it:
            if r is None:
                sink.reject(line, raw, err or "unreadable record")
                continue
            if rows is None:
                rows = _Rows(resolve_map(list(r), options.column_map, sink.source_file),
                             sink, options)
            rows.one(r, line, raw)


def _parquet_rows(data: bytes, path: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(io.BytesIO(data))
    except Exception as e:  # pyarrow raises several types for a bad file
        raise InputError(f"{path} is not a readable Parquet file ({e}).", path=path) from None

    def gen() -> Iterator[dict[str, Any]]:
        for batch in f.iter_batches(batch_size=65_536):
            yield from batch.to_pylist()

    return list(f.schema_arrow.names), gen()


class GenericParquet(Loader):
    name = "parquet"
    platform = "generic"
    description = "any Parquet file with posts columns, or a --map onto them"
    suffixes = (".parquet",)

    def sniff(self, head: bytes, filename: str) -> float:
        return 0.6 if head.startswith(b"PAR1") else 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        cols, it = _parquet_rows(stream.read(), sink.source_file)
        rows = _Rows(resolve_map(cols, options.column_map, sink.source_file), sink, options)
        for i, r in enumerate(it, start=1):
            rows.one(r, i, None)
