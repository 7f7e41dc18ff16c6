"""Campaign rows and cards (members, evidence, timeline, samples, local images)."""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

from echoscope.report._query import _f, _rows, _s
from echoscope.report.context import (
    CampaignRow,
    CampaignView,
    EvidenceRow,
    MemberRow,
    ReportParams,
    SamplePost,
    TimelineRow,
)
from echoscope.workspace import Workspace

__all__ = ["campaign_row", "campaign_rows", "campaign_view", "campaign_views"]

# -- campaigns ---------------------------------------------------------------------------

def campaign_rows(ws: Workspace, p: ReportParams) -> tuple[list[CampaignRow], int]:
    total = ws.count("campaigns")
    rows = _rows(ws, "SELECT * FROM campaigns ORDER BY score DESC NULLS LAST, size DESC, "
                     "campaign_id LIMIT ?", [p.max_campaigns])
    out = [CampaignRow(
        rank=i + 1, campaign_id=_s(r["campaign_id"]), size=int(r["size"] or 0),
        score=_f(r["score"]), signals=[_s(s) for s in (r["signals"] or [])],
        first_time=r["first_time"], last_time=r["last_time"], summary=_s(r["summary"]),
        detailed=i < p.detail_campaigns) for i, r in enumerate(rows)]
    return out, total


def campaign_row(ws: Workspace, campaign_id: str) -> CampaignRow | None:
    """One campaign's row with its rank among all campaigns, or None."""
    rows = _rows(ws, """
        SELECT * FROM (
          SELECT *, row_number() OVER (ORDER BY score DESC NULLS LAST, size DESC,
                                       campaign_id) AS rank FROM campaigns)
        WHERE campaign_id = ?""", [campaign_id])
    if not rows:
        return None
    r = rows[0]
    return CampaignRow(
        rank=int(r["rank"]), campaign_id=_s(r["campaign_id"]), size=int(r["size"] or 0),
        score=_f(r["score"]), signals=[_s(s) for s in (r["signals"] or [])],
        first_time=r["first_time"], last_time=r["last_time"], summary=_s(r["summary"]),
        detailed=True)


_MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
          (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


class _Media:
    """Local image lookup: ``media_dir/<media_id or hash>.<ext>`` only, embedded as data:.

    Names come from the data, so they are checked against a strict pattern and the
    resolved path must stay inside ``media_dir``; the file type comes from its magic
    bytes, not its name. Nothing is ever fetched.
    """

    EXTS = (".jpg", ".jpeg", ".png", ".gif", ".webp")

    def __init__(self, p: ReportParams) -> None:
        self.root = Path(p.media_dir).resolve() if p.media_dir else None
        self.left = p.max_images
        self.max_bytes = p.max_image_bytes
        self.skipped = 0

    def find(self, names: list[str]) -> str | None:
        if self.root is None or not self.root.is_dir():
            return None
        for name in names:
            if not name or not _MEDIA_ID.match(name) or name.startswith("."):
                continue
            for ext in self.EXTS:
                path = (self.root / (name + ext)).resolve()
                if path.parent != self.root or not path.is_file():
                    continue
                if self.left <= 0 or path.stat().st_size > self.max_bytes:
                    self.skipped += 1
                    return None
                data = path.read_bytes()
                mime = next((m for sig, m in _MAGIC if data.startswith(sig)), None)
                if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
                    mime = "image/webp"
                if mime is None:
                    self.skipped += 1
                    return None
                self.left -= 1
                return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return None


def campaign_view(ws: Workspace, row: CampaignRow, p: ReportParams,
                  media: _Media | None = None) -> CampaignView:
    """Everything the card of one campaign shows."""
    return campaign_views(ws, [row], p, media)[0]


def campaign_views(ws: Workspace, rows: list[CampaignRow], p: ReportParams,
                   media: _Media | None = None) -> list[CampaignView]:
    """The cards of several campaigns, with a fixed number of queries for all of them."""
    if not rows:
        return []
    media = media or _Media(p)
    sel = pa.table({"campaign_id": pa.array([r.campaign_id for r in rows], pa.string())})
    name = f"_es_sel_{uuid.uuid4().hex[:8]}"
    ws.con.register(name, sel)
    try:
        return _views(ws, rows, p, media, name)
    finally:
        ws.con.unregister(name)


def _views(ws: Workspace, rows: list[CampaignRow], p: ReportParams, media: _Media,
           sel: str) -> list[CampaignView]:
    camp = {r["campaign_id"]: r for r in _rows(
        ws, f"SELECT campaign_id, n_edges, density FROM campaigns "
            f"WHERE campaign_id IN (SELECT campaign_id FROM {sel})")}
    # a workspace written before campaign_members.joined_by (read-only here) has only ties
    joined = ("joined_by" if ws.scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = "
        "'campaign_members' AND column_name = 'joined_by'") else "'ties' AS joined_by")
    ws.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _es_top AS
        SELECT * FROM (
          SELECT campaign_id, account_id, strength, degree, {joined},
                 row_number() OVER (PARTITION BY campaign_id
                                    ORDER BY strength DESC NULLS LAST, account_id) AS rn,
                 count(*) OVER (PARTITION BY campaign_id) AS total
          FROM campaign_members WHERE campaign_id IN (SELECT campaign_id FROM {sel}))
        WHERE rn <= ?""", [p.members_per_campaign]).fetchall()
    try:
        mrows = _rows(ws, """
            WITH ids AS (SELECT DISTINCT account_id FROM _es_top),
            acc AS (SELECT account_id, any_value(handle) handle, any_value(display_name) dn,
                           min(created_at) created FROM accounts
                    WHERE account_id IN (SELECT account_id FROM ids) GROUP BY 1),
            po AS (SELECT account_id, count(*) n, min(created_at) first FROM posts
                   WHERE account_id IN (SELECT account_id FROM ids) GROUP BY 1)
            SELECT t.*, acc.handle, acc.dn, acc.created, po.n, po.first
            FROM _es_top t LEFT JOIN acc USING (account_id) LEFT JOIN po USING (account_id)
            ORDER BY t.campaign_id, t.rn""")
        apps: dict[str, list[tuple[str, int]]] = {}
        for r in _rows(ws, """
            SELECT account_id, source_app, count(*) n FROM posts
            WHERE account_id IN (SELECT DISTINCT account_id FROM _es_top)
              AND source_app IS NOT NULL AND source_app <> ''
            GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2"""):
            lst = apps.setdefault(r["account_id"], [])
            if len(lst) < 3:
                lst.append((_s(r["source_app"]), int(r["n"])))
        ties: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for r in _rows(ws, f"""
            WITH mem AS (SELECT campaign_id, account_id FROM campaign_members
                         WHERE campaign_id IN (SELECT campaign_id FROM {sel})),
            e AS (SELECT DISTINCT ma.campaign_id, e.account_a, e.account_b, e.type
                  FROM edges e JOIN mem ma ON e.account_a = ma.account_id
                  JOIN mem mb ON e.account_b = mb.account_id
                             AND mb.campaign_id = ma.campaign_id),
            ends AS (SELECT campaign_id, account_a AS account_id, type FROM e
                     UNION ALL SELECT campaign_id, account_b, type FROM e)
            SELECT campaign_id, account_id, type, count(*) n FROM ends
            WHERE (campaign_id, account_id) IN (SELECT (campaign_id, account_id) FROM _es_top)
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 4 DESC, 3"""):
            ties.setdefault((r["campaign_id"], r["account_id"]), []).append(
                (_s(r["type"]), int(r["n"])))
        times: dict[str, list[dt.datetime]] = {}
        for r in _rows(ws, """
            SELECT account_id, created_at FROM (
              SELECT account_id, created_at, row_number() OVER (
                       PARTITION BY account_id ORDER BY created_at) rn
              FROM posts WHERE created_at IS NOT NULL AND account_id IN (
                SELECT account_id FROM _es_top WHERE rn <= ?))
            WHERE rn <= 1000 ORDER BY account_id, created_at""", [p.timeline_members]):
            times.setdefault(r["account_id"], []).append(r["created_at"])
        samples: dict[str, list[dict[str, Any]]] = {}
        if p.samples_per_campaign:
            for r in _rows(ws, f"""
                WITH mem AS (SELECT campaign_id, account_id FROM campaign_members
                             WHERE campaign_id IN (SELECT campaign_id FROM {sel})),
                po AS (SELECT mem.campaign_id, p.account_id, p.text, p.post_id, p.created_at
                       FROM posts p JOIN mem USING (account_id)
                       WHERE p.text IS NOT NULL AND p.text <> ''),
                g AS (SELECT campaign_id, text, count(DISTINCT account_id) n,
                             arg_min(post_id, created_at) pid FROM po GROUP BY 1, 2),
                r AS (SELECT *, row_number() OVER (PARTITION BY campaign_id
                                                   ORDER BY n DESC, pid) rk FROM g)
                SELECT r.campaign_id AS cid, r.n AS n_copies, r.rk, p.*
                FROM r JOIN posts p ON p.post_id = r.pid AND p.text = r.text
                WHERE r.rk <= ? ORDER BY r.campaign_id, r.rk""", [p.samples_per_campaign]):
                samples.setdefault(r["cid"], []).append(r)
        evidence: dict[str, list[EvidenceRow]] = {}
        for r in _rows(ws, f"""
            SELECT * FROM (
              SELECT *, row_number() OVER (PARTITION BY campaign_id
                         ORDER BY n_accounts DESC, n_actions DESC, type, key) rk
              FROM campaign_evidence WHERE campaign_id IN (SELECT campaign_id FROM {sel}))
            WHERE rk <= ? ORDER BY campaign_id, rk""", [p.evidence_per_campaign]):
            evidence.setdefault(r["campaign_id"], []).append(EvidenceRow(
                type=_s(r["type"]), key=_s(r["key"]), n_accounts=int(r["n_accounts"] or 0),
                n_actions=int(r["n_actions"] or 0), first_time=r["first_time"],
                last_time=r["last_time"], example_post_id=_s(r["example_post_id"]),
                example_text=_s(r["example_text"])))
    finally:
        ws.con.execute("DROP TABLE IF EXISTS _es_top").fetchall()

    members: dict[str, list[MemberRow]] = {}
    totals: dict[str, int] = {}
    for r in mrows:
        cid = r["campaign_id"]
        totals[cid] = int(r["total"])
        created, first = r["created"], r["first"]
        age = (first - created).total_seconds() / 86400 if created and first else None
        members.setdefault(cid, []).append(MemberRow(
            account_id=_s(r["account_id"]), handle=_s(r["handle"]), display_name=_s(r["dn"]),
            n_posts=int(r["n"] or 0), apps=apps.get(r["account_id"], []),
            created_at=created, age_days=age, strength=_f(r["strength"]),
            degree=int(r["degree"] or 0), ties=ties.get((cid, r["account_id"]), []),
            joined_by=_s(r["joined_by"]) or "ties"))
    out = []
    for row in rows:
        cid = row.campaign_id
        ms = members.get(cid, [])
        timeline = [TimelineRow(m.handle or m.account_id, times.get(m.account_id, []))
                    for m in ms[: p.timeline_members]]
        posts = []
        for r in samples.get(cid, []):
            imgs = []
            for item in r["media"] or []:
                uri = media.find([_s(item.get("media_id")), _s(item.get("hash"))])
                if uri:
                    imgs.append(uri)
            posts.append(SamplePost(
                post_id=_s(r["post_id"]), handle=_s(r["handle"]), created_at=r["created_at"],
                kind=_s(r["kind"]), text=_s(r["text"]), source_app=_s(r["source_app"]),
                urls=[_s(u) for u in r["urls"] or []],
                hashtags=[_s(h) for h in r["hashtags"] or []], n_copies=int(r["n_copies"]),
                images=imgs))
        c = camp.get(cid, {})
        out.append(CampaignView(
            row=row, n_edges=int(c.get("n_edges") or 0), density=_f(c.get("density")),
            members_total=totals.get(cid, 0), members=ms, evidence=evidence.get(cid, []),
            timeline=timeline, samples=posts))
    return out
