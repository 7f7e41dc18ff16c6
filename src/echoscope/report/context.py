"""The report's data: a typed context built from a workspace, rendered by the templates.

The HTML report and the web UI render the same :class:`ReportContext`, built by
:func:`build_context`. Every field holds plain data (strings, numbers, datetimes); the
templates escape it (Jinja autoescape) and the client-side data is embedded by
:func:`echoscope.report.render.json_script`. Nothing here is trusted: post text,
handles, URLs and hashtags are attacker-controlled.

Limits (:class:`ReportParams`) keep the file a reasonable size for any input: the ranked
campaign list holds up to ``max_campaigns`` rows (paginated in the browser), the top
``detail_campaigns`` get a full card, each card lists at most ``members_per_campaign``
members, and the network view keeps the ``network_max_edges`` strongest edges.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from echoscope import schema
from echoscope.params import Params, limit
from echoscope.workspace import Workspace

__all__ = [
    "CampaignRow",
    "CampaignView",
    "DataSummary",
    "EvidenceRow",
    "MemberRow",
    "MethodNote",
    "NetworkView",
    "ReportContext",
    "ReportParams",
    "RunInfo",
    "SamplePost",
    "SignalSection",
    "build_context",
    "campaign_view",
    "campaign_views",
]


@dataclass(frozen=True)
class ReportParams(Params):
    """Limits and options of the report (see docs/report.md for the sizes they give)."""

    title: str = "echoscope report"
    max_campaigns: int = field(default=1000, metadata=limit(1, 100_000, "campaigns"))
    detail_campaigns: int = field(default=200, metadata=limit(0, 5000, "campaigns"))
    members_per_campaign: int = field(default=50, metadata=limit(1, 10_000, "accounts"))
    evidence_per_campaign: int = field(default=15, metadata=limit(1, 1000, "keys"))
    samples_per_campaign: int = field(default=5, metadata=limit(0, 100, "posts"))
    timeline_members: int = field(default=20, metadata=limit(1, 200, "accounts"))
    network_max_edges: int = field(default=3000, metadata=limit(0, 100_000, "edges"))
    section_rows: int = field(default=200, metadata=limit(1, 100_000, "rows"))
    media_dir: str | None = None
    max_images: int = field(default=60, metadata=limit(0, 10_000, "images"))
    max_image_bytes: int = field(default=2_000_000, metadata=limit(1, 50_000_000, "bytes"))
    seed: int = field(default=0, metadata=limit(0, None, "", "network layout seed"))


# -- the context -------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceFile:
    path: str
    format: str
    records: int
    posts: int
    rejects: int
    sha256: str


@dataclass(frozen=True)
class DataSummary:
    posts: int
    accounts: int
    rejects: int
    first: dt.datetime | None
    last: dt.datetime | None
    by_platform: list[tuple[str, int, int]]
    by_kind: list[tuple[str, int]]
    files: list[SourceFile]
    reject_reasons: list[tuple[str, str, int]]
    tables: dict[str, int]


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    command: str
    version: str
    started_at: dt.datetime | None
    status: str
    params: list[tuple[str, str]]
    inputs: list[tuple[str, str]]
    versions: list[tuple[str, str]]


@dataclass(frozen=True)
class MethodNote:
    name: str
    text: str


@dataclass(frozen=True)
class CampaignRow:
    """One line of the ranked campaign list (also embedded as JSON for pagination)."""

    rank: int
    campaign_id: str
    size: int
    score: float
    signals: list[str]
    first_time: dt.datetime | None
    last_time: dt.datetime | None
    summary: str
    detailed: bool


@dataclass(frozen=True)
class MemberRow:
    account_id: str
    handle: str
    display_name: str
    n_posts: int
    apps: list[tuple[str, int]]
    created_at: dt.datetime | None
    age_days: float | None
    strength: float
    degree: int
    ties: list[tuple[str, int]]


@dataclass(frozen=True)
class EvidenceRow:
    type: str
    key: str
    n_accounts: int
    n_actions: int
    first_time: dt.datetime | None
    last_time: dt.datetime | None
    example_post_id: str
    example_text: str

    @property
    def span_seconds(self) -> float | None:
        if self.first_time is None or self.last_time is None:
            return None
        return (self.last_time - self.first_time).total_seconds()


@dataclass(frozen=True)
class SamplePost:
    post_id: str
    handle: str
    created_at: dt.datetime | None
    kind: str
    text: str
    source_app: str
    urls: list[str]
    hashtags: list[str]
    n_copies: int
    images: list[str]  # data: URIs of local media files (never fetched)


@dataclass(frozen=True)
class TimelineRow:
    handle: str
    times: list[dt.datetime]


@dataclass(frozen=True)
class CampaignView:
    row: CampaignRow
    n_edges: int
    density: float
    members_total: int
    members: list[MemberRow]
    evidence: list[EvidenceRow]
    timeline: list[TimelineRow]
    samples: list[SamplePost]


@dataclass(frozen=True)
class NetworkView:
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    total_edges: int
    total_nodes: int
    note: str


@dataclass(frozen=True)
class SignalSection:
    key: str
    title: str
    intro: str
    columns: list[tuple[str, str]]  # (column name, description)
    rows: list[list[Any]]
    total: int


@dataclass(frozen=True)
class ReportContext:
    title: str
    generated_at: dt.datetime
    echoscope_version: str
    workspace: str
    params: dict[str, Any]
    summary: DataSummary
    runs: list[RunInfo]
    methods: list[MethodNote]
    campaigns: list[CampaignRow]
    campaigns_total: int
    details: list[CampaignView]
    network: NetworkView
    sections: list[SignalSection]
    notes: list[str]


# -- helpers -----------------------------------------------------------------------------

def _tables(ws: Workspace) -> set[str]:
    return {str(x) for x in ws.sql(
        "SELECT table_name FROM information_schema.tables").column(0).to_pylist()}


def _rows(ws: Workspace, q: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ws.sql(q, params).to_pylist()
    return rows


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _f(v: Any) -> float:
    if v is None:
        return float("nan")
    return float(v)


def _json_pairs(text: str | None) -> list[tuple[str, str]]:
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [("(unparsed)", text[:500])]
    if isinstance(data, dict):
        return [(str(k), v if isinstance(v, str) else json.dumps(v, default=str))
                for k, v in sorted(data.items())]
    if isinstance(data, list):
        out = []
        for item in data:
            if isinstance(item, dict):
                out.append((str(item.get("path", "")), str(item.get("sha256", ""))))
            else:
                out.append((str(item), ""))
        return out
    return [("value", str(data))]


# -- summary, runs, methods ------------------------------------------------------------

def data_summary(ws: Workspace) -> DataSummary:
    tr = _rows(ws, "SELECT min(created_at) AS f, max(created_at) AS l FROM posts")[0]
    files = [SourceFile(_s(r["path"]), _s(r["format"]), int(r["records"] or 0),
                        int(r["posts"] or 0), int(r["rejects"] or 0), _s(r["file_sha256"]))
             for r in _rows(ws, "SELECT * FROM files ORDER BY ingested_at, path")]
    existing = _tables(ws)
    counted = [t for t in ("actions", "edges", "campaigns", "campaign_members",
                           "account_signals", "hashtag_signals", "reincarnations",
                           "bank_matches") if t in existing]
    return DataSummary(
        posts=ws.count("posts"), accounts=ws.count("accounts"), rejects=ws.count("rejects"),
        first=tr["f"], last=tr["l"],
        by_platform=[(_s(r["platform"]), int(r["n"]), int(r["a"])) for r in _rows(
            ws, "SELECT platform, count(*) n, count(DISTINCT account_id) a FROM posts "
                "GROUP BY 1 ORDER BY 2 DESC, 1")],
        by_kind=[(_s(r["kind"]), int(r["n"])) for r in _rows(
            ws, "SELECT kind, count(*) n FROM posts GROUP BY 1 ORDER BY 2 DESC, 1")],
        files=files,
        reject_reasons=[(_s(r["f"]), _s(r["r"]), int(r["n"])) for r in _rows(
            ws, "SELECT source_file f, split_part(reason, ':', 1) r, count(*) n FROM rejects "
                "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 50")],
        tables={t: ws.count(t) for t in counted},
    )


def run_infos(ws: Workspace) -> list[RunInfo]:
    out = []
    for r in _rows(ws, "SELECT * FROM runs ORDER BY started_at DESC, run_id LIMIT 20"):
        out.append(RunInfo(
            run_id=_s(r["run_id"]), command=_s(r["command"]),
            version=_s(r["echoscope_version"]), started_at=r["started_at"],
            status=_s(r["status"]), params=_json_pairs(r["params"]),
            inputs=_json_pairs(r["inputs"]), versions=_json_pairs(r["versions"]),
        ))
    return out


#: Short method notes with known false positives; docs/methods.md, when present, is
#: shown in full instead (see :func:`method_notes`).
BUILTIN_METHODS: tuple[tuple[str, str], ...] = (
    ("Co-action networks",
     "Two accounts are tied when they act on the same key (the same reposted post, text, "
     "link, hashtag or image) within a time window; an edge counts distinct keys, so one "
     "burst cannot dominate. Known false positives: breaking news (many accounts repost "
     "the same post at once), viral copypasta, popular links and hashtags, and accounts "
     "run by one legitimate organisation. Rarity weighting and a null model (p-values "
     "with a false-discovery rate) reduce but do not remove these."),
    ("Campaigns",
     "Significant edges of all types are combined into one account graph and clustered "
     "with Leiden (seeded); each campaign is explained by its top shared keys. A campaign "
     "is evidence of coordinated behaviour, not of intent, identity or inauthenticity: "
     "review the evidence and sample posts before acting."),
    ("Automation signals",
     "Regular inter-post times, low hour-of-day entropy, very short reaction delays and "
     "a shared rare posting app suggest automation. Schedulers, news feeds and benign "
     "bots show the same patterns."),
    ("Hashtag storms and hijacks",
     "Bursts above a hashtag's own baseline, concentrated in few accounts or campaign "
     "members. Genuine events also cause bursts; hijack detection compares content with "
     "the hashtag's usual posts and can mistake a topic shift for a hijack."),
    ("Re-created accounts",
     "New accounts ranked by handle similarity, display name, avatar, shared content and "
     "neighbours of suspended ones. Fans, parodies and namesakes can look similar."),
    ("Known-content matches",
     "PDQ (images), MD5 and normalised-text hashes matched against banks the user "
     "imports. Near-duplicate matches in the review band need human review."),
)


def _methods_file() -> Path | None:
    here = Path(__file__).resolve()
    for cand in (here.parents[1] / "data" / "methods.md", here.parents[3] / "docs" / "methods.md"):
        if cand.is_file():
            return cand
    return None


def method_notes() -> list[MethodNote]:
    """The methods and caveats: docs/methods.md split by its ``##`` headings when present
    (shipped as ``echoscope/data/methods.md`` or found beside a source checkout), else
    :data:`BUILTIN_METHODS`."""
    path = _methods_file()
    if path is None:
        return [MethodNote(n, t) for n, t in BUILTIN_METHODS]
    text = path.read_text(encoding="utf-8", errors="replace")
    parts = re.split(r"(?m)^##\s+", text)
    notes = []
    intro = re.sub(r"(?m)^#\s+.*$", "", parts[0]).strip()
    if intro and len(parts) > 1:
        notes.append(MethodNote("", intro))
    for part in parts[1:]:
        head, _, body = part.partition("\n")
        notes.append(MethodNote(head.strip(), body.strip()))
    if not notes:
        notes = [MethodNote("Methods", text.strip())]
    return notes


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
    ws.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _es_top AS
        SELECT * FROM (
          SELECT campaign_id, account_id, strength, degree,
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
            degree=int(r["degree"] or 0), ties=ties.get((cid, r["account_id"]), [])))
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


# -- signal sections -----------------------------------------------------------------------

@dataclass(frozen=True)
class _SectionSpec:
    key: str
    table: str
    title: str
    intro: str
    query: str


_SECTIONS = (
    _SectionSpec(
        "automation", "account_signals", "Automation signals",
        "Accounts whose behaviour passes a documented automation threshold, one row per "
        "account: campaign members first, then accounts with the most flags.",
        "SELECT coalesce(any_value(a.handle), s.account_id) AS account, "
        "bool_or(m.account_id IS NOT NULL) AS in_campaign, count(*) AS flags, "
        "string_agg(s.signal, ', ' ORDER BY s.signal) AS signals, "
        "string_agg(s.reason, '; ' ORDER BY s.signal) AS reasons "
        "FROM account_signals s LEFT JOIN (SELECT account_id, any_value(handle) handle "
        "FROM accounts GROUP BY 1) a USING (account_id) "
        "LEFT JOIN (SELECT DISTINCT account_id FROM campaign_members) m USING (account_id) "
        "WHERE s.flagged GROUP BY s.account_id "
        "ORDER BY in_campaign DESC, flags DESC, account"),
    _SectionSpec(
        "hashtags", "hashtag_signals", "Hashtag storms and hijacks",
        "Hashtags with bursts above their own baseline; storms are driven by few accounts "
        "or campaign members, hijacks carry content unlike the hashtag's usual posts.",
        "SELECT hashtag, storm, hijack, posts, accounts, bursts, peak_hour, peak_posts, "
        "top_share, campaign_share, evidence FROM hashtag_signals "
        "WHERE storm OR hijack OR bursts > 0 "
        "ORDER BY (storm OR hijack) DESC, burst_hours DESC, posts DESC, hashtag"),
    _SectionSpec(
        "reincarnations", "reincarnations", "Re-created accounts",
        "Candidate successors of suspended accounts, best first.",
        "SELECT old_handle, new_handle, score, rank, handle_similarity, same_display_name, "
        "same_avatar, content_overlap, neighbour_overlap, promoted_by, gap_hours, chain "
        "FROM reincarnations ORDER BY score DESC NULLS LAST, rank, old_handle, new_handle"),
    _SectionSpec(
        "bank", "bank_matches", "Known-content matches",
        "Posts whose media or text matched an imported hash bank.",
        "SELECT bank, label, signal_type, match_kind, post_id, account_id, media_id, "
        "distance, similarity, source FROM bank_matches "
        "ORDER BY bank, label, distance NULLS LAST, post_id"),
)


def signal_sections(ws: Workspace, p: ReportParams) -> list[SignalSection]:
    """Sections for the signal tables that exist and have rows."""
    existing = _tables(ws)
    out = []
    for spec in _SECTIONS:
        if spec.table not in existing or spec.table not in schema.TABLES:
            continue
        if ws.count(spec.table) == 0:
            continue
        try:
            total = int(ws.scalar(f"SELECT count(*) FROM ({spec.query})") or 0)
            t = ws.sql(f"{spec.query} LIMIT {int(p.section_rows)}")
        except Exception:  # a table declared differently than this section expects
            t = ws.sql(f'SELECT * FROM "{spec.table}" LIMIT {int(p.section_rows)}')
            total = ws.count(spec.table)
        if total == 0:
            continue
        docs = schema.TABLES[spec.table].docs
        cols = [(n, docs.get(n, "")) for n in t.column_names]
        out.append(SignalSection(spec.key, spec.title, spec.intro, cols,
                                 [list(r.values()) for r in t.to_pylist()], total))
    return out


# -- the whole context ---------------------------------------------------------------------

def build_context(ws: Workspace, params: ReportParams | None = None,
                  *, now: dt.datetime | None = None) -> ReportContext:
    """Read a workspace into the report context (empty tables give an empty report)."""
    from echoscope import __version__

    p = params or ReportParams()
    rows, total = campaign_rows(ws, p)
    media = _Media(p)
    details = campaign_views(ws, [r for r in rows if r.detailed], p, media)
    notes = []
    if total > len(rows):
        notes.append(f"The ranked list shows the top {len(rows):,} of {total:,} campaigns; "
                     "export all with `echoscope export`.")
    if len(details) < len(rows):
        notes.append(f"Full detail is given for the top {len(details):,} campaigns.")
    if media.skipped:
        notes.append(f"{media.skipped} local image(s) were not embedded (over the size or "
                     "count limit, or not a PNG/JPEG/GIF/WebP file).")
    return ReportContext(
        title=p.title,
        generated_at=(now or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(
            microsecond=0),
        echoscope_version=__version__, workspace=Path(ws.path).name,
        params=p.to_dict(), summary=data_summary(ws), runs=run_infos(ws),
        methods=method_notes(), campaigns=rows, campaigns_total=total, details=details,
        network=network_view(ws, rows, p), sections=signal_sections(ws, p), notes=notes,
    )


def finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))
