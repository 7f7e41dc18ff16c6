"""Parameters as frozen dataclasses whose limits are declared as data.

Every parameter class derives from :class:`Params`. A field's limits live in its metadata
(``field(default=60.0, metadata=limit(0, 7 * 86400, "seconds"))``) and are checked when the
object is built, so a bad value fails at once with a message naming the parameter::

    @dataclass(frozen=True)
    class WindowParams(Params):
        window: float = field(default=60.0, metadata=limit(0, 604800, "seconds"))

    WindowParams(window=-1)   # ParameterError: window = -1 is outside [0, 604800] seconds

``to_dict()`` gives the resolved parameters for the run log and ``run.json``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self

from echoscope.errors import ParameterError

__all__ = ["Params", "choice", "limit"]


def limit(
    lo: float | None = None, hi: float | None = None, unit: str = "", help: str = ""
) -> dict[str, Any]:
    """Field metadata declaring an inclusive numeric range (None = unbounded)."""
    return {"lo": lo, "hi": hi, "unit": unit, "help": help}


def choice(*options: str, help: str = "") -> dict[str, Any]:
    """Field metadata declaring the allowed string values."""
    return {"choices": tuple(options), "help": help}


def _check_number(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    lo, hi, unit = meta.get("lo"), meta.get("hi"), meta.get("unit", "")
    values = value if isinstance(value, tuple | list) else (value,)
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ParameterError(f"{name} must be a number, not {v!r}.")
        if v != v:  # NaN
            raise ParameterError(f"{name} must be a number, not NaN.")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
            raise ParameterError(
                f"{name} = {v!r} is outside its allowed range {rng}{' ' + unit if unit else ''}."
            )


@dataclass(frozen=True)
class Params:
    """Base of all parameter classes: validates declared limits on construction."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            if "choices" in meta:
                vals = value if isinstance(value, tuple | list) else (value,)
                for v in vals:
                    if v not in meta["choices"]:
                        raise ParameterError(
                            f"{f.name} = {v!r} is not one of: {', '.join(meta['choices'])}."
                        )
            elif "lo" in meta or "hi" in meta:
                _check_number(f.name, value, meta)
        self.validate()

    def validate(self) -> None:
        """Hook for cross-field checks; raise ParameterError on failure."""

    def to_dict(self) -> dict[str, Any]:
        """The resolved parameters as plain JSON-serialisable values."""

        def conv(v: Any) -> Any:
            if isinstance(v, Params):
                return v.to_dict()
            if isinstance(v, enum.Enum):
                return v.value
            if isinstance(v, tuple | list):
                return [conv(x) for x in v]
            if isinstance(v, dict):
                return {str(k): conv(x) for k, x in v.items()}
            return v

        return {f.name: conv(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from a mapping, refusing unknown names with a clear message."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(
                f"unknown parameter(s) for {cls.__name__}: {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}."
            )
        return cls(**dict(data))

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """Name, default, limits and help of every field (for docs and --help)."""
        out = []
        for f in fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else None
            if f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            out.append({"name": f.name, "default": default, **dict(f.metadata)})
        return out
