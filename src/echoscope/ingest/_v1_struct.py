"""The default path of the Twitter v1.1 JSONL loader: msgspec typed decoding.

``msgspec.json.Decoder(type=_Tweet)`` decodes each line straight into small typed
structs holding only the ~40 fields echoscope uses; every other field is skipped in C
without building Python objects, so decoding costs less than ``orjson.loads`` of the
line. The per-tweet Python then only reads attributes (the decoder has already checked
every type) into one row tuple per post; time strings stay strings.

Each block of lines read (8 MiB of a plain file) is turned into Arrow columns at its
end, while its objects are still in the CPU's caches: the time strings of the block in
numpy (``_times``: the fixed-width layout computed as the reference computes it, any
other string by the reference ``twitter_time_to_us``). DuckDB's share runs on a thread
of its own beside the decoding (``_Inserter``; DuckDB releases the GIL): the account
snapshots go into a temporary table block by block, and the posts straight into
``posts`` while that is the reference's result (see ``_Inserter``); otherwise they are
appended to an Arrow stream file in the workspace's temporary folder, which the driver
inserts with one bulk statement at the end. Memory stays bounded however large the file
(each table reaches DuckDB through a replacement scan, not a registered view, which
would keep its Arrow data alive until COMMIT: ``Workspace._insert``).

Exactness is by construction. A line goes whole to the reference parser
(:func:`echoscope.ingest.twitter_v1._dispatch`), before anything was recorded for it,
when msgspec cannot decode it into the structs (invalid JSON, a field of another type,
not an object), when a value has a shape the reference treats specially (an empty
``extended_tweet.entities``, a retweet without a user object), when it might hold a
number that ``orjson`` refuses and msgspec skips (overflowing a double), or invalid
UTF-8 in a skipped field (msgspec only checks the strings it decodes; a whole block is
checked by Arrow's UTF-8 validator, line by line with Python's only when that fails),
and, at the end of its block, when a time string in it is one the reference refuses
(the lines for the reference parser are handed to it in line order at each block's end,
so ``--strict`` stops at the same line). Tests compare this path, the SQL path and the
reference parser on the example records, mixed bad files, odd time strings and
Hypothesis mutations.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import queue
import struct
import tempfile
import threading
import uuid
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import accumulate
from typing import IO, Annotated, Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from echoscope import schema
from echoscope.errors import WorkspaceError
from echoscope.ingest._base import Sink
from echoscope.ingest._util import app_from_source, parse_json_line, twitter_time_to_us
from echoscope.normalise import _canonical, canonical_url, normalise_handle, normalise_hashtag

__all__ = ["struct_load_v1"]

#: posts per Arrow batch written to the spill file
BATCH = 50_000
#: lines checked together (UTF-8, numbers) before decoding
_POST_SCHEMA = schema.TABLES["posts"].schema

# ints the reference turns into the same text / int64 (orjson gives a float beyond)
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_Str = str | None
# The structs below hold only strings, numbers and other such structs (never a cycle), so
# they need not be tracked by the cyclic garbage collector (gc=False: ~10 % faster decoding).


class _Unwound(msgspec.Struct, gc=False):
    url: _Str = None


class _Url(msgspec.Struct, gc=False):
    url: _Str = None
    expanded_url: _Str = None
    unwound: _Unwound | None = None


class _Tag(msgspec.Struct, gc=False):
    text: _Str = None


class _Mention(msgspec.Struct, gc=False):
    screen_name: _Str = None
    id_str: _Str = None
    id: _Int | None = None


class _Media(msgspec.Struct, gc=False):
    id_str: _Str = None
    id: _Int | None = None
    media_url_https: _Str = None
    media_url: _Str = None


class _Entities(msgspec.Struct, gc=False):
    hashtags: list[_Tag] | None = None
    urls: list[_Url] | None = None
    user_mentions: list[_Mention] | None = None
    media: list[_Media] | None = None


class _XEntities(msgspec.Struct, gc=False):
    media: list[_Media] | None = None


class _User(msgspec.Struct, gc=False):
    id_str: _Str = None
    id: _Int | None = None
    screen_name: _Str = None
    name: _Str = None
    created_at: _Str = None
    followers_count: _Int | None = None
    friends_count: _Int | None = None
    statuses_count: _Int | None = None
    description: _Str = None
    profile_image_url_https: _Str = None
    profile_image_url: _Str = None


class _Extended(msgspec.Struct, gc=False):
    full_text: _Str = None
    entities: _Entities | None = None
    extended_entities: _XEntities | None = None


class _Content(msgspec.Struct, gc=False):
    id_str: _Str = None
    id: _Int | None = None
    created_at: _Str = None
    text: _Str = None
    full_text: _Str = None
    extended_tweet: _Extended | None = None
    entities: _Entities | None = None
    extended_entities: _XEntities | None = None
    user: _User | None = None


class _Tweet(_Content):
    lang: _Str = None
    source: _Str = None
    in_reply_to_status_id_str: _Str = None
    in_reply_to_status_id: _Int | None = None
    in_reply_to_user_id_str: _Str = None
    in_reply_to_user_id: _Int | None = None
    quoted_status_id_str: _Str = None
    quoted_status_id: _Int | None = None
    is_quote_status: bool | None = None
    retweeted_status: _Content | None = None
    quoted_status: _Content | None = None


_SNAP_FIELDS = [("line", pa.int64()), ("account_id", pa.string()), ("handle", pa.string()),
                ("display_name", pa.string()), ("created_at", schema.TS),
                ("followers", pa.int64()), ("following", pa.int64()),
                ("posts_count", pa.int64()), ("description", pa.string()),
                ("profile_image_url", pa.string()), ("seen", schema.TS)]
_SNAP_SCHEMA = pa.schema(_SNAP_FIELDS)
#: what ``_load`` keeps per post: the posts columns (not the platform), then the raw line
_ROW_NAMES = (*Sink.POST_COLUMNS[1:], "raw")
_TWITTER = pa.scalar("twitter", pa.string())

# A number orjson refuses (it overflows a double) while msgspec skips it unchecked has an
# exponent of 3+ digits or 200+ digits before it. Found in a whole block at once, with
# every digit mapped to "0", "E" to "e" and "+" deleted (bytes.translate and find run in
# C; a regex was 5-10x slower). Text that merely looks like it ("1e234" in a link) only
# sends its line to the reference parser. A plain file's blocks are first tested whole by
# ``_block_clean`` on a second thread (RE2 in Arrow, without the GIL), which finds every
# such number (a 3-digit exponent, or 200 digits in a row: a number that overflows with an
# exponent under 100 has 210+ digits before its point) and sends the rare block with a
# hit to ``_suspect_lines``, which finds its lines.
_DIGITS = bytes.maketrans(b"123456789E", b"000000000e")
_NUMBER_RE = r"[eE]\+?[0-9]{3}|[0-9]{200}"
_EXPONENT_RE, _DIGIT_RUN_RE = _NUMBER_RE.split("|")
_SPAN = np.arange(101)
_NUMBER_SIGNS = (b"e000", b"0" * 200)
#: bytes read at a time from a plain file
_CHUNK = 1 << 23
#: lines checked together when reading line by line (a compressed stream)
_BLOCK = 4096
#: beside a posts spill file: its post ids as uint64 (when all are decimal numbers)
IDS_SUFFIX = ".ids"
#: posts go into ``posts`` while the file is read when that is exact (``_Inserter``);
#: tests switch it off to exercise the spill files
EARLY_INSERT = True


#: a line as the loader holds it: a copy, or a view into the block read
_Line = bytes | memoryview


class _Odd(Exception):
    """This line is not of the common shape: the reference parser takes it."""


def _id(s: str | None, i: int | None) -> str | None:
    """The reference ``_id``: the ``_str`` form when non-empty, else the number."""
    if s:
        return s
    return None if i is None else str(i)


def _as_binary(data: bytes, end: int) -> pa.Array:
    """``data[:end]`` as a one-value Arrow binary array, without copying it."""
    offsets = pa.py_buffer(struct.pack("<qq", 0, end))
    return pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])


# Twitter times ('Wed Oct 10 20:19:24 +0000 2018') are parsed a block at a time: the
# strings of the exact fixed-width layout in numpy, any other string one by one by the
# reference ``twitter_time_to_us`` (which accepts more: ' 5', '+5', other digits, ...).
_MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                "Nov", "Dec"]
_MONTH_CODES = np.array(sorted((ord(m[0]) << 16) | (ord(m[1]) << 8) | ord(m[2])
                               for m in _MONTH_NAMES), np.int64)
_MONTH_OF_CODE = np.array([1 + _MONTH_NAMES.index(chr(c >> 16) + chr((c >> 8) & 255)
                                                  + chr(c & 255)) for c in _MONTH_CODES])
# where 'Www Mmm dd hh:mm:ss +zzzz yyyy' has its digits (the reference reads them with
# ``int`` and ignores the weekday and the separators)
_TIME_DIGITS = np.array([8, 9, 11, 12, 14, 15, 17, 18, 21, 22, 23, 24, 26, 27, 28, 29])
_TIME_WIDTH = np.arange(30)
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _times(values: Sequence[str | None]) -> tuple[pa.Array, list[int]]:
    """Twitter time strings as a ``timestamp[us]`` array (None -> null), each exactly
    what :func:`twitter_time_to_us` gives, and the positions of the strings it refuses
    (null in the array): the lines that hold them go to the reference parser.

    An all-ASCII string of 30 bytes with ASCII digits where the layout has them and a
    month name where it has one is computed in numpy (the same arithmetic as the
    reference, which checks no ranges but the date's); any other string by the
    reference itself.
    """
    arr = pa.array(values, pa.string())
    n = len(arr)
    out = np.zeros(n, np.int64)
    known = np.zeros(n, np.bool_)  # null, or computed here
    bufs = arr.buffers()
    offs = np.frombuffer(bufs[1], np.int32, count=n + 1, offset=arr.offset * 4) \
        if n else np.zeros(1, np.int32)
    lens = np.diff(offs)
    nulls = np.zeros(n, np.bool_)
    if arr.null_count:
        nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), np.bool_)
        known |= nulls
    cand = np.flatnonzero(~nulls & (lens == 30))
    if cand.size:
        data = np.frombuffer(bufs[2], np.uint8)
        m = data[offs[cand][:, None] + _TIME_WIDTH]
        d = (m[:, _TIME_DIGITS] - 48).astype(np.int64)  # uint8: a non-digit wraps >= 10
        code = (m[:, 4].astype(np.int64) << 16) | (m[:, 5].astype(np.int64) << 8) | m[:, 6]
        at = np.minimum(np.searchsorted(_MONTH_CODES, code), 11)
        mon = _MONTH_OF_CODE[at]
        day = d[:, 0] * 10 + d[:, 1]
        year = d[:, 12] * 1000 + d[:, 13] * 100 + d[:, 14] * 10 + d[:, 15]
        ok = ((d < 10).all(axis=1) & (m < 128).all(axis=1) & (_MONTH_CODES[at] == code)
              & (year >= 1) & (day >= 1))
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        ok &= day <= _MONTH_DAYS[mon] + (leap & (mon == 2))
        # days since 1970-01-01 of the proleptic Gregorian date (as datetime.date has it)
        y = year - (mon <= 2)
        era = y // 400
        yoe = y - era * 400
        doy = (153 * (mon + np.where(mon > 2, -3, 9)) + 2) // 5 + day - 1
        days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
        secs = (days * 86400 + (d[:, 2] * 10 + d[:, 3]) * 3600
                + (d[:, 4] * 10 + d[:, 5]) * 60 + d[:, 6] * 10 + d[:, 7])
        off = ((d[:, 8] * 10 + d[:, 9]) * 60 + d[:, 10] * 10 + d[:, 11]) * 60
        secs -= np.where(m[:, 20] == 45, -off, off)  # '-': west of UTC
        out[cand[ok]] = secs[ok] * 1_000_000
        known[cand[ok]] = True
    bad: list[int] = []
    for i in np.flatnonzero(~known).tolist():
        try:
            out[i] = twitter_time_to_us(values[i])  # type: ignore[arg-type]
        except ValueError:
            bad.append(i)
    if bad:
        nulls = nulls.copy()
        nulls[bad] = True
    return pa.array(out, schema.TS, mask=nulls if nulls.any() else None), bad


def _utf8_ok(data: bytes, end: int, arr: pa.Array | None = None) -> bool:
    """Whether ``data[:end]`` (or ``arr``, that as :func:`_as_binary`) is valid UTF-8:
    Arrow's validator, without copying it or making a Python string (8x cheaper than
    ``bytes.decode``); it refuses what Python's strict decoder (and orjson) refuse:
    overlong forms, surrogates, beyond U+10FFFF."""
    try:
        (_as_binary(data, end) if arr is None else arr).cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _block_clean(data: bytes, end: int) -> bool:
    """Whether no line in ``data[:end]`` needs ``_suspect_lines``: valid UTF-8 and no
    sign of a number that overflows a double (Arrow's kernels run without the GIL)."""
    arr = _as_binary(data, end)
    if not data.isascii() and not _utf8_ok(data, end, arr):
        return False
    if pc.match_substring_regex(arr, _EXPONENT_RE)[0].as_py():
        return False
    return not (_digit_run_sampled(data, end)
                and pc.match_substring_regex(arr, _DIGIT_RUN_RE)[0].as_py())


def _digit_run_sampled(data: bytes, end: int) -> bool:
    """False when ``data[:end]`` surely has no 200 digits in a row (RE2's test of that is
    the costly half of the block check): such a run spans two consecutive multiples of
    100, with 101 digits from the one to the other; only a block with that is tested."""
    a = np.frombuffer(data, np.uint8, count=end)
    sampled = (a[::100] - 48) < 10  # uint8: a non-digit wraps to >= 10
    pairs = np.flatnonzero(sampled[:-1] & sampled[1:])
    if not pairs.size:
        return False
    spans = a[pairs[:, None] * 100 + _SPAN]
    return bool(((spans - 48) < 10).all(axis=1).any())


def _suspect_lines(block: bytes, lines: list[bytes], sep: int, extra: int = 0) -> set[int]:
    """Indexes of ``lines`` msgspec must not decode (see above).

    ``block`` is the lines joined, each followed by ``sep`` more bytes (1 when they were
    split off a block at its newlines, 0 when they still end with theirs), and then
    ``extra`` bytes that belong to no line here (a hit there is ignored).
    """
    bad: set[int] = set()
    ends: list[int] | None = None
    if not block.isascii() and not _utf8_ok(block, len(block) - extra):
        for i, raw in enumerate(lines):
            if not raw.isascii():
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    bad.add(i)
    digits = block.translate(_DIGITS, b"+")
    if b"e000" in digits or b"0" * 200 in digits:
        # positions in ``digits`` are shifted by the deleted "+": map on the original
        marked = block.translate(_DIGITS)
        for sign in (b"e000", b"e+000", b"0" * 200):
            at = marked.find(sign)
            while at >= 0:
                if ends is None:
                    ends = list(accumulate(len(x) + sep for x in lines))
                i = bisect_right(ends, at)
                if i < len(lines):
                    bad.add(i)
                at = marked.find(sign, at + 1)
    return bad


def _spill_dir(con: Any) -> str:
    """A fresh folder for this load's Parquet batches (in DuckDB's temp folder)."""
    base = None
    with contextlib.suppress(Exception):
        base = str(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0])
    if base and base != ".tmp":
        with contextlib.suppress(OSError):
            os.makedirs(base, exist_ok=True)
            return tempfile.mkdtemp(prefix="echoscope-v1-", dir=base)
    return tempfile.mkdtemp(prefix="echoscope-v1-")


def _spill_error(folder: str, e: OSError) -> WorkspaceError:
    return WorkspaceError(
        f"ingest cannot write its temporary files in {folder} ({e.strerror or e}); free "
        "disk space there (about 0.6 KB per tweet is needed) and run it again.")


def _bulk(con: Any, path: str, sql: str) -> None:
    """Run ``sql`` (with ``{}`` for the source) over the Arrow stream file at ``path``.

    One statement reads every batch in turn (so memory stays bounded): DuckDB
    writes one bulk insert out as it goes, where many small appends stayed in memory.
    """
    view = f"_v1_spill_{uuid.uuid4().hex[:8]}"
    with pa.OSFile(path) as src:
        reader = pa.ipc.open_stream(src)
        con.register(view, reader)
        try:
            con.execute(sql.format(f'"{view}"'))
        finally:
            con.unregister(view)


class _Inserter:
    """DuckDB work of a load on a thread of its own, beside the decoding (DuckDB releases
    the GIL): the blocks' account snapshots into a temporary table, and, while that
    gives the reference parser's result, the blocks' posts straight into ``posts``.

    The posts of a block go in early only while every decoded post so far is the first
    record of its post id with nothing to compare it to: ``posts`` held no Twitter post
    when the file started, no line so far went to the reference parser as a post, and
    the post ids are decimal numbers none of which recurs (kept sorted here). After the
    first block that breaks this, the rest go to the spill file and the driver's usual
    insert (whose NOT EXISTS then also skips the ids inserted early: earlier lines).
    The main thread waits for the queue (``drain``) before it uses the connection.
    """

    def __init__(self, con: Any, posts: bool) -> None:
        self.con = con
        self.posts = posts  # posts may still go in early
        # DuckDB on one thread while the file is read (restored by ``stop``): the
        # decoding thread is what the load waits for, and it needs a core of its own
        self._threads: int | None = int(
            con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        if self._threads > 1:
            con.execute("SET threads = 1")
        self.snap_table = ""
        self.error: BaseException | None = None
        self.n_early = 0
        self._ids: list[np.ndarray] = []  # sorted, each at least twice the next's size
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._run, name="echoscope-v1-insert",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        cols = ", ".join(f'"{c}"' for c in _POST_SCHEMA.names)
        while (item := self._queue.get()) is not None:
            what, table = item
            if what == "sync":
                table.set()
                continue
            if self.error is not None:
                continue
            try:
                # a replacement scan of this local, not a registered view (one keeps its
                # Arrow data alive until COMMIT: Workspace._insert)
                _echoscope_v1_in = table  # read by the SQL below
                if what == "posts":
                    self.con.execute(f"INSERT INTO posts ({cols}) SELECT {cols} "
                                     "FROM _echoscope_v1_in")
                elif not self.snap_table:
                    name = f"_v1_sacc_{uuid.uuid4().hex[:8]}"
                    self.con.execute(f'CREATE TEMP TABLE "{name}" AS '
                                     "SELECT * FROM _echoscope_v1_in")
                    self.snap_table = name
                else:
                    self.con.execute(f'INSERT INTO "{self.snap_table}" '
                                     "SELECT * FROM _echoscope_v1_in")
                del _echoscope_v1_in
            except BaseException as e:  # raised in the main thread by drain()
                self.error = e

    def fresh_ids(self, ids: np.ndarray) -> bool:
        """Whether none of ``ids`` recurs (among them or in earlier calls'); kept if so."""
        new = np.sort(ids)
        if new.size > 1 and bool((new[1:] == new[:-1]).any()):
            return False
        for old in self._ids:
            at = np.searchsorted(old, new)
            if bool((old[np.minimum(at, old.size - 1)] == new).any()):
                return False
        while self._ids and self._ids[-1].size <= 2 * new.size:
            new = np.sort(np.concatenate([self._ids.pop(), new]), kind="stable")
        self._ids.append(new)
        return True

    def _raise(self) -> None:
        e = self.error
        if isinstance(e, OSError):  # not to be taken for a broken input stream
            raise WorkspaceError(f"ingest could not write to the workspace ({e}).") from e
        if e is not None:
            raise e

    def put(self, what: str, table: pa.Table) -> None:
        self._raise()
        if what == "posts":
            self.n_early += table.num_rows
        self._queue.put((what, table))

    def drain(self) -> None:
        """Wait until the queued work is done; raise what it raised."""
        if self._thread.is_alive():
            done = threading.Event()
            self._queue.put(("sync", done))
            done.wait()
        self._raise()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._ids = []
        if self._threads is not None and self._threads > 1:
            self.con.execute(f"SET threads = {self._threads}")
        self._threads = None


def struct_load_v1(stream: IO[bytes], sink: Sink, con: Any, stage: str) -> None:
    """Read JSON lines from ``stream`` into ``sink`` (posts, snapshots, the rest).

    Lines the reference parser must see are handed to it (its posts reach the stage
    table through the driver's usual flush). The posts decoded here go to an Arrow stream
    file named in ``sink.fast_posts`` (the driver inserts them with the stage's rows and
    removes the folder, ``sink.temp_dirs``); it is complete when this returns, also when
    an exception (a broken stream) leaves.
    """
    from echoscope.ingest.twitter_v1 import _dispatch

    try:
        spill = _spill_dir(con)
    except OSError as e:
        raise _spill_error(tempfile.gettempdir(), e) from None
    sink.temp_dirs.append(spill)
    from echoscope.ingest._v1_parallel import parallel_load

    if not parallel_load(stream, sink, con, spill, _dispatch):
        _load(stream, sink, con, stage, spill, _dispatch)


def _reference(sink: Sink, dispatch: Any, n: int, raw: bytes) -> None:
    """Line ``n`` (with its newline) through the reference parser."""
    if not raw.strip() or (n == 1 and raw.startswith(b"\xef\xbb\xbf")
                           and not raw[3:].strip()):
        return  # a blank line: not a record
    obj, err = parse_json_line(raw, first=n == 1)
    if err is not None:
        sink.reject(n, raw, err)
    else:
        dispatch(obj, sink, n, raw)


def _load(stream: IO[bytes] | None, sink: Sink, con: Any, stage: str, spill: str,
          dispatch: Any, *, read: Callable[[int], bytes] | None = None, first: int = 1,
          deferred: list[tuple[int, bytes]] | None = None, tag: str = "",
          out: list[str] | None = None, batch: int = 0, chunk: int = 0) -> None:
    """Decode ``stream`` (or what ``read`` returns: a plain file's bytes from the start
    of line ``first``) into spill files.

    With ``deferred``, the lines the reference parser must see are appended there (line
    number, raw line) instead of being parsed, and with ``out`` the spill files are
    named there (posts first, then snapshots; "" for none) instead of being handed to
    ``sink`` and ``con``: what a worker process of :mod:`._v1_parallel` does.
    """
    batch = batch or BATCH
    chunk = chunk or _CHUNK
    # one tuple per post (_ROW_NAMES: times as their strings), transposed per block
    rows: list[tuple[Any, ...]] = []
    # account snapshots: (order, account id, *profile, seen) rows, aggregated in SQL by the
    # driver (``_driver._fast_snapshots``); order 2n for the author of line n, 2n+1 for the
    # parent's author (a later call wins a tie, as in Sink.snapshot)
    snaps: list[tuple[Any, ...]] = []
    posts_file = os.path.join(spill, f"posts{tag}.arrows")
    snaps_file = os.path.join(spill, f"accounts{tag}.arrows")
    writers: dict[str, Any] = {}
    files: dict[str, Any] = {}
    # the post ids as numbers while every one is a decimal number (Twitter's are), for
    # the driver's check that no post id recurs (``_driver._ids_unique``); None after the
    # first other id (the driver then de-duplicates as usual)
    ids: list[Any] | None = []
    decode = msgspec.json.Decoder(_Tweet).decode
    DecodeError = msgspec.DecodeError
    tco: dict[str, str | None] = {}  # a t.co link's expanded URL -> canonical form
    tagc: dict[str, str] = {}  # a hashtag -> normalised
    # lines for the reference parser, handed to it (or to ``deferred``) in line order at
    # the end of each block, after the block's time strings were checked
    pending: list[tuple[int, bytes]] = []
    last_nl = b""
    # DuckDB's share of the work beside the decoding (not in a worker process)
    ins: _Inserter | None = None
    if con is not None and out is None:
        # (posts early only into a workspace without Twitter posts: no id to compare)
        ins = _Inserter(con, posts=EARLY_INSERT and not con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM posts WHERE platform = 'twitter' "
            "LIMIT 1)").fetchall()[0][0])
    early_posts: list[pa.Table] = []  # a block's tables, put together up to ``batch`` rows
    early_snaps: list[pa.Table] = []

    def user_of(user: _User) -> tuple[Any, ...]:
        # (account id, *profile): a snapshot row without its order and time; the
        # creation time as its string (parsed with the block's, see ``_times``)
        uid = user.id_str or (None if user.id is None else str(user.id))
        if not uid:
            raise _Odd  # the reference rejects it: "missing field user.id_str"
        return (uid, user.screen_name, user.name, user.created_at,
                user.followers_count, user.friends_count, user.statuses_count,
                user.description, user.profile_image_url_https or user.profile_image_url)

    def write(name: str, table: pa.Table) -> None:
        try:
            w = writers.get(name)
            if w is None:
                sink_file = files[name] = pa.OSFile(name, "wb")
                w = writers[name] = pa.ipc.new_stream(sink_file, table.schema)
            w.write_table(table)
        except OSError as e:  # not a broken input stream: stop, change nothing
            raise _spill_error(spill, e) from None

    def flush(nl: bytes) -> None:
        # rows and snapshots hold their time strings: parse them a column at a time; a
        # line with a string the reference refuses goes to it whole (its rows dropped)
        nonlocal rows, snaps, ids
        while True:
            cols: list[Sequence[Any]] = (list(zip(*rows, strict=True)) if rows
                                         else [() for _ in _ROW_NAMES])
            scols: list[Sequence[Any]] = (list(zip(*snaps, strict=True)) if snaps
                                          else [() for _ in _SNAP_FIELDS[:-1]])
            created, b1 = _times(cols[3])
            ptimes, b2 = _times(cols[10])
            made, b3 = _times(scols[4])
            if not (b1 or b2 or b3):
                break
            lines = cols[-2]
            odd = {lines[i] for i in b1 + b2} | {scols[0][i] // 2 for i in b3}
            raws = dict(zip(lines, cols[-1], strict=True))
            pending.extend((k, bytes(raws[k]) + nl) for k in odd)
            rows = [r for r in rows if r[-2] not in odd]
            snaps = [r for r in snaps if r[0] // 2 not in odd]
        rows, snaps = [], []
        if scols[0]:
            arrays = [made if i == 4 else pa.array(v, type=t) for i, ((_, t), v) in
                      enumerate(zip(_SNAP_FIELDS[:-1], scols, strict=True))]
            # seen: the post's time for its author (order 2n), the parent's for the
            # parent's author (2n+1); a row's snapshots follow one another in its order
            parent = arrays[0].to_numpy() & 1
            at = np.cumsum(1 - parent) - 1 + parent * len(cols[0])
            arrays.append(pa.concat_arrays([created, ptimes]).take(pa.array(at)))
            table = pa.Table.from_arrays(arrays, schema=_SNAP_SCHEMA)
            if ins is not None:
                early_snaps.append(table)
                if sum(t.num_rows for t in early_snaps) >= batch:
                    ins.put("snaps", pa.concat_tables(early_snaps))
                    early_snaps.clear()
            else:
                write(snaps_file, table)
        if pending:  # before this block's posts are placed (a reference post changes it)
            todo = sorted(pending)
            pending.clear()
            if ins is not None:
                ins.drain()  # the reference parser's posts may reach the connection
            before = sink.n_posts
            for k, raw in todo:
                if deferred is not None:
                    deferred.append((k, raw))
                else:
                    _reference(sink, dispatch, k, raw)
            if ins is not None and sink.n_posts != before:
                ins.posts = False
        n = len(cols[0])
        if n:
            data = {name: (created if i == 3 else ptimes if i == 10 else
                           pa.array(values, type=_POST_SCHEMA.field(name).type))
                    for i, (name, values) in enumerate(zip(_ROW_NAMES[:-1], cols, strict=False))}
            data["platform"] = pa.repeat(_TWITTER, n)
            data["source_file"] = pa.repeat(pa.scalar(sink.source_file, pa.string()), n)
            del cols
            table = pa.Table.from_arrays([data[c] for c in _POST_SCHEMA.names],
                                         schema=_POST_SCHEMA)
            sink.n_posts += n
            try:  # equal ids give equal numbers: distinct numbers mean distinct ids
                numbers = pc.cast(data["post_id"], pa.uint64()).to_numpy()
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                numbers = None
            if ins is not None and ins.posts and numbers is not None and \
                    ins.fresh_ids(numbers):
                early_posts.append(table)
                if sum(t.num_rows for t in early_posts) >= batch:
                    ins.put("posts", pa.concat_tables(early_posts))
                    early_posts.clear()
                return
            if ins is not None and ins.posts:
                ins.posts = False
                if early_posts:
                    ins.put("posts", pa.concat_tables(early_posts))
                    early_posts.clear()
            write(posts_file, table)
            if ids is not None:
                if numbers is None:
                    ids = None
                else:
                    ids.append(numbers)

    def finish() -> None:
        flush(last_nl)
        close()
        if ins is not None:
            if early_posts:
                ins.put("posts", pa.concat_tables(early_posts))
            if early_snaps:
                ins.put("snaps", pa.concat_tables(early_snaps))
            early_posts.clear()
            early_snaps.clear()
            ins.drain()
            ins.stop()
            if ins.snap_table:
                sink.fast_accounts.append(ins.snap_table)
        if ids and posts_file in writers:
            try:
                np.concatenate(ids).tofile(posts_file + IDS_SUFFIX)
            except OSError as e:
                raise _spill_error(spill, e) from None
        if out is not None:
            out[:] = [posts_file if posts_file in writers else "",
                      snaps_file if snaps_file in writers else ""]
            return
        if posts_file in writers:
            sink.fast_posts.append(posts_file)
        if snaps_file in writers:
            # a temporary table (not written to the workspace file; spills beyond the
            # memory limit), read twice by the driver's account merge
            acc_table = f"_v1_sacc_{uuid.uuid4().hex[:8]}"
            _bulk(con, snaps_file, f'CREATE TEMP TABLE "{acc_table}" AS SELECT * FROM {{}}')
            sink.fast_accounts.append(acc_table)

    def close() -> None:
        for name, w in writers.items():
            with contextlib.suppress(Exception):
                w.close()
            with contextlib.suppress(Exception):
                files[name].close()

    def reference(n: int, raw: bytes) -> None:
        pending.append((n, raw))

    def one(n: int, raw: _Line, nl: bytes) -> None:
        try:
            t = decode(raw)
        except DecodeError:
            reference(n, bytes(raw) + nl)
            return
        try:
            pid = t.id_str or (None if t.id is None else str(t.id))
            created_raw = t.created_at
            user = t.user
            if not pid or created_raw is None or user is None:
                raise _Odd
            prof = user_of(user)
            rt = t.retweeted_status
            parent_id = parent_acc = parent_time = None
            psnap: tuple[Any, ...] | None = None
            content: _Content = t
            if rt is not None:
                kind = "repost"
                content = rt
                parent_id = _id(rt.id_str, rt.id)
                ru = rt.user
                if ru is None:
                    raise _Odd
                ptime = rt.created_at
                parent_time = ptime
                psnap = user_of(ru)
                parent_acc = psnap[0]
            elif t.in_reply_to_status_id_str or t.in_reply_to_status_id is not None:
                kind = "reply"
                parent_id = _id(t.in_reply_to_status_id_str, t.in_reply_to_status_id)
                parent_acc = _id(t.in_reply_to_user_id_str, t.in_reply_to_user_id)
            else:
                quoted = t.quoted_status
                # (as ``_id(...)`` is truthy: a non-empty string or any number)
                if (t.is_quote_status or t.quoted_status_id_str
                        or t.quoted_status_id is not None or quoted is not None):
                    qid = _id(t.quoted_status_id_str, t.quoted_status_id)
                    kind = "quote"
                    parent_id = qid or (_id(quoted.id_str, quoted.id)
                                        if quoted is not None else None)
                    if quoted is not None and quoted.user is not None:
                        qtime = quoted.created_at
                        parent_time = qtime
                        psnap = user_of(quoted.user)
                        parent_acc = psnap[0]
                    if parent_id is None:
                        kind = "post"
                else:
                    kind = "post"
            ext = content.extended_tweet
            text = (ext.full_text if ext is not None else None) or content.full_text \
                or content.text or ""
            ents = ext.entities if ext is not None else None
            if ents is not None and (ents.hashtags is None and ents.urls is None
                                     and ents.user_mentions is None and ents.media is None):
                raise _Odd  # an empty object or only other keys: the reference decides
            if ents is not None:
                xents = ext.extended_entities if ext is not None else None
            else:
                ents = content.entities
                xents = content.extended_entities
            urls: list[str] = []
            tags: list[str] = []
            men: list[str] = []
            menids: list[str] = []
            media: list[dict[str, Any]] = []
            if ents is not None:
                if ents.urls:
                    for u in ents.urls:
                        url = u.url
                        expanded = u.expanded_url
                        unw = u.unwound
                        b = unw.url if unw is not None else expanded
                        if b and url is not None and url.startswith(
                                ("https://t.co/", "http://t.co/")):
                            c = tco.get(b, "")
                            if c == "":
                                if len(tco) >= 1 << 16:
                                    tco.clear()
                                s = b.strip()
                                c = tco[b] = _canonical(s) if s else None
                        else:
                            c = canonical_url(url, b)
                        if c is None and expanded:
                            c = canonical_url(expanded)
                        if c and c not in urls:
                            urls.append(c)
                if ents.hashtags:
                    for h in ents.hashtags:
                        if x := h.text:
                            tag = tagc.get(x)
                            if tag is None:
                                if len(tagc) >= 1 << 16:
                                    tagc.clear()
                                tag = tagc[x] = normalise_hashtag(x)
                            tags.append(tag)
                if ents.user_mentions:
                    for m in ents.user_mentions:
                        if m.screen_name:
                            men.append(normalise_handle(m.screen_name))
                        if m.id_str:
                            menids.append(m.id_str)
                        elif m.id is not None:
                            menids.append(str(m.id))
            mlist = (xents.media if xents is not None else None) or (
                ents.media if ents is not None else None)
            if mlist:
                media = [{"media_id": _id(m.id_str, m.id),
                          "url": m.media_url_https or m.media_url, "hash": None}
                         for m in mlist]
            app = app_from_source(t.source)
        except Exception:
            reference(n, bytes(raw) + nl)
            return
        # record it (nothing above changed any state)
        snaps.append((2 * n, *prof))
        if psnap is not None:
            snaps.append((2 * n + 1, *psnap))
        rows.append((pid, prof[0], prof[1], created_raw, kind, text, t.lang, app, parent_id,
                     parent_acc, parent_time, urls, tags, men, menids, media, n, raw))

    def block(first: int, lines: Sequence[_Line], nl: bytes, bad: set[int]) -> None:
        # ``nl``: what each line lost when it was split off (the reference sees it);
        # ``bad``: the lines msgspec must not decode
        # (flushed at its end, while its objects are still in the CPU's caches: Arrow
        # converts them 2-3x faster than those of a 50,000-post batch)
        nonlocal last_nl
        last_nl = nl
        for i, raw in enumerate(lines):
            n = first + i
            if i in bad or (n == 1 and raw[:3] == b"\xef\xbb\xbf"):
                reference(n, bytes(raw) + nl)
            else:
                one(n, raw, nl)
                if len(rows) >= batch:
                    flush(nl)
        flush(nl)

    # The loop makes millions of small objects and no reference cycles: the cyclic
    # collector would only rescan the growing column lists.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        if read is None and stream.__class__ is io.BufferedReader and isinstance(
                getattr(stream, "raw", None), io.FileIO):
            read = stream.read
        if read is not None:
            # a plain file: big reads, split at newlines (cheaper than line by line); the
            # next block is read and checked on a second thread while this one decodes
            rest = b""
            get = read

            def fetch() -> tuple[bytes, bool, Any]:
                data = get(chunk)
                if not data:
                    return data, False, None
                ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
                return data, _block_clean(data, int(ends[-1]) + 1 if ends.size else 0), ends

            with ThreadPoolExecutor(1, thread_name_prefix="echoscope-v1-read") as pool:
                ahead = pool.submit(fetch)
                while True:
                    data, clean, ends = ahead.result()
                    if not data:
                        break
                    ahead = pool.submit(fetch)
                    lines: list[_Line]
                    bad: set[int] = set()
                    if clean and ends.size:
                        # views of the lines, not copies (msgspec decodes any buffer;
                        # 2-3x cheaper than bytes.split, which allocates every line)
                        view = memoryview(data)
                        stops = ends.tolist()
                        lines = [view[a:b] for a, b in zip(
                            [0, *(ends[:-1] + 1).tolist()], stops, strict=True)]
                        tail = data[stops[-1] + 1:]
                    else:
                        copies = data.split(b"\n")
                        tail = copies.pop()  # after the last newline: the next line's start
                        if copies and not clean:
                            bad = _suspect_lines(data, copies, 1, len(tail))
                        lines = list(copies)
                    if not lines:
                        rest += tail
                        continue
                    if rest:
                        joined = rest + lines[0]
                        lines[0] = joined
                        bad.discard(0)
                        bad |= _suspect_lines(joined, [joined], 1)
                    rest = tail
                    block(first, lines, b"\n", bad)
                    first += len(lines)
            if rest:
                block(first, [rest], b"", _suspect_lines(rest, [rest], 0))
        else:
            assert stream is not None
            # a decompressing stream: line by line, so that what was read before a
            # broken stream is kept exactly as on the reference path
            todo: list[bytes] = []
            try:
                for raw in stream:
                    todo.append(raw)
                    if len(todo) >= _BLOCK:
                        got, todo = todo, []
                        block(first, got, b"", _suspect_lines(b"".join(got), got, 0))
                        first += len(got)
            finally:
                if todo:
                    got, todo = todo, []
                    block(first, got, b"", _suspect_lines(b"".join(got), got, 0))
    finally:
        try:
            finish()
        finally:
            close()
            if ins is not None:
                ins.stop()
            if gc_was_on:
                gc.enable()
