"""Hashtag storms and hijacking.

For every hashtag with at least ``min_posts`` posts (reposts included: storms are carried
by reposts too):

Bursts
    The hashtag's hourly post counts over the whole span of the data (empty hours count as
    zero) are tested against its own baseline rate ``λ``: hour ``h`` is a burst hour when
    ``count ≥ min_burst_posts``, ``count ≥ burst_ratio · λ`` and the Poisson tail
    ``P(X ≥ count | λ) < alpha / hours`` (Bonferroni over the hours tested). ``λ`` is the
    mean hourly count over the non-burst hours, re-estimated twice so a storm does not
    inflate its own baseline, and never below ``baseline_floor``. Consecutive burst hours
    form one burst episode. The ratio guard keeps the normal day/night swing of an organic
    hashtag (peaks of 2–3× the mean) from counting as bursts.
Concentration
    For each burst: ``top_share`` = share of its posts from its ``top_k`` busiest accounts;
    ``campaign_share`` = share from the members of the one campaign that posted most in it.
Recurrence
    Hours of day (UTC) with burst hours on at least ``recur_min_days`` different days: the
    mark of storms scheduled for a set time.
Crews
    Campaigns seen through their bursts, for when clustering found none. Two bursts (of any
    hashtags) are linked when they share at least 3 accounts and more than chance allows:
    the hypergeometric tail of the overlap, among the accounts that posted anything during
    either burst, is below ``alpha`` / number of burst pairs (so bursts are not linked
    merely by whoever was online). Bursts of different hashtags must not overlap in time
    (nor be in adjacent hours): people who follow trends join simultaneous trends together.
    Two bursts of the same hashtag link only when they start on different days within an
    hour of the same time of day (a schedule): followers of a hashtag keep posting it,
    which is not coordination. A burst's carriers are its accounts that also appear in at
    least half of its linked hashtags (or, for its own hashtag, linked days) — an active
    account caught in two trends by chance is not one; a crew is the carriers of a
    connected set of linked bursts.
Storm
    A burst carried by at least ``storm_min_accounts`` accounts where one campaign's members
    (or, failing that, a crew) made at least ``storm_campaign_share`` of the posts, or where
    the ``top_k`` accounts made at least ``storm_top_share`` of at least ``2·top_k`` posts.
Hijack
    A storm carried by a campaign or crew in a hashtag that is organic — it has at least
    ``organic_min_posts`` posts from ``organic_min_accounts`` accounts outside that group —
    whose content is unlike the hashtag's usual content: the relative TF-IDF similarity
    (:func:`relative_similarity`) of the group's burst posts and the other accounts' posts
    is below ``hijack_max_similarity``. A hijacked hashtag is reported as ``hijack``, not
    ``storm``: the flags are exclusive per hashtag (a storm is a coordinated burst in a
    hashtag of the campaign's own, or one whose usual content it matches).

The columns ``top_share``, ``campaign_share`` and ``content_similarity`` describe the
hashtag's most telling burst (hijack, then storm, then the most campaign-dominated, then
the largest). ``campaign_share`` counts campaign members only; a crew's share is in the
evidence.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import sparse
from scipy.stats import hypergeom, poisson

from echoscope import schema
from echoscope.normalise import normalise_text
from echoscope.signals._params import HashtagParams
from echoscope.signals._util import has_rows, registered
from echoscope.workspace import Workspace

__all__ = ["Crew", "detect_bursts", "hashtag_crews", "hashtag_signals", "relative_similarity",
           "text_similarity"]

_HOUR_US = 3_600_000_000
_TOKEN = re.compile(r"\w{2,}")
_MAX_DOCS = 5000
_APART = 1  # bursts of different hashtags within this many hours of each other never link
#: public name of the same rule (echoscope.crews counts injected hashtags apart in time)
APART_HOURS = _APART


def detect_bursts(counts: np.ndarray, p: HashtagParams) -> tuple[np.ndarray, float]:
    """Burst hours of an hourly count series against its own baseline.

    Returns a boolean mask and the baseline rate ``λ`` (posts per hour).
    """
    x = np.asarray(counts, dtype=np.float64)
    n = x.size
    if n == 0:
        return np.zeros(0, dtype=bool), p.baseline_floor
    mask = np.zeros(n, dtype=bool)
    lam = max(p.baseline_floor, float(x.mean()))
    for _ in range(3):
        rest = x[~mask]
        lam = max(p.baseline_floor, float(rest.mean()) if rest.size else 0.0)
        tail = poisson.sf(x - 1, lam)
        new = (x >= p.min_burst_posts) & (x >= p.burst_ratio * lam) & (tail < p.alpha / n)
        if np.array_equal(new, mask):
            break
        mask = new
    return mask, lam


def _tokens(text: str | None, drop: str) -> list[str]:
    norm = normalise_text(text or "", strip_urls=True, strip_mentions=True)
    return [t for t in _TOKEN.findall(norm) if t != drop]


def _vectors(a: list[str], b: list[str], drop: str
             ) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Unit TF-IDF vectors of the distinct texts of two groups (IDF over both groups)."""
    da = [d for d in (_tokens(t, drop) for t in dict.fromkeys(a)) if d]
    db = [d for d in (_tokens(t, drop) for t in dict.fromkeys(b)) if d]
    df: Counter[str] = Counter()
    for d in da + db:
        df.update(set(d))
    n = len(da) + len(db)
    idf = {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}

    def unit(doc: list[str]) -> dict[str, float]:
        tf = Counter(doc)
        v = {w: c * idf[w] for w, c in tf.items()}
        norm = math.sqrt(sum(x * x for x in v.values()))
        return {w: x / norm for w, x in v.items()}

    return [unit(d) for d in da], [unit(d) for d in db]


def _sum(vs: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in vs:
        for w, x in v.items():
            out[w] = out.get(w, 0.0) + x
    return out


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b.get(w, 0.0) for w, x in a.items())


def text_similarity(a: list[str], b: list[str], *, drop: str = "") -> float:
    """TF-IDF cosine between the centroids of two groups of texts (NaN if one is empty).

    IDF is computed over the distinct texts of both groups, so words every post uses (the
    hashtag itself, function words) weigh little.
    """
    va, vb = _vectors(a, b, drop)
    if not va or not vb:
        return float("nan")
    ca, cb = _sum(va), _sum(vb)
    na, nb = math.sqrt(_dot(ca, ca)), math.sqrt(_dot(cb, cb))
    return float(_dot(ca, cb) / (na * nb)) if na > 0 and nb > 0 else float("nan")


def relative_similarity(group: list[str], usual: list[str], *, drop: str = "") -> float:
    """How alike a group's posts are to the usual posts, relative to each other (0..1).

    For each distinct post of ``group``: its TF-IDF cosine to the centroid of ``usual``
    divided by its cosine to the centroid of the rest of ``group``; the median of these
    ratios, capped at 1. Near 1: the group writes like the hashtag's usual posters (same
    topic); low: its posts resemble each other and not the usual content. The median keeps
    a minority of ordinary posts mixed into the group from changing the answer; usual posts
    closer to the group's centroid than to the other usual posts (the group's message
    posted by accounts not recognised as members) are left out of the usual centroid. Falls back
    to :func:`text_similarity` for a group of one text; NaN when a side has no words.
    """
    vg, vu = _vectors(group, usual, drop)
    if not vg or not vu:
        return float("nan")
    if len(vg) < 2:
        return text_similarity(group, usual, drop=drop)
    sg, su = _sum(vg), _sum(vu)
    # usual posts that resemble the group more than the other usual posts (the group's own
    # posts by accounts not recognised as members) do not define the usual content
    ng, su2 = math.sqrt(_dot(sg, sg)), _dot(su, su)
    kept = []
    for x in vu:
        xu = _dot(x, su)
        rest = math.sqrt(max(0.0, su2 - 2 * xu + 1.0))
        to_usual = (xu - 1.0) / rest if rest > 0 else 0.0
        to_group = _dot(x, sg) / ng if ng > 0 else 0.0
        if to_usual >= to_group:
            kept.append(x)
    if len(kept) >= 2:
        su = _sum(kept)
    sg2 = _dot(sg, sg)
    nu = math.sqrt(_dot(su, su))
    ratios = []
    for x in vg:
        xg = _dot(x, sg)
        rest = math.sqrt(max(0.0, sg2 - 2 * xg + 1.0))
        to_group = (xg - 1.0) / rest if rest > 0 else 0.0
        to_usual = _dot(x, su) / nu if nu > 0 else 0.0
        ratios.append(1.0 if to_group <= 0 else min(1.0, to_usual / to_group))
    return float(min(1.0, float(np.median(ratios))))


@dataclass
class _Episode:
    hashtag: str
    h0: int
    h1: int
    base: int = 0
    posts: int = 0
    accounts: int = 0
    top_share: float = 0.0
    campaign: str | None = None
    campaign_share: float = 0.0
    storm: bool = False
    hijack: bool = False
    similarity: float = float("nan")
    notes: list[str] = field(default_factory=list)
    participants: dict[str, int] = field(default_factory=dict)
    carriers: set[str] = field(default_factory=set)
    carrier_share: float = 0.0
    crew_tags: set[str] = field(default_factory=set)
    crew_bursts: int = 0
    group: frozenset[str] | None = None
    group_label: str = ""
    crew: frozenset[str] = frozenset()
    seen_elsewhere: set[str] = field(default_factory=set)


def _fmt_hour(h: int) -> str:
    t = dt.datetime(1970, 1, 1) + dt.timedelta(hours=h)
    return t.strftime("%Y-%m-%d %H:00")


def hashtag_signals(ws: Workspace, params: HashtagParams | None = None) -> pa.Table:
    """Bursts, concentration, storms and hijacks per hashtag (a ``hashtag_signals`` table)."""
    p = params or HashtagParams()
    span = _tag_table(ws, p)
    if span is None:
        return schema.empty("hashtag_signals")
    try:
        return _analyse(ws, p, *span)
    finally:
        ws.con.execute("DROP TABLE IF EXISTS _sig_tags")


@dataclass(frozen=True)
class Crew:
    """Accounts that carry several hashtag bursts together (see *Crews* above).

    ``accounts``: the crew (the carriers of a connected set of linked bursts);
    ``bursts``: the linked bursts as (hashtag, start, end), times in microseconds since
    the epoch, end exclusive (whole UTC hours)."""

    accounts: frozenset[str]
    bursts: tuple[tuple[str, int, int], ...]


def hashtag_crews(ws: Workspace, params: HashtagParams | None = None) -> list[Crew]:
    """The crews of the hashtag bursts (*Crews* in the module docstring), computed from
    ``posts`` alone (no campaigns needed), sorted by their smallest account id.

    Used by the campaign stage (:func:`echoscope.cluster.attach_crews`): a crew that posts
    its own content into the bursts of several unrelated hashtags is a hijack."""
    p = params or HashtagParams()
    span = _tag_table(ws, p)
    if span is None:
        return []
    try:
        h0, n_hours = span
        _, episodes = _burst_episodes(ws, p, h0, n_hours)
        if not episodes:
            return []
        _participants(ws, episodes)
        _crews(episodes, _online(ws, episodes), p)
    finally:
        ws.con.execute("DROP TABLE IF EXISTS _sig_epacc").fetchall()
        ws.con.execute("DROP TABLE IF EXISTS _sig_tags").fetchall()
    by_crew: dict[frozenset[str], set[tuple[str, int, int]]] = {}
    for e in episodes:
        if e.crew:
            by_crew.setdefault(e.crew, set()).add(
                (e.hashtag, (h0 + e.h0) * _HOUR_US, (h0 + e.h1 + 1) * _HOUR_US))
    crews = [Crew(c, tuple(sorted(b))) for c, b in by_crew.items()]
    return sorted(crews, key=lambda c: min(c.accounts))


def _tag_table(ws: Workspace, p: HashtagParams) -> tuple[int, int] | None:
    """Create the temp table ``_sig_tags`` (hashtag, post_id, account_id, hour index) of
    the hashtags with at least ``min_posts`` posts; (first hour, hours) or None (no
    timed posts; no table)."""
    if not has_rows(ws, "posts"):
        return None
    span = ws.sql(
        f"SELECT min(epoch_us(created_at)) // {_HOUR_US} AS h0, "
        f"max(epoch_us(created_at)) // {_HOUR_US} AS h1 FROM posts WHERE created_at IS NOT NULL"
    ).to_pylist()[0]
    if span["h0"] is None:
        return None
    h0, h1 = int(span["h0"]), int(span["h1"])
    n_hours = h1 - h0 + 1
    ws.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sig_tags AS
        WITH t AS (
          SELECT DISTINCT unnest(hashtags) AS hashtag, post_id, account_id, created_at
          FROM posts WHERE created_at IS NOT NULL AND len(hashtags) > 0
        ),
        keep AS (SELECT hashtag FROM t GROUP BY hashtag HAVING count(*) >= {p.min_posts})
        SELECT t.hashtag, t.post_id, t.account_id,
          (epoch_us(t.created_at) // {_HOUR_US})::BIGINT - {h0} AS h
        FROM t JOIN keep USING (hashtag)
        """
    ).fetchall()
    return h0, n_hours


def _analyse(ws: Workspace, p: HashtagParams, h0: int, n_hours: int) -> pa.Table:
    totals = {r["hashtag"]: r for r in ws.sql(
        "SELECT hashtag, count(*) AS posts, count(DISTINCT account_id) AS accounts "
        "FROM _sig_tags GROUP BY hashtag").to_pylist()}
    info, episodes = _burst_episodes(ws, p, h0, n_hours)
    if not info:
        return schema.empty("hashtag_signals")
    camp = has_rows(ws, "campaign_members")
    if episodes:
        _measure_episodes(ws, p, episodes, camp)
        _hijacks(ws, p, episodes)
    rows = []
    for tag, d in info.items():
        eps = d["episodes"]
        key = None
        if eps:
            key = max(eps, key=lambda e: (e.hijack, e.storm, e.campaign_share, e.posts, -e.h0))
        tot = totals[tag]
        rows.append({
            "hashtag": tag,
            "posts": int(tot["posts"]),
            "accounts": int(tot["accounts"]),
            "bursts": len(eps),
            "burst_hours": d["burst_hours"],
            "peak_hour": dt.datetime(1970, 1, 1) + dt.timedelta(hours=h0 + d["peak"]),
            "peak_posts": d["peak_posts"],
            "baseline": d["lam"],
            "top_share": key.top_share if key else None,
            "campaign_share": key.campaign_share if key else None,
            "recurring_hours": ",".join(f"{h:02d}" for h in d["recurring"]),
            "content_similarity": (key.similarity if key and key.similarity == key.similarity
                                   else None),
            "storm": any(e.storm for e in eps) and not any(e.hijack for e in eps),
            "hijack": any(e.hijack for e in eps),
            "evidence": _evidence(d, eps, h0, p),
        })
    rows.sort(key=lambda r: (not r["hijack"], not r["storm"], -r["bursts"], -r["posts"],
                             r["hashtag"]))
    return schema.check("hashtag_signals", pa.Table.from_pylist(
        rows, schema=schema.TABLES["hashtag_signals"].schema), stage="signals.hashtags")


def _burst_episodes(ws: Workspace, p: HashtagParams, h0: int, n_hours: int
                    ) -> tuple[dict[str, dict[str, Any]], list[_Episode]]:
    """Burst detection per hashtag of ``_sig_tags``: per-hashtag info and the episodes."""
    hourly = ws.sql(
        "SELECT hashtag, h, count(*) AS n FROM _sig_tags GROUP BY ALL ORDER BY hashtag, h"
    )
    if hourly.num_rows == 0:
        return {}, []
    tags = hourly.column("hashtag").to_numpy(zero_copy_only=False)
    hs = hourly.column("h").to_numpy()
    ns = hourly.column("n").to_numpy()
    starts = np.flatnonzero(np.r_[True, tags[1:] != tags[:-1]])
    ends = np.r_[starts[1:], tags.size]
    info: dict[str, dict[str, Any]] = {}
    episodes: list[_Episode] = []
    for s, e in zip(starts, ends, strict=True):
        tag = str(tags[s])
        x = np.zeros(n_hours, dtype=np.int64)
        x[hs[s:e]] = ns[s:e]
        mask, lam = detect_bursts(x, p)
        peak = int(np.argmax(x))
        idx = np.flatnonzero(mask)
        eps: list[_Episode] = []
        if idx.size:
            breaks = np.flatnonzero(np.diff(idx) > 1)
            run_starts = np.r_[idx[0], idx[breaks + 1]]
            run_ends = np.r_[idx[breaks], idx[-1]]
            eps = [_Episode(tag, int(a), int(b), h0)
                   for a, b in zip(run_starts, run_ends, strict=True)]
        days_by_hour: dict[int, set[int]] = {}
        for h in idx:
            days_by_hour.setdefault(int((h + h0) % 24), set()).add(int((h + h0) // 24))
        recurring = sorted(hr for hr, d in days_by_hour.items() if len(d) >= p.recur_min_days)
        info[tag] = {"lam": lam, "peak": peak, "peak_posts": int(x[peak]),
                     "burst_hours": int(idx.size), "episodes": eps,
                     "recurring": recurring, "days_by_hour": days_by_hour}
        episodes.extend(eps)
    return info, episodes


def _participants(ws: Workspace, eps: list[_Episode]) -> None:
    """Fill each episode's ``participants`` (account -> its posts of the hashtag in the
    burst hours) and leave them in the temp table ``_sig_epacc`` (episode, account_id, c)."""
    ep_table = pa.table({
        "hashtag": [e.hashtag for e in eps],
        "episode": list(range(len(eps))),
        "h0": [e.h0 for e in eps],
        "h1": [e.h1 for e in eps],
    })
    with registered(ws, ep_table, "ep") as ep:
        ws.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _sig_epacc AS
                SELECT e.episode, t.account_id, count(*) AS c
                FROM _sig_tags t JOIN {ep} e ON t.hashtag = e.hashtag AND t.h BETWEEN e.h0 AND e.h1
                GROUP BY ALL"""
        ).fetchall()
    for r in ws.sql("SELECT episode, account_id, c FROM _sig_epacc").to_pylist():
        eps[int(r["episode"])].participants[str(r["account_id"])] = int(r["c"])


def _measure_episodes(ws: Workspace, p: HashtagParams, eps: list[_Episode], camp: bool) -> None:
    try:
        _participants(ws, eps)
        members: dict[str, set[str]] = {}
        if camp:
            for r in ws.sql(
                """WITH c AS (
                     SELECT a.episode, m.campaign_id, sum(a.c) AS cc FROM _sig_epacc a
                     JOIN (SELECT DISTINCT campaign_id, account_id FROM campaign_members) m
                       USING (account_id) GROUP BY ALL)
                   SELECT episode, arg_max(campaign_id, cc ORDER BY cc DESC, campaign_id) AS cid,
                     max(cc) AS cc FROM c GROUP BY episode"""
            ).to_pylist():
                e = eps[int(r["episode"])]
                e.campaign = str(r["cid"])
                e.campaign_share = float(r["cc"])
            wanted = sorted({e.campaign for e in eps if e.campaign is not None})
            if wanted:
                for r in ws.sql(
                    "SELECT DISTINCT campaign_id, account_id FROM campaign_members "
                    "WHERE list_contains(?, campaign_id)", [wanted]
                ).to_pylist():
                    members.setdefault(str(r["campaign_id"]), set()).add(str(r["account_id"]))
    finally:
        ws.con.execute("DROP TABLE IF EXISTS _sig_epacc").fetchall()
    _crews(eps, _online(ws, eps), p)
    for e in eps:
        counts = sorted(e.participants.values(), reverse=True)
        e.posts = sum(counts)
        e.accounts = len(counts)
        e.top_share = sum(counts[: p.top_k]) / e.posts if e.posts else 0.0
        e.campaign_share = e.campaign_share / e.posts if e.posts else 0.0
        carried = sum(c for a, c in e.participants.items() if a in e.carriers)
        e.carrier_share = carried / e.posts if e.posts else 0.0
        enough = e.accounts >= p.storm_min_accounts
        if enough and e.campaign is not None and e.campaign_share >= p.storm_campaign_share:
            e.storm = True
            e.group = frozenset(members.get(e.campaign, ()))
            e.group_label = f"campaign {e.campaign}"
            e.notes.append(f"{e.campaign_share:.0%} of its posts from campaign {e.campaign}")
        elif enough and e.carrier_share >= p.storm_campaign_share:
            e.storm = True
            e.group = e.crew
            others = sorted({f"#{t}" for t in e.crew_tags})
            e.group_label = f"a crew of {len(e.crew)} accounts"
            e.notes.append(
                f"{e.carrier_share:.0%} of its posts from {len(e.carriers)} accounts that "
                f"also carry together {e.crew_bursts} other burst(s)"
                + (f" (of {', '.join(others[:5])})" if others else ""))
        elif enough and e.top_share >= p.storm_top_share and e.posts >= 2 * p.top_k:
            e.storm = True
            e.notes.append(f"{e.top_share:.0%} of its posts from its {p.top_k} busiest accounts")


def _online(ws: Workspace, eps: list[_Episode]) -> dict[int, set[str]]:
    """Accounts that posted anything, per hour index, in the hours of the bursts."""
    hours = sorted({h for e in eps for h in range(e.h0, e.h1 + 1)})
    out: dict[int, set[str]] = {}
    if not hours:
        return out
    rows = ws.sql(
        f"""SELECT DISTINCT (epoch_us(created_at) // {_HOUR_US})::BIGINT AS h, account_id
            FROM posts WHERE created_at IS NOT NULL
              AND list_contains(?, (epoch_us(created_at) // {_HOUR_US})::BIGINT)""",
        [[h + eps[0].base for h in hours]],
    )
    hs = rows.column("h").to_pylist()
    accs = rows.column("account_id").to_pylist()
    base = eps[0].base
    for h, a in zip(hs, accs, strict=True):
        out.setdefault(int(h) - base, set()).add(str(a))
    return out


def _online_union(eps: list[_Episode], online: dict[int, set[str]],
                  ci: np.ndarray, cj: np.ndarray) -> np.ndarray:
    """Per burst pair (``ci[k]``, ``cj[k]``): how many accounts posted anything in the
    hours of either burst, exactly: |U_i| + |U_j| - |U_i ∩ U_j|, with U the accounts online
    in a burst's hours (integer ids; a mask of U_i per first burst, sizes summed over
    U_j), instead of building the union of string sets per pair."""
    aid: dict[str, int] = {}
    hours = {h: np.fromiter((aid.setdefault(a, len(aid)) for a in sorted(accs)),
                            dtype=np.int32, count=len(accs)) for h, accs in online.items()}
    empty = np.zeros(0, dtype=np.int32)
    cache: dict[int, np.ndarray] = {}

    def burst(k: int) -> np.ndarray:
        u = cache.get(k)
        if u is None:
            parts = [hours[h] for h in range(eps[k].h0, eps[k].h1 + 1) if h in hours]
            u = np.unique(np.concatenate(parts)) if parts else empty
            cache[k] = u
        return u

    out = np.zeros(ci.size, dtype=np.int64)
    mask = np.zeros(len(aid), dtype=bool)
    order = np.argsort(ci, kind="stable")
    k0 = 0
    while k0 < order.size:
        i = int(ci[order[k0]])
        k1 = k0
        while k1 < order.size and int(ci[order[k1]]) == i:
            k1 += 1
        ui = burst(i)
        mask[ui] = True
        for k in order[k0:k1].tolist():
            uj = burst(int(cj[k]))
            out[k] = ui.size + uj.size - int(np.count_nonzero(mask[uj]))
        mask[ui] = False
        k0 = k1
    return out


def _crews(eps: list[_Episode], online: dict[int, set[str]], p: HashtagParams) -> None:
    """Accounts that carry several bursts together (a campaign seen through its bursts).

    Two bursts are linked when they share more accounts than chance allows: the
    hypergeometric tail of their overlap, among the accounts that posted anything during
    either burst, is below ``alpha`` divided by the number of burst pairs. The carriers of
    a burst are its accounts that also appear in at least half of its linked bursts.
    """
    n = len(eps)
    if n < 2:
        return
    ids: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for j, e in enumerate(eps):
        for a in e.participants:
            rows.append(ids.setdefault(a, len(ids)))
            cols.append(j)
    m = sparse.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), n))
    overlap = (m.T @ m).tocoo()
    sizes = np.asarray(m.sum(axis=0)).ravel()
    tests = n * (n - 1) / 2
    links: dict[int, list[int]] = {}
    cand: list[tuple[int, int, int]] = []
    for i, j, o in zip(overlap.row, overlap.col, overlap.data, strict=True):
        if i >= j or o < 3:
            continue
        ea, eb = eps[int(i)], eps[int(j)]
        if ea.hashtag == eb.hashtag:
            # the same people keep posting a hashtag they follow: only bursts on different
            # days at the same hour of day (a schedule) link bursts of one hashtag
            dh = abs(ea.h0 - eb.h0)
            if dh < 20 or min(dh % 24, 24 - dh % 24) > 1:
                continue
        elif ea.h0 - _APART <= eb.h1 and eb.h0 - _APART <= ea.h1:
            # simultaneous trends share their followers: only bursts apart in time link
            continue
        cand.append((int(i), int(j), int(o)))
    if cand:
        ci = np.array([c[0] for c in cand], dtype=np.int64)
        cj = np.array([c[1] for c in cand], dtype=np.int64)
        co = np.array([c[2] for c in cand], dtype=np.int64)
        si, sj = sizes[ci].astype(np.int64), sizes[cj].astype(np.int64)
        pop = np.maximum(_online_union(eps, online, ci, cj), np.maximum(si, sj))
        pv = hypergeom.sf(co - 1, pop, si, sj)
        for k in np.flatnonzero(pv < p.alpha / tests).tolist():
            i, j = int(ci[k]), int(cj[k])
            links.setdefault(i, []).append(j)
            links.setdefault(j, []).append(i)
    for i, linked in links.items():
        e = eps[i]
        # linked units: other hashtags (several bursts of one count once), or other days of
        # the same hashtag
        units: dict[str, set[str]] = {}
        for j in linked:
            f = eps[j]
            unit = f"#{f.hashtag}" if f.hashtag != e.hashtag else f"@{j}"
            units.setdefault(unit, set()).update(a for a in e.participants if a in f.participants)
            if f.hashtag != e.hashtag:
                e.crew_tags.add(f.hashtag)
        seen_in: Counter[str] = Counter()
        for accs in units.values():
            seen_in.update(accs)
        need = max(1, math.ceil(len(units) / 2))
        e.carriers = {a for a, k in seen_in.items() if k >= need}
        e.seen_elsewhere = set(seen_in)
        e.crew_bursts = len(linked)
    # a crew = the carriers of a connected set of linked bursts
    seen: set[int] = set()
    for i in sorted(links):
        if i in seen:
            continue
        comp, stack = [], [i]
        seen.add(i)
        while stack:
            k = stack.pop()
            comp.append(k)
            for j in links.get(k, []):
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        crew = frozenset().union(*(eps[k].carriers for k in comp))
        for k in comp:
            eps[k].crew = crew


def _hijacks(ws: Workspace, p: HashtagParams, eps: list[_Episode]) -> None:
    """Flag storms in organic hashtags whose content is unlike the hashtag's usual posts."""
    by_key: dict[tuple[str, frozenset[str]], list[_Episode]] = {}
    for e in eps:
        if e.storm and e.group:
            by_key.setdefault((e.hashtag, e.group), []).append(e)
    for (tag, group), group_eps in by_key.items():
        ranges = " OR ".join(f"(t.h BETWEEN {e.h0} AND {e.h1})" for e in group_eps)
        # accounts of these bursts seen in the crew's other bursts are neither the group
        # nor its usual posters
        aside = set().union(*(e.seen_elsewhere for e in group_eps)) - group
        g = pa.table({"account_id": sorted(group)})
        with registered(ws, g, "grp") as gname:
            rows = ws.sql(
                f"""
                SELECT t.account_id, p.text, ({ranges}) AS in_burst,
                  t.account_id IN (SELECT account_id FROM {gname}) AS member
                FROM _sig_tags t JOIN posts p ON p.post_id = t.post_id
                WHERE t.hashtag = ?
                ORDER BY hash(t.post_id), t.post_id
                """,
                [tag],
            ).to_pylist()
        organic = [r for r in rows if not r["member"] and r["account_id"] not in aside]
        organic_accounts = len({r["account_id"] for r in organic})
        if len(organic) < p.organic_min_posts or organic_accounts < p.organic_min_accounts:
            continue
        carried = [r["text"] for r in rows if r["member"] and r["in_burst"]][:_MAX_DOCS]
        usual = [r["text"] for r in organic][:_MAX_DOCS]
        sim = relative_similarity(carried, usual, drop=tag)
        for e in group_eps:
            e.similarity = sim
            if sim == sim and sim < p.hijack_max_similarity:
                e.hijack = True
                e.notes.append(
                    f"the hashtag is organic ({len(organic)} posts by {organic_accounts} "
                    f"other accounts) and the burst's posts are unlike its usual content "
                    f"(relative TF-IDF similarity {sim:.2f})"
                )
            elif sim == sim:
                e.notes.append(
                    f"content close to the hashtag's usual posts (relative similarity {sim:.2f})")


def _evidence(d: dict[str, Any], eps: list[_Episode], h0: int, p: HashtagParams) -> str:
    lam = d["lam"]
    if not eps:
        return (f"no burst above its baseline of {lam:.2f} posts/hour "
                f"(peak {d['peak_posts']} posts at {_fmt_hour(h0 + d['peak'])} UTC).")
    ranked = sorted(eps, key=lambda e: (not e.hijack, not e.storm, -e.posts, e.h0))
    parts = []
    for e in ranked[:3]:
        when = _fmt_hour(h0 + e.h0)
        hours = e.h1 - e.h0 + 1
        kind = "hijack" if e.hijack else "storm" if e.storm else "burst"
        s = (f"{kind} {when} UTC ({hours} h): {e.posts} posts by {e.accounts} accounts, "
             f"top {p.top_k} accounts {e.top_share:.0%}")
        if e.notes:
            s += "; " + "; ".join(e.notes)
        parts.append(s)
    more = f" (+{len(eps) - 3} more bursts)" if len(eps) > 3 else ""
    rec = ""
    if d["recurring"]:
        rec = " Recurs at " + ", ".join(
            f"{h:02d}:00 on {len(d['days_by_hour'][h])} days" for h in d["recurring"]) + " UTC."
    return (f"baseline {lam:.2f} posts/hour. " + " | ".join(parts) + more + "." + rec)
