"""Errors, parameters, registry and the public API surface."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import echoscope
from echoscope.errors import (
    EXIT_INTERNAL,
    EXIT_USER,
    EchoscopeError,
    InputError,
    ParameterError,
    RecordError,
    UserError,
    WorkspaceError,
)
from echoscope.params import Params, choice, limit
from echoscope.registry import Registry


@dataclass(frozen=True)
class _P(Params):
    window: float = field(default=60.0, metadata=limit(0, 86400, "seconds"))
    mode: str = field(default="a", metadata=choice("a", "b"))
    windows: tuple[float, ...] = field(default=(10.0, 60.0), metadata=limit(0, 100))


def test_params_limits_and_dict() -> None:
    p = _P()
    assert p.to_dict() == {"window": 60.0, "mode": "a", "windows": [10.0, 60.0]}
    with pytest.raises(ParameterError, match="window = -1"):
        _P(window=-1)
    with pytest.raises(ParameterError, match="mode"):
        _P(mode="c")
    with pytest.raises(ParameterError, match="windows"):
        _P(windows=(10.0, 1000.0))
    with pytest.raises(ParameterError, match="NaN"):
        _P(window=float("nan"))
    with pytest.raises(ParameterError, match="unknown parameter"):
        _P.from_dict({"windw": 3})
    assert _P.from_dict({"window": 3}).window == 3
    assert p.replace(window=5).window == 5
    with pytest.raises(ParameterError):
        p.replace(window=-5)
    with pytest.raises(AttributeError):
        p.window = 3  # type: ignore[misc]


def test_error_tree_and_exit_codes() -> None:
    for cls in (InputError, ParameterError, WorkspaceError):
        assert issubclass(cls, UserError)
        assert cls.exit_code == EXIT_USER
    assert issubclass(RecordError, InputError)
    assert EchoscopeError.exit_code == EXIT_INTERNAL
    e = RecordError("bad", path="f.jsonl", record=3, reason="truncated")
    assert (e.path, e.record, e.reason) == ("f.jsonl", 3, "truncated")


def test_registry() -> None:
    class A:
        name = "a"

    r: Registry[type[A]] = Registry("thing")
    r.register(A)
    assert r.get("a") is A and "a" in r and len(r) == 1
    with pytest.raises(ParameterError, match="unknown thing 'b'; choose one of: a"):
        r.get("b")

    class A2:
        name = "a"

    with pytest.raises(EchoscopeError, match="twice"):
        r.register(A2)  # type: ignore[arg-type]


def test_public_api_all() -> None:
    for name in echoscope.__all__:
        assert hasattr(echoscope, name), name
    public = {n for n in dir(echoscope) if not n.startswith("_")} - {"annotations"}
    # every public name exported from the package root is listed in __all__
    modules = {n for n in public if type(getattr(echoscope, n)).__name__ == "module"}
    assert public - modules - set(echoscope.__all__) == set()
