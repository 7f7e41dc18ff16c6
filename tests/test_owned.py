"""The owned-key rule (echoscope.owned.owned_keys_sql), shared by the topic-tie member
rule, the owned-content attachment and the hijack crews."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from echoscope import schema
from echoscope.owned import owned_keys_sql
from echoscope.workspace import Workspace

T0 = dt.datetime(2024, 3, 1, 12, 0, 0)


def _owned(acts: list[tuple[str, str, str]], groups: dict[str, list[int]], *,
           floor: int = 3, share: float = 2 / 3,
           types: tuple[str, ...] | None = None) -> set[tuple[str, str, int]]:
    ws = Workspace(":memory:")
    ws.replace("actions", pa.Table.from_pylist(
        [{"account_id": a, "time": T0, "type": t, "key": k, "post_id": f"{a}-{t}-{k}"}
         for a, t, k in acts], schema=schema.TABLES["actions"].schema))
    g = pa.table({"account_id": [a for a, gs in groups.items() for _ in gs],
                  "grp": pa.array([x for gs in groups.values() for x in gs], pa.int64())})
    ws.con.register("_g", g)
    rows = ws.sql(f"WITH {owned_keys_sql('_g', types)} SELECT * FROM owned",
                  params=[floor, share]).to_pylist()
    return {(r["type"], r["key"], r["grp"]) for r in rows}


def test_share_and_floor_known_answers() -> None:
    g = {"m1": [1], "m2": [1], "m3": [1], "m4": [2]}
    own = [(m, "url", "own") for m in ("m1", "m2", "m3")] + [("x", "url", "own")]
    # 3 of 4 accounts are group 1's: owned at 2/3, not at 0.8; floor 3 met, 4 not
    assert _owned(own, g) == {("url", "own", 1)}
    assert _owned(own, g, share=0.8) == set()
    assert _owned(own, g, floor=4) == set()
    # a breaking story: group 1's three accounts among six others
    news = [(m, "url", "news") for m in ("m1", "m2", "m3")] + [
        (f"o{i}", "url", "news") for i in range(6)]
    assert _owned(news, g) == set()


def test_types_and_several_groups() -> None:
    # an account may be in two crews: each crew owns the key it dominates
    g = {"a": [1, 2], "b": [1, 2], "c": [1], "d": [2]}
    acts = [(m, "domain", "site") for m in "abc"] + [(m, "text", "t1") for m in "abd"]
    assert _owned(acts, g) == {("domain", "site", 1), ("text", "t1", 2)}
    assert _owned(acts, g, types=("text",)) == {("text", "t1", 2)}
    # repeated actions of one account count once
    assert _owned(acts + [("c", "domain", "site")] * 3, g, floor=4) == set()
