"""``echoscope network``."""

from __future__ import annotations

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
@click.option("--type", "net_type", default=None, metavar="TYPE",
              help="Network type. --compat cnt: " + "|".join(_CNT_TYPES) + " (default "
                   "co_retweet). Default mode: co_repost|co_reply|co_quote|co_text|co_near_text|"
                   "co_url|co_domain|co_hashtag|co_hashtag_set|co_media|co_mention.")
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
@click.option("-o", "--output", default="-", type=click.Path(dir_okay=False, allow_dash=True),
              show_default=True, help="Edge list CSV to write (- = stdout).")
@engine_options
@quiet_option
def command(inputs: tuple[str, ...], workspace: str | None, compat: str | None,
            net_type: str | None, window: float | None, min_edge_weight: int,
            similarity_threshold: float, min_document_size: int, min_participation: int,
            edge_weight: float, min_keys: int, alpha: float, null: str, fmt: str | None, platform: str | None,
            output: str, engine: str, spark_master: str | None) -> None:
    """Compute one co-action network from INPUT files (or a workspace) as an edge list CSV.

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
      echoscope network shares.csv --compat coortweet --time-window 60 \\
          --min-participation 2 --edge-weight 0.5 -o edges.csv
      echoscope network tweets.jsonl --type co_url --window 300 -o edges.csv
      echoscope network tweets.jsonl --type co_url --window 300 --engine spark -o edges.csv
    """
    from echoscope.network import network, write_edges_csv
    from echoscope.progress import info

    table = network(list(inputs), type=net_type, compat=compat, window=window,
                    min_edge_weight=min_edge_weight,
                    similarity_threshold=similarity_threshold,
                    min_document_size=min_document_size,
                    min_participation=min_participation, edge_weight=edge_weight,
                    min_keys=min_keys, alpha=alpha, null=null, workspace=workspace, format=fmt, platform=platform,
                    engine=engine, spark_master=spark_master)
    n = write_edges_csv(table, output, quote_all=compat == "cnt")
    if output != "-":
        info(f"{n:,} edges written to {output}")
