"""Campaigns: the multiplex account graph, Leiden clustering, scores and evidence.

Input: the ``edges`` table (one row per account pair, action type and window). Output: the
``campaigns``, ``campaign_members`` and ``campaign_evidence`` tables.

Steps (each a pure function on Arrow tables, so the Spark engine can run them on its
driver; only :func:`find_campaigns` touches the workspace):

1. :func:`tie_edges` keeps the edges that may tie accounts. Default (``method="group"``):
   edges with a p-value at most ``edge_p`` (default 0.1: weak evidence alone; the
   campaign test below decides). ``method="edges"``: only edges whose Benjamini-Hochberg
   q-value is at most ``alpha`` (each tie significant on its own; strict, low recall on
   sparse data). In both, an edge without a p-value (NaN: no null model for that network,
   e.g. peer-compatible modes) is kept if it rests on at least ``min_keys`` distinct
   shared keys, the rule of CooRTweet's ``min_participation``.
   :func:`significant_edges` is the edge-level rule alone (``edges.csv`` column
   ``significant``).
2. :func:`combine_pairs` folds all types and windows into one weighted tie per account
   pair: for each type the strongest window counts (the windows of one type see the same
   keys, so adding them would count one behaviour twice); the types are then summed, since
   different types are different behaviours. An edge's strength is its ``weight`` (rarity-
   and activity-normalised by the detector) when positive and finite, else its ``n_keys``.
3. :func:`cluster_pairs` runs Leiden on that graph (igraph's implementation; the same
   algorithm and quality as ``leidenalg``'s ``RBConfigurationVertexPartition``), seeded,
   two iterations, optimising modularity with a resolution parameter.
   Why not CPM: CPM's resolution is in units of edge weight, so a good value depends on the
   weight scale of each dataset and detector; modularity compares each tie with what the
   accounts' total strength predicts, which is scale-free. Modularity never merges two
   disconnected groups (that lowers it), so unrelated campaigns stay apart; within a
   connected group Leiden splits off loosely tied parts, and guarantees connected clusters.
4. The campaign test (:func:`campaign_test`, ``method="group"``). Pairwise tests have
   little power when each member acts only a few times, but a campaign is many accounts
   tied *to each other*. A cluster's statistic is its excess of internal ties over what
   its members' degrees predict, ``m_C - K_C² / 4E`` (``m_C`` internal ties, ``K_C`` the
   members' summed degree, ``E`` all ties: the cluster's unweighted modularity term). The
   null distribution comes from ``null_graphs`` degree-preserving random rewirings of the
   tie graph, clustered the same way: the cluster's p-value is
   ``(1 + #{rewirings whose best cluster reaches the statistic}) / (null_graphs + 1)``, a
   max-statistic permutation test, so choosing the best clusters is accounted for and
   the error rate holds over all clusters (family-wise). Preserving degrees makes it
   conservative: hubs and hyperactive accounts are expected to gather ties, and dense
   organic structure must beat the densest clusters that the same degrees produce at
   random. A cluster passes when its p-value is at most ``alpha``.
   Limits: when nearly all ties belong to one group, rewiring cannot produce a different
   graph and the test cannot confirm the group (the edge-level route still applies). The
   statistic grows with cluster size, so in a dense tie graph (many accounts with several
   weak ties each) large random communities set a high bar and small campaigns can be
   missed: the test errs towards not flagging. Real tie graphs measured so far are sparse
   (under one tie per account on average).
5. Campaigns are clusters of at least ``min_size`` accounts (default 3) that pass the
   campaign test or in which at least ``min_size`` members have an edge-level significant
   tie (q-value at most ``alpha``, or ``min_keys`` without p-values) inside the cluster.
   Two accounts tied by strong evidence may be a real pair (one operator, two accounts),
   but also two friends, a person and their own second account, or two news bots of one
   outlet; a *campaign* is a network. The tie stays visible in ``edges.csv``;
   ``min_size=2`` reports pairs too.
4b. :func:`refine_campaigns`: Leiden again on each accepted campaign's own ties; pieces
   that fail the campaign test and are not densely tied to a passing piece leave.
5a. :func:`trim_members`: a member needs ``member_ties`` (2) ties inside its campaign (at
   most size - 1) or one tie significant on its own; Leiden would otherwise flag an
   ordinary account with one chance tie into a campaign. With the detector's account
   test (``coaction_accounts``), a member also needs more co-action partners than chance
   gives it (``account_p``, 0.1) unless a tie of it is significant on its own: weak ties
   are honest per pair but there are many pairs, and on large inputs the chance ties of
   accounts that reposted the same breaking stories percolate into components that a
   dense campaign core carries (docs/methods.md, "Weak ties and size").
5b. :func:`merge_campaigns`: accepted campaigns tied to each other at least ``merge`` (0.2)
   times as densely as the sparser is inside are joined (modularity splits one large
   operation), and leftover pairs tied only into one campaign join it.
5e. :func:`consensus_campaigns` (``runs``, default 5; after 5b, before 5c): steps 3-5b
   (Leiden, campaign test, refinement, trim, merge) run ``runs`` times, from ``seed`` and
   seeds derived from it (:func:`run_seeds`), all against the same rewired maxima (the
   null does not depend on the observed clustering, so it is computed once). An account
   is a member when a majority of the runs puts it in a campaign, and two tied members
   share a campaign when a majority of the runs puts them in the same one; campaigns are
   the connected groups of such ties. One Leiden run is a randomised local search: on an
   operation whose parts are tied to most of each other but not all, one seed splits it
   (and the refinement and merge thresholds then cut it apart) where others do not.
   ``runs = 1`` is a single run. With 5 (the default) and the bout null, #KochFarms keeps
   its 26 identical-text accounts in one campaign at every seed 0-5 (13-26 with one run;
   benchmarks/RESULTS.md, "Bouts and consensus by default").
5c. :func:`owning_members` (``member_owned``: hashtag, hashtag_set, mention, domain): a
   member tied inside its campaign only by these types must have acted on a key (any type)
   its campaign owns (at least ``owned_share`` of the key's accounts are members);
   accounts tied in only through trending hashtags leave.
5d. :func:`attach_owned` (``owned_share`` > 0; 2/3 by default): an account in no campaign
   that acted on a campaign's own content key (at least ``owned_share`` of the key's
   accounts are members) within ``owned_window`` of ``owned_partners`` members joins it.
5f. :func:`echoscope.crews.attach_crews` (``crew_tags``, default 2; 0 = off): hijack
   crews. The accounts that carry hashtag bursts together (the crews of the hashtag
   signals, :func:`echoscope.signals.hashtags.hashtag_crews`) and posted a content key
   they own into the bursts of at least ``crew_tags`` hashtags apart in time join the
   campaign holding most of them, or form one (signal ``hijack_crew``). At 20,000
   simulated posts a hijacker posts a handful of times and few member pairs are tested
   at all; the group is visible as a group (docs/methods.md, "Hashtag storms and
   hijacks").
6. Each campaign gets a score (:mod:`echoscope.score`), its signals (the action types of its
   internal ties, plus ``automation`` when at least half of the members have a flagged
   behavioural signal in ``account_signals``), and evidence: the keys most shared among its
   members (from ``actions`` and ``posts``).

Campaign ids (``C0001``, ``C0002``, …) are assigned by descending score *without* the
automation component, then by the smallest member id, so they are stable across runs with
the same input and seed, whether or not the signals stage has run before (the pipeline
runs signals after clustering and then clusters again to add automation to the score;
the ids stay the same).

Size limit: clustering runs in one process (igraph holds ~40 bytes per tie). Above
``max_pairs`` (default 20 million ties, ~1–2 GB) :func:`find_campaigns` stops with a
:class:`~echoscope.errors.ParameterError` asking for a stricter ``edge_p`` / ``alpha`` /
``min_keys`` instead of exhausting memory. The campaign test clusters ``null_graphs``
rewired copies of the tie graph: its time is about ``null_graphs + 1`` times that of one
clustering (lower ``null_graphs`` with a larger ``alpha``, or ``method="edges"``, on very
large graphs); the consensus adds ``runs - 1`` clusterings with their refinements.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from echoscope import progress, schema
from echoscope.crews import attach_crews
from echoscope.errors import ParameterError
from echoscope.owned import owned_keys_sql
from echoscope.params import Params, choice, limit
from echoscope.score import CampaignFeatures, campaign_score, tie_significance
from echoscope.workspace import Workspace

__all__ = [
    "ACTION_TYPES",
    "ClusterParams",
    "ClusterResult",
    "assign_campaigns",
    "campaign_test",
    "cluster_pairs",
    "combine_pairs",
    "consensus_campaigns",
    "find_campaigns",
    "rescore_campaigns",
    "significant_edges",
    "tie_edges",
]

#: Action types in DESIGN.md order (used for stable column order in outputs).
ACTION_TYPES: tuple[str, ...] = (
    "repost", "reply", "quote", "text", "near_text", "url", "domain", "hashtag",
    "hashtag_set", "media", "mention",
)

#: Action types whose co-action people share without coordinating (a trending hashtag, a
#: celebrity's handle, a popular site): a member tied only by these must act on a key its
#: campaign owns (:func:`owning_members`)
AMBIENT_TYPES: tuple[str, ...] = ("hashtag", "hashtag_set", "mention", "domain")

#: Leiden iterations per clustering (leidenalg's default). Running to convergence (-1)
#: gained 0.4% modularity at 15x the time on a 100k-tie random graph.
LEIDEN_ITERATIONS = 2

#: Campaign-assignment runs of the consensus (``ClusterParams.runs``, step 5e); 1 = one
#: run (benchmarks/RESULTS.md, "Seed-robust campaigns" and "Bouts and consensus by default")
CONSENSUS_RUNS = 5

#: Degree-preserving swaps per tie in each rewired graph of the campaign test. Fewer swaps
#: leave a null graph closer to the observed one, which can only raise the bar (the test
#: errs towards not flagging); 5 per tie costs ~1.6 s per 100k ties here.
REWIRE_SWAPS = 5

#: "automation" joins a campaign's signals when this share of members has a flagged signal.
AUTOMATION_FLAG = 0.5

PAIRS_SCHEMA = pa.schema([
    ("account_a", pa.string()),
    ("account_b", pa.string()),
    ("weight", pa.float64()),
    ("types", pa.list_(pa.string())),
    ("n_types", pa.int64()),
    ("min_p", pa.float64()),
    ("min_q", pa.float64()),
    ("max_keys", pa.int64()),
])


@dataclass(frozen=True)
class ClusterParams(Params):
    """Parameters of campaign finding (see the module docstring for their meaning)."""

    method: str = field(default="group", metadata=choice(
        "group", "edges", help="group: campaign test on weak ties; edges: each tie FDR-significant"))
    alpha: float = field(default=0.05, metadata=limit(
        0.0, 1.0, help="edge FDR (q_value <= alpha) and level of the campaign test"))
    edge_p: float = field(default=0.1, metadata=limit(
        0.0, 1.0, help="group method: ties are edges with p_value <= edge_p"))
    null_graphs: int = field(default=19, metadata=limit(
        1, 10_000, "graphs", help="rewired graphs of the campaign test (>= 1/alpha - 1)"))
    min_keys: int = field(default=2, metadata=limit(
        1, 1_000_000, "keys", help="edges without a p-value need this many shared keys"))
    min_size: int = field(default=3, metadata=limit(
        2, 1_000_000, "accounts", help="smallest campaign reported"))
    resolution: float = field(default=1.0, metadata=limit(
        0.001, 100.0, help="Leiden (RB configuration) resolution; higher = smaller campaigns"))
    account_p: float = field(default=0.1, metadata=limit(
        0.0, 1.0, help="group method: a campaign member needs more co-action partners "
                       "than chance gives it (detector's account test p <= account_p) or "
                       "a tie significant on its own; 1 turns this off"))
    refine: bool = field(default=True, metadata={
        "help": "split accepted campaigns by Leiden on their own ties; keep the pieces that "
                "pass the campaign test and those tied to them as densely as merge asks"})
    member_ties: int = field(default=2, metadata=limit(
        0, 1_000, "ties", help="a campaign member needs this many ties inside it (at most "
                               "size - 1) or one tie significant on its own; 0: no trim"))
    merge: float = field(default=0.2, metadata=limit(
        0.0, 1.0, help="merge two campaigns when the tie density between them is at least "
                       "this share of the sparser campaign's own density (0: never)"))
    owned_share: float = field(default=2 / 3, metadata=limit(
        0.0, 1.0, help="attach an account outside every campaign that acted on a campaign's "
                       "own content (a content key at least this share of whose accounts "
                       "are the campaign's members) within owned_window of owned_partners "
                       "members; 0: off"))
    owned_partners: int = field(default=3, metadata=limit(
        1, 1_000_000, "accounts", help="members an attached account must have co-acted "
                                       "with on the owned key (see owned_share)"))
    owned_window: float = field(default=3600.0, metadata=limit(
        0.0, 30 * 86400.0, "seconds", help="co-action window of the owned-key rule"))
    member_owned: tuple[str, ...] = field(default=AMBIENT_TYPES, metadata=choice(
        *ACTION_TYPES, help="a campaign member whose ties inside its campaign are all of "
                            "these types (topics people share without coordinating) must "
                            "have acted on a key its campaign owns (any type; at least "
                            "owned_share of the key's accounts and owned_partners of them "
                            "are members), else it leaves; () = off; needs owned_share > 0"))
    crew_tags: int = field(default=2, metadata=limit(
        0, 1_000, "hashtags", help="hijack crews (echoscope.crews): accounts that carry "
                                   "hashtag bursts together and posted a content key "
                                   "they own (owned_share, owned_partners) into the "
                                   "bursts of at least this many hashtags join as a "
                                   "campaign; 0: off"))
    runs: int = field(default=CONSENSUS_RUNS, metadata=limit(
        1, 1_000, "runs", help="consensus of this many campaign assignments (Leiden, "
                              "refinement, trim, merge) from seeds derived from seed: "
                              "an account is a member, and two tied members share a "
                              "campaign, when a majority of runs says so; 1 = one run"))
    max_evidence: int = field(default=20, metadata=limit(
        1, 10_000, "keys", help="evidence rows kept per campaign"))
    max_pairs: int = field(default=20_000_000, metadata=limit(
        1, 2_000_000_000, "pairs", help="refuse to cluster more significant ties than this"))
    seed: int = field(default=0, metadata=limit(
        0, 2**31 - 1, help="seed of Leiden and of the rewirings"))

    def validate(self) -> None:
        if self.method == "group" and self.alpha < 1.0 / (self.null_graphs + 1) - 1e-12:
            raise ParameterError(
                f"null_graphs = {self.null_graphs} cannot reach alpha = {self.alpha}: the "
                f"smallest p-value of the campaign test is 1/(null_graphs + 1); use "
                f"null_graphs >= {math.ceil(1.0 / self.alpha) - 1 if self.alpha else 'inf'}."
            )


@dataclass(frozen=True)
class Assignment:
    """The campaign stage's decisions, kept so that :func:`rescore_campaigns` can write the
    campaign tables again (scores, signals, evidence) without clustering again."""

    pairs: pa.Table
    members: pa.Table
    params: ClusterParams
    tests: dict[int, tuple[float, float]]
    null_max: float | None
    notes: dict[int, str]
    joined: dict[str, str]


@dataclass
class ClusterResult:
    """What :func:`find_campaigns` wrote."""

    n_edges_in: int
    n_significant: int
    n_pairs: int
    n_campaigns: int
    n_members: int
    rule: str
    n_clusters: int = 0
    null_max: list[float] = field(default_factory=list)
    assignment: Assignment | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges_in": self.n_edges_in,
            "tie_edges": self.n_significant,
            "pairs": self.n_pairs,
            "clusters_tested": self.n_clusters,
            "campaigns": self.n_campaigns,
            "members": self.n_members,
            "rule": self.rule,
            "null_max": [round(x, 3) for x in self.null_max],
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
    """Edges significant on their own: q-value (else p-value) <= alpha; without a p-value,
    ``n_keys >= min_keys``."""
    return _keep(edges, "q", alpha, min_keys)


def tie_edges(edges: pa.Table, params: ClusterParams) -> pa.Table:
    """The edges that may tie accounts into campaigns (step 1 of the module docstring)."""
    if params.method == "edges":
        return _keep(edges, "q", params.alpha, params.min_keys)
    return _keep(edges, "p", params.edge_p, params.min_keys)


def _keep(edges: pa.Table, which: str, level: float, min_keys: int) -> pa.Table:
    if edges.num_rows == 0:
        return edges
    p = _nan_null(edges.column("p_value"))
    stat = _q(edges) if which == "q" else p
    has_p = pc.is_valid(p)
    ok = pc.fill_null(pc.less_equal(pc.fill_null(stat, math.inf), level), False)
    keys_ok = pc.greater_equal(pc.fill_null(edges.column("n_keys"), 0), min_keys)
    keep = pc.if_else(has_p, ok, keys_ok)
    keep = pc.and_(keep, pc.not_equal(edges.column("account_a"), edges.column("account_b")))
    return edges.filter(keep)


def _strength(edges: pa.Table) -> pa.Array:
    w = pc.fill_null(edges.column("weight"), math.nan)
    good = pc.and_(pc.is_finite(w), pc.greater(w, 0.0))
    return pc.if_else(good, w, pc.cast(edges.column("n_keys"), pa.float64()))


def combine_pairs(edges: pa.Table) -> pa.Table:
    """One tie per account pair: max over windows within a type, summed over types.

    Returns columns account_a < account_b, weight, types (sorted), n_types, min_p and
    min_q (NaN when no edge of the pair had one) and max_keys, sorted by (account_a,
    account_b).
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
        "p": pc.fill_null(_nan_null(edges.column("p_value")), math.inf),
        "k": pc.cast(edges.column("n_keys"), pa.int64()),
    })
    per_type = t.group_by(["account_a", "account_b", "type"], use_threads=False).aggregate(
        [("s", "max"), ("q", "min"), ("p", "min"), ("k", "max")]
    )
    per_type = per_type.sort_by([("account_a", "ascending"), ("account_b", "ascending"),
                                 ("type", "ascending")])
    pairs = per_type.group_by(["account_a", "account_b"], use_threads=False).aggregate(
        [("s_max", "sum"), ("type", "list"), ("type", "count"), ("q_min", "min"),
         ("p_min", "min"), ("k_max", "max")]
    )
    min_q = pairs.column("q_min_min")
    min_q = pc.if_else(pc.is_inf(min_q), pa.scalar(math.nan), min_q)
    min_p = pairs.column("p_min_min")
    min_p = pc.if_else(pc.is_inf(min_p), pa.scalar(math.nan), min_p)
    types = [sorted(x) for x in pairs.column("type_list").to_pylist()]
    out = pa.table({
        "account_a": pairs.column("account_a"),
        "account_b": pairs.column("account_b"),
        "weight": pairs.column("s_max_sum"),
        "types": pa.array(types, pa.list_(pa.string())),
        "n_types": pc.cast(pairs.column("type_count"), pa.int64()),
        "min_p": min_p,
        "min_q": min_q,
        "max_keys": pairs.column("k_max_max"),
    }, schema=PAIRS_SCHEMA)
    return out.sort_by([("account_a", "ascending"), ("account_b", "ascending")])


def _graph(pairs: pa.Table) -> tuple[Any, pa.Array, npt.NDArray[np.int64], list[float]]:
    """igraph Graph of the ties (vertices = sorted account ids), its names, edges, weights."""
    import igraph as ig

    pairs = pairs.sort_by([("account_a", "ascending"), ("account_b", "ascending")])
    both = pa.concat_arrays([pairs.column("account_a").combine_chunks(),
                             pairs.column("account_b").combine_chunks()])
    uniq = pc.unique(both)
    uniq = uniq.take(pc.array_sort_indices(uniq))
    ia = pc.index_in(pairs.column("account_a"), value_set=uniq).to_numpy()
    ib = pc.index_in(pairs.column("account_b"), value_set=uniq).to_numpy()
    edges = np.column_stack([ia, ib]).astype(np.int64)
    g = ig.Graph(n=len(uniq), edges=edges.tolist(), directed=False)
    weights = pairs.column("weight").to_numpy().astype(float).tolist()
    return g, uniq, edges, weights


def _leiden(g: Any, weights: list[float], resolution: float, seed: int) -> npt.NDArray[np.int64]:
    """Leiden on modularity (RB configuration) with a resolution, seeded.

    igraph's own Leiden (the C implementation by the author of ``leidenalg``, same
    algorithm and quality function) is used rather than ``leidenalg.find_partition``: it
    is ~20x faster per call on small graphs, which matters because the campaign test
    clusters ``null_graphs`` rewired copies as well.
    """
    with _igraph_seed(seed):
        part = g.community_leiden(objective_function="modularity", weights=weights,
                                  resolution=resolution, n_iterations=LEIDEN_ITERATIONS)
    return np.asarray(part.membership, dtype=np.int64)


@contextlib.contextmanager
def _igraph_seed(seed: int) -> Iterator[None]:
    """igraph draws from a Python RNG: a seeded one for the block, then the default."""
    import random

    import igraph as ig

    ig.set_random_number_generator(random.Random(seed))
    try:
        yield
    finally:
        ig.set_random_number_generator(random)


def cluster_pairs(pairs: pa.Table, *, resolution: float = 1.0, seed: int = 0) -> pa.Table:
    """Leiden clusters of the tie graph: columns account_id, cluster (int64).

    Vertices are the sorted account ids, so the result depends only on the ties and seed,
    not on row order. Cluster numbers are arbitrary; :func:`find_campaigns` names them.
    """
    if pairs.num_rows == 0:
        return pa.table({"account_id": pa.array([], pa.string()),
                         "cluster": pa.array([], pa.int64())})
    g, uniq, _, weights = _graph(pairs)
    membership = _leiden(g, weights, resolution, seed)
    return pa.table({"account_id": uniq, "cluster": pa.array(membership, pa.int64())})


def _excess(edges: npt.NDArray[np.int64], membership: npt.NDArray[np.int64],
            n_vertices: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Per cluster: internal ties minus K²/4E (the statistic), and the cluster sizes."""
    n_cl = int(membership.max()) + 1 if len(membership) else 0
    e = len(edges)
    ca = membership[edges[:, 0]]
    cb = membership[edges[:, 1]]
    internal = np.bincount(ca[ca == cb], minlength=n_cl).astype(np.float64)
    deg = np.bincount(edges.ravel(), minlength=n_vertices).astype(np.float64)
    k = np.bincount(membership, weights=deg, minlength=n_cl)
    sizes = np.bincount(membership, minlength=n_cl)
    stat = internal - k * k / (4.0 * e) if e else internal
    return stat, sizes


def _null_maxima(g: Any, weights: list[float], n_vertices: int, *,
                 null_graphs: int, resolution: float, min_size: int,
                 seed: int) -> list[float]:
    """The best statistic of each of ``null_graphs`` rewired copies of ``g``."""
    rng = np.random.default_rng(seed)
    null_max: list[float] = []
    for r in range(null_graphs):
        h = g.copy()
        with _igraph_seed(seed * 10_007 + r):
            h.rewire(n=REWIRE_SWAPS * g.ecount(), allowed_edge_types="simple")
        w = rng.permutation(np.asarray(weights)).tolist()
        m = _leiden(h, w, resolution, seed + r + 1)
        s_null, z_null = _excess(np.asarray(h.get_edgelist(), dtype=np.int64), m, n_vertices)
        eligible = s_null[z_null >= min_size]
        null_max.append(float(eligible.max()) if len(eligible) else -math.inf)
    return null_max


def campaign_test(pairs: pa.Table, membership: pa.Table, *, null_graphs: int = 19,
                  resolution: float = 1.0, min_size: int = 3,
                  seed: int = 0) -> tuple[dict[int, tuple[float, float]], list[float]]:
    """The campaign test of the module docstring (step 4).

    ``membership`` is :func:`cluster_pairs` of the same ``pairs``. Returns, for every
    cluster of at least ``min_size`` accounts, ``(statistic, p_value)``, and the best
    statistic reached in each rewired graph.
    """
    if pairs.num_rows == 0:
        return {}, []
    g, uniq, _, weights = _graph(pairs)
    null_max = _null_maxima(g, weights, len(uniq), null_graphs=null_graphs,
                            resolution=resolution, min_size=min_size, seed=seed)
    return observed_tests(pairs, membership, null_max, min_size=min_size), null_max


def observed_tests(pairs: pa.Table, membership: pa.Table, null_max: list[float], *,
                   min_size: int = 3) -> dict[int, tuple[float, float]]:
    """``(statistic, p_value)`` of every cluster (``cluster`` >= 0) of at least
    ``min_size`` accounts against given rewired maxima (:func:`campaign_test`'s)."""
    if pairs.num_rows == 0:
        return {}
    _, uniq, edges, _ = _graph(pairs)
    ids = membership.column("account_id")
    idx = pc.index_in(uniq, value_set=ids).to_numpy(zero_copy_only=False)
    memb = np.asarray(membership.column("cluster").to_numpy(zero_copy_only=False),
                      dtype=np.int64)[np.asarray(idx, dtype=np.int64)]
    n_cl = max(int(memb.max()), 0) + 1 if memb.size else 0
    lab = np.where(memb >= 0, memb, n_cl)  # outsiders (cluster -1) share one extra label
    stat, sizes = _excess(edges, lab, len(uniq))
    nm = np.asarray(null_max)
    out: dict[int, tuple[float, float]] = {}
    for c in np.flatnonzero(sizes[:n_cl] >= min_size):
        st = float(stat[c])
        p = (1 + int(np.sum(nm >= st - 1e-9))) / (len(null_max) + 1)
        out[int(c)] = (st, p)
    return out


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
        ties = tie_edges(edges, params)
        if params.method == "group":
            rule = (f"ties: p_value <= {params.edge_p} (else n_keys >= {params.min_keys}); "
                    f"campaigns: campaign test at {params.alpha} against "
                    f"{params.null_graphs} rewirings, or >= {params.min_size} members with "
                    f"a tie of q_value <= {params.alpha}")
        else:
            rule = (f"ties: q_value <= {params.alpha} (else n_keys >= {params.min_keys})")
        if ties.num_rows > params.max_pairs:
            raise ParameterError(
                f"{ties.num_rows:,} tie edges exceed max_pairs = {params.max_pairs:,} for "
                "driver-side clustering; lower edge_p or alpha, or raise min_keys."
            )
        pairs = combine_pairs(ties)
        membership = cluster_pairs(pairs, resolution=params.resolution, seed=params.seed)
        tests: dict[int, tuple[float, float]] = {}
        null_max: list[float] = []
        if params.method == "group" and pairs.num_rows:
            tests, null_max = campaign_test(
                pairs, membership, null_graphs=params.null_graphs,
                resolution=params.resolution, min_size=params.min_size, seed=params.seed)
        chance = _chance_accounts(ws, params)
        membership, keep, tests = assign_campaigns(pairs, membership, tests, null_max,
                                                   params, chance=chance)
        n_tested = len(tests)
        if params.runs > 1 and pairs.num_rows:
            assigned = [(membership, keep)]
            for s in run_seeds(params.seed, params.runs)[1:]:
                m_r = cluster_pairs(pairs, resolution=params.resolution, seed=s)
                t_r = (observed_tests(pairs, m_r, null_max, min_size=params.min_size)
                       if null_max else {})
                m_r, k_r, _ = assign_campaigns(pairs, m_r, t_r, null_max,
                                               params.replace(seed=s), chance=chance)
                assigned.append((m_r, k_r))
            membership, keep = consensus_campaigns(pairs, assigned, params.min_size)
            if null_max:
                tests = observed_tests(pairs, membership, null_max,
                                       min_size=params.min_size)
        members = membership.filter(pc.is_in(membership.column("cluster"),
                                             value_set=pa.array(sorted(keep), pa.int64())))
        if params.owned_share > 0 and params.member_owned and members.num_rows:
            members = owning_members(ws, members, params, pairs)
        joined: dict[str, str] = {}  # accounts not tied in by their own ties: how
        if params.owned_share > 0 and members.num_rows:
            before = set(members.column("account_id").to_pylist())
            members = attach_owned(ws, members, params)
            joined.update((a, "owned_content") for a in members.column("account_id").to_pylist()
                          if a not in before)
        notes: dict[int, str] = {}
        if params.owned_share > 0 and params.crew_tags > 0:
            before = set(members.column("account_id").to_pylist())
            members, notes = attach_crews(
                ws, members, owned_share=params.owned_share,
                owned_partners=params.owned_partners, min_tags=params.crew_tags,
                min_size=params.min_size)
            joined.update((a, "hijack_crew") for a in members.column("account_id").to_pylist()
                          if a not in before)
        finite = [x for x in null_max if math.isfinite(x)]
        assignment = Assignment(pairs, members, params, tests, max(finite, default=None),
                                notes, joined)
        n_campaigns, n_members = _write_campaigns(ws, assignment)
        bar.advance()
    n_clusters = n_tested if params.method == "group" else len(keep)
    return ClusterResult(
        n_edges_in=edges.num_rows, n_significant=ties.num_rows, n_pairs=pairs.num_rows,
        n_campaigns=n_campaigns, n_members=n_members, rule=rule,
        n_clusters=n_clusters, null_max=finite, assignment=assignment,
    )


def rescore_campaigns(ws: Workspace, result: ClusterResult) -> ClusterResult:
    """Write the campaign tables again from ``result``'s assignment (same campaigns, ids
    and members), so that scores and signals read the ``account_signals`` that the
    signals stage wrote after clustering: the automation part of the score. Nothing is
    clustered again (clustering reads edges, actions and posts only, so it would give the
    same assignment). Raises ParameterError for a result without an assignment."""
    if result.assignment is None:
        raise ParameterError("rescore_campaigns needs the ClusterResult of find_campaigns "
                             "from this process.")
    with progress.task("cluster: scores") as bar:
        result.n_campaigns, result.n_members = _write_campaigns(ws, result.assignment)
        bar.advance()
    return result


def _write_campaigns(ws: Workspace, a: Assignment) -> tuple[int, int]:
    """Build and replace ``campaigns``, ``campaign_members``, ``campaign_evidence``."""
    ws.ensure_table("campaign_members")  # a workspace from before joined_by
    campaigns, cmembers, evidence = _build(ws, a.pairs, a.members, a.params, a.tests,
                                           a.null_max, a.notes, a.joined)
    with ws.transaction():
        for name, data in (("campaigns", campaigns), ("campaign_members", cmembers),
                           ("campaign_evidence", evidence)):
            ws.con.execute(f'DELETE FROM "{name}"')
            ws.append(name, data, stage="cluster")
    return campaigns.num_rows, cmembers.num_rows


def run_seeds(seed: int, runs: int) -> list[int]:
    """The seeds of the consensus runs: ``seed`` itself, then seeds drawn from a generator
    keyed by ``seed`` (so the runs of two seeds are different runs)."""
    rng = np.random.default_rng([seed, 0xC0A5])
    return [seed] + [int(x) for x in rng.integers(0, 2**31 - 1, size=max(runs - 1, 0))]


def assign_campaigns(pairs: pa.Table, membership: pa.Table,
                     tests: dict[int, tuple[float, float]], null_max: list[float],
                     params: ClusterParams, *, chance: pa.Array | None = None
                     ) -> tuple[pa.Table, set[int], dict[int, tuple[float, float]]]:
    """One campaign assignment from one Leiden clustering (steps 5, 4b, 5a and 5b):
    accepted clusters, refined (Leiden seeded with ``params.seed``), trimmed, merged."""
    keep = _accepted(pairs, membership, tests, params)
    if params.refine and null_max:
        membership, keep, tests = refine_campaigns(pairs, membership, keep, tests,
                                                   null_max, params)
    if params.member_ties > 0 or chance is not None:
        membership, keep = trim_members(pairs, membership, keep, params, chance=chance)
    if params.merge > 0:
        membership, keep, tests = merge_campaigns(pairs, membership, keep, tests,
                                                  ratio=params.merge,
                                                  min_ties=params.min_size)
    return membership, keep, tests


def consensus_campaigns(pairs: pa.Table, assigned: list[tuple[pa.Table, set[int]]],
                        min_size: int) -> tuple[pa.Table, set[int]]:
    """Majority consensus of several campaign assignments of the same ties (step 5e).

    Each assignment is a membership (account_id, cluster over the tie graph's accounts,
    as :func:`cluster_pairs` returns it) and its accepted clusters. An account is a
    member when it is in an accepted campaign in more than half of the assignments; two
    tied members (a row of ``pairs``) are together when they share an accepted campaign
    in more than half of them; campaigns are the connected groups of members tied
    together, of at least ``min_size`` accounts. Others get cluster -1. One Leiden run
    is a randomised local search, and on an operation whose parts are tied to most of
    each other but not all, one seed splits it where others do not; the consensus keeps
    what most runs agree on (consensus clustering, Lancichinetti & Fortunato 2012).
    """
    import igraph as ig

    base = assigned[0][0]
    ids = base.column("account_id").combine_chunks()
    n = len(ids)
    k = len(assigned)
    labels = np.full((k, n), -1, dtype=np.int64)
    for r, (m, keep) in enumerate(assigned):
        pos = np.asarray(pc.index_in(ids, value_set=m.column("account_id")).to_numpy(
            zero_copy_only=False), dtype=np.int64)
        cl = np.asarray(m.column("cluster").to_numpy(zero_copy_only=False), dtype=np.int64)
        cl = cl[pos]
        ok = np.isin(cl, np.fromiter(keep, dtype=np.int64))
        labels[r] = np.where(ok, cl, -1)
    member = 2 * (labels >= 0).sum(axis=0) > k
    ia, ib = _pair_index(pairs, ids)
    together = ((labels[:, ia] == labels[:, ib]) & (labels[:, ia] >= 0)).sum(axis=0)
    sel = (2 * together > k) & member[ia] & member[ib]
    g = ig.Graph(n=n, edges=np.column_stack([ia[sel], ib[sel]]).tolist(), directed=False)
    comp = np.asarray(g.connected_components().membership, dtype=np.int64)
    sizes = np.bincount(comp, minlength=int(comp.max()) + 1 if n else 0)
    ok = member & (sizes[comp] >= min_size) if n else member
    out = np.where(ok, comp, -1)
    table = base.set_column(base.schema.get_field_index("cluster"), "cluster",
                            pa.array(out, pa.int64()))
    return table, {int(c) for c in np.unique(out[ok])}


def _accepted(pairs: pa.Table, membership: pa.Table, tests: dict[int, tuple[float, float]],
              params: ClusterParams) -> set[int]:
    """Clusters that become campaigns (step 5 of the module docstring)."""
    if membership.num_rows == 0:
        return set()
    sizes = Counter(membership.column("cluster").to_pylist())
    keep = {c for c, (_, p) in tests.items() if p <= params.alpha}
    inner = _internal(pairs, membership)
    strong = significant_edges_pairs(inner, params.alpha, params.min_keys)
    covered: dict[int, set[str]] = {}
    for row in strong.select(["account_a", "account_b", "cluster"]).to_pylist():
        covered.setdefault(row["cluster"], set()).update((row["account_a"], row["account_b"]))
    keep |= {c for c, accts in covered.items() if len(accts) >= params.min_size}
    return {c for c in keep if sizes[c] >= params.min_size}


def refine_campaigns(pairs: pa.Table, membership: pa.Table, keep: set[int],
                     tests: dict[int, tuple[float, float]], null_max: list[float],
                     params: ClusterParams
                     ) -> tuple[pa.Table, set[int], dict[int, tuple[float, float]]]:
    """Split accepted campaigns on their own ties (step 4b of the module docstring).

    Modularity on the whole tie graph cannot split a cluster smaller than its resolution
    limit (about sqrt(2E) ties), so on large inputs a dense campaign and a sparse
    periphery of chance ties (accounts that reposted the same two breaking stories) end up
    in one cluster, and the campaign's core carries the test for all. Leiden is run again
    on each accepted campaign's own ties. When it finds pieces, each is tested with the
    same statistic (in the whole graph) against the same rewired maxima; pieces that pass
    stay campaigns, a piece that fails joins a passing piece when the tie density between
    them is at least ``merge`` times the sparser one's own density (at least ``min_size``
    ties), and is dropped otherwise. A campaign none of whose pieces passes stays whole.
    """
    if not keep or pairs.num_rows == 0:
        return membership, keep, tests
    g, uniq, edges, weights = _graph(pairs)
    ids = membership.column("account_id")
    cl_all = membership.column("cluster").to_numpy().copy()
    pos = pc.index_in(uniq, value_set=ids).to_numpy()
    memb = cl_all[pos]  # cluster of each graph vertex
    nm = np.asarray(null_max)
    n_graphs = len(null_max)
    next_id = int(cl_all.max()) + 1
    w = np.asarray(weights)
    out_keep = set(keep)
    out_tests = dict(tests)
    for c in sorted(keep):
        vs = np.flatnonzero(memb == c)
        if vs.size < 2 * params.min_size:
            continue
        sub = g.induced_subgraph(vs.tolist())
        # induced_subgraph keeps vertex order; map its edges back to the parent's weights
        inside = (memb[edges[:, 0]] == c) & (memb[edges[:, 1]] == c)
        local = {int(v): i for i, v in enumerate(vs.tolist())}
        key = {(local[int(a)], local[int(b)]): float(x)
               for (a, b), x in zip(edges[inside].tolist(), w[inside].tolist(), strict=True)}
        sw = [key.get((e.source, e.target), key.get((e.target, e.source), 1.0))
              for e in sub.es]
        parts = _leiden(sub, sw, params.resolution, params.seed)
        n_parts = int(parts.max()) + 1 if parts.size else 1
        if n_parts < 2:
            continue
        trial = memb.copy()
        trial[vs] = next_id + parts
        stat, sizes = _excess(edges, trial, len(uniq))
        piece_ids = list(range(next_id, next_id + n_parts))
        passing = []
        for pid in piece_ids:
            if sizes[pid] < params.min_size:
                continue
            pv = (1 + int(np.sum(nm >= stat[pid] - 1e-9))) / (n_graphs + 1)
            if pv <= params.alpha:
                passing.append(pid)
                out_tests[pid] = (float(stat[pid]), pv)
        if not passing:
            continue
        # join failing pieces to a passing piece they are densely tied to
        ca, cb = trial[edges[:, 0]], trial[edges[:, 1]]
        internal = Counter(ca[(ca == cb) & (ca >= next_id)].tolist())
        lo, hi = np.minimum(ca, cb), np.maximum(ca, cb)
        sel = (lo != hi) & (lo >= next_id)
        between = Counter(zip(lo[sel].tolist(), hi[sel].tolist(), strict=True))

        def dens(x: int, sizes: npt.NDArray[np.int64] = sizes,
                 internal: Counter[int] = internal) -> float:
            n = int(sizes[x])
            return 2.0 * internal[x] / (n * (n - 1)) if n > 1 else 0.0

        target: dict[int, int] = {pid: pid for pid in passing}
        for pid in piece_ids:
            if pid in target:
                continue
            best, best_r = None, 0.0
            for q in passing:
                a, b = min(pid, q), max(pid, q)
                n_ties = between.get((a, b), 0)
                if n_ties < params.min_size:
                    continue
                d = n_ties / (int(sizes[pid]) * int(sizes[q]))
                if d >= params.merge * min(dens(pid), dens(q)) and d > best_r:
                    best, best_r = q, d
            if best is not None:
                target[pid] = best
        for pid in piece_ids:
            trial[trial == pid] = target.get(pid, pid)
        memb = trial
        out_keep.discard(c)
        out_tests.pop(c, None)
        out_keep |= set(passing)
        next_id += n_parts
    cl_all[pos] = memb
    out = membership.set_column(membership.schema.get_field_index("cluster"), "cluster",
                                pa.array(cl_all, pa.int64()))
    return out, out_keep, out_tests


def _chance_accounts(ws: Workspace, params: ClusterParams) -> pa.Array | None:
    """Accounts whose co-action partners chance explains: the detector's account test
    (``coaction_accounts``) above ``account_p``; None when the test is off or absent."""
    if params.method != "group" or params.account_p >= 1.0:
        return None
    acc = ws.table("coaction_accounts")
    if acc.num_rows == 0:
        return None
    out = acc.filter(pc.greater(acc.column("p_value"), params.account_p))
    return out.column("account_id").combine_chunks()


def trim_members(pairs: pa.Table, membership: pa.Table, keep: set[int],
                 params: ClusterParams, *,
                 chance: pa.Array | None = None) -> tuple[pa.Table, set[int]]:
    """Drop from accepted campaigns the members held by too little (step 5a).

    Leiden assigns every account to some cluster, so an account with one or two weak
    ties (p <= edge_p; about one in ten chance pairs has one) into a campaign becomes a
    member. A member keeps its place when it has at least ``member_ties`` ties inside the
    campaign (at most size - 1, so small campaigns are not emptied) and is not in
    ``chance`` (accounts whose number of co-action partners chance explains: the
    detector's account test, ``account_p``), or when it has one tie significant on its own
    (q <= alpha); the others leave it (cluster -1, never a campaign). Campaigns left with
    fewer than ``min_size`` members are dropped. Iterated until stable.
    """
    if not keep or pairs.num_rows == 0:
        return membership, keep
    ids = membership.column("account_id")
    cl = membership.column("cluster").to_numpy().copy()
    ia, ib = _pair_index(pairs, ids)
    strong = np.zeros(pairs.num_rows, dtype=bool)
    sig = significant_edges_pairs(pairs.append_column("_row", pa.array(
        np.arange(pairs.num_rows))), params.alpha, params.min_keys)
    strong[sig.column("_row").to_numpy()] = True
    alive = set(keep)
    n = len(cl)
    by_chance = (np.asarray(pc.is_in(ids, value_set=chance).to_numpy(zero_copy_only=False),
                            dtype=bool) if chance is not None and len(chance)
                 else np.zeros(n, dtype=bool))
    while True:
        inside = (cl[ia] == cl[ib]) & np.isin(cl[ia], np.fromiter(alive, dtype=np.int64))
        deg = np.bincount(np.concatenate([ia[inside], ib[inside]]), minlength=n)
        has_sig = np.bincount(np.concatenate([ia[inside & strong], ib[inside & strong]]),
                              minlength=n) > 0
        size = np.bincount(np.where(cl >= 0, cl, 0), minlength=int(cl.max()) + 1) \
            if (cl >= 0).any() else np.zeros(1, dtype=np.int64)
        in_keep = np.isin(cl, np.fromiter(alive, dtype=np.int64))
        need = np.minimum(params.member_ties, size[np.where(cl >= 0, cl, 0)] - 1)
        drop = in_keep & ((deg < need) | by_chance) & ~has_sig
        if not drop.any():
            break
        cl[drop] = -1
        size = np.bincount(np.where(cl >= 0, cl, 0), minlength=len(size))
        alive = {c for c in alive if size[c] >= params.min_size}
    out = membership.set_column(membership.schema.get_field_index("cluster"), "cluster",
                                pa.array(cl, pa.int64()))
    return out, alive


def _pair_index(pairs: pa.Table, ids: pa.Array | pa.ChunkedArray
                ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Positions of each tie's two accounts in ``ids`` (-1 where absent)."""
    def pos(col: str) -> npt.NDArray[np.int64]:
        return np.asarray(pc.fill_null(pc.index_in(pairs.column(col), value_set=ids), -1)
                          .to_numpy(zero_copy_only=False), dtype=np.int64)
    return pos("account_a"), pos("account_b")


def ambient_members(pairs: pa.Table, members: pa.Table, ambient: tuple[str, ...]) -> pa.Array:
    """Members (``account_id``, ``cluster``) none of whose ties inside their campaign
    (``pairs`` of :func:`combine_pairs`) has a type outside ``ambient``: accounts tied in
    only by hashtags, mentions or domains (or by no tie at all)."""
    ids = members.column("account_id").combine_chunks()
    cl = members.column("cluster").to_numpy()
    ia, ib = _pair_index(pairs, ids)
    ok = (ia >= 0) & (ib >= 0)
    ia_, ib_ = np.where(ok, ia, 0), np.where(ok, ib, 0)
    inside = ok & (cl[ia_] == cl[ib_]) if len(ids) else ok
    types = pairs.column("types").combine_chunks()
    parent = pc.list_parent_indices(types).to_numpy()
    other = ~np.asarray(pc.is_in(pc.list_flatten(types), value_set=pa.array(
        list(ambient), pa.string())).to_numpy(zero_copy_only=False), dtype=bool)
    concrete = np.zeros(pairs.num_rows, dtype=bool)
    concrete[parent[other]] = True
    sel = inside & concrete
    exempt = np.zeros(len(ids), dtype=bool)
    exempt[ia_[sel]] = True
    exempt[ib_[sel]] = True
    return ids.filter(pa.array(~exempt))


def owning_members(ws: Workspace, members: pa.Table, params: ClusterParams,
                   pairs: pa.Table | None = None) -> pa.Table:
    """Members tied in only by ambient types must have acted on a key their campaign owns
    (step 5c; on when ``member_owned`` is not empty and ``owned_share`` > 0).

    Subject to the rule are the members whose ties inside their campaign (``pairs``) are
    all of ``member_owned`` types (hashtag, hashtag_set, mention, domain: topics that
    people share without coordinating; every member when ``pairs`` is None).

    A key of any action type (a post, text, link, domain, hashtag, picture, mention) is
    *owned* by campaign C when at least ``owned_share`` of the distinct accounts acting on
    it are C's members and at least ``owned_partners`` are (``min_size`` when smaller, so
    that reported pairs can own keys). Members without any action (edges imported
    without actions) cannot be judged and stay. A storm crew owns its tag, a hijack crew
    its domain; an ordinary account that Leiden put into a campaign through weak hashtag
    ties (two trending hashtags in the same minute) acted on no key of its own campaign,
    and leaves. Members with a tie of another type inside their campaign (reposts, texts,
    URLs, media) are not subject: a network that retweets popular posts owns none of them
    and is still a network. Ownership is
    computed once, on the members before the rule (one pass, so no order dependence); a
    share, not a count, so it does not depend on the input's size. Campaigns left with
    fewer than ``min_size`` members are dropped. Returns ``members`` (account_id, cluster)
    without the accounts that leave; unchanged when the workspace holds no actions (edges
    imported without them cannot be judged).
    """
    if not ws.sql("SELECT 1 AS x FROM actions LIMIT 1").num_rows:
        return members
    floor = min(params.owned_partners, params.min_size)
    con = ws.con
    con.register("_own_members", members.select(["account_id", "cluster"])
                 .rename_columns(["account_id", "grp"]))
    try:
        rows = ws.sql(f"""
            WITH {owned_keys_sql("_own_members")}
            SELECT DISTINCT a.account_id
            FROM actions a JOIN _own_members m USING (account_id)
            JOIN owned o ON o.type = a.type AND o.key = a.key AND o.grp = m.grp
            UNION
            SELECT account_id FROM _own_members
            WHERE account_id NOT IN (SELECT account_id FROM actions)
            ORDER BY account_id
        """, params=[floor, params.owned_share])
    finally:
        con.unregister("_own_members")
    ids = members.column("account_id").combine_chunks().cast(pa.string())
    ok = pc.is_in(ids, value_set=rows.column("account_id").combine_chunks().cast(pa.string()))
    if pairs is not None:  # only members tied in by ambient types alone are subject
        subject = ambient_members(pairs, members.select(["account_id", "cluster"]),
                                  params.member_owned)
        ok = pc.or_(ok, pc.invert(pc.is_in(ids, value_set=subject.cast(pa.string()))))
    keep = members.filter(ok)
    keep = keep.select(["account_id", "cluster"])
    if keep.num_rows == 0:
        return keep
    cl = keep.column("cluster").to_numpy()
    ids, counts = np.unique(cl, return_counts=True)
    big = ids[counts >= params.min_size]
    return keep.filter(pc.is_in(keep.column("cluster"), value_set=pa.array(big, pa.int64())))


#: action types whose keys are content (a post, a text, a link, a picture): a key of
#: these that a campaign's members dominate is the campaign's own content
OWNED_TYPES = ("repost", "quote", "text", "near_text", "url", "media")


def attach_owned(ws: Workspace, members: pa.Table, params: ClusterParams) -> pa.Table:
    """Attach accounts outside every campaign that co-acted on a campaign's own content
    (step 5c; ``owned_share`` > 0).

    A content key (:data:`OWNED_TYPES`) is *owned* by campaign C when at least
    ``owned_share`` of the distinct accounts acting on it are C's members: the campaign's
    own post, text or picture, not a breaking story that ordinary accounts dominate. An
    account in no campaign joins C when it acted on an owned key of C within
    ``owned_window`` of at least ``owned_partners`` distinct members' actions on it. Edges
    need ``min_keys`` shared keys, so an account that joined a campaign's one burst shares
    one key only; this rule is per key and does not depend on the input's size. Returns
    ``members`` with the attached accounts (columns account_id, cluster).
    """
    con = ws.con
    con.register("_owned_members", members.select(["account_id", "cluster"])
                 .rename_columns(["account_id", "grp"]))
    try:
        rows = ws.sql(f"""
            WITH {owned_keys_sql("_owned_members", OWNED_TYPES)},
            act AS (  -- the actions on owned keys, with the actor's campaign
                SELECT a.account_id, a.type, a.key, epoch_ms(a.time) AS ms,
                       m.grp AS cluster
                FROM actions a LEFT JOIN _owned_members m USING (account_id)
                SEMI JOIN (SELECT DISTINCT type, key FROM owned) k USING (type, key)),
            outside AS (
                SELECT a.account_id, a.type, a.key, a.ms, o.grp AS cluster
                FROM act a JOIN owned o USING (type, key) WHERE a.cluster IS NULL),
            hits AS (
                SELECT x.account_id, x.cluster, count(DISTINCT m.account_id) AS partners
                FROM outside x JOIN act m
                  ON m.type = x.type AND m.key = x.key AND m.cluster = x.cluster
                 AND abs(m.ms - x.ms) <= ?
                GROUP BY x.account_id, x.cluster, x.type, x.key)
            SELECT account_id, arg_max(cluster, partners) AS cluster
            FROM hits WHERE partners >= ? GROUP BY account_id ORDER BY account_id
        """, params=[params.owned_partners, params.owned_share,
                     params.owned_window * 1000.0, params.owned_partners])
    finally:
        con.unregister("_owned_members")
    add = pa.table({"account_id": rows.column("account_id").cast(pa.string()),
                    "cluster": rows.column("cluster").cast(pa.int64())})
    return pa.concat_tables([members.select(["account_id", "cluster"]), add])


def merge_campaigns(pairs: pa.Table, membership: pa.Table, keep: set[int],
                    tests: dict[int, tuple[float, float]], *, ratio: float = 0.5,
                    min_ties: int = 3
                    ) -> tuple[pa.Table, set[int], dict[int, tuple[float, float]]]:
    """Second level: join accepted campaigns that are tied to each other about as densely
    as to themselves (step 5b of the module docstring).

    Modularity at resolution 1 splits one operation whose members are tied to most of
    each other, but not all: sub-groups of a large, dense campaign each beat the
    configuration expectation on their own. Two accepted campaigns A and B are joined when
    there are at least ``min_ties`` ties between them and the density of those ties
    (``ties(A, B) / (|A| |B|)``) is at least ``ratio`` times the smaller of the two internal
    densities; joins are transitive (union-find), and the joined campaign keeps the
    smallest cluster number and the best campaign test. A cluster smaller than
    ``min_ties`` (too small to be a campaign) whose ties outside itself all go to one
    campaign, at least one per member, joins that campaign. Returns the relabelled
    membership, accepted clusters and tests.
    """
    if len(keep) < 2 or pairs.num_rows == 0:
        return membership, keep, tests
    ids = membership.column("account_id")
    cl = membership.column("cluster").to_numpy()
    ca = cl[pc.fill_null(pc.index_in(pairs.column("account_a"), value_set=ids), 0)
            .to_numpy()]
    cb = cl[pc.fill_null(pc.index_in(pairs.column("account_b"), value_set=ids), 0)
            .to_numpy()]
    kept = np.isin(ca, np.fromiter(keep, dtype=np.int64)) & np.isin(
        cb, np.fromiter(keep, dtype=np.int64))
    ca_all, cb_all = ca, cb
    ca, cb = ca[kept], cb[kept]
    size = Counter(cl.tolist())
    internal = Counter(ca[ca == cb].tolist())
    lo, hi = np.minimum(ca, cb), np.maximum(ca, cb)
    between = Counter(zip(lo[lo != hi].tolist(), hi[lo != hi].tolist(), strict=True))

    def density(c: int) -> float:
        n = size[c]
        return 2.0 * internal[c] / (n * (n - 1)) if n > 1 else 0.0

    parent = {c: c for c in keep}

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for (a, b), n_ties in sorted(between.items()):
        if n_ties < min_ties:
            continue
        if n_ties / (size[a] * size[b]) >= ratio * min(density(a), density(b)):
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    new_of = {c: root(c) for c in keep}
    # clusters too small to be campaigns, tied only to one campaign, join it: with at
    # least one tie per member into it (two accounts that retweeted with the campaign but
    # that Leiden left as a pair are part of the same network)
    lo_all = np.concatenate([ca_all, cb_all])
    hi_all = np.concatenate([cb_all, ca_all])
    small = np.array([c >= 0 and c not in keep and size[c] < min_ties
                      for c in lo_all.tolist()],
                     dtype=bool) if lo_all.size else np.zeros(0, dtype=bool)
    into: dict[int, Counter[int]] = {}
    for c, d in zip(lo_all[small].tolist(), hi_all[small].tolist(), strict=True):
        if d in keep:
            into.setdefault(c, Counter())[root(d)] += 1
        elif d != c:
            into.setdefault(c, Counter())[-1] += 1  # a tie to no campaign
    for c, tgt in sorted(into.items()):
        if len(tgt) == 1 and -1 not in tgt:
            (r, n_ties), = tgt.items()
            if n_ties >= size[c]:
                new_of[c] = r
    if all(c == r for c, r in new_of.items()):
        return membership, keep, tests
    relabel = np.array([new_of.get(int(c), int(c)) for c in cl.tolist()], dtype=np.int64)
    merged_tests: dict[int, tuple[float, float]] = {}
    for c, t in tests.items():
        r = new_of.get(c, c)
        best = merged_tests.get(r)
        if best is None or (t[1], -t[0]) < (best[1], -best[0]):
            merged_tests[r] = t
    out = membership.set_column(membership.schema.get_field_index("cluster"), "cluster",
                                pa.array(relabel, pa.int64()))
    return out, {new_of[c] for c in keep}, merged_tests


def significant_edges_pairs(pairs: pa.Table, alpha: float, min_keys: int) -> pa.Table:
    """Combined ties significant on their own (q <= alpha, or n_keys without p-values)."""
    if pairs.num_rows == 0:
        return pairs
    q = pairs.column("min_q")
    has_q = pc.invert(pc.is_nan(q))
    ok = pc.if_else(has_q, pc.less_equal(q, alpha),
                    pc.and_(pc.is_nan(pairs.column("min_p")),
                            pc.greater_equal(pairs.column("max_keys"), min_keys)))
    return pairs.filter(pc.fill_null(ok, False))


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


def _build(ws: Workspace, pairs: pa.Table, membership: pa.Table, params: ClusterParams,
           tests: dict[int, tuple[float, float]],
           null_max: float | None, notes: dict[int, str] | None = None,
           joined: dict[str, str] | None = None) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The campaign tables from the final ``membership``; ``joined`` names how the
    accounts that their own ties did not bring in became members (``joined_by``)."""
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
            tie_significance(None if math.isnan(r["min_p"]) else r["min_p"], r["max_keys"])
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
        note = (notes or {}).get(cl)
        if note:
            signals.append("hijack_crew")
        feats = CampaignFeatures(sig, density, len(types), len(shared), mean_auto)
        base = CampaignFeatures(sig, density, len(types), len(shared), None)
        span = shared or ev_rows[cl]
        drafts.append({
            "cluster": cl, "accounts": accts, "ties": t, "types": types, "signals": signals,
            "score": campaign_score(feats), "base": campaign_score(base), "density": density,
            "first_time": min((r["first_time"] for r in span), default=None),
            "last_time": max((r["last_time"] for r in span), default=None),
            "evidence": _rank_evidence(ev_rows[cl], types, params.max_evidence),
            "n_shared": len(shared), "test": tests.get(cl), "null_max": null_max,
            "n_tests": params.null_graphs, "note": note,
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
                       "degree": degree[a], "joined_by": (joined or {}).get(a, "ties")}
                      for a in d["accounts"])
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
    if not d["types"] and d.get("note"):  # a hijack crew without co-action ties (step 5f)
        s = f"{n} accounts, no co-action ties among them"
    if d["n_shared"]:
        s += f"; {d['n_shared']} shared key{'s' if d['n_shared'] != 1 else ''}"
    if d["evidence"]:
        top = d["evidence"][0]
        s += f"; top: {top['type']} shared by {top['n_accounts']} members"
    if d["first_time"] is not None and d["last_time"] is not None:
        s += f" ({d['first_time']:%Y-%m-%d %H:%M} to {d['last_time']:%Y-%m-%d %H:%M} UTC)"
    if d["test"] is not None and d["null_max"] is not None:
        stat, p = d["test"]
        s += (f"; campaign test: {stat:.1f} excess ties vs at most {d['null_max']:.1f} in "
              f"{d['n_tests']} rewired graphs (p = {p:.3g})")
    if d.get("note"):
        s += f"; {d['note']}"
    return s + "."
