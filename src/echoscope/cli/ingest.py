"""``echoscope ingest``."""

from __future__ import annotations

import json

import click

from echoscope.cli._common import quiet_option, workspace_option
from echoscope.errors import ParameterError


def parse_map(items: tuple[str, ...]) -> dict[str, str]:
    """``--map account_id=user,created_at=time`` (repeatable) -> {canonical: source}."""
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ParameterError(
                    f"--map entry {part!r} is not NAME=COLUMN (e.g. account_id=user)."
                )
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _format_names() -> list[str]:
    from echoscope.ingest import LOADERS

    return LOADERS.names()


@click.command("ingest")
@click.argument("files", nargs=-1, required=True)
@workspace_option()
@click.option("--format", "fmt", default=None, metavar="FORMAT",
              help="Force the input format instead of detecting it (see `echoscope formats`).")
@click.option("--map", "mapping", multiple=True, metavar="NAME=COLUMN,...",
              help="Column mapping for generic CSV/Parquet, e.g. account_id=user,created_at=time.")
@click.option("--platform", default=None, help="Platform name for generic CSV/Parquet input.")
@click.option("--users", "users_file", default=None, type=click.Path(dir_okay=False),
              help="Users file of an X information-operations release.")
@click.option("--strict", is_flag=True, help="Stop at the first bad record (exit 2).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@quiet_option
def command(files: tuple[str, ...], workspace: str, fmt: str | None, mapping: tuple[str, ...],
            platform: str | None, users_file: str | None, strict: bool, as_json: bool) -> None:
    """Read FILES (or - for stdin) into a workspace. Gzip/zstd are read transparently.

    Idempotent: a file ingested before adds nothing; posts already present are not
    duplicated. Records that cannot be parsed go to the rejects table.

    \b
    Example:
      echoscope ingest tweets.jsonl.gz more.jsonl -w case.echoscope.duckdb
    """
    from echoscope.ingest import ingest_files

    summary = ingest_files(list(files), workspace, format=fmt, strict=strict,
                           column_map=parse_map(mapping), platform=platform,
                           users_file=users_file)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    for f in summary.files:
        if f.already_ingested:
            click.echo(f"{f.path}: already ingested, nothing added")
            continue
        skipped = f", {f.skipped:,} not posts" if f.skipped else ""
        click.echo(f"{f.path} [{f.format}]: {f.records:,} records, {f.new_posts:,} new posts"
                   f"{skipped}, {f.rejects:,} rejected")
    click.echo(f"workspace {summary.workspace}: {summary.new_posts:,} new posts, "
               f"{summary.rejects:,} rejects"
               + (" (see `echoscope info --rejects 20 -w WS`)" if summary.rejects else ""))
