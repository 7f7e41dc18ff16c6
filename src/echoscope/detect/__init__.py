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
"""

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
