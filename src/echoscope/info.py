"""What a workspace holds: counts by platform and kind, time range, files, rejects."""

from __future__ import annotations

from typing import Any

from echoscope.workspace import Workspace

__all__ = ["workspace_info"]


def workspace_info(ws: Workspace, *, rejects: int = 0) -> dict[str, Any]:
    """A JSON-able summary of the workspace; ``rejects=N`` adds the first N rejects."""
    def rows(q: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = ws.sql(q).to_pylist()
        return out

    out: dict[str, Any] = {
        "workspace": ws.path,
        "meta": ws.meta(),
        "posts": ws.count("posts"),
        "accounts": ws.count("accounts"),
        "rejects": ws.count("rejects"),
        "by_platform": rows(
            "SELECT platform, count(*) AS posts, count(DISTINCT account_id) AS accounts "
            "FROM posts GROUP BY 1 ORDER BY 2 DESC"),
        "by_kind": rows("SELECT kind, count(*) AS posts FROM posts GROUP BY 1 ORDER BY 2 DESC"),
        "time_range": rows(
            "SELECT min(created_at) AS first, max(created_at) AS last FROM posts")[0],
        "files": rows(
            "SELECT path, format, records, posts, new_posts, skipped, rejects, file_sha256, "
            "ingested_at FROM files ORDER BY ingested_at"),
        "reject_reasons": rows(
            "SELECT source_file, split_part(reason, ':', 1) AS reason, count(*) AS n "
            "FROM rejects GROUP BY 1, 2 ORDER BY 3 DESC"),
        "tables": {
            t: ws.count(t) for t in ("actions", "edges", "campaigns", "campaign_members")
        },
        "runs": len(ws.runs()),
    }
    for k in ("first", "last"):
        v = out["time_range"][k]
        out["time_range"][k] = v.isoformat() + "Z" if v is not None else None
    for f in out["files"]:
        f["ingested_at"] = f["ingested_at"].isoformat() + "Z" if f["ingested_at"] else None
    if rejects:
        sample = ws.sql(
            "SELECT source_file, source_record, format, reason, raw FROM rejects "
            "ORDER BY source_file, source_record LIMIT ?", [rejects]).to_pylist()
        for r in sample:
            r["raw"] = (r["raw"] or b"")[:300].decode("utf-8", "replace")
        out["reject_sample"] = sample
    return out
