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

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    #: how it became a member (campaign_members.joined_by): ties, owned_content, hijack_crew
    joined_by: str = "ties"


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


# -- the whole context ---------------------------------------------------------------------

def build_context(ws: Workspace, params: ReportParams | None = None,
                  *, now: dt.datetime | None = None) -> ReportContext:
    """Read a workspace into the report context (empty tables give an empty report)."""
    from echoscope import __version__
    from echoscope.report._campaigns import _Media, campaign_rows, campaign_views
    from echoscope.report._network import network_view
    from echoscope.report._query import data_summary, method_notes, run_infos, signal_sections

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

