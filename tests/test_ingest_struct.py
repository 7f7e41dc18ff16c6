"""The msgspec path of the v1.1 loader (the default) gives exactly what the reference
Python parser gives, on the example records and on corrupted input: bytes msgspec would
accept but orjson refuses, block boundaries, odd shapes."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from echoscope.errors import RecordError
from echoscope.ingest import _driver, _v1_struct, ingest_files, twitter_v1
from echoscope.workspace import Workspace
from test_ingest_fastpath import lines_of, snapshot, variants
from test_workspace import kill_mid_ingest


def struct_and_reference(path: Path, monkeypatch: pytest.MonkeyPatch,
                         **kw: Any) -> tuple[Any, Any]:
    """(msgspec path's result, reference parser's result) for one file."""
    got = []
    monkeypatch.setattr(twitter_v1, "V1_PATH", "struct")
    for fast in (True, False):
        monkeypatch.setattr(_driver, "FAST_PATH", fast)
        with Workspace(":memory:") as ws:
            ingest_files([str(path)], ws, **kw)
            got.append(snapshot(ws))
    return got[0], got[1]


def _line(obj: dict[str, Any], key: str, raw_value: bytes) -> bytes:
    """``obj`` as a JSON line with ``"key": raw_value`` spliced in (any bytes)."""
    body = orjson.dumps(obj)
    return body[:-1] + b',"' + key.encode() + b'":' + raw_value + b"}\n"


def test_struct_path_is_the_default_and_is_used(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert twitter_v1.V1_PATH == "struct"
    calls: list[int] = []
    orig = _v1_struct.struct_load_v1

    def spy(*a: Any) -> None:
        calls.append(1)
        orig(*a)

    monkeypatch.setattr(_v1_struct, "struct_load_v1", spy)
    f = tmp_path / "v.jsonl"
    f.write_bytes(lines_of(variants()))
    fast, slow = struct_and_reference(f, monkeypatch)
    assert calls == [1]
    assert fast == slow and len(fast["posts"]) == 10


def test_what_msgspec_accepts_but_orjson_refuses(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Numbers overflowing a double and invalid UTF-8 in fields echoscope does not read
    (msgspec skips them unchecked): the reference rejects such lines, and so must we."""
    base = variants()[1]
    lines = [
        _line(dict(base, id_str="501"), "x", b"1e400"),
        _line(dict(base, id_str="502"), "x", b"-1E+400"),
        _line(dict(base, id_str="503"), "x", b"1" + b"0" * 400),
        _line(dict(base, id_str="504"), "x", b"[1.5e-400, 2E5, 1e308]"),  # fine for both
        _line(dict(base, id_str="505"), "x", b'"\xff\xfe"'),
        _line(dict(base, id_str="506"), "x", b'"\xed\xa0\x80"'),  # an encoded surrogate
        _line(dict(base, id_str="507"), "x", b'"\\ud800"'),
        _line(dict(base, id_str="508"), "x", b'"caf\xc3\xa9 \xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a"'),
        _line(dict(base, id_str="509"), "text", b'"a link t.co/x1e234 and 3e100"'),
        _line(dict(base, id_str="510"), "id", b"18446744073709551616"),  # orjson: a float
        _line(dict(base, id_str=""), "id", b"18446744073709551615"),
        _line(dict(base, id_str=""), "id", b"9223372036854775807"),
        _line(dict(base, id_str="511"), "id_str", b'"512"'),  # a duplicate key: last wins
        _line(dict(base, id_str="513"), "x", b"[" * 600 + b"]" * 600),  # deep nesting
        _line(dict(base, id_str="514"), "extended_tweet",
              b'{"full_text": "ft", "entities": {}}'),
        _line(dict(base, id_str="515"), "extended_tweet",
              b'{"full_text": "ft", "entities": {"symbols": []}}'),
        _line(dict(base, id_str="516"), "user", b'{"id_str": "1", "followers_count": 5.0}'),
        _line(dict(base, id_str="517"), "user", b'{"id_str": "1", "followers_count": true}'),
        _line(dict(base, id_str="518"), "is_quote_status", b"1"),
        b'{"id_str": "519", "user": {"id_str": "1"}, "created_at": "Fri Jun 13 09:12:44 '
        b'+0000 2014"}\r\n',
        b"\n",
        b"  \t \n",
    ]
    f = tmp_path / "odd.jsonl"
    f.write_bytes(b"".join(lines) + lines_of(variants()))
    fast, slow = struct_and_reference(f, monkeypatch)
    assert fast == slow
    rejected = {r[1] for r in fast["rejects"]}
    assert {2, 3, 5, 6, 7} <= rejected  # the overflowing numbers and bad UTF-8 lines
    post_ids = {p[1] for p in fast["posts"]}
    assert {"504", "508", "509", "512", "514", "515"} <= post_ids


@pytest.mark.parametrize("early", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 100, 1500, 1 << 23])
def test_block_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          chunk: int, early: bool) -> None:
    """Lines split across reads (multi-byte characters and number signs cut in two)."""
    monkeypatch.setattr(_v1_struct, "_CHUNK", chunk)
    monkeypatch.setattr(_v1_struct, "EARLY_INSERT", early)
    objs = variants()
    objs[1]["text"] = "مرحبا بالعالم 😀 " * 20
    body = (b"\xef\xbb\xbf" + lines_of(objs[:3])
            + _line(dict(objs[1], id_str="601"), "x", b"2" * 350)
            + _line(dict(objs[1], id_str="602"), "x", b"7.5e+1234")
            + lines_of(objs[3:]) + lines_of(objs[:1])[:-1])  # no newline at the end
    f = tmp_path / "b.jsonl"
    f.write_bytes(body)
    fast, slow = struct_and_reference(f, monkeypatch)
    assert fast == slow
    assert len(fast["rejects"]) == 2 and fast["files"][0][2] == 13


def test_compressed_input_is_read_line_by_line(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    monkeypatch.setattr(_v1_struct, "_BLOCK", 3)
    body = lines_of(variants()) + _line(dict(variants()[1], id_str="701"), "x", b"1e999")
    g = tmp_path / "v.jsonl.gz"
    g.write_bytes(gzip.compress(body))
    fast, slow = struct_and_reference(g, monkeypatch)
    assert fast == slow and len(fast["posts"]) == 10 and len(fast["rejects"]) == 1


def test_spill_files_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_v1_struct, "BATCH", 3)  # several batches per spill file
    f = tmp_path / "v.jsonl"
    f.write_bytes(lines_of(variants()))
    ws_path = tmp_path / "w.echoscope.duckdb"
    fast, slow = struct_and_reference(f, monkeypatch)
    assert fast == slow
    monkeypatch.setattr(_driver, "FAST_PATH", True)
    with Workspace(ws_path) as ws:
        ingest_files([str(f)], ws)
        assert ws.count("posts") == 10
    tmp = Path(str(ws_path) + ".tmp")
    assert not tmp.exists() or not any(tmp.glob("echoscope-v1-*"))


_SPLICE = st.sampled_from([
    b"1e400", b"-2E+308", b"1" * 320, b"0.5e-999", b"12", b"-0", b'"\xff"', b'"\xc3"',
    b'"\\ud83d\\ude00"', b'"\\udc00"', b'"ok \xe2\x82\xac"', b"null", b"true", b"{}",
    b"[]", b'{"url": 1}', b"[[[[1]]]]", b'"Fri Jun 13 09:12:44 +0000 2014"', b"1.0",
    b"9223372036854775808", b'"x"', b"[{}]", b'[{"text": "T"}]',
])
_KEYS = st.sampled_from(["x", "id", "id_str", "text", "full_text", "lang", "source",
                         "user", "entities", "extended_tweet", "retweeted_status",
                         "quoted_status", "is_quote_status", "in_reply_to_status_id",
                         "quoted_status_id", "created_at", "extended_entities"])


@pytest.mark.slow
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 9), _KEYS, _SPLICE), max_size=6),
       cuts=st.lists(st.tuples(st.integers(0, 9), st.integers(1, 400)), max_size=2),
       chunk=st.sampled_from([64, 777, 1 << 23]))
def test_struct_path_equivalence_on_corrupted_lines(
        edits: list[Any], cuts: list[Any], chunk: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_v1_struct, "_CHUNK", chunk)
    objs = [copy.deepcopy(o) for o in variants()]
    lines = [orjson.dumps(o) + b"\n" for o in objs]
    for i, key, value in edits:
        lines[i] = lines[i][:-2] + b',"' + key.encode() + b'":' + value + b"}\n"
    for i, at in cuts:  # truncate a line (a half-written record)
        lines[i] = lines[i][:at] + b"\n"
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "c.jsonl"
        f.write_bytes(b"".join(lines))
        fast, slow = struct_and_reference(f, monkeypatch)
        assert fast == slow


def test_spill_write_failure_is_an_error_not_a_broken_stream(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while writing the spill file stops ingest and changes nothing (it is
    not taken for a broken input stream, which would keep a part of the file)."""
    from echoscope.errors import WorkspaceError

    monkeypatch.setattr(_driver, "FAST_PATH", True)
    monkeypatch.setattr(_v1_struct, "BATCH", 3)
    f = tmp_path / "v.jsonl"
    f.write_bytes(lines_of(variants()))

    def full(*a: Any, **k: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_v1_struct, "EARLY_INSERT", False)  # the posts to the spill file
    first = tmp_path / "first.jsonl"
    first.write_bytes(lines_of([dict(variants()[1], id_str="77")]))
    with Workspace(tmp_path / "w.echoscope.duckdb") as ws:
        ingest_files([str(first)], ws)
        monkeypatch.setattr(_v1_struct.pa, "OSFile", full)
        with pytest.raises(WorkspaceError, match="free disk space"):
            ingest_files([str(f)], ws)
        assert ws.count("posts") == 1 and ws.count("rejects") == 0
        assert ws.count("files") == 1


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=12) | st.lists(st.sampled_from(
    [b"a", b"\x80", b"\xc2\xa9", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80",
     b"\xed\x9f\xbf", b"\xf0\x9f\x98\x80", b"\xf4\x90\x80\x80", b"\xf5", b"\xe2\x82",
     "عربي".encode()]), max_size=6).map(b"".join))
def test_block_utf8_check_agrees_with_python(data: bytes) -> None:
    try:
        data.decode("utf-8")
        ok = True
    except UnicodeDecodeError:
        ok = False
    assert _v1_struct._utf8_ok(data + b"tail", len(data)) is ok


def _spy_unique(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    seen: list[bool] = []
    orig = _driver._ids_unique

    def spy(files: list[str]) -> bool:
        r = orig(files)
        seen.append(r)
        return r

    monkeypatch.setattr(_driver, "_ids_unique", spy)
    return seen


@pytest.mark.parametrize("early", [True, False])
def test_distinct_numeric_ids_skip_the_group_by(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                early: bool) -> None:
    monkeypatch.setattr(_v1_struct, "BATCH", 3)
    monkeypatch.setattr(_v1_struct, "EARLY_INSERT", early)
    f = tmp_path / "v.jsonl"
    f.write_bytes(lines_of(variants()))
    seen = _spy_unique(monkeypatch)
    fast, slow = struct_and_reference(f, monkeypatch)
    assert seen == ([] if early else [True])  # early: every post went in while read
    assert fast == slow and len(fast["posts"]) == 10
    # a second file with some of the same posts: those already present are not added
    objs = variants()
    g = tmp_path / "w.jsonl"
    g.write_bytes(lines_of([dict(objs[1], text="changed"), dict(objs[2], id_str="900")]))
    monkeypatch.setattr(_driver, "FAST_PATH", True)
    with Workspace(":memory:") as ws:
        ingest_files([str(f), str(g)], ws)
        assert ws.count("posts") == 11
        assert ws.scalar("SELECT text FROM posts WHERE post_id = '101'") == "the full words"


@pytest.mark.parametrize("early", [True, False])
@pytest.mark.parametrize("case", ["fast-fast", "reference-first", "not-numbers"])
def test_recurring_post_ids_keep_the_first_record(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  case: str, early: bool) -> None:
    """A post id seen twice in a file (across batches too): its first record is kept,
    whether the first went through msgspec or the reference parser; ids that are not
    numbers take the usual de-duplication. With early inserts, the posts before the
    recurring id went in while the file was read, the rest through the spill file."""
    monkeypatch.setattr(_v1_struct, "BATCH", 3)
    monkeypatch.setattr(_v1_struct, "EARLY_INSERT", early)
    monkeypatch.setattr(_v1_struct, "_CHUNK", 1000)  # several blocks
    objs = variants()
    again = dict(objs[1], full_text="a later copy")
    if case == "fast-fast":
        body = lines_of(objs) + lines_of([again, dict(objs[3], full_text="later reply")])
    elif case == "reference-first":
        # "e300" sends the first copy to the reference parser (it is a valid number)
        body = (_line(dict(objs[1], full_text="first copy"), "x", b"1e300") + lines_of(objs)
                + lines_of([again]))
    else:
        objs = [dict(o, id_str=f"p{o['id_str'] or o['id']}") for o in objs]
        body = lines_of(objs) + lines_of([dict(objs[1], full_text="a later copy")])
    f = tmp_path / "d.jsonl"
    f.write_bytes(body)
    seen = _spy_unique(monkeypatch)
    fast, slow = struct_and_reference(f, monkeypatch)
    assert fast == slow and len(fast["posts"]) == 10
    if case != "reference-first" and not early:  # (there the stage table is not empty)
        assert seen == [False]
    texts = {r[1]: r[6] for r in fast["posts"]}
    key = "p101" if case == "not-numbers" else "101"
    assert texts[key] == ("first copy" if case == "reference-first" else "the full words")


def test_ids_unique(tmp_path: Path) -> None:
    import numpy as np

    a, b = tmp_path / "a.arrows", tmp_path / "b.arrows"
    np.array([5, 3, 2**64 - 1], dtype=np.uint64).tofile(str(a) + _v1_struct.IDS_SUFFIX)
    np.array([4], dtype=np.uint64).tofile(str(b) + _v1_struct.IDS_SUFFIX)
    assert _driver._ids_unique([str(a), str(b)])
    np.array([4, 3], dtype=np.uint64).tofile(str(b) + _v1_struct.IDS_SUFFIX)
    assert not _driver._ids_unique([str(a), str(b)])
    assert not _driver._ids_unique([str(a), str(tmp_path / "none.arrows")])
    assert not _driver._ids_unique([])


def test_snapshot_order_key_matches_time_then_line() -> None:
    """The HUGEINT order of snapshots: no time < any time (years 1 to 9999), then line."""
    import duckdb

    rows = [(None, 0), (None, 7), ("0001-01-01 00:00:00", 3), ("1969-12-31 23:59:59.999999", 9),
            ("1970-01-01 00:00:00", 0), ("1970-01-01 00:00:00", 1), ("2014-06-13 09:12:44", 2),
            ("2014-06-13 09:12:44", 10**11), ("2014-06-13 09:12:45", 0),
            ("9999-12-31 23:59:59.999999", 5)]
    con = duckdb.connect()
    got = con.execute(
        "SELECT seen::VARCHAR, line FROM (SELECT seen::TIMESTAMP AS seen, line FROM "
        "(VALUES " + ", ".join(f"({'NULL' if s is None else repr(s)}, {n})" for s, n in rows)
        + f") v(seen, line)) ORDER BY {_driver._SNAP_KEY}").fetchall()
    assert [(None if s is None else s, n) for s, n in got] == [
        (None if s is None else str(con.execute(f"SELECT '{s}'::TIMESTAMP::VARCHAR")
                                    .fetchall()[0][0]), n) for s, n in rows]


def test_account_snapshots_later_wins_ties_by_line(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots of one account at the same time (the later line wins), without a time
    (a retweeted post with no created_at) and as a parent's author: as the reference."""
    objs = variants()
    rt = objs[0]
    same_time = dict(objs[1], id_str="801", user=dict(objs[1]["user"], name="Same Time B",
                                                       followers_count=50))
    first = dict(objs[1], id_str="800", user=dict(objs[1]["user"], name="Same Time A"))
    parent_no_time = copy.deepcopy(rt)
    parent_no_time["id_str"] = "802"
    del parent_no_time["retweeted_status"]["created_at"]
    parent_no_time["retweeted_status"]["user"]["name"] = "No Time"
    parent_is_author = copy.deepcopy(rt)
    parent_is_author["id_str"] = "803"
    parent_is_author["retweeted_status"]["user"] = dict(objs[1]["user"], name="As Parent")
    parent_is_author["retweeted_status"]["created_at"] = objs[1]["created_at"]
    f = tmp_path / "s.jsonl"
    f.write_bytes(lines_of([first, same_time, parent_no_time, parent_is_author, rt]))
    fast, slow = struct_and_reference(f, monkeypatch)
    assert fast == slow


# --- time strings: parsed a block at a time (``_v1_struct._times``) ---------------------

_ODD_TIMES = [
    "Wed Oct 10 20:19:24 +0000 2018", "Fri Jun 13 09:12:44 -0530 2014",
    "Sat Feb 29 00:00:00 +0000 2020", "Fri Feb 29 00:00:00 +0000 2019",  # not a leap year
    "Mon Jan 01 00:00:00 +0000 0000", "Mon Jan 01 00:00:00 +0000 0001",
    "Fri Dec 31 23:59:59 +1400 9999", "Wed Oct 10 99:99:99 +9999 9999",  # no range checks
    "Wed Oct  5 20:19:24 +0000 2018", "Wed Oct +5 20:19:24 +0000 2018",  # int() accepts
    "Wed oct 10 20:19:24 +0000 2018", "Wed Okt 10 20:19:24 +0000 2018",  # month names
    "Wed Oct 10 20:19:24 +0000 2018 ", "Wed Oct 10 20:19:24 +0000 20180",  # longer
    "Wed Oct 10 20:19:24 +0000 201", "", "2018-10-10T20:19:24Z",
    "Wéd Oct 10 20:19:24 +0000 2018", "Wéd Oct 10 20:19:24 +0000 201",  # non-ASCII
    "Wed Oct 10 2\u0660:19:24 +0000 2018", "Wed Oct 10 20:19:24 x0130 2018",
    "Wed Oct 10 20:19:24 -0000 1970", "Thu Jan 01 00:00:00 +0000 1970",
    "Wed Oct 10 20:19:24 +00a0 2018", "Wed Oct 31 20:19:24 +0000 2018",
    "Wed Nov 31 20:19:24 +0000 2018", "Wed Oct 00 20:19:24 +0000 2018",
    "Wed Oct 10 -1:19:24 +0000 2018", "Wed Oct 10 20:19:24 +0000 1_23",
]


def _reference_times(values: list[str | None]) -> tuple[list[int | None], list[int]]:
    from echoscope.ingest._util import twitter_time_to_us

    out: list[int | None] = []
    bad = []
    for i, s in enumerate(values):
        if s is None:
            out.append(None)
            continue
        try:
            out.append(twitter_time_to_us(s))
        except ValueError:
            out.append(None)
            bad.append(i)
    return out, bad


def test_block_times_known_answers() -> None:
    values: list[str | None] = [*_ODD_TIMES, None]
    arr, bad = _v1_struct._times(values)
    assert arr.type == _v1_struct.schema.TS
    assert (arr.cast("int64").to_pylist(), bad) == _reference_times(values)
    assert arr[0].value == 1539202764000000
    assert arr[1].value == 1402670564000000  # 09:12:44 at -05:30 is 14:42:44 UTC
    assert bad == [3, 4, 10, 11, 15, 16, 23, 25, 26]
    empty, none = _v1_struct._times([])
    assert len(empty) == 0 and none == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.none(),
    st.sampled_from(_ODD_TIMES),
    # the layout with any character anywhere
    st.tuples(st.sampled_from(_ODD_TIMES[:3]), st.integers(0, 29),
              st.characters(max_codepoint=0x700)).map(lambda t: t[0][:t[1]] + t[2]
                                                      + t[0][t[1] + 1:]),
    st.builds(lambda y, mo, d, h, tz: f"Xxx {mo} {d:02d} {h:02d}:07:09 {tz} {y:04d}",
              st.integers(0, 9999), st.sampled_from(["Jan", "Feb", "Dec", "Jun"]),
              st.integers(0, 99), st.integers(0, 99),
              st.from_regex(r"[+\-x][0-9]{4}", fullmatch=True)),
), max_size=20))
def test_block_times_agree_with_the_reference(values: list[str | None]) -> None:
    arr, bad = _v1_struct._times(values)
    assert (arr.cast("int64").to_pylist(), bad) == _reference_times(values)


def test_lines_with_odd_times_go_to_the_reference(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A time string numpy does not take is the reference's ``twitter_time_to_us``'s to
    read, and a line holding one it refuses (post, user, retweeted original or its user)
    is parsed by the reference parser whole (a reject), in line order with the others."""
    base = variants()
    lines = []
    for i, s in enumerate(_ODD_TIMES):
        for where in range(4):
            t = copy.deepcopy(base[0])  # a retweet
            t["id_str"] = f"{1000 + 4 * i + where}"
            # (every user with a creation time: where a snapshot lacks a field, the
            # reference's merge depends on the order snapshots come in, the SQL not)
            t["retweeted_status"]["user"]["created_at"] = t["user"]["created_at"]
            target = [t, t["user"], t["retweeted_status"], t["retweeted_status"]["user"]]
            target[where]["created_at"] = s
            lines.append(orjson.dumps(t) + b"\n")
    lines.insert(17, b"{not json\n")  # line 18, after the first refused time (13)
    f = tmp_path / "times.jsonl"
    f.write_bytes(b"".join(lines) + lines_of(variants()))
    for chunk in (300, 1 << 23):
        monkeypatch.setattr(_v1_struct, "_CHUNK", chunk)
        fast, slow = struct_and_reference(f, monkeypatch)
        assert fast == slow
        assert len(fast["rejects"]) == 1 + 4 * 9
    for chunk in (300, 1 << 23):
        monkeypatch.setattr(_v1_struct, "_CHUNK", chunk)
        with pytest.raises(RecordError, match="record 13:"):
            struct_and_reference(f, monkeypatch, strict=True)


# --- posts inserted while the file is read (``_v1_struct._Inserter``) -------------------

def _spy_early(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Posts handed to the inserter thread, per call."""
    sizes: list[int] = []
    orig = _v1_struct._Inserter.put

    def put(self: Any, what: str, table: Any) -> None:
        if what == "posts":
            sizes.append(table.num_rows)
        orig(self, what, table)

    monkeypatch.setattr(_v1_struct._Inserter, "put", put)
    return sizes


@pytest.mark.parametrize("case", ["clean", "recurring", "reference-later",
                                  "reference-same-id", "existing"])
def test_early_inserts_give_the_reference_result(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 case: str) -> None:
    """Posts go into ``posts`` while the file is read until something could make a
    later line's row win (a recurring id, a post through the reference parser), and not
    when ``posts`` already held Twitter posts; the result is the reference parser's."""
    monkeypatch.setattr(_v1_struct, "BATCH", 4)
    monkeypatch.setattr(_v1_struct, "_CHUNK", 900)  # a block per few lines
    objs = [dict(variants()[1], id_str=str(200 + i), full_text=f"words {i}")
            for i in range(40)]
    body = lines_of(objs)
    if case == "recurring":
        body += lines_of([dict(objs[3], full_text="a later copy"), *objs[:2]])
    elif case in ("reference-later", "reference-same-id"):
        # "1e300" sends a line to the reference parser, which takes it as a post
        again = (dict(objs[5], full_text="a later copy") if case == "reference-same-id"
                 else dict(objs[0], id_str="999"))
        body += _line(again, "x", b"1e300") + lines_of(
            [dict(o, id_str=str(300 + i)) for i, o in enumerate(objs)])
    f = tmp_path / "e.jsonl"
    f.write_bytes(body)
    sizes = _spy_early(monkeypatch)
    if case == "existing":
        first = tmp_path / "first.jsonl"
        first.write_bytes(lines_of([dict(objs[20], id_str="220", full_text="older")]))
        got = []
        for fast in (True, False):
            monkeypatch.setattr(_driver, "FAST_PATH", fast)
            with Workspace(":memory:") as ws:
                ingest_files([str(first)], ws)
                sizes.clear()
                ingest_files([str(f)], ws)
                got.append(snapshot(ws))
        assert got[0] == got[1] and sizes == []
        assert {r[1]: r[6] for r in got[0]["posts"]}["220"] == "older"
        return
    fast, slow = struct_and_reference(f, monkeypatch)
    assert fast == slow
    n = sum(sizes)
    if case == "clean":
        assert n == 40 and len(sizes) > 1
    else:
        assert 4 <= n < 40 + 1  # some went in early, then the spill file took the rest
    if case == "reference-same-id":
        texts = {r[1]: r[6] for r in fast["posts"]}
        assert texts["205"] == "words 5"  # the first record, inserted early, stays


_KILL_CHILD = """
import os, sys, time
from pathlib import Path
from echoscope.ingest import _v1_struct, ingest_files

ws, big, marker = sys.argv[1:4]
_v1_struct.BATCH = 500
_v1_struct._CHUNK = 1 << 16
orig_put = _v1_struct._Inserter.put

def put(self, what, table):
    orig_put(self, what, table)
    if what == "posts" and self.n_early >= 3000:
        self.drain()  # 3,000+ posts in the posts table, the transaction not committed
        Path(marker + ".part").write_text(f"mid-ingest {self.n_early}")
        os.replace(marker + ".part", marker)
        time.sleep(60)

_v1_struct._Inserter.put = put
ingest_files([big], ws)
Path(marker).write_text("finished")
"""


@pytest.mark.slow
def test_sigkill_after_early_inserts_leaves_workspace_as_before(tmp_path: Path) -> None:
    """Killed after thousands of posts went into ``posts`` while the file was read: the
    workspace is as before (the file's one transaction never committed), then usable."""

    wsp = tmp_path / "ws.duckdb"
    plain = variants()[1]
    other = tmp_path / "other.jsonl"  # accounts and rejects there, but no Twitter post
    other.write_bytes(b"{oops\n")
    big = tmp_path / "big.jsonl"
    big.write_bytes(lines_of([dict(plain, id_str=str(10_000 + i), text=f"words {i}",
                                   user=dict(plain["user"], id_str=str(i % 50)))
                              for i in range(20_000)]))
    with Workspace(wsp) as ws:
        ingest_files([str(other)], ws, format="twitter-v1")
        before = {t: ws.count(t) for t in ("posts", "accounts", "rejects", "files")}
    assert before == {"posts": 0, "accounts": 0, "rejects": 1, "files": 1}
    said = kill_mid_ingest(tmp_path, _KILL_CHILD, [str(wsp), str(big)])
    assert 3000 <= int(said.split()[1]) < 20_000, said
    with Workspace(wsp) as ws:
        assert {t: ws.count(t) for t in ("posts", "accounts", "rejects", "files")} == before
        s = ingest_files([str(big)], ws)
        assert s.files[0].new_posts == 20_000 and ws.count("accounts") == 50


def test_an_error_on_the_inserter_thread_stops_ingest(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing insert beside the decoding is raised in the ingest (nothing written)."""
    monkeypatch.setattr(_driver, "FAST_PATH", True)
    monkeypatch.setattr(_v1_struct, "BATCH", 3)
    orig_init = _v1_struct._Inserter.__init__

    class Failing:
        def __init__(self, con: Any) -> None:
            self.con = con

        def execute(self, sql: str, *a: Any) -> Any:
            if sql.startswith("INSERT INTO posts"):
                raise OSError(28, "No space left on device")
            import sys

            # (DuckDB's replacement scan reads the caller's local variable)
            _echoscope_v1_in = sys._getframe(1).f_locals.get("_echoscope_v1_in")
            return self.con.execute(sql, *a)

    def init(self: Any, con: Any, posts: bool) -> None:
        orig_init(self, Failing(con), posts)

    monkeypatch.setattr(_v1_struct._Inserter, "__init__", init)
    f = tmp_path / "v.jsonl"
    f.write_bytes(lines_of([dict(variants()[1], id_str=str(200 + i)) for i in range(10)]))
    from echoscope.errors import WorkspaceError

    with Workspace(tmp_path / "w.echoscope.duckdb") as ws:
        ws.con.execute("SET threads = 2")
        # (an OSError: not taken for a broken input stream, which keeps what was read)
        with pytest.raises(WorkspaceError, match="No space left"):
            ingest_files([str(f)], ws)
        assert ws.count("posts") == 0 and ws.count("accounts") == 0
        assert ws.count("files") == 0
        # DuckDB ran on one thread while the file was read; the setting is back
        assert ws.scalar("SELECT current_setting('threads')") == 2


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(
    st.integers(0, 260).map(lambda k: b"7" * k),  # digit runs around the 200 limit
    st.binary(max_size=150).map(lambda b: b.translate(None, b"eE")),  # no exponents
    st.sampled_from([b"1e5", b"2E+12", b"3e300", b"x", b"\n", b" 1" * 99])),
    max_size=12), lead=st.integers(0, 120))
def test_block_check_agrees_with_the_whole_regex(parts: list[bytes], lead: int) -> None:
    """The sampled digit-run test never lets a block through that the regex flags."""
    import pyarrow.compute as pc

    data = b"a" * lead + b"".join(parts)
    end = len(data)
    arr = _v1_struct._as_binary(data, end)
    utf8 = data.isascii() or _v1_struct._utf8_ok(data, end)
    regex = bool(pc.match_substring_regex(arr, _v1_struct._NUMBER_RE)[0].as_py())
    assert _v1_struct._block_clean(data, end) == (utf8 and not regex)


_PROFILE_FIELDS = 8


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 5)),
                          st.lists(st.one_of(st.none(), st.sampled_from("abc")),
                                   min_size=_PROFILE_FIELDS, max_size=_PROFILE_FIELDS)),
                min_size=1, max_size=6),
       st.randoms(use_true_random=False))
def test_reference_snapshot_merge_is_the_latest_value_of_each_field(
        snaps: list[tuple[int | None, list[str | None]]], rnd: Any) -> None:
    """Each profile field is the value of the latest snapshot that has one (by time, no time
    before every time, ties by arrival), whatever the order snapshots of different times
    arrive in; the fast paths' SQL merge defines the same."""
    from echoscope.ingest._base import Sink

    def merged(order: list[int]) -> tuple[Any, ...]:
        sink = Sink("f", "twitter-v1")
        for i in order:
            sink.snapshot("1", snaps[i][0], tuple(snaps[i][1]))
        return tuple(sink.accounts[("twitter", "1")][0])

    def rank(i: int, order: list[int]) -> tuple[int, int]:
        t = snaps[i][0]
        return (-1 if t is None else t, order.index(i))

    order = list(range(len(snaps)))
    expect = tuple(
        max(((rank(i, order), snaps[i][1][f]) for i in order if snaps[i][1][f] is not None),
            default=(None, None))[1] for f in range(_PROFILE_FIELDS))
    assert merged(order) == expect
    # snapshots of distinct times (or of equal profiles) give the same in any order
    shuffled = order[:]
    rnd.shuffle(shuffled)
    times = [s[0] for s in snaps]
    if None not in times and len(set(times)) == len(times):
        assert merged(shuffled) == expect


def test_out_of_order_snapshots_with_gaps_same_on_both_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One account seen in three tweets whose times are out of file order (09:00, 11:00,
    10:00), the oldest without a description and the newest without a creation time: the
    reference parser and the msgspec path pick the same profile, the newest value of each
    field (the 11:00 description, the 10:00 creation time)."""
    base = copy.deepcopy(variants()[1])  # a plain tweet by user 1
    rows = []
    for i, (when, drop) in enumerate([("Fri Jun 13 09:00:00 +0000 2014", "description"),
                                      ("Fri Jun 13 11:00:00 +0000 2014", "created_at"),
                                      ("Fri Jun 13 10:00:00 +0000 2014", None)]):
        t = copy.deepcopy(base)
        t.update(id_str=str(500 + i), id=500 + i, created_at=when)
        t["user"]["description"] = f"bio {i}"
        t["user"]["created_at"] = f"Mon May 1{i} 04:01:17 +0000 2014"
        if drop:
            t["user"][drop] = None
        rows.append(t)
    f = tmp_path / "o.jsonl"
    f.write_bytes(lines_of(rows))
    fast, slow = struct_and_reference(f, monkeypatch)
    assert fast == slow
    acc = [r for r in slow["accounts"] if r[1] == "1"]
    assert len(acc) == 1 and "bio 1" in acc[0] and "bio 2" not in acc[0]
