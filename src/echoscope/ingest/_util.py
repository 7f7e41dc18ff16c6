"""Helpers shared by loaders: time parsing, JSON lines, HTML anchors."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import IO, Any

import orjson

__all__ = [
    "app_from_source",
    "csv_int",
    "entities_from_text",
    "iso_to_us",
    "iter_json_lines",
    "json_int",
    "parse_json_line",
    "twitter_time_to_us",
    "unix_to_us",
]

_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_EPOCH = dt.datetime(1970, 1, 1)


@lru_cache(maxsize=1 << 16)
def twitter_time_to_us(s: str) -> int:
    """``'Fri Jun 13 09:12:44 +0000 2014'`` -> microseconds since the epoch (UTC)."""
    # fixed layout: 'Www Mmm dd hh:mm:ss +zzzz yyyy'
    try:
        mon = _MONTHS[s[4:7]]
        day = int(s[8:10])
        hh, mm, ss = int(s[11:13]), int(s[14:16]), int(s[17:19])
        tz = s[20:25]
        year = int(s[26:30])
        off = (int(tz[1:3]) * 60 + int(tz[3:5])) * 60 * (-1 if tz[0] == "-" else 1)
    except (KeyError, ValueError, IndexError):
        raise ValueError(f"unrecognised Twitter time {s!r}") from None
    days = (dt.date(year, mon, day) - dt.date(1970, 1, 1)).days
    return ((days * 86400 + hh * 3600 + mm * 60 + ss) - off) * 1_000_000


def iso_to_us(s: str) -> int:
    """ISO 8601 (``2022-12-06T12:01:07.000Z``, with or without offset; naive = UTC)."""
    s = s.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    d = dt.datetime.fromisoformat(s)
    if d.tzinfo is not None:
        d = d.astimezone(dt.UTC).replace(tzinfo=None)
    delta = d - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def unix_to_us(v: float | int | str) -> int:
    """Unix seconds (int, float or numeric string) -> microseconds."""
    if isinstance(v, str):
        v = v.strip()
        return int(v) * 1_000_000 if v.lstrip("-").isdigit() else round(float(v) * 1_000_000)
    if isinstance(v, int):
        return v * 1_000_000
    return round(v * 1_000_000)


_ANCHOR = re.compile(r"<a\b[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=4096)
def app_from_source(source: str | None) -> str | None:
    """Twitter's ``source`` HTML anchor -> the app name (``'web'`` stays ``'web'``)."""
    if not source:
        return None
    m = _ANCHOR.search(source)
    name = m.group(1) if m else source
    import html

    name = html.unescape(name).strip()
    return name or None


def parse_json_line(raw: bytes, *, first: bool = False) -> tuple[Any, str | None]:
    """``(obj, None)`` for a valid JSON line, else ``(None, reason)`` in one line.

    ``first`` strips a UTF-8 BOM (tolerated at the start of a file).
    """
    line = raw[3:] if first and raw.startswith(b"\xef\xbb\xbf") else raw
    try:
        return orjson.loads(line), None
    except orjson.JSONDecodeError as e:
        msg = str(e)
        if "utf-8" in msg.lower() or "surrogate" in msg.lower():
            return None, f"invalid UTF-8: {msg}"
        if not raw.endswith(b"\n") or "unexpected end" in msg.lower():
            return None, f"invalid JSON (truncated?): {msg}"
        return None, f"invalid JSON: {msg}"


def iter_json_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes, Any, str | None]]:
    """Yield ``(line_number, raw, obj, error)`` for each non-blank line.

    ``obj`` is the decoded JSON value (or None) and ``error`` a one-line reason when the
    line is not valid JSON or not UTF-8. A UTF-8 BOM at the start of the file is ignored.
    """
    for n, raw in enumerate(stream, start=1):
        if not raw.strip() or (n == 1 and not raw[3:].strip() and raw.startswith(
                b"\xef\xbb\xbf")):
            continue
        obj, err = parse_json_line(raw, first=n == 1)
        yield n, raw, obj, err


_TEXT_URL = re.compile(r"https?://[^\s<>\"'\u2026]+", re.IGNORECASE)
_TEXT_TAG = re.compile(r"(?<![\w&])[#＃](\w+)")
_TEXT_MENTION = re.compile(r"(?<![\w@])@(\w{1,50})")


def entities_from_text(text: str) -> tuple[list[str], list[str], list[str]]:
    """URLs (canonical), hashtags and mentions found in plain text.

    For formats that carry no entity lists (IRA CSVs, generic CSV without url columns).
    A URL cut by an ellipsis (``https://t.\u2026``) is dropped rather than kept truncated.
    """
    from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag

    urls: list[str] = []
    for m in _TEXT_URL.finditer(text):
        raw = m.group(0).rstrip(".,;:!?)]}")
        end = m.end()
        if end < len(text) and text[end] == "\u2026":
            continue
        c = canonical_url(raw)
        if c and c not in urls:
            urls.append(c)
    tags = [normalise_hashtag(t) for t in _TEXT_TAG.findall(text)]
    mentions = [normalise_handle(h) for h in _TEXT_MENTION.findall(text)]
    return urls, tags, mentions


def json_int(v: Any) -> int | None:
    """A JSON count (int, numeric string, float) as int; None for null, bools and junk."""
    if v is None or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def csv_int(v: str | None) -> int | None:
    """A CSV cell holding a count (``12``, ``12.0``) as int; None when empty or not a number."""
    if not v:
        return None
    try:
        return int(float(v))
    except ValueError:
        return None
