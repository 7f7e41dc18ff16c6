"""echoscope: find coordinated amplification campaigns in social-media data.

The library is the product; the ``echoscope`` command is a thin layer over it. Stages
(ingest → actions → detect → cluster → score → report) communicate through the canonical
tables declared in :mod:`echoscope.schema`, stored in a :class:`Workspace` (a DuckDB file).
"""

from __future__ import annotations

__version__ = "0.1.0"

import os as _os
import sys as _sys
import typing as _typing

# numpy's OpenBLAS starts a worker thread per core when numpy is loaded, and each one
# spins (~0.1 s, 2^28 cycles) waiting for work before it sleeps: 0.04-0.1 CPU s of every
# process, and on a busy machine the spinning threads take turns with the real work
# (a co_similar_tweet run on 100k messages: 0.37 -> 0.30 CPU s). Unless numpy is already
# loaded or the variable is set, the workers sleep at once (OpenBLAS's minimum timeout):
# matrix products still use every core, only a wake-up is added to each call.
if "numpy" not in _sys.modules:
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

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
