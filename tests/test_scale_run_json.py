"""analyze hashes each input once for the run log and reuses that hash in run.json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from echoscope import pipeline, workspace
from echoscope.simulate import SimParams, simulate


def test_run_json_inputs_hashed_once_and_exact(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sim = tmp_path / "sim"
    simulate(sim, SimParams(posts=1500, seed=3, days=2.0))
    data = sim / "tweets.jsonl"
    calls: list[str] = []
    real = workspace.file_sha256

    def counting(path: Any, *a: Any, **kw: Any) -> str:
        calls.append(str(path))
        return real(path, *a, **kw)

    monkeypatch.setattr(workspace, "file_sha256", counting)
    monkeypatch.setattr(pipeline, "file_sha256", counting)
    res = pipeline.analyze([data], tmp_path / "out", suspended=sim / "suspended.csv")
    run = json.loads((res.out_dir / "run.json").read_text())
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    assert run["inputs"] == [{"path": str(data), "sha256": digest,
                              "bytes": data.stat().st_size}]
    # the run log's hash, and ingest's own (idempotence) check unless ingest reuses it
    # (its hasher thread may read the file without file_sha256); run.json adds none
    assert 1 <= calls.count(str(data)) <= 2
