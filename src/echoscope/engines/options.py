"""The ``--engine`` / ``--spark-master`` CLI options shared by analyze, network, detect."""

from __future__ import annotations

import click

from echoscope.engines import ENGINES

__all__ = ["engine_options"]


def engine_options(f: click.decorators.FC) -> click.decorators.FC:
    """Add ``--engine`` (duckdb|spark) and ``--spark-master URL`` to a command."""
    f = click.option(
        "--spark-master", default=None, metavar="URL",
        help="--engine spark: Spark master URL (default local[*]; under spark-submit the "
             "active session is used).")(f)
    return click.option(
        "--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
        help="Where actions and co-action edges are computed: duckdb (embedded) or spark "
             "(identical results; see docs/spark.md).")(f)
