"""The compat modes on Spark (``network --compat cnt|coortweet --engine spark``) give
exactly the embedded engine's edges: every coordination-network-toolkit type, and
CooRTweet on its own reference outputs.

Shares the local SparkSession of tests/test_spark.py (``getOrCreate``: one JVM per test
session). Inputs are generated (neutral invented text) or the bundled CooRTweet set.
"""

from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from echoscope.detect.compat_cnt import CNT_TYPES, CntParams, cnt_network, messages_from_cnt_csv
from echoscope.detect.compat_coortweet import CoortweetParams, coortweet_network, shares_from_csv

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - CI installs Java
    pytest.skip("the Spark engine needs Java 17", allow_module_level=True)

pytestmark = pytest.mark.spark

WORDS = ("river", "lamp", "orange", "garden", "market", "silver", "window", "cloud",
         "bridge", "paper", "coffee", "yellow", "train", "forest", "music", "stone")
URLS = ("http://a.example/1", "https://b.example/x?id=2", "http://c.example/", "d.example/p")
HEADER = ["message_id", "user_id", "username", "repost_id", "reply_id", "message",
          "timestamp", "urls"]


@pytest.fixture(scope="module")
def engine(spark: Any) -> Any:
    from echoscope.engines.spark import SparkEngine

    # a small split threshold: the popular keys are cut into time buckets
    return SparkEngine(spark=spark, split_rows=20)


def _cnt_csv(path: Path, seed: int = 0, n: int = 300, users: int = 14,
             span: int = 400) -> Path:
    rng = random.Random(seed)
    bases = [[rng.choice(WORDS) for _ in range(rng.randint(4, 9))] for _ in range(10)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(n):
            u = rng.randrange(users)
            base = list(rng.choice(bases))
            if rng.random() < 0.4:  # near duplicates
                base[rng.randrange(len(base))] = rng.choice(WORDS)
            text = " ".join(base) + rng.choice(["", "!", " @someone"])
            repost = str(rng.randrange(6)) if rng.random() < 0.3 else ""
            reply = str(100 + rng.randrange(6)) if not repost and rng.random() < 0.3 else ""
            t = float(rng.randrange(span)) + rng.choice([0.0, 0.0, 0.5, 0.25])
            urls = " ".join(rng.sample(URLS, rng.randint(1, 2)))
            w.writerow([str(10_000 + i), f"user{u}", f"name{u}", repost, reply, text,
                        repr(t), urls])
    return path


@pytest.fixture(scope="module")
def cnt_messages(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return messages_from_cnt_csv(str(_cnt_csv(tmp_path_factory.mktemp("cnt") / "in.csv")))


@pytest.mark.parametrize("kind", CNT_TYPES)
def test_cnt_types_identical(engine: Any, cnt_messages: Any, kind: str) -> None:
    from echoscope.engines.compat import pairs_on

    # co_post links any two messages: a shorter window keeps its pairs few
    window, k = (5.0, 1) if kind == "co_post" else (30.0, 2)
    p = CntParams(type=kind, time_window=window, min_edge_weight=k)
    want = cnt_network(cnt_messages, p)
    with pairs_on(engine):
        got = cnt_network(cnt_messages, p)
    assert want.num_rows > 5  # not vacuous
    assert got.equals(want)


def test_pairs_hook_matches_kernel_order(engine: Any) -> None:
    import numpy as np

    from echoscope.detect.kernel import sort_actions, sweep_pairs
    from echoscope.engines.compat import spark_pair_sweep

    rng = np.random.default_rng(1)
    n = 400
    key = rng.integers(0, 4, n).astype(np.int64)  # few keys: the split cuts them
    t = rng.integers(0, 2_000, n).astype(np.int64)
    t[:40] = 500  # ties
    acct = rng.integers(0, 30, n).astype(np.int64)
    perm = sort_actions(key, t, acct.astype(np.int32))
    ii, jj = sweep_pairs(key[perm], t[perm], acct[perm].astype(np.int32), 60)
    stats: dict[str, Any] = {}
    gi, gj = spark_pair_sweep(engine.spark, 20, stats)(key, t, acct, 60)
    assert stats["split_keys"] == 4
    np.testing.assert_array_equal(gi, perm[ii])
    np.testing.assert_array_equal(gj, perm[jj])


@pytest.fixture(scope="module")
def russian(datasets: Path) -> Any:
    p = datasets / "coortweet_russian_coord_tweets" / "russian_coord_tweets.csv"
    if not p.exists():
        pytest.skip(f"{p} is absent")
    return shares_from_csv(str(p))


@pytest.mark.parametrize(("tw", "mp", "name"), [
    (60, 2, "russian_tw60_mp2_edges_all.csv"),
    (10, 5, "russian_tw10_mp5_edges_all.csv"),
])
def test_coortweet_identical_and_reference(spark: Any, russian: Any, datasets: Path,
                                           tw: int, mp: int, name: str) -> None:
    from echoscope.engines.compat import pairs_on
    from echoscope.engines.spark import SparkEngine

    p = CoortweetParams(time_window=tw, min_participation=mp, edge_weight=0.5)
    want = coortweet_network(russian, p)
    with pairs_on(SparkEngine(spark=spark)):
        got = coortweet_network(russian, p)
    assert got.equals(want)  # avg_time_delta bit for bit: pairs in the kernel's order
    with open(datasets / "coortweet_reference_outputs" / name, newline="",
              encoding="utf-8") as f:
        ref = {frozenset((r["from"], r["to"])): r for r in csv.DictReader(f)}
    ours = {frozenset((r["from"], r["to"])): r for r in got.to_pylist()}
    assert ours.keys() == ref.keys() and len(ref) > 10
    for key, r in ref.items():
        assert ours[key]["weight"] == int(r["weight"])
        assert ours[key]["n_content_id"] == int(r["n_content_id"])
        assert ours[key]["avg_time_delta"] == pytest.approx(float(r["avg_time_delta"]),
                                                            abs=1e-9)


def test_network_cli_compat_on_spark(spark: Any, tmp_path: Path) -> None:
    from echoscope.cli import main

    src = _cnt_csv(tmp_path / "in.csv", seed=3, n=120)
    out = {}
    for name, extra in (("duckdb", []), ("spark", ["--engine", "spark",
                                                   "--spark-master", "local[2]"])):
        dest = tmp_path / f"{name}.csv"
        assert main(["network", str(src), "--compat", "cnt", "--type", "co_link",
                     "--time-window", "60", "--quiet", "-o", str(dest), *extra]) == 0
        out[name] = dest.read_text(encoding="utf-8")
    assert out["spark"] == out["duckdb"] and out["duckdb"].count("\n") > 3
