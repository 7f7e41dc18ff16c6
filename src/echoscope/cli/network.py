"""``echoscope network``."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator

import click

from echoscope.cli._common import quiet_option, workspace_option
from echoscope.engines.options import engine_options

_CNT_TYPES = ("co_retweet", "co_tweet", "co_similar_tweet", "co_link", "co_reply", "co_post")


@click.command("network")
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False))
@workspace_option(required=False,
                  help="Read posts from this workspace instead of INPUT files.")
@click.option("--compat", type=click.Choice(["cnt", "coortweet"]), default=None,
              help="Reproduce a peer tool exactly: cnt = coordination-network-toolkit 1.5.2, "
                   "coortweet = CooRTweet 2.1.3.")
@click.option("--type", "net_types", multiple=True, metavar="TYPE",
              help="Network type. --compat cnt: " + "|".join(_CNT_TYPES) + " (default "
                   "co_retweet); several (repeat --type or a comma list) are computed "
                   "together from one read of the input, one CSV each (see -o). Default "
                   "mode: co_repost|co_reply|co_quote|co_text|co_near_text|co_url|"
                   "co_domain|co_hashtag|co_hashtag_set|co_media|co_mention.")
@click.option("--time-window", "--window", "window", type=float, default=None,
              metavar="SECONDS", help="Max |time difference| of two co-actions (inclusive). "
                                      "Required.")
@click.option("--min-edge-weight", type=int, default=2, show_default=True,
              help="--compat cnt: minimum weight of a directed edge.")
@click.option("--similarity-threshold", type=float, default=0.8, show_default=True,
              help="--compat cnt, co_similar_tweet: minimum Jaccard similarity.")
@click.option("--min-document-size", type=int, default=1, show_default=True,
              help="--compat cnt, co_similar_tweet: token sets smaller than this never match.")
@click.option("--min-participation", type=int, default=2, show_default=True,
              help="--compat coortweet: minimum shares of an account.")
@click.option("--edge-weight", type=float, default=0.5, show_default=True,
              help="--compat coortweet: quantile of weights above which weight_threshold = 1.")
@click.option("--min-keys", type=int, default=2, show_default=True,
              help="Default mode: minimum distinct keys per account pair.")
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="Default mode: false-discovery rate of kept edges (1 keeps all).")
@click.option("--null", "null", type=click.Choice(["configuration", "shift", "none"]),
              default="configuration", show_default=True,
              help="Default mode: null model for p-values (see docs/methods.md).")
@click.option("--format", "fmt", default=None, metavar="FORMAT",
              help="Input format instead of detecting it (see `echoscope ingest --help`).")
@click.option("--platform", default=None, help="Platform name for inputs that lack one.")
@click.option("-o", "--output", default="-", type=click.Path(allow_dash=True),
              show_default=True,
              help="Edge list CSV to write (- = stdout). With several --type: a directory "
                   "(created if missing) that gets TYPE.csv for each, or a pattern with "
                   "{type} such as edges_{type}.csv; an existing directory or a {type} "
                   "pattern works for one type too.")
@click.option("--threads", type=click.IntRange(1, 64), default=2, show_default=True,
              help="--compat cnt with several --type: networks computed side by side on "
                   "up to this many threads (a second one only from 4M messages; below "
                   "that it was measured to cost CPU time and save none).")
@engine_options
@quiet_option
def command(inputs: tuple[str, ...], workspace: str | None, compat: str | None,
            net_types: tuple[str, ...], window: float | None, min_edge_weight: int,
            similarity_threshold: float, min_document_size: int, min_participation: int,
            edge_weight: float, min_keys: int, alpha: float, null: str, fmt: str | None, platform: str | None,
            output: str, threads: int, engine: str, spark_master: str | None) -> None:
    """Compute co-action networks from INPUT files (or a workspace) as edge list CSVs.

    With --compat cnt the edges equal coordination-network-toolkit 1.5.2's
    (columns source,target,weight,edge_type; directed). With --compat coortweet they equal
    CooRTweet 2.1.3's detect_groups + generate_coordinated_network (columns from,to,weight,
    avg_time_delta,n_content_id,n_content_id_y,edge_symmetry_score,weight_threshold).
    Without --compat: echoscope's network of one action type with its statistics
    (account_a,account_b,type,window,n_keys,n_pairs,min_delay,median_delay,weight,
    p_value,q_value; see docs/methods.md).

    \b
    Examples:
      echoscope network tweets.csv --compat cnt --type co_retweet --time-window 60 \\
          --min-edge-weight 2 -o edges.csv
      echoscope network tweets.csv --compat cnt --type co_retweet,co_tweet \\
          --type co_link --time-window 60 -o networks/    # networks/co_retweet.csv ...
      echoscope network shares.csv --compat coortweet --time-window 60 \\
          --min-participation 2 --edge-weight 0.5 -o edges.csv
      echoscope network tweets.jsonl --type co_url --window 300 -o edges.csv
      echoscope network tweets.jsonl --type co_url --window 300 --engine spark -o edges.csv
    """
    from echoscope.errors import ParameterError

    local = compat == "cnt" and engine == "duckdb" and spark_master is None
    if local and "numpy" not in sys.modules:
        # The toolkit path never calls BLAS: one OpenBLAS thread instead of one per core
        # saves the threads' start-up (~0.05 CPU s); an explicit setting is kept.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    with _no_cycle_collection(local):
        from echoscope.network import network, networks, parse_types, write_edges_csv

        kinds = parse_types(net_types)
        # the name of the one network when --type is not given (for -o DIR or a pattern)
        default = {"cnt": "co_retweet", "coortweet": "coortweet"}.get(compat or "", "co_repost")
        targets = _targets(kinds or [default], output)
        if compat == "cnt" and targets is not None:
            tables = networks(list(inputs), types=kinds or ["co_retweet"], compat="cnt",
                              window=window, min_edge_weight=min_edge_weight,
                              similarity_threshold=similarity_threshold,
                              min_document_size=min_document_size, workspace=workspace,
                              format=fmt, platform=platform, engine=engine,
                              spark_master=spark_master, threads=threads)
        else:
            if len(kinds) > 1:
                raise ParameterError(
                    "several --type values are computed together only with --compat cnt; "
                    "run one command per type.")
            table = network(list(inputs), type=kinds[0] if kinds else None, compat=compat,
                            window=window, min_edge_weight=min_edge_weight,
                            similarity_threshold=similarity_threshold,
                            min_document_size=min_document_size,
                            min_participation=min_participation, edge_weight=edge_weight,
                            min_keys=min_keys, alpha=alpha, null=null, workspace=workspace,
                            format=fmt, platform=platform, engine=engine,
                            spark_master=spark_master)
            if targets is None:  # one network, one file or stdout
                n = write_edges_csv(table, output, quote_all=compat == "cnt")
                if output != "-":
                    info(f"{n:,} edges written to {output}")
                _done(compat, engine, spark_master)
                return
            tables = {kinds[0] if kinds else default: table}
        paths = _targets(list(tables), output) or {}
        for kind, table in tables.items():
            path = paths[kind]
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            n = write_edges_csv(table, path, quote_all=compat == "cnt")
            info(f"{n:,} {kind} edges written to {path}")
        _done(compat, engine, spark_master)


@contextlib.contextmanager
def _no_cycle_collection(on: bool) -> Iterator[None]:
    """No cyclic garbage collection inside the block when ``on``: loading numpy and
    pyarrow and the vectorised work of the toolkit path make no reference cycles to speak
    of, and the ~60 young collections they set off cost ~0.01 CPU s (3% of a
    co_similar_tweet run on 100k messages). The collector's state comes back after."""
    was = gc.isenabled()
    if on:
        gc.disable()
    try:
        yield
    finally:
        if on and was:
            gc.enable()


def _done(compat: str | None, engine: str, spark_master: str | None) -> None:
    """After a --compat cnt run here (no Spark): its CSVs are written and closed and it
    holds no threads, files or workspace, so the console script may skip the
    interpreter's teardown (``echoscope.cli.FAST_EXIT``; ~0.02 CPU s)."""
    if compat == "cnt" and engine == "duckdb" and spark_master is None:
        import echoscope.cli

        echoscope.cli.FAST_EXIT = True


def info(message: str) -> None:
    """:func:`echoscope.progress.info`; nothing to say (and rich not loaded) when progress
    was never loaded, which means it is off (``--quiet``)."""
    mod = sys.modules.get("echoscope.progress")
    if mod is not None:
        mod.info(message)


def _targets(kinds: list[str], output: str) -> dict[str, str] | None:
    """Output file per network type, or ``None`` for one network written to ``output``
    itself (a file or stdout).

    Several types, an existing directory or a path ending in a separator: ``DIR/TYPE.csv``
    (the name the toolkit's examples use); a path with ``{type}``: the type put in its
    place. Several types to stdout are refused (the CSVs would run together).
    """
    from echoscope.errors import ParameterError

    pattern = "{type}" in output
    is_dir = not pattern and output != "-" and (
        os.path.isdir(output) or output.endswith(("/", os.sep)))
    if len(kinds) <= 1 and not pattern and not is_dir:
        return None
    if output == "-":
        raise ParameterError(
            "several network types need -o DIR (one TYPE.csv each) or -o PATTERN with "
            "{type}, e.g. -o edges_{type}.csv; they cannot all go to stdout.")
    if not pattern and os.path.exists(output) and not os.path.isdir(output):
        raise ParameterError(
            f"-o {output}: several network types need a directory or a pattern with "
            "{type}, and this is an existing file.")
    out: dict[str, str] = {}
    for name in kinds:
        out[name] = (output.replace("{type}", name) if pattern
                     else os.path.join(output, f"{name}.csv"))
    return out
