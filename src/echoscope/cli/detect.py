"""``echoscope detect``: re-run actions, co-action detection and campaigns on a workspace."""

from __future__ import annotations

import json

import click

from echoscope.cli._common import quiet_option, workspace_option
from echoscope.cli.analyze import parse_windows, window_option
from echoscope.engines.options import engine_options

__all__ = ["command"]


@click.command("detect")
@workspace_option()
@window_option
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="False-discovery rate for co-action edges.")
@click.option("--min-size", type=int, default=3, show_default=True,
              help="Smallest campaign reported.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of every random step.")
@click.option("--json", "as_json", is_flag=True, help="Print the stages record as JSON.")
@engine_options
@quiet_option
def command(workspace: str, windows: tuple[str, ...], alpha: float, min_size: int, seed: int,
            as_json: bool, engine: str, spark_master: str | None) -> None:
    """Re-run actions, co-action networks and campaigns on an ingested workspace.

    Replaces the actions, edges and campaign tables; use it to try other windows or a
    stricter false-discovery rate without ingesting again.

    \b
    Example:
      echoscope detect -w case.echoscope.duckdb --window 60 --window 3600 --alpha 0.01
      echoscope detect -w case.echoscope.duckdb --engine spark --spark-master local[2]
    """
    from echoscope.cluster import ClusterParams
    from echoscope.pipeline import AnalyzeParams, detect

    wins, auto = parse_windows(windows)
    params = AnalyzeParams(windows=wins, auto_window=auto, alpha=alpha, seed=seed,
                           cluster=ClusterParams(min_size=min_size))
    stages = detect(workspace, params, engine=engine, spark_master=spark_master)
    if as_json:
        click.echo(json.dumps(stages, indent=2, default=str))
        return
    for name, info in stages.items():
        status = info.get("status")
        detail = f" ({info['note']})" if "note" in info else ""
        click.echo(f"{name}: {status}{detail}")
    cl = stages.get("cluster", {})
    click.echo(f"{cl.get('campaigns', 0):,} campaign(s), {cl.get('members', 0):,} accounts "
               f"flagged, from {cl.get('tie_edges', 0):,} tie edges "
               f"({cl.get('clusters_tested', 0):,} clusters tested).")
