"""Spark engine = embedded engine with the episode window and co-action events."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from echoscope.actions import actions_from_posts
from echoscope.detect.coaction import DetectParams, coaction_edges

pytest.importorskip("pyspark")
from test_spark import _assert_edges_equal, make_posts

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def actions() -> pa.Table:
    return actions_from_posts(make_posts())


@pytest.mark.parametrize("min_keys,events,split", [(1, True, 6), (2, True, 1000),
                                                   (2, False, 6)])
def test_episode_window_and_events_identical(spark: Any, actions: pa.Table, min_keys: int,
                                             events: bool, split: int) -> None:
    from echoscope.engines.spark import SparkEngine

    p = DetectParams(alpha=1.0, min_keys=min_keys,
                     event_types=("hashtag", "url", "domain", "repost") if events else (),
                     episode_types=("hashtag", "domain"), episode_gap=600.0,
                     episode_window=1800.0, episode_window_types=("hashtag", "domain", "url"),
                     wide_max_accounts=1000)
    stats: dict[str, Any] = {}
    want = coaction_edges(actions, p, stats=stats)
    assert 1800.0 in set(want["window"].to_pylist())
    assert stats["windows"]["hashtag"] == [60.0, 1800.0]
    got_stats: dict[str, Any] = {}
    got = SparkEngine(spark=spark, split_rows=split).edges(actions, p, stats=got_stats)
    assert got_stats["windows"]["hashtag"] == [60.0, 1800.0]
    _assert_edges_equal(got, want)


def test_events_change_the_generated_edges(actions: pa.Table) -> None:
    """The generated input has multi-hashtag posts, so the comparison above covers the
    event cap (otherwise it would be vacuous)."""
    on = coaction_edges(actions, DetectParams(alpha=1.0, min_keys=1))
    off = coaction_edges(actions, DetectParams(alpha=1.0, min_keys=1, event_types=()))
    assert sum(on["n_keys"].to_pylist()) < sum(off["n_keys"].to_pylist())
