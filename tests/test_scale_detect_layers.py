"""detect_edges loads one action type at a time: the same edges as coaction_edges on all
actions at once."""

from __future__ import annotations

from echoscope.actions import ActionParams, build_actions
from echoscope.detect.coaction import DetectParams, coaction_edges, detect_edges
from echoscope.workspace import Workspace
from test_actions_batched import make_posts


def test_layered_detect_equals_whole() -> None:
    with Workspace(":memory:") as ws:
        ws.append("posts", make_posts(600, seed=5))
        build_actions(ws, ActionParams(batch_posts=101))
        for p in (DetectParams(alpha=1.0), DetectParams(),
                  DetectParams(alpha=1.0, null="shift", window="auto")):
            got = detect_edges(ws, p)
            stats: dict = {}
            want = coaction_edges(ws.table("actions"), p, p.seed, stats=stats)
            assert got.num_rows > 0 or p.alpha < 1.0
            assert got.equals(want)
            assert ws.table("edges").sort_by([("type", "ascending"), ("window", "ascending"),
                                              ("account_a", "ascending"),
                                              ("account_b", "ascending")]).equals(want)
            logged = ws.runs()[-1]["counts"]["detect"]
            assert logged["edges"] == stats["edges"]
            assert logged["family_size"] == stats["family_size"]
