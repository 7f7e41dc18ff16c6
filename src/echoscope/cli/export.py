"""``echoscope export``."""

from __future__ import annotations

import click

from echoscope.cli._common import quiet_option, workspace_option


@click.command("export")
@workspace_option()
@click.option("--format", "fmt", required=True,
              type=click.Choice(["gexf", "graphml", "csv", "parquet", "json"]),
              help="gexf/graphml: the account network (one file); csv/parquet/json: tables "
                   "(a folder, one file per table; json is JSON Lines).")
@click.option("-o", "--output", "output", required=True, type=click.Path(),
              help="Output file (networks) or folder (tables).")
@click.option("--table", "tables", multiple=True, metavar="NAME",
              help="Table to export (repeatable; default: all result tables, not actions).")
@click.option("--min-weight", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Networks: keep edges with at least this weight.")
@click.option("--max-edges", type=click.IntRange(0), default=0, show_default=True,
              help="Networks: keep only the N strongest edges (0 = all).")
@click.option("--no-formula-guard", is_flag=True,
              help="CSV: do not prefix cells starting with = + - @ with a quote "
                   "(the guard stops spreadsheets running data as formulas).")
@quiet_option
def command(workspace: str, fmt: str, output: str, tables: tuple[str, ...], min_weight: float,
            max_edges: int, no_formula_guard: bool) -> None:
    """Export the account network for Gephi, or tables for pandas/polars/spreadsheets.

    Prints the files written, one per line.

    \b
    Examples:
      echoscope export -w case.echoscope.duckdb --format gexf -o case.gexf
      echoscope export -w case.echoscope.duckdb --format parquet -o tables/
      echoscope export -w case.echoscope.duckdb --format csv --table campaigns -o out/
    """
    from echoscope import progress
    from echoscope.report.exports import ExportParams, export
    from echoscope.workspace import Workspace

    params = ExportParams(tables=tables, min_weight=min_weight, max_edges=max_edges,
                          csv_formula_guard=not no_formula_guard)
    with Workspace(workspace, create=False, read_only=True) as ws:
        paths = export(ws, fmt, output, params)
    progress.info(f"wrote {len(paths)} file(s)")
    for p in paths:
        click.echo(str(p))
