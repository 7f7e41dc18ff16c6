"""The exceptions echoscope raises, and the exit codes the CLI maps them to.

Exception tree::

    EchoscopeError                 exit 1  (a bug or an environment problem)
    ├── UserError                  exit 2  (something the user can fix)
    │   ├── InputError             a file is missing, unreadable, of unknown type, or bad
    │   │   └── RecordError        one record is bad and ``--strict`` was asked for
    │   ├── ParameterError         a parameter is out of its declared limits
    │   └── WorkspaceError         the workspace is missing, locked or of another schema
    └── EngineError                exit 1  (DuckDB/Spark failed underneath us)

``KeyboardInterrupt`` is turned into exit 130 without a traceback by the CLI.

Every message is one or two plain sentences that name the file, record or parameter and
say what to do about it.
"""

from __future__ import annotations

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USER",
    "EchoscopeError",
    "EngineError",
    "InputError",
    "ParameterError",
    "RecordError",
    "UserError",
    "WorkspaceError",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER = 2
EXIT_INTERRUPTED = 130


class EchoscopeError(Exception):
    """Base class of every error echoscope raises on purpose."""

    exit_code = EXIT_INTERNAL


class UserError(EchoscopeError):
    """Something the user can fix: bad input, bad parameters, wrong workspace."""

    exit_code = EXIT_USER


class InputError(UserError):
    """An input file is missing, unreadable, of unknown type, or malformed."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class RecordError(InputError):
    """One record could not be parsed (raised only in strict mode)."""

    def __init__(self, message: str, *, path: str, record: int, reason: str) -> None:
        super().__init__(message, path=path)
        self.record = record
        self.reason = reason


class ParameterError(UserError):
    """A parameter is outside its declared limits or inconsistent with another."""


class WorkspaceError(UserError):
    """The workspace is missing, locked, or written by an incompatible schema version."""


class EngineError(EchoscopeError):
    """The execution engine (DuckDB or Spark) failed underneath us."""
