"""``window="auto"``: the time scale of synchronised co-action, read from the data."""

from __future__ import annotations

import numpy as np

from echoscope.detect._util import I32, I64, US
from echoscope.detect.kernel import count_pairs, sort_actions

__all__ = ["AUTO_CANDIDATES", "choose_window"]

#: candidate windows for ``window="auto"`` (seconds, log-spaced 10 s .. 24 h)
AUTO_CANDIDATES: tuple[float, ...] = (10.0, 30.0, 60.0, 180.0, 600.0, 1800.0, 3600.0,
                                      3 * 3600.0, 6 * 3600.0, 86400.0)


def choose_window(key: I64, t: I64, acct: I32,
                  candidates: tuple[float, ...] = AUTO_CANDIDATES, *,
                  max_pairs: int = 200_000_000, seed: int = 0,
                  default: float = 60.0) -> tuple[float, list[dict[str, float]]]:
    """The co-action time scale of one action type, and the curve it was read from.

    For each candidate ``W``, ``observed(W)`` is the number of co-acting action pairs and
    ``expected(W) = S · min(1, (2W + 1µs) / T)`` what random circular shifts of every
    account's timeline would give (``S``: pairs of different accounts' actions on the same
    key at any time; ``T``: the time span). Their ratio ``r(W)`` is flat and high below
    the time scale of synchronised activity and falls towards the background level (daily
    rhythm, measured at the largest candidate) above it. The chosen window is the largest
    candidate, scanning upwards from the smallest with at least 10 observed pairs, whose
    excess ``r(W) - r_background`` is still at least half the excess at the start. When the
    start is less than twice the background (no synchrony to speak of) ``default`` is
    returned. Keys are sampled (seeded, uniformly) when ``S`` exceeds ``max_pairs``, which
    scales observed and expected alike.
    """
    cands = tuple(sorted({float(c) for c in candidates}))
    curve: list[dict[str, float]] = []
    if key.size < 2:
        return default, curve
    uniq, per_key = np.unique(key, return_counts=True)
    m = int(acct.max()) + 1
    s_all = float((per_key.astype(np.float64) ** 2).sum()) / 2.0
    if s_all > max_pairs:
        rng = np.random.default_rng(seed)
        chosen = uniq[rng.random(uniq.size) < max_pairs / s_all]
        sel = np.isin(key, chosen)
        key, t, acct = key[sel], t[sel], acct[sel]
        if key.size < 2:
            return default, curve
        _, per_key = np.unique(key, return_counts=True)
    order = sort_actions(key, t, acct)
    key, t, acct = key[order], t[order], acct[order]
    _, per_ak = np.unique(key * m + acct.astype(np.int64), return_counts=True)
    s_total = (float((per_key.astype(np.float64) ** 2).sum())
               - float((per_ak.astype(np.float64) ** 2).sum())) / 2.0
    span = float(t.max() - t.min()) + 1.0
    for c in cands:
        w = round(c * US)
        obs = float(count_pairs(key, t, acct, w))
        exp = s_total * min(1.0, (2.0 * w + 1.0) / span)
        curve.append({"window": c, "observed": obs, "expected": exp,
                      "ratio": obs / exp if exp > 0 else 0.0})
    return read_curve(curve, default), curve


def read_curve(curve: list[dict[str, float]], default: float) -> float:
    """The window a co-action curve points to (the reading rule of :func:`choose_window`).

    Scanning upwards from the smallest candidate with at least 10 observed pairs, the
    largest window whose excess ``r(W) - r_background`` is still at least half the excess
    at the start; ``default`` when there is no start or it is under twice the background.
    Both engines read their curves with this one function.
    """
    start = next((i for i, x in enumerate(curve) if x["observed"] >= 10), None)
    if start is None:
        return default
    base = curve[-1]["ratio"]
    top = curve[start]["ratio"]
    if top < 2.0 * base or top <= 0:
        return default
    target = base + 0.5 * (top - base)
    chosen_w = curve[start]["window"]
    for x in curve[start + 1:]:
        if x["ratio"] < target:
            break
        chosen_w = x["window"]
    return chosen_w
