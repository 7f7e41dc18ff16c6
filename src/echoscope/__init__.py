"""echoscope: find coordinated amplification campaigns in social-media data.

The library is the product; the ``echoscope`` command is a thin layer over it. Stages
(ingest → actions → detect → cluster → score → report) communicate through the canonical
tables declared in :mod:`echoscope.schema`, stored in a :class:`Workspace` (a DuckDB file).
"""

from __future__ import annotations

__version__ = "0.1.0"

from echoscope.errors import (
    EchoscopeError,
    EngineError,
    InputError,
    ParameterError,
    RecordError,
    UserError,
    WorkspaceError,
)
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
