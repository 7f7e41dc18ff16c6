"""Builders of tiny synthetic workspaces for the signal tests (neutral invented content).

No tests here: the other ``test_signals_*`` modules import these helpers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from echoscope import schema
from echoscope.workspace import Workspace

T0 = dt.datetime(2024, 3, 4, 0, 0, 0)


def at(hours: float = 0.0, *, days: float = 0.0, seconds: float = 0.0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, hours=hours, seconds=seconds)


_POST_DEFAULTS: dict[str, Any] = {
    "platform": "twitter", "handle": None, "kind": "post", "text": "", "lang": "en",
    "source_app": "Web App", "parent_post_id": None, "parent_account_id": None,
    "parent_created_at": None, "urls": [], "hashtags": [], "mentions": [],
    "mention_ids": [], "media": [], "source_file": "synthetic", "source_record": 0,
}


def posts_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    out = []
    for i, r in enumerate(rows):
        row = {**_POST_DEFAULTS, **r}
        row.setdefault("post_id", f"p{i}")
        row["source_record"] = i + 1
        out.append(row)
    return pa.Table.from_pylist(out, schema=schema.TABLES["posts"].schema)


def accounts_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    base = {c: None for c in schema.TABLES["accounts"].columns}
    base["platform"] = "twitter"
    return pa.Table.from_pylist([{**base, **r} for r in rows],
                                schema=schema.TABLES["accounts"].schema)


def build(
    posts: Iterable[Mapping[str, Any]],
    accounts: Iterable[Mapping[str, Any]] = (),
    *,
    members: Iterable[tuple[str, str]] = (),
    edges: Iterable[tuple[str, str]] = (),
    derive_accounts: bool = True,
) -> Workspace:
    """An in-memory workspace with the given posts, accounts, campaign members and edges.

    Accounts not given explicitly are derived from the posts (handle = account id, first
    and last seen from the posts) when ``derive_accounts``.
    """
    ws = Workspace(":memory:")
    pt = posts_table(posts)
    ws.append("posts", pt)
    acc = {r["account_id"]: dict(r) for r in accounts}
    if derive_accounts:
        for r in pt.to_pylist():
            a = acc.setdefault(r["account_id"], {"account_id": r["account_id"]})
            a.setdefault("handle", r["handle"] or r["account_id"])
            t = r["created_at"]
            a["first_seen"] = min(a.get("first_seen") or t, t)
            a["last_seen"] = max(a.get("last_seen") or t, t)
    for a in acc.values():
        a.setdefault("handle", a["account_id"])
    if acc:
        ws.append("accounts", accounts_table(acc.values()))
    mem = list(members)
    if mem:
        ws.append("campaign_members", pa.table({
            "campaign_id": [c for c, _ in mem], "account_id": [a for _, a in mem],
            "strength": [1.0] * len(mem), "degree": [1] * len(mem),
            "joined_by": ["ties"] * len(mem)}))
    ed = [tuple(sorted(e)) for e in edges]
    if ed:
        n = len(ed)
        ws.append("edges", pa.table({
            "account_a": [a for a, _ in ed], "account_b": [b for _, b in ed],
            "type": ["repost"] * n, "window": [60.0] * n, "n_keys": [3] * n,
            "n_pairs": [3] * n, "min_delay": [1.0] * n, "median_delay": [2.0] * n,
            "weight": [1.0] * n, "p_value": [0.001] * n, "q_value": [0.01] * n}))
    return ws


def signal(ws_table: pa.Table, account: str, name: str) -> dict[str, Any] | None:
    for r in ws_table.to_pylist():
        if r["account_id"] == account and r["signal"] == name:
            return r
    return None
