"""coordination-network-toolkit CSV: the generic interchange format of QUT's toolkit.

Columns by position: ``message_id, user_id, username, repost_id, reply_id, message,
timestamp, urls``. ``timestamp`` is Unix seconds (a float is allowed); ``urls`` is a
space-separated list (twarc-derived files) or Python-list text (``['http://a', ...]``, the
toolkit's own sample). An empty id is "none". A repost row becomes a post of kind
``repost`` whose ``parent_post_id`` is ``repost_id``; a reply row becomes kind ``reply``.

The header row is optional here: a first row whose ``timestamp`` cell is not a number is
taken as the header (the toolkit always skips the first row, header or not).

:func:`read_cnt_rows` gives the raw rows exactly as the toolkit would read them (used by
the ``--compat cnt`` mode, which needs the URLs as written, not canonicalised).
"""

from __future__ import annotations

import ast
import csv
import io
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag

__all__ = ["COLUMNS", "CntCsv", "CntRow", "is_header_line", "parse_urls", "read_cnt_rows"]

csv.field_size_limit(min(sys.maxsize, 1 << 30))

COLUMNS = ("message_id", "user_id", "username", "repost_id", "reply_id", "message",
           "timestamp", "urls")
DEFAULT_PLATFORM = "twitter"

_HASHTAG = re.compile(r"(?:^|(?<=[^\w&]))[#\uff03](\w+)")
_MENTION = re.compile(r"(?:^|(?<=[^\w]))@(\w{1,50})")


@dataclass(frozen=True, slots=True)
class CntRow:
    """One data row of a toolkit CSV, as read (ids as strings, empty id -> None)."""

    record: int
    message_id: str
    user_id: str
    username: str
    repost_id: str | None
    reply_id: str | None
    message: str
    timestamp: float
    urls: tuple[str, ...]


def parse_urls(cell: str) -> list[str]:
    """The URL list of a ``urls`` cell: separated by spaces (as the toolkit splits it) or
    Python/JSON list text.

    Empty parts are dropped (the toolkit keeps ``''`` as a URL, which links every
    post without a link; echoscope does not).
    """
    s = cell.strip()
    if not s:
        return []
    if s.startswith("[") and s.endswith("]"):
        try:
            value = ast.literal_eval(s)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
        if isinstance(value, list | tuple):
            return [str(v) for v in value if v is not None and str(v) != ""]
    return [p for p in cell.split(" ") if p]


def is_header_line(line: bytes) -> bool:
    """Whether the first line of a toolkit CSV is a header row."""
    text = line.rstrip(b"\r\n").decode("utf-8", "replace").lstrip("\ufeff")
    try:
        row = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        return False
    return _is_header(row)


def _is_header(row: list[str]) -> bool:
    if row and row[0].strip().lstrip("\ufeff").lower() == "message_id":
        return True
    if len(row) == len(COLUMNS):
        try:
            float(row[6])
        except ValueError:
            return True
    return False


def _parse(n: int, row: list[str]) -> CntRow:
    if len(row) != len(COLUMNS):
        raise ValueError(
            f"wrong number of fields: {len(row)} instead of {len(COLUMNS)} "
            f"({', '.join(COLUMNS)})"
        )
    mid, uid, uname, rep, rpl, msg, ts, urls = row
    if not mid:
        raise ValueError("empty message_id")
    if not uid:
        raise ValueError("empty user_id")
    try:
        t = float(ts)
    except ValueError:
        raise ValueError(f"timestamp {ts[:40]!r} is not a number of seconds") from None
    if not math.isfinite(t) or abs(t) > 9e12:
        raise ValueError(f"timestamp {ts[:40]!r} is out of range")
    return CntRow(n, mid, uid, uname, rep or None, rpl or None, msg, t,
                  tuple(parse_urls(urls)))


def iter_cnt_records(
    stream: IO[bytes],
) -> Iterator[tuple[int, bytes, CntRow | None, str | None]]:
    """``(record, raw, row, error)`` per data row; ``record`` is the 1-based line number."""
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="")
    lines = _RawLines(text)
    reader = csv.reader(lines)
    first = True
    line_no = 0
    while True:
        lines.raw = []
        start = line_no + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            line_no = reader.line_num
            yield start, "".join(lines.raw).encode(), None, f"malformed CSV: {e}"
            continue
        line_no = reader.line_num
        raw = "".join(lines.raw)
        if first:
            first = False
            if row and row[0].startswith("\ufeff"):
                row[0] = row[0][1:]
            if _is_header(row):
                continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        try:
            yield start, raw.encode(), _parse(start, row), None
        except ValueError as e:
            yield start, raw.encode(), None, str(e)


class _RawLines:
    def __init__(self, text: IO[str]) -> None:
        self._it = iter(text)
        self.raw: list[str] = []

    def __iter__(self) -> _RawLines:
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.raw.append(line)
        return line


def read_cnt_rows(path: str) -> Iterator[CntRow]:
    """The data rows of a toolkit CSV (plain, gzip or zstd); raises on a bad row.

    Used by ``--compat cnt``, which must see every row exactly: a row the toolkit
    could not read either is an error, not a silent skip.
    """
    from echoscope.errors import InputError
    from echoscope.ingest._io import open_input

    stream = open_input(path)
    try:
        for n, _raw, row, err in iter_cnt_records(stream):
            if row is None:
                raise InputError(f"{path}, line {n}: {err}.", path=path)
            yield row
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e}).", path=path) from None
    finally:
        stream.close()


class CntCsv(Loader):
    name = "cnt-csv"
    platform = DEFAULT_PLATFORM
    description = ("coordination-network-toolkit CSV: message_id,user_id,username,repost_id,"
                   "reply_id,message,timestamp,urls")
    suffixes = (".csv",)

    def sniff(self, head: bytes, filename: str) -> float:
        h = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        first = h.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        cols = [c.strip().strip('"').lower() for c in first.split(",")]
        if tuple(cols[: len(COLUMNS)]) == COLUMNS:
            return 0.95
        return 0.0

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        platform = options.platform or DEFAULT_PLATFORM
        for n, raw, row, err in iter_cnt_records(stream):
            if row is None:
                sink.reject(n, raw, err or "unreadable record")
                continue
            created = round(row.timestamp * 1_000_000)
            if row.repost_id:
                kind, parent = "repost", row.repost_id
            elif row.reply_id:
                kind, parent = "reply", row.reply_id
            else:
                kind, parent = "post", None
            urls: list[str] = []
            if kind != "repost":
                for u in row.urls:
                    c = canonical_url(u)
                    if c and c not in urls:
                        urls.append(c)
            handle = row.username or None
            sink.account(platform=platform, account_id=row.user_id, seen_at=created,
                         handle=handle)
            sink.post(
                platform=platform,
                post_id=row.message_id,
                account_id=row.user_id,
                handle=handle,
                created_at=created,
                kind=kind,
                text=row.message,
                parent_post_id=parent,
                urls=urls,
                hashtags=[normalise_hashtag(h) for h in _HASHTAG.findall(row.message)],
                mentions=[normalise_handle(m) for m in _MENTION.findall(row.message)],
                record=n,
            )
