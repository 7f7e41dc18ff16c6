"""``echoscope report``."""

from __future__ import annotations

import click

from echoscope.cli._common import quiet_option, workspace_option


@click.command("report")
@workspace_option()
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="HTML file to write (one self-contained file; opens offline).")
@click.option("--title", default="echoscope report", show_default=True, help="Report title.")
@click.option("--media-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Folder of local media files named <media_id or hash>.<jpg|png|gif|webp>; "
                   "matching images are embedded (blurred until clicked). Nothing is fetched.")
@click.option("--max-campaigns", type=click.IntRange(1, 100_000), default=1000,
              show_default=True, help="Campaigns in the ranked list.")
@click.option("--detail", "detail_campaigns", type=click.IntRange(0, 5000), default=200,
              show_default=True, help="Campaigns with a full detail card.")
@click.option("--network-edges", type=click.IntRange(0, 100_000), default=3000,
              show_default=True, help="Strongest edges drawn in the network view (0 = none).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seed of the network layout.")
@quiet_option
def command(workspace: str, output: str, title: str, media_dir: str | None,
            max_campaigns: int, detail_campaigns: int, network_edges: int, seed: int) -> None:
    """Write the HTML report of a workspace: campaigns with evidence, network, methods.

    The file is self-contained (scripts, styles and data inlined; a strict
    Content-Security-Policy forbids any network access) and prints its path.

    \b
    Example:
      echoscope report -w case.echoscope.duckdb -o case/report.html
    """
    from echoscope import progress
    from echoscope.report import ReportParams, write_report
    from echoscope.workspace import Workspace

    params = ReportParams(title=title, media_dir=media_dir, max_campaigns=max_campaigns,
                          detail_campaigns=detail_campaigns, network_max_edges=network_edges,
                          seed=seed)
    with Workspace(workspace, create=False, read_only=True) as ws, \
            progress.task("writing report"):
        path = write_report(ws, output, params)
    progress.info(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    click.echo(str(path))
