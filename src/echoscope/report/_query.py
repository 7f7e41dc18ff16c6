"""Queries behind the report context: data summary, runs, methods, signal sections."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from echoscope import schema
from echoscope.report.context import (
    DataSummary,
    MethodNote,
    ReportParams,
    RunInfo,
    SignalSection,
    SourceFile,
)
from echoscope.workspace import Workspace

__all__ = ["BUILTIN_METHODS", "data_summary", "method_notes", "run_infos", "signal_sections"]

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
