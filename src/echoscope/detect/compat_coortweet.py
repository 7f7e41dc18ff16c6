"""Peer-exact mode: CooRTweet 2.1.3 (R) ``detect_groups`` + ``generate_coordinated_network``.

Semantics reproduced (checked against CooRTweet's own outputs on the russian set):

1. accounts with fewer than ``min_participation`` share rows are dropped;
2. per object, every pair of share rows with ``|dt| <= time_window`` (a sliding,
   inclusive window; no bins), minus pairs of the same account, the same content, or
   where the object id equals a content id;
3. a pair is kept if one of its two contents belongs to an account with at least
   ``min_participation`` share rows among the contents of the pairs found in 2;
4. per unordered account pair: ``weight`` = number of share pairs, ``avg_time_delta``,
   ``n_content_id`` / ``n_content_id_y`` = distinct older / newer contents,
   ``edge_symmetry_score`` = min/max of the two; ``weight_threshold`` = 1 where the
   weight is strictly above the ``edge_weight`` quantile (R type 7) of all weights.

Rows that repeat a content id are kept as rows, as CooRTweet keeps them. When two shares
have the same time, the older/newer order CooRTweet reports follows its row order (rows
grouped by account in order of first appearance); this is reproduced so that
``n_content_id`` and ``n_content_id_y`` match too. The pair search runs on the shared
sort-and-sweep kernel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from echoscope.detect.kernel import sort_actions, sweep_pairs
from echoscope.params import Params, limit

__all__ = [
    "CoortweetParams",
    "Shares",
    "coortweet_network",
    "detect_groups",
    "generate_coordinated_network",
    "quantile_type7",
    "shares_from_csv",
    "shares_from_posts",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

PAIR_SCHEMA = pa.schema([
    ("object_id", pa.string()), ("content_id", pa.string()), ("content_id_y", pa.string()),
    ("time_delta", pa.float64()), ("account_id", pa.string()), ("account_id_y", pa.string()),
])
EDGE_SCHEMA = pa.schema([
    ("from", pa.string()), ("to", pa.string()), ("weight", pa.int64()),
    ("avg_time_delta", pa.float64()), ("n_content_id", pa.int64()),
    ("n_content_id_y", pa.int64()), ("edge_symmetry_score", pa.float64()),
    ("weight_threshold", pa.int64()),
])


@dataclass(frozen=True)
class CoortweetParams(Params):
    """``detect_groups(time_window, min_participation)`` and ``edge_weight``."""

    time_window: float = field(
        default=10.0, metadata=limit(0, 366 * 86400, "seconds", "max |dt| of a share pair"))
    min_participation: int = field(
        default=2, metadata=limit(1, None, "shares", "minimum shares of an account"))
    edge_weight: float = field(
        default=0.5, metadata=limit(0, 1, "quantile", "weight_threshold cut (R type 7)"))


@dataclass
class Shares:
    """CooRTweet's input rows, in input order (duplicates kept)."""

    object_id: list[str]
    account_id: list[str]
    content_id: list[str]
    timestamp: F64

    def __len__(self) -> int:
        return len(self.object_id)


def shares_from_csv(path: str) -> Shares:
    """The rows of a CooRTweet CSV file (object_id, account_id, content_id, timestamp_share)."""
    from echoscope.ingest.coortweet_csv import read_coortweet_rows

    rows = read_coortweet_rows(path)
    return Shares([r.object_id for r in rows], [r.account_id for r in rows],
                  [r.content_id for r in rows],
                  np.asarray([r.timestamp for r in rows], dtype=np.float64))


def shares_from_posts(posts: pa.Table) -> Shares:
    """Reposts of canonical ``posts`` as shares: object = reposted post, content = repost."""
    import pyarrow.compute as pc

    rep = posts.filter(pc.and_(pc.equal(posts["kind"], "repost"),
                               pc.is_valid(posts["parent_post_id"])))
    rep = rep.sort_by([("source_file", "ascending"), ("source_record", "ascending")])
    t = pc.cast(rep["created_at"], pa.int64()).to_numpy(zero_copy_only=False)
    return Shares(rep["parent_post_id"].to_pylist(), rep["account_id"].to_pylist(),
                  rep["post_id"].to_pylist(), np.asarray(t, dtype=np.float64) / 1e6)


def _codes(values: Sequence[str]) -> tuple[I64, list[str]]:
    arr = pa.array(values, type=pa.string()).dictionary_encode()
    return (np.asarray(arr.indices.to_numpy(zero_copy_only=False), dtype=np.int64),
            arr.dictionary.to_pylist())


def detect_groups(shares: Shares, time_window: float, min_participation: int) -> pa.Table:
    """CooRTweet's ``detect_groups``: the coordinated share pairs.

    Columns ``object_id, content_id, content_id_y, time_delta, account_id, account_id_y``;
    ``content_id`` is the older share (``time_delta >= 0``).
    """
    n = len(shares)
    acct, acct_names = _codes(shares.account_id)
    counts = np.bincount(acct, minlength=len(acct_names)) if n else np.zeros(0, np.int64)
    keep_rows = np.flatnonzero(counts[acct] >= min_participation) if n else acct
    # Row order after the participation filter: grouped by account, accounts in order
    # of first appearance, rows in input order within an account.
    first_seen = np.full(len(acct_names), n, dtype=np.int64)
    np.minimum.at(first_seen, acct, np.arange(n, dtype=np.int64))
    rows = keep_rows[np.lexsort((keep_rows, first_seen[acct[keep_rows]]))]
    order = np.empty(n, dtype=np.int64)
    order[rows] = np.arange(rows.size, dtype=np.int64)

    obj, obj_names = _codes(shares.object_id)
    content, content_names = _codes(shares.content_id)
    t = shares.timestamp
    r_obj, r_t, r_acct = obj[rows], t[rows], acct[rows]
    t_us = np.round(r_t * 1e6).astype(np.int64)
    top = float(np.max(np.abs(r_t))) + time_window if rows.size else 0.0
    w_us = math.floor(time_window * 1e6) + 2 + math.ceil(4 * float(np.spacing(top)) * 1e6)
    from echoscope.engines.hooks import PAIR_SWEEP

    hook = PAIR_SWEEP.get()  # an engine's pair sweep (e.g. Spark), same pairs and order
    if hook is not None:
        pi, pj = hook(r_obj, t_us, r_acct, w_us)
    else:
        perm = sort_actions(r_obj, t_us, r_acct.astype(np.int32))
        ii, jj = sweep_pairs(r_obj[perm], t_us[perm], r_acct[perm].astype(np.int32), w_us)
        pi, pj = perm[ii], perm[jj]
    a = rows[pi]
    b = rows[pj]
    # x = the row first in CooRTweet's order, y = the other; time_delta = t_x - t_y
    swap = order[a] > order[b]
    x = np.where(swap, b, a)
    y = np.where(swap, a, b)
    td = t[x] - t[y]
    ok = np.abs(td) <= time_window
    # loops: same content, or the object is one of the contents
    obj_content = _content_code_of_objects(obj_names, content_names)
    ok &= content[x] != content[y]
    ok &= obj_content[obj[x]] != content[x]
    ok &= obj_content[obj[x]] != content[y]
    x, y, td = x[ok], y[ok], td[ok]
    # minimum participation among the coordinated contents
    if min_participation >= 1 and x.size:
        in_pairs = np.zeros(len(content_names), dtype=np.bool_)
        in_pairs[content[x]] = True
        in_pairs[content[y]] = True
        sel = rows[in_pairs[content[rows]]]
        per_acct = np.bincount(acct[sel], minlength=len(acct_names))
        good = np.zeros(len(content_names), dtype=np.bool_)
        good[content[sel[per_acct[acct[sel]] >= min_participation]]] = True
        ok = good[content[x]] | good[content[y]]
        x, y, td = x[ok], y[ok], td[ok]
    # older share first
    later = td > 0
    older = np.where(later, y, x)
    newer = np.where(later, x, y)
    objs = np.asarray(obj_names, dtype=object)
    conts = np.asarray(content_names, dtype=object)
    accts = np.asarray(acct_names, dtype=object)
    return pa.table({
        "object_id": pa.array(objs[obj[older]].tolist(), pa.string()),
        "content_id": pa.array(conts[content[older]].tolist(), pa.string()),
        "content_id_y": pa.array(conts[content[newer]].tolist(), pa.string()),
        "time_delta": pa.array(np.abs(td), pa.float64()),
        "account_id": pa.array(accts[acct[older]].tolist(), pa.string()),
        "account_id_y": pa.array(accts[acct[newer]].tolist(), pa.string()),
    }, schema=PAIR_SCHEMA)


def _content_code_of_objects(obj_names: list[str], content_names: list[str]) -> I64:
    """For each object, the code of the content with the same id (-1 if none)."""
    where = {c: i for i, c in enumerate(content_names)}
    return np.asarray([where.get(o, -1) for o in obj_names], dtype=np.int64)


def quantile_type7(values: F64 | I64, prob: float) -> float:
    """R's ``quantile(x, prob, type = 7)`` (its default), computed the way R does."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0:
        return math.nan
    index = 1 + max(n - 1, 0) * prob
    lo = math.floor(index)
    hi = math.ceil(index)
    q = float(x[lo - 1])
    if index > lo and x[hi - 1] != q:
        h = index - lo
        q = (1 - h) * q + h * float(x[hi - 1])
    return q


def generate_coordinated_network(pairs: pa.Table, edge_weight: float = 0.5) -> pa.Table:
    """CooRTweet's ``generate_coordinated_network(x, edge_weight, subgraph = 0)`` as a table.

    One row per unordered account pair, ``from`` < ``to`` (code-point order), sorted.
    """
    if pairs.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    a = pairs["account_id"].to_pylist()
    b = pairs["account_id_y"].to_pylist()
    lo = [min(p, q) for p, q in zip(a, b, strict=True)]
    hi = [max(p, q) for p, q in zip(a, b, strict=True)]
    t = pa.table({"from": lo, "to": hi, "time_delta": pairs["time_delta"],
                  "content_id": pairs["content_id"], "content_id_y": pairs["content_id_y"]})
    g = t.group_by(["from", "to"], use_threads=False).aggregate([
        ("time_delta", "count"), ("time_delta", "mean"),
        ("content_id", "count_distinct"), ("content_id_y", "count_distinct"),
    ])
    w = np.asarray(g["time_delta_count"].to_numpy(), dtype=np.int64)
    nx = np.asarray(g["content_id_count_distinct"].to_numpy(), dtype=np.int64)
    ny = np.asarray(g["content_id_y_count_distinct"].to_numpy(), dtype=np.int64)
    thr = quantile_type7(w, edge_weight)
    out = pa.table({
        "from": g["from"], "to": g["to"], "weight": pa.array(w, pa.int64()),
        "avg_time_delta": g["time_delta_mean"],
        "n_content_id": pa.array(nx, pa.int64()), "n_content_id_y": pa.array(ny, pa.int64()),
        "edge_symmetry_score": pa.array(np.minimum(nx, ny) / np.maximum(nx, ny), pa.float64()),
        "weight_threshold": pa.array((w > thr).astype(np.int64), pa.int64()),
    }, schema=EDGE_SCHEMA)
    return out.sort_by([("from", "ascending"), ("to", "ascending")])


def coortweet_network(shares: Shares, params: CoortweetParams) -> pa.Table:
    """``detect_groups`` then ``generate_coordinated_network``: the edge table."""
    pairs = detect_groups(shares, float(params.time_window), int(params.min_participation))
    return generate_coordinated_network(pairs, float(params.edge_weight))
