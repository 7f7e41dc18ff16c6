"""Workspace guarantees: idempotent, incremental, SIGKILL-safe ingest; schema refusal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from echoscope.cli import main
from echoscope.errors import WorkspaceError
from echoscope.ingest import ingest_files
from echoscope.workspace import Workspace


def tweet(i: int, user: int = 1, handle: str | None = None, minute: int = 0) -> bytes:
    t: dict[str, Any] = {
        "id_str": str(i), "created_at": f"Fri Jun 13 09:{minute:02d}:{i % 60:02d} +0000 2014",
        "text": f"synthetic neutral text number {i} #Topic{i % 7}",
        "user": {"id_str": str(user), "screen_name": handle or f"user{user}",
                 "name": f"User {user}"},
        "entities": {"hashtags": [{"text": f"Topic{i % 7}"}], "urls": [],
                     "user_mentions": []},
        "source": '<a href="http://x.example" rel="nofollow">Bench App</a>',
    }
    return orjson.dumps(t) + b"\n"


def write(path: Path, ids: range, **kw: Any) -> Path:
    path.write_bytes(b"".join(tweet(i, user=i % 5, **kw) for i in ids))
    return path


def counts(ws: Workspace) -> dict[str, int]:
    return {t: ws.count(t) for t in ("posts", "accounts", "account_handles", "rejects",
                                     "files")}


def test_same_file_twice_adds_nothing(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl", range(1, 11))
    with Workspace(tmp_path / "ws.duckdb") as ws:
        s1 = ingest_files([a], ws)
        before = counts(ws)
        s2 = ingest_files([a], ws)
        assert s1.new_posts == 10 and s2.new_posts == 0 and s2.files[0].already_ingested
        assert counts(ws) == before
        # the same bytes under another name are the same file
        b = tmp_path / "copy.jsonl"
        b.write_bytes(a.read_bytes())
        assert ingest_files([b], ws).files[0].already_ingested
        assert counts(ws) == before
        assert len(ws.runs()) == 3


def test_overlapping_and_incremental(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl", range(1, 11))
    b = write(tmp_path / "b.jsonl", range(6, 16))
    c = write(tmp_path / "c.jsonl.", range(100, 105))
    with Workspace(tmp_path / "ws.duckdb") as ws:
        ingest_files([a], ws)
        s = ingest_files([b, c], ws)
        assert [f.new_posts for f in s.files] == [5, 5]
        assert [f.posts for f in s.files] == [10, 5]
        assert ws.count("posts") == 20
        assert ws.scalar("SELECT count(DISTINCT (platform, post_id)) FROM posts") == 20
        # a duplicate inside one file is kept once (the first record)
        d = tmp_path / "d.jsonl"
        d.write_bytes(tweet(500) + tweet(500))
        assert ingest_files([d], ws).files[0].new_posts == 1
        assert ws.scalar("SELECT source_record FROM posts WHERE post_id = '500'") == 1


def test_accounts_merge_across_files_with_handle_history(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    a.write_bytes(tweet(1, user=7, handle="old_name", minute=1))
    b = tmp_path / "b.jsonl"
    b.write_bytes(tweet(2, user=7, handle="new_name", minute=5))
    with Workspace(tmp_path / "ws.duckdb") as ws:
        ingest_files([b], ws)
        ingest_files([a], ws)  # older data arrives later: the newer handle must stay
        acc = ws.sql("SELECT * FROM accounts WHERE account_id = '7'").to_pylist()[0]
        assert acc["handle"] == "new_name"
        assert acc["first_seen"].minute == 1 and acc["last_seen"].minute == 5
        hist = ws.sql("SELECT handle FROM account_handles WHERE account_id = '7' "
                      "ORDER BY first_seen").to_pylist()
        assert [h["handle"] for h in hist] == ["old_name", "new_name"]


_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from echoscope.ingest import _driver, ingest_files

    ws, big, marker, mode = sys.argv[1:5]
    state = {"n": 0}
    if mode == "python":
        _driver.BATCH_ROWS = 1000
        orig = _driver._Flusher.flush

        def flush(self):
            orig(self)
            state["n"] += 1
            if state["n"] == 3:
                Path(marker + ".part").write_text("mid-ingest")
                os.replace(marker + ".part", marker)  # atomic: never seen empty
            if state["n"] >= 3:
                time.sleep(0.2)  # stay mid-ingest until the parent kills us

        _driver._Flusher.flush = flush
    elif mode == "struct-mid-file":  # the default msgspec path, stopped while decoding
        from echoscope.ingest import _v1_struct, twitter_v1

        twitter_v1.V1_PATH = "struct"
        _v1_struct.BATCH = 2000  # posts per spill batch
        _v1_struct._CHUNK = 1 << 16  # ~200 lines per block: a batch every ~10 blocks
        orig_reference = _v1_struct._reference

        def reference(sink, dispatch, n, raw):
            state["n"] += 1
            if state["n"] == 1000:  # the 1,000th broken line: line 9,992 of 30,000
                # several batches are in the spill file, the rest of the file is not read
                assert 2000 <= sink.n_posts < 27_000, sink.n_posts
                Path(marker + ".part").write_text(f"mid-ingest {sink.n_posts}")
                os.replace(marker + ".part", marker)  # atomic: never seen empty
                time.sleep(60)
            return orig_reference(sink, dispatch, n, raw)

        _v1_struct._reference = reference
    elif mode == "struct-after-insert":  # the default path: stop once posts are inserted
        from echoscope.ingest import twitter_v1

        twitter_v1.V1_PATH = "struct"
        orig_insert = _driver._insert_with_spill

        def insert_with_spill(*a, **k):
            orig_insert(*a, **k)  # posts written, the file's transaction not committed
            Path(marker + ".part").write_text("mid-ingest")
            os.replace(marker + ".part", marker)
            time.sleep(60)

        _driver._insert_with_spill = insert_with_spill
    else:  # the SQL fast path: stop after its big table is written, inside the transaction
        from echoscope.ingest import _v1_fast, twitter_v1

        twitter_v1.V1_PATH = "sql"

        orig_map = _v1_fast._map_table

        def map_table(*a, **k):
            Path(marker + ".part").write_text("mid-ingest")
            os.replace(marker + ".part", marker)
            time.sleep(60)
            return orig_map(*a, **k)

        _v1_fast._map_table = map_table
    ingest_files([big], ws)
    Path(marker).write_text("finished")
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["python", "fast", "struct-mid-file", "struct-after-insert"])
def test_sigkill_mid_ingest_leaves_workspace_as_before(tmp_path: Path, mode: str) -> None:
    wsp = tmp_path / "ws.duckdb"
    first = write(tmp_path / "first.jsonl", range(1, 201))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(tweet(9000) + b"{broken\n")
    big = tmp_path / "big.jsonl"
    with big.open("wb") as f:
        # every 10th line is broken, so rejects are written mid-ingest too; a broken
        # first line sends the file down the Python path, a good one down a fast path
        for i in range(10_000, 40_000):
            broken = i % 10 == 0 if mode == "python" else i % 10 == 1
            f.write(b"{oops\n" if broken else tweet(i, user=i % 50))
    with Workspace(wsp) as ws:
        ingest_files([first, bad], ws)
        before = counts(ws)
        snapshot = ws.sql("SELECT * FROM posts ORDER BY post_id").to_pylist()
    assert before["posts"] == 201 and before["rejects"] == 1

    said = kill_mid_ingest(tmp_path, _CHILD, [str(wsp), str(big)], (mode,))
    if mode == "struct-mid-file":  # killed with 2,000+ of the file's 27,000 posts decoded
        assert 2000 <= int(said.split()[1]) < 27_000, said

    with Workspace(wsp) as ws:
        assert counts(ws) == before
        assert ws.sql("SELECT * FROM posts ORDER BY post_id").to_pylist() == snapshot
        assert not ws.sql("SELECT table_name FROM information_schema.tables "
                          "WHERE table_name LIKE '_stage%'").num_rows
        # and it is usable: the same file now goes in completely
        s = ingest_files([big], ws)
        assert s.files[0].new_posts == 27_000 and s.files[0].rejects == 3_000
        assert ws.count("posts") == before["posts"] + 27_000


def test_schema_version_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wsp = tmp_path / "old.duckdb"
    with Workspace(wsp) as ws:
        ws.set_meta("schema_version", "999")
    with pytest.raises(WorkspaceError, match="schema version 999") as e:
        Workspace(wsp)
    assert "Re-ingest" in str(e.value) and "new workspace" in str(e.value)
    assert main(["info", "-w", str(wsp)]) == 2
    err = capsys.readouterr().err
    assert "schema version 999" in err and "Traceback" not in err


def test_ensure_table_adds_a_column_an_older_workspace_lacks(tmp_path: Path) -> None:
    # a workspace written before campaign_members.joined_by: the cluster stage adds the
    # column (NULL in old rows) instead of failing on its first write
    wsp = tmp_path / "older.duckdb"
    with Workspace(wsp) as ws:
        ws.con.execute("INSERT INTO campaign_members VALUES ('C0001', 'a', 1.0, 1, 'ties')")
        ws.con.execute("ALTER TABLE campaign_members DROP COLUMN joined_by")
    with Workspace(wsp) as ws:
        ws.ensure_table("campaign_members")
        ws.ensure_table("campaign_members")  # idempotent
        assert ws.table("campaign_members").to_pylist() == [
            {"campaign_id": "C0001", "account_id": "a", "strength": 1.0, "degree": 1,
             "joined_by": None}]


def test_not_a_workspace(tmp_path: Path) -> None:
    import duckdb

    p = tmp_path / "other.duckdb"
    con = duckdb.connect(str(p))
    con.execute("CREATE TABLE x (a INT)")
    con.close()
    with pytest.raises(WorkspaceError, match="not an echoscope workspace"):
        Workspace(p)
    with pytest.raises(WorkspaceError, match="does not exist"):
        Workspace(tmp_path / "missing.duckdb", create=False)


def kill_mid_ingest(tmp_path: Path, child: str, before: list[str], after: tuple[str, ...] = (),
                    env: dict[str, str] | None = None) -> str:
    """Run the script ``child`` as ``child.py *before MARKER *after``, wait until it writes
    the marker file (it does so mid-ingest, then keeps going), SIGKILL it and return what
    it wrote (starting with ``mid-ingest``)."""
    marker = tmp_path / "marker"
    script = tmp_path / "child.py"
    script.write_text(child)
    proc = subprocess.Popen([sys.executable, str(script), *before, str(marker), *after],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "child never reached mid-ingest"
        time.sleep(0.01)
    said = marker.read_text()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert said.startswith("mid-ingest"), said
    return said
