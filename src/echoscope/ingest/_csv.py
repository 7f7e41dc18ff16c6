"""CSV reading shared by the CSV loaders: record numbers, raw bytes, per-record UTF-8 checks.

:func:`iter_csv` yields one item per CSV record (a quoted field may span lines). The
record number is the 1-based line on which the record starts (the header is line 1), so a
reject points at the line an editor shows. A record whose bytes are not valid UTF-8 is
reported with an error instead of a row; a UTF-8 BOM at the start of the file is ignored.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Sequence
from typing import IO

from echoscope.errors import InputError

__all__ = ["CsvRecord", "header_of", "iter_csv", "parse_list_cell"]

csv.field_size_limit(min(sys.maxsize, 1 << 30))

# (line number, raw bytes, row as {column: value} or None, error or None)
CsvRecord = tuple[int, bytes, dict[str, str] | None, str | None]


class _Lines:
    """Decodes a binary line stream for ``csv.reader`` and remembers each record's bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._it = iter(stream)
        self.raw: list[bytes] = []
        self.bad: str | None = None
        self.first = True

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._it)
        if self.first:
            self.first = False
            if line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
        self.raw.append(line)
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as e:
            self.bad = f"invalid UTF-8 at byte {e.start} of the line"
            return line.decode("utf-8", "replace")


def header_of(head: bytes) -> list[str]:
    """The header fields of a CSV whose first bytes are ``head`` (lower-cased, stripped)."""
    h = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    first = h.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        return []
    if "," not in text and "\t" not in text and ";" not in text:
        return []
    delim = "\t" if text.count("\t") > text.count(",") else ","
    try:
        row = next(csv.reader([text], delimiter=delim))
    except (csv.Error, StopIteration):
        return []
    return [c.strip().lower() for c in row]


def iter_csv(
    stream: IO[bytes], *, required: Sequence[str] = (), path: str = "input"
) -> Iterator[CsvRecord]:
    """Yield ``(line, raw, row, error)`` for every record after the header.

    ``row`` maps the header's column names (as written) to cell text. Raises
    :class:`InputError` when the file is empty or a ``required`` column is missing.
    A record with the wrong number of fields yields an error rather than a row.
    """
    lines = _Lines(stream)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{path} is empty.", path=path) from None
    except csv.Error as e:
        raise InputError(f"{path}: the CSV header cannot be read ({e}).", path=path) from None
    header = [h.strip() for h in header]
    lower = {h.lower() for h in header}
    missing = [c for c in required if c.lower() not in lower]
    if missing:
        raise InputError(
            f"{path}: the CSV has no column {', '.join(missing)} (its columns are: "
            f"{', '.join(header[:20])}{', ...' if len(header) > 20 else ''}); "
            "is it the right --format?",
            path=path,
        )
    n_cols = len(header)
    line_no = reader.line_num
    while True:
        lines.raw = []
        lines.bad = None
        start = line_no + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            line_no = reader.line_num
            yield start, b"".join(lines.raw), None, f"malformed CSV: {e}"
            continue
        line_no = reader.line_num
        raw = b"".join(lines.raw)
        if not row or (len(row) == 1 and not row[0].strip()):
            if n_cols == 1 and row:
                pass
            else:
                continue  # blank line
        if lines.bad:
            yield start, raw, None, lines.bad
        elif len(row) != n_cols:
            yield start, raw, None, (
                f"wrong number of fields: {len(row)} instead of {n_cols} (truncated line?)"
            )
        else:
            yield start, raw, dict(zip(header, row, strict=True)), None


def parse_list_cell(cell: str | None) -> list[str]:
    """A list written into one cell: JSON ``["a","b"]``, Python ``['a', 'b']`` / ``[1, 2]``,
    or whitespace/comma separated words. Empty cells and ``[]`` give ``[]``."""
    if cell is None:
        return []
    s = cell.strip()
    if not s or s in ("[]", "absent", "None", "nan", "NaN"):
        return []
    if s.startswith("[") and s.endswith("]"):
        if s.startswith('["'):
            import orjson

            try:
                v = orjson.loads(s)
                if isinstance(v, list):
                    return [str(x) for x in v if x is not None and str(x) != ""]
            except orjson.JSONDecodeError:
                pass
        inner = s[1:-1]
        out = []
        for part in inner.split(","):
            p = part.strip().strip("'\"").strip()
            if p:
                out.append(p)
        return out
    return [p for p in s.replace(",", " ").split() if p]
