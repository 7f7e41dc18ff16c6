"""The peer-compatible modes (``--compat cnt|coortweet``) with their pair sweep on Spark.

Both modes reduce to one sort-and-sweep over (key, time, account): pairs of rows with
the same key (reposted id, normalised text, URL, replied-to id, prefix token of
``co_similar_tweet``, CooRTweet object id) within the window. With ``--engine spark`` that
sweep runs on Spark exactly as the default mode's (:func:`echoscope.engines.spark.bucketed`:
rows repartitioned by (key, time bucket), popular keys cut into buckets of at least one
window with one window of overlap, the numba kernel per partition); the pairs come back to
the driver in the kernel's order and the rest of each mode (the toolkit's directed
weights, Jaccard verification, CooRTweet's participation filter and edge aggregates) runs
unchanged, so the edges are identical to the embedded engine's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from echoscope.engines.hooks import PAIR_SWEEP, PairSweep

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

__all__ = ["pairs_on", "spark_pair_sweep"]

I64 = npt.NDArray[np.int64]


def spark_pair_sweep(spark: SparkSession, split_rows: int | None = None,
                     stats: dict[str, Any] | None = None) -> PairSweep:
    """A :data:`echoscope.engines.hooks.PAIR_SWEEP` function that sweeps on ``spark``."""
    from echoscope.engines.spark import SPLIT_ROWS, bucketed

    rows_per_bucket = split_rows or SPLIT_ROWS

    def sweep(key: I64, t_us: I64, acct: npt.NDArray[np.integer], w_us: int
              ) -> tuple[I64, I64]:
        from echoscope.detect.kernel import sort_actions

        n = int(key.size)
        empty = np.zeros(0, dtype=np.int64)
        if n < 2:
            return empty, empty.copy()
        key = np.asarray(key, dtype=np.int64)
        t_us = np.asarray(t_us, dtype=np.int64)
        a64 = np.asarray(acct, dtype=np.int64)
        zeros = np.zeros(n, dtype=np.int64)
        tab = pa.table({
            "layer": pa.array(np.zeros(n, dtype=np.int32)), "key": pa.array(key),
            "t": pa.array(t_us), "acode": pa.array(a64),
            "idx": pa.array(np.arange(n, dtype=np.int64)),
            "w": pa.array(np.full(n, int(w_us), dtype=np.int64)),
            "n_acc": pa.array(zeros), "stratum": pa.array(zeros.astype(np.int32))})
        st: dict[str, Any] = stats if stats is not None else {}
        x = bucketed(spark.createDataFrame(tab), rows_per_bucket, st, extra=("idx",))
        got = x.mapInArrow(_pairs_partition, "i long, j long").toArrow()
        st["pairs"] = st.get("pairs", 0) + got.num_rows
        i = got["i"].to_numpy().astype(np.int64)
        j = got["j"].to_numpy().astype(np.int64)
        # the kernel's order: by the rank of i, then of j, in the stable sorted order
        rank = np.empty(n, dtype=np.int64)
        rank[sort_actions(key, t_us, a64.astype(np.int32))] = np.arange(n, dtype=np.int64)
        swap = rank[i] > rank[j]
        i, j = np.where(swap, j, i), np.where(swap, i, j)
        o = np.lexsort((rank[j], rank[i]))
        return i[o], j[o]

    return sweep


def _pairs_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Pairs (row indices) of one partition of whole (key, bucket) groups."""
    from echoscope.engines.spark import _partition_table, bucket_pairs

    tab = _partition_table(batches)
    if tab is None:
        return
    idx = tab["idx"].to_numpy()
    first = np.argsort(idx, kind="stable")  # ties keep the input order, as the kernel
    tab = tab.take(pa.array(first))
    idx = idx[first]
    ii, jj = bucket_pairs(tab, tab["key"].to_numpy())
    if ii.size:
        yield pa.RecordBatch.from_pydict({"i": pa.array(idx[ii]),
                                          "j": pa.array(idx[jj])})


@contextmanager
def pairs_on(engine: Any) -> Iterator[None]:
    """Run the compat modes' pair sweep on ``engine`` (an engine from
    :func:`echoscope.engines.get_engine`) inside the ``with`` block; the embedded engine
    leaves the built-in sweep in place."""
    if getattr(engine, "name", "duckdb") == "duckdb":
        yield
        return
    token = PAIR_SWEEP.set(spark_pair_sweep(engine.spark, engine.split_rows))
    try:
        yield
    finally:
        PAIR_SWEEP.reset(token)
