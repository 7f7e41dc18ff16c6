"""``echoscope info``."""

from __future__ import annotations

import json

import click

from echoscope.cli._common import workspace_option

_CONTROL = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)],
                         "?")


def _safe(v: object) -> str:
    """Text from the data, with terminal control characters (ANSI escapes) neutralised."""
    return str(v).translate(_CONTROL)


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
        click.echo(f"  {_safe(r['platform'])}: {r['posts']:,} posts by {r['accounts']:,} "
                   "accounts")
    click.echo("  kinds: " + ", ".join(f"{_safe(r['kind'])} {r['posts']:,}"
                                       for r in info["by_kind"]))
    for f in info["files"]:
        click.echo(f"  file {_safe(f['path'])} [{f['format']}]: {f['records']:,} records, "
                   f"{f['new_posts']:,} new posts, {f['skipped']:,} not posts, "
                   f"{f['rejects']:,} rejects")
    for r in info["reject_reasons"]:
        click.echo(f"  rejects in {_safe(r['source_file'])}: {r['n']:,} x {_safe(r['reason'])}")
    for k, v in info["tables"].items():
        if v:
            click.echo(f"  {k}: {v:,}")
    for r in info.get("reject_sample", []):
        click.echo(f"  reject {_safe(r['source_file'])}:{r['source_record']}: "
                   f"{_safe(r['reason'])}\n    {r['raw'][:200]!r}")
