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
Storm
    A burst carried by at least ``storm_min_accounts`` accounts where one campaign's members
    made at least ``storm_campaign_share`` of the posts, or (without campaigns) where the
    ``top_k`` accounts made at least ``storm_top_share`` of at least ``2·top_k`` posts.
Hijack
    A storm (campaign-carried burst) in a hashtag that is organic — outside that
    campaign's bursts it has at least ``organic_min_posts`` posts from
    ``organic_min_accounts`` accounts that are not the campaign's — whose content is unlike
    the hashtag's usual content: the TF-IDF cosine between the campaign's burst posts and
    the other accounts' posts is below ``hijack_max_similarity``. A hijacked hashtag is
    reported as ``hijack``, not ``storm`` (the two flags are exclusive per hashtag: a storm is
    a campaign's burst in a hashtag of its own). Hijacks need campaigns (from ``cluster``);
    without them none are flagged.

The columns ``top_share``, ``campaign_share`` and ``content_similarity`` describe the
hashtag's most campaign-dominated burst (the peak burst when none is).
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
from scipy.stats import poisson

from echoscope import schema
from echoscope.normalise import normalise_text
from echoscope.signals._params import HashtagParams
from echoscope.signals._util import has_rows, registered
from echoscope.workspace import Workspace

__all__ = ["detect_bursts", "hashtag_signals", "text_similarity"]

_HOUR_US = 3_600_000_000
_TOKEN = re.compile(r"\w{2,}")
_MAX_DOCS = 5000


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


def text_similarity(a: list[str], b: list[str], *, drop: str = "") -> float:
    """TF-IDF cosine between the centroids of two groups of texts (NaN if one is empty).

    IDF is computed over the distinct texts of both groups, so words every post uses (the
    hashtag itself, function words) weigh little.
    """
    da = [_tokens(t, drop) for t in dict.fromkeys(a)]
    db = [_tokens(t, drop) for t in dict.fromkeys(b)]
    da = [d for d in da if d]
    db = [d for d in db if d]
    if not da or not db:
        return float("nan")
    df: Counter[str] = Counter()
    for d in da + db:
        df.update(set(d))
    n = len(da) + len(db)
    idf = {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}

    def centroid(docs: list[list[str]]) -> dict[str, float]:
        acc: dict[str, float] = {}
        for d in docs:
            tf = Counter(d)
            norm = math.sqrt(sum((c * idf[w]) ** 2 for w, c in tf.items()))
            for w, c in tf.items():
                acc[w] = acc.get(w, 0.0) + c * idf[w] / norm
        return {w: v / len(docs) for w, v in acc.items()}

    ca, cb = centroid(da), centroid(db)
    dot = sum(v * cb.get(w, 0.0) for w, v in ca.items())
    na = math.sqrt(sum(v * v for v in ca.values()))
    nb = math.sqrt(sum(v * v for v in cb.values()))
    return float(dot / (na * nb)) if na > 0 and nb > 0 else float("nan")


@dataclass
class _Episode:
    hashtag: str
    h0: int
    h1: int
    posts: int = 0
    accounts: int = 0
    top_share: float = 0.0
    campaign: str | None = None
    campaign_share: float = 0.0
    storm: bool = False
    hijack: bool = False
    similarity: float = float("nan")
    notes: list[str] = field(default_factory=list)


def _fmt_hour(h: int) -> str:
    t = dt.datetime(1970, 1, 1) + dt.timedelta(hours=h)
    return t.strftime("%Y-%m-%d %H:00")


def hashtag_signals(ws: Workspace, params: HashtagParams | None = None) -> pa.Table:
    """Bursts, concentration, storms and hijacks per hashtag (a ``hashtag_signals`` table)."""
    p = params or HashtagParams()
    if not has_rows(ws, "posts"):
        return schema.empty("hashtag_signals")
    span = ws.sql(
        f"SELECT min(epoch_us(created_at)) // {_HOUR_US} AS h0, "
        f"max(epoch_us(created_at)) // {_HOUR_US} AS h1 FROM posts WHERE created_at IS NOT NULL"
    ).to_pylist()[0]
    if span["h0"] is None:
        return schema.empty("hashtag_signals")
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
    try:
        return _analyse(ws, p, h0, n_hours)
    finally:
        ws.con.execute("DROP TABLE IF EXISTS _sig_tags")


def _analyse(ws: Workspace, p: HashtagParams, h0: int, n_hours: int) -> pa.Table:
    hourly = ws.sql(
        "SELECT hashtag, h, count(*) AS n FROM _sig_tags GROUP BY ALL ORDER BY hashtag, h"
    )
    totals = {r["hashtag"]: r for r in ws.sql(
        "SELECT hashtag, count(*) AS posts, count(DISTINCT account_id) AS accounts "
        "FROM _sig_tags GROUP BY hashtag").to_pylist()}
    if hourly.num_rows == 0:
        return schema.empty("hashtag_signals")
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
            eps = [_Episode(tag, int(a), int(b)) for a, b in zip(run_starts, run_ends, strict=True)]
        days_by_hour: dict[int, set[int]] = {}
        for h in idx:
            days_by_hour.setdefault(int((h + h0) % 24), set()).add(int((h + h0) // 24))
        recurring = sorted(hr for hr, d in days_by_hour.items() if len(d) >= p.recur_min_days)
        info[tag] = {"lam": lam, "peak": peak, "peak_posts": int(x[peak]),
                     "burst_hours": int(idx.size), "episodes": eps,
                     "recurring": recurring, "days_by_hour": days_by_hour}
        episodes.extend(eps)
    camp = has_rows(ws, "campaign_members")
    if episodes:
        _measure_episodes(ws, p, episodes, camp)
        if camp:
            _hijacks(ws, p, [e for e in episodes if e.storm and e.campaign is not None])
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


def _measure_episodes(ws: Workspace, p: HashtagParams, eps: list[_Episode], camp: bool) -> None:
    ep_table = pa.table({
        "hashtag": [e.hashtag for e in eps],
        "episode": list(range(len(eps))),
        "h0": [e.h0 for e in eps],
        "h1": [e.h1 for e in eps],
    })
    camp_sql = (
        """, c AS (
          SELECT a.episode, m.campaign_id, sum(a.c) AS cc
          FROM acc a JOIN (SELECT DISTINCT campaign_id, account_id FROM campaign_members) m
            USING (account_id) GROUP BY ALL
        ),
        cm AS (SELECT episode, arg_max(campaign_id, cc ORDER BY cc DESC, campaign_id) AS campaign,
                      max(cc) AS cc FROM c GROUP BY episode)"""
        if camp else
        ", cm AS (SELECT NULL::BIGINT AS episode, NULL::VARCHAR AS campaign, 0 AS cc WHERE false)"
    )
    with registered(ws, ep_table, "ep") as ep:
        res = ws.sql(
            f"""
            WITH acc AS (
              SELECT e.episode, t.account_id, count(*) AS c
              FROM _sig_tags t JOIN {ep} e ON t.hashtag = e.hashtag AND t.h BETWEEN e.h0 AND e.h1
              GROUP BY ALL
            ),
            r AS (SELECT *, row_number() OVER (PARTITION BY episode ORDER BY c DESC, account_id)
                    AS rk FROM acc)
            {camp_sql}
            SELECT r.episode, sum(r.c) AS posts, count(*) AS accounts,
              sum(r.c) FILTER (WHERE r.rk <= {p.top_k}) AS top,
              any_value(cm.campaign) AS campaign, coalesce(any_value(cm.cc), 0) AS cc
            FROM r LEFT JOIN cm USING (episode) GROUP BY r.episode
            """
        ).to_pylist()
    for row in res:
        e = eps[int(row["episode"])]
        e.posts = int(row["posts"])
        e.accounts = int(row["accounts"])
        e.top_share = float(row["top"]) / e.posts if e.posts else 0.0
        e.campaign = row["campaign"]
        e.campaign_share = float(row["cc"]) / e.posts if e.posts else 0.0
        enough = e.accounts >= p.storm_min_accounts
        if enough and e.campaign is not None and e.campaign_share >= p.storm_campaign_share:
            e.storm = True
            e.notes.append(f"{e.campaign_share:.0%} of its posts from campaign {e.campaign}")
        elif (enough and e.top_share >= p.storm_top_share and e.posts >= 2 * p.top_k):
            e.storm = True
            e.campaign = None
            e.notes.append(f"{e.top_share:.0%} of its posts from its {p.top_k} busiest accounts")


def _hijacks(ws: Workspace, p: HashtagParams, eps: list[_Episode]) -> None:
    if not eps:
        return
    by_key: dict[tuple[str, str], list[_Episode]] = {}
    for e in eps:
        assert e.campaign is not None
        by_key.setdefault((e.hashtag, e.campaign), []).append(e)
    for (tag, cid), group in by_key.items():
        ranges = " OR ".join(f"(t.h BETWEEN {e.h0} AND {e.h1})" for e in group)
        rows = ws.sql(
            f"""
            SELECT t.account_id, p.text, ({ranges}) AS in_burst,
              t.account_id IN (SELECT account_id FROM campaign_members WHERE campaign_id = ?)
                AS member
            FROM _sig_tags t JOIN posts p ON p.post_id = t.post_id
            WHERE t.hashtag = ?
            ORDER BY hash(t.post_id), t.post_id
            """,
            [cid, tag],
        ).to_pylist()
        organic = [r for r in rows if not r["member"] and not r["in_burst"]]
        organic_accounts = len({r["account_id"] for r in organic})
        if len(organic) < p.organic_min_posts or organic_accounts < p.organic_min_accounts:
            continue
        carried = [r["text"] for r in rows if r["member"] and r["in_burst"]][:_MAX_DOCS]
        usual = [r["text"] for r in organic][:_MAX_DOCS]
        sim = text_similarity(carried, usual, drop=tag)
        for e in group:
            e.similarity = sim
            if sim == sim and sim < p.hijack_max_similarity:
                e.hijack = True
                e.notes.append(
                    f"the hashtag is organic ({len(organic)} other posts by {organic_accounts} "
                    f"accounts outside the campaign's bursts) and the campaign's posts are "
                    f"unlike its usual content (TF-IDF cosine {sim:.2f})"
                )
            elif sim == sim:
                e.notes.append(f"content close to the hashtag's usual posts (cosine {sim:.2f})")


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
