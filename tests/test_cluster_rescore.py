"""Rescoring the campaigns after the signals stage (cluster.rescore_campaigns): the same
tables a second find_campaigns would write, without clustering again."""

from __future__ import annotations

import pyarrow as pa
import pytest

from echoscope import schema
from echoscope.cluster import ClusterResult, find_campaigns, rescore_campaigns
from echoscope.errors import ParameterError
from echoscope.pipeline import AnalyzeParams, analyze
from echoscope.simulate import sample_path
from echoscope.workspace import Workspace

TABLES = ("campaigns", "campaign_members", "campaign_evidence")


def _tables(ws: Workspace) -> dict[str, list[dict]]:
    return {t: ws.sql(f"SELECT * FROM {t} ORDER BY ALL").to_pylist() for t in TABLES}


def test_rescore_equals_clustering_again(tmp_path) -> None:
    res = analyze([str(sample_path())], tmp_path / "out", params=AnalyzeParams(seed=0))
    with Workspace(res.workspace) as ws:
        params = AnalyzeParams(seed=0).resolved_cluster()
        first = find_campaigns(ws, params)
        members = ws.sql("SELECT account_id FROM campaign_members ORDER BY 1").to_pylist()
        # flag every member's automation, so that scores and signals change
        ws.replace("account_signals", pa.Table.from_pylist([
            {"account_id": m["account_id"], "signal": "test", "value": 1.0, "flagged": True,
             "reason": "test"} for m in members], schema=schema.TABLES["account_signals"].schema))
        rescored = rescore_campaigns(ws, first)
        got = _tables(ws)
        assert rescored.n_campaigns == first.n_campaigns > 0
        assert all("automation" in c["signals"] for c in got["campaigns"])
        find_campaigns(ws, params)
        assert got == _tables(ws)


def test_rescore_needs_an_assignment() -> None:
    with Workspace(":memory:") as ws, pytest.raises(ParameterError, match="find_campaigns"):
        rescore_campaigns(ws, ClusterResult(0, 0, 0, 0, 0, "rule"))
