"""Hijack crews: accounts that carry several hashtag bursts together and post their own
content into them (campaign stage, step 5d; ``ClusterParams.crew_tags``).

A hijack (docs/methods.md, "Hashtag storms and hijacks") injects a campaign's content into
organically trending hashtags: each member posts once or twice per trend, with its own
text and often a link to the campaign's site. At small scale a member posts a handful of
times in all, and few member pairs co-act on two keys, so the pairwise tests see almost
nothing. The group is visible as a group:

1. **Crew** (:func:`echoscope.signals.hashtags.hashtag_crews`): bursts of different
   hashtags, apart in time, that share more accounts than chance allows among the accounts
   online in their hours (hypergeometric, Bonferroni over burst pairs); the crew is the
   accounts that appear in at least half of a burst's linked bursts.
2. **Injected key**: a content key (:data:`INJECTED_TYPES`: a site, a link, a text, a
   picture, a post) that the crew owns (at least ``owned_share`` of the accounts acting on
   it, and at least ``owned_partners``, are crew accounts) and whose posts fall inside the
   crew's bursts of at least ``crew_tags`` distinct hashtags, bursts apart in time
   (:func:`apart_hashtags`): the same content of its own pushed into several unrelated
   trends. One post carrying two concurrent trending tags, reposted, is one trend moment.
3. **Members**: the crew accounts that acted on an injected key. An ordinary user swept
   into a crew by following two trends did not post the crew's own content, and is not
   one.

Each crew with at least ``min_size`` members joins the campaign that already holds most
of them (accounts in another campaign stay where they are) or becomes a new campaign.
Hashtags and mentions are never injected keys: people share topics without coordinating.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pyarrow as pa

from echoscope.owned import owned_keys_sql
from echoscope.signals.hashtags import APART_HOURS, hashtag_crews
from echoscope.workspace import Workspace

__all__ = ["INJECTED_TYPES", "CrewMatch", "apart_hashtags", "attach_crews", "crew_matches"]

_HOUR_US = 3_600_000_000

#: content key types a crew can inject into trends (the owned-content types and sites)
INJECTED_TYPES: tuple[str, ...] = ("domain", "url", "text", "near_text", "media", "repost",
                                   "quote")


@dataclass(frozen=True)
class CrewMatch:
    """A crew whose own content went into the bursts of several hashtags.

    ``accounts``: the crew accounts that acted on an injected key (sorted);
    ``keys``: the injected keys as (type, key, distinct hashtags whose bursts it entered),
    most hashtags first; ``hashtags``: the crew's burst hashtags (sorted)."""

    accounts: tuple[str, ...]
    keys: tuple[tuple[str, str, int], ...]
    hashtags: tuple[str, ...]

    def describe(self) -> str:
        """One line for the campaign summary."""
        t, k, n = self.keys[0]
        more = f" and {len(self.keys) - 1} more key(s)" if len(self.keys) > 1 else ""
        tags = ", ".join(f"#{h}" for h in self.hashtags[:5])
        if len(self.hashtags) > 5:
            tags += ", ..."
        return (f"hijack crew: {len(self.accounts)} accounts carrying bursts of {tags} "
                f"together posted their own {t} {k!r}{more} into the bursts of {n} hashtags")


def crew_matches(ws: Workspace, *, owned_share: float, owned_partners: int,
                 min_tags: int) -> list[CrewMatch]:
    """The crews of the hashtag bursts that injected a key of their own into the bursts
    of at least ``min_tags`` distinct hashtags (steps 1-3 of the module docstring), with
    their member accounts. Empty when the workspace has no actions or no crews."""
    if not ws.sql("SELECT 1 AS x FROM actions LIMIT 1").num_rows:
        return []
    crews = hashtag_crews(ws)
    if not crews:
        return []
    cm = pa.table({
        "crew": pa.array([i for i, c in enumerate(crews) for _ in c.accounts], pa.int64()),
        "account_id": pa.array([a for c in crews for a in sorted(c.accounts)], pa.string()),
    })
    cb = pa.table({
        "crew": pa.array([i for i, c in enumerate(crews) for _ in c.bursts], pa.int64()),
        "hashtag": pa.array([b[0] for c in crews for b in c.bursts], pa.string()),
        "t0": pa.array([b[1] for c in crews for b in c.bursts], pa.int64()),
        "t1": pa.array([b[2] for c in crews for b in c.bursts], pa.int64()),
    })
    con = ws.con
    con.register("_crew_m", cm.rename_columns(["grp", "account_id"]))
    con.register("_crew_b", cb)
    try:
        rows = ws.sql(f"""
            WITH {owned_keys_sql("_crew_m", INJECTED_TYPES)},
            act AS (  -- the actions on owned keys
                SELECT DISTINCT a.account_id, a.type, a.key, a.post_id
                FROM actions a SEMI JOIN (SELECT DISTINCT type, key FROM owned) k
                  USING (type, key)),
            tagged AS (
                SELECT post_id, unnest(hashtags) AS hashtag, epoch_us(created_at) AS us
                FROM posts WHERE created_at IS NOT NULL AND len(hashtags) > 0
                  AND post_id IN (SELECT post_id FROM act)),
            bp AS (
                SELECT DISTINCT b.crew, t.post_id, t.hashtag, b.t0, b.t1
                FROM tagged t JOIN _crew_b b
                  ON t.hashtag = b.hashtag AND t.us >= b.t0 AND t.us < b.t1),
            entered AS (
                SELECT o.crew, o.type, o.key,
                  list(bp.hashtag ORDER BY bp.t0, bp.t1, bp.hashtag) AS tags,
                  list(bp.t0 ORDER BY bp.t0, bp.t1, bp.hashtag) AS t0s,
                  list(bp.t1 ORDER BY bp.t0, bp.t1, bp.hashtag) AS t1s
                FROM (SELECT grp AS crew, type, key FROM owned) o JOIN act a USING (type, key)
                JOIN bp ON bp.post_id = a.post_id AND bp.crew = o.crew
                GROUP BY o.crew, o.type, o.key HAVING count(DISTINCT bp.hashtag) >= ?),
            accs AS (
                SELECT e.crew, e.type, e.key, list(DISTINCT a.account_id) AS accounts
                FROM entered e JOIN act a USING (type, key)
                JOIN _crew_m m ON m.grp = e.crew AND m.account_id = a.account_id
                GROUP BY ALL)
            SELECT e.crew, e.type, e.key, e.tags, e.t0s, e.t1s, x.accounts
            FROM entered e JOIN accs x USING (crew, type, key)
            ORDER BY e.crew, e.type, e.key
        """, params=[owned_partners, owned_share, min_tags])
    finally:
        con.unregister("_crew_m")
        con.unregister("_crew_b")
    accounts: dict[int, set[str]] = {}
    keys: dict[int, set[tuple[str, str, int]]] = {}
    for r in rows.to_pylist():
        n = apart_hashtags(list(zip(r["tags"], r["t0s"], r["t1s"], strict=True)))
        if n < min_tags:
            continue
        c = int(r["crew"])
        accounts.setdefault(c, set()).update(str(a) for a in r["accounts"])
        keys.setdefault(c, set()).add((str(r["type"]), str(r["key"]), n))
    return [CrewMatch(
        accounts=tuple(sorted(accounts[c])),
        keys=tuple(sorted(keys[c], key=lambda k: (-k[2], k[0], k[1]))),
        hashtags=tuple(sorted({b[0] for b in crews[c].bursts})),
    ) for c in sorted(accounts)]


def apart_hashtags(bursts: list[tuple[str, int, int]]) -> int:
    """How many distinct hashtags a key entered in bursts apart in time: bursts (hashtag,
    start, end; microseconds, end exclusive) taken in order of their end, each kept when
    its hashtag is new and it starts more than ``APART_HOURS`` after the last kept one
    ended. One post carrying two concurrent trending tags (and its reposts) enters two
    hashtags at once: that is one trend moment, not two injections (the crews' own rule:
    simultaneous trends share their followers)."""
    gap = APART_HOURS * _HOUR_US
    seen: set[str] = set()
    last_end: int | None = None
    for tag, t0, t1 in sorted(bursts, key=lambda b: (b[2], b[1], b[0])):
        if tag in seen or (last_end is not None and t0 - gap < last_end):
            continue
        seen.add(tag)
        last_end = t1
    return len(seen)


def attach_crews(ws: Workspace, members: pa.Table, *, owned_share: float,
                 owned_partners: int, min_tags: int, min_size: int
                 ) -> tuple[pa.Table, dict[int, str]]:
    """Add the members of hijack crews (:func:`crew_matches`) to ``members`` (account_id,
    cluster): each crew with at least ``min_size`` member accounts joins the campaign
    that holds most of them already (fewest cluster id on a tie), or becomes a new
    campaign; accounts already in a campaign stay in theirs. Returns the members and a
    note per cluster that received a crew (for its summary)."""
    matches = [m for m in crew_matches(ws, owned_share=owned_share,
                                       owned_partners=owned_partners, min_tags=min_tags)
               if len(m.accounts) >= min_size]
    base = members.select(["account_id", "cluster"])
    if not matches:
        return base, {}
    where: dict[str, int] = dict(zip(base.column("account_id").to_pylist(),
                                     base.column("cluster").to_pylist(), strict=True))
    next_id = max(where.values(), default=-1) + 1
    add_ids: list[str] = []
    add_cl: list[int] = []
    notes: dict[int, str] = {}
    for m in matches:
        held = Counter(where[a] for a in m.accounts if a in where)
        if held:
            target = min(held, key=lambda c: (-held[c], c))
        else:
            target, next_id = next_id, next_id + 1
        for a in m.accounts:
            if a not in where:
                where[a] = target
                add_ids.append(a)
                add_cl.append(target)
        notes[target] = "; ".join(x for x in (notes.get(target), m.describe()) if x)
    add = pa.table({"account_id": pa.array(add_ids, pa.string()),
                    "cluster": pa.array(add_cl, pa.int64())})
    return pa.concat_tables([base.cast(add.schema), add]), notes
