"""``echoscope evaluate``."""

from __future__ import annotations

import json
from typing import Any

import click


def _f(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def render(report: dict[str, Any]) -> None:
    """Print the report as rich tables on stdout (all strings escaped)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console(highlight=False)
    if not con.is_terminal:
        con = Console(highlight=False, width=120)
    a = report["accounts"]
    t = Table(title="Accounts (flagged vs campaign members)")
    for col in ("precision", "recall", "F1", "organic FPR", "bot FPR", "TP", "FP", "FN",
                "members", "flagged"):
        t.add_column(col, justify="right")
    t.add_row(_f(a["precision"]), _f(a["recall"]), _f(a["f1"]), _f(a["organic_fpr"]),
              _f(a["benign_automation_fpr"]), _f(a["tp"]), _f(a["fp"]), _f(a["fn"]),
              _f(a["campaign_members"]), _f(a["flagged"]))
    con.print(t)
    t = Table(title="Recall per campaign")
    for col in ("campaign", "style", "members", "flagged", "recall", "low-part. recall",
                "groups"):
        t.add_column(col, justify="left" if col in ("campaign", "style") else "right")
    for c in report["campaigns"]:
        t.add_row(escape(c["name"]), escape(str(c["style"])), _f(c["members"]),
                  _f(c["flagged"]), _f(c["recall"]), _f(c["low_participation_recall"]),
                  _f(c["predicted_groups"]))
    con.print(t)
    t = Table(title="False positives among hard negatives")
    for col in ("kind", "accounts", "flagged", "rate"):
        t.add_column(col, justify="left" if col == "kind" else "right")
    for kind, h in report["hard_negatives"].items():
        t.add_row(escape(kind), _f(h["accounts"]), _f(h["flagged"]), _f(h["rate"]))
    con.print(t)
    g = report["group_agreement"]
    t = Table(title="Other scores")
    for col in ("score", "precision", "recall", "F1", "detail"):
        t.add_column(col, justify="left" if col in ("score", "detail") else "right")
    t.add_row("group agreement (ARI)", "", "", "", f"{_f(g['ari'])} over {g['accounts']} accounts")
    r = report.get("reincarnations")
    if r is None:
        t.add_row("re-creation pairs", "", "", "", "no reincarnations.csv")
    else:
        t.add_row("re-creation pairs", _f(r["precision"]), _f(r["recall"]), _f(r["f1"]),
                  f"{r['pairs_predicted']} predicted, {r['pairs_true']} true")
    h = report.get("hashtags")
    if h is None:
        t.add_row("hashtag storms / hijacks", "", "", "", "no hashtags.csv")
    else:
        for flag in ("storm", "hijack"):
            x = h[flag]
            t.add_row(f"hashtag {flag}", _f(x["precision"]), _f(x["recall"]), _f(x["f1"]), "")
        o = h["organic_trending_flagged"]
        t.add_row("organic trending flagged", "", "", "", f"{o['flagged']} of {o['hashtags']}")
    con.print(t)


@click.command("evaluate")
@click.option("--truth", "truth", required=True, type=click.Path(),
              help="truth.json written by `echoscope simulate` (or its folder).")
@click.option("--results", "results", required=True, type=click.Path(file_okay=False),
              help="Output folder of `echoscope analyze` (accounts.csv, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def command(truth: str, results: str, as_json: bool) -> None:
    """Score analyze results against simulated ground truth.

    Precision, recall, F1 and organic false-positive rate of flagged accounts; recall per
    campaign; false positives among each kind of hard negative; group agreement (adjusted
    Rand index); re-creation pairs and hashtag storm/hijack flags when those files exist.

    \b
    Example:
      echoscope simulate --out sim --posts 100000 --seed 1
      echoscope analyze sim/tweets.jsonl --suspended sim/suspended.csv --out res
      echoscope evaluate --truth sim/truth.json --results res
    """
    from echoscope.simulate import evaluate

    report = evaluate(truth, results)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    render(report)
