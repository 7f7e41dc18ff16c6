"""The network view: strongest edges among campaign members, laid out server-side."""

from __future__ import annotations

import random
import threading

from echoscope.report._query import _f, _rows, _s
from echoscope.report.context import CampaignRow, NetworkView, ReportParams
from echoscope.workspace import Workspace

__all__ = ["network_view"]

# -- network -----------------------------------------------------------------------------

def network_view(ws: Workspace, campaigns: list[CampaignRow], p: ReportParams) -> NetworkView:
    """The strongest edges among members of the listed campaigns, laid out server-side
    (igraph Fruchterman-Reingold, seeded) so the browser only draws."""
    total_edges = ws.count("edges")
    if p.network_max_edges == 0 or not campaigns or total_edges == 0:
        return NetworkView([], [], total_edges, 0, "")
    cids = [c.campaign_id for c in campaigns]
    erows = _rows(ws, """
        WITH mem AS (
          SELECT account_id, arg_max(campaign_id, score) cid FROM campaign_members
          JOIN campaigns USING (campaign_id)
          WHERE campaign_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1),
        e AS (SELECT account_a, account_b, type, max(weight) w, max(n_keys) k FROM edges
              WHERE account_a IN (SELECT account_id FROM mem)
                AND account_b IN (SELECT account_id FROM mem)
              GROUP BY 1, 2, 3)
        SELECT e.*, (SELECT count(*) FROM e) total FROM e
        ORDER BY w DESC NULLS LAST, account_a, account_b, type LIMIT ?
        """, [cids, p.network_max_edges])
    within = int(erows[0]["total"]) if erows else 0
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
    if within > len(edges):
        note = (f"Showing the {len(edges):,} strongest of {within:,} edges among members of "
                f"the listed campaigns; export the full network with "
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
