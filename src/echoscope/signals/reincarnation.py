"""Re-creation of suspended accounts ("reincarnations").

Suspended accounts come from a list (``--suspended FILE.csv`` with ``user_id,
screen_name, suspended_at``, as platforms and the simulator provide) or, without one, are
inferred: accounts with at least ``infer_min_posts`` posts that fall silent for at least
``infer_min_silence_hours`` before the data
ends, while at least ``infer_min_active_neighbours`` of their neighbours keep posting
(``inferred = true``; the suspension time is the last post). "Fall silent" means a silence
that the account's own posting rate ``λ`` (posts per hour over its active span) makes
unlikely: ``exp(−λ · silence) < infer_alpha``, and at least ``infer_min_silence_hours``.

Candidates for a suspended account are accounts that appear (creation time, else first
sight) between ``tolerance_hours`` before and ``max_gap_days`` after the suspension. Each
candidate gets evidence of two independent kinds:

identity
    ``handle_similarity`` (1 for the same handle; 0.95 when the handles differ only in
    trailing digits — appended or incremented; 0.9 when they differ only in doubled
    letters, underscores or dots; otherwise the normalised optimal-string-alignment
    similarity, where a swap of two adjacent letters costs one edit); ``same_display_name``;
    ``same_avatar`` (the same profile image URL, size suffix ignored; never fetched). A
    display name or avatar shared by more than 10 accounts (a default picture, "News")
    identifies nobody and is ignored.
    ``identity = 1 − (1 − h)(1 − display_weight·display)(1 − avatar_weight·avatar)`` where
    ``h`` is the handle similarity when at least ``handle_min``, else 0.
behaviour
    ``content_overlap`` (rarity-weighted Jaccard of hashtags, URLs, domains, reposted posts,
    reposted/replied accounts, mentions and texts, each key weighted by
    ``log((1 + N)/(1 + accounts using it))``);
    ``neighbour_overlap`` (Jaccard of neighbours: co-action edges plus repost, reply and
    mention partners); ``promoted_by`` (old neighbours that mention, repost or reply to the
    new account within ``promotion_hours`` of its appearance). Each is scaled to 0..1 by
    its saturation parameter and combined as ``1 − Π(1 − x)``.

``score = t · sqrt(identity · behaviour)`` with the time factor
``t = 0.5 + 0.5·exp(−gap_days / time_scale_days)``. The geometric mean needs both kinds:
an organic look-alike handle (identity without behaviour) or another member of the same
network (behaviour without identity) scores low. Candidates scoring at least ``min_score``
are kept, at most ``max_candidates`` per suspended account, ranked. Chains are followed
through rank-1 links: when a successor is itself suspended and re-created, every link of
``name → name2 → name3`` carries the whole chain.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from rapidfuzz import process
from rapidfuzz.distance import OSA

from echoscope import schema
from echoscope.errors import InputError
from echoscope.normalise import normalise_handle
from echoscope.signals._params import ReincarnationParams
from echoscope.signals._util import has_rows, registered
from echoscope.workspace import Workspace

__all__ = [
    "Suspension",
    "handle_similarity",
    "infer_suspensions",
    "read_suspended",
    "reincarnations",
]

_DIGITS = re.compile(r"^(.*?)[_.]?(\d*)$")
_DOUBLE = re.compile(r"(.)\1+")
_MAX_SHARED = 10  # accounts sharing a display name or avatar before it stops identifying
_AVATAR_SIZE = re.compile(r"_(normal|bigger|mini|reasonably_small|\d+x\d+)(?=\.\w+$|$)")


@dataclass(frozen=True)
class Suspension:
    """A suspended account: its id (when known), handle, and when it was suspended."""

    account_id: str | None
    handle: str | None
    suspended_at: dt.datetime
    inferred: bool = False
    line: int = 0


# -- handle similarity -------------------------------------------------------------------

def _stem(h: str) -> str:
    m = _DIGITS.match(h)
    return m.group(1) if m else h


def _collapse(h: str) -> str:
    return _DOUBLE.sub(r"\1", h.replace("_", "").replace(".", ""))


def handle_similarity(a: str | None, b: str | None) -> float:
    """Similarity 0..1 of two handles, tuned to how re-created accounts are named.

    >>> handle_similarity("dawn_news", "dawn_news2"), handle_similarity("dawnnews", "dawnnwes")
    (0.95, 0.875)
    """
    if not a or not b:
        return 0.0
    a, b = normalise_handle(a), normalise_handle(b)
    if a == b:
        return 1.0
    sa, sb = _stem(a), _stem(b)
    if sa == sb and len(sa) >= 3:
        return 0.95
    ca, cb = _collapse(a), _collapse(b)
    if ca == cb and len(ca) >= 3:
        return 0.9
    return float(OSA.normalized_similarity(a, b))


def _avatar_key(url: str | None) -> str | None:
    if not url:
        return None
    return _AVATAR_SIZE.sub("", url.strip().split("?", 1)[0])


# -- suspended accounts ------------------------------------------------------------------

_REQUIRED = ("user_id", "screen_name", "suspended_at")


def _parse_time(value: str) -> dt.datetime:
    v = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", v):
        x = float(v)
        if x > 1e11:  # milliseconds
            x /= 1000.0
        return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=x)
    t = dt.datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def read_suspended(path: str | os.PathLike[str]) -> list[Suspension]:
    """Read a suspended-accounts CSV (``user_id, screen_name, suspended_at``).

    ``suspended_at`` is ISO 8601 (UTC unless an offset is given) or Unix seconds
    (milliseconds above 10^11). Either ``user_id`` or ``screen_name`` may be empty, not
    both. Any problem raises :class:`InputError` naming the file, line and fix.
    """
    p = str(path)
    if not os.path.isfile(p):
        raise InputError(f"suspended-accounts file {p} does not exist or is not a file.", path=p)
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            return _read_suspended(f, p)
    except OSError as e:
        raise InputError(f"cannot read suspended-accounts file {p}: {e.strerror}.",
                         path=p) from None


def _read_suspended(f: Any, p: str) -> list[Suspension]:
    out: list[Suspension] = []
    reader = csv.DictReader(f)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{p}: line 1: not a readable CSV file ({e}).", path=p) from None
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"{p}: line 1: the header lacks column(s) {', '.join(missing)}; a suspended-"
            "accounts file needs the columns user_id, screen_name, suspended_at.", path=p)
    reader.fieldnames = header
    try:
        for row in reader:
            line = reader.line_num
            uid = (row.get("user_id") or "").strip() or None
            name = (row.get("screen_name") or "").strip().lstrip("@") or None
            when = (row.get("suspended_at") or "").strip()
            if uid is None and name is None:
                raise InputError(
                    f"{p}: line {line}: both user_id and screen_name are empty; give at "
                    "least one.", path=p)
            if not when:
                raise InputError(f"{p}: line {line}: suspended_at is empty.", path=p)
            try:
                t = _parse_time(when)
            except (ValueError, OverflowError):
                raise InputError(
                    f"{p}: line {line}: suspended_at {when[:40]!r} is not a time; use ISO "
                    "8601 (2014-06-12T20:00:00Z) or Unix seconds.", path=p) from None
            out.append(Suspension(uid, name, t, False, line))
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{p}: line {reader.line_num}: unreadable CSV ({e}).",
                         path=p) from None
    return out


_NEIGHBOURS = """
SELECT a, b FROM (
  SELECT account_a AS a, account_b AS b FROM edges
  UNION SELECT account_b, account_a FROM edges
  UNION SELECT account_id, parent_account_id FROM posts
    WHERE parent_account_id IS NOT NULL
  UNION SELECT parent_account_id, account_id FROM posts
    WHERE parent_account_id IS NOT NULL
  UNION SELECT account_id, unnest(mention_ids) FROM posts
  UNION SELECT m.b, m.a FROM (SELECT account_id AS a, unnest(mention_ids) AS b FROM posts) m
  UNION SELECT p.account_id, ac.account_id FROM
    (SELECT account_id, unnest(mentions) AS h FROM posts) p
    JOIN accounts ac ON lower(ac.handle) = p.h
  UNION SELECT ac.account_id, p.account_id FROM
    (SELECT account_id, unnest(mentions) AS h FROM posts) p
    JOIN accounts ac ON lower(ac.handle) = p.h
) WHERE a IS NOT NULL AND b IS NOT NULL AND a <> b
"""


def infer_suspensions(ws: Workspace, params: ReincarnationParams | None = None) -> list[Suspension]:
    """Accounts that stop abruptly while their neighbours go on (suspensions inferred)."""
    p = params or ReincarnationParams()
    if not has_rows(ws, "posts"):
        return []
    rows = ws.sql(
        f"""
        WITH g AS (
          SELECT account_id, created_at,
            (epoch_us(created_at) - epoch_us(lag(created_at) OVER
              (PARTITION BY account_id ORDER BY created_at))) / 1e6 AS gap
          FROM posts WHERE created_at IS NOT NULL AND account_id IS NOT NULL
        ),
        a AS (
          SELECT account_id, count(*) AS n, max(created_at) AS last,
            (count(*) - 1) / greatest((epoch_us(max(created_at)) - epoch_us(min(created_at)))
                                      / 3600e6, 1.0) AS rate
          FROM g GROUP BY account_id HAVING count(*) >= {p.infer_min_posts}
        ),
        lastpost AS (SELECT account_id, max(created_at) AS last FROM posts GROUP BY account_id),
        e AS (SELECT max(created_at) AS t_end FROM posts),
        stopped AS (
          SELECT a.* FROM a, e
          WHERE (epoch_us(e.t_end) - epoch_us(a.last)) / 3600e6
                >= greatest({p.infer_min_silence_hours}, {-math.log(p.infer_alpha)} / a.rate)
        ),
        nb AS ({_NEIGHBOURS})
        SELECT s.account_id, any_value(s.last) AS last,
          any_value(ac.handle) AS handle,
          count(DISTINCT nb.b) FILTER (WHERE lp.last > s.last) AS active
        FROM stopped s
        JOIN nb ON nb.a = s.account_id
        LEFT JOIN lastpost lp ON lp.account_id = nb.b
        LEFT JOIN accounts ac ON ac.account_id = s.account_id
        GROUP BY s.account_id
        HAVING active >= {p.infer_min_active_neighbours}
        ORDER BY s.account_id
        """
    ).to_pylist()
    return [Suspension(r["account_id"], r["handle"], r["last"], True) for r in rows]


# -- candidates and scoring ----------------------------------------------------------------

@dataclass
class _Cand:
    old: str
    old_handle: str
    new: str
    new_handle: str
    appear: dt.datetime
    gap_hours: float
    handle_sim: float
    display: bool
    avatar: bool
    identity: float
    inferred: bool
    content: float = 0.0
    neighbour: float = 0.0
    promoted: int = 0
    score: float = 0.0


def _accounts(ws: Workspace) -> dict[str, np.ndarray]:
    t = ws.sql(
        """
        SELECT account_id, any_value(handle) AS handle, any_value(display_name) AS display_name,
          any_value(profile_image_url) AS avatar,
          coalesce(min(created_at), min(first_seen)) AS appear
        FROM accounts WHERE account_id IS NOT NULL GROUP BY account_id
        HAVING coalesce(min(created_at), min(first_seen)) IS NOT NULL
        ORDER BY appear, account_id
        """
    )
    out: dict[str, np.ndarray] = {}
    names = [_norm_name(x) for x in t.column("display_name").to_pylist()]
    avatars = [_avatar_key(x) for x in t.column("avatar").to_pylist()]
    nc, ac = Counter(n for n in names if n), Counter(a for a in avatars if a)
    out["name_count"] = np.array([nc.get(n, 0) for n in names], dtype=np.int64)
    out["avatar_count"] = np.array([ac.get(a, 0) if a else 0 for a in avatars], dtype=np.int64)
    for c in t.column_names:
        col = t.column(c)
        if c == "appear":
            out[c] = np.asarray(col.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False),
                                dtype="datetime64[us]")
        else:
            out[c] = np.asarray(col.to_pylist(), dtype=object)
    return out


def _norm_name(s: Any) -> str:
    return " ".join(str(s).casefold().split()) if s else ""


def reincarnations(
    ws: Workspace,
    params: ReincarnationParams | None = None,
    suspended: str | os.PathLike[str] | list[Suspension] | None = None,
) -> pa.Table:
    """Rank successors of suspended accounts; returns a ``reincarnations`` table.

    ``suspended`` is a CSV path, a list of :class:`Suspension`, or None to infer
    suspensions (when ``params.infer``).
    """
    p = params or ReincarnationParams()
    if suspended is None:
        susp = infer_suspensions(ws, p) if p.infer else []
    elif isinstance(suspended, list):
        susp = suspended
    else:
        susp = read_suspended(suspended)
    if not susp or not has_rows(ws, "accounts"):
        return schema.empty("reincarnations")
    acc = _accounts(ws)
    if acc["account_id"].size == 0:
        return schema.empty("reincarnations")
    handles_of = _handles(ws)
    by_handle: dict[str, str] = {}
    for aid, h in zip(acc["account_id"], acc["handle"], strict=True):
        if h:
            by_handle.setdefault(normalise_handle(str(h)), str(aid))
    index = {str(a): i for i, a in enumerate(acc["account_id"])}
    cands: list[_Cand] = []
    for s in susp:
        old = s.account_id if s.account_id in index else None
        if old is None and s.handle:
            old = by_handle.get(normalise_handle(s.handle))
        old_id = old or s.account_id or f"@{s.handle}"
        olds = set(handles_of.get(old_id, []))
        if s.handle:
            olds.add(normalise_handle(s.handle))
        oi = index.get(old_id)
        if oi is not None and acc["handle"][oi]:
            olds.add(normalise_handle(str(acc["handle"][oi])))
        old_handle = (str(acc["handle"][oi]) if oi is not None and acc["handle"][oi]
                      else (s.handle or ""))
        cands.extend(_identity_candidates(acc, s, old_id, old_handle, sorted(olds), oi, p))
    if not cands:
        return schema.empty("reincarnations")
    _behaviour(ws, cands, p)
    return _rank(cands, susp, p)


def _handles(ws: Workspace) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if has_rows(ws, "account_handles"):
        for r in ws.sql("SELECT DISTINCT account_id, handle FROM account_handles "
                        "WHERE handle IS NOT NULL").to_pylist():
            out.setdefault(r["account_id"], []).append(normalise_handle(r["handle"]))
    return out


def _identity_candidates(
    acc: dict[str, np.ndarray], s: Suspension, old_id: str, old_handle: str,
    old_handles: list[str], oi: int | None, p: ReincarnationParams,
) -> list[_Cand]:
    t = np.datetime64(s.suspended_at, "us")
    lo = t - np.timedelta64(int(p.tolerance_hours * 3600e6), "us")
    hi = t + np.timedelta64(int(p.max_gap_days * 86400e6), "us")
    a = int(np.searchsorted(acc["appear"], lo, side="left"))
    b = int(np.searchsorted(acc["appear"], hi, side="right"))
    if b <= a:
        return []
    ids = acc["account_id"][a:b]
    hs = [normalise_handle(str(h)) if h else "" for h in acc["handle"][a:b]]
    sims = np.zeros(len(hs))
    if old_handles and hs:
        full = process.cdist(old_handles, hs, scorer=OSA.normalized_similarity,
                             dtype=np.float32).max(axis=0)
        stems = process.cdist([_stem(h) for h in old_handles], [_stem(h) for h in hs],
                              scorer=OSA.normalized_similarity, dtype=np.float32).max(axis=0)
        close = np.flatnonzero((full >= 0.5) | (stems >= 0.8))
        for k in close.tolist():
            sims[k] = max(handle_similarity(o, hs[k]) for o in old_handles)
    old_name = _norm_name(acc["display_name"][oi]) if oi is not None else ""
    old_av = _avatar_key(acc["avatar"][oi]) if oi is not None else None
    # a name or picture many accounts share (a default avatar, "News") identifies nobody
    if old_name and acc["name_count"][oi] > _MAX_SHARED:
        old_name = ""
    if old_av is not None and acc["avatar_count"][oi] > _MAX_SHARED:
        old_av = None
    out: list[_Cand] = []
    for j in range(len(hs)):
        new = str(ids[j])
        if new == old_id:
            continue
        disp = bool(old_name) and _norm_name(acc["display_name"][a + j]) == old_name
        av = old_av is not None and _avatar_key(acc["avatar"][a + j]) == old_av
        h = float(sims[j]) if sims[j] >= p.handle_min else 0.0
        identity = 1 - (1 - h) * (1 - p.display_weight * disp) * (1 - p.avatar_weight * av)
        if identity <= 0:
            continue
        appear = acc["appear"][a + j].astype("datetime64[us]").astype(dt.datetime)
        gap = max(0.0, (appear - s.suspended_at).total_seconds() / 3600.0)
        out.append(_Cand(old_id, old_handle, new, hs[j] or "", appear, gap, float(sims[j]),
                         disp, av, identity, s.inferred))
    return out


def _behaviour(ws: Workspace, cands: list[_Cand], p: ReincarnationParams) -> None:
    pairs = pa.table({
        "i": list(range(len(cands))),
        "old": [c.old for c in cands],
        "new": [c.new for c in cands],
        "new_handle": [c.new_handle for c in cands],
        "t0": pa.array([c.appear - dt.timedelta(hours=p.tolerance_hours) for c in cands],
                       pa.timestamp("us")),
        "t1": pa.array([c.appear + dt.timedelta(hours=p.promotion_hours) for c in cands],
                       pa.timestamp("us")),
    })
    with registered(ws, pairs, "pairs") as pr:
        ws.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _sig_inv AS
                SELECT old AS account_id FROM {pr} UNION SELECT new FROM {pr}"""
        ).fetchall()
        try:
            content = ws.sql(_CONTENT_SQL.format(pairs=pr)).to_pylist()
            ws.con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _sig_nb AS
                    SELECT nb.a, nb.b FROM ({_NEIGHBOURS}) nb
                    WHERE nb.a IN (SELECT account_id FROM _sig_inv)"""
            ).fetchall()
            nbs: dict[str, set[str]] = {}
            for r in ws.sql("SELECT a, b FROM _sig_nb").to_pylist():
                nbs.setdefault(r["a"], set()).add(r["b"])
            promo = ws.sql(
                f"""
                WITH hits AS (
                  SELECT c.i, c.old, p.account_id AS author
                  FROM {pr} c JOIN posts p ON p.created_at BETWEEN c.t0 AND c.t1
                  WHERE p.parent_account_id = c.new OR list_contains(p.mention_ids, c.new)
                    OR (c.new_handle <> '' AND list_contains(p.mentions, c.new_handle))
                )
                SELECT h.i, count(DISTINCT h.author) AS n FROM hits h
                JOIN _sig_nb nb ON nb.a = h.old AND nb.b = h.author
                WHERE h.author <> h.old
                GROUP BY h.i
                """
            ).to_pylist()
        finally:
            ws.con.execute("DROP TABLE IF EXISTS _sig_inv").fetchall()
            ws.con.execute("DROP TABLE IF EXISTS _sig_nb").fetchall()
    for r in content:
        cands[int(r["i"])].content = float(r["overlap"] or 0.0)
    for r in promo:
        cands[int(r["i"])].promoted = int(r["n"])
    for c in cands:
        a = nbs.get(c.old, set()) - {c.new}
        b = nbs.get(c.new, set()) - {c.old}
        union = a | b
        c.neighbour = len(a & b) / len(union) if union else 0.0
        beh = 1 - ((1 - min(1.0, c.content / p.content_saturation))
                   * (1 - min(1.0, c.neighbour / p.neighbour_saturation))
                   * (1 - min(1.0, c.promoted / p.promotion_saturation)))
        tf = 0.5 + 0.5 * math.exp(-(c.gap_hours / 24.0) / p.time_scale_days)
        c.score = tf * math.sqrt(max(0.0, c.identity * beh))


_CONTENT_SQL = """
WITH k AS (
  SELECT account_id, 'h:' || unnest(hashtags) AS key FROM posts
  UNION SELECT account_id, 'u:' || unnest(urls) FROM posts
  UNION SELECT account_id, 'r:' || parent_post_id FROM posts
    WHERE kind = 'repost' AND parent_post_id IS NOT NULL
  UNION SELECT account_id, 't:' || md5(regexp_replace(lower(trim(text)), '\\s+', ' ', 'g'))
    FROM posts WHERE kind <> 'repost' AND length(text) >= 20
  UNION SELECT account_id, 'd:' || regexp_extract(unnest(urls), '^[a-z0-9+.-]+://([^/?#]+)', 1)
    FROM posts
  UNION SELECT account_id, 'a:' || parent_account_id FROM posts
    WHERE parent_account_id IS NOT NULL AND parent_account_id <> account_id
  UNION SELECT account_id, 'm:' || unnest(mentions) FROM posts
),
n AS (SELECT count(DISTINCT account_id)::DOUBLE AS n FROM posts),
df AS (SELECT key, count(*) AS df FROM k GROUP BY key),
kw AS (
  SELECT k.account_id, k.key, ln((1 + n.n) / (1 + df.df)) AS w
  FROM k JOIN df USING (key), n
  WHERE k.account_id IN (SELECT account_id FROM _sig_inv)
),
tot AS (SELECT account_id, sum(w) AS w FROM kw GROUP BY account_id),
inter AS (
  SELECT c.i, sum(a.w) AS w FROM {pairs} c
  JOIN kw a ON a.account_id = c.old
  JOIN kw b ON b.account_id = c.new AND b.key = a.key
  GROUP BY c.i
)
SELECT c.i, coalesce(inter.w, 0) / nullif(coalesce(ta.w, 0) + coalesce(tb.w, 0)
                                           - coalesce(inter.w, 0), 0) AS overlap
FROM {pairs} c LEFT JOIN inter USING (i)
LEFT JOIN tot ta ON ta.account_id = c.old LEFT JOIN tot tb ON tb.account_id = c.new
"""


def _rank(cands: list[_Cand], susp: list[Suspension], p: ReincarnationParams) -> pa.Table:
    by_old: dict[str, list[_Cand]] = {}
    for c in cands:
        if c.score >= p.min_score:
            by_old.setdefault(c.old, []).append(c)
    ranked: list[tuple[int, _Cand]] = []
    for group in by_old.values():
        group.sort(key=lambda c: (-c.score, c.gap_hours, c.new))
        ranked.extend((i + 1, c) for i, c in enumerate(group[: p.max_candidates]))
    succ: dict[str, _Cand] = {}
    pred: dict[str, _Cand] = {}
    for rank, c in ranked:
        if rank == 1 and (c.new not in pred or pred[c.new].score < c.score):
            pred[c.new] = c
    for c in pred.values():
        succ[c.old] = c

    def downstream(old: str) -> set[str]:
        out: set[str] = set()
        cur = old
        while cur in succ and succ[cur].new not in out:
            cur = succ[cur].new
            out.add(cur)
        return out

    # A lower-ranked candidate that is already a later link of the old account's own chain
    # (name -> name2 -> name3: name3 for name) is implied by the chain, not a new pair.
    kept: list[tuple[int, _Cand]] = []
    rank_of: dict[str, int] = {}
    for rank, c in ranked:
        if rank > 1 and c.new in downstream(c.old):
            continue
        rank_of[c.old] = rank_of.get(c.old, 0) + 1
        kept.append((rank_of[c.old], c))
    ranked = kept

    def chain_of(c: _Cand) -> str:
        start = c.old
        seen = {start}
        while start in pred and pred[start].old not in seen:
            start = pred[start].old
            seen.add(start)
        names = [_label(start, succ, pred)]
        cur = start
        seen = {cur}
        while cur in succ and succ[cur].new not in seen:
            nxt = succ[cur]
            names.append(nxt.new_handle or nxt.new)
            cur = nxt.new
            seen.add(cur)
        return " -> ".join(names)

    rows: list[dict[str, Any]] = []
    for rank, c in ranked:
        linked = succ.get(c.old) is c
        rows.append({
            "old_account_id": c.old, "old_handle": c.old_handle,
            "new_account_id": c.new, "new_handle": c.new_handle,
            "score": round(c.score, 4), "rank": rank,
            "handle_similarity": round(c.handle_sim, 4),
            "same_display_name": c.display, "same_avatar": c.avatar,
            "content_overlap": round(c.content, 4),
            "neighbour_overlap": round(c.neighbour, 4),
            "promoted_by": c.promoted, "gap_hours": round(c.gap_hours, 2),
            "inferred": c.inferred,
            "chain": chain_of(c) if linked else f"{c.old_handle or c.old} -> {c.new_handle or c.new}",
        })
    rows.sort(key=lambda r: (-r["score"], r["old_account_id"], r["rank"]))
    return schema.check("reincarnations", pa.Table.from_pylist(
        rows, schema=schema.TABLES["reincarnations"].schema), stage="signals.reincarnation")


def _label(account: str, succ: dict[str, _Cand], pred: dict[str, _Cand]) -> str:
    if account in succ and succ[account].old_handle:
        return succ[account].old_handle
    if account in pred:
        return pred[account].new_handle or account
    return account
