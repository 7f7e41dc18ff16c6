"""Spark engine against the DuckDB/numpy engine, and partition skew of a popular key.

* ``scaling``: default-mode co-action edges (``coaction_edges`` vs the Spark engine's
  ``edges``, local mode) on N synthetic repost + hashtag actions (Zipf-popular keys,
  lognormal account activity, 2 days), wall time of each and whether the edges are equal.
  The Spark figure includes moving the Arrow table into Spark and the edges back.
* ``skew``: a key acted on by 100k accounts, (a) within one 60 s window and (b) spread
  over 24 h: rows per partition of the sweep stage (``spark.bucketed``) with and without
  time-bucket splitting (no sweep is run: (a) alone has 5 * 10^9 pairs).

Prints Markdown; ``--write`` replaces the "## Spark" section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/spark.py --sizes 1e4 1e5 --write
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
HEADING = "## Spark"
T0 = 1_700_000_000 * 1_000_000


def synthetic_actions(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    n_acct = max(50, n // 20)
    act = rng.lognormal(0, 1.2, n_acct)
    acct = rng.choice(n_acct, size=n, p=act / act.sum())
    n_keys = max(20, n // 8)
    key = np.minimum(rng.zipf(1.6, n) - 1, n_keys - 1)
    typ = np.where(rng.random(n) < 0.6, "repost", "hashtag")
    t = T0 + rng.integers(0, 2 * 86400 * 1_000_000, n)
    tab = pa.table({
        "account_id": pa.array([f"a{i:07d}" for i in acct]),
        "time": pa.array(t, pa.timestamp("us")),
        "type": pa.array(typ.tolist()),
        "key": pa.array([f"k{i}" for i in key]),
        "post_id": pa.array([f"p{i}" for i in range(n)]),
    })
    from echoscope import schema

    keep = tab.group_by(["account_id", "time", "type", "key", "post_id"]).aggregate([])
    return schema.check("actions", keep.select(tab.column_names), stage="bench")


def scaling(spark: Any, sizes: list[int]) -> list[str]:
    from echoscope.detect.coaction import DetectParams, coaction_edges
    from echoscope.engines.spark import SparkEngine

    eng = SparkEngine(spark=spark)
    rows = ["| actions | accounts | DuckDB engine s | Spark engine s | edges | equal |",
            "|---:|---:|---:|---:|---:|---|"]
    p = DetectParams(alpha=1.0, types=("repost", "hashtag"))
    for n in sizes:
        acts = synthetic_actions(n)
        t0 = time.perf_counter()
        want = coaction_edges(acts, p)
        t1 = time.perf_counter()
        got = eng.edges(acts, p)
        t2 = time.perf_counter()
        n_acc = len(set(acts["account_id"].to_pylist()))
        rows.append(f"| {acts.num_rows:,} | {n_acc:,} | {t1 - t0:.1f} | {t2 - t1:.1f} | "
                    f"{want.num_rows:,} | {'yes' if got.equals(want) else 'NO'} |")
        print(rows[-1], flush=True)
    return rows


def skew(spark: Any, accounts: int = 100_000) -> list[str]:
    from pyspark.sql import functions as F

    from echoscope.engines.spark import bucketed

    rng = np.random.default_rng(1)
    rows = ["| popular key | split_rows | partitions with rows | max rows in a task | "
            "median rows (non-empty) | copies (overlap) | keys split |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for label, span in (("100k accounts within 60 s", 60 * 1_000_000),
                        ("100k accounts over 24 h", 86400 * 1_000_000)):
        t = np.sort(T0 + rng.integers(0, span, accounts))
        # the popular key plus 2,000 small keys (10 actions each) as background
        bg = 2000 * 10
        tab = pa.table({
            "layer": pa.array(np.zeros(accounts + bg, np.int32)),
            "key": pa.array(["popular"] * accounts + [f"k{i // 10}" for i in range(bg)]),
            "t": pa.array(np.concatenate([t, T0 + rng.integers(0, 86400 * 1_000_000, bg)])),
            "acode": pa.array(np.arange(accounts + bg, dtype=np.int64)),
            "w": pa.array(np.full(accounts + bg, 60 * 1_000_000, np.int64)),
            "n_acc": pa.array(np.concatenate([np.full(accounts, accounts),
                                              np.full(bg, 10)]).astype(np.int64)),
            "stratum": pa.array(np.zeros(accounts + bg, np.int32)),
        })
        la = spark.createDataFrame(tab)
        for split in (10**12, 10_000):
            st: dict[str, Any] = {}
            x = bucketed(la, split, st)
            per = (x.groupBy(F.spark_partition_id().alias("pid"))
                   .agg(F.count(F.lit(1)).alias("n"),
                        F.sum(F.col("is_copy").cast("long")).alias("copies"))
                   .toArrow())
            n = np.asarray(per["n"].to_numpy())
            copies = int(np.asarray(per["copies"].to_numpy()).sum())
            rows.append(f"| {label} | {'none' if split >= 10**12 else f'{split:,}'} | "
                        f"{n.size} of {x.rdd.getNumPartitions()} | {int(n.max()):,} | "
                        f"{int(np.median(n)):,} | {copies:,} | {st.get('split_keys', 0)} |")
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="*", type=float, default=[1e4, 1e5])
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--driver-memory", default="4g",
                    help="local mode: the driver JVM holds the input on its way into Spark")
    ap.add_argument("--skip-skew", action="store_true")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    from echoscope.engines.spark import spark_session

    spark = spark_session(a.master, shuffle_partitions=a.partitions,
                          conf={"spark.driver.memory": a.driver_memory,
                                # partition figures as hashed, not merged afterwards
                                "spark.sql.adaptive.coalescePartitions.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    # warm up: JIT of the numba kernels and the first Spark job are not what we measure
    if a.sizes:
        scaling(spark, [2000])
    head = (f"`benchmarks/spark.py --sizes {' '.join(f'{s:g}' for s in a.sizes)}` on "
            f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs), "
            f"{time.strftime('%Y-%m-%d')}; Spark {spark.version} `{a.master}`, "
            f"spark.sql.shuffle.partitions={a.partitions}, driver memory "
            f"{a.driver_memory}, AQE partition coalescing off; DetectParams(alpha=1, types="
            "repost+hashtag), windows 60 s and 3600 s.")
    body = scaling(spark, [int(s) for s in a.sizes])
    sk = [] if a.skip_skew else skew(spark)
    spark.stop()
    text = "\n".join([HEADING, "", head, "", *body, "",
                      "Partition skew of the sweep stage (one layer, W = 60 s; 2,000 "
                      "background keys of 10 actions):", "", *sk, "",
                      NOTES]) + "\n"
    print(text)
    if a.write:
        old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
        pat = re.compile(r"^## Spark\n.*?(?=^## |\Z)", re.S | re.M)
        new = pat.sub(text + "\n", old) if pat.search(old) else old.rstrip() + "\n\n" + text
        RESULTS.write_text(new, encoding="utf-8")


NOTES = ("Notes: local mode runs every task on this machine, so Spark pays its fixed costs "
         "(job scheduling, Arrow transfer to Python workers, shuffles) without gaining "
         "machines; it is slower here by design, and what it buys is that no stage needs "
         "the whole input on one machine. Time-bucket splitting bounds a task's rows when a "
         "popular key spans many windows; a key whose actions all fall within one window "
         "cannot be split by time (all its pairs are genuine co-actions: 5 * 10^9 for 100k "
         "accounts), and its task holds every row — the DuckDB engine's max_pairs cap is "
         "the guard for that case.")


if __name__ == "__main__":
    sys.exit(main())
