"""The pair-computation hook of the peer-compatible modes (no heavy imports).

``--compat cnt`` and ``--compat coortweet`` find their co-occurring pairs with one
sort-and-sweep (:mod:`echoscope.detect.compat_cnt`, :mod:`echoscope.detect.compat_coortweet`).
When :data:`PAIR_SWEEP` holds a function, they call it instead:
``sweep(key, t_us, acct, w_us) -> (i, j)``, every pair of rows (indices into the inputs)
with the same key, different accounts and ``|t_us[i] - t_us[j]| <= w_us``, each unordered
pair once, in the order of :func:`echoscope.detect.kernel.sweep_pairs` (by the rank of
``i``, then of ``j``, in the stable (key, time, account) order, ``i`` ranked first).
:func:`echoscope.engines.compat.pairs_on` sets it for the Spark engine.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

import numpy as np
import numpy.typing as npt

__all__ = ["PAIR_SWEEP", "PairSweep"]

I64 = npt.NDArray[np.int64]

PairSweep = Callable[[I64, I64, npt.NDArray[np.integer], int], tuple[I64, I64]]

#: the active pair computation of the compat modes (None: the built-in sweep)
PAIR_SWEEP: ContextVar[PairSweep | None] = ContextVar("echoscope_pair_sweep", default=None)
