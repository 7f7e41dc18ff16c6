"""Campaign scores: how strong is the evidence that a cluster acts as a network?

A score is a number in [0, 1] combining five components, each itself in [0, 1]:

============  =====  ===============================================================
component     weight  meaning
============  =====  ===============================================================
significance  0.35   mean over the campaign's internal ties of ``min(1, -log10(p)/4)``
                     (p = the smallest p-value of the tie's edges; a tie at p = 1e-4 or
                     below counts fully). Without p-values (no null model was run) the
                     tie's distinct shared keys are used instead: ``1 - exp(-(n_keys-1)/3)``.
density       0.20   internal ties / possible pairs (a clique is 1).
types         0.15   distinct evidence types tying the campaign, ``min(1, n / 3)``: accounts
                     that co-post *and* co-share links *and* co-repost are more clearly a
                     network than accounts with one habit in common.
breadth       0.20   distinct keys shared by two or more members (of the tying types),
                     ``min(1, log1p(n) / log1p(20))``: one shared text is weaker than twenty.
automation    0.10   share of members with at least one flagged behavioural signal in
                     ``account_signals`` (automation, profile), when the signals stage ran;
                     otherwise left out and the other weights rescaled.
============  =====  ===============================================================

The weights are round numbers chosen for interpretability, not fitted to any dataset. The
score ranks campaigns for review; it is not a probability. Whether accounts are flagged does
not depend on it (see :mod:`echoscope.cluster`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["WEIGHTS", "CampaignFeatures", "campaign_score", "tie_significance"]

#: Component weights (sum to 1).
WEIGHTS: dict[str, float] = {
    "significance": 0.35,
    "density": 0.20,
    "types": 0.15,
    "breadth": 0.20,
    "automation": 0.10,
}


@dataclass(frozen=True)
class CampaignFeatures:
    """What the score is computed from (see the module docstring)."""

    significance: float
    """Mean tie significance in [0, 1] (:func:`tie_significance`)."""
    density: float
    n_types: int
    n_shared_keys: int
    automation: float | None = None
    """Mean member automation in [0, 1], or None when no signals were computed."""


def tie_significance(p_value: float | None, n_keys: int) -> float:
    """Strength of one tie in [0, 1]: from its p-value, or from its shared keys without one."""
    if p_value is not None and math.isfinite(p_value):
        q = min(max(p_value, 1e-300), 1.0)
        return min(1.0, -math.log10(q) / 4.0)
    return 1.0 - math.exp(-max(n_keys - 1, 0) / 3.0)


def _clip(x: float) -> float:
    if not math.isfinite(x):
        return 0.0
    return min(1.0, max(0.0, x))


def components(f: CampaignFeatures) -> dict[str, float]:
    """The score's components for one campaign, each in [0, 1] (automation may be absent)."""
    out = {
        "significance": _clip(f.significance),
        "density": _clip(f.density),
        "types": _clip(f.n_types / 3.0),
        "breadth": _clip(math.log1p(max(f.n_shared_keys, 0)) / math.log1p(20)),
    }
    if f.automation is not None and math.isfinite(f.automation):
        out["automation"] = _clip(f.automation)
    return out


def campaign_score(f: CampaignFeatures) -> float:
    """The campaign score in [0, 1]: a weighted mean of :func:`components`.

    >>> campaign_score(CampaignFeatures(1.0, 1.0, 3, 20, 1.0))
    1.0
    >>> campaign_score(CampaignFeatures(0.0, 0.0, 0, 0))
    0.0
    """
    comps = components(f)
    total = sum(WEIGHTS[k] for k in comps)
    return round(sum(WEIGHTS[k] * v for k, v in comps.items()) / total, 6)
