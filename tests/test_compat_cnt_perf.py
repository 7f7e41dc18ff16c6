"""The fast paths of ``--compat cnt``: vectorised sweep, overlap, weights, Arrow/numpy
conversions, and what a run imports. Edge lists against the toolkit itself are tested in
test_compat_cnt.py; here each fast piece is checked against its plain definition and
against the numba kernel, on every code path (strided axis, run-after-run axis, kernel).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.detect import compat_cnt as cc
from echoscope.detect.kernel import sweep_pairs

ACTIONS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(-50, 50), st.integers(0, 3)), max_size=40)


def _definition(key: list[int], t: list[int], acct: list[int], w: int) -> set[tuple[int, int]]:
    n = len(key)
    return {(i, j) for i in range(n) for j in range(i + 1, n)
            if key[i] == key[j] and acct[i] != acct[j] and abs(t[i] - t[j]) <= w}


def _pairs(ii: np.ndarray, jj: np.ndarray) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in zip(ii.tolist(), jj.tolist(), strict=True)}


@pytest.mark.parametrize("axis_max", [float(1 << 62), 1e3, 1.0])  # strided, runs, kernel
@settings(max_examples=60, deadline=None)
@given(rows=ACTIONS, w=st.integers(0, 30))
def test_sweep_matches_definition_on_every_path(rows: list[tuple[int, int, int]], w: int,
                                                axis_max: float) -> None:
    key = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    acct = np.array([r[2] for r in rows], dtype=np.int64)
    old = cc._AXIS_MAX
    cc._AXIS_MAX = axis_max
    try:
        ii, jj = cc._sweep(key, t, acct, w)
    finally:
        cc._AXIS_MAX = old
    got = _pairs(ii, jj)
    assert len(got) == ii.size  # each unordered pair once
    assert got == _definition(key.tolist(), t.tolist(), acct.tolist(), w)


def test_sweep_equals_numba_kernel_on_larger_input() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    key = rng.integers(0, 300, n)
    t = rng.integers(0, 3_000_000, n)
    acct = rng.integers(0, 500, n)
    w = 20_000
    ii, jj = cc._sweep(key, t, acct, w)
    perm = np.lexsort((acct, t, key))
    ki, kj = sweep_pairs(key[perm], t[perm], acct[perm].astype(np.int32), w)
    assert _pairs(ii, jj) == _pairs(perm[ki], perm[kj])
    assert ii.size == ki.size > 0


def test_sweep_times_far_apart_use_the_exact_fallbacks() -> None:
    # microsecond times a few centuries apart overflow the strided axis
    t = np.array([0, 10, 9_000_000_000_000_000, 9_000_000_000_000_005, 5], dtype=np.int64)
    key = np.array([0, 0, 1, 1, 0], dtype=np.int64)
    acct = np.array([0, 1, 0, 1, 0], dtype=np.int64)
    assert _pairs(*cc._sweep(key, t, acct, 10)) == {(0, 1), (1, 4), (2, 3)}


SIZED = st.lists(st.tuples(st.integers(0, 3), st.integers(-50, 50), st.integers(1, 7),
                           st.booleans()), max_size=40)


@pytest.mark.parametrize("axis_max", [float(1 << 62), 2e4])  # one int64 sort, lexsort
@pytest.mark.parametrize("use_index", [False, True])
@settings(max_examples=80, deadline=None)
@given(rows=SIZED, w=st.integers(0, 30), thr=st.sampled_from([0.2, 0.5, 0.8, 1.0]),
       block=st.sampled_from([None, 1, 5]))
def test_sized_pairs_are_the_sweep_pairs_of_fitting_sizes(
        rows: list[tuple[int, int, int, bool]], w: int, thr: float, block: int | None,
        axis_max: float, use_index: bool) -> None:
    key = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    size = np.array([r[2] for r in rows], dtype=np.int64)
    index = np.array([r[3] or not use_index for r in rows], dtype=bool)
    need = np.ceil(thr * size).astype(np.int64)
    ids = np.arange(len(rows), dtype=np.int64) * 10 + 3
    old = cc._AXIS_MAX
    cc._AXIS_MAX = axis_max
    try:
        parts = list(cc._sized_pairs(key, size, need, t, w, ids=ids,
                                     index=index if use_index else None, block=block))
    finally:
        cc._AXIS_MAX = old
    ii = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    jj = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    assert np.all(ii % 10 == 3) and np.all(jj % 10 == 3)
    ii, jj = ii // 10, jj // 10
    got = _pairs(ii, jj)
    assert len(got) == ii.size  # each unordered pair once
    # the second of a pair is an index entry, of the smaller (or equal) size
    assert np.all(index[jj]) and np.all(size[jj] <= size[ii])
    n = len(rows)

    def wanted(i: int, j: int) -> bool:
        small = [k for k in (i, j) if size[k] == min(size[i], size[j])]
        return bool(key[i] == key[j] and abs(t[i] - t[j]) <= w and size[i] >= need[j]
                    and size[j] >= need[i] and any(index[k] for k in small))

    assert got == {(i, j) for i in range(n) for j in range(i + 1, n) if wanted(i, j)}


def test_sized_pairs_refuse_times_too_far_apart() -> None:
    # one key and size (one run) over centuries of microseconds
    key = np.array([0, 0], dtype=np.int64)
    t = np.array([0, 9_000_000_000_000_000_000], dtype=np.int64)
    one = np.ones(2, dtype=np.int64)
    old = cc._AXIS_MAX
    cc._AXIS_MAX = 1e18
    try:
        with pytest.raises(OverflowError):
            list(cc._sized_pairs(key, one, one, t, 5))
    finally:
        cc._AXIS_MAX = old


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("thr", [0.3, 0.8, 1.0])
def test_similar_pairs_same_on_every_path(seed: int, thr: float) -> None:
    tb = _random_messages(seed, 400).tables
    original = cc._bools(cc._call("is_null", tb.repost))
    params = cc.CntParams(type="co_similar_tweet", time_window=120, similarity_threshold=thr)

    def run() -> list[tuple[int, int, int]]:
        src, m, other = cc._similar_pairs(tb, original, params)
        return sorted(zip(src.tolist(), m.tolist(), other.tolist(), strict=True))

    old = cc._SIZED_LOOKUPS, cc._SET_CELLS_PER_ROW
    try:
        by_runs = run()
        cc._SIZED_LOOKUPS = -1  # never: the plain sweep and the size filter
        by_sweep = run()
        cc._SET_CELLS_PER_ROW = 0  # token sets by sorting instead of a table of cells
        by_sort = run()
    finally:
        cc._SIZED_LOOKUPS, cc._SET_CELLS_PER_ROW = old
    assert by_runs == by_sweep == by_sort
    assert by_runs


@pytest.mark.parametrize("axis_max", [float(1 << 62), 1.0])
@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=30))
def test_first_of_runs_both_paths(keys: list[tuple[int, int]], axis_max: float) -> None:
    a = np.array([k[0] for k in keys], dtype=np.int64)
    b = np.array([k[1] for k in keys], dtype=np.int64)
    old = cc._AXIS_MAX
    cc._AXIS_MAX = axis_max
    try:
        first, to_first = cc._first_of_runs([a, b])
    finally:
        cc._AXIS_MAX = old
    seen: dict[tuple[int, int], int] = {}
    for i, k in enumerate(keys):
        seen.setdefault(k, i)
    want_first = sorted(seen.values())
    assert first.tolist() == want_first
    assert [want_first[x] for x in to_first.tolist()] == [seen[k] for k in keys]


@pytest.mark.parametrize("freq_bits", [64, 3, 0])  # all, some, no tokens as bit masks
@pytest.mark.parametrize("dense_cells", [1 << 26, 0])  # membership table, binary search
@settings(max_examples=80, deadline=None)
@given(docs=st.lists(st.sets(st.integers(0, 12), min_size=0, max_size=8), min_size=2,
                     max_size=12),
       data=st.data())
def test_overlap_is_set_intersection(docs: list[set[int]], data: st.DataObject,
                                     dense_cells: int, freq_bits: int) -> None:
    sizes = np.array([len(d) for d in docs], dtype=np.int64)
    indptr = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    tokens = np.array([x for d in docs for x in sorted(d)], dtype=np.int64)
    idx = st.integers(0, len(docs) - 1)
    pairs = data.draw(st.lists(st.tuples(idx, idx), max_size=20))
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    old = cc._DENSE_CELLS, cc._FREQ_BITS
    cc._DENSE_CELLS, cc._FREQ_BITS = dense_cells, freq_bits
    try:
        got = cc._overlap(indptr, tokens, a, b).tolist()
    finally:
        cc._DENSE_CELLS, cc._FREQ_BITS = old
    assert got == [len(docs[x] & docs[y]) for x, y in pairs]


def test_weights_count_distinct_messages_per_direction() -> None:
    # message 0 of account 1 matches account 2 twice: one unit of weight
    src = np.array([1, 1, 1, 2, 2], dtype=np.int64)
    m = np.array([0, 0, 3, 5, 6], dtype=np.int64)
    other = np.array([2, 2, 2, 1, 1], dtype=np.int64)
    s, d, w = cc._weights(src, m, other, 3, 1)
    assert list(zip(s.tolist(), d.tolist(), w.tolist(), strict=True)) == [(1, 2, 2), (2, 1, 2)]
    s, d, w = cc._weights(src, m, other, 3, 3)
    assert s.size == d.size == w.size == 0


def test_arrow_numpy_round_trips_keep_offsets() -> None:
    mask = np.array([True, False, True, True, False, False, True, False, True], dtype=bool)
    arr = cc._arrow_mask(mask)
    assert arr.to_pylist() == mask.tolist()
    assert cc._bools(arr.slice(3)).tolist() == mask[3:].tolist()
    ints = np.arange(-3, 7, dtype=np.int64)
    assert cc._np(cc._arrow_i64(ints).slice(2, 5)).tolist() == ints[2:7].tolist()
    assert cc._np(pa.chunked_array([pa.array([1.5]), pa.array([2.5])])).tolist() == [1.5, 2.5]
    texts = ["", "é", "a b", "🙂"]
    assert cc._arrow_str(texts).to_pylist() == texts
    with pytest.raises(ValueError):
        cc._np(pa.array([1, None]))


_PROBE = """
import json, sys
from echoscope.cli import main
rc = main(sys.argv[1:])
heavy = ("pandas", "numba", "polars", "scipy", "duckdb", "igraph", "jinja2",
         "pyarrow.compute")
print(json.dumps([rc, sorted(m for m in heavy if m in sys.modules)]))
"""


def _probe(args: list[str]) -> tuple[int, list[str]]:
    out = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                         text=True, check=True).stdout
    rc, mods = json.loads(out.strip().splitlines()[-1])
    return int(rc), list(mods)


def test_help_and_cnt_network_do_not_import_heavy_libraries(tmp_path: Path) -> None:
    rc, mods = _probe(["--help"])
    assert rc == 0 and mods == []
    csv = tmp_path / "in.csv"
    csv.write_text("message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
                   "1,A,a,9,,RT,0,\n2,B,b,9,,RT,5,\n3,A,a,8,,RT,10,\n4,B,b,8,,RT,12,\n"
                   "5,A,a,,,hello there,20,http://x.example/1\n"
                   "6,B,b,,,Hello  there,21,http://x.example/1\n",
                   encoding="utf-8")
    for typ in ("co_retweet", "co_tweet", "co_link", "co_reply", "co_similar_tweet"):
        out = tmp_path / f"{typ}.csv"
        rc, mods = _probe(["network", str(csv), "--compat", "cnt", "--type", typ,
                           "--time-window", "60", "--min-edge-weight", "1", "-o", str(out),
                           "-q"])
        assert rc == 0 and mods == [], (typ, mods)
        assert out.read_text(encoding="utf-8").count("\n") >= 1
    assert "A" in (tmp_path / "co_retweet.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("quoted", [True, False])
def test_csv_read_with_and_without_quotes(tmp_path: Path, quoted: bool) -> None:
    head = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
    text = '"two\nlines, one value"' if quoted else "one line"
    path = tmp_path / "in.csv"
    path.write_text(head + f"1,A,a,,,{text},0,http://x.example/1\n2,B,b,1,,RT,3,\n",
                    encoding="utf-8")
    assert cc._has_quote(str(path)) is quoted
    rows = cc.messages_from_cnt_csv(str(path)).rows
    assert rows["message"].to_pylist() == [text.strip('"'), "RT"]
    assert rows["timestamp"].to_pylist() == [0.0, 3.0]
    assert rows["urls"].to_pylist() == [["http://x.example/1"], [""]]
    subset = cc.messages_from_cnt_csv(str(path), types=["co_retweet"]).rows
    assert subset.column_names == ["message_id", "user_id", "repost_id", "timestamp"]


# -- several networks at once on threads ---------------------------------------------

WORDS = ["river", "lamp", "Lamp", "@ann", "garden", "!", "x.y", "naïve", "مرحبا"]


def _random_messages(seed: int, n: int) -> cc.CntMessages:
    import random

    rng = random.Random(seed)
    rows: list[cc.RawRow] = []
    for i in range(n):
        mid = f"m{rng.randrange(n)}" if rng.random() < 0.05 else f"m{i}"  # some repeats
        repost = f"p{rng.randrange(6)}" if rng.random() < 0.3 else None
        reply = f"r{rng.randrange(6)}" if rng.random() < 0.2 else None
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 5)))
        urls = [f"http://x.example/{rng.randrange(5)}" for _ in range(rng.randint(1, 2))]
        rows.append((mid, f"u{rng.randrange(8)}", repost, reply, text,
                     float(rng.randrange(600)), urls))
    return cc.CntMessages.from_rows(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cnt_networks_equal_one_call_per_type(seed: int) -> None:
    params = [cc.CntParams(type=t, time_window=w, min_edge_weight=1)
              for t in cc.CNT_TYPES for w in (0, 45)]
    want = [cc.cnt_network(_random_messages(seed, 300), p) for p in params]
    assert sum(t.num_rows for t in want) > 0
    for threads, from_messages in ((1, 0), (2, 0), (2, 10**9)):
        old = cc._THREADS_FROM_MESSAGES
        cc._THREADS_FROM_MESSAGES = from_messages
        try:
            got = cc.cnt_networks(_random_messages(seed, 300), params, threads=threads)
        finally:
            cc._THREADS_FROM_MESSAGES = old
        assert [t.to_pylist() for t in got] == [t.to_pylist() for t in want]


def test_cnt_networks_threads_see_the_pair_sweep_hook() -> None:
    import threading

    from echoscope.engines.hooks import PAIR_SWEEP

    seen: list[str] = []

    def brute(key: np.ndarray, t: np.ndarray, acct: np.ndarray, w: int
              ) -> tuple[np.ndarray, np.ndarray]:
        seen.append(threading.current_thread().name)
        pairs = sorted(_definition(key.tolist(), t.tolist(), acct.tolist(), w))
        return (np.array([p[0] for p in pairs], dtype=np.int64),
                np.array([p[1] for p in pairs], dtype=np.int64))

    params = [cc.CntParams(type=t, time_window=30, min_edge_weight=1)
              for t in ("co_retweet", "co_tweet", "co_link")]
    want = cc.cnt_networks(_random_messages(5, 120), params, threads=1)
    token = PAIR_SWEEP.set(brute)
    old = cc._THREADS_FROM_MESSAGES
    try:
        cc._THREADS_FROM_MESSAGES = 0
        got = cc.cnt_networks(_random_messages(5, 120), params, threads=2)
        assert len(seen) == 3 and threading.main_thread().name not in seen
        # below the size where a second thread pays: all on the calling thread
        seen.clear()
        cc._THREADS_FROM_MESSAGES = 10**9
        again = cc.cnt_networks(_random_messages(5, 120), params, threads=2)
        assert seen == [threading.current_thread().name] * 3
    finally:
        cc._THREADS_FROM_MESSAGES = old
        PAIR_SWEEP.reset(token)
    assert [t.to_pylist() for t in got] == [t.to_pylist() for t in want]
    assert [t.to_pylist() for t in again] == [t.to_pylist() for t in want]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "", "ab", "é"]), max_size=6),
                max_size=5))
def test_codes_of_chunked_arrays(chunks: list[list[str]]) -> None:
    arr = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], type=pa.string())
    codes, values = cc._codes(arr)
    flat = [x for c in chunks for x in c]
    assert values.to_pylist() == list(dict.fromkeys(flat))  # first appearance order
    assert [values[i].as_py() for i in codes.tolist()] == flat


def test_csv_columns_and_plain_open_agree_with_ingest(tmp_path: Path) -> None:
    import gzip

    from echoscope.ingest.cnt_csv import COLUMNS

    assert cc._CSV_COLUMNS == COLUMNS
    body = "1,A,a,,,hello,0,http://x.example/1\n2,B,b,1,,RT,3,\n"
    plain = tmp_path / "in.csv"
    for head in ("\ufeffMessage_ID,user_id,username,repost_id,reply_id,message,timestamp,"
                 "urls\n", '"message_id",u,n,r,p,m,"timestamp",urls\n', ""):
        plain.write_text(head + body, encoding="utf-8")
        assert cc.messages_from_cnt_csv(str(plain)).rows["message_id"].to_pylist() == \
            ["1", "2"], head
    packed = tmp_path / "in.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert cc._open_plain(str(packed)) is None
    assert cc._open_plain(str(tmp_path)) is None and cc._open_plain("-") is None
    assert cc.messages_from_cnt_csv(str(packed)).rows["message_id"].to_pylist() == ["1", "2"]


def test_memory_pool_is_scoped_and_reentrant() -> None:
    import threading

    import pyarrow as pa

    from echoscope.detect.compat_cnt import memory_pool

    before = pa.default_memory_pool().backend_name
    inside: list[str] = []
    with memory_pool():
        inside.append(pa.default_memory_pool().backend_name)
        t = pa.array([f"s{i}" for i in range(1000)]).dictionary_encode()

        def nested() -> None:
            with memory_pool():
                inside.append(pa.default_memory_pool().backend_name)

        th = threading.Thread(target=nested)
        th.start()
        th.join()
        with memory_pool():
            pass
        inside.append(pa.default_memory_pool().backend_name)
    assert pa.default_memory_pool().backend_name == before
    assert len(set(inside)) == 1  # jemalloc where the build has it, else unchanged
    assert t.dictionary[999].as_py() == "s999"  # buffers made inside stay valid


@settings(max_examples=80, deadline=None)
@given(groups=st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=6), max_size=25),
       max_span=st.integers(1, 7))
def test_first_in_groups_is_first_of_runs(groups: list[list[int]], max_span: int) -> None:
    g = np.array([i for i, grp in enumerate(groups) for _ in grp], dtype=np.int64)
    u = np.array([x for grp in groups for x in grp], dtype=np.int64)
    got = cc._first_in_groups(g, u, max_span)
    if max(map(len, groups), default=0) > max_span and len(g) >= 2:
        assert got is None
        return
    seen: dict[tuple[int, int], int] = {}
    for i, k in enumerate(zip(g.tolist(), u.tolist(), strict=True)):
        seen.setdefault(k, i)
    assert got is not None and got.tolist() == sorted(seen.values())


@settings(max_examples=80, deadline=None)
@given(ids=st.lists(st.sampled_from(["1", "2", "10", "a", "", "é", "1 ", "01"]), max_size=30),
       chunked=st.booleans())
def test_first_rows_of_ids_by_sorting(ids: list[str], chunked: bool) -> None:
    arr: pa.Array | pa.ChunkedArray = pa.array(ids, pa.string())
    if chunked and len(ids) > 2:
        arr = pa.chunked_array([arr.slice(0, 2), arr.slice(2)])
    first, to_first = cc._first_rows_of_ids(arr)
    seen: dict[str, int] = {}
    for i, k in enumerate(ids):
        seen.setdefault(k, i)
    want_first = sorted(seen.values())
    assert first.tolist() == want_first
    assert [want_first[x] for x in to_first.tolist()] == [seen[k] for k in ids]


_BYTES = st.text(alphabet=st.sampled_from(list("ab @.\t\n\r\x0b\x1c\x7f\x00é🙂 ")), max_size=12)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(_BYTES, max_size=20), start=st.integers(0, 3),
       block=st.sampled_from([1, 2, 3, 1 << 20]))
def test_byte_scans_equal_their_definitions(texts: list[str], start: int, block: int) -> None:
    arr = pa.array(["pad"] * start + texts, pa.string()).slice(start)  # a non-zero offset
    old = cc._SCAN_BLOCK
    cc._SCAN_BLOCK = block
    try:
        scan = cc._scan_ascii(arr)
        plain = cc._scan_plain(arr)
    finally:
        cc._SCAN_BLOCK = old
    assert scan is not None and plain is not None
    ascii_, at, odd = scan
    assert ascii_.tolist() == [x.isascii() for x in texts]
    assert at.tolist() == ["@" in x for x in texts]
    for x, flagged in zip(texts, odd.tolist(), strict=True):
        # a superset of the strings whose spacing the co_tweet key changes
        needs = any(c < " " for c in x) or "  " in x or x.startswith(" ") or x.endswith(" ")
        assert flagged == needs, x
    import re
    assert plain[0].tolist() == [re.fullmatch(r"[\x20-\x7e\t\n\r]*", x) is not None
                                 for x in texts]
    assert plain[1].tolist() == ["@" in x for x in texts]
    assert cc._holds_byte(pa.chunked_array([arr]), b"@") == any("@" in x for x in texts)


@pytest.mark.parametrize("axis_max", [float(1 << 62), 1.0])  # one packed sort, lexsort
@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 3)),
                     max_size=40),
       k=st.integers(1, 3))
def test_weights_both_paths_equal_definition(rows: list[tuple[int, int, int]], k: int,
                                             axis_max: float) -> None:
    src = np.array([r[0] for r in rows], dtype=np.int64)
    m = np.array([r[1] for r in rows], dtype=np.int64)
    other = np.array([r[2] for r in rows], dtype=np.int64)
    old = cc._AXIS_MAX
    cc._AXIS_MAX = axis_max
    try:
        s, d, w = cc._weights(src, m, other, 4, k)
    finally:
        cc._AXIS_MAX = old
    want: dict[tuple[int, int], set[int]] = {}
    for a, msg, b in rows:
        want.setdefault((a, b), set()).add(msg)
    assert list(zip(s.tolist(), d.tolist(), w.tolist(), strict=True)) == sorted(
        (a, b, len(ms)) for (a, b), ms in want.items() if len(ms) >= k)


@settings(max_examples=60, deadline=None)
@given(rows=ACTIONS, w=st.integers(0, 30))
def test_directed_pairs_without_singleton_keys(rows: list[tuple[int, int, int]],
                                               w: int) -> None:
    key = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.float64)
    acct = np.array([r[2] for r in rows], dtype=np.int64)
    msg = np.arange(len(rows), dtype=np.int64)
    src, m, other = cc._directed_pairs(key, t, acct, msg, float(w))
    got = sorted(zip(src.tolist(), m.tolist(), other.tolist(), strict=True))
    want = sorted((acct[i], i, acct[j]) for i in range(len(rows)) for j in range(len(rows))
                  if i != j and key[i] == key[j] and acct[i] != acct[j]
                  and abs(t[i] - t[j]) <= w)
    assert got == want


_PROBE_MODULES = """
import json, sys
from echoscope.cli import main
rc = main(sys.argv[1:])
print(json.dumps([rc, sorted(m for m in sys.modules if m.split(".")[0] == "rich"
                             or m.startswith(("echoscope.ingest", "echoscope.simulate",
                                              "echoscope.cli.")))]))
"""


def test_quiet_cnt_command_loads_only_its_own_modules(tmp_path: Path) -> None:
    # start-up: no rich (progress is off with -q), no ingest loaders for a toolkit CSV,
    # no other command's module
    csv = tmp_path / "in.csv"
    csv.write_text("message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
                   "1,A,a,9,,RT,0,\n2,B,b,9,,RT,5,\n", encoding="utf-8")
    args = ["network", str(csv), "--compat", "cnt", "--type", "co_retweet,co_tweet",
            "--time-window", "60", "--min-edge-weight", "1", "-o", str(tmp_path / "out")]
    out = subprocess.run([sys.executable, "-c", _PROBE_MODULES, *args, "-q"],
                         capture_output=True, text=True, check=True)
    rc, mods = json.loads(out.stdout.strip().splitlines()[-1])
    assert rc == 0 and mods == ["echoscope.cli._common", "echoscope.cli.network"]
    assert out.stderr == ""
    # without -q the status lines are still there
    out = subprocess.run([sys.executable, "-c", _PROBE_MODULES, *args],
                         capture_output=True, text=True, check=True)
    assert "co_retweet edges written" in out.stderr
    assert (tmp_path / "out" / "co_tweet.csv").exists()


def test_cnt_header_shortcut_agrees_with_format_detection(tmp_path: Path) -> None:
    from echoscope.ingest import detect_format
    from echoscope.network import _CNT_HEADER, _detect

    body = b"\n1,A,a,,,hello,0,\n"
    for head in (_CNT_HEADER, b"\xef\xbb\xbf" + _CNT_HEADER, _CNT_HEADER + b"\r"):
        assert detect_format(head + body, "x.csv") == "cnt-csv"
        p = tmp_path / "x.csv"
        p.write_bytes(head + body)
        assert _detect(str(p), None) == "cnt-csv"
    # any other first line: the loaders decide (here none can read it)
    from echoscope.errors import InputError

    p.write_bytes(b"message_id,user_id\n1,A\n")
    with pytest.raises(InputError, match="cannot tell the format"):
        detect_format(p.read_bytes(), str(p))
    with pytest.raises(InputError, match="cannot tell the format"):
        _detect(str(p), None)


@pytest.mark.parametrize("block", [1, 3, 1 << 18])
@settings(max_examples=60, deadline=None)
@given(rows=ACTIONS, w=st.integers(0, 30))
def test_sweep_blocks_together_are_the_sweep(rows: list[tuple[int, int, int]], w: int,
                                             block: int) -> None:
    key = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    acct = np.array([r[2] for r in rows], dtype=np.int64)
    parts = list(cc._sweep_blocks(key, t, acct, w, block=block))
    got = [p for ii, jj in parts for p in zip(ii.tolist(), jj.tolist(), strict=True)]
    assert len(got) == len(set(got))
    assert _pairs(np.array([p[0] for p in got], dtype=np.int64),
                  np.array([p[1] for p in got], dtype=np.int64)) == _definition(
        key.tolist(), t.tolist(), acct.tolist(), w)


@pytest.mark.parametrize("block", [1, 2, 1 << 16])
@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.lists(st.sampled_from(["Hi", "hi", "@a hi", "x  y", "é", "", "x y"]),
                                max_size=5), min_size=1, max_size=4),
       data=st.data())
def test_cotweet_codes_in_blocks_equal_whole_column(chunks: list[list[str]], block: int,
                                                    data: st.DataObject) -> None:
    col = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], type=pa.string())
    n = len(col)
    sel = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    old = cc._KEY_BLOCK
    cc._KEY_BLOCK = block
    try:
        got = cc._cotweet_codes(col, sel)
    finally:
        cc._KEY_BLOCK = old
    keys = [cc.cotweet_text(x) for x, s in zip(col.to_pylist(), sel.tolist(), strict=True)
            if s]
    assert got.size == len(keys)
    # equal codes exactly for equal keys
    assert {(a, b) for a, b in zip(got.tolist(), keys, strict=True)} == {
        (got.tolist()[keys.index(k)], k) for k in keys}
    assert len(set(got.tolist())) == len(set(keys))


@pytest.mark.parametrize(("code", "preset", "want"), [
    ("import echoscope", None, "4"),
    ("import echoscope", "12", "12"),          # the user's choice is kept
    ("import numpy, echoscope", None, "None"),  # too late to matter: left alone
])
def test_openblas_workers_sleep_unless_chosen(code: str, preset: str | None, want: str
                                              ) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    out = subprocess.run(
        [sys.executable, "-c", code + "; import os; "
         "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"],
        capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == want
