"""``echoscope match``."""

from __future__ import annotations

import click

from echoscope.cli._common import quiet_option


@click.command("match")
@click.option("--bank", "banks", multiple=True, metavar="BANK",
              help="Bank file (CSV/JSON lines), or with -w also a bank name in the workspace. "
                   "Repeatable. With -w and no --bank: every bank of the workspace.")
@click.option("--hashes", default=None, type=click.Path(dir_okay=False),
              help="Hashes file written by `echoscope hash`.")
@click.option("-w", "--workspace", default=None, type=click.Path(dir_okay=False),
              help="Match the posts (text, URLs, media) of this workspace instead.")
@click.option("--media-dir", default=None, type=click.Path(file_okay=False),
              help="With -w: folder of downloaded media, matched to posts by media id or file "
                   "name (URLs are never fetched).")
@click.option("-o", "--output", default="-", type=click.Path(dir_okay=False, allow_dash=True),
              help="Matches CSV to write (default: stdout).")
@click.option("--radius", default=31, show_default=True, help="PDQ distance of an automatic match.")
@click.option("--review-radius", default=52, show_default=True,
              help="PDQ distances above --radius up to this are reported for review (0: off).")
@click.option("--min-quality", default=50, show_default=True,
              help="PDQ hashes of lower quality are not matched.")
@click.option("--text-threshold", default=0.8, show_default=True,
              help="Jaccard similarity of a near-text match.")
@click.option("--strict", is_flag=True, help="Stop at the first bad bank row (exit 2).")
@quiet_option
def command(banks: tuple[str, ...], hashes: str | None, workspace: str | None,
            media_dir: str | None, output: str, radius: int, review_radius: int,
            min_quality: int, text_threshold: float, strict: bool) -> None:
    """Match hashed files, or a workspace's posts, against known-content banks.

    PDQ within --radius is an automatic match, up to --review-radius a match to review;
    MD5, exact text and URLs match exactly; near text by MinHash Jaccard.

    \b
    Example:
      echoscope match --bank known.csv --hashes hashes.csv -o matches.csv
      echoscope match --bank known.csv -w case.echoscope.duckdb --media-dir media/
    """
    import io

    import pyarrow.csv as pacsv

    from echoscope.bank import MatchParams, match_hash_file, match_workspace
    from echoscope.errors import ParameterError
    from echoscope.workspace import Workspace

    if (hashes is None) == (workspace is None):
        raise ParameterError("give exactly one of --hashes FILE or --workspace WS.")
    if media_dir and workspace is None:
        raise ParameterError("--media-dir needs --workspace (hash files with `echoscope hash`).")
    params = MatchParams(pdq_radius=radius, review_radius=review_radius,
                         min_quality=min_quality, text_threshold=text_threshold)
    if hashes is not None:
        matches, problems = match_hash_file(hashes, list(banks), params, strict=strict)
        for msg in problems[:10]:
            click.echo(f"Warning: bad bank row skipped: {msg}", err=True)
        if len(problems) > 10:
            click.echo(f"Warning: {len(problems) - 10} more bad bank rows skipped.", err=True)
    else:
        assert workspace is not None
        with Workspace(workspace) as ws:
            matches = match_workspace(ws, list(banks), media_dir, params)
    if output == "-":
        buf = io.BytesIO()
        pacsv.write_csv(matches, buf)
        click.echo(buf.getvalue().decode("utf-8"), nl=False)
    else:
        pacsv.write_csv(matches, output)
    kinds = matches.column("match_kind").to_pylist()
    click.echo(f"{kinds.count('auto'):,} matches, {kinds.count('review'):,} for review"
               + ("" if output == "-" else f"; written to {output}"), err=True)
