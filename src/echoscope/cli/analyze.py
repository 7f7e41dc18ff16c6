"""``echoscope analyze``: the main job, one command from raw files to an answer."""

from __future__ import annotations

import json

import click

from echoscope.cli._common import quiet_option, workspace_option
from echoscope.engines.options import engine_options
from echoscope.errors import ParameterError

__all__ = ["command", "parse_windows"]


def parse_windows(values: tuple[str, ...]) -> tuple[tuple[float, ...], bool]:
    """``--window`` values -> (windows in seconds, auto).

    Nothing -> ((), False): the detector's default scales. ``auto`` -> ((), True).
    ``--window 60 --window 3600`` or ``60,3600`` -> ((60.0, 3600.0), False).
    """
    items = [v.strip() for value in values for v in value.split(",") if v.strip()]
    if not items:
        return (), False
    if items == ["auto"]:
        return (), True
    if "auto" in items:
        raise ParameterError("--window auto cannot be combined with windows in seconds.")
    out = []
    for item in items:
        try:
            w = float(item)
        except ValueError:
            raise ParameterError(
                f"--window {item!r} is not 'auto' or a number of seconds (e.g. 60)."
            ) from None
        if not w > 0:
            raise ParameterError(f"--window {item}: a window must be a positive number of "
                                 "seconds.")
        out.append(w)
    return tuple(sorted(set(out))), False


def window_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--window", "windows", multiple=True, metavar="auto|SECONDS",
        help="Co-action window(s) in seconds, repeatable or comma-separated, or 'auto' "
             "(per type, the scale where co-action most exceeds the null model). "
             "Default: the detector's multi-scale windows (60 s for all types, 3600 s "
             "for rare content).")(f)


@click.command("analyze")
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the results (created if needed).")
@workspace_option(required=False,
                  help="Workspace file (default: OUT/<first input name>.echoscope.duckdb).")
@click.option("--format", "fmt", default=None, metavar="FORMAT",
              help="Force the input format instead of detecting it.")
@click.option("--suspended", type=click.Path(dir_okay=False), default=None,
              help="CSV of suspended accounts (for reincarnation ranking).")
@click.option("--bank", "banks", multiple=True, type=click.Path(dir_okay=False),
              help="Hash bank CSV of known content to match (repeatable).")
@click.option("--media-dir", type=click.Path(file_okay=False), default=None,
              help="Folder with the posts' media files already on disk (never fetched): "
                   "near-duplicate images (PDQ) share one media key, so re-uploads of one "
                   "picture co-act; also used for bank matching and the report.")
@window_option
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="False-discovery rate for co-action edges.")
@click.option("--min-size", type=int, default=3, show_default=True,
              help="Smallest campaign reported (2 also reports strongly tied pairs).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of every random step (null model, Leiden).")
@click.option("--sample", is_flag=True, help="Analyse the bundled sample data.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@engine_options
@quiet_option
def command(inputs: tuple[str, ...], out_dir: str, workspace: str | None, fmt: str | None,
            suspended: str | None, banks: tuple[str, ...], media_dir: str | None,
            windows: tuple[str, ...], alpha: float, min_size: int, seed: int, sample: bool,
            as_json: bool, engine: str, spark_master: str | None) -> None:
    """Find coordinated campaigns in INPUT files: ingest, actions, co-action networks,
    campaigns, signals, report, in one command.

    Writes OUT/accounts.csv (flagged accounts), campaigns.csv, evidence.csv, edges.csv and
    .parquet, network.gexf (Gephi), report.html and run.json (parameters, input hashes,
    versions, timings).

    \b
    Examples:
      echoscope analyze tweets.jsonl.gz --out case1
      echoscope analyze a.jsonl b.csv --out case1 --window 60 --window 3600 --alpha 0.01
      echoscope analyze --sample --out demo-out
      echoscope analyze tweets.jsonl --out case1 --media-dir media/
      echoscope analyze tweets.jsonl --out case1 --engine spark --spark-master local[4]
    """
    from echoscope.cluster import ClusterParams
    from echoscope.pipeline import AnalyzeParams, analyze

    wins, auto = parse_windows(windows)
    params = AnalyzeParams(windows=wins, auto_window=auto, alpha=alpha, seed=seed,
                           cluster=ClusterParams(min_size=min_size))
    result = analyze(list(inputs), out_dir, workspace=workspace, format=fmt,
                     suspended=suspended, banks=banks, media_dir=media_dir, params=params,
                     sample=sample, engine=engine, spark_master=spark_master)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    c = result.counts
    click.echo(f"{c.get('campaigns', 0):,} campaign(s); {c.get('flagged_accounts', 0):,} of "
               f"{c.get('accounts', 0):,} accounts flagged; {c.get('edges', 0):,} edges.")
    missing = [k for k, v in result.stages.items() if v.get("status") == "missing"]
    if missing:
        click.echo(f"Stages not available in this build: {', '.join(missing)} "
                   "(see run.json).")
    click.echo(f"Results: {result.out_dir}")
    click.echo(f"Workspace: {result.workspace}")
    if result.report is not None:
        click.echo(f"Report: {result.report}")
