"""`echoscope ingest` / `echoscope info` from the command line: exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from echoscope.cli import main

TWEET = (b'{"id_str": "1", "created_at": "Fri Jun 13 09:12:44 +0000 2014", "text": "hi", '
         b'"user": {"id_str": "10", "screen_name": "a"}}\n')


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_unknown_type_and_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("plain words\n", encoding="utf-8")
    ws = str(tmp_path / "ws.duckdb")
    code, _, err = run(["ingest", str(f), "-w", ws, "-q"], capsys)
    assert code == 2
    assert err.startswith("Error: cannot tell the format of") and "Traceback" not in err
    assert err.count("\n") == 1  # one line
    code, _, err = run(["ingest", str(tmp_path / "nope.jsonl"), "-w", ws, "-q"], capsys)
    assert code == 2 and "nope.jsonl: no such file" in err and "Traceback" not in err
    code, _, err = run(["ingest", str(tmp_path), "-w", ws, "-q"], capsys)
    assert code == 2 and "is a folder" in err
    code, _, err = run(["ingest", str(f), "-w", ws, "--format", "nope", "-q"], capsys)
    assert code == 2 and "unknown input format 'nope'" in err


def test_empty_strict_and_bad_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "ws.duckdb")
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    code, _, err = run(["ingest", str(empty), "-w", ws, "-q"], capsys)
    assert code == 2 and "e.jsonl is empty" in err
    bad = tmp_path / "b.jsonl"
    bad.write_bytes(TWEET + b"{nope\n")
    code, _, err = run(["ingest", str(bad), "-w", ws, "-q", "--strict"], capsys)
    assert code == 2 and "record 2" in err and "--strict" in err
    code, _, err = run(["ingest", str(bad), "-w", ws, "-q", "--map", "oops"], capsys)
    assert code == 2 and "NAME=COLUMN" in err


def test_ingest_then_info_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "ws.duckdb")
    f = tmp_path / "t.jsonl"
    f.write_bytes(TWEET + b"{broken\n")
    code, out, _ = run(["ingest", str(f), "-w", ws, "-q", "--json"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["new_posts"] == 1 and summary["rejects"] == 1
    code, out, _ = run(["info", "-w", ws, "--json", "--rejects", "5"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["posts"] == 1 and info["accounts"] == 1 and info["rejects"] == 1
    assert info["by_platform"] == [{"platform": "twitter", "posts": 1, "accounts": 1}]
    assert info["by_kind"] == [{"kind": "post", "posts": 1}]
    assert info["time_range"] == {"first": "2014-06-13T09:12:44Z", "last": "2014-06-13T09:12:44Z"}
    assert info["files"][0]["format"] == "twitter-v1" and info["files"][0]["records"] == 2
    assert info["meta"]["schema_version"] == "1"
    assert info["reject_sample"][0]["source_record"] == 2
    assert info["reject_sample"][0]["raw"] == "{broken\n"
    code, out, _ = run(["info", "-w", ws], capsys)
    assert code == 0 and "posts 1" in out and "twitter: 1 posts" in out
    code, _, err = run(["info", "-w", str(tmp_path / "none.duckdb")], capsys)
    assert code == 2 and "does not exist" in err


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from echoscope.cli import run; run()", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_quiet_silences_stderr_and_data_goes_to_stdout(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_bytes(TWEET + b"{broken\n")
    loud = _cli(["ingest", str(f), "-w", str(tmp_path / "a.duckdb")])
    assert loud.returncode == 0
    assert "1 of 2 records rejected" in loud.stderr  # status lines on stderr
    assert "1 new posts" in loud.stdout and "rejected" not in loud.stderr.split("\n")[-1:]
    quiet = _cli(["ingest", str(f), "-w", str(tmp_path / "b.duckdb"), "--quiet"])
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout == loud.stdout.replace("a.duckdb", "b.duckdb")


def test_map_via_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.csv"
    f.write_text("who,when,what\nu1,1700000000,hello\n", encoding="utf-8")
    ws = str(tmp_path / "ws.duckdb")
    code, out, _ = run(["ingest", str(f), "-w", ws, "-q", "--map",
                        "account_id=who,created_at=when", "--map", "text=what",
                        "--platform", "forum"], capsys)
    assert code == 0 and "[csv]" in out
    code, out, _ = run(["info", "-w", ws, "--json"], capsys)
    assert json.loads(out)["by_platform"][0]["platform"] == "forum"


def test_info_neutralises_terminal_escapes(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.csv"
    f.write_text("post_id,account_id,created_at,platform\n"
                 "1,u,1700000000,\"evil\x1b[31mred\"\n", encoding="utf-8")
    ws = str(tmp_path / "ws.duckdb")
    assert run(["ingest", str(f), "-w", ws, "-q"], capsys)[0] == 0
    code, out, _ = run(["info", "-w", ws], capsys)
    assert code == 0 and "\x1b" not in out and "evil?[31mred" in out
