"""The network view: strongest edges among campaign members, laid out server-side."""

from __future__ import annotations

import random
import threading
import uuid

import pyarrow as pa

from echoscope.report._query import _f, _rows, _s
from echoscope.report.context import CampaignRow, NetworkView, ReportParams
from echoscope.workspace import Workspace

__all__ = ["network_view"]

#: Edges drawn per campaign at most, so the view shows whole campaigns, best first.
PER_CAMPAIGN_EDGES = 250


def network_view(ws: Workspace, campaigns: list[CampaignRow], p: ReportParams) -> NetworkView:
    """Campaigns in rank order, each with its strongest internal edges (at most
    :data:`PER_CAMPAIGN_EDGES`), until ``network_max_edges`` is reached; then the strongest
    edges between the shown accounts of different campaigns with what budget is left.
    Positions are computed here (seeded), so the browser only draws."""
    total_edges = ws.count("edges")
    if p.network_max_edges == 0 or not campaigns or total_edges == 0:
        return NetworkView([], [], total_edges, 0, "")
    ranks = pa.table({"cid": pa.array([c.campaign_id for c in campaigns], pa.string()),
                      "rank": pa.array([c.rank for c in campaigns], pa.int64())})
    view = f"_es_ranks_{uuid.uuid4().hex[:8]}"
    ws.con.register(view, ranks)
    try:
        erows = _rows(ws, f"""
            WITH mem AS (
              SELECT m.account_id, arg_min(m.campaign_id, r.rank) cid, min(r.rank) rank
              FROM campaign_members m JOIN {view} r ON r.cid = m.campaign_id GROUP BY 1),
            e AS (SELECT e.account_a, e.account_b, e.type, max(e.weight) w, max(e.n_keys) k,
                         any_value(ma.cid) ca, any_value(mb.cid) cb,
                         least(any_value(ma.rank), any_value(mb.rank)) rank
                  FROM edges e JOIN mem ma ON ma.account_id = e.account_a
                  JOIN mem mb ON mb.account_id = e.account_b
                  GROUP BY 1, 2, 3),
            inside AS (
              SELECT *, row_number() OVER (PARTITION BY ca ORDER BY w DESC NULLS LAST,
                                           account_a, account_b, type) rn
              FROM e WHERE ca = cb),
            picked AS (
              SELECT * FROM (
                SELECT *, row_number() OVER (ORDER BY rank, rn) c FROM inside
                WHERE rn <= {PER_CAMPAIGN_EDGES})
              WHERE c <= ?),
            shown AS (SELECT account_a AS id FROM picked UNION SELECT account_b FROM picked),
            cross_e AS (
              SELECT * FROM e WHERE ca <> cb
                AND account_a IN (SELECT id FROM shown) AND account_b IN (SELECT id FROM shown)
              ORDER BY w DESC NULLS LAST, account_a, account_b, type
              LIMIT greatest(0, ? - (SELECT count(*) FROM picked)))
            SELECT account_a, account_b, type, w, k, (SELECT count(*) FROM e) total
            FROM (SELECT * FROM picked UNION ALL SELECT *, 0, 0 FROM cross_e)
            ORDER BY rank, w DESC NULLS LAST, account_a, account_b, type
            """, [p.network_max_edges, p.network_max_edges])
    finally:
        ws.con.unregister(view)
    among = int(erows[0]["total"]) if erows else 0
    ids = sorted({r["account_a"] for r in erows} | {r["account_b"] for r in erows})
    if not ids:
        return NetworkView([], [], total_edges, 0, "")
    nrows = {r["account_id"]: r for r in _rows(ws, """
        WITH mem AS (
          SELECT account_id, arg_max(campaign_id, score) cid, max(strength) s
          FROM campaign_members JOIN campaigns USING (campaign_id)
          WHERE account_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1)
        SELECT mem.*, a.handle, a.display_name FROM mem LEFT JOIN
          (SELECT account_id, any_value(handle) handle, any_value(display_name) display_name
           FROM accounts GROUP BY 1) a USING (account_id)
        """, [ids])}
    rank = {c.campaign_id: c.rank for c in campaigns}
    index = {a: i for i, a in enumerate(ids)}
    order = [rank.get(_s(nrows.get(a, {}).get("cid")), 0) for a in ids]
    xy = _layout(len(ids), [(index[r["account_a"]], index[r["account_b"]], _f(r["w"]))
                            for r in erows], p.seed, order)
    nodes = []
    for a in ids:
        r = nrows.get(a, {})
        cid = _s(r.get("cid"))
        nodes.append({"id": a, "label": _s(r.get("handle")) or a,
                      "name": _s(r.get("display_name")), "campaign": cid,
                      "rank": rank.get(cid, 0), "strength": round(_f(r.get("s")), 3),
                      "x": xy[index[a]][0], "y": xy[index[a]][1]})
    edges = [{"source": r["account_a"], "target": r["account_b"], "type": _s(r["type"]),
              "weight": round(_f(r["w"]), 4), "n_keys": int(r["k"] or 0)} for r in erows]
    note = ""
    if among > len(edges):
        shown = len({n["campaign"] for n in nodes})
        note = (f"Showing {len(edges):,} of the {among:,} edges among members of the listed "
                f"campaigns: the {shown:,} best-ranked campaigns, each with its strongest "
                f"ties (at most {PER_CAMPAIGN_EDGES}). Export the full network with "
                f"`echoscope export --format gexf`.")
    return NetworkView(nodes, edges, total_edges, len(nodes), note)


_LAYOUT_LOCK = threading.Lock()


def _layout(n: int, edges: list[tuple[int, int, float]], seed: int,
            order: list[int] | None = None) -> list[tuple[float, float]]:
    """Positions: each connected component laid out with Kamada-Kawai (up to 300 nodes) or
    Fruchterman-Reingold (seeded, so deterministic), components packed on a grid,
    best-ranked campaign first."""
    import igraph as ig

    # igraph's layouts draw from a process-wide RNG: seed it for this call, then restore.
    with _LAYOUT_LOCK:
        ig.set_random_number_generator(random.Random(seed))
        try:
            return _layout_seeded(n, edges, seed, order)
        finally:
            ig.set_random_number_generator(random)


def _layout_seeded(n: int, edges: list[tuple[int, int, float]], seed: int,
                   order: list[int] | None) -> list[tuple[float, float]]:
    import igraph as ig
    import numpy as np

    g = ig.Graph(n=n, edges=[(a, b) for a, b, _ in edges])
    g.es["weight"] = [w if w == w and w > 0 else 1e-3 for _, _, w in edges]
    rng = np.random.default_rng(seed)
    rank = order or [0] * n
    comps = sorted(g.connected_components(),
                   key=lambda c: (min(rank[i] or 1 << 30 for i in c), -len(c), min(c)))
    out = np.zeros((n, 2))
    boxes = []
    for comp in comps:
        sub = g.subgraph(comp)
        if len(comp) == 1:
            xy = np.zeros((1, 2))
        else:
            start = rng.uniform(-1, 1, size=(len(comp), 2)).tolist()
            if len(comp) <= 300:  # spreads dense cores evenly; deterministic from the start
                lay = sub.layout_kamada_kawai(seed=start, maxiter=50 * len(comp))
            else:
                lay = sub.layout_fruchterman_reingold(weights="weight", seed=start, niter=300)
            xy = np.asarray(lay.coords, dtype=float).reshape(-1, 2)
            xy -= xy.mean(axis=0)
            r = float(np.sqrt((xy ** 2).sum(axis=1)).max()) or 1.0
            xy *= 28.0 * np.sqrt(len(comp)) / r
        boxes.append((comp, xy))
    cols = max(1, int(np.ceil(np.sqrt(len(boxes) * 1.6))))  # the view is wider than tall
    x = y = row_h = 0.0
    for i, (comp, xy) in enumerate(boxes):
        radius = float(np.abs(xy).max()) + 20.0
        if i and i % cols == 0:
            x, y, row_h = 0.0, y + row_h, 0.0
        out[comp] = xy + np.array([x + radius, y + radius])
        x += 2 * radius
        row_h = max(row_h, 2 * radius)
    return [(round(float(a), 1), round(float(b), 1)) for a, b in out]
