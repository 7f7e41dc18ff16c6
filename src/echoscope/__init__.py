"""echoscope: find coordinated amplification campaigns in social-media data.

The library is the product; the ``echoscope`` command is a thin layer over it. Stages
(ingest → actions → detect → cluster → score → report) communicate through the canonical
tables declared in :mod:`echoscope.schema`, stored in a :class:`Workspace` (a DuckDB file).
"""

from __future__ import annotations

__version__ = "0.1.0"

import typing as _typing

from echoscope.errors import (
    EchoscopeError,
    EngineError,
    InputError,
    ParameterError,
    RecordError,
    UserError,
    WorkspaceError,
)

if _typing.TYPE_CHECKING:
    from echoscope.workspace import Workspace

__all__ = [
    "EchoscopeError",
    "EngineError",
    "InputError",
    "ParameterError",
    "RecordError",
    "UserError",
    "Workspace",
    "WorkspaceError",
    "__version__",
]


def __getattr__(name: str) -> _typing.Any:
    # Workspace on first use: importing echoscope (e.g. for `echoscope --help`) does not
    # load DuckDB and Arrow
    if name == "Workspace":
        from echoscope.workspace import Workspace

        globals()["Workspace"] = Workspace
        return Workspace
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
