"""The configuration null counted in bouts (``DetectParams.null_bouts``) on the Spark
engine: identical edges to the embedded engine (every column, floats bit for bit)."""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from echoscope.actions import actions_from_posts
from echoscope.detect.coaction import DetectParams, coaction_edges
from test_detect import organic, table
from test_null_bouts import storm_crew
from test_spark import _assert_edges_equal

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - CI installs Java
    pytest.skip("the Spark engine needs Java 17", allow_module_level=True)

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def engine(spark: Any) -> Any:
    from echoscope.engines.spark import SparkEngine

    # a tiny split threshold: popular keys are cut into time buckets for the sweep (the
    # bouts themselves are always computed per whole key)
    return SparkEngine(spark=spark, split_rows=6)


def _assert_same(engine: Any, acts: pa.Table, p: DetectParams) -> pa.Table:
    """Edges and the account-level test's table (``stats["_accounts"]``, which the tested
    pairs' own bout pairs set) identical between the engines; returns the edges."""
    ws: dict[str, Any] = {}
    want = coaction_edges(acts, p, stats=ws)
    gs: dict[str, Any] = {}
    _assert_edges_equal(engine.edges(acts, p, stats=gs), want)
    wa, ga = ws["_accounts"], gs["_accounts"]
    assert wa.num_rows > 0
    _assert_edges_equal(ga, wa)
    return want


def _mixed() -> pa.Table:
    """Two action types; a planted crew acting repeatedly on its keys (several bouts per
    account and key), organic background with some repeats."""
    rng = np.random.default_rng(11)
    acc, key, t = organic(n_acc=80, n_keys=400, n_act=1500, seed=4)
    rep = rng.choice(acc.size, 200, replace=False)  # organic repeats within minutes
    acc = np.r_[acc, acc[rep]]
    key = np.r_[key, key[rep]]
    t = np.r_[t, t[rep] + rng.integers(1, 300, rep.size)]
    ca, ck, ct = [], [], []
    for k in range(5):
        for b in range(3):  # three bursts per key, hours apart: several bouts each
            t0 = k * 86400 + b * 4 * 3600
            for a in range(6):
                for _ in range(4):
                    ca.append(90000 + a)
                    ck.append(10**6 + k)
                    ct.append(t0 + int(rng.integers(0, 240)))
    reposts = table(np.r_[acc, ca], np.r_[key, ck], np.r_[t, ct])
    h_acc, h_key, h_t = organic(n_acc=60, n_keys=200, n_act=800, seed=9)
    tags = table(np.r_[h_acc, ca], np.r_[h_key, ck], np.r_[h_t, ct], typ="hashtag")
    return pa.concat_tables([reposts, tags.replace_schema_metadata(reposts.schema.metadata)])


@pytest.mark.parametrize(("windows", "min_keys", "min_stratum_keys"),
                         [((60.0,), 1, 0), ((60.0, 600.0), 2, 0), ((300.0,), 2, 8)])
def test_bouts_identical(engine: Any, windows: tuple[float, ...], min_keys: int,
                         min_stratum_keys: int) -> None:
    acts = _mixed()
    p = DetectParams(types=("repost", "hashtag"), windows=windows, alpha=1.0,
                     min_keys=min_keys, min_stratum_keys=min_stratum_keys, null_bouts=True)
    want = _assert_same(engine, acts, p)
    assert want.num_rows > 0
    # the bouts change the null here (else the test could not tell them apart)
    base = coaction_edges(acts, p.replace(null_bouts=False))
    assert base["p_value"].to_pylist() != want["p_value"].to_pylist()


def test_storm_crew_identical(engine: Any) -> None:
    acts = storm_crew()
    p = DetectParams(types=("repost",), windows=(60.0,), alpha=1.0, null_bouts=True)
    assert _assert_same(engine, acts, p).num_rows > 0


def test_default_params_with_bouts_identical(engine: Any) -> None:
    from test_spark import make_posts

    acts = actions_from_posts(make_posts())
    p = DetectParams(null_bouts=True)
    assert _assert_same(engine, acts, p).num_rows > 0
