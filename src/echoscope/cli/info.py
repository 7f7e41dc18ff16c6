"""``echoscope info``."""

from __future__ import annotations

import json

import click

from echoscope.cli._common import workspace_option


@click.command("info")
@workspace_option()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--rejects", "n_rejects", type=click.IntRange(0), default=0, metavar="N",
              help="Also show the first N rejected records.")
def command(workspace: str, as_json: bool, n_rejects: int) -> None:
    """Summarise a workspace: counts by platform and kind, time range, files, rejects.

    \b
    Example:
      echoscope info -w case.echoscope.duckdb --json
    """
    from echoscope.info import workspace_info
    from echoscope.workspace import Workspace

    with Workspace(workspace, create=False, read_only=True) as ws:
        info = workspace_info(ws, rejects=n_rejects)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    tr = info["time_range"]
    click.echo(f"workspace {info['workspace']} (schema {info['meta'].get('schema_version')})")
    click.echo(f"  posts {info['posts']:,}  accounts {info['accounts']:,}  "
               f"rejects {info['rejects']:,}")
    click.echo(f"  time range {tr['first']} .. {tr['last']}")
    for r in info["by_platform"]:
        click.echo(f"  {r['platform']}: {r['posts']:,} posts by {r['accounts']:,} accounts")
    click.echo("  kinds: " + ", ".join(f"{r['kind']} {r['posts']:,}" for r in info["by_kind"]))
    for f in info["files"]:
        click.echo(f"  file {f['path']} [{f['format']}]: {f['records']:,} records, "
                   f"{f['new_posts']:,} new posts, {f['rejects']:,} rejects")
    for r in info["reject_reasons"]:
        click.echo(f"  rejects in {r['source_file']}: {r['n']:,} x {r['reason']}")
    for k, v in info["tables"].items():
        if v:
            click.echo(f"  {k}: {v:,}")
    for r in info.get("reject_sample", []):
        click.echo(f"  reject {r['source_file']}:{r['source_record']}: {r['reason']}\n"
                   f"    {r['raw'][:200]!r}")
