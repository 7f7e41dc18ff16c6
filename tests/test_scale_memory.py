"""Every workspace connection has a DuckDB memory limit and a spill folder; run.json
records them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from echoscope import pipeline
from echoscope.errors import WorkspaceError
from echoscope.simulate import SimParams, simulate
from echoscope.workspace import Workspace, default_memory_limit


def test_default_limit_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECHOSCOPE_MEMORY_LIMIT", raising=False)
    mib = int(default_memory_limit().removesuffix("MiB"))
    assert 256 <= mib <= 2048
    with Workspace(tmp_path / "w.duckdb") as ws:
        s = ws.engine_settings()
        assert s["temp_directory"] == str(tmp_path / "w.duckdb") + ".tmp"
        assert s["memory_limit"].endswith("iB")


def test_env_and_argument_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHOSCOPE_MEMORY_LIMIT", "300MB")
    with Workspace(tmp_path / "w.duckdb") as ws:
        assert ws.engine_settings()["memory_limit"] == "286.1 MiB"
    with Workspace(tmp_path / "w.duckdb", memory_limit="1GB") as ws:
        assert ws.engine_settings()["memory_limit"] == "953.6 MiB"
    monkeypatch.setenv("ECHOSCOPE_MEMORY_LIMIT", "lots")
    with pytest.raises(WorkspaceError, match="ECHOSCOPE_MEMORY_LIMIT"):
        Workspace(tmp_path / "w2.duckdb")


def test_run_json_records_engine_settings(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHOSCOPE_MEMORY_LIMIT", "500MB")
    sim = tmp_path / "sim"
    simulate(sim, SimParams(posts=1500, seed=3, days=2.0))
    res = pipeline.analyze([sim / "tweets.jsonl"], tmp_path / "out")
    run = json.loads((res.out_dir / "run.json").read_text())
    assert run["engine"]["memory_limit"] == "476.8 MiB"
    assert run["engine"]["temp_directory"].endswith(".duckdb.tmp")
    assert run["counts"]["actions"] > 0


def test_appends_in_a_transaction_do_not_keep_arrow_batches(tmp_path: Path) -> None:
    """A registered view inside a transaction keeps its Arrow data until COMMIT (DuckDB
    2.0); Workspace._insert must not, or batched ingest/actions grow with the input."""
    import pyarrow as pa

    with Workspace(tmp_path / "w.duckdb") as ws, ws.transaction() as con:
        con.execute("CREATE TABLE t (a VARCHAR, n BIGINT)")
        base = pa.total_allocated_bytes()
        one = 0
        for i in range(10):
            batch = pa.table({"a": pa.array([f"text {i} {j} " * 8 for j in range(20_000)]),
                              "n": pa.array(range(20_000), pa.int64())})
            one = batch.nbytes
            ws._insert("t", batch)
            del batch
        held = pa.total_allocated_bytes() - base
        assert held < 2 * one, (held, one)
        assert ws.scalar("SELECT count(*) FROM t") == 200_000


def test_capped_memory_lowers_and_restores_the_limit(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHOSCOPE_MEMORY_LIMIT", "2GB")
    with Workspace(tmp_path / "w.duckdb") as ws:
        before = ws.engine_settings()["memory_limit"]
        with ws.capped_memory("500MB"):
            assert ws.engine_settings()["memory_limit"] == "476.8 MiB"
        assert ws.engine_settings()["memory_limit"] == before
        with ws.capped_memory("8GB"):  # never raised
            assert ws.engine_settings()["memory_limit"] == before
        with pytest.raises(RuntimeError), ws.capped_memory("500MB"):
            raise RuntimeError("restored on errors too")
        assert ws.engine_settings()["memory_limit"] == before
