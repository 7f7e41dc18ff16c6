"""Detection: co-action networks from the ``actions`` table.

* :mod:`echoscope.detect.kernel` — the shared sort-and-sweep kernel (numba);
* :mod:`echoscope.detect.coaction` — default mode: multi-scale windows, rarity and activity
  weighting, null model, false-discovery rate (:func:`detect_edges`, :func:`coaction_edges`);
* :mod:`echoscope.detect.null` — the null models and Benjamini-Hochberg;
* :mod:`echoscope.detect.windows` — ``window="auto"`` (:func:`choose_window`);
* :mod:`echoscope.detect.minhash` — near-duplicate text clusters for ``near_text``;
* ``compat_*`` — peer-exact modes;
* :mod:`echoscope.detect.base` — the :class:`Detector` contract and the ``DETECTORS``
  registry (built-ins register like plugins).

The names below are imported on first use, so importing a submodule (e.g. the
peer-exact ``compat_cnt``) does not pay for numba and scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from echoscope.detect.base import DETECTORS, Detector, DetectorBase
    from echoscope.detect.coaction import (
        CoactionDetector,
        DetectParams,
        coaction_edges,
        detect_edges,
    )

__all__ = [
    "DETECTORS",
    "CoactionDetector",
    "DetectParams",
    "Detector",
    "DetectorBase",
    "coaction_edges",
    "detect_edges",
]

_BASE = ("Detector", "DetectorBase")


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # DETECTORS comes with the built-in detectors registered (importing coaction does it)
    coaction = importlib.import_module("echoscope.detect.coaction")
    mod = importlib.import_module("echoscope.detect.base") if name in _BASE else coaction
    value = getattr(mod, "DETECTORS" if name == "DETECTORS" else name)
    globals()[name] = value
    return value
