"""``echoscope bank import|export|list``."""

from __future__ import annotations

import json
import sys

import click

from echoscope.cli._common import quiet_option, workspace_option


@click.group("bank")
def command() -> None:
    """Known-content banks: named sets of labelled hashes, texts and URLs.

    A bank file is CSV or JSON lines with the columns signal_type (pdq, md5, text_exact,
    text_near, url) and value, and optionally label, source, added_at, item, variant,
    quality. The output of `echoscope hash` is a bank file too.

    \b
    Example:
      echoscope bank import known-media known.csv -w case.echoscope.duckdb
      echoscope bank list -w case.echoscope.duckdb
    """


@command.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False))
@workspace_option()
@click.option("--label", default=None, help="Label for every row (instead of the label column).")
@click.option("--source", default=None, help="Source for rows without one (default: file name).")
@click.option("--strict", is_flag=True, help="Stop at the first bad row (exit 2); write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@quiet_option
def import_command(name: str, file: str, workspace: str, label: str | None,
                   source: str | None, strict: bool, as_json: bool) -> None:
    """Import FILE into the bank NAME (idempotent; bad rows go to rejects).

    \b
    Example:
      echoscope bank import gifct-sample bank.csv -w case.echoscope.duckdb --label propaganda
    """
    from echoscope.bank import import_bank
    from echoscope.workspace import Workspace

    with Workspace(workspace) as ws:
        s = import_bank(ws, name, file, label=label, source=source, strict=strict)
    if as_json:
        click.echo(json.dumps(s.to_dict(), indent=2))
        return
    click.echo(f"bank {s.bank}: {s.added:,} entries added, {s.already_present:,} already "
               f"present, {s.rejects:,} rejected")
    for ex in s.reject_examples:
        click.echo(f"  rejected {ex}", err=True)
    if s.rejects:
        click.echo("  (all rejected rows: `echoscope info --rejects 20 -w WS`)", err=True)


@command.command("export")
@click.argument("name")
@workspace_option()
@click.option("-o", "--output", default="-", type=click.Path(dir_okay=False, allow_dash=True),
              help="CSV, or JSON lines if the name ends in .jsonl (default: CSV on stdout).")
@quiet_option
def export_command(name: str, workspace: str, output: str) -> None:
    """Export the bank NAME.

    \b
    Example:
      echoscope bank export gifct-sample -w case.echoscope.duckdb -o bank.csv
    """
    from echoscope.bank import export_bank
    from echoscope.workspace import Workspace

    with Workspace(workspace, read_only=True) as ws:
        n = export_bank(ws, name, sys.stdout if output == "-" else output)
    click.echo(f"{n:,} entries exported", err=True)


@command.command("list")
@workspace_option()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@quiet_option
def list_command(workspace: str, as_json: bool) -> None:
    """List the banks of a workspace: entries per signal type, labels.

    \b
    Example:
      echoscope bank list -w case.echoscope.duckdb
    """
    from echoscope.bank import list_banks
    from echoscope.workspace import Workspace

    with Workspace(workspace, read_only=True) as ws:
        rows = list_banks(ws).to_pylist()
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        click.echo("no banks (import one with `echoscope bank import NAME FILE -w WS`)")
        return
    for r in rows:
        click.echo(f"{r['bank']}\t{r['signal_type']}\t{r['entries']:,} entries\t"
                   f"{r['items']:,} items\tlabels: {r['labels'] or '-'}")
