"""``echoscope analyze`` and ``echoscope detect`` from the command line: outputs, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from echoscope.cli import main
from echoscope.cli.analyze import parse_windows
from echoscope.errors import ParameterError

TWEET = ('{"created_at": "Mon May 06 08:%02d:00 +0000 2024", "id_str": "%d", '
         '"text": "Invented note about the %s picnic on Saturday afternoon", '
         '"user": {"id_str": "%d", "screen_name": "%s"}, '
         '"entities": {"hashtags": [], "urls": [], "user_mentions": []}}')


@pytest.fixture
def small_input(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    lines = []
    for i in range(12):
        handle = "=cmd" if i == 0 else f"user{i}"   # a formula-like handle
        lines.append(TWEET % (i, 100 + i, "river" if i < 6 else f"topic{i}", 10 + i, handle))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_analyze_writes_outputs_and_exits_0(small_input: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["analyze", str(small_input), "--out", str(out), "-q", "--seed", "3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Results:" in captured.out and captured.err == ""
    for name in ("accounts.csv", "campaigns.csv", "edges.csv", "edges.parquet", "run.json"):
        assert (out / name).is_file()
    assert (out / "small.echoscope.duckdb").is_file()
    accounts = (out / "accounts.csv").read_text(encoding="utf-8")
    assert "'=cmd" in accounts and "\n=cmd" not in accounts and ",=cmd" not in accounts
    run = json.loads((out / "run.json").read_text())
    assert run["params"]["seed"] == 3 and run["params"]["windows"] == "default"
    if (out / "report.html").exists():
        assert f"Report: {out / 'report.html'}" in captured.out


def test_analyze_json_and_windows(small_input: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "w" / "case.echoscope.duckdb"
    code = main(["analyze", str(small_input), "-o", str(tmp_path / "o"), "-w", str(ws),
                 "--window", "60,3600", "--alpha", "0.01", "--json", "-q"])
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert res["workspace"] == str(ws) and ws.is_file()
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["params"]["windows"] == [60.0, 3600.0] and run["params"]["alpha"] == 0.01
    code = main(["detect", "-w", str(ws), "--window", "120", "-q", "--json"])
    assert code == 0
    stages = json.loads(capsys.readouterr().out)
    assert stages["cluster"]["status"] == "ran"
    assert main(["detect", "-w", str(ws), "-q"]) == 0
    assert "tie edges" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["analyze", "absent.jsonl", "--out", "{tmp}/o"], "no such file"),
    (["analyze", "--out", "{tmp}/o"], "no input files"),
    (["analyze", "{input}", "--out", "{tmp}/o", "--alpha", "3"], "alpha"),
    (["analyze", "{input}", "--out", "{tmp}/o", "--window", "soon"], "--window"),
    (["analyze", "{input}", "--out", "{tmp}/o", "--window", "auto,60"], "auto"),
    (["analyze", "{input}", "--out", "{tmp}/o", "--min-size", "1"], "min_size"),
    (["analyze", "{input}", "--out", "{tmp}/o", "--bank", "{tmp}/none.csv"], "--bank"),
    (["detect", "-w", "{tmp}/absent.echoscope.duckdb"], "does not exist"),
    (["analyze", "{input}"], "--out"),
])
def test_user_errors_exit_2(args: list[str], message: str, small_input: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(tmp=tmp_path, input=small_input) for a in args]
    assert main([*argv, "-q"]) == 2
    assert message in capsys.readouterr().err


def test_bad_records_only_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("this is not json\n{also not}\n", encoding="utf-8")
    assert main(["analyze", str(bad), "--out", str(tmp_path / "o"), "-q"]) == 2
    assert "Error:" in capsys.readouterr().err


def test_parse_windows() -> None:
    assert parse_windows(()) == ((), False)
    assert parse_windows(("auto",)) == ((), True)
    assert parse_windows(("3600", "60,60")) == ((60.0, 3600.0), False)
    with pytest.raises(ParameterError):
        parse_windows(("-5",))


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("analyze", "detect"):
        assert main([cmd, "--help"]) == 0
        assert "Example" in capsys.readouterr().out
