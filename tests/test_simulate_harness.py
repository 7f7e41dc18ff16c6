"""Benchmark harness helpers: RESULTS.md section handling, toolkit flags, child rusage."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("harness", ROOT / "benchmarks" / "harness.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["harness"] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    return mod


def test_write_section_replaces_only_its_own_section(harness: ModuleType, tmp_path: Path) -> None:
    p = tmp_path / "RESULTS.md"
    p.write_text("# Benchmark results\n\n## Other (issue 9)\n\nkeep me\n")
    sec1 = f"{harness.HEADING}\n{harness.BEGIN}\nfirst\n{harness.END}\n"
    harness.write_section(p, sec1)
    p.write_text(p.read_text() + "\n## Later (issue 4)\n\nkeep me too\n")
    harness.write_section(p, f"{harness.HEADING}\n{harness.BEGIN}\nsecond\n{harness.END}\n")
    text = p.read_text()
    assert "keep me\n" in text and "keep me too" in text
    assert "second" in text and "first" not in text
    assert text.count(harness.HEADING) == 1 and text.count(harness.BEGIN) == 1


def test_toolkit_flags_are_edge_components(harness: ModuleType, tmp_path: Path) -> None:
    e = tmp_path / "edges.csv"
    e.write_text('"source","target","weight","edge_type"\n"1","2","3","co_retweet"\n'
                 '"2","3","2","co_retweet"\n"7","8","2","co_retweet"\n"9","9","5","x"\n')
    path = harness.cnt_accounts_csv([e], tmp_path / "out")
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    groups = {r[0]: r[2] for r in rows}
    assert set(groups) == {"1", "2", "3", "7", "8"}
    assert groups["1"] == groups["2"] == groups["3"] != groups["7"] == groups["8"]
    assert harness.undirected(harness.read_cnt_edges(e)) == {("1", "2"), ("2", "3"),
                                                               ("7", "8")}


def test_run_child_measures_time_memory_and_exit_code(harness: ModuleType,
                                                      tmp_path: Path) -> None:
    ok = harness.run_child("ok", [sys.executable, "-c", "x = bytearray(60_000_000)"], tmp_path)
    assert ok.rc == 0 and ok.wall > 0 and ok.peak_mb > 50
    bad = harness.run_child("bad", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path)
    assert bad.rc == 3 and not bad.ok


def test_run_child_stops_at_the_timeout(harness: ModuleType, tmp_path: Path) -> None:
    s = harness.run_child("slow", [sys.executable, "-c", "import time; time.sleep(30)"],
                          tmp_path, timeout=0.5)
    assert s.rc == harness.TIMEOUT_RC and s.wall < 20
    assert "step-timeout" in harness._failure(s)
