"""Small helpers shared by the signal modules."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa

from echoscope.workspace import Workspace

__all__ = ["has_rows", "registered", "sql_float"]


def has_rows(ws: Workspace, table: str) -> bool:
    """True when a table exists and has at least one row."""
    exists = ws.scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    )
    return bool(exists) and bool(ws.scalar(f'SELECT count(*) > 0 FROM "{table}"'))


@contextmanager
def registered(ws: Workspace, data: pa.Table, prefix: str = "sig") -> Iterator[str]:
    """Register an Arrow table as a view for the duration of a block; yields its name."""
    name = f"_echoscope_{prefix}_{uuid.uuid4().hex[:8]}"
    ws.con.register(name, data)
    try:
        yield name
    finally:
        ws.con.unregister(name)


def sql_float(x: float) -> str:
    """A float literal for SQL built from validated parameters (never from data)."""
    return repr(float(x))
