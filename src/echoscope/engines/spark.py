"""The Spark engine: actions and co-action edges on Apache Spark, identical to the default.

Every stage runs the single-machine code per partition through Spark's Arrow-based
``mapInArrow`` (one implementation of each kernel for both engines); Spark only moves rows
between partitions and counts. docs/spark.md states the strategy and the limits:

* **actions**: :func:`echoscope.actions.actions_from_posts` per partition for every type
  but ``near_text`` (each post's actions depend on that post alone). ``near_text`` is a
  global step: normalised texts and MinHash signatures per partition, LSH band buckets
  grouped in Spark, each bucket's members compared with its smallest text (the rule of
  :func:`echoscope.detect.minhash.cluster_near_duplicates` over sorted texts), and the
  connected components of the (small) set of joins computed on the driver.
* **co-action sweep**: rows are partitioned by (layer, key, time bucket). Keys with more
  than ``split_rows`` actions in a layer are cut into time buckets of width
  ``B >= W``; an action within ``W`` of the start of its bucket is also copied into the
  previous bucket, and pairs of two copies are dropped there, so every pair is emitted
  exactly once. Each partition runs :func:`echoscope.detect.kernel.sort_actions` and
  :func:`~echoscope.detect.kernel.sweep_pairs`.
* **aggregation**: pair rows are repartitioned by (layer, account pair) and aggregated
  with the same numba ``_aggregate`` as :func:`echoscope.detect.coaction.coaction_edges`,
  keys ranked in the same (sorted) order so the rarity sums are bit-identical.
* **null model**: pairs per popularity stratum and actions per account and stratum are
  counted in Spark (the shift null: shared action pairs per tested pair and each layer's
  span); p-values, q-values and weights are computed on the driver by
  ``coaction._finish``, the same numpy code. The null counted in bouts
  (``null_bouts``): bouts, co-acting bout pairs and the tested pairs' own bout pairs per
  (layer, key) partition by the helpers of :mod:`echoscope.detect.null`
  (``bouts``, ``bout_pairs_per_key``, ``pair_bout_pairs``), counts summed in Spark.
* **episodes** (:func:`episodes_df`) and ``window="auto"`` (:func:`auto_window`): the
  single-machine functions per (type, key) partition, integer counts summed in Spark.
* the compat modes' pair sweep: :mod:`echoscope.engines.compat`.

The single-machine ``max_pairs`` cap (a memory guard) is not applied: the engines agree
whenever the DuckDB engine's run log shows no capped keys. Pruning is not needed either:
it is exact in the single-machine code (it never changes an edge).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from echoscope import progress, schema
from echoscope.actions import _POST_COLUMNS, ActionParams, actions_from_posts
from echoscope.errors import ParameterError, UserError
from echoscope.workspace import RunLog, Workspace

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "MAX_DRIVER_ACCOUNTS",
    "MAX_DRIVER_EDGES",
    "SparkEngine",
    "actions_df",
    "auto_window",
    "bucketed",
    "edges_from_actions",
    "episodes_df",
    "read_posts",
    "run_job",
    "spark_session",
    "to_arrow",
]

US = 1_000_000
#: accounts the driver holds (account dictionary, per-stratum counts); above it: an error
MAX_DRIVER_ACCOUNTS = 50_000_000
#: co-action edges the driver clusters with igraph; above it: an error
MAX_DRIVER_EDGES = 50_000_000
#: default: keys with more actions than this in one layer are split into time buckets
SPLIT_ROWS = 200_000

_ACTIONS_DDL = "account_id string, time timestamp, type string, key string, post_id string"
_PAIRS_DDL = ("layer int, code long, key string, delay long, event long, rarity double, "
              "stratum int")
_AGG_DDL = ("layer int, code long, n_keys long, n_pairs long, min_delay long, "
            "median_delay double, rarity double, own array<long>")
_ACTION_SORT = [("type", "ascending"), ("key", "ascending"), ("time", "ascending"),
                ("account_id", "ascending"), ("post_id", "ascending")]


# -- session and conversion -----------------------------------------------------------


def spark_session(master: str | None = None, *, shuffle_partitions: int | None = None,
                  conf: dict[str, str] | None = None) -> SparkSession:
    """A SparkSession: the active one (e.g. under ``spark-submit``) or a new one.

    A new session gets ``master`` (default ``local[*]``), the UI off and the session time
    zone UTC. Local sessions run their Python workers with this interpreter
    (``PYSPARK_PYTHON``), which has numpy, numba and pyarrow.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise UserError("--engine spark needs PySpark and Java 17: "
                        "pip install 'echoscope[spark]'.") from e
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        active.conf.set("spark.sql.session.timeZone", "UTC")
        return active
    # under spark-submit (its gateway is up) the master comes from spark-submit's
    # --master: setting one here would override it and silently run in local mode
    submitted = master is None and "PYSPARK_GATEWAY_PORT" in os.environ
    url = master or ("" if submitted else "local[*]")
    if url.startswith("local"):
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    b = SparkSession.builder.master(url) if url else SparkSession.builder
    b = (b.appName("echoscope")
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.session.timeZone", "UTC"))
    if shuffle_partitions:
        b = b.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    # numba's kernels cache even when echoscope is imported from a shipped wheel
    # (echoscope.engines.numba_cache); the standard locators still come first
    from echoscope.engines.numba_cache import LOCATOR_CLASSES

    b = b.config("spark.executorEnv.NUMBA_CACHE_LOCATOR_CLASSES", LOCATOR_CLASSES)
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    try:
        s = b.getOrCreate()
    except Exception as e:  # Java missing, bad master URL, ...
        raise UserError(f"could not start Spark with master {url!r}: {e}. The Spark engine "
                        "needs Java 17 (JAVA_HOME or java on PATH).") from e
    s.conf.set("spark.sql.session.timeZone", "UTC")
    _ship_own_wheel(s)
    return s


def _ship_own_wheel(spark: SparkSession) -> None:
    """When echoscope runs from a wheel (``spark-submit --py-files echoscope-...whl``),
    ship it to the executors as a ``.zip``: Python workers put only ``.zip``, ``.egg``
    and ``.jar`` files of ``--py-files`` on their path, never a ``.whl``."""
    import shutil
    import tempfile

    from echoscope.engines.numba_cache import own_archive

    archive = own_archive()
    if archive is None or archive.lower().endswith((".zip", ".egg")):
        return
    name = os.path.basename(archive).rsplit(".", 1)[0] + ".zip"
    folder = tempfile.mkdtemp(prefix="echoscope-ship-")
    dest = os.path.join(folder, name)
    shutil.copyfile(archive, dest)
    spark.sparkContext.addPyFile(dest)


def _naive_ts(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Any Arrow timestamp as the canonical naive UTC microseconds."""
    a = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pc.cast(pc.cast(a, pa.timestamp("us", tz="UTC") if a.type.tz is None else a.type)
                   .cast(pa.int64()), schema.TS)


def to_arrow(df: DataFrame, table: str) -> pa.Table:
    """Collect a Spark DataFrame as a canonical Arrow table (timestamps naive UTC)."""
    t = df.toArrow()
    cols = {}
    for name in schema.TABLES[table].schema.names:
        c = t.column(name)
        cols[name] = _naive_ts(c) if pa.types.is_timestamp(c.type) else c
    return schema.check(table, pa.table(cols), stage=f"spark {table}")


def _partition_table(batches: Iterator[pa.RecordBatch]) -> pa.Table | None:
    bs = [b for b in batches if b.num_rows]
    return pa.Table.from_batches(bs) if bs else None


# -- input ----------------------------------------------------------------------------


def read_posts(spark: SparkSession, paths: str | list[str], fmt: str = "parquet") -> DataFrame:
    """Posts from any Spark-readable path: ``parquet`` (posts schema) or ``twitter-v1``.

    ``twitter-v1`` reads JSON lines as text and parses every partition with the
    twitter_v1 loader (:func:`echoscope.ingest.twitter_v1.parse_tweet`); records it
    cannot parse raise an error naming the file and line (ingest them into a workspace to
    keep rejects aside).
    """
    paths = [paths] if isinstance(paths, str) else list(paths)
    if fmt == "parquet":
        df = spark.read.parquet(*paths)
        missing = [c for c in _POST_COLUMNS if c not in df.columns]
        if missing:
            raise UserError(f"{', '.join(paths)}: lacks posts column(s) {missing}; expected "
                            "a Parquet file with the posts schema (docs/spark.md).")
        return df
    if fmt == "twitter-v1":
        from pyspark.sql import functions as F

        lines = spark.read.text(paths).select(F.input_file_name().alias("file"),
                                              F.col("value").alias("line"))
        return lines.mapInArrow(_parse_v1, _posts_ddl())
    raise ParameterError(f"format = {fmt!r} is not 'parquet' or 'twitter-v1'.")


def _posts_ddl() -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema.TABLES["posts"].schema)


def _parse_v1(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    import json

    from echoscope.ingest._base import Sink
    from echoscope.ingest.twitter_v1 import _dispatch

    for batch in batches:
        files = batch.column(0).to_pylist()
        lines = batch.column(1).to_pylist()
        if not lines:
            continue
        sink = Sink(str(files[0]), "twitter-v1", strict=True)
        for i, (f, line) in enumerate(zip(files, lines, strict=True)):
            if not line or not line.strip():
                continue
            raw = line.encode("utf-8")
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise UserError(f"{f}: a line is not JSON ({e}); ingest the file into a "
                                "workspace to keep bad records aside.") from e
            _dispatch(obj, sink, i + 1, raw)
        posts = _sink_posts(sink)
        if posts is not None and posts.num_rows:
            yield from posts.to_batches()


def _sink_posts(sink: Any) -> pa.Table | None:
    from echoscope.ingest._driver import posts_table

    if sink.reject_rows:
        rec, reason, _ = sink.reject_rows[0]
        raise UserError(f"{sink.source_file}: record {rec} of a Spark batch could not be "
                        f"parsed ({reason}); ingest the file into a workspace to keep bad "
                        "records aside.")
    if not sink.post_rows:
        return None
    return schema.check("posts", posts_table(sink.post_rows, sink.source_file),
                        stage="spark ingest")


# -- actions --------------------------------------------------------------------------


def actions_df(posts: DataFrame, params: ActionParams | None = None) -> DataFrame:
    """Actions of a Spark DataFrame of posts (a Spark DataFrame with the actions columns)."""
    from pyspark.sql import functions as F

    p = params or ActionParams()
    posts = posts.select(*_POST_COLUMNS)
    parts: list[DataFrame] = []
    other = tuple(t for t in p.types if t != "near_text")
    if other:
        po = replace(p, types=other)

        def per_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            t = _partition_table(batches)
            if t is None:
                return
            t = t.set_column(t.schema.get_field_index("created_at"), "created_at",
                             _naive_ts(t.column("created_at")))
            yield from actions_from_posts(t, po).to_batches()

        parts.append(posts.mapInArrow(per_partition, _ACTIONS_DDL))
    if "near_text" in p.types:
        parts.append(_near_text(posts, p))
    if not parts:
        return posts.sparkSession.createDataFrame([], _ACTIONS_DDL)
    out = parts[0]
    for x in parts[1:]:
        out = out.unionByName(x)
    return out.dropDuplicates().select(
        "account_id", "time", "type", "key", F.col("post_id"))


def _near_text(posts: DataFrame, p: ActionParams) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from echoscope.detect.minhash import _band_hash, minhash_signatures
    from echoscope.normalise import normalise_text, text_hash

    sub = posts.where(F.col("created_at").isNotNull() & F.col("account_id").isNotNull()
                      & F.col("kind").isin(list(p.text_kinds)) & F.col("text").isNotNull())
    min_len = p.min_text_length

    def normalised(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            if not b.num_rows:
                continue
            enc = pc.dictionary_encode(b.column("text"))
            norm = [normalise_text(t, strip_urls=True, strip_mentions=True)
                    for t in enc.dictionary.to_pylist()]
            ok = np.array([len(t) >= min_len for t in norm], dtype=bool)
            idx = enc.indices.to_numpy(zero_copy_only=False)
            rows = np.flatnonzero(ok[idx])
            if not rows.size:
                continue
            hashes = [text_hash(t) if good else "" for t, good in zip(norm, ok, strict=True)]
            sel = pa.array(rows)
            yield pa.RecordBatch.from_pydict({
                "account_id": b.column("account_id").take(sel),
                "time": _naive_ts(b.column("created_at")).take(sel),
                "post_id": b.column("post_id").take(sel),
                "norm": pa.array([norm[i] for i in idx[rows]], pa.string()),
                "th": pa.array([hashes[i] for i in idx[rows]], pa.string()),
            })

    rows = sub.select("account_id", "created_at", "post_id", "text").mapInArrow(
        normalised, "account_id string, time timestamp, post_id string, norm string, "
                    "th string")
    k, num_perm, bands, seed = p.shingle, p.num_perm, p.bands, p.seed
    n_rows = num_perm // bands

    def signatures(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            if not b.num_rows:
                continue
            texts = b.column("norm").to_pylist()
            sig = minhash_signatures(texts, k=k, num_perm=num_perm, seed=seed)
            yield pa.RecordBatch.from_pydict({
                "norm": b.column("norm"), "th": b.column("th"),
                "sig": pa.array([r.tobytes() for r in sig], pa.binary())})

    texts = rows.select("norm", "th").distinct()
    sigs = texts.mapInArrow(signatures, "norm string, th string, sig binary")

    def band_rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            if not b.num_rows:
                continue
            sig = _sig_matrix(b.column("sig"), num_perm)
            for band in range(bands):
                h = np.asarray(_band_hash(sig, band * n_rows, n_rows)).view(np.int64)
                yield pa.RecordBatch.from_pydict({
                    "band": pa.array(np.full(b.num_rows, band, np.int32)),
                    "bh": pa.array(h), "norm": b.column("norm")})

    buckets = sigs.mapInArrow(band_rows, "band int, bh long, norm string")
    head = F.min("norm").over(Window.partitionBy("band", "bh"))
    cand = (buckets.withColumn("head", head).where(F.col("norm") != F.col("head"))
            .select(F.col("head").alias("a"), F.col("norm").alias("b")).distinct())
    sa = sigs.select(F.col("norm").alias("a"), F.col("th").alias("tha"),
                     F.col("sig").alias("sa"))
    sb = sigs.select(F.col("norm").alias("b"), F.col("th").alias("thb"),
                     F.col("sig").alias("sb"))
    threshold = float(p.near_threshold)

    def verify(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            if not b.num_rows:
                continue
            x = _sig_matrix(b.column("sa"), num_perm)
            y = _sig_matrix(b.column("sb"), num_perm)
            same = (x == y).sum(axis=1)
            keep = pa.array(same >= threshold * num_perm)
            yield pa.RecordBatch.from_pydict({
                "a": b.column("a").filter(keep), "tha": b.column("tha").filter(keep),
                "b": b.column("b").filter(keep), "thb": b.column("thb").filter(keep)})

    joins = (cand.join(sa, "a").join(sb, "b").select("a", "tha", "sa", "b", "thb", "sb")
             .mapInArrow(verify, "a string, tha string, b string, thb string")).toArrow()
    mapping = _components(joins)
    spark = posts.sparkSession
    if mapping.num_rows:
        keyed = rows.join(F.broadcast(spark.createDataFrame(mapping)), "norm", "left")
        key = F.coalesce(F.col("ckey"), F.col("th"))
    else:
        keyed, key = rows, F.col("th")
    return keyed.select("account_id", "time", F.lit("near_text").alias("type"),
                        key.alias("key"), "post_id")


def _sig_matrix(col: pa.Array | pa.ChunkedArray, num_perm: int) -> Any:
    a = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    buf = b"".join(a.to_pylist())
    return np.frombuffer(buf, dtype=np.uint64).reshape(len(a), num_perm)


def _components(joins: pa.Table) -> pa.Table:
    """norm -> cluster key (smallest text hash) for texts joined to at least one other."""
    if joins.num_rows == 0:
        return pa.table({"norm": pa.array([], pa.string()), "ckey": pa.array([], pa.string())})
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    names = pc.unique(pa.concat_arrays([joins["a"].combine_chunks(),
                                        joins["b"].combine_chunks()]))
    ia = pc.index_in(joins["a"], value_set=names).to_numpy()
    ib = pc.index_in(joins["b"], value_set=names).to_numpy()
    n = len(names)
    thash = np.zeros(n, dtype=np.uint64)
    thash[ia] = [int(h, 16) for h in joins["tha"].to_pylist()]
    thash[ib] = [int(h, 16) for h in joins["thb"].to_pylist()]
    g = coo_matrix((np.ones(ia.size), (ia, ib)), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    cmin = np.full(int(lab.max()) + 1, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(cmin, lab, thash)
    keys = [f"{int(v):016x}" for v in cmin[lab]]
    return pa.table({"norm": names, "ckey": pa.array(keys, pa.string())})


# -- co-action edges ------------------------------------------------------------------


def edges_from_actions(actions: DataFrame, params: Any = None, *,
                       stats: dict[str, Any] | None = None,
                       split_rows: int = SPLIT_ROWS, episodes: bool = True) -> pa.Table:
    """Default-mode co-action edges of a Spark DataFrame of actions (Arrow ``edges``).

    Identical to :func:`echoscope.detect.coaction.coaction_edges` on the same actions
    (when that applied no popular-key cap), every null model and ``window="auto"``
    included. Keys of ``episode_types`` are split into episodes here
    (:func:`episodes_df`) unless ``episodes`` is false (the caller already did).
    """
    from pyspark.sql import functions as F

    from echoscope.detect.coaction import DetectParams, _finish, layer_plan

    p: DetectParams = params or DetectParams()
    stats = stats if stats is not None else {}
    if split_rows < 2:
        raise ParameterError(f"split_rows = {split_rows} must be at least 2.")
    if p.null == "configuration":
        for name in ("time_classes", "account_time_classes"):
            if getattr(p, name) > 1:
                raise ParameterError(
                    f"{name} = {getattr(p, name)}: the Spark engine's configuration null "
                    "stratifies keys by popularity only; use 1 (the default) or the "
                    "embedded engine (docs/spark.md).")
    spark = actions.sparkSession
    stats["engine"] = "spark"
    stats["max_pairs"] = p.max_pairs
    actions = actions.where(F.col("type").isin(list(p.types)))
    if episodes:
        actions = episodes_df(actions, p.episode_types, p.episode_gap)
    acts = actions.select("account_id", F.unix_micros("time").alias("t"), "type", "key")
    names = acts.select("account_id").distinct().toArrow()["account_id"].combine_chunks()
    if len(names) > MAX_DRIVER_ACCOUNTS:
        raise UserError(f"{len(names):,} accounts exceed the Spark engine's driver limit of "
                        f"{MAX_DRIVER_ACCOUNTS:,} (docs/spark.md).")
    acct_dict = names.take(pc.array_sort_indices(names))
    n_acct = len(acct_dict)
    if n_acct == 0:
        return _finish([], acct_dict, p, 0, stats)
    accounts = spark.createDataFrame(pa.table({
        "account_id": acct_dict, "acode": pa.array(np.arange(n_acct, dtype=np.int64))}))
    acts = acts.join(F.broadcast(accounts), "account_id").drop("account_id")
    keystats = acts.groupBy("type", "key").agg(
        F.countDistinct("acode").alias("n_acc"), F.count(F.lit(1)).alias("n_type_rows"))
    windows = p.resolved_windows()
    per_type: dict[str, list[float]] = {typ: list(windows) for typ in p.types}
    if p.window == "auto":
        acts = acts.persist()
        per_type = {}
        present = {r[0] for r in acts.select("type").distinct().collect()}
        for typ in p.types:
            if typ not in present:
                continue
            first, curve = auto_window(acts.where(F.col("type") == typ), p)
            stats.setdefault("auto_curves", {})[typ] = curve
            per_type[typ] = [first] + [w for w in windows[1:] if w > first]
    layers: list[tuple[int, str, float, int, bool]] = []
    for typ, tws in per_type.items():
        plan = layer_plan(p, typ, tws[0])  # the embedded engine's layers (shared rule)
        per_type[typ] = [w for w, _ in plan]
        for w, rare_only in plan:
            layers.append((len(layers), typ, w, round(w * US), rare_only))
    stats["windows"] = per_type
    layer_df = spark.createDataFrame(
        [(lid, typ, wus, rare) for lid, typ, _, wus, rare in layers],
        "layer int, type string, w long, rare_only boolean")
    in_layer = ~F.col("rare_only") | (F.col("n_acc") <= p.wide_max_accounts)
    pop = (F.length(F.bin("n_acc")) - 1).cast("int")  # floor(log2(accounts on the key))
    strata_df = _strata_map(keystats.join(F.broadcast(layer_df), "type").where(in_layer)
                            .withColumn("pop", pop), p)
    la = (acts.join(keystats, ["type", "key"]).join(F.broadcast(layer_df), "type")
          .where(in_layer).withColumn("pop", pop)
          .join(F.broadcast(strata_df), ["layer", "pop"])
          .drop("rare_only", "type", "n_type_rows", "pop"))
    la = la.persist()
    in_bouts = p.null == "configuration" and p.null_bouts
    bout_null: tuple[pa.Table, pa.Table] | None = None
    try:
        counts = la.groupBy("layer", "acode", "stratum").count().toArrow()
        bt = _bouts_df(la).persist() if in_bouts else None
        pairs = _sweep(la, n_acct, split_rows, stats).persist()
        try:
            if bt is not None:
                per_stratum = _bout_pairs_per_stratum(bt)
            else:
                per_stratum = pairs.groupBy("layer", "stratum").count().toArrow()
            ev_layers = frozenset(lid for lid, typ, *_ in layers if typ in p.event_types)
            agg = _aggregate_pairs(pairs, p.min_keys, ev_layers).toArrow()
            if bt is not None:
                cc = _bout_pairs_per_stratum(bt, _candidate_accounts(
                    spark, agg, n_acct, max(2, p.min_keys)))
                bout_null = (bt.groupBy("layer", "acode", "stratum").count().toArrow(),
                             _bout_own(bt, pairs, agg, n_acct))
            else:
                cc = (_candidate_pairs(pairs, agg, n_acct, max(2, p.min_keys))
                      if p.null == "configuration" else None)
        finally:
            pairs.unpersist()
            if bt is not None:
                bt.unpersist()
        shift = _shift_shared(la, agg, n_acct) if p.null == "shift" else None
    finally:
        la.unpersist()
        if p.window == "auto":
            acts.unpersist()
    results, family = _assemble(layers, counts, per_stratum, agg, n_acct, p, stats, cc,
                                shift, bout_null)
    stats["family_size"] = family
    return _finish(results, acct_dict, p, family, stats)


def _strata_map(layer_keys: DataFrame, p: Any) -> DataFrame:
    """Per layer, each popularity level's null-model stratum (columns layer, pop, stratum):
    the rule of :func:`echoscope.detect.null.merge_thin_strata`
    (:func:`~echoscope.detect.null.thin_strata_remap`) run on the driver over the layer's
    keys per level (``layer_keys``: one row per (layer, key) with its ``pop`` level,
    counted in Spark), so thin strata merge downwards exactly as in the embedded engine.
    Only the configuration null uses strata; other nulls keep the popularity level."""
    from pyspark.sql import functions as F

    from echoscope.detect.null import thin_strata_remap

    per = layer_keys.groupBy("layer", "pop").agg(F.count(F.lit(1)).alias("n")).toArrow()
    lay = per["layer"].to_numpy().astype(np.int64)
    lev = per["pop"].to_numpy().astype(np.int64)
    n = per["n"].to_numpy().astype(np.int64)
    out = lev.copy()
    min_keys = int(p.min_stratum_keys) if p.null == "configuration" else 0
    if min_keys > 1:
        for lid in np.unique(lay):
            sel = np.flatnonzero(lay == lid)
            hist = np.bincount(lev[sel], weights=n[sel]).astype(np.int64)
            out[sel] = thin_strata_remap(hist, min_keys)[lev[sel]]
    spark = layer_keys.sparkSession
    return spark.createDataFrame(pa.table({
        "layer": pa.array(lay.astype(np.int32)), "pop": pa.array(lev.astype(np.int32)),
        "stratum": pa.array(out.astype(np.int32))}))


def episodes_df(actions: DataFrame, types: tuple[str, ...], gap: float) -> DataFrame:
    """Keys of ``types`` split into episodes, as :func:`echoscope.detect.coaction.episode_keys`.

    Rows of those types are repartitioned by (type, key), so every key's actions meet in
    one partition, and each partition runs ``episode_keys`` itself (one implementation for
    both engines). Rows of other types pass unchanged.
    """
    from pyspark.sql import functions as F

    if not types:
        return actions
    cols = ["account_id", "time", "type", "key", "post_id"]
    is_ep = F.col("type").isin(list(types))
    rest = actions.where(~is_ep).select(*cols)
    ep_types = tuple(types)

    def per_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from echoscope.detect.coaction import episode_keys

        t = _partition_table(batches)
        if t is None:
            return
        t = t.set_column(t.schema.get_field_index("time"), "time", _naive_ts(t["time"]))
        yield from episode_keys(t, ep_types, gap).to_batches()

    eps = (actions.where(is_ep).select(*cols).repartition("type", "key")
           .mapInArrow(per_partition, _ACTIONS_DDL))
    return rest.unionByName(eps)


def auto_window(acts: DataFrame, p: Any) -> tuple[float, list[dict[str, float]]]:
    """``window="auto"`` of one action type on Spark: the window and curve of
    :func:`echoscope.detect.windows.choose_window` on the same actions (columns
    ``acode``, ``t``, ``key``), bit for bit.

    The integer figures (pairs of different accounts on a key at any time, observed pairs
    per candidate window, the time span) are counted in Spark: the observed pairs per
    (key) partition with the kernel's ``count_pairs``. Keys are sampled as the single
    machine samples them (seeded uniform draw over the keys in sorted order, drawn on the
    driver) when the pairs exceed ``max_pairs``. The curve is read on the driver.
    """
    from pyspark.sql import functions as F

    from echoscope.detect.windows import read_curve

    cands = tuple(sorted({float(c) for c in p.auto_candidates}))
    default = p.resolved_windows()[0]
    per_key = acts.groupBy("key").agg(F.count(F.lit(1)).alias("n"))
    tot = per_key.agg(F.count(F.lit(1)).alias("keys"), F.sum("n").alias("rows"),
                      F.sum(F.col("n") * F.col("n")).alias("sq")).collect()[0]
    if (tot["rows"] or 0) < 2:
        return default, []
    s_all = float(tot["sq"]) / 2.0
    if s_all > p.max_pairs:
        n_keys = int(tot["keys"])
        rng = np.random.default_rng(p.seed)
        chosen = np.flatnonzero(rng.random(n_keys) < p.max_pairs / s_all).astype(np.int64)
        ranked = per_key.select("key").orderBy("key").rdd.zipWithIndex().map(
            lambda r: (r[0][0], r[1])).toDF("key string, rank long")
        sel = acts.sparkSession.createDataFrame(pa.table({"rank": pa.array(chosen)}))
        keep = ranked.join(F.broadcast(sel), "rank").select("key")
        acts = acts.join(keep, "key")
    sums = acts.agg(F.count(F.lit(1)).alias("rows"), F.min("t").alias("tmin"),
                    F.max("t").alias("tmax")).collect()[0]
    if (sums["rows"] or 0) < 2:
        return default, []
    key_sq = acts.groupBy("key").count().agg(
        F.sum(F.col("count") * F.col("count"))).collect()[0][0]
    ak_sq = acts.groupBy("key", "acode").count().agg(
        F.sum(F.col("count") * F.col("count"))).collect()[0][0]
    # exact integers, as float: numpy's float sums of the same squares agree below 2**53
    s_total = (float(key_sq) - float(ak_sq)) / 2.0
    span = float(sums["tmax"] - sums["tmin"]) + 1.0
    wus = [round(c * US) for c in cands]
    ddl = ", ".join(f"c{i} long" for i in range(len(wus)))

    def count(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from echoscope.detect._util import encode as _encode
        from echoscope.detect.kernel import count_pairs, sort_actions

        t = _partition_table(batches)
        if t is None:
            return
        key, _ = _encode(t["key"])
        tt = t["t"].to_numpy()
        acct = t["acode"].to_numpy().astype(np.int32)
        o = sort_actions(key, tt, acct)
        key, tt, acct = key[o], tt[o], acct[o]
        yield pa.RecordBatch.from_pydict(
            {f"c{i}": pa.array([count_pairs(key, tt, acct, w)], pa.int64())
             for i, w in enumerate(wus)})

    obs = (acts.select("key", "t", "acode").repartition("key").mapInArrow(count, ddl)
           .agg(*[F.sum(f"c{i}").alias(f"c{i}") for i in range(len(wus))]).collect()[0])
    curve: list[dict[str, float]] = []
    for i, c in enumerate(cands):
        o_ = float(obs[f"c{i}"] or 0)
        exp = s_total * min(1.0, (2.0 * wus[i] + 1.0) / span)
        curve.append({"window": c, "observed": o_, "expected": exp,
                      "ratio": o_ / exp if exp > 0 else 0.0})
    return read_curve(curve, default), curve


def _shift_shared(la: DataFrame, agg: pa.Table, n_acct: int) -> tuple[pa.Table, pa.Table]:
    """``null="shift"``: per tested pair ``S_ab`` (action pairs of a and b on shared keys
    at any time, :func:`echoscope.detect.null.shift_shared`) and per layer the time span,
    counted in Spark (exact integers)."""
    from pyspark.sql import functions as F

    spark = la.sparkSession
    span = la.groupBy("layer").agg(F.min("t").alias("tmin"), F.max("t").alias("tmax"))
    code = agg["code"].to_numpy().astype(np.int64)
    cand = spark.createDataFrame(pa.table({
        "layer": agg["layer"].combine_chunks(), "code": pa.array(code),
        "ca": pa.array(code // n_acct), "cb": pa.array(code % n_acct)}))
    per = la.groupBy("layer", "acode", "key").agg(F.count(F.lit(1)).alias("n"))
    a = per.select("layer", F.col("acode").alias("ca"), "key", F.col("n").alias("na"))
    b = per.select("layer", F.col("acode").alias("cb"), "key", F.col("n").alias("nb"))
    s = (cand.join(a, ["layer", "ca"]).join(b, ["layer", "cb", "key"])
         .groupBy("layer", "code").agg(F.sum(F.col("na") * F.col("nb")).alias("s")))
    return s.toArrow(), span.toArrow()


def _shift_lambda(shift: tuple[pa.Table, pa.Table], lid: int, ucode: Any, wus: int) -> Any:
    """λ of the shift null for one layer's tested pairs (``ucode`` sorted), as coaction."""
    s, span = shift
    sl = s.filter(pc.equal(s["layer"], lid))
    sp = span.filter(pc.equal(span["layer"], lid))
    shared = np.zeros(ucode.size, dtype=np.int64)
    if sl.num_rows:
        pos = np.searchsorted(ucode, sl["code"].to_numpy())
        shared[pos] = sl["s"].to_numpy()
    t_span = float(sp["tmax"][0].as_py() - sp["tmin"][0].as_py()) + 1.0 if sp.num_rows else 1.0
    frac = min(1.0, (2.0 * wus + 1.0) / t_span)
    return shared.astype(np.float64) * frac


def _sweep(la: DataFrame, n_acct: int, split_rows: int, stats: dict[str, Any]) -> DataFrame:
    """Pair rows of every layer: partition by (layer, key, time bucket), sweep each."""
    x = bucketed(la, split_rows, stats)

    def sweep(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        t = _partition_table(batches)
        if t is None:
            return
        yield from _sweep_partition(t, n_acct)

    return x.mapInArrow(sweep, _PAIRS_DDL)


def bucketed(la: DataFrame, split_rows: int, stats: dict[str, Any] | None = None, *,
             extra: tuple[str, ...] = ()) -> DataFrame:
    """Layer actions (columns layer, key, t, acode, w, n_acc, stratum, and ``extra``) as
    the sweep sees them: popular keys cut into time buckets with one window of overlap,
    repartitioned by (layer, key, bucket). Exposed for the skew figures of
    benchmarks/spark.py and for the compat modes (:mod:`echoscope.engines.compat`).
    """
    from pyspark.sql import functions as F

    stats = stats if stats is not None else {}

    per_key = la.groupBy("layer", "key").agg(
        F.count(F.lit(1)).alias("n_rows"), F.min("t").alias("tmin"), F.max("t").alias("tmax"))
    split = per_key.where(F.col("n_rows") > split_rows).withColumn(
        "width", F.greatest(F.lit(1).cast("long"),
                            F.ceil((F.col("tmax") - F.col("tmin")) * F.lit(split_rows)
                                   / F.col("n_rows")).cast("long")))
    split_info = split.toArrow()
    stats["split_keys"] = split_info.num_rows
    x = la
    if split_info.num_rows:
        x = la.join(F.broadcast(split.select("layer", "key", "tmin", "width")),
                    ["layer", "key"], "left")
        width = F.greatest(F.col("width"), F.col("w"))
        bucket = F.when(F.col("width").isNull(), F.lit(0)).otherwise(
            F.expr("(t - tmin) div greatest(width, w)"))
        x = x.withColumn("bucket", bucket.cast("long"))
        off = F.col("t") - F.col("tmin") - F.col("bucket") * width
        copy = F.col("width").isNotNull() & (F.col("bucket") > 0) & (off <= F.col("w"))
        x = (x.withColumn("dup", F.explode(F.when(copy, F.array(F.lit(0), F.lit(1)))
                                           .otherwise(F.array(F.lit(0)))))
             .withColumn("bucket", F.col("bucket") - F.col("dup"))
             .withColumn("is_copy", F.col("dup") == 1)
             .drop("dup", "tmin", "width"))
    else:
        x = la.withColumn("bucket", F.lit(0).cast("long")).withColumn("is_copy", F.lit(False))
    x = x.select("layer", "key", "bucket", "t", "acode", "is_copy", "n_acc", "stratum", "w",
                 *extra)
    return x.repartition("layer", "key", "bucket")


def bucket_pairs(tab: pa.Table, key: Any) -> tuple[Any, Any]:
    """Co-acting row pairs ``(i, j)`` of ``tab``'s rows (one window ``w``): the kernel's
    sweep within each (key code, bucket) group, without pairs of two overlap copies (each
    such pair is emitted by the bucket that owns the rows)."""
    from echoscope.detect.kernel import sort_actions, sweep_pairs

    _, group = np.unique(np.stack([key, tab["bucket"].to_numpy()], axis=1), axis=0,
                         return_inverse=True)
    group = group.reshape(-1).astype(np.int64)
    t = tab["t"].to_numpy().astype(np.int64)
    acct = tab["acode"].to_numpy().astype(np.int32)
    order = sort_actions(group, t, acct)
    ii, jj = sweep_pairs(group[order], t[order], acct[order], int(tab["w"][0].as_py()))
    ii, jj = order[ii], order[jj]
    copy = tab["is_copy"].to_numpy(zero_copy_only=False)
    keep = ~(copy[ii] & copy[jj])
    return ii[keep], jj[keep]


def _sweep_partition(tab: pa.Table, n_acct: int) -> Iterator[pa.RecordBatch]:
    """Pairs of one partition (rows of whole (layer, key, bucket) groups)."""
    from echoscope.detect.kernel import pair_event

    layer_all = tab["layer"].to_numpy()
    for layer in np.unique(layer_all):
        sel = layer_all == layer
        sub = tab.filter(pa.array(sel))
        kcode = pc.dictionary_encode(sub["key"].combine_chunks()).indices.to_numpy(
            zero_copy_only=False).astype(np.int64)
        ii, jj = bucket_pairs(sub, kcode)
        if not ii.size:
            continue
        t = sub["t"].to_numpy()
        acct = sub["acode"].to_numpy().astype(np.int32)
        a = acct[ii].astype(np.int64)
        b = acct[jj].astype(np.int64)
        code = np.minimum(a, b) * n_acct + np.maximum(a, b)
        lo_first = a < b
        event = pair_event(np.where(lo_first, t[ii], t[jj]), np.where(lo_first, t[jj], t[ii]))
        n_acc = sub["n_acc"].to_numpy()[ii]
        rarity = np.where(n_acc > 0, 1.0 / np.log2(1.0 + np.maximum(n_acc, 1)), 0.0)
        yield pa.RecordBatch.from_pydict({
            "layer": pa.array(np.full(ii.size, layer, np.int32)),
            "code": pa.array(code),
            "key": sub["key"].combine_chunks().take(pa.array(ii)),
            "delay": pa.array(np.abs(t[jj] - t[ii])),
            "event": pa.array(event),
            "rarity": pa.array(rarity),
            "stratum": pa.array(sub["stratum"].to_numpy()[ii].astype(np.int32)),
        })


def _aggregate_pairs(pairs: DataFrame, min_keys: int,
                     event_layers: frozenset[int] = frozenset()) -> DataFrame:
    def agg(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        t = _partition_table(batches)
        if t is None:
            return
        yield from _aggregate_partition(t, min_keys, event_layers)

    return pairs.repartition("layer", "code").mapInArrow(agg, _AGG_DDL)


def _aggregate_partition(tab: pa.Table, min_keys: int,
                         event_layers: frozenset[int] = frozenset()
                         ) -> Iterator[pa.RecordBatch]:
    """Per account pair of one partition: coaction's ``_aggregate`` on sorted key ranks
    (keys capped by co-action events in ``event_layers``, as there)."""
    from echoscope.detect._util import encode as _encode
    from echoscope.detect.coaction import NO_EVENTS, _aggregate

    layer_all = tab["layer"].to_numpy()
    for layer in np.unique(layer_all):
        sub = tab.filter(pa.array(layer_all == layer))
        kc, kdict = _encode(sub["key"])  # ranks in sorted key order, as coaction's codes
        rarity = np.zeros(len(kdict), dtype=np.float64)
        rarity[kc] = sub["rarity"].to_numpy()
        code = sub["code"].to_numpy()
        srt = np.argsort(code, kind="stable")
        code, key, delay = code[srt], kc[srt], sub["delay"].to_numpy()[srt]
        stratum = sub["stratum"].to_numpy().astype(np.int64)[srt]
        event = (sub["event"].to_numpy()[srt] if int(layer) in event_layers
                 else NO_EVENTS)
        n_out = int(np.count_nonzero(np.diff(code))) + 1
        ucode, nk, npairs, mind, medd, rsum = _aggregate(code, key, delay, rarity, event,
                                                         n_out)
        ok = nk >= min_keys
        n_sel = int(ok.sum())
        if not n_sel:
            continue
        # each candidate's action pairs per popularity stratum (the configuration null
        # leaves them out of its rate constants, as coaction does)
        n_str = int(stratum.max()) + 1
        gid = np.zeros(code.size, dtype=np.int64)
        np.cumsum(code[1:] != code[:-1], out=gid[1:])
        rows = ok[gid]
        rank = np.cumsum(ok) - 1
        own = np.bincount(rank[gid[rows]] * n_str + stratum[rows],
                          minlength=n_sel * n_str).astype(np.int64)
        yield pa.RecordBatch.from_pydict({
            "layer": pa.array(np.full(n_sel, layer, np.int32)),
            "code": pa.array(ucode[ok]), "n_keys": pa.array(nk[ok]),
            "n_pairs": pa.array(npairs[ok]), "min_delay": pa.array(mind[ok]),
            "median_delay": pa.array(medd[ok]), "rarity": pa.array(rsum[ok]),
            "own": pa.FixedSizeListArray.from_arrays(pa.array(own), n_str).cast(
                pa.list_(pa.int64()))})


def _candidate_pairs(pairs: DataFrame, agg: pa.Table, n_acct: int, min_keys: int) -> pa.Table:
    """Per (layer, stratum): co-acting action pairs among the accounts of candidate pairs
    (``n_keys >= min_keys``), one shared key too; the configuration null leaves them out
    of its rate constants, as coaction does."""
    from pyspark.sql import functions as F

    cdf = _candidate_accounts(pairs.sparkSession, agg, n_acct, min_keys)
    ca = cdf.select("layer", F.col("acode").alias("ca"))
    cb = cdf.select("layer", F.col("acode").alias("cb"))
    rows = (pairs.select("layer", "stratum",
                         (F.col("code") / F.lit(n_acct)).cast("long").alias("ca"),
                         (F.col("code") % F.lit(n_acct)).alias("cb"))
            .join(F.broadcast(ca), ["layer", "ca"]).join(F.broadcast(cb), ["layer", "cb"]))
    out: pa.Table = rows.groupBy("layer", "stratum").count().toArrow()
    return out


def _candidate_accounts(spark: SparkSession, agg: pa.Table, n_acct: int,
                        min_keys: int) -> DataFrame:
    """Per layer the accounts of candidate pairs (``n_keys >= min_keys``): columns layer,
    acode."""
    sub = agg.filter(pc.greater_equal(agg["n_keys"], min_keys))
    code = sub["code"].to_numpy().astype(np.int64)
    lay = sub["layer"].to_numpy().astype(np.int64)
    both = np.stack([np.concatenate([lay, lay]),
                     np.concatenate([code // n_acct, code % n_acct])])
    cand = np.unique(both, axis=1) if both.size else both.reshape(2, 0)
    return spark.createDataFrame(pa.table({"layer": pa.array(cand[0].astype(np.int32)),
                                           "acode": pa.array(cand[1].astype(np.int64))}))


# -- the configuration null counted in bouts (DetectParams.null_bouts) -----------------

_BOUTS_DDL = "layer int, key string, acode long, stratum int, w long, start long, end long"


def _layer_keys(batches: Iterator[pa.RecordBatch]
                ) -> Iterator[tuple[int, pa.Table, npt.NDArray[np.int64], pa.Array,
                                    npt.NDArray[np.int64]]]:
    """A (layer, key) partition's rows layer by layer: ``(layer, rows, key codes, key
    values, stratum of each key code)``."""
    from echoscope.detect._util import encode as _encode

    t = _partition_table(batches)
    if t is None:
        return
    layer_all = t["layer"].to_numpy()
    for layer in np.unique(layer_all):
        sub = t.filter(pa.array(layer_all == layer))
        kc, kdict = _encode(sub["key"])
        st = np.zeros(len(kdict), dtype=np.int64)
        st[kc] = sub["stratum"].to_numpy().astype(np.int64)
        yield int(layer), sub, kc, kdict, st


def _bouts_df(la: DataFrame) -> DataFrame:
    """The bouts of every layer (:func:`echoscope.detect.null.bouts` per (layer, key)
    partition; a key's actions are never split across partitions here): columns layer,
    key, acode, stratum, w, start, end."""
    def per_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from echoscope.detect.null import bouts

        for layer, sub, kc, kdict, st in _layer_keys(batches):
            w = int(sub["w"][0].as_py())
            bk, ba, bs, be = bouts(kc, sub["t"].to_numpy().astype(np.int64),
                                   sub["acode"].to_numpy().astype(np.int32), w)
            yield pa.RecordBatch.from_pydict({
                "layer": pa.array(np.full(bk.size, layer, np.int32)),
                "key": kdict.take(pa.array(bk)), "acode": pa.array(ba.astype(np.int64)),
                "stratum": pa.array(st[bk].astype(np.int32)),
                "w": pa.array(np.full(bk.size, w, np.int64)),
                "start": pa.array(bs.astype(np.int64)), "end": pa.array(be.astype(np.int64))})

    return (la.select("layer", "key", "t", "acode", "stratum", "w")
            .repartition("layer", "key").mapInArrow(per_partition, _BOUTS_DDL))


def _bout_pairs_per_stratum(bt: DataFrame, accounts: DataFrame | None = None) -> pa.Table:
    """Per (layer, stratum) the co-acting bout pairs
    (:func:`echoscope.detect.null.bout_pairs_per_key` per (layer, key) partition, exact
    integers summed in Spark); only among ``accounts`` (columns layer, acode) if given.
    Columns layer, stratum, count."""
    from pyspark.sql import functions as F

    def per_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from echoscope.detect.null import bout_pairs_per_key

        for layer, sub, kc, kdict, st in _layer_keys(batches):
            per_key = bout_pairs_per_key(kc, sub["start"].to_numpy().astype(np.int64),
                                         sub["end"].to_numpy().astype(np.int64),
                                         int(sub["w"][0].as_py()), len(kdict))
            per = np.bincount(st, weights=per_key).astype(np.int64)
            nz = np.flatnonzero(per)
            yield pa.RecordBatch.from_pydict({
                "layer": pa.array(np.full(nz.size, layer, np.int32)),
                "stratum": pa.array(nz.astype(np.int32)), "n": pa.array(per[nz])})

    x = bt if accounts is None else bt.join(F.broadcast(accounts), ["layer", "acode"])
    out: pa.Table = (x.repartition("layer", "key")
                     .mapInArrow(per_partition, "layer int, stratum int, n long")
                     .groupBy("layer", "stratum").agg(F.sum("n").alias("count")).toArrow())
    return out


def _bout_own(bt: DataFrame, pairs: DataFrame, agg: pa.Table, n_acct: int) -> pa.Table:
    """Per tested pair and stratum its own co-acting bout pairs (on each key it co-acted
    on: :func:`echoscope.detect.null.pair_bout_pairs` per (layer, key) partition, the
    queries and the key's bouts meeting there). Columns layer, code, stratum, n."""
    from pyspark.sql import functions as F

    spark = bt.sparkSession
    tested = spark.createDataFrame(pa.table({
        "layer": agg["layer"].combine_chunks().cast(pa.int32()),
        "code": agg["code"].combine_chunks().cast(pa.int64())}))
    q = (pairs.select("layer", "code", "key").join(F.broadcast(tested), ["layer", "code"])
         .distinct().select("layer", "key", F.lit(None).cast("long").alias("acode"),
                            F.lit(None).cast("int").alias("stratum"),
                            F.lit(None).cast("long").alias("w"),
                            F.lit(None).cast("long").alias("start"),
                            F.lit(None).cast("long").alias("end"), "code"))
    b = bt.withColumn("code", F.lit(None).cast("long"))

    def per_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from echoscope.detect._util import encode as _encode
        from echoscope.detect.null import pair_bout_pairs

        t = _partition_table(batches)
        if t is None:
            return
        layer_all = t["layer"].to_numpy()
        is_q = t["code"].is_valid().to_numpy(zero_copy_only=False)
        for layer in np.unique(layer_all):
            sel = layer_all == layer
            sub = t.filter(pa.array(sel))
            qs = is_q[sel]
            if not qs.any():
                continue
            kc, _ = _encode(sub["key"])
            bsel = np.flatnonzero(~qs)
            qsel = np.flatnonzero(qs)
            bk = kc[bsel]
            ba = sub["acode"].to_numpy(zero_copy_only=False)[bsel].astype(np.int64)
            bs = sub["start"].to_numpy(zero_copy_only=False)[bsel].astype(np.int64)
            be = sub["end"].to_numpy(zero_copy_only=False)[bsel].astype(np.int64)
            st = np.zeros(int(kc.max()) + 1, dtype=np.int32)
            st[bk] = sub["stratum"].to_numpy(zero_copy_only=False)[bsel].astype(np.int32)
            w = int(sub["w"].to_numpy(zero_copy_only=False)[bsel[0]])
            o = np.lexsort((bs, ba, bk))
            code = sub["code"].to_numpy(zero_copy_only=False)[qsel].astype(np.int64)
            qk = kc[qsel]
            n = pair_bout_pairs((bk[o], ba[o], bs[o], be[o]), code // n_acct,
                                code % n_acct, qk, w, n_acct)
            yield pa.RecordBatch.from_pydict({
                "layer": pa.array(np.full(qsel.size, layer, np.int32)),
                "code": pa.array(code), "stratum": pa.array(st[qk]),
                "n": pa.array(n.astype(np.int64))})

    out: pa.Table = (q.unionByName(b).repartition("layer", "key")
                     .mapInArrow(per_partition, "layer int, code long, stratum int, n long")
                     .groupBy("layer", "code", "stratum").agg(F.sum("n").alias("n"))
                     .toArrow())
    return out


def _assemble(layers: list[tuple[int, str, float, int, bool]], counts: pa.Table,
              per_stratum: pa.Table, agg: pa.Table, n_acct: int, p: Any,
              stats: dict[str, Any], cc: pa.Table | None = None,
              shift: tuple[pa.Table, pa.Table] | None = None,
              bout_null: tuple[pa.Table, pa.Table] | None = None
              ) -> tuple[list[dict[str, Any]], int]:
    """Per layer on the driver: the null constants and expectations, as coaction does.
    ``bout_null`` (``null_bouts``): bouts per (layer, account, stratum) and the tested
    pairs' own co-acting bout pairs per (layer, code, stratum), which replace the action
    counts of the configuration null."""
    from echoscope.detect.coaction import account_null
    from echoscope.detect.null import expected_coactions as _expected
    from echoscope.detect.null import pair_denominator as _pair_denominator
    from echoscope.detect.null import rates as _rates

    c_layer = counts["layer"].to_numpy()
    s_layer = per_stratum["layer"].to_numpy()
    g_layer = agg["layer"].to_numpy()
    results: list[dict[str, Any]] = []
    family = 0
    for lid, typ, w, wus, _ in layers:
        cs = counts.filter(pa.array(c_layer == lid))
        if cs.num_rows == 0:
            continue
        acode = cs["acode"].to_numpy()
        stratum = cs["stratum"].to_numpy().astype(np.int64)
        cnt = cs["count"].to_numpy().astype(np.int64)
        active = int(np.unique(acode).size)
        family += active * (active - 1) // 2
        n_str = int(stratum.max()) + 1
        strata = np.zeros((n_acct, n_str), dtype=np.float64)
        if bout_null is not None:  # the null counted in bouts: each account's bouts
            bc = bout_null[0].filter(pc.equal(bout_null[0]["layer"], lid))
            strata[bc["acode"].to_numpy().astype(np.int64),
                   bc["stratum"].to_numpy().astype(np.int64)] = bc["count"].to_numpy(
                       ).astype(np.float64)
        else:
            strata[acode, stratum] = cnt.astype(np.float64)
        ps = per_stratum.filter(pa.array(s_layer == lid))
        pairs = np.zeros(n_str, dtype=np.float64)
        pairs[ps["stratum"].to_numpy().astype(np.int64)] = ps["count"].to_numpy().astype(
            np.float64)
        denom = _pair_denominator(strata)
        e = agg.filter(pa.array(g_layer == lid))
        srt = np.argsort(e["code"].to_numpy(), kind="stable")
        e = e.take(pa.array(srt))
        ucode = e["code"].to_numpy()
        ea = ucode // n_acct
        eb = ucode % n_acct
        null: dict[str, Any] = {}
        if p.null == "configuration":
            own = np.zeros((ea.size, n_str), dtype=np.float64)
            lst = e["own"].combine_chunks()
            if bout_null is not None:
                bo = bout_null[1].filter(pc.equal(bout_null[1]["layer"], lid))
                own[np.searchsorted(ucode, bo["code"].to_numpy()),
                    bo["stratum"].to_numpy().astype(np.int64)] = bo["n"].to_numpy(
                        ).astype(np.float64)
            elif len(lst):
                parent = pc.list_parent_indices(lst).to_numpy()
                flat = pc.list_flatten(lst).to_numpy()
                lens = pc.list_value_length(lst).to_numpy().astype(np.int64)
                starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
                own[parent, np.arange(flat.size) - starts[parent]] = flat
            null = {"own": own, "ab": strata[ea] * strata[eb], "pairs": pairs,
                    "denom": denom}
            # the account-level test's inputs (account_rate without the tested pairs'
            # own co-action), by the helper coaction._layer_edges calls
            null.update(account_null(strata, ea, eb, own.sum(axis=0), pairs, denom))
            if cc is not None:
                from echoscope.detect.null import candidate_denominator

                c_lay = cc["layer"].to_numpy()
                cs_ = cc.filter(pa.array(c_lay == lid))
                cc_pairs = np.zeros(n_str, dtype=np.float64)
                st_ = cs_["stratum"].to_numpy().astype(np.int64)
                ok_ = st_ < n_str
                cc_pairs[st_[ok_]] = cs_["count"].to_numpy().astype(np.float64)[ok_]
                multi = ucode[e["n_keys"].to_numpy() >= max(2, p.min_keys)]
                cand = np.zeros(n_acct, dtype=np.bool_)
                cand[multi // n_acct] = True
                cand[multi % n_acct] = True
                null["cc_pairs"] = cc_pairs
                null["cc_denom"] = candidate_denominator(strata, cand)
            lam = _expected(null["ab"], _rates(pairs, denom))
        elif p.null == "shift" and shift is not None:
            lam = _shift_lambda(shift, lid, ucode, wus)
        else:
            lam = np.full(ea.size, np.nan)
        stats.setdefault("layers", []).append({
            "type": typ, "window": w, "actions": int(cnt.sum()), "accounts": active,
            "null_pairs": round(float(pairs.sum())), "null_strata": n_str,
            "edges_tested": int(ea.size), "capped_keys": 0})
        results.append({
            "a": ea, "b": eb, "n_keys": e["n_keys"].to_numpy(),
            "n_pairs": e["n_pairs"].to_numpy(), "min_delay": e["min_delay"].to_numpy() / US,
            "median_delay": e["median_delay"].to_numpy() / US,
            "rarity": e["rarity"].to_numpy(), "lam": lam, "null": null,
            "type": typ, "window": w})
    return results, family


# -- the engine -----------------------------------------------------------------------


class SparkEngine:
    """Actions and co-action edges on Spark; the workspace stages of the default engine."""

    name = "spark"

    def __init__(self, master: str | None = None, *, split_rows: int = SPLIT_ROWS,
                 spark: SparkSession | None = None) -> None:
        self.master = master
        self.split_rows = split_rows
        self._spark = spark

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            self._spark = spark_session(self.master)
        return self._spark

    def dataframe(self, table: pa.Table) -> DataFrame:
        """An Arrow table as a Spark DataFrame."""
        return self.spark.createDataFrame(table)

    def actions(self, posts: pa.Table, params: ActionParams | None = None) -> pa.Table:
        """Like :func:`echoscope.actions.actions_from_posts`, computed on Spark."""
        cols = [c for c in _POST_COLUMNS]
        df = actions_df(self.dataframe(posts.select(cols)), params)
        return to_arrow(df, "actions").sort_by(_ACTION_SORT)

    def edges(self, actions: pa.Table, params: Any = None, *,
              stats: dict[str, Any] | None = None) -> pa.Table:
        """Like :func:`echoscope.detect.coaction.coaction_edges`, computed on Spark."""
        actions = schema.check("actions", actions, stage="detect")
        return edges_from_actions(self.dataframe(actions), params, stats=stats,
                                  split_rows=self.split_rows)

    def build_actions(self, ws: Workspace, params: ActionParams | None = None, *,
                      log: RunLog | None = None) -> int:
        """:func:`echoscope.actions.build_actions` on Spark."""
        p = params or ActionParams()
        if log is None:
            with ws.run("actions", {"actions": p.to_dict(), "engine": "spark"}) as own:
                return self.build_actions(ws, p, log=own)
        cols = ", ".join(f'"{c}"' for c in _POST_COLUMNS)
        with progress.task("actions (spark)"), log.timed("actions"):
            posts = ws.sql(f"SELECT {cols} FROM posts")
            acts = self.actions(posts, p) if posts.num_rows else schema.empty("actions")
            n = ws.replace("actions", acts, stage="actions")
        log.count("actions", n)
        log.count("engine", "spark")
        progress.info(f"actions (spark): {n:,} actions from {posts.num_rows:,} posts")
        return n

    def detect_edges(self, ws: Workspace, params: Any = None, *,
                     log: RunLog | None = None) -> pa.Table:
        """:func:`echoscope.detect.coaction.detect_edges` on Spark."""
        from echoscope.detect.coaction import DetectParams, _jsonable

        p = params or DetectParams()
        if log is None:
            with ws.run("detect-edges", {"detect": p.to_dict(), "engine": "spark"}) as own:
                return self.detect_edges(ws, p, log=own)
        stats: dict[str, Any] = {}
        with progress.task("co-action networks (spark)"), log.timed("detect"):
            types = ", ".join("'" + t.replace("'", "''") + "'" for t in p.types)
            actions = ws.sql(f"SELECT * FROM actions WHERE type IN ({types})")
            edges = self.edges(actions, p, stats=stats)
            ws.replace("edges", edges, stage="detect")
            # the account-level test (configuration null), as coaction.detect_edges
            acc = stats.pop("_accounts", None)
            ws.replace("coaction_accounts", acc if acc is not None
                       else schema.empty("coaction_accounts"), stage="detect")
        log.count("edges", edges.num_rows)
        log.count("detect", _jsonable(stats))
        progress.info(f"detect (spark): {edges.num_rows:,} edges kept of "
                      f"{stats.get('edges_tested', 0):,} tested")
        return edges


# -- a whole job on files (spark-submit) ----------------------------------------------


def run_job(paths: str | list[str], out_dir: str, *, fmt: str = "parquet",
            actions_params: ActionParams | None = None, detect_params: Any = None,
            master: str | None = None, split_rows: int = SPLIT_ROWS,
            seed: int = 0) -> dict[str, Any]:
    """Posts on any Spark-readable path -> actions, edges and campaign memberships.

    Writes ``out_dir/actions.parquet`` (a Spark dataset folder), ``edges.parquet``,
    ``edges.csv``, ``network.gexf`` (Gephi), ``members.parquet`` and ``members.csv``
    (account_id, cluster: Leiden clusters of the tie graph,
    :func:`echoscope.cluster.cluster_pairs`, on the driver).
    ``out_dir`` is a local folder on the driver for the files written by the driver;
    ``actions.parquet`` may be on any Spark-writable path given as ``out_dir``. Returns
    counts and per-layer figures.
    """
    import pyarrow.parquet as pq

    from echoscope.cluster import ClusterParams, cluster_pairs, combine_pairs, tie_edges
    from echoscope.detect.coaction import DetectParams
    from echoscope.network import write_edges_csv
    from echoscope.report.exports import write_edges_gexf

    spark = spark_session(master)
    dp = detect_params or DetectParams(seed=seed)
    posts = read_posts(spark, paths, fmt)
    acts = actions_df(posts, actions_params).persist()
    try:
        acts.write.mode("overwrite").parquet(os.path.join(out_dir, "actions.parquet"))
        stats: dict[str, Any] = {}
        edges = edges_from_actions(acts, dp, stats=stats, split_rows=split_rows)
        n_actions = acts.count()
    finally:
        acts.unpersist()
    if edges.num_rows > MAX_DRIVER_EDGES:
        raise UserError(f"{edges.num_rows:,} edges exceed the driver's clustering limit of "
                        f"{MAX_DRIVER_EDGES:,}; raise min_keys or lower alpha "
                        "(docs/spark.md).")
    os.makedirs(out_dir, exist_ok=True)
    pq.write_table(edges, os.path.join(out_dir, "edges.parquet"))
    write_edges_csv(edges, os.path.join(out_dir, "edges.csv"))
    write_edges_gexf(edges, os.path.join(out_dir, "network.gexf"))
    cp = ClusterParams(seed=seed)
    members = cluster_pairs(combine_pairs(tie_edges(edges, cp)), resolution=cp.resolution,
                            seed=seed)
    pq.write_table(members, os.path.join(out_dir, "members.parquet"))
    write_edges_csv(members, os.path.join(out_dir, "members.csv"))
    return {"actions": n_actions, "edges": edges.num_rows,
            "clustered_accounts": members.num_rows, "detect": stats}
