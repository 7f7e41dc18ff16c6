"""The msgspec path on two processes (``_v1_parallel``) gives exactly what the reference
parser gives: record numbers in the second half, odd lines in both halves, BOM, no final
newline, strict mode, spill files removed, a killed ingest leaves nothing behind."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from echoscope.errors import RecordError
from echoscope.ingest import _driver, _v1_parallel, _v1_struct, ingest_files, twitter_v1
from echoscope.workspace import Workspace
from test_ingest_fastpath import lines_of, snapshot, variants
from test_ingest_struct import struct_and_reference
from test_workspace import kill_mid_ingest


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every plain file goes to two processes; the list records each decision."""
    monkeypatch.setattr(_v1_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(_v1_parallel, "WORKERS", 2)
    monkeypatch.setattr(twitter_v1, "V1_PATH", "struct")
    used: list[bool] = []
    orig = _v1_parallel.parallel_load

    def spy(*a: Any) -> bool:
        try:
            used.append(orig(*a))
        except Exception:
            used.append(True)  # it ran (and the error leaves through it)
            raise
        return used[-1]

    monkeypatch.setattr(_v1_parallel, "parallel_load", spy)
    return used


def _odd_lines() -> list[bytes]:
    """Variants, each twice (ids changed), with lines the reference must see throughout."""
    objs = variants()
    out: list[bytes] = []
    for k in range(2):
        for i, o in enumerate(objs):
            o = copy.deepcopy(o)
            if k and "id_str" in o:
                o["id_str"] = f"9{k}{i}{o['id_str']}"
            body = orjson.dumps(o)
            out.append(body + b"\n")
            if i % 3 == k:
                out.append(b"{broken\n")
            if i % 4 == k:
                out.append(body[:-1] + b',"x":1e999}\n')  # orjson refuses, msgspec skips
            if i == 5:
                out.append(b"\n")  # a blank line: no record
    return out


@pytest.mark.parametrize("cut", [0, 1])
def test_two_processes_equal_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           parallel: list[bool], cut: int) -> None:
    monkeypatch.setattr(_v1_struct, "BATCH", 3)  # several batches per spill file
    monkeypatch.setattr(_v1_struct, "_CHUNK", 200)  # lines split across reads
    lines = _odd_lines()
    body = b"\xef\xbb\xbf" + b"".join(lines)
    if cut:
        body = body[:-1]  # no newline at the end
    f = tmp_path / "p.jsonl"
    f.write_bytes(body)
    fast, slow = struct_and_reference(f, monkeypatch)
    assert parallel == [True]
    assert fast == slow
    assert len(fast["rejects"]) >= 6 and len(fast["posts"]) == 20
    # rejects of the second half carry their true line numbers
    assert max(r[1] for r in fast["rejects"]) > len(lines) // 2


def test_strict_mode_names_the_first_bad_line(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              parallel: list[bool]) -> None:
    lines = [orjson.dumps(o) + b"\n" for o in variants()] * 3
    lines[4] = b"{broken\n"
    lines[25] = b"{broken too\n"
    f = tmp_path / "s.jsonl"
    f.write_bytes(b"".join(lines))
    monkeypatch.setattr(_driver, "FAST_PATH", True)
    with Workspace(":memory:") as ws, pytest.raises(RecordError) as e:
        ingest_files([str(f)], ws, strict=True)
    assert e.value.record == 5 and parallel == [True]


def test_small_or_one_line_files_stay_in_one_process(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     parallel: list[bool]) -> None:
    f = tmp_path / "one.jsonl"
    f.write_bytes(orjson.dumps(variants()[0]))  # no newline after the middle
    fast, slow = struct_and_reference(f, monkeypatch)
    assert parallel == [False] and fast == slow and len(fast["posts"]) == 1
    monkeypatch.setattr(_v1_parallel, "MIN_BYTES", 1 << 30)
    g = tmp_path / "v.jsonl"
    g.write_bytes(lines_of(variants()))
    fast, slow = struct_and_reference(g, monkeypatch)
    assert parallel == [False, False] and fast == slow


def test_spill_files_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 parallel: list[bool]) -> None:
    f = tmp_path / "v.jsonl"
    f.write_bytes(lines_of(variants()) * 2)
    ws_path = tmp_path / "w.echoscope.duckdb"
    monkeypatch.setattr(_driver, "FAST_PATH", True)
    with Workspace(ws_path) as ws:
        s = ingest_files([str(f)], ws)
        assert ws.count("posts") == 10 and s.files[0].records == 20
    assert parallel == [True]
    tmp = Path(str(ws_path) + ".tmp")
    assert not tmp.exists() or not any(tmp.glob("echoscope-v1-*"))


_CHILD = """
import sys
from pathlib import Path
from echoscope.ingest import _v1_struct, ingest_files
from echoscope.workspace import Workspace

ws_path, big, marker = sys.argv[1:4]
orig = _v1_struct._bulk
def bulk(*a, **k):  # after both processes decoded, before anything is inserted
    Path(marker).write_text("mid-ingest")
    import time
    time.sleep(60)
    return orig(*a, **k)
_v1_struct._bulk = bulk
with Workspace(ws_path) as ws:
    ingest_files([big], ws)
"""


@pytest.mark.slow
def test_sigkill_leaves_the_workspace_as_before(tmp_path: Path) -> None:
    wsp = tmp_path / "ws.echoscope.duckdb"
    first = tmp_path / "first.jsonl"
    first.write_bytes(lines_of(variants()))
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"".join(_odd_lines()) * 50)
    with Workspace(wsp) as ws:
        ingest_files([str(first)], ws)
        before = snapshot(ws)
    env = dict(os.environ, ECHOSCOPE_V1_PARALLEL_MIN_BYTES="1", ECHOSCOPE_V1_WORKERS="2",
               ECHOSCOPE_V1_PATH="struct")
    kill_mid_ingest(tmp_path, _CHILD, [str(wsp), str(big)], env=env)
    with Workspace(wsp) as ws:
        assert snapshot(ws) == before
        s = ingest_files([str(big)], ws)  # and it is usable: the file now goes in
        assert s.files[0].records == s.files[0].posts + s.files[0].rejects


def test_off_unless_asked() -> None:
    code = "from echoscope.ingest import _v1_parallel as p; print(p.WORKERS)"
    got = []
    for extra in ({}, {"ECHOSCOPE_V1_PATH": "parallel"}, {"ECHOSCOPE_V1_WORKERS": "3"}):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECHOSCOPE_V1")}
        out = subprocess.run([sys.executable, "-c", code], env=env | extra,
                             capture_output=True, text=True, check=True)
        got.append(int(out.stdout))
    assert got == [1, min(2, os.cpu_count() or 1), 3]
