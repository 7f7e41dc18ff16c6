"""Progress reporting on stderr (rich), silenced with ``--quiet``.

Library code calls :func:`task` / :func:`track`; whether anything is drawn is decided once
by the caller (the CLI sets it from ``--quiet``; library users get no bars by default).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["Task", "console", "enabled", "info", "set_enabled", "task", "track"]

T = TypeVar("T")
_enabled: ContextVar[bool] = ContextVar("echoscope_progress", default=False)
console = Console(stderr=True, highlight=False)


def set_enabled(on: bool) -> None:
    """Turn progress bars and status lines on (CLI default) or off (``--quiet``)."""
    _enabled.set(on)


def enabled() -> bool:
    return _enabled.get()


def info(message: str) -> None:
    """A status line on stderr, unless quiet. Data never goes here."""
    if _enabled.get():
        console.print(message, markup=False, soft_wrap=True)


class Task:
    """Handle of a running progress task; ``advance(n)`` moves it."""

    def __init__(self, progress: Progress | None, task_id: int | None) -> None:
        self._p = progress
        self._id = task_id

    def advance(self, n: float = 1) -> None:
        if self._p is not None and self._id is not None:
            self._p.advance(self._id, n)  # type: ignore[arg-type]

    def update(self, *, total: float | None = None, description: str | None = None) -> None:
        if self._p is not None and self._id is not None:
            self._p.update(self._id, total=total, description=description)  # type: ignore[arg-type]


@contextlib.contextmanager
def task(description: str, total: float | None = None) -> Iterator[Task]:
    """A progress bar for one stage (a spinner when ``total`` is unknown)."""
    if not _enabled.get() or not sys.stderr:
        yield Task(None, None)
        return
    columns = [
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as p:
        tid = p.add_task(description, total=total)
        yield Task(p, tid)  # type: ignore[arg-type]


def track(items: Iterable[T], description: str, total: float | None = None) -> Iterator[T]:
    """Iterate with a progress bar."""
    with task(description, total) as t:
        for item in items:
            yield item
            t.advance()
