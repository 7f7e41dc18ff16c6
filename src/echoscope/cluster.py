"""Campaigns: the multiplex account graph, Leiden clustering, scores and evidence.

Input: the ``edges`` table (one row per account pair, action type and window). Output: the
``campaigns``, ``campaign_members`` and ``campaign_evidence`` tables.

Steps (each a pure function on Arrow tables, so the Spark engine can run them on its
driver; only :func:`find_campaigns` touches the workspace):

1. :func:`significant_edges` keeps the edges that count as evidence. When an edge has a
   p-value (the null model ran), it is kept if its q-value (Benjamini-Hochberg) is at most
   ``alpha``; an edge without a p-value (NaN: no null model for that network) is kept if it
   rests on at least ``min_keys`` distinct shared keys, the rule of CooRTweet's
   ``min_participation`` and the toolkit's ``min_edge_weight``.
2. :func:`combine_pairs` folds all types and windows into one weighted tie per account
   pair: for each type the strongest window counts (the windows of one type see the same
   keys, so adding them would count one behaviour twice); the types are then summed, since
   different types are different behaviours. An edge's strength is its ``weight`` (rarity-
   and activity-normalised by the detector) when positive and finite, else its ``n_keys``.
3. :func:`cluster_pairs` runs Leiden (``leidenalg``) on that graph, seeded, with the
   ``RBConfigurationVertexPartition`` quality (modularity with a resolution parameter).
   Why not CPM: CPM's resolution is in units of edge weight, so a good value depends on the
   weight scale of each dataset and detector; modularity compares each tie with what the
   accounts' total strength predicts, which is scale-free. Modularity never merges two
   disconnected groups (that lowers it), so unrelated campaigns stay apart; within a
   connected group Leiden splits off loosely tied parts, and guarantees connected clusters.
4. Clusters smaller than ``min_size`` (default 3) are dropped. Two accounts tied by strong
   evidence may be a real pair (one operator, two accounts), but also two friends, a
   person and their own second account, or two news bots of one outlet; a *campaign* is a
   network. The tie stays visible in ``edges.csv``; ``min_size=2`` reports pairs too.
5. Each campaign gets a score (:mod:`echoscope.score`), its signals (the action types of its
   internal ties, plus ``automation`` when at least half of the members have a flagged
   behavioural signal in ``account_signals``), and evidence: the keys most shared among its
   members (from ``actions`` and ``posts``).

Campaign ids (``C0001``, ``C0002``, …) are assigned by descending score *without* the
automation component, then by the smallest member id, so they are stable across runs with
the same input and seed, whether or not the signals stage has run before (the pipeline
runs signals after clustering and then clusters again to add automation to the score;
the ids stay the same).

Size limit: clustering runs in one process (igraph holds ~40 bytes per tie). Above
``max_pairs`` (default 20 million significant ties, ~1–2 GB) :func:`find_campaigns` stops
with a :class:`~echoscope.errors.ParameterError` asking for a stricter ``alpha`` /
``min_keys`` instead of exhausting memory.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from echoscope import progress, schema
from echoscope.errors import ParameterError
from echoscope.params import Params, limit
from echoscope.score import CampaignFeatures, campaign_score, tie_significance
from echoscope.workspace import Workspace

__all__ = [
    "ACTION_TYPES",
    "ClusterParams",
    "ClusterResult",
    "cluster_pairs",
    "combine_pairs",
    "find_campaigns",
    "significant_edges",
]

#: Action types in DESIGN.md order (used for stable column order in outputs).
ACTION_TYPES: tuple[str, ...] = (
    "repost", "reply", "quote", "text", "near_text", "url", "domain", "hashtag",
    "hashtag_set", "media", "mention",
)

#: "automation" joins a campaign's signals when this share of members has a flagged signal.
AUTOMATION_FLAG = 0.5

PAIRS_SCHEMA = pa.schema([
    ("account_a", pa.string()),
    ("account_b", pa.string()),
    ("weight", pa.float64()),
    ("types", pa.list_(pa.string())),
    ("n_types", pa.int64()),
    ("min_q", pa.float64()),
    ("max_keys", pa.int64()),
])


@dataclass(frozen=True)
class ClusterParams(Params):
    """Parameters of campaign finding (see the module docstring for their meaning)."""

    alpha: float = field(default=0.05, metadata=limit(
        0.0, 1.0, help="false-discovery rate: keep edges with q_value <= alpha"))
    min_keys: int = field(default=2, metadata=limit(
        1, 1_000_000, "keys", help="edges without a p-value need this many shared keys"))
    min_size: int = field(default=3, metadata=limit(
        2, 1_000_000, "accounts", help="smallest campaign reported"))
    resolution: float = field(default=1.0, metadata=limit(
        0.001, 100.0, help="Leiden (RB configuration) resolution; higher = smaller campaigns"))
    max_evidence: int = field(default=20, metadata=limit(
        1, 10_000, "keys", help="evidence rows kept per campaign"))
    max_pairs: int = field(default=20_000_000, metadata=limit(
        1, 2_000_000_000, "pairs", help="refuse to cluster more significant ties than this"))
    seed: int = field(default=0, metadata=limit(0, 2**31 - 1, help="Leiden random seed"))


@dataclass
class ClusterResult:
    """What :func:`find_campaigns` wrote."""

    n_edges_in: int
    n_significant: int
    n_pairs: int
    n_campaigns: int
    n_members: int
    rule: str
    counts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges_in": self.n_edges_in,
            "significant_edges": self.n_significant,
            "pairs": self.n_pairs,
            "campaigns": self.n_campaigns,
            "members": self.n_members,
            "rule": self.rule,
        }


# -- pure steps on Arrow tables ---------------------------------------------------------


def _nan_null(x: Any) -> Any:
    """NaN (and null) as null, so ``coalesce`` can fall through it."""
    x = pc.cast(x, pa.float64())
    return pc.if_else(pc.is_nan(pc.fill_null(x, math.nan)), pa.scalar(None, pa.float64()), x)


def _q(edges: pa.Table) -> Any:
    """The q-value of each edge, or its p-value when only that exists (else null)."""
    return pc.coalesce(_nan_null(edges.column("q_value")), _nan_null(edges.column("p_value")))


def significant_edges(edges: pa.Table, alpha: float = 0.05, min_keys: int = 2) -> pa.Table:
    """The edges that count as evidence (rule in the module docstring)."""
    if edges.num_rows == 0:
        return edges
    q = _q(edges)
    has_p = pc.is_valid(q)
    q_ok = pc.fill_null(pc.less_equal(pc.fill_null(q, math.inf), alpha), False)
    keys_ok = pc.greater_equal(pc.fill_null(edges.column("n_keys"), 0), min_keys)
    keep = pc.if_else(has_p, q_ok, keys_ok)
    keep = pc.and_(keep, pc.not_equal(edges.column("account_a"), edges.column("account_b")))
    return edges.filter(keep)


def _strength(edges: pa.Table) -> pa.Array:
    w = pc.fill_null(edges.column("weight"), math.nan)
    good = pc.and_(pc.is_finite(w), pc.greater(w, 0.0))
    return pc.if_else(good, w, pc.cast(edges.column("n_keys"), pa.float64()))


def combine_pairs(edges: pa.Table) -> pa.Table:
    """One tie per account pair: max over windows within a type, summed over types.

    Returns columns account_a < account_b, weight, types (sorted), n_types, min_q (NaN when
    no edge of the pair had a q-value) and max_keys, sorted by (account_a, account_b).
    """
    if edges.num_rows == 0:
        return PAIRS_SCHEMA.empty_table()
    a = edges.column("account_a")
    b = edges.column("account_b")
    lo = pc.if_else(pc.less(a, b), a, b)
    hi = pc.if_else(pc.less(a, b), b, a)
    q = _q(edges)
    t = pa.table({
        "account_a": lo, "account_b": hi, "type": edges.column("type"),
        "s": _strength(edges), "q": pc.fill_null(q, math.inf),
        "k": pc.cast(edges.column("n_keys"), pa.int64()),
    })
    per_type = t.group_by(["account_a", "account_b", "type"], use_threads=False).aggregate(
        [("s", "max"), ("q", "min"), ("k", "max")]
    )
    per_type = per_type.sort_by([("account_a", "ascending"), ("account_b", "ascending"),
                                 ("type", "ascending")])
    pairs = per_type.group_by(["account_a", "account_b"], use_threads=False).aggregate(
        [("s_max", "sum"), ("type", "list"), ("type", "count"), ("q_min", "min"),
         ("k_max", "max")]
    )
    min_q = pairs.column("q_min_min")
    min_q = pc.if_else(pc.is_inf(min_q), pa.scalar(math.nan), min_q)
    types = [sorted(x) for x in pairs.column("type_list").to_pylist()]
    out = pa.table({
        "account_a": pairs.column("account_a"),
        "account_b": pairs.column("account_b"),
        "weight": pairs.column("s_max_sum"),
        "types": pa.array(types, pa.list_(pa.string())),
        "n_types": pc.cast(pairs.column("type_count"), pa.int64()),
        "min_q": min_q,
        "max_keys": pairs.column("k_max_max"),
    }, schema=PAIRS_SCHEMA)
    return out.sort_by([("account_a", "ascending"), ("account_b", "ascending")])


def cluster_pairs(pairs: pa.Table, *, resolution: float = 1.0, seed: int = 0) -> pa.Table:
    """Leiden clusters of the tie graph: columns account_id, cluster (int64).

    Vertices are the sorted account ids, so the result depends only on the ties and seed,
    not on row order. Cluster numbers are arbitrary; :func:`find_campaigns` names them.
    """
    import igraph as ig
    import leidenalg

    if pairs.num_rows == 0:
        return pa.table({"account_id": pa.array([], pa.string()),
                         "cluster": pa.array([], pa.int64())})
    pairs = pairs.sort_by([("account_a", "ascending"), ("account_b", "ascending")])
    both = pa.concat_arrays([pairs.column("account_a").combine_chunks(),
                             pairs.column("account_b").combine_chunks()])
    uniq = pc.unique(both)
    uniq = uniq.take(pc.array_sort_indices(uniq))
    ia = pc.index_in(pairs.column("account_a"), value_set=uniq).to_numpy()
    ib = pc.index_in(pairs.column("account_b"), value_set=uniq).to_numpy()
    g = ig.Graph(n=len(uniq), edges=np.column_stack([ia, ib]).tolist(), directed=False)
    weights = pairs.column("weight").to_numpy().astype(float).tolist()
    part = leidenalg.find_partition(
        g, leidenalg.RBConfigurationVertexPartition, weights=weights,
        resolution_parameter=resolution, n_iterations=-1, seed=seed,
    )
    return pa.table({"account_id": uniq, "cluster": pa.array(part.membership, pa.int64())})


# -- the workspace stage -------------------------------------------------------------------


def find_campaigns(ws: Workspace, params: ClusterParams | None = None) -> ClusterResult:
    """Cluster the ``edges`` of a workspace into campaigns and write the campaign tables.

    Replaces ``campaigns``, ``campaign_members`` and ``campaign_evidence``. Reads
    ``actions`` and ``posts`` for evidence and ``account_signals`` (when present) for the
    automation component of the score.
    """
    params = params or ClusterParams()
    with progress.task("cluster: campaigns") as bar:
        edges = ws.table("edges")
        sig = significant_edges(edges, params.alpha, params.min_keys)
        rule = (f"q_value <= {params.alpha} where p-values exist, else n_keys >= "
                f"{params.min_keys}")
        if sig.num_rows > params.max_pairs:
            raise ParameterError(
                f"{sig.num_rows:,} significant edges exceed max_pairs = {params.max_pairs:,} "
                "for driver-side clustering; lower alpha or raise min_keys."
            )
        pairs = combine_pairs(sig)
        membership = cluster_pairs(pairs, resolution=params.resolution, seed=params.seed)
        campaigns, members, evidence = _build(ws, pairs, membership, params)
        with ws.transaction():
            for name, data in (("campaigns", campaigns), ("campaign_members", members),
                               ("campaign_evidence", evidence)):
                ws.con.execute(f'DELETE FROM "{name}"')
                ws.append(name, data, stage="cluster")
        bar.advance()
    return ClusterResult(
        n_edges_in=edges.num_rows, n_significant=sig.num_rows, n_pairs=pairs.num_rows,
        n_campaigns=campaigns.num_rows, n_members=members.num_rows, rule=rule,
    )


def _internal(pairs: pa.Table, membership: pa.Table) -> pa.Table:
    """Ties whose two accounts share a cluster, with that cluster."""
    ids = membership.column("account_id")
    cl = membership.column("cluster")
    ca = cl.take(pc.index_in(pairs.column("account_a"), value_set=ids))
    cb = cl.take(pc.index_in(pairs.column("account_b"), value_set=ids))
    j = pairs.append_column("cluster", ca)
    same = pc.fill_null(pc.equal(ca, cb), False)
    return j.filter(same)


def _automation(ws: Workspace, accounts: list[str]) -> dict[str, float] | None:
    """Per-account automation (1.0 = at least one flagged behavioural signal, else 0.0)
    from ``account_signals``, or None when the signals stage has not run.
    """
    exists = ws.scalar("SELECT count(*) FROM information_schema.tables "
                       "WHERE table_name = 'account_signals'")
    if not exists or not ws.scalar("SELECT count(*) > 0 FROM account_signals"):
        return None
    view = f"_accts_{uuid.uuid4().hex[:8]}"
    ws.con.register(view, pa.table({"account_id": pa.array(accounts, pa.string())}))
    try:
        rows = ws.sql(
            f"SELECT s.account_id, max(CASE WHEN s.flagged THEN 1.0 ELSE 0.0 END) AS v "
            f"FROM account_signals s JOIN {view} USING (account_id) GROUP BY 1"
        ).to_pylist()
    finally:
        ws.con.unregister(view)
    return {r["account_id"]: float(r["v"]) for r in rows}


def _evidence(ws: Workspace, members: pa.Table) -> pa.Table:
    """Keys acted on by two or more members of a cluster (all of them, ranked later)."""
    view = f"_members_{uuid.uuid4().hex[:8]}"
    ws.con.register(view, members.select(["account_id", "cluster"]))
    try:
        return ws.sql(f"""
            WITH k AS (
              SELECT m.cluster, a.type, a.key,
                     count(DISTINCT a.account_id) AS n_accounts,
                     count(*) AS n_actions,
                     min(a.time) AS first_time, max(a.time) AS last_time,
                     arg_min(a.post_id, (a.time, a.post_id)) AS example_post_id
              FROM actions a JOIN {view} m USING (account_id)
              GROUP BY ALL
              HAVING count(DISTINCT a.account_id) >= 2
            ),
            p AS (
              SELECT post_id, any_value(text ORDER BY platform) AS text
              FROM posts WHERE post_id IN (SELECT example_post_id FROM k)
              GROUP BY post_id
            )
            SELECT k.*, p.text AS example_text
            FROM k LEFT JOIN p ON p.post_id = k.example_post_id
            ORDER BY k.cluster, k.type, k.key
        """)
    finally:
        ws.con.unregister(view)


def _build(ws: Workspace, pairs: pa.Table, membership: pa.Table,
           params: ClusterParams) -> tuple[pa.Table, pa.Table, pa.Table]:
    if membership.num_rows == 0:
        return schema.empty("campaigns"), schema.empty("campaign_members"), \
            schema.empty("campaign_evidence")
    sizes = membership.group_by("cluster").aggregate([("account_id", "count")])
    big = sizes.filter(pc.greater_equal(sizes.column("account_id_count"), params.min_size))
    keep = pc.is_in(membership.column("cluster"), value_set=big.column("cluster"))
    members = membership.filter(keep)
    if members.num_rows == 0:
        return schema.empty("campaigns"), schema.empty("campaign_members"), \
            schema.empty("campaign_evidence")
    inner = _internal(pairs, members)
    by_cluster: dict[int, list[str]] = {}
    for acct, cl in zip(members.column("account_id").to_pylist(),
                        members.column("cluster").to_pylist(), strict=True):
        by_cluster.setdefault(cl, []).append(acct)
    ties: dict[int, list[dict[str, Any]]] = {cl: [] for cl in by_cluster}
    for row in inner.to_pylist():
        ties[row["cluster"]].append(row)
    ev = _evidence(ws, members)
    ev_rows: dict[int, list[dict[str, Any]]] = {cl: [] for cl in by_cluster}
    for row in ev.to_pylist():
        ev_rows[row["cluster"]].append(row)
    auto = _automation(ws, members.column("account_id").to_pylist())

    drafts: list[dict[str, Any]] = []
    for cl, accts in by_cluster.items():
        accts.sort()
        t = ties[cl]
        n = len(accts)
        types = sorted({ty for r in t for ty in r["types"]})
        sig = float(np.mean([
            tie_significance(None if math.isnan(r["min_q"]) else r["min_q"], r["max_keys"])
            for r in t
        ])) if t else 0.0
        density = 2.0 * len(t) / (n * (n - 1)) if n > 1 else 0.0
        shared = [r for r in ev_rows[cl] if r["type"] in types]
        mean_auto = None
        signals = list(types)
        if auto is not None:
            vals = [auto.get(a, 0.0) for a in accts]
            mean_auto = float(np.mean(vals))
            if mean_auto >= AUTOMATION_FLAG:
                signals.append("automation")
        feats = CampaignFeatures(sig, density, len(types), len(shared), mean_auto)
        base = CampaignFeatures(sig, density, len(types), len(shared), None)
        span = shared or ev_rows[cl]
        drafts.append({
            "cluster": cl, "accounts": accts, "ties": t, "types": types, "signals": signals,
            "score": campaign_score(feats), "base": campaign_score(base), "density": density,
            "first_time": min((r["first_time"] for r in span), default=None),
            "last_time": max((r["last_time"] for r in span), default=None),
            "evidence": _rank_evidence(ev_rows[cl], types, params.max_evidence),
            "n_shared": len(shared),
        })
    # ids follow the score *without* automation, so they do not change when the signals
    # stage (which runs after clustering and reads campaigns) adds account_signals.
    drafts.sort(key=lambda d: (-d["base"], d["accounts"][0]))

    c_rows: list[dict[str, Any]] = []
    m_rows: list[dict[str, Any]] = []
    e_rows: list[dict[str, Any]] = []
    for i, d in enumerate(drafts, start=1):
        cid = f"C{i:04d}"
        strength: dict[str, float] = dict.fromkeys(d["accounts"], 0.0)
        degree: dict[str, int] = dict.fromkeys(d["accounts"], 0)
        for r in d["ties"]:
            for acct in (r["account_a"], r["account_b"]):
                strength[acct] += r["weight"]
                degree[acct] += 1
        c_rows.append({
            "campaign_id": cid, "size": len(d["accounts"]), "score": d["score"],
            "signals": d["signals"], "n_edges": len(d["ties"]), "density": d["density"],
            "first_time": d["first_time"], "last_time": d["last_time"],
            "summary": _summary(d),
        })
        m_rows.extend({"campaign_id": cid, "account_id": a, "strength": strength[a],
                       "degree": degree[a]} for a in d["accounts"])
        for r in d["evidence"]:
            e_rows.append({"campaign_id": cid, **{k: r[k] for k in (
                "type", "key", "n_accounts", "n_actions", "first_time", "last_time",
                "example_post_id", "example_text")}})
    return (
        pa.Table.from_pylist(c_rows, schema=schema.TABLES["campaigns"].schema),
        pa.Table.from_pylist(m_rows, schema=schema.TABLES["campaign_members"].schema),
        pa.Table.from_pylist(e_rows, schema=schema.TABLES["campaign_evidence"].schema),
    )


def _rank_evidence(rows: list[dict[str, Any]], types: list[str], n: int) -> list[dict[str, Any]]:
    """Keys of the tying types first, then by members involved, actions, type and key."""
    tie = set(types)
    return sorted(rows, key=lambda r: (r["type"] not in tie, -r["n_accounts"],
                                       -r["n_actions"], r["type"], r["key"]))[:n]


def _summary(d: dict[str, Any]) -> str:
    n = len(d["accounts"])
    types = ", ".join(d["types"]) or "no action type"
    s = f"{n} accounts tied by {types}"
    if d["n_shared"]:
        s += f"; {d['n_shared']} shared key{'s' if d['n_shared'] != 1 else ''}"
    if d["evidence"]:
        top = d["evidence"][0]
        s += f"; top: {top['type']} shared by {top['n_accounts']} members"
    if d["first_time"] is not None and d["last_time"] is not None:
        s += f" ({d['first_time']:%Y-%m-%d %H:%M} to {d['last_time']:%Y-%m-%d %H:%M} UTC)"
    return s + "."
