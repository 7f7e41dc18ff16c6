"""``echoscope simulate``."""

from __future__ import annotations

import json

import click

from echoscope.cli._common import quiet_option
from echoscope.simulate._params import FORMATS, STYLES


def _styles(value: str | None) -> tuple[str, ...]:
    if not value:
        return STYLES
    if value.strip().lower() == "none":
        return ()
    return tuple(s.strip() for s in value.split(",") if s.strip())


@click.command("simulate")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write posts, truth.json and suspended.csv into.")
@click.option("--posts", type=int, default=10_000, show_default=True,
              help="Number of posts (exact).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed: the same seed gives the same data in every format.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="twitter-v1",
              show_default=True, help="Output format.")
@click.option("--days", type=float, default=14.0, show_default=True, help="Length of the period.")
@click.option("--start", default="2014-06-01", show_default=True, help="First day (UTC).")
@click.option("--accounts", type=int, default=0,
              help="Organic accounts (default: posts/8).")
@click.option("--styles", default=None, metavar="STYLE,...",
              help=f"Campaign styles to inject (default all: {', '.join(STYLES)}; 'none').")
@click.option("--campaigns-per-style", type=int, default=1, show_default=True)
@click.option("--members", type=int, default=0,
              help="Members per campaign (default: from --posts).")
@click.option("--campaign-share", type=float, default=0.08, show_default=True,
              help="Share of posts that are campaign activity.")
@click.option("--hard-negative-share", type=float, default=0.08, show_default=True,
              help="Share of posts in breaking-news cascades, copypasta and share-button posts.")
@click.option("--bot-share", type=float, default=0.02, show_default=True,
              help="Share of posts by benign scheduled bots.")
@click.option("--low-participation", type=float, default=0.25, show_default=True,
              help="Share of members who take part only a little.")
@click.option("--relay-delay", type=float, default=60.0, show_default=True,
              help="app_relay: smallest delay of a copy (seconds).")
@click.option("--relay-spread", type=float, default=600.0, show_default=True,
              help="app_relay: copies are staggered over this many seconds.")
@click.option("--gzip", "gzip_out", is_flag=True, help="Gzip the posts file(s).")
@click.option("--media-dir", type=click.Path(file_okay=False), default=None,
              help="Also write an image file per media item into this folder (synthetic "
                   "pictures; for `analyze --media-dir`; twitter-v1/v2 only).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@quiet_option
def command(out_dir: str, posts: int, seed: int, fmt: str, days: float, start: str,
            accounts: int, styles: str | None, campaigns_per_style: int, members: int,
            campaign_share: float, hard_negative_share: float, bot_share: float,
            low_participation: float, relay_delay: float, relay_spread: float,
            gzip_out: bool, media_dir: str | None, as_json: bool) -> None:
    """Write synthetic posts with known campaigns and hard negatives, plus ground truth.

    Organic traffic (heavy-tailed activity, daily cycles, repost cascades, breaking news,
    copypasta, share buttons, trending hashtags, scheduled bots, look-alike handles) with
    injected campaigns; DIR/truth.json labels every account and DIR/suspended.csv lists
    suspended accounts. Score results with `echoscope evaluate`.

    \b
    Examples:
      echoscope simulate --out sim --posts 100000 --seed 1
      echoscope simulate --out sim-cnt --posts 100000 --seed 1 --format cnt-csv
      echoscope simulate --out sim --posts 50000 --styles app_relay,reincarnation --members 200
      echoscope simulate --out sim --posts 20000 --media-dir sim/media
    """
    from echoscope.simulate import SimParams, simulate

    params = SimParams(
        posts=posts, seed=seed, format=fmt, days=days, start=start, accounts=accounts,
        styles=_styles(styles), campaigns_per_style=campaigns_per_style, members=members,
        campaign_share=campaign_share, hard_negative_share=hard_negative_share,
        bot_share=bot_share, low_participation=low_participation, relay_delay=relay_delay,
        relay_spread=relay_spread, gzip=gzip_out,
    )
    result = simulate(out_dir, params, media_dir=media_dir)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(f"{result.posts:,} posts by {result.accounts:,} accounts in "
               f"{result.seconds:.1f} s ({result.posts_per_second:,.0f} posts/s)")
    for f in result.files:
        click.echo(f"  {f}")
    click.echo(f"  {result.truth_path}")
    click.echo(f"  {result.suspended_path}")
    if result.media_dir is not None:
        click.echo(f"  {result.media_dir}/ ({result.media_files:,} image files)")
