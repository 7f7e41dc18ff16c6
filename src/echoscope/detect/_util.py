"""Array helpers shared by the default-mode detector modules (private)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]

#: microseconds per second (times are integer microseconds inside the detectors)
US = 1_000_000


def encode(arr: pa.ChunkedArray | pa.Array) -> tuple[I64, pa.Array]:
    """Integer codes whose order is the sorted order of the values (row-order free)."""
    enc = pc.dictionary_encode(arr.combine_chunks() if isinstance(arr, pa.ChunkedArray)
                               else arr)
    dictionary = enc.dictionary
    order = pc.array_sort_indices(dictionary).to_numpy().astype(np.int64)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size, dtype=np.int64)
    codes = rank[enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
    return codes, dictionary.take(pa.array(order))


def times_us(col: pa.ChunkedArray | pa.Array) -> I64:
    a = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return np.asarray(pc.cast(a, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def distinct_per(group: I64, other: I64, n_groups: int) -> I64:
    """Number of distinct ``other`` values per ``group`` value."""
    if group.size == 0:
        return np.zeros(n_groups, dtype=np.int64)
    m = int(other.max()) + 1
    c = np.sort(group * m + other)  # sorting beats numpy 2's hash-based unique here
    u = c[np.r_[True, c[1:] != c[:-1]]]
    return np.bincount(u // m, minlength=n_groups).astype(np.int64)
