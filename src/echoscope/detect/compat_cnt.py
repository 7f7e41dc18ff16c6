"""Peer-exact mode: coordination-network-toolkit 1.5.2 (QUT Digital Observatory).

Reproduces the toolkit's edge lists on the same input and parameters:

* messages are deduplicated by id (the first row wins); reposts (a non-empty
  ``repost_id``) take part only in ``co_retweet`` and ``co_post``, and their URLs are
  ignored;
* a directed edge ``A -> B`` has weight = the number of distinct messages of ``A`` with
  at least one matching message of ``B`` within ``|dt| <= time_window`` seconds
  (inclusive, compared in floating point exactly as the toolkit's SQL does);
* ``--min-edge-weight`` applies per direction; self-loops are dropped;
* ``co_tweet`` matches the normalised text (lower case, ``@mentions`` removed,
  whitespace collapsed); ``co_similar_tweet`` the Jaccard similarity of lower-cased,
  mention-stripped token sets (Unicode word boundaries; punctuation counts as a token)
  ``>= similarity_threshold``; ``co_link`` the URL as written; ``co_reply`` the
  replied-to id; ``co_retweet`` the reposted id; ``co_post`` any two messages.

Instead of the toolkit's SQL self-joins, every type runs as one sort-and-sweep over
integer-encoded keys (vectorised numpy; the numba kernel of
:mod:`echoscope.detect.kernel` only where times are too far apart for it). Nothing here
imports numba, scipy or polars, so a run pays no compile or load time for them, nor
``pyarrow.compute`` (Arrow's kernels are called by name: :func:`_call`).
``co_similar_tweet`` uses exact prefix filtering (tokens ordered by rarity; two sets
with Jaccard >= t must share a token among their first ``n - ceil(t n) + 1``), so it
scores only candidate pairs yet returns the same edges as scoring every pair; its token
sets come from a vectorised tokenizer for the common character class (ASCII without the
marks that join words) and from the toolkit's own ``regex`` rule otherwise.
:func:`cnt_networks` computes several networks of one input (side by side on two
threads from 4M messages on, where a second thread pays). Arrow's jemalloc pool is the
default pool, and glibc's heap is kept for reuse, while this module reads and computes
(:func:`memory_pool`): fresh pages cost more system time than the work itself otherwise.

Deliberate differences (documented in docs/compat.md): an empty URL field is no URL
(the toolkit stores ``''`` and links everyone who posts without a link); the first tweet
of a Twitter JSON file is kept; two empty texts are never similar (the toolkit's library
function divides by zero).
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from echoscope.errors import InputError
from echoscope.params import Params, choice, limit

__all__ = [
    "CNT_TYPES",
    "EDGE_SCHEMA",
    "CntMessages",
    "CntParams",
    "cnt_network",
    "cnt_networks",
    "cotweet_keys",
    "cotweet_text",
    "memory_pool",
    "messages_from_cnt_csv",
    "messages_from_posts",
    "messages_from_twitter_json",
    "token_set",
    "token_table",
]

CNT_TYPES = ("co_retweet", "co_tweet", "co_similar_tweet", "co_link", "co_reply", "co_post")

EDGE_SCHEMA = pa.schema([
    pa.field("source", pa.string(), nullable=False),
    pa.field("target", pa.string(), nullable=False),
    pa.field("weight", pa.int64(), nullable=False),
    pa.field("edge_type", pa.string(), nullable=False),
])

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CntParams(Params):
    """Parameters of ``compute_networks compute`` (names as in the toolkit's CLI)."""

    type: str = field(default="co_retweet", metadata=choice(*CNT_TYPES))
    time_window: float = field(
        default=60.0, metadata=limit(0, 366 * 86400, "seconds",
                                     "messages at most this far apart are co-occurring"))
    min_edge_weight: int = field(
        default=2, metadata=limit(1, None, "messages", "minimum weight of a directed edge"))
    similarity_threshold: float = field(
        default=0.8, metadata=limit(0.01, 1.0, "", "co_similar_tweet: minimum Jaccard"))
    min_document_size: int = field(
        default=1, metadata=limit(0, 10_000, "tokens",
                                  "co_similar_tweet: smaller token sets are never similar"))


# -- text normalisation (same rules as the toolkit, written independently) -------------

# The toolkit's own patterns (the `regex` module), compiled on first use: texts outside
# the vectorised classes are rare, so most runs never import `regex` (~0.05 s).
# An @mention runs from '@' up to the next whitespace or the end of the text; the cut
# points are each Unicode word boundary (UAX #29), swallowing the spaces that follow it
# and an optional apostrophe; the pieces between cuts are the tokens.
@functools.cache
def _patterns() -> tuple[Any, Any]:
    import regex  # type: ignore[import-untyped]

    return (regex.compile(r"@\S*"),
            regex.compile(r"\b\p{Word_Break=WSegSpace}*'?", flags=regex.WORD | regex.V1))


def cotweet_text(text: str) -> str:
    """The toolkit's co_tweet key: lower case, @mentions removed, whitespace collapsed."""
    return " ".join(_patterns()[0].sub("", text.lower()).split())


# Plain texts: printable ASCII, tab, LF and CR only (the tokenizer's fast class).
_PLAIN = r"^[\x20-\x7e\t\n\r]*$"
# On ASCII text the toolkit's co_tweet key is exact with Arrow's kernels: Python's lower()
# is ASCII lower case; a mention ends at the pattern's whitespace (\s: space, \t, \n,
# \v, \f, \r); str.split() also splits at \x1c-\x1f. Other texts go through Python.
_MENTION_ASCII = r"@[^ \t\n\r\x0b\x0c]*"
_SPACE_ASCII = r"[ \t\n\r\x0b\x0c\x1c-\x1f]"


def _text_bytes(texts: pa.Array) -> tuple[npt.NDArray[np.uint8], I64] | None:
    """The character data of a null-free string array as numpy bytes and the start of
    every string in it (``n + 1`` offsets relative to the data), without copies; None
    for other arrays."""
    if texts.null_count or not (pa.types.is_string(texts.type)
                                or pa.types.is_large_string(texts.type)):
        return None
    return _char_data(texts)


def _char_data(arr: pa.Array) -> tuple[npt.NDArray[np.uint8], I64]:
    """The character data of a string or binary array (null slots included) as numpy
    bytes and the ``n + 1`` string offsets relative to it, without copies."""
    n = len(arr)
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if large else np.int32,
                            count=arr.offset + n + 1)[arr.offset:]
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = arr.buffers()[2]
    if data is None or hi == lo:
        return np.zeros(0, dtype=np.uint8), np.zeros(n + 1, dtype=np.int64)
    return (np.frombuffer(data, dtype=np.uint8, count=hi - lo, offset=lo),
            offsets.astype(np.int64) - lo)


def _rows_of(pos: I64, starts: I64, n: int) -> npt.NDArray[np.bool_]:
    """Per string: whether one of the byte positions ``pos`` falls in it."""
    out = np.zeros(n, dtype=bool)
    if pos.size:
        out[np.searchsorted(starts, pos, side="right") - 1] = True
    return out


_SCAN_BLOCK = 1 << 20  # bytes per step: temporaries stay in cache, no fresh pages


def _byte_scan(d: npt.NDArray[np.uint8]) -> tuple[I64, I64, I64, I64]:
    """Positions in ``d`` of bytes >= 0x7f, of ``@``, of control bytes (< 0x20) and of
    every space that follows a space; a block at a time."""
    parts: list[list[I64]] = [[], [], [], []]
    n = d.size
    for b0 in range(0, n, _SCAN_BLOCK):
        x = d[b0:b0 + _SCAN_BLOCK + 1]      # one byte more: a pair of spaces across blocks
        y = x[:_SCAN_BLOCK]
        sp = x == 0x20
        for out, hit in zip(parts, (y >= 0x7f, y == 0x40, y < 0x20, sp[1:] & sp[:-1]),
                            strict=True):
            pos = np.flatnonzero(hit)
            if pos.size:
                out.append(pos + (b0 + (1 if out is parts[3] else 0)))
    e = np.zeros(0, dtype=np.int64)
    hi, at, ctrl, pair = (np.concatenate(p).astype(np.int64, copy=False) if p else e
                          for p in parts)
    return hi, at, ctrl, pair


def _scan_ascii(texts: pa.Array) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_],
                                           npt.NDArray[np.bool_]] | None:
    """One numpy pass over the bytes of ``texts`` (much cheaper than Arrow's per-string
    regex kernels): per string whether it is ASCII, whether it holds an ``@``, and whether
    it holds a control character, two spaces in a row or a space at either end (a
    superset of the strings whose spacing the co_tweet key changes). None if the array
    cannot be scanned this way."""
    got = _text_bytes(texts)
    if got is None:
        return None
    d, off = got
    n = len(texts)
    starts = off[:-1]
    hi, at, ctrl, pair = _byte_scan(d)
    ascii_ = ~_rows_of(hi[d[hi] >= 0x80], starts, n)
    odd = _rows_of(np.concatenate([ctrl, pair]), starts, n)
    full = np.flatnonzero(off[1:] > starts)
    if full.size:
        odd[full] |= (d[starts[full]] == 0x20) | (d[off[1:][full] - 1] == 0x20)
    return ascii_, _rows_of(at, starts, n), odd


def _scan_plain(texts: pa.Array) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None:
    """Per string of ``texts`` (one numpy pass over its bytes): whether it is plain
    (:data:`_PLAIN`: printable ASCII, tab, LF, CR) and whether it holds an ``@``; None if
    the array cannot be scanned this way."""
    got = _text_bytes(texts)
    if got is None:
        return None
    d, off = got
    n = len(texts)
    starts = off[:-1]
    hi, at, ctrl, _pair = _byte_scan(d)
    c = d[ctrl]
    bad = np.concatenate([hi, ctrl[(c != 0x09) & (c != 0x0a) & (c != 0x0d)]])
    return ~_rows_of(bad, starts, n), _rows_of(at, starts, n)


def cotweet_keys(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`cotweet_text` of every text (vectorised for ASCII texts)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    scan = _scan_ascii(texts)
    if scan is not None:
        plain, at, odd = scan
        work = plain & (at | odd)
    else:
        plain = _bools(_call("string_is_ascii", texts))
    out = _call("ascii_lower", texts)
    if scan is None:
        # only texts with a mention or irregular spacing need the regex kernels
        work = plain & _bools(_matches(out, r"@|[\t\n\r\x0b\x0c\x1c-\x1f]|  |^ | $"))
    if work.any():
        sub = _replace(_filter(out, _arrow_mask(work)), _MENTION_ASCII, "")
        odd = _bools(_matches(sub, r"[\t\n\r\x0b\x0c\x1c-\x1f]|  "))
        if odd.any():
            runs = _replace(_filter(sub, _arrow_mask(odd)), _SPACE_ASCII + "+", " ")
            sub = _call("replace_with_mask", sub, _arrow_mask(odd), runs)
        sub = _call("utf8_trim", sub, options=_options("TrimOptions", " "))
        out = _call("replace_with_mask", out, _arrow_mask(work), sub)
    if not plain.all():
        slow = ~plain
        raw = _filter(texts, _arrow_mask(slow)).to_pylist()
        out = _call("replace_with_mask", out, _arrow_mask(slow),
                    _arrow_str([cotweet_text(x) for x in raw]))
    return out


# The vectorised tokenizer. After lower case and mention removal, take a plain text with
# no apostrophe and no '.', ',', ';' or ':' between two of [0-9a-z_]. Among ASCII
# characters the word-boundary rules (UAX #29) join only letters, digits and '_' (WB5,
# WB8-WB10, WB13a/b) and, between two letters or two digits, those five marks (WB6/7,
# WB11/12); every other pair of characters is a boundary (WB999; spaces, tab, CR, LF are
# dropped by the split). So its tokens are the runs of [0-9a-z_] and every other visible
# character on its own. Texts outside that class go through the `regex` tokenizer.
# tests/test_compat_cnt_tokens.py checks this against the toolkit's own tokenizer.
_JOINED = r"'|[0-9a-z_][.,;:][0-9a-z_]"


def token_table(texts: pa.Array | pa.ChunkedArray) -> tuple[I64, I64, pa.Array]:
    """The token sets of ``texts`` (:func:`token_set` of each), as flat arrays.

    Returns ``(text, code, vocabulary)``: one row per distinct token of each text, sorted
    by text then code, and the token string of every code.
    """
    doc, code, vocab = _token_occurrences(texts)
    v = np.int64(max(len(vocab), 1))
    pair = _sorted_unique(doc * v + code, grouped=True)
    return pair // v, pair % v, vocab


def _token_occurrences(texts: pa.Array | pa.ChunkedArray) -> tuple[I64, I64, pa.Array]:
    """:func:`token_table` before repeats of a token in a text are dropped and the rows
    sorted: ``(text, code, vocabulary)``, one row per token occurrence, grouped in a few
    runs of ascending texts."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    n = len(texts)
    scan = _scan_plain(texts)
    if scan is not None:
        plain, at = scan
        at &= plain
    else:
        plain = _bools(_matches(texts, _PLAIN)) if n else np.zeros(0, bool)
    low = _call("ascii_lower", texts)
    if scan is None:
        at = plain & _bools(_call("match_substring", low,
                                       options=_options("MatchSubstringOptions", "@")))
    if at.any():
        sub = _replace(_filter(low, _arrow_mask(at)), r"@[^ \t\n\r]*", "")
        low = _call("replace_with_mask", low, _arrow_mask(at), sub)
    got = _text_bytes(low)
    if got is not None:
        fast = plain & ~_joined_rows(*got)
    else:
        fast = plain & ~_bools(_matches(low, _JOINED))
    parts_doc: list[I64] = []
    parts_tok: list[pa.Array] = []
    fast_code: I64 | None = None
    if fast.any():
        idx = np.flatnonzero(fast).astype(np.int64)
        sub = low if fast.all() else _filter(low, _arrow_mask(fast))
        byte_tokens = _plain_tokens(sub)
        if byte_tokens is not None:
            doc_local, fast_code, fast_vocab = byte_tokens
            parts_doc.append(idx[doc_local])
            parts_tok.append(fast_vocab)
        else:
            spaced = _replace(sub, r"([^0-9a-z_ \t\n\r])", r" \1 ")
            lists = _call("ascii_split_whitespace", spaced)
            flat = _call("list_flatten", lists)
            doc = idx[np.asarray(_np(_call("list_parent_indices", lists)), dtype=np.int64)]
            full = _bools(_cast(_call("binary_length", flat), pa.bool_()))  # "" -> [""]
            if not full.all():
                doc, flat = doc[full], _filter(flat, _arrow_mask(full))
            parts_doc.append(doc)
            parts_tok.append(flat)
    if not fast.all():
        idx = np.flatnonzero(~fast).astype(np.int64)
        raw = _filter(texts, _arrow_mask(~fast)).to_pylist()
        sets = [token_set(x) for x in raw]
        sizes = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
        parts_doc.append(np.repeat(idx, sizes))
        parts_tok.append(_arrow_str([t for x in sets for t in x]))
    if not parts_doc:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), pa.array([], pa.string())
    doc = np.concatenate(parts_doc)
    tok = parts_tok[0] if len(parts_tok) == 1 else pa.concat_arrays(
        [_cast(t, pa.string()) for t in parts_tok])
    code, vocab = _codes(tok)
    if fast_code is not None:
        # the byte tokenizer gave codes into its own (distinct) vocabulary, the first
        # part of ``tok``: map them through the joint codes
        n_fast = len(parts_tok[0])
        code = np.concatenate([code[:n_fast][fast_code], code[n_fast:]])
    return doc, code, vocab


def _word_bytes(d: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Per byte: one of ``[0-9a-z_]``."""
    t = np.subtract(d, 0x61, dtype=np.uint8)    # a-z -> 0..25 (others wrap around)
    out: npt.NDArray[np.bool_] = t < 26
    np.subtract(d, 0x30, out=t)                 # 0-9 -> 0..9
    out |= t < 10
    out |= d == 0x5f
    return out


def _joined_rows(d: npt.NDArray[np.uint8], off: I64) -> npt.NDArray[np.bool_]:
    """Per string (lower-cased): whether :data:`_JOINED` matches it, i.e. it holds an
    apostrophe or one of ``.,;:`` between two of ``[0-9a-z_]`` (a match across two
    strings flags both: they then take the exact path, which is only slower)."""
    n = off.size - 1
    starts = off[:-1]
    hits = [np.flatnonzero(d == 0x27)]
    if d.size >= 3:
        w = _word_bytes(d)
        mark = (d[1:-1] == 0x2e) | (d[1:-1] == 0x2c) | (d[1:-1] == 0x3b) | (d[1:-1] == 0x3a)
        hits.append(np.flatnonzero(mark & w[:-2] & w[2:]) + 1)
    return _rows_of(np.concatenate(hits), starts, n)


# _LOW_BYTES[k]: the mask of the k low bytes of a uint64 (k = 0..8)
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def _plain_tokens(texts: pa.Array) -> tuple[I64, I64, pa.Array] | None:
    """The tokens of lower-cased plain texts without joining marks (see above: the runs of
    ``[0-9a-z_]`` and every other visible character on its own), from their bytes.

    Returns ``(text, code, vocabulary)``, one row per token occurrence, codes into the
    returned distinct tokens. Tokens of up to 8 bytes are keyed by their bytes packed in
    one integer (they hold no NUL byte, so the zero padding is unambiguous); longer ones
    by Arrow's dictionary encoding. None if the array cannot be read as bytes.
    """
    import sys

    got = _text_bytes(texts)
    if got is None or sys.byteorder != "little":  # the packing below is little-endian
        return None
    d, off = got
    e = np.zeros(0, dtype=np.int64)
    if d.size == 0:
        return e, e.copy(), pa.array([], pa.string())
    word = _word_bytes(d)
    single = (d == 0x20) | (d == 0x09) | (d == 0x0a) | (d == 0x0d)   # spaces first
    single |= word
    np.logical_not(single, out=single)         # any other character: a token on its own
    # a word byte continuing a word: the byte before is one too, in the same text
    cont = np.zeros(d.size, dtype=bool)
    np.logical_and(word[1:], word[:-1], out=cont[1:])
    cont[off[:-1][off[1:] > off[:-1]]] = False
    # tokens in text order (so the rows come grouped by text and later sorts within
    # texts are cheap): one starts at each word byte that does not continue a word and
    # at each single character; it ends after a word byte the next byte does not
    # continue, or after the single character
    mark = word & ~cont
    mark |= single
    start = np.flatnonzero(mark)
    np.logical_not(cont, out=cont)
    np.logical_and(word[:-1], cont[1:], out=mark[:-1])
    mark[-1] = word[-1]
    mark |= single
    end = np.flatnonzero(mark) + 1
    del word, single, cont, mark
    length = end - start
    # text of each token: count the tokens starting in each text (both sorted), repeat
    per_text = np.diff(np.searchsorted(start, off))
    doc = np.repeat(np.arange(per_text.size, dtype=np.int64), per_text)
    short = length <= 8
    # short tokens: 8 bytes from their start (zero padded), bytes past the end cleared
    pad = np.zeros(d.size + 8, dtype=np.uint8)
    pad[:d.size] = d
    s_start, s_len = start[short], length[short]
    # the 8 bytes from every position as one (unaligned) uint64 each, read by a gather
    win = np.ndarray(shape=(d.size + 1,), dtype=np.uint64, buffer=pad, strides=(1,))
    packed = win[s_start]
    packed &= _LOW_BYTES[s_len]
    # distinct tokens by Arrow's hash table on the integers (few distinct values: much
    # cheaper than sorting every occurrence)
    enc = _encode(pa.Array.from_buffers(pa.uint64(), packed.size,
                                        [None, pa.py_buffer(packed)]))
    uniq = _np(enc.dictionary)
    code = np.empty(start.size, dtype=np.int64)
    code[short] = _np(enc.indices)
    ub = uniq.view(np.uint8).reshape(-1, 8)
    ulen = np.count_nonzero(ub, axis=1).astype(np.int64)
    parts = [_bytes_array(ub.ravel()[ub.ravel() != 0], ulen)]
    if not short.all():
        l_start, l_len = start[~short], length[~short]
        pos = np.repeat(l_start - (np.cumsum(l_len) - l_len), l_len)
        pos += np.arange(int(l_len.sum()), dtype=np.int64)
        lcode, lvocab = _codes(_bytes_array(d[pos], l_len))
        code[~short] = lcode + uniq.size
        parts.append(lvocab)
    vocab = parts[0] if len(parts) == 1 else pa.concat_arrays(parts)
    return doc, code, vocab


def _bytes_array(data: npt.NDArray[np.uint8], lengths: I64) -> pa.Array:
    """A string array of consecutive byte strings (valid UTF-8: ASCII here)."""
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = pa.py_buffer(np.ascontiguousarray(data))
    if offsets[-1] < 2**31 - 1:
        return pa.Array.from_buffers(pa.string(), lengths.size,
                                     [None, pa.py_buffer(offsets.astype(np.int32)), buf])
    return _cast(pa.Array.from_buffers(pa.large_string(), lengths.size,
                                       [None, pa.py_buffer(offsets), buf]), pa.string())


def token_set(text: str) -> frozenset[str]:
    """The toolkit's co_similar_tweet token set of a message."""
    out: set[str] = set()
    mention, cut = _patterns()
    for piece in cut.split(mention.sub("", text.lower())):
        if piece:
            out.update(piece.split())
    return frozenset(out)


# -- messages ------------------------------------------------------------------------

RAW_SCHEMA = pa.schema([
    ("message_id", pa.string()), ("user_id", pa.string()), ("repost_id", pa.string()),
    ("reply_id", pa.string()), ("message", pa.string()), ("timestamp", pa.float64()),
    ("urls", pa.list_(pa.string())),
])

RawRow = tuple[str, str, "str | None", "str | None", str, float, Sequence[str]]


# columns each network type reads (besides message_id, user_id, repost_id, timestamp)
_TYPE_COLUMNS: dict[str, tuple[str, ...]] = {
    "co_retweet": (), "co_post": (), "co_reply": ("reply_id",), "co_tweet": ("message",),
    "co_similar_tweet": ("message",), "co_link": ("urls",),
}
_BASE_COLUMNS = ("message_id", "user_id", "repost_id", "timestamp")


def columns_for(types: Iterable[str] | None) -> list[str]:
    """The input columns the network ``types`` need (all columns for ``None``)."""
    if types is None:
        return list(RAW_SCHEMA.names)
    need = set(_BASE_COLUMNS)
    for t in types:
        if t not in _TYPE_COLUMNS:
            raise ValueError(f"unknown network type {t!r}; expected one of {CNT_TYPES}")
        need.update(_TYPE_COLUMNS[t])
    return [c for c in RAW_SCHEMA.names if c in need]


# Arrow's memory pool for the toolkit path. Every step allocates large new buffers (CSV
# columns, dictionary codes, lower-cased text) and the cost of first touching fresh pages
# is a large share of the run: with the default mimalloc pool, system time was 0.7-1.7 s
# of a 2.3-3.4 CPU s run on 1M rows; jemalloc reuses freed memory and took 0.35-0.65 s
# (and ~130 MB less peak RSS) on the same runs.
_POOL_LOCK = threading.Lock()
_POOL_STATE: list[Any] = [0, None]  # [depth, the default pool to restore]


# glibc's malloc (numpy's arrays) while the toolkit path runs: by default it returns
# freed memory at the top of its heap to the system and maps large arrays afresh, so the
# many short-lived arrays of a run fault in new pages again and again (on 100k messages,
# co_similar_tweet touched 57k fresh pages instead of 33k, 0.04-0.08 s of system time).
# Inside :func:`memory_pool` arrays up to 32 MB come from the heap, which is not trimmed;
# afterwards glibc's default thresholds are set again and the free memory given back.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HEAP_ON = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 1 << 30))
_HEAP_OFF = ((_M_MMAP_THRESHOLD, 128 << 10), (_M_TRIM_THRESHOLD, 128 << 10))


@functools.cache
def _glibc() -> Any:
    """glibc's ``mallopt`` and ``malloc_trim`` (None elsewhere)."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        ver = libc.gnu_get_libc_version
    except (OSError, AttributeError):
        return None
    ver.restype = ctypes.c_char_p
    if not ver():
        return None
    return libc.mallopt, libc.malloc_trim


def _heap_reuse(on: bool) -> None:
    got = _glibc()
    if got is None:
        return
    mallopt, trim = got
    for param, value in _HEAP_ON if on else _HEAP_OFF:
        mallopt(param, value)
    if not on:
        trim(0)


@contextlib.contextmanager
def memory_pool() -> Iterator[None]:
    """Arrow's jemalloc pool as the default pool while the block runs, and glibc's heap
    kept for reuse by numpy's arrays (see above) (re-entrant, thread-safe; the previous
    default pool and glibc's default thresholds come back when the outermost block ends).
    Buffers remember their pool, so tables made inside stay valid outside. Without
    jemalloc in the pyarrow build, or without glibc, that part does nothing."""
    with _POOL_LOCK:
        if _POOL_STATE[0] == 0:
            try:
                pool = pa.jemalloc_memory_pool()
            except (NotImplementedError, AttributeError, pa.ArrowException):
                pool = None
            _POOL_STATE[1] = pa.default_memory_pool() if pool is not None else None
            if pool is not None:
                pa.set_memory_pool(pool)
            _heap_reuse(True)
        _POOL_STATE[0] += 1
    try:
        yield
    finally:
        with _POOL_LOCK:
            _POOL_STATE[0] -= 1
            if _POOL_STATE[0] == 0:
                if _POOL_STATE[1] is not None:
                    pa.set_memory_pool(_POOL_STATE[1])
                    _POOL_STATE[1] = None
                _heap_reuse(False)


_F = TypeVar("_F", bound=Callable[..., Any])


def _pooled(fn: _F) -> _F:
    """``fn`` run inside :func:`memory_pool`."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with memory_pool():
            return fn(*args, **kwargs)
    return cast(_F, wrapper)


# Arrow's compute kernels, called by name. Importing ``pyarrow.compute`` builds a
# documented Python wrapper for each of its ~290 functions: 0.04-0.05 CPU s of every
# start-up, a tenth of a whole co_similar_tweet run on 100k messages, and the methods of
# Arrow's arrays and tables (filter, take, cast, dictionary_encode, sort_by) import it on
# first use. So this module calls the kernels through ``call_function`` of the extension
# behind it (``pyarrow._compute``, with the option classes), which ``pyarrow.compute``
# re-exports unchanged and which is taken from there if the extension ever moves.
# tests/test_compat_cnt_perf.py checks that a run does not import ``pyarrow.compute``.
_KERNEL_NAMES = ("call_function", "CastOptions", "MatchSubstringOptions",
                 "ReplaceSubstringOptions", "SortOptions", "SplitPatternOptions",
                 "TrimOptions")


@functools.cache
def _kernels() -> Any:
    """The module with Arrow's ``call_function`` and option classes."""
    try:
        from pyarrow import _compute as mod

        for name in _KERNEL_NAMES:
            getattr(mod, name)
    except (ImportError, AttributeError):  # pragma: no cover - another pyarrow layout
        import pyarrow.compute as mod
    return mod


def _call(name: str, *args: Any, options: Any = None) -> Any:
    """Arrow's compute function ``name`` on ``args`` (``pyarrow.compute.name(*args)``)."""
    return _kernels().call_function(name, list(args), options)


def _options(name: str, *args: Any) -> Any:
    """An instance of Arrow's option class ``name`` (e.g. ``"SortOptions"``)."""
    return getattr(_kernels(), name)(*args)


def _filter(values: Any, mask: pa.Array) -> Any:
    return _call("filter", values, mask)


def _take(values: Any, indices: pa.Array) -> Any:
    return _call("take", values, indices)


def _cast(values: Any, to: pa.DataType) -> Any:
    """``values.cast(to)`` (a safe cast)."""
    return _call("cast", values, options=_kernels().CastOptions.safe(to))


def _encode(values: Any) -> Any:
    """``values.dictionary_encode()``."""
    return _call("dictionary_encode", values)


def _matches(texts: Any, pattern: str) -> Any:
    """Per string: whether the regular expression ``pattern`` matches (RE2)."""
    return _call("match_substring_regex", texts,
                 options=_options("MatchSubstringOptions", pattern))


def _replace(texts: Any, pattern: str, replacement: str) -> Any:
    """Every match of ``pattern`` replaced (RE2, ``\\1`` for groups)."""
    return _call("replace_substring_regex", texts,
                 options=_options("ReplaceSubstringOptions", pattern, replacement))


# Arrow <-> numpy without pyarrow's pandas check: pyarrow imports pandas (about 1 s)
# the first time it converts numpy or Python values (to_numpy, pa.array, pa.scalar), so
# the toolkit path moves its arrays through buffers instead.
_NP_TYPES = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32,
             pa.int64(): np.int64, pa.uint64(): np.uint64, pa.float64(): np.float64}


def _np(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[Any]:
    """A numpy copy of a null-free boolean or numeric Arrow array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        raise ValueError("nulls cannot become numpy values here")
    n, off = len(arr), arr.offset
    if pa.types.is_boolean(arr.type):
        if n == 0:
            return np.zeros(0, dtype=bool)
        bits = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, count=off + n, bitorder="little")[off:].astype(bool)
    dtype = _NP_TYPES[arr.type]
    if n == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=off + n)[off:].copy()


def _f64(col: pa.Array | pa.ChunkedArray) -> F64:
    return np.asarray(_np(col), dtype=np.float64)


def _bools(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.bool_]:
    return np.asarray(_np(arr), dtype=bool)


def _arrow_i64(x: npt.NDArray[Any]) -> pa.Array:
    x = np.ascontiguousarray(x, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), x.size, [None, pa.py_buffer(x)])


def _arrow_mask(m: npt.NDArray[np.bool_]) -> pa.Array:
    bits = np.packbits(np.asarray(m, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), m.size, [None, pa.py_buffer(bits)])


def _arrow_str(values: Sequence[str]) -> pa.Array:
    enc = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, enc), dtype=np.int64, count=len(enc)), out=offsets[1:])
    data = pa.py_buffer(b"".join(enc))
    if offsets[-1] < 2**31 - 1:
        return pa.Array.from_buffers(pa.string(), len(enc),
                                     [None, pa.py_buffer(offsets.astype(np.int32)), data])
    return _cast(pa.Array.from_buffers(pa.large_string(), len(enc),
                                       [None, pa.py_buffer(offsets), data]), pa.string())


def _is_empty(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """True where a string is empty (null stays null)."""
    return _call("invert", _cast(_call("binary_length", arr), pa.bool_()))


class _Tables:
    """The toolkit's tables, integer-encoded and built on first use: messages (first row
    per id) and links (only when a network needs them)."""

    def __init__(self, rows: pa.Table) -> None:
        self._rows = rows
        n = rows.num_rows
        user, accounts = _codes(rows["user_id"])
        self.accounts: pa.Array = accounts
        t = _f64(rows["timestamp"])
        # first row per message id; mid = message index of every row
        first, mid = _first_rows_of_ids(rows["message_id"])
        self._n_rows = n
        self._first = first
        self._mid = mid
        self._row_user = user
        self._row_t = t
        self.first_rows: I64 = first            # input row of every message
        self.user: I64 = user[first]            # account code per message
        self.t: F64 = t[first]
        self._cache: dict[str, Any] = {}

    def _column(self, name: str) -> pa.Array:
        """A column per message (first row per id); empty ids are null."""
        if name not in self._cache:
            if name not in self._rows.column_names:
                raise ValueError(f"the messages were read without the {name!r} column "
                                 "(see messages_from_cnt_csv(types=...))")
            col = self._rows[name].combine_chunks()
            if name != "message":
                col = _none_if_empty(col)
            if self._first.size != self._n_rows:
                col = _take(col, _arrow_i64(self._first))
            self._cache[name] = col
        out: pa.Array = self._cache[name]
        return out

    @property
    def repost(self) -> pa.Array:
        """Per message: the reposted id, null if not a repost."""
        return self._column("repost_id")

    @property
    def reply(self) -> pa.Array:
        return self._column("reply_id")

    @property
    def message(self) -> pa.Array:
        return self._column("message")

    @property
    def message_chunks(self) -> pa.ChunkedArray:
        """The text per message as read (chunked, not copied into one array) when no id
        repeats; else :attr:`message`'s one chunk."""
        if self._first.size != self._n_rows or "message" in self._cache:
            return pa.chunked_array([self.message])
        if "message" not in self._rows.column_names:
            self._column("message")  # raises the error naming the missing column
        col: pa.ChunkedArray = self._rows["message"]
        return col

    @property
    def links(self) -> tuple[I64, I64, I64, F64]:
        """``(message index, URL code, account code, time)`` per link row."""
        if "links" not in self._cache:
            self._cache["links"] = self._build_links()
        out: tuple[I64, I64, I64, F64] = self._cache["links"]
        return out

    def _build_links(self) -> tuple[I64, I64, I64, F64]:
        # every non-repost row's URLs, first (message, URL) wins
        if "urls" not in self._rows.column_names:
            raise ValueError("the messages were read without the 'urls' column "
                             "(see messages_from_cnt_csv(types=...))")
        urls = self._rows["urls"].combine_chunks()
        flat = _call("list_flatten", urls)
        parent = np.asarray(_np(_call("list_parent_indices", urls)), dtype=np.int64)
        row_rep = _bools(_call("is_valid",
                               _none_if_empty(self._rows["repost_id"].combine_chunks())))
        ok = ~row_rep[parent] & ~_bools(_is_empty(flat))
        parent = parent[ok]
        url = key_codes(_filter(flat, _arrow_mask(ok)))
        mid = self._mid
        mk = mid[parent]
        lfirst = None
        if mk.size < 2 or bool(np.all(mk[1:] >= mk[:-1])):
            # messages in row order (no repeated id before a later one): a repeated
            # (message, URL) can only be within one message's run of rows
            lfirst = _first_in_groups(mk, url)
        if lfirst is None:
            lfirst, _ = _first_of_runs([mk, url])
        del mk
        lrow = parent[lfirst]
        return mid[lrow], url[lfirst], self._row_user[lrow], self._row_t[lrow]


@dataclass
class CntMessages:
    """Input rows in the toolkit's order (repeated ids included), ready for networks.

    Like the toolkit's ``preprocess``: a row that repeats a message id adds nothing to
    the messages (the first row wins) but its URLs, with its own user and time, still
    join the links unless that (message, URL) is already there; URLs of reposts (rows
    with a repost id) are ignored; an empty id is "none".
    """

    rows: pa.Table
    _tables: _Tables | None = field(default=None, repr=False)

    @classmethod
    def from_rows(cls, rows: Iterable[RawRow]) -> CntMessages:
        """From ``(message_id, user_id, repost_id, reply_id, message, seconds, urls)``."""
        cols: list[list[Any]] = [[], [], [], [], [], [], []]
        for r in rows:
            for c, v in zip(cols, r, strict=True):
                c.append(v)
        cols[5] = [float(x) for x in cols[5]]
        cols[6] = [list(u) for u in cols[6]]
        return cls(pa.table(cols, schema=RAW_SCHEMA))

    @classmethod
    def concat(cls, parts: Sequence[CntMessages]) -> CntMessages:
        """Several inputs in order, as if preprocessed into one toolkit database."""
        if len(parts) == 1:
            return parts[0]
        return cls(pa.concat_tables([p.rows for p in parts]))

    def __len__(self) -> int:
        return int(self.tables.t.size)

    @property
    @_pooled
    def tables(self) -> _Tables:
        if self._tables is None:
            self._tables = _Tables(self.rows)
        return self._tables


def _codes(arr: pa.Array | pa.ChunkedArray) -> tuple[I64, pa.Array]:
    """Integer codes (in order of first appearance) and the distinct values."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks != 1:
            # chunk by chunk: one dictionary for all chunks, the strings are not copied
            chunks = _encode(arr).chunks
            if not chunks:
                return np.zeros(0, dtype=np.int64), pa.array([], arr.type)
            codes = np.concatenate([np.asarray(_np(c.indices), dtype=np.int64)
                                    for c in chunks])
            return codes, chunks[-1].dictionary
        arr = arr.chunk(0)
    enc = _encode(arr)
    return np.asarray(_np(enc.indices), dtype=np.int64), enc.dictionary


def _none_if_empty(arr: pa.Array) -> pa.Array:
    return _call("if_else", _is_empty(arr), pa.nulls(len(arr), pa.string()), arr)


def key_codes(values: pa.Array | pa.ChunkedArray) -> I64:
    """Integer keys equal exactly when the strings are equal (nulls not allowed).

    Arrow's dictionary encoding (a hash table with exact comparison: no collisions).
    """
    return _codes(values)[0]


def _first_in_groups(g: I64, u: I64, max_span: int = 8) -> I64 | None:
    """For rows keyed by ``(g, u)`` with ``g`` non-decreasing: the row index of the first
    row of each distinct key, ascending (as :func:`_first_of_runs`), or None when a run of
    equal ``g`` is longer than ``max_span`` rows. Compares each row with the up to
    ``max_span - 1`` rows before it instead of sorting (a tenth of the time on 1M links)."""
    n = g.size
    if n < 2:
        return np.arange(n, dtype=np.int64)
    brk = np.flatnonzero(g[1:] != g[:-1])
    span = int(np.diff(np.concatenate(([0], brk + 1, [n]))).max())
    if span > max_span:
        return None
    dup = np.zeros(n, dtype=bool)
    for d in range(1, span):
        dup[d:] |= (g[d:] == g[:-d]) & (u[d:] == u[:-d])
    return np.flatnonzero(~dup) if dup.any() else np.arange(n, dtype=np.int64)


def _first_rows_of_ids(ids: pa.Array | pa.ChunkedArray) -> tuple[I64, I64]:
    """:func:`_first_of_runs` of string ids, exactly, by sorting them: Arrow's stable
    string sort plus a comparison of neighbours costs about a third of a dictionary
    encoding (a hash table of every id) on 1M distinct ids, the common case."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    n = len(ids)
    if n < 2:
        e = np.arange(n, dtype=np.int64)
        return e, e.copy()
    order = _np(_call("sort_indices", ids, options=_options("SortOptions"))).astype(
        np.int64, copy=False)
    ordered = _take(ids, _arrow_i64(order))
    same = _bools(_call("equal", ordered.slice(1), ordered.slice(0, n - 1)))
    return _runs_to_first(order, same)


def _runs_to_first(order: I64, same: npt.NDArray[np.bool_]) -> tuple[I64, I64]:
    """From a stable sort ``order`` of rows and ``same`` (row ``order[i + 1]`` has the key
    of ``order[i]``): the first row of each key (ascending) and every row's position of
    its key's first row in that list."""
    n = order.size
    pos = np.arange(n, dtype=np.int64)
    if not same.any():
        return pos, pos
    start = np.r_[True, ~same]
    run = np.cumsum(start) - 1
    first_row = order[start]                    # first row of each run
    rank = np.empty(first_row.size, dtype=np.int64)
    rank[np.argsort(first_row, kind="stable")] = np.arange(first_row.size, dtype=np.int64)
    row_to_first = np.empty(n, dtype=np.int64)
    row_to_first[order] = rank[run]
    return np.sort(first_row), row_to_first


def _first_of_runs(keys: Sequence[I64]) -> tuple[I64, I64]:
    """For rows keyed by ``keys`` (exact integer keys): the row index of the first row of
    each distinct key (ascending), and for every row the position of its key's first row
    in that list."""
    n = keys[0].size
    pos = np.arange(n, dtype=np.int64)
    span = 1.0
    for k in keys:
        span *= float(k.max()) + 1 if n else 1.0
    if n and min(int(k.min()) for k in keys) >= 0 and span < _AXIS_MAX:
        # one int64 code per row: a stable argsort keeps rows in order within a key
        comp = np.zeros(n, dtype=np.int64)
        for k in keys:
            comp *= np.int64(int(k.max()) + 1)
            comp += k
        order = np.argsort(comp, kind="stable")
        cs = comp[order]
        same = cs[1:] == cs[:-1]
        del comp, cs
    else:
        order = np.lexsort((pos, *reversed(keys)))
        same = np.ones(max(n - 1, 0), dtype=bool)
        for k in keys:
            ks = k[order]
            same &= ks[1:] == ks[:-1]
    return _runs_to_first(order, same)


@_pooled
def messages_from_cnt_csv(path: str, types: Sequence[str] | None = None) -> CntMessages:
    """Messages of a toolkit CSV file, read as the toolkit's ``preprocess`` reads them.

    Read with Arrow's CSV reader (multi-threaded, every column as text); with ``types``
    (network types) only the columns those networks need are kept, which saves time and
    memory. A file it cannot read exactly (a bad row, list-text URLs) goes through the
    line-by-line reader, which names the line of any error.
    """
    fast = _read_cnt_csv_arrow(path, columns_for(types))
    if fast is not None:
        return CntMessages(fast)
    from echoscope.ingest.cnt_csv import read_cnt_rows

    return CntMessages.from_rows(
        (r.message_id, r.user_id, r.repost_id, r.reply_id, r.message, r.timestamp, r.urls)
        for r in read_cnt_rows(path)
    )


def _has_quote(path: str) -> bool:
    """Whether an uncompressed file holds a ``"`` anywhere (a memory-mapped scan)."""
    import mmap

    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return mm.find(b'"') >= 0
    except (OSError, ValueError):  # e.g. an empty file cannot be mapped
        return True


# The toolkit CSV's columns (as echoscope.ingest.cnt_csv.COLUMNS; a test keeps them equal):
# named here so that reading a plain file does not import the ingest package (its
# loaders and rich), a tenth of a second per process.
_CSV_COLUMNS = ("message_id", "user_id", "username", "repost_id", "reply_id", "message",
                "timestamp", "urls")


def _open_plain(path: str) -> io.BufferedReader | None:
    """``path`` opened if it is a readable, uncompressed file; else None (stdin,
    compressed or unreadable input goes through the ingest opener and its errors)."""
    if path == "-":
        return None
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError:
        return None
    try:
        magic = f.peek(4)[:4]
    except OSError:
        f.close()
        return None
    if magic[:2] == b"\x1f\x8b" or magic == b"\x28\xb5\x2f\xfd":  # gzip, zstd
        f.close()
        return None
    return f


_THREADS_FROM_BYTES = 400 << 20


def _read_cnt_csv_arrow(path: str, columns: list[str]) -> pa.Table | None:
    import pyarrow.csv as pacsv

    COLUMNS = _CSV_COLUMNS
    stream: Any = _open_plain(path)
    if stream is None:
        from echoscope.ingest._io import open_input

        stream = open_input(path)
    try:
        head = stream.peek(1 << 16)[: 1 << 16] if hasattr(stream, "peek") else b""
        first = head.split(b"\n", 1)[0]
        name = first.removeprefix(b"\xef\xbb\xbf").split(b",", 1)[0].strip().lower()
        if name == b"message_id":  # surely a header (the common case)
            skip = 1
        else:
            from echoscope.ingest.cnt_csv import is_header_line

            skip = 1 if is_header_line(first) else 0
        # without a quote character no value can hold a newline, and Arrow splits the
        # file into blocks for its threads much faster
        plain_file = isinstance(stream, io.BufferedReader) and isinstance(stream.raw, io.FileIO)
        newlines = not (plain_file and not _has_quote(path))
        # a plain file is read by Arrow's own file reader (no Python reads, fewer copies)
        # on one thread below _THREADS_FROM_BYTES (measured on 1M messages, 104 MB, on 2
        # cores: two threads cost 0.02-0.05 CPU s and 8k more fresh pages and saved no
        # wall time)
        threads = not plain_file or os.path.getsize(path) >= _THREADS_FROM_BYTES
        source: Any = None
        if plain_file:
            try:
                source = pa.OSFile(path, "r")
            except OSError:
                source = None
        try:
            t = pacsv.read_csv(
                stream if source is None else source,
                read_options=pacsv.ReadOptions(column_names=list(COLUMNS), skip_rows=skip,
                                               encoding="utf8", use_threads=threads),
                parse_options=pacsv.ParseOptions(newlines_in_values=newlines),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(COLUMNS, pa.string()),
                    include_columns=[c for c in COLUMNS if c in columns],
                    strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError):
            return None
        finally:
            if source is not None:
                source.close()
    finally:
        stream.close()
    try:
        ts = _cast(t["timestamp"], pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    tsn = _f64(ts)
    if t.num_rows and (not np.all(np.isfinite(tsn)) or np.max(np.abs(tsn)) > 9e12):
        return None
    if _call("any", _is_empty(t["message_id"])).as_py() or \
            _call("any", _is_empty(t["user_id"])).as_py():
        return None
    cols = {c: t[c] for c in t.column_names}
    cols["timestamp"] = ts
    if "urls" in cols:
        if _holds_byte(t["urls"], b"["):
            return None  # list text: parsed line by line
        cols["urls"] = _call("split_pattern", t["urls"],
                             options=_options("SplitPatternOptions", " "))
    return pa.table([cols[f.name] for f in RAW_SCHEMA if f.name in cols],
                    schema=pa.schema([f for f in RAW_SCHEMA if f.name in cols]))


def _holds_byte(col: pa.ChunkedArray, byte: bytes) -> bool:
    """Whether any string of ``col`` contains the one-byte ``byte`` (a numpy scan of each
    chunk's character data: a tenth of the time of a per-string substring search)."""
    return any(bool((_char_data(chunk)[0] == byte[0]).any())
               for chunk in col.chunks if len(chunk))


def snowflake_seconds(tweet_id: str) -> float:
    """Seconds from a Twitter id's timestamp bits, as the toolkit computes them."""
    return (int(tweet_id) >> 22) / 1000


def _v1_row(t: dict[str, Any]) -> tuple[str, str, str | None, str | None, str, float,
                                         list[str]]:
    if "full_text" in t:
        text = t["full_text"]
    elif isinstance(t.get("extended_tweet"), dict):
        text = t["extended_tweet"]["full_text"]
    else:
        text = t["text"]
    rt = t.get("retweeted_status")
    repost = rt.get("id_str") if isinstance(rt, dict) else None
    urls: list[str] = []
    if not repost:
        ext = t.get("extended_tweet")
        src: dict[str, Any] = ext if isinstance(ext, dict) else t
        for u in (src.get("entities") or {}).get("urls") or ():
            if isinstance(u, dict) and isinstance(u.get("expanded_url"), str):
                urls.append(u["expanded_url"])
    tid = str(t.get("id_str") or t["id"])
    return (tid, str(t["user"]["id_str"]), repost, t.get("in_reply_to_status_id_str"),
            str(text or ""), snowflake_seconds(tid), urls)


@_pooled
def messages_from_twitter_json(path: str) -> CntMessages:
    """Messages of a Twitter v1.1 JSON-lines file, as the toolkit's ``preprocess
    --format twitter_json`` reads them (times from the tweet id, URLs as expanded).

    Lines that are not tweets (delete notices) are skipped; a line that is not JSON is
    an error naming the line.
    """
    import orjson

    from echoscope.ingest._io import open_input
    from echoscope.ingest._util import iter_json_lines

    rows = []
    stream = open_input(path)
    try:
        for n, _raw, obj, err in iter_json_lines(stream):
            if err is not None:
                raise InputError(f"{path}, line {n}: {err}.", path=path)
            items = obj if isinstance(obj, list) else [obj]
            for t in items:
                if not isinstance(t, dict) or ("id_str" not in t and "id" not in t):
                    continue
                try:
                    rows.append(_v1_row(t))
                except (KeyError, TypeError, ValueError) as e:
                    raise InputError(
                        f"{path}, line {n}: not a Twitter v1.1 tweet the toolkit can read "
                        f"({type(e).__name__}: {e}).", path=path) from None
    except orjson.JSONDecodeError as e:  # pragma: no cover - iter_json_lines reports these
        raise InputError(f"{path}: invalid JSON ({e}).", path=path) from None
    finally:
        stream.close()
    return CntMessages.from_rows(rows)


@_pooled
def messages_from_posts(posts: pa.Table, *, snowflake_time: bool | Sequence[bool] = False
                        ) -> CntMessages:
    """Messages from echoscope's canonical ``posts`` (any input format).

    ``created_at`` gives the time unless ``snowflake_time`` (per post or for all), which
    takes it from the Twitter id like the toolkit does for Twitter JSON. URLs are the
    canonical ones of ``posts`` (the toolkit keys links as written).
    """
    cols = posts.select(["post_id", "account_id", "kind", "parent_post_id", "text",
                         "created_at", "urls"]).to_pydict()
    n = len(cols["post_id"])
    flags = [snowflake_time] * n if isinstance(snowflake_time, bool) else list(snowflake_time)
    rows = []
    for i in range(n):
        pid = cols["post_id"][i]
        kind = cols["kind"][i]
        parent = cols["parent_post_id"][i]
        created = cols["created_at"][i]
        if flags[i] and pid.isdigit():
            t = snowflake_seconds(pid)
        elif created is None:
            raise InputError(f"post {pid} has no time; --compat cnt needs one for every post.")
        else:
            t = _seconds(created)
        rows.append((pid, cols["account_id"][i], parent if kind == "repost" else None,
                     parent if kind == "reply" else None, cols["text"][i] or "", t,
                     cols["urls"][i] or []))
    return CntMessages.from_rows(rows)


def _seconds(v: Any) -> float:
    import datetime as dt

    if isinstance(v, dt.datetime):
        d = v - dt.datetime(1970, 1, 1, tzinfo=v.tzinfo)
        return (d.days * 86400 + d.seconds) + d.microseconds / 1e6
    return float(v) / 1e6


# -- the network ---------------------------------------------------------------------


def _slack_us(t: F64, window: float) -> int:
    """Microseconds added to the integer window so float comparisons are never cut."""
    if t.size == 0:
        return 2
    top = float(np.max(np.abs(t))) + abs(window)
    return 2 + math.ceil(4 * float(np.spacing(top)) * 1e6)


# Actions are laid out on one int64 axis, key after key with a gap wider than the window
# between keys, so one sort and one binary search find every action's window. Keys are
# placed at fixed strides when that fits, else run after run; past this length the numba
# kernel sweeps instead.
_AXIS_MAX = float(1 << 62)


def _sweep(key: I64, t_us: I64, acct: I64, w_us: int) -> tuple[I64, I64]:
    """Every pair ``(i, j)`` of actions (indices into the inputs) with the same key,
    different accounts and ``|t_us[i] - t_us[j]| <= w_us``, each unordered pair once.

    Same pairs as the sort-and-sweep kernel (:func:`echoscope.detect.kernel.sweep_pairs`),
    vectorised with numpy: sort by (key, time), then each action's window end by binary
    search and the pairs by ``np.repeat``. An engine's hook
    (:data:`echoscope.engines.hooks.PAIR_SWEEP`, e.g. Spark) computes them instead.
    """
    parts = list(_sweep_blocks(key, t_us, acct, w_us))
    if len(parts) == 1:
        return parts[0]
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy()
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


# Pairs made per step of :func:`_sweep_blocks`: the step's temporaries stay small (fresh
# pages for large temporaries cost much system time) and are reused.
_PAIR_BLOCK = 1 << 18


def _sweep_blocks(key: I64, t_us: I64, acct: I64, w_us: int,
                  block: int | None = None) -> Iterator[tuple[I64, I64]]:
    """The pairs of :func:`_sweep`, about ``block`` candidate pairs at a time (one part
    when an engine's hook or the kernel fallback computes them)."""
    from echoscope.engines.hooks import PAIR_SWEEP

    hook = PAIR_SWEEP.get()
    if hook is not None:
        yield hook(key, t_us, acct, w_us)
        return
    n = key.size
    if n < 2:
        return
    t0 = int(t_us.min())
    stride = float(t_us.max()) - t0 + w_us + 1
    if int(key.min()) >= 0 and (float(key.max()) + 1) * stride < _AXIS_MAX:
        # fixed strides: one argsort of one int64 (much faster than a two-key lexsort)
        axis = key * np.int64(stride) + (t_us - t0)
        perm = np.argsort(axis)
        axis = axis[perm]
    else:
        perm = np.lexsort((t_us, key))
        k = key[perm]
        ts = t_us[perm]
        start = np.empty(n, dtype=bool)
        start[0] = True
        np.not_equal(k[1:], k[:-1], out=start[1:])
        first = np.flatnonzero(start)
        last = np.append(first[1:], n) - 1
        tmin = ts[first]
        spans = ts[last].astype(np.float64) - tmin.astype(np.float64)
        if float(spans.sum()) + first.size * (float(w_us) + 1) >= _AXIS_MAX:
            yield _sweep_kernel(k, ts, acct[perm], w_us, perm)
            return
        run = np.cumsum(start) - 1
        width = ts[last] - tmin + (w_us + 1)
        base = np.zeros(first.size, dtype=np.int64)
        np.cumsum(width[:-1], out=base[1:])
        axis = base[run] + (ts - tmin[run])
        del run, start, k, ts
    hi = np.searchsorted(axis, axis + w_us, side="right")
    cnt = hi - np.arange(1, n + 1, dtype=np.int64)
    del hi, axis
    a = acct[perm]
    # positions as int32 where they fit: half the memory traffic of the pair arrays
    idt: type[np.signedinteger[Any]] = np.int32 if n < (1 << 30) else np.int64
    for lo, up, c, total in _pair_blocks(cnt, block):
        ii: npt.NDArray[np.signedinteger[Any]] = np.repeat(np.arange(lo, up, dtype=idt), c)
        jj: npt.NDArray[np.signedinteger[Any]] = np.arange(total, dtype=idt)
        jj -= np.repeat((np.cumsum(c) - c).astype(idt), c)
        jj += ii
        jj += 1
        keep = a[ii] != a[jj]
        yield perm[ii[keep]], perm[jj[keep]]


def _pair_blocks(cnt: I64, block: int | None) -> Iterator[tuple[int, int, I64, int]]:
    """Consecutive entries ``lo:up`` whose pair counts ``cnt`` sum to about ``block``
    (``_PAIR_BLOCK`` by default; an entry with more pairs alone), as ``(lo, up,
    cnt[lo:up], their sum)``; blocks without pairs are skipped."""
    ends = np.cumsum(cnt)
    step = max(1, _PAIR_BLOCK if block is None else block)
    lo = 0
    while lo < cnt.size:
        done = int(ends[lo - 1]) if lo else 0
        up = max(lo + 1, int(np.searchsorted(ends, done + step, side="right")))
        total = int(ends[up - 1]) - done
        if total:
            yield lo, up, cnt[lo:up], total
        lo = up


# :func:`_sized_pairs` looks up one run per size its entries can pair with; past this
# many lookups per entry on average (low thresholds, long texts) the plain sweep and a
# size filter make fewer steps.
_SIZED_LOOKUPS = 8


def _sized_pairs(key: I64, size: I64, need: I64, t_us: I64, w_us: int, ids: I64 | None = None,
                 index: npt.NDArray[np.bool_] | None = None,
                 block: int | None = None) -> Iterator[tuple[I64, I64]]:
    """Pairs ``(i, j)`` of entries with the same key, ``|t_us[i] - t_us[j]| <= w_us`` and
    sizes that allow the similarity (the smaller size at least the larger one's ``need``;
    ``need <= size``), about ``block`` pairs at a time, each unordered pair once.
    Accounts are not compared. With ``index`` (per entry) only the pairs where the
    smaller entry is an index entry (for equal sizes: either one), ``j`` being that one;
    without it every such pair.

    The pairs of :func:`_sweep_blocks` that pass those filters, without making the
    others: entries sorted by (key, size, time), so each size of a key is one run; an
    entry pairs with the index entries of its own run (for an index entry: the later
    ones) and of each smaller run of its key down to its need, within the window (a
    binary search for each end of the window in each such run). With ``ids`` the pairs
    are ``(ids[i], ids[j])``. Raises ``OverflowError`` when the runs do not fit one int64
    axis (times centuries apart; the caller sweeps then).
    """
    n = key.size
    if n < 2:
        return
    smax = np.int64(int(size.max()) + 1)
    band = key * smax + size                 # (key, size) as one int64
    t0 = int(t_us.min())
    span = float(t_us.max()) - t0 + 1
    if int(key.min()) >= 0 and (float(band.max()) + 1) * span < _AXIS_MAX:
        perm = np.argsort(band * np.int64(span) + (t_us - t0))
    else:
        perm = np.lexsort((t_us, band))
    b = band[perm]
    ts = t_us[perm]
    del band
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(b[1:], b[:-1], out=new[1:])
    first = np.flatnonzero(new)
    end = np.append(first[1:], n)
    run = np.cumsum(new) - 1
    del new
    tmin = ts[first]
    width = ts[end - 1] - tmin + 1
    if float(width.astype(np.float64).sum()) >= _AXIS_MAX:
        raise OverflowError("times too far apart for one axis")
    base = np.zeros(first.size, dtype=np.int64)
    np.cumsum(width[:-1], out=base[1:])
    axis = base[run] + (ts - tmin[run])     # ascending; runs side by side
    # the targets: index entries, in the same order (their own axis, run bounds)
    if index is None:
        is_index = np.ones(n, dtype=bool)
        tpos = np.arange(n, dtype=np.int64)
        t_axis, t_first, t_end = axis, first, end
    else:
        is_index = index[perm]
        tpos = np.flatnonzero(is_index)
        t_axis = axis[tpos]
        t_first, t_end = np.searchsorted(tpos, first), np.searchsorted(tpos, end)
    # own run (same size): the index entries within the window; an index entry takes
    # only the later ones (each pair once)
    lo = np.maximum(np.searchsorted(t_axis, axis - w_us, side="left"), t_first[run])
    later = np.cumsum(is_index)              # an index entry's rank among them, plus one
    np.maximum(lo, later, out=lo, where=is_index)
    cnt = np.minimum(np.searchsorted(t_axis, axis + w_us, side="right"), t_end[run]) - lo
    some = cnt > 0
    at = [np.flatnonzero(some)]
    starts = [lo[some]]
    counts = [cnt[some]]
    del lo, cnt, some, later, is_index, run
    rk = b[first]
    reach = (size - need)[perm]              # how many sizes below its own it may pair with
    for d in range(1, int(reach.max()) + 1):
        sel = np.flatnonzero(reach >= d)
        target = b[sel] - d
        r = np.minimum(np.searchsorted(rk, target), rk.size - 1)
        ok = rk[r] == target
        sel, r = sel[ok], r[ok]
        q = base[r] + (ts[sel] - tmin[r])    # the entry's time on run r's stretch of axis
        lo = np.maximum(np.searchsorted(t_axis, q - w_us, side="left"), t_first[r])
        c = np.minimum(np.searchsorted(t_axis, q + w_us, side="right"), t_end[r]) - lo
        some = c > 0
        at.append(sel[some])
        starts.append(lo[some])
        counts.append(c[some])
    del axis, t_axis, b, ts, reach
    # positions as int32 where they fit: half the memory traffic of the pair arrays
    idt: type[np.signedinteger[Any]] = np.int32 if n < (1 << 30) else np.int64
    src = np.concatenate(at).astype(idt)
    lo_all = np.concatenate(starts).astype(idt)
    cnt = np.concatenate(counts)
    del at, starts, counts
    out = perm if ids is None else ids[perm]
    out_t = out[tpos]
    for k, up, c, total in _pair_blocks(cnt, block):
        ii = np.repeat(src[k:up], c)
        jj = np.arange(total, dtype=idt)
        jj += np.repeat(lo_all[k:up] - (np.cumsum(c) - c).astype(idt), c)
        yield out[ii], out_t[jj]


def _sweep_kernel(k: I64, ts: I64, a: I64, w_us: int, perm: I64) -> tuple[I64, I64]:
    from echoscope.detect.kernel import sweep_pairs

    ii, jj = sweep_pairs(k, ts, a.astype(np.int32), w_us)
    return perm[ii], perm[jj]


def _directed_pairs(key: I64, t: F64, acct: I64, msg: I64, window: float,
                    ) -> tuple[I64, I64, I64]:
    """``(account A, message of A, account B)`` for each match of B within the window.

    ``key``, ``t``, ``acct`` and ``msg`` describe actions (one message may have several,
    e.g. one per URL). The sweep uses an integer window widened by a few microseconds;
    each pair is then checked both ways exactly as the toolkit's SQL does
    (``t2 BETWEEN t1 - W AND t1 + W`` in floating point).
    """
    if key.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), e.copy()
    if key.size > 2 and int(key.min()) >= 0 and int(key.max()) < 4 * key.size:
        # a key acted on once pairs with nothing: leave its actions out of the sort
        # (most co_tweet texts are written once)
        shared = np.bincount(key)[key] > 1
        if not shared.all():
            keep = np.flatnonzero(shared)
            key, t, acct, msg = key[keep], t[keep], acct[keep], msg[keep]
            if key.size == 0:
                e = np.zeros(0, dtype=np.int64)
                return e, e.copy(), e.copy()
    t_us = np.round(t * 1e6).astype(np.int64)
    w_us = math.floor(window * 1e6) + _slack_us(t, window)
    parts = [_both_ways(pi, pj, t, acct, msg, window)
             for pi, pj in _sweep_blocks(key, t_us, acct, w_us)]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), e.copy()
    src, m, other = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return src, m, other


def _both_ways(pi: I64, pj: I64, t: F64, acct: I64, msg: I64, window: float
               ) -> tuple[I64, I64, I64]:
    ti = t[pi]
    tj = t[pj]
    fwd = (tj >= ti - window) & (tj <= ti + window)
    bwd = (ti >= tj - window) & (ti <= tj + window)
    src = np.concatenate([acct[pi[fwd]], acct[pj[bwd]]])
    m = np.concatenate([msg[pi[fwd]], msg[pj[bwd]]])
    other = np.concatenate([acct[pj[fwd]], acct[pi[bwd]]])
    return src, m, other


def _sorted_unique(x: I64, *, grouped: bool = False) -> I64:
    """``np.unique(x)`` by sorting (numpy 2.4's hash-based unique is many times slower on
    large int64 codes). ``grouped``: ``x`` is mostly in order already (a few ascending
    runs of groups, unordered within a group), where a stable sort (timsort, which
    merges runs) takes a quarter of the time of the default one."""
    x = np.sort(x, kind="stable" if grouped else None)
    if x.size < 2:
        return x
    keep = np.empty(x.size, dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _weights(src: I64, m: I64, other: I64, n_acct: int, min_weight: int
             ) -> tuple[I64, I64, I64]:
    """``(source, target, weight)``: distinct messages of the source per target."""
    if m.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), e.copy()
    n = np.int64(n_acct)
    n_msg = int(m.max()) + 1
    if int(m.min()) >= 0 and float(n_acct) * n_acct * n_msg < _AXIS_MAX:
        # one int64 per match, (source, target) major and message minor: one sort gives
        # the distinct (source, target, message) and, in runs, each pair's count
        comp = src * n
        comp += other
        comp *= np.int64(n_msg)
        comp += m
        comp = _sorted_unique(comp)
        comp //= np.int64(n_msg)
        start = np.flatnonzero(np.r_[True, comp[1:] != comp[:-1]])
        w = np.diff(np.r_[start, comp.size]).astype(np.int64)
        pair = comp[start]
        keep = w >= min_weight
        pair = pair[keep]
        return pair // n, pair % n, w[keep]
    # distinct (message, source, target), then per (source, target) the count (sorts and
    # run boundaries: numpy 2.4's hash-based np.unique is many times slower here)
    order = np.lexsort((other, src, m))
    ms, ss, os_ = m[order], src[order], other[order]
    new = np.empty(ms.size, dtype=bool)
    new[0] = True
    new[1:] = (ms[1:] != ms[:-1]) | (ss[1:] != ss[:-1]) | (os_[1:] != os_[:-1])
    pair = np.sort(ss[new] * n + os_[new])
    start = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    w = np.diff(np.r_[start, pair.size]).astype(np.int64)
    pair = pair[start]
    keep = w >= min_weight
    pair = pair[keep]
    return pair // n, pair % n, w[keep]


@_pooled
def cnt_network(msgs: CntMessages, params: CntParams) -> pa.Table:
    """The toolkit's edge list for ``params.type``: ``source, target, weight, edge_type``.

    Rows are sorted by source then target (the toolkit's order is arbitrary).
    """
    return _network(msgs.tables, params)


# Fewest messages for which cnt_networks runs networks side by side. Measured with the
# four exact types on a 2-core machine (benchmarks/vs_cnt.py inputs, three runs each):
# 1M messages, one thread 1.66 CPU s / 3.9 s wall, two 1.83 / 4.2; 3M, one 5.97 / 13.0,
# two 6.25 / 13.3: the second thread's own memory (per-thread malloc and jemalloc
# arenas: 10-20% more fresh pages) cost more than the overlap saved.
_THREADS_FROM_MESSAGES = 4_000_000


@_pooled
def cnt_networks(msgs: CntMessages, params: Sequence[CntParams], *, threads: int = 2
                 ) -> list[pa.Table]:
    """:func:`cnt_network` for each of ``params``, computed together on up to ``threads``
    threads (same edge lists as one call each).

    The message tables (ids, accounts, times) are built once, then the networks run, side
    by side when the input is large enough for a second thread to pay
    (:data:`_THREADS_FROM_MESSAGES`, measured; below it one thread, which also uses the
    least CPU time); Arrow's and numpy's kernels release the interpreter lock, so two
    threads use two cores. An engine's pair-sweep hook
    (:data:`echoscope.engines.hooks.PAIR_SWEEP`) is seen by every thread. (Computing
    co_tweet's text keys per input row on a thread of their own while the tables were
    built cost 0.4 CPU s more on 1M rows than keying each message's text in the co_tweet
    network, and under load the overlap did not pay.)
    """
    tb = msgs.tables
    if threads <= 1 or len(params) <= 1 or tb.t.size < _THREADS_FROM_MESSAGES:
        return [_network(tb, p) for p in params]
    import contextvars  # (imported here: one thread needs neither, nor logging)
    from concurrent.futures import Future, ThreadPoolExecutor

    ctx = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        def run(fn: Any, *args: Any) -> Future[Any]:
            return pool.submit(ctx.copy().run, fn, *args)

        # slower kinds first, so the two threads finish close together
        slow = {"co_similar_tweet": 0, "co_tweet": 1, "co_link": 2}
        order = sorted(range(len(params)), key=lambda i: slow.get(params[i].type, 3))
        futs = {i: run(_network, tb, params[i]) for i in order}
        return [futs[i].result() for i in range(len(params))]


def _network(tb: _Tables, params: CntParams) -> pa.Table:
    n_acct = max(len(tb.accounts), 1)
    window = float(params.time_window)
    kind = params.type
    original = _bools(_call("is_null", tb.repost))
    if kind == "co_similar_tweet":
        src, m, other = _similar_pairs(tb, original, params)
    elif kind == "co_link":
        link_msg, link_url, link_user, link_t = tb.links
        src, m, other = _directed_pairs(link_url, link_t, link_user, link_msg, window)
    else:
        if kind == "co_retweet":
            sel = ~original
            keys = key_codes(_filter(tb.repost, _arrow_mask(sel)))
        elif kind == "co_reply":
            sel = original & _bools(_call("is_valid", tb.reply))
            keys = key_codes(_filter(tb.reply, _arrow_mask(sel)))
        elif kind == "co_tweet":
            sel = original
            keys = _cotweet_codes(tb.message_chunks, sel)
        else:  # co_post: any two messages, reposts included
            sel = np.ones(tb.t.size, dtype=bool)
            keys = np.zeros(tb.t.size, dtype=np.int64)
        idx = np.flatnonzero(sel).astype(np.int64)
        src, m, other = _directed_pairs(keys, tb.t[idx], tb.user[idx], idx, window)
    s_, dst, w = _weights(src, m, other, n_acct, params.min_edge_weight)
    table = pa.table({
        "source": _cast(_take(tb.accounts, _arrow_i64(s_)), pa.string()),
        "target": _cast(_take(tb.accounts, _arrow_i64(dst)), pa.string()),
        "weight": _arrow_i64(w),
        "edge_type": _arrow_str([kind] * int(w.size)),
    }, schema=EDGE_SCHEMA)
    order = _call("sort_indices", table, options=_options(
        "SortOptions", [("source", "ascending"), ("target", "ascending")]))
    return _take(table, order)


# Messages keyed per step of :func:`_cotweet_codes`: each step's copies (the selected
# texts, lower-cased, mentions cut) stay small and their memory is reused; keying all
# 590k original texts of 1M messages at once touched 54k fresh pages (0.1-0.2 s of
# system time) for copies of a 37 MB text column.
_KEY_BLOCK = 1 << 16


def _cotweet_codes(message: pa.ChunkedArray, sel: npt.NDArray[np.bool_]) -> I64:
    """:func:`key_codes` of :func:`cotweet_keys` of the selected messages (``sel`` per
    message), about :data:`_KEY_BLOCK` messages at a time, straight from the chunks as
    read (one dictionary for all blocks: the same exact codes)."""
    parts: list[pa.Array] = []
    pending: list[pa.Array] = []
    n_pending = 0

    def flush() -> None:
        nonlocal n_pending
        if pending:
            block = pending[0] if len(pending) == 1 else pa.concat_arrays(pending)
            parts.append(cotweet_keys(block))
            pending.clear()
            n_pending = 0

    lo = 0
    for chunk in message.chunks:
        m = sel[lo:lo + len(chunk)]
        lo += len(chunk)
        if not m.any():
            continue
        picked = chunk if m.all() else _filter(chunk, _arrow_mask(m))
        pending.append(picked)
        n_pending += len(picked)
        if n_pending >= _KEY_BLOCK:
            flush()
    flush()
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return _codes(pa.chunked_array(parts, type=pa.string()))[0]


# -- co_similar_tweet: prefix filtering + exact verification ----------------------------


# Up to this many (document, token) cells the overlap uses a dense membership table
# (one byte per cell) instead of binary search.
_DENSE_CELLS = 1 << 26
# The most frequent tokens (at most 64) are held as one bit mask per document.
_FREQ_BITS = 64
# The distinct (text, token) rows come from a table of every cell (one byte each) when it
# has at most this many cells per token row (a small vocabulary), else from a sort.
_SET_CELLS_PER_ROW = 8


def _overlap(indptr: I64, tokens: I64, a: I64, b: I64) -> I64:
    """``|tokens(a[k]) & tokens(b[k])|`` for every k. ``tokens`` are ranks, rarest first,
    sorted within each document.

    Vectorised: the most frequent tokens (word frequencies are Zipf-like, so they make
    a large share of every text) are a 64-bit mask per document and their overlap is a
    popcount; each rarer token of the pair's side with fewer of them is looked up among
    the ``(document, token)`` cells of the other side (a dense membership table when
    documents x vocabulary is small, else binary search), a few million at a time.
    """
    out = np.zeros(a.size, dtype=np.int64)
    if a.size == 0:
        return out
    sizes = np.diff(indptr)
    n_doc = sizes.size
    n_tok = int(tokens.max()) + 1 if tokens.size else 1
    cut = max(n_tok - _FREQ_BITS, 0)
    freq = tokens >= cut
    bits = np.zeros(tokens.size, dtype=np.uint64)
    bits[freq] = np.left_shift(np.uint64(1), (tokens[freq] - cut).astype(np.uint64))
    mask = np.zeros(n_doc, dtype=np.uint64)
    full = np.flatnonzero(sizes > 0)
    if full.size:  # a document's bits are distinct, so their sum is their union
        mask[full] = np.add.reduceat(bits, indptr[full], dtype=np.uint64)
    del bits, freq
    out += np.bitwise_count(mask[a] & mask[b])
    # the rare tokens are each document's first ones (ranks ascending)
    rare = sizes - np.bitwise_count(mask).astype(np.int64)
    if not rare.any():  # every token among the bit masks (a small vocabulary)
        return out
    swap = rare[a] > rare[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    todo = np.flatnonzero(rare[a] > 0)
    if todo.size == 0:
        return out
    a, b = a[todo], b[todo]
    n_t = np.int64(n_tok)
    code = np.repeat(np.arange(n_doc, dtype=np.int64), sizes) * n_t + tokens
    member: npt.NDArray[np.bool_] | None = None
    if n_doc * n_tok <= _DENSE_CELLS:
        member = np.zeros(n_doc * n_tok, dtype=bool)
        member[code] = True
    na = rare[a]
    ends = np.cumsum(na)
    budget = 4_000_000
    lo = 0
    while lo < a.size:
        base = int(ends[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(ends, base + budget, side="right")))
        ca, cb, cn = a[lo:hi], b[lo:hi], na[lo:hi]
        total = int(cn.sum())
        first = np.cumsum(cn) - cn               # where each pair's lookups start
        pos = np.arange(total, dtype=np.int64)
        pos += np.repeat(indptr[ca] - first, cn)  # positions of the rare tokens of a
        q = tokens[pos]
        q += np.repeat(cb * n_t, cn)
        if member is not None:
            hit = member[q]
        else:
            at = np.minimum(np.searchsorted(code, q), code.size - 1)
            hit = code[at] == q
        out[todo[lo:hi]] += np.add.reduceat(hit, first, dtype=np.int64)
        lo = hi
    return out


def _candidate_pairs(p_tok: I64, p_doc: I64, p_index: npt.NDArray[np.bool_], t_us: I64,
                     w_us: int, dsize: I64, dneed: I64, dacct: I64) -> tuple[I64, I64]:
    """Candidate document pairs of :func:`_similar_pairs` (a pair sharing several prefix
    tokens repeats; a pair of one account may be among them): documents ``p_doc`` with
    prefix token ``p_tok`` at ``t_us`` (``p_index``: within the index prefix), each
    document's size and the size a partner needs. By :func:`_sized_pairs` (only pairs of
    fitting sizes that share a token of the smaller one's index prefix are made), else
    (an engine's pair sweep, long texts at a low threshold, times centuries apart) by the
    plain sweep and a size filter."""
    from echoscope.engines.hooks import PAIR_SWEEP

    e_size, e_need = dsize[p_doc], dneed[p_doc]
    got: list[tuple[I64, I64]] | None = None
    if PAIR_SWEEP.get() is None and int((e_size - e_need).sum()) <= _SIZED_LOOKUPS * p_doc.size:
        try:
            got = list(_sized_pairs(p_tok, e_size, e_need, t_us, w_us, ids=p_doc,
                                    index=p_index))
        except OverflowError:
            got = None
    if got is None:
        got = []
        p_acct = dacct[p_doc]
        s32, n32 = e_size.astype(np.int32), e_need.astype(np.int32)
        for ii, jj in _sweep_blocks(p_tok, t_us, p_acct, w_us):
            fit = (s32[ii] >= n32[jj]) & (s32[jj] >= n32[ii])
            got.append((p_doc[ii[fit]], p_doc[jj[fit]]))
    if not got:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy()
    if len(got) == 1:
        return got[0]
    return np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got])


def _similar_pairs(tb: _Tables, original: npt.NDArray[np.bool_], params: CntParams
                   ) -> tuple[I64, I64, I64]:
    thr = float(params.similarity_threshold)
    window = float(params.time_window)
    min_size = max(1, int(params.min_document_size))
    empty = np.zeros(0, dtype=np.int64)
    sel = np.flatnonzero(original).astype(np.int64)
    if sel.size < 2:
        return empty, empty.copy(), empty.copy()
    # token sets of the distinct texts (vectorised tokenizer), then messages -> texts
    msg_text, texts = _codes(_filter(tb.message_chunks, _arrow_mask(original)))
    tdoc, tcode, vocab = _token_occurrences(texts)
    n_text = len(texts)
    # Global token order: rarest first, so prefixes hold rare tokens (any fixed order is
    # exact; rarity keeps the candidate pairs few; occurrences count as rarity). Each
    # text's distinct tokens sorted by rank: one sort of (text, rank) and its repeats out.
    n_vocab = max(len(vocab), 1)
    df = np.bincount(tcode, minlength=n_vocab)
    order = np.lexsort((np.arange(df.size), df))
    rank = np.empty(df.size, dtype=np.int64)
    rank[order] = np.arange(df.size, dtype=np.int64)
    cell = tdoc * np.int64(n_vocab)
    cell += rank[tcode]
    del tdoc, tcode, df, order, rank
    if n_text * n_vocab <= _SET_CELLS_PER_ROW * cell.size:
        # few (text, token) cells (a small vocabulary): mark them, read them in order
        seen = np.zeros(n_text * n_vocab, dtype=bool)
        seen[cell] = True
        both = np.flatnonzero(seen)
        del seen
    else:
        both = _sorted_unique(cell, grouped=True)
    del cell
    tokens = both % np.int64(n_vocab)
    sizes = np.bincount(both // np.int64(n_vocab), minlength=n_text).astype(np.int64)
    del both
    indptr = np.zeros(n_text + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    keep = sizes[msg_text] >= min_size
    docs = sel[keep]                    # message index of every document
    dtext = msg_text[keep]              # its text
    del msg_text, keep
    if docs.size < 2:
        return empty, empty.copy(), empty.copy()
    # Prefix length for Jaccard >= t (t lowered a hair so float rounding never prunes).
    t_low = thr * (1 - 1e-9)
    prefix = np.clip(sizes - np.ceil(t_low * sizes).astype(np.int64) + 1, 1,
                     np.maximum(sizes, 1))
    plen = prefix[dtext]
    p_doc = np.repeat(np.arange(docs.size, dtype=np.int64), plen)
    offs = np.arange(p_doc.size, dtype=np.int64) - np.repeat(np.cumsum(plen) - plen, plen)
    p_tok = tokens[indptr[dtext][p_doc] + offs]
    # The shorter index prefix: a pair of sizes n >= m with Jaccard >= t shares a token
    # among the first n - ceil(t n) + 1 of the one and m - ceil(2t / (1 + t) m) + 1 of
    # the other (both hold their first common token), so only these entries are looked
    # for among the smaller (or equal) sets.
    t_mid = 2 * t_low / (1 + t_low)
    ilen = np.clip(sizes - np.ceil(t_mid * sizes).astype(np.int64) + 1, 1, prefix)
    p_index = offs < ilen[dtext][p_doc]
    del offs, plen, ilen
    p_t = tb.t[docs[p_doc]]
    t_us = np.round(p_t * 1e6).astype(np.int64)
    w_us = math.floor(window * 1e6) + _slack_us(p_t, window)
    del p_t
    # candidate document pairs; size filter min(na, nb) >= t_low * max(na, nb), in
    # integers: a set of n tokens needs a partner of at least ceil(t_low * n) (the same
    # float product, rounded up)
    dsize = sizes[dtext]
    dneed = np.ceil(t_low * dsize).astype(np.int64)
    a, b = _candidate_pairs(p_tok, p_doc, p_index, t_us, w_us, dsize, dneed, tb.user[docs])
    del p_tok, p_doc, p_index, t_us, dneed
    # exact Jaccard as the toolkit computes it (float division)
    na, nb = dsize[a], dsize[b]
    inter = _overlap(indptr, tokens, dtext[a], dtext[b])
    ok = inter / (na + nb - inter) >= thr
    del na, nb, inter
    user = tb.user[docs]
    ok &= user[a] != user[b]            # (the size-banded candidates mix accounts)
    # pairs sharing several prefix tokens repeat: keep one of each
    nd = np.int64(docs.size)
    a, b = a[ok], b[ok]
    pair = _sorted_unique(np.minimum(a, b) * nd + np.maximum(a, b))
    ma = docs[pair // nd]
    mb = docs[pair % nd]
    return _both_ways(ma, mb, tb.t, tb.user, np.arange(tb.t.size, dtype=np.int64), window)
