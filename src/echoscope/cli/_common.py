"""Options shared by several commands (one definition, many commands)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["quiet_option", "workspace_option"]


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    # Progress is off until enabled, so --quiet needs to import nothing (progress loads
    # rich, ~0.05 s of start-up) unless progress is already loaded and may be on.
    if not value or "echoscope.progress" in sys.modules:
        from echoscope import progress

        progress.set_enabled(not value)
    return value


def quiet_option(f: F) -> F:
    """``-q/--quiet``: no progress bars or status lines on stderr."""
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        default=False,
        is_eager=True,
        expose_value=False,
        callback=_set_quiet,
        help="No progress bars or status lines on stderr.",
    )(f)


def workspace_option(required: bool = True, help: str | None = None) -> Callable[[F], F]:
    """``-w/--workspace PATH``: the investigation's DuckDB file."""

    def deco(f: F) -> F:
        return click.option(
            "-w",
            "--workspace",
            "workspace",
            type=click.Path(dir_okay=False),
            required=required,
            help=help or "Workspace file (a DuckDB database, e.g. case.echoscope.duckdb).",
        )(f)

    return deco
