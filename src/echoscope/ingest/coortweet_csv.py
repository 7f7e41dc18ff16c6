"""CooRTweet input CSV: ``object_id, account_id, content_id, timestamp_share``.

Each row is one share: account ``account_id`` shared object ``object_id`` (e.g. retweeted
a tweet) in its own post ``content_id`` at ``timestamp_share`` (Unix seconds). It becomes
a post of kind ``repost`` with ``post_id = content_id`` and ``parent_post_id =
object_id``; the platform is ``--platform`` or ``twitter``. Columns are found by header
name (extra columns are ignored).

Rows that repeat a ``content_id`` are kept as rows by :func:`read_coortweet_rows` (CooRTweet
keeps them, and ``--compat coortweet`` reads the raw rows so its edges equal CooRTweet's),
while ingest keeps the first post per id like every other format.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from echoscope.errors import InputError
from echoscope.ingest._base import Loader, LoadOptions, Sink

__all__ = ["REQUIRED", "CoortweetCsv", "Share", "read_coortweet_rows"]

csv.field_size_limit(min(sys.maxsize, 1 << 30))

REQUIRED = ("object_id", "account_id", "content_id", "timestamp_share")
DEFAULT_PLATFORM = "twitter"


@dataclass(frozen=True, slots=True)
class Share:
    record: int
    object_id: str
    account_id: str
    content_id: str
    timestamp: float


def _header(head: bytes) -> list[str]:
    h = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    first = h.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    try:
        row = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return []
    return [c.strip().lower() for c in row]


def iter_share_records(
    stream: IO[bytes], path: str = "input"
) -> Iterator[tuple[int, bytes, Share | None, str | None]]:
    """``(line, raw, share, error)`` for every data row (the header is line 1)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    try:
        header = [c.strip().lower() for c in next(reader)]
    except StopIteration:
        raise InputError(f"{path} is empty.", path=path) from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"{path}: no column {', '.join(missing)} (columns: {', '.join(header[:12])}); "
            "a CooRTweet CSV has object_id, account_id, content_id, timestamp_share.",
            path=path,
        )
    idx = [header.index(c) for c in REQUIRED]
    width = len(header)
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            line = reader.line_num
            yield start, b"", None, f"malformed CSV: {e}"
            continue
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        raw = ",".join(row).encode()
        if len(row) != width:
            yield start, raw, None, f"wrong number of fields: {len(row)} instead of {width}"
            continue
        obj, acct, content, ts = (row[i] for i in idx)
        if not obj or not acct or not content:
            yield start, raw, None, "empty object_id, account_id or content_id"
            continue
        try:
            t = float(ts)
        except ValueError:
            yield start, raw, None, f"timestamp_share {ts[:40]!r} is not a number of seconds"
            continue
        if not math.isfinite(t) or abs(t) > 9e12:
            yield start, raw, None, f"timestamp_share {ts[:40]!r} is out of range"
            continue
        yield start, raw, Share(start, obj, acct, content, t), None


def read_coortweet_rows(path: str) -> list[Share]:
    """Every share row of a CooRTweet CSV, duplicates included; raises on a bad row."""
    from echoscope.ingest._io import open_input

    stream = open_input(path)
    out: list[Share] = []
    try:
        for n, _raw, share, err in iter_share_records(stream, path):
            if share is None:
                raise InputError(f"{path}, line {n}: {err}.", path=path)
            out.append(share)
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e}).", path=path) from None
    finally:
        stream.close()
    return out


class CoortweetCsv(Loader):
    name = "coortweet-csv"
    platform = DEFAULT_PLATFORM
    description = "CooRTweet input CSV: object_id,account_id,content_id,timestamp_share"
    suffixes = (".csv",)

    def sniff(self, head: bytes, filename: str) -> float:
        cols = set(_header(head))
        return 0.95 if set(REQUIRED) <= cols else 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        platform = options.platform or DEFAULT_PLATFORM
        for n, raw, share, err in iter_share_records(stream, sink.source_file):
            if share is None:
                sink.reject(n, raw, err or "unreadable record")
                continue
            created = round(share.timestamp * 1_000_000)
            sink.account(platform=platform, account_id=share.account_id, seen_at=created)
            sink.post(
                platform=platform,
                post_id=share.content_id,
                account_id=share.account_id,
                created_at=created,
                kind="repost",
                parent_post_id=share.object_id,
                record=n,
            )
