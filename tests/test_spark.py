"""The Spark engine gives exactly the DuckDB engine's actions, edges and campaigns.

Local mode, one SparkSession for the whole test session (local[2], UI off, few shuffle
partitions). Input: generated posts (neutral invented text) with planted campaigns, noise,
every action type, and popular keys that the time-bucket split cuts into many buckets.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import shutil
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from echoscope import schema
from echoscope.actions import ACTION_TYPES, ActionParams, actions_from_posts
from echoscope.detect.coaction import DetectParams, coaction_edges
from echoscope.errors import ParameterError

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - CI installs Java
    pytest.skip("the Spark engine needs Java 17", allow_module_level=True)

pytestmark = pytest.mark.spark

T0 = dt.datetime(2024, 3, 1)
WORDS = ("river", "garden", "lantern", "meadow", "orchard", "harbour", "pebble", "violet",
         "thunder", "biscuit", "compass", "saddle", "marble", "willow", "kettle", "quartz")


@pytest.fixture(scope="session")
def engine(spark: Any) -> Any:
    from echoscope.engines.spark import SparkEngine

    # a tiny split threshold: popular keys are cut into many time buckets
    return SparkEngine(spark=spark, split_rows=6)


def _sentence(rng: random.Random, n: int = 9) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_posts(seed: int = 3) -> pa.Table:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []

    def add(**kw: Any) -> None:
        d: dict[str, Any] = {c: None for c in schema.TABLES["posts"].columns}
        d.update(platform="twitter", post_id=f"p{len(rows)}", kind="post", urls=[],
                 hashtags=[], mentions=[], mention_ids=[], media=[], source_file="gen",
                 source_record=len(rows) + 1)
        d.update(kw)
        d["created_at"] = T0 + dt.timedelta(seconds=d["created_at"])
        rows.append(d)

    organic = [f"org{i:03d}" for i in range(60)]
    # seed posts others repost, reply to and quote
    for i in range(12):
        add(account_id=organic[i], created_at=i * 50.0, text=_sentence(rng))
    # planted campaigns: each burst, members act within seconds on shared content
    for c in range(3):
        members = [f"camp{c}_{m}" for m in range(6)]
        for burst in range(5):
            start = 3600.0 * (c * 7 + burst) + 100
            base = _sentence(rng, 12)
            url = f"https://site{c}.example/{burst}"
            for k, acc in enumerate(members):
                t = start + k * 4 + rng.random()
                text = base + ("" if k % 2 else f" {rng.choice(WORDS)}")  # near copies
                add(account_id=acc, created_at=t, text=text, urls=[url],
                    hashtags=[f"tag{c}{burst}", f"camp{c}"], mentions=[f"target{c}"],
                    media=[{"media_id": f"m{c}{burst}", "url": None, "hash": None}])
                add(account_id=acc, created_at=t + 1, kind="repost", parent_post_id=f"p{burst}",
                    text="RT " + base)
                add(account_id=acc, created_at=t + 2, kind="reply", parent_post_id=f"p{5 + c}",
                    text=f"@x {base} reply")
                add(account_id=acc, created_at=t + 3, kind="quote", parent_post_id=f"p{9 + c}",
                    text=f"{base} quoted {k}", urls=["https://twitter.com/x/status/1"])
    # noise: organic accounts, random content over days
    for _ in range(700):
        acc = rng.choice(organic)
        t = rng.uniform(0, 86400 * 2)
        kind = rng.choice(["post", "post", "repost", "reply", "quote"])
        add(account_id=acc, created_at=t, kind=kind,
            parent_post_id=None if kind == "post" else f"p{rng.randrange(12)}",
            text=_sentence(rng, rng.randint(3, 12)),
            urls=[f"https://www.news{rng.randrange(8)}.example/a{rng.randrange(30)}"]
            if rng.random() < 0.4 else [],
            hashtags=rng.sample(["daily", "local", "sport", "music", "food"],
                                rng.randint(0, 3)),
            mentions=[f"user{rng.randrange(10)}"] if rng.random() < 0.3 else [],
            media=[{"media_id": f"n{rng.randrange(40)}", "url": None, "hash": f"h{rng.randrange(20)}"}]
            if rng.random() < 0.2 else [])
    # popular keys: a hashtag over three hours and a repost burst within one window
    for i in range(150):
        add(account_id=f"fan{i:03d}", created_at=20000 + rng.uniform(0, 3 * 3600),
            hashtags=["bigshow"], text=_sentence(rng, 2))
        add(account_id=f"fan{i:03d}", created_at=40000 + rng.uniform(0, 50),
            kind="repost", parent_post_id="p11", text="RT popular")
    # exact-time ties and a post without time or account
    add(account_id="tie_a", created_at=500.0, hashtags=["tie"], text="x")
    add(account_id="tie_b", created_at=500.0, hashtags=["tie"], text="x")
    add(account_id="tie_a", created_at=900.0, hashtags=["tie2"], text="x")
    add(account_id="tie_b", created_at=900.0, hashtags=["tie2"], text="x")
    rows.append({**rows[-1], "post_id": "nt", "created_at": None})
    rng.shuffle(rows)
    return pa.Table.from_pylist(rows, schema=schema.TABLES["posts"].schema)


@pytest.fixture(scope="module")
def posts() -> pa.Table:
    return make_posts()


@pytest.fixture(scope="module")
def actions(posts: pa.Table) -> pa.Table:
    return actions_from_posts(posts)


def test_generated_input_has_every_type(actions: pa.Table) -> None:
    present = set(actions["type"].to_pylist())
    assert present == set(ACTION_TYPES)


def test_actions_identical(engine: Any, posts: pa.Table, actions: pa.Table) -> None:
    got = engine.actions(posts)
    assert got.schema.equals(actions.schema)
    assert got.num_rows == actions.num_rows
    assert got.equals(actions)


def test_near_text_clusters_identical(engine: Any, posts: pa.Table) -> None:
    p = ActionParams(types=("near_text",), near_threshold=0.5)
    want = actions_from_posts(posts, p)
    got = engine.actions(posts, p)
    assert got.equals(want)
    # planted near copies share a key: clusters are not trivial
    keys = pc.value_counts(want["key"]).field("counts").to_numpy()
    assert keys.max() >= 6


def _assert_edges_equal(got: pa.Table, want: pa.Table) -> None:
    assert got.schema.equals(want.schema)
    assert got.num_rows == want.num_rows
    for name in want.column_names:
        if pa.types.is_floating(want.schema.field(name).type):
            # exact (bit-for-bit up to NaN == NaN), never within a tolerance
            np.testing.assert_array_equal(got[name].to_numpy(), want[name].to_numpy(),
                                          err_msg=name, strict=True)
        else:
            assert got[name].to_pylist() == want[name].to_pylist(), name


@pytest.mark.parametrize("null", ["configuration", "none"])
def test_edges_identical_all_types(engine: Any, actions: pa.Table, null: str) -> None:
    p = DetectParams(alpha=1.0, null=null, min_keys=1)
    want = coaction_edges(actions, p)
    stats: dict[str, Any] = {}
    got = engine.edges(actions, p, stats=stats)
    assert stats["split_keys"] > 0  # the popular keys were cut into time buckets
    assert set(want["type"].to_pylist()) == set(ACTION_TYPES)
    _assert_edges_equal(got, want)


def test_edges_identical_default_params(engine: Any, actions: pa.Table) -> None:
    p = DetectParams()
    want = coaction_edges(actions, p)
    assert want.num_rows > 0
    _assert_edges_equal(engine.edges(actions, p), want)


def test_split_is_exact_for_any_threshold(spark: Any, actions: pa.Table) -> None:
    from echoscope.engines.spark import SparkEngine

    p = DetectParams(types=("hashtag", "repost"), windows=(60.0, 600.0), alpha=1.0,
                     min_keys=1, wide_max_accounts=1000)
    want = coaction_edges(actions, p)
    for split in (2, 1000):
        got = SparkEngine(spark=spark, split_rows=split).edges(actions, p)
        _assert_edges_equal(got, want)


def test_campaigns_identical(engine: Any, posts: pa.Table, tmp_path: Any) -> None:
    from echoscope.cluster import find_campaigns
    from echoscope.engines import get_engine
    from echoscope.workspace import Workspace

    out = {}
    for name, eng in (("duckdb", get_engine("duckdb")), ("spark", engine)):
        ws = Workspace(tmp_path / f"{name}.duckdb")
        ws.replace("posts", posts, stage="test")
        eng.build_actions(ws)
        eng.detect_edges(ws, DetectParams(alpha=1.0))
        find_campaigns(ws)
        # row order of the actions table is the writer's (the embedded engine writes
        # in batches); the rows are what must agree
        out[name] = (ws.sql("SELECT * FROM actions ORDER BY ALL"), ws.table("edges"),
                     ws.sql("SELECT * FROM coaction_accounts ORDER BY account_id"),
                     ws.sql("SELECT * FROM campaign_members ORDER BY ALL"))
        ws.close()
    for a, b in zip(out["duckdb"], out["spark"], strict=True):
        assert a.equals(b)
    assert out["spark"][2].num_rows > 0  # the account-level test ran on both
    assert out["spark"][3].num_rows > 0


def test_shift_null_identical(engine: Any, actions: pa.Table) -> None:
    p = DetectParams(alpha=1.0, null="shift", min_keys=1, seed=4,
                     types=("repost", "hashtag", "url", "text"))
    want = coaction_edges(actions, p, p.seed)
    got = engine.edges(actions, p)
    pv = want["p_value"].to_numpy()
    assert want.num_rows > 0 and np.isfinite(pv).all() and (pv < 1).any()
    _assert_edges_equal(got, want)


@pytest.mark.parametrize("max_pairs", [30_000_000, 3_000])
def test_window_auto_identical(engine: Any, actions: pa.Table, max_pairs: int) -> None:
    # max_pairs 3,000 makes both engines sample keys (seeded, the same keys)
    p = DetectParams(window="auto", alpha=1.0, min_keys=1, max_pairs=max_pairs, seed=7,
                     types=("repost", "hashtag", "url", "reply"))
    ws: dict[str, Any] = {}
    want = coaction_edges(actions, p, p.seed, stats=ws)
    gs: dict[str, Any] = {}
    got = engine.edges(actions, p, stats=gs)
    assert gs["auto_curves"] == ws["auto_curves"]
    assert gs["windows"] == ws["windows"]
    assert any(w[0] != 60.0 for w in ws["windows"].values())  # auto chose something
    if not any(x["capped_keys"] for x in ws["layers"]):
        _assert_edges_equal(got, want)
    else:  # the small budget also made the single machine leave popular keys out
        assert max_pairs < 30_000_000


@pytest.mark.parametrize("min_stratum_keys", [5, 20])
def test_thin_strata_merge_identical(engine: Any, actions: pa.Table,
                                     min_stratum_keys: int) -> None:
    # 5 merges some popularity strata of most layers and leaves others (gaps in the
    # levels); 20 merges most layers into one or two strata; the default (0, no
    # merging) is covered by the tests above
    p = DetectParams(alpha=1.0, min_keys=1, min_stratum_keys=min_stratum_keys,
                     types=("repost", "hashtag", "url", "media", "mention"))
    st: dict[str, Any] = {}
    want = coaction_edges(actions, p, stats=st)
    if min_stratum_keys:
        base: dict[str, Any] = {}
        coaction_edges(actions, dataclasses.replace(p, min_stratum_keys=0),
                       stats=base)
        assert sum(x["null_strata"] for x in st["layers"]) < sum(
            x["null_strata"] for x in base["layers"])
    _assert_edges_equal(engine.edges(actions, p), want)


@given(st.lists(st.integers(0, 3000), max_size=80), st.integers(0, 40))
def test_strata_remap_from_histogram_matches_merge(n_acc: list[int], k: int) -> None:
    # the Spark driver merges from keys counted per level (thin_strata_remap); the single
    # machine from one count per key (merge_thin_strata): the same strata
    from echoscope.detect.null import merge_thin_strata, thin_strata_remap

    n = np.array(n_acc, dtype=np.int64)
    want = merge_thin_strata(n, k)
    present = n > 0
    level = np.floor(np.log2(np.maximum(n, 1))).astype(np.int64)
    hist = np.bincount(level[present]) if present.any() else np.zeros(1, np.int64)
    got = thin_strata_remap(hist, k)[level[present]]
    assert got.tolist() == want[present].tolist()


@pytest.mark.parametrize("name", ["time_classes", "account_time_classes"])
def test_time_classes_rejected(engine: Any, actions: pa.Table, name: str) -> None:
    with pytest.raises(ParameterError, match=name):
        engine.edges(actions, DetectParams(**{name: 6}))


def test_get_engine_rejects_unknown() -> None:
    from echoscope.engines import get_engine

    with pytest.raises(ParameterError, match="engine"):
        get_engine("flink")


def test_empty_inputs(engine: Any) -> None:
    assert engine.edges(schema.empty("actions")).num_rows == 0
    assert np.isfinite(0.0)


def test_cli_detect_engine_spark_matches_default(spark: Any, posts: pa.Table,
                                                 tmp_path: Any) -> None:
    from echoscope.cli import main
    from echoscope.workspace import Workspace

    tables = {}
    for name, extra in (("duckdb", []), ("spark", ["--engine", "spark",
                                                   "--spark-master", "local[2]"])):
        path = tmp_path / f"{name}.duckdb"
        ws = Workspace(path)
        ws.replace("posts", posts, stage="test")
        ws.close()
        assert main(["detect", "-w", str(path), "--quiet", *extra]) == 0
        ws = Workspace(path)
        tables[name] = (ws.table("edges"), ws.sql("SELECT * FROM campaign_members ORDER BY ALL"))
        ws.close()
    assert tables["spark"][0].equals(tables["duckdb"][0])
    assert tables["spark"][1].equals(tables["duckdb"][1])


def test_read_posts_parquet_and_twitter_v1(spark: Any, tmp_path: Any) -> None:
    import pyarrow.parquet as pq

    from echoscope.engines.spark import SparkEngine, actions_df, read_posts, to_arrow
    from echoscope.ingest import ingest_files
    from echoscope.simulate import sample_path
    from echoscope.workspace import Workspace

    ws = Workspace(tmp_path / "s.duckdb")
    ingest_files([str(sample_path())], ws)
    posts = ws.table("posts")
    ws.close()
    want = actions_from_posts(posts)
    pq.write_table(posts, tmp_path / "posts.parquet")
    sort = [("type", "ascending"), ("key", "ascending"), ("time", "ascending"),
            ("account_id", "ascending"), ("post_id", "ascending")]
    got = to_arrow(actions_df(read_posts(spark, str(tmp_path / "posts.parquet"))),
                   "actions").sort_by(sort)
    assert got.equals(want)
    raw = to_arrow(actions_df(read_posts(spark, str(sample_path()), "twitter-v1")),
                   "actions").sort_by(sort)
    assert raw.equals(want)
    with pytest.raises(ParameterError):
        read_posts(spark, str(sample_path()), "csv")
    assert SparkEngine(spark=spark).actions(posts.slice(0, 0)).num_rows == 0


def test_near_text_independent_of_row_order(posts: pa.Table) -> None:
    # LSH joins each bucket member to the bucket's first text: with texts in input order
    # the clusters depended on row order (58 of 200 random families in a check); both
    # engines now cluster the sorted distinct texts
    p = ActionParams(types=("near_text",), near_threshold=0.5)
    want = actions_from_posts(posts, p)
    rng = np.random.default_rng(5)
    for _ in range(3):
        shuffled = posts.take(pa.array(rng.permutation(posts.num_rows)))
        assert actions_from_posts(shuffled, p).equals(want)


def test_run_job_equals_embedded_detect(spark: Any, tmp_path: Any) -> None:
    """spark_job's path (posts on files -> edges, members) gives the embedded engine's
    edges, hashtag episodes included, and the clusters of those edges."""
    import pyarrow.parquet as pq

    from echoscope.cluster import ClusterParams, cluster_pairs, combine_pairs, tie_edges
    from echoscope.detect.coaction import episode_keys
    from echoscope.engines.spark import run_job

    posts = make_posts(5)
    # a hashtag used in two storms a day apart by the same crew: two episodes
    extra = []
    for day in (0, 1):
        for k in range(4):
            extra.append({**posts.slice(0, 1).to_pylist()[0], "post_id": f"storm{day}{k}",
                          "account_id": f"crew{k}", "kind": "post", "parent_post_id": None,
                          "hashtags": ["stormtag"], "urls": [], "media": [], "mentions": [],
                          "text": "x",
                          "created_at": T0 + dt.timedelta(days=day, seconds=10 * k)})
    posts = pa.concat_tables([posts, pa.Table.from_pylist(extra, schema=posts.schema)])
    pq.write_table(posts, tmp_path / "posts.parquet")
    acts = actions_from_posts(posts)
    split = episode_keys(acts, ("hashtag",), 6 * 3600.0)
    assert not split["key"].equals(acts["key"])  # episodes matter on this input
    p = DetectParams(alpha=1.0, seed=2)
    want = coaction_edges(acts, p, p.seed)
    res = run_job(str(tmp_path / "posts.parquet"), str(tmp_path / "out"), detect_params=p,
                  seed=2, split_rows=50)
    got = pq.read_table(tmp_path / "out" / "edges.parquet")
    _assert_edges_equal(got, want)
    assert res["edges"] == want.num_rows
    crew = want.filter(pc.and_(pc.equal(want["type"], "hashtag"),
                               pc.starts_with(want["account_a"], "crew")))
    assert crew.num_rows and set(crew["n_keys"].to_pylist()) == {2}  # two storms, two keys
    cp = ClusterParams(seed=2)
    members = cluster_pairs(combine_pairs(tie_edges(want, cp)), resolution=cp.resolution,
                            seed=2)
    assert pq.read_table(tmp_path / "out" / "members.parquet").equals(members)
    assert (tmp_path / "out" / "edges.csv").read_text(encoding="utf-8").count("\n") == \
        want.num_rows + 1
    import networkx as nx

    g = nx.read_gexf(tmp_path / "out" / "network.gexf")
    assert g.number_of_edges() == len({(a, b, t) for a, b, t in zip(
        want["account_a"].to_pylist(), want["account_b"].to_pylist(),
        want["type"].to_pylist(), strict=True)})
