"""The detector contract and the registry of detectors.

A detector turns an ``actions`` table into an ``edges`` table (both declared in
:mod:`echoscope.schema`). Built-in detectors register themselves exactly as a plugin
would::

    from echoscope.detect import DETECTORS, DetectorBase

    @DETECTORS.register
    class CoHashtagBurst(DetectorBase):
        name = "co_hashtag_burst"
        action_types = ("hashtag",)
        params_class = MyParams

        def _edges(self, actions, params, seed):
            ...   # return an edges table

Every detector is tested by inheriting the shared conformance class in
``tests/test_detect_conformance.py`` (unique name, output schema, ``account_a <
account_b``, determinism per seed, independence from input row order, raising a
threshold never adds edges, a tiny worked example).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import pyarrow as pa

from echoscope import schema
from echoscope.errors import ParameterError
from echoscope.params import Params
from echoscope.registry import Registry

__all__ = ["DETECTORS", "Detector", "DetectorBase"]


@runtime_checkable
class Detector(Protocol):
    """What every detector provides."""

    name: ClassVar[str]
    action_types: ClassVar[tuple[str, ...]]
    params_class: ClassVar[type[Params]]

    def edges(self, actions: pa.Table, params: Params | None = None,
              seed: int = 0) -> pa.Table:
        """Edges (schema ``edges``) of the actions, deterministic for a given seed."""
        ...


class DetectorBase:
    """Convenience base: checks the parameters and the output against the edges schema."""

    name: ClassVar[str] = ""
    action_types: ClassVar[tuple[str, ...]] = ()
    params_class: ClassVar[type[Params]] = Params
    description: ClassVar[str] = ""
    #: the ``##`` heading of docs/methods.md that explains it and its false positives
    doc_section: ClassVar[str] = ""

    def edges(self, actions: pa.Table, params: Params | None = None,
              seed: int = 0) -> pa.Table:
        p = params if params is not None else self.params_class()
        if not isinstance(p, self.params_class):
            raise ParameterError(
                f"detector {self.name!r} takes {self.params_class.__name__}, "
                f"not {type(p).__name__}.")
        actions = schema.check("actions", actions, stage=f"detector {self.name}")
        out = self._edges(actions, p, seed)
        return schema.check("edges", out, stage=f"detector {self.name}")

    def _edges(self, actions: pa.Table, params: Any, seed: int) -> pa.Table:
        raise NotImplementedError


#: Every detector, by name. ``DETECTORS.get(name)()`` gives an instance.
DETECTORS: Registry[type[DetectorBase]] = Registry("detector")
