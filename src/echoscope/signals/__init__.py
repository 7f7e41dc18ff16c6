"""Behavioural signals: automation, hashtag storms and hijacking, re-created accounts.

These run after clustering (they use ``campaign_members`` and ``edges`` when present and
still work when those tables are empty) and write three tables and three CSV files:

=================  ==========================  ====================================
table              CSV (in ``out_dir``)        module
=================  ==========================  ====================================
account_signals    account_signals.csv         :mod:`echoscope.signals.automation`
hashtag_signals    hashtags.csv                :mod:`echoscope.signals.hashtags`
reincarnations     reincarnations.csv          :mod:`echoscope.signals.reincarnation`
=================  ==========================  ====================================

plus ``campaign_automation.csv`` (:func:`campaign_automation`) when there are campaigns.
Methods and caveats: ``docs/signals.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from echoscope import progress
from echoscope.signals._params import (
    AutomationParams,
    HashtagParams,
    ReincarnationParams,
    SignalParams,
)
from echoscope.signals.automation import account_automation, campaign_automation
from echoscope.signals.hashtags import hashtag_signals
from echoscope.signals.reincarnation import (
    Suspension,
    handle_similarity,
    infer_suspensions,
    read_suspended,
    reincarnations,
)
from echoscope.workspace import Workspace

__all__ = [
    "HASHTAG_CSV_COLUMNS",
    "REINCARNATION_CSV_COLUMNS",
    "AutomationParams",
    "HashtagParams",
    "ReincarnationParams",
    "SignalParams",
    "Suspension",
    "account_automation",
    "campaign_automation",
    "handle_similarity",
    "hashtag_signals",
    "infer_suspensions",
    "read_suspended",
    "reincarnations",
    "run_signals",
]

#: Columns of ``hashtags.csv``, in order.
HASHTAG_CSV_COLUMNS = [
    "hashtag", "posts", "accounts", "bursts", "peak_hour", "top_share", "campaign_share",
    "recurring_hours", "storm", "hijack", "burst_hours", "peak_posts", "baseline",
    "content_similarity", "evidence",
]
#: Columns of ``reincarnations.csv``, in order.
REINCARNATION_CSV_COLUMNS = [
    "old_account_id", "old_handle", "new_account_id", "new_handle", "score",
    "handle_similarity", "same_display_name", "same_avatar", "content_overlap",
    "neighbour_overlap", "promoted_by", "gap_hours", "inferred", "chain", "rank",
]


_FORMULA = r"^[=+\-@\t\r]"


def _write_csv(table: pa.Table, path: Path, columns: list[str] | None = None) -> None:
    """Write a table as CSV; strings a spreadsheet would run as a formula get a ``'``."""
    if columns is not None:
        table = table.select(columns)
    for i, f in enumerate(table.schema):
        if pa.types.is_string(f.type):
            col = table.column(i)
            guarded = pc.if_else(pc.match_substring_regex(col, _FORMULA),
                                 pc.binary_join_element_wise("'", col, ""), col)
            table = table.set_column(i, f.name, guarded)
    pacsv.write_csv(table, path)


def run_signals(
    ws: Workspace,
    out_dir: str | os.PathLike[str] | None,
    params: SignalParams | None = None,
    suspended: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Compute every behavioural signal, store the tables and write the CSV files.

    ``suspended`` is a CSV of suspended accounts (``user_id, screen_name, suspended_at``);
    without it suspensions are inferred from abrupt stops. ``out_dir`` None writes tables
    only. Returns counts (and the CSV paths written) for the run log.
    """
    p = params or SignalParams()
    # Read the list first: a bad file fails before anything is computed.
    susp = read_suspended(suspended) if suspended is not None else None
    with progress.task("signals: automation"):
        acct = account_automation(ws, p.automation)
        ws.replace("account_signals", acct, stage="signals.automation")
        camp = campaign_automation(ws)
    with progress.task("signals: hashtags"):
        tags = hashtag_signals(ws, p.hashtags)
        ws.replace("hashtag_signals", tags, stage="signals.hashtags")
    with progress.task("signals: re-created accounts"):
        if susp is None and p.reincarnation.infer:
            susp = infer_suspensions(ws, p.reincarnation)
        reinc = reincarnations(ws, p.reincarnation, susp or [])
        ws.replace("reincarnations", reinc, stage="signals.reincarnation")
    flagged = acct.filter(acct.column("flagged"))
    counts: dict[str, Any] = {
        "account_signals": acct.num_rows,
        "flagged_accounts": len(set(flagged.column("account_id").to_pylist())),
        "hashtags": tags.num_rows,
        "storms": sum(tags.column("storm").to_pylist()),
        "hijacks": sum(tags.column("hijack").to_pylist()),
        "suspended": len(susp or []),
        "suspended_inferred": suspended is None,
        "reincarnations": reinc.num_rows,
        "campaigns_summarised": camp.num_rows,
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "account_signals": out / "account_signals.csv",
            "hashtags": out / "hashtags.csv",
            "reincarnations": out / "reincarnations.csv",
        }
        _write_csv(acct, files["account_signals"])
        _write_csv(tags, files["hashtags"], HASHTAG_CSV_COLUMNS)
        _write_csv(reinc, files["reincarnations"], REINCARNATION_CSV_COLUMNS)
        if camp.num_rows:
            files["campaign_automation"] = out / "campaign_automation.csv"
            _write_csv(camp, files["campaign_automation"])
        counts["files"] = {k: str(v) for k, v in files.items()}
    progress.info(
        f"signals: {counts['flagged_accounts']} accounts with flags, {counts['storms']} storms, "
        f"{counts['hijacks']} hijacks, {counts['reincarnations']} re-creation candidates"
    )
    return counts
