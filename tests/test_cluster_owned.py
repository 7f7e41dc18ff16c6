"""Campaign-owned keys (cluster.attach_owned, ClusterParams.owned_share)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from echoscope import schema
from echoscope.cluster import ClusterParams, attach_owned
from echoscope.workspace import Workspace

T0 = dt.datetime(2024, 3, 1, 12, 0, 0)


def act(acct: str, minutes: float, key: str, type_: str = "repost") -> dict[str, Any]:
    return {"account_id": acct, "time": T0 + dt.timedelta(minutes=minutes), "type": type_,
            "key": key, "post_id": f"{acct}-{key}-{minutes}"}


def _attached(actions: list[dict[str, Any]], members: dict[str, int],
              **kw: Any) -> dict[str, int]:
    ws = Workspace(":memory:")
    ws.replace("actions", pa.Table.from_pylist(actions, schema=schema.TABLES["actions"].schema))
    m = pa.table({"account_id": list(members), "cluster": pa.array(list(members.values()),
                                                                   pa.int64())})
    out = attach_owned(ws, m, ClusterParams(owned_share=2 / 3, **kw))
    return {r["account_id"]: r["cluster"] for r in out.to_pylist()
            if r["account_id"] not in members}


MEMBERS = {f"m{i}": 7 for i in range(6)}


def test_owned_key_attaches_its_reposter() -> None:
    acts = [act(m, i, "own") for i, m in enumerate(MEMBERS)] + [act("x", 3, "own")]
    assert _attached(acts, MEMBERS) == {"x": 7}


def test_key_dominated_by_others_never_attaches() -> None:
    # breaking news: 6 members and 12 ordinary accounts repost it in the same minutes
    acts = [act(m, i, "news") for i, m in enumerate(MEMBERS)]
    acts += [act(f"o{i}", i % 6, "news") for i in range(12)]
    assert _attached(acts, MEMBERS) == {}


def test_outside_the_window_or_too_few_partners() -> None:
    acts = [act(m, i, "own") for i, m in enumerate(MEMBERS)]
    acts += [act("late", 600, "own")]                         # 10 h later
    assert _attached(acts, MEMBERS, owned_window=3600.0) == {}
    assert _attached(acts, MEMBERS, owned_window=86400.0) == {"late": 7}
    # only 2 members acted on the key: below owned_partners = 3
    two = [act("m0", 0, "k2"), act("m1", 1, "k2"), act("y", 2, "k2")]
    assert _attached(two, MEMBERS) == {}
    assert _attached(two, MEMBERS, owned_partners=2) == {"y": 7}


def test_hashtags_are_not_content() -> None:
    acts = [act(m, i, "tag", "hashtag") for i, m in enumerate(MEMBERS)]
    acts += [act("z", 2, "tag", "hashtag")]
    assert _attached(acts, MEMBERS) == {}


def test_defaults() -> None:
    assert ClusterParams().owned_share == 2 / 3
    assert ClusterParams().owned_partners == 3
    assert ClusterParams(owned_share=0.5).to_dict()["owned_share"] == 0.5


def test_find_campaigns_says_how_each_member_joined() -> None:
    # six accounts tied by significant repost edges; "x" shares only the campaign's own
    # post with them (one key: no edge), so step 5d attaches it as owned_content
    from echoscope.cluster import find_campaigns

    ws = Workspace(":memory:")
    ids = sorted(MEMBERS)
    acts = [act(m, i, "own") for i, m in enumerate(ids)] + [act("x", 3, "own")]
    acts += [act(m, 100 + i, f"k{j}") for j in range(3) for i, m in enumerate(ids)]
    ws.replace("actions", pa.Table.from_pylist(acts, schema=schema.TABLES["actions"].schema))
    edges = [{"account_a": a, "account_b": b, "type": "repost", "window": 60.0, "n_keys": 4,
              "n_pairs": 4, "min_delay": 1.0, "median_delay": 2.0, "weight": 3.0,
              "p_value": 1e-6, "q_value": 1e-5}
             for i, a in enumerate(ids) for b in ids[i + 1:]]
    ws.replace("edges", pa.Table.from_pylist(edges, schema=schema.TABLES["edges"].schema))
    res = find_campaigns(ws, ClusterParams(runs=1))
    assert res.n_campaigns == 1
    how = {r["account_id"]: r["joined_by"] for r in ws.table("campaign_members").to_pylist()}
    assert how == {**dict.fromkeys(ids, "ties"), "x": "owned_content"}
