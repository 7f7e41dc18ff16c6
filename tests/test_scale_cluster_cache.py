"""The campaign test's rewired graphs are computed once per set of ties and parameters.

``analyze`` clusters the same ties twice (cluster, then score after signals); the null
maxima are cached, and the cache must never return maxima of other ties or parameters.
"""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest

from echoscope import cluster
from echoscope.cluster import campaign_test, cluster_pairs, combine_pairs


def _pairs(seed: int) -> pa.Table:
    rng = random.Random(seed)
    names = [f"a{i:03d}" for i in range(120)]
    rows: list[dict[str, Any]] = []
    for _ in range(200):
        a, b = sorted(rng.sample(names, 2))
        rows.append({"account_a": a, "account_b": b, "type": "repost", "window": 60.0,
                     "n_keys": 2, "n_pairs": 2, "min_delay": 1.0, "median_delay": 1.0,
                     "weight": rng.uniform(0.2, 1.0), "p_value": 0.01, "q_value": 0.5})
    camp = [f"c{i:02d}" for i in range(10)]
    for i, a in enumerate(camp):
        for b in camp[i + 1:]:
            rows.append({"account_a": a, "account_b": b, "type": "text", "window": 60.0,
                         "n_keys": 3, "n_pairs": 3, "min_delay": 1.0, "median_delay": 1.0,
                         "weight": 1.0, "p_value": 0.01, "q_value": 0.5})
    return combine_pairs(pa.Table.from_pylist(rows))


@pytest.fixture
def leiden_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = cluster._leiden

    def counting(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(cluster, "_leiden", counting)
    monkeypatch.setattr(cluster, "_NULL_CACHE", {})
    return calls


def test_second_test_on_same_ties_reuses_rewirings(leiden_calls: list[int]) -> None:
    pairs = _pairs(1)
    membership = cluster_pairs(pairs, seed=0)
    leiden_calls.clear()
    first = campaign_test(pairs, membership, null_graphs=9, seed=3)
    assert len(leiden_calls) == 9
    # same ties in another row order and chunking: a cache hit, identical answer
    shuffled = pa.concat_tables([pairs.slice(50), pairs.slice(0, 50)])
    again = campaign_test(shuffled, membership, null_graphs=9, seed=3)
    assert len(leiden_calls) == 9
    assert again == first


@pytest.mark.parametrize("change", ["seed", "graphs", "min_size", "weights", "ties"])
def test_cache_misses_on_any_change(leiden_calls: list[int], change: str) -> None:
    pairs = _pairs(2)
    membership = cluster_pairs(pairs, seed=0)
    kw: dict[str, Any] = {"null_graphs": 5, "seed": 0, "min_size": 3}
    campaign_test(pairs, membership, **kw)
    other = pairs
    if change == "seed":
        kw["seed"] = 1
    elif change == "graphs":
        kw["null_graphs"] = 6
    elif change == "min_size":
        kw["min_size"] = 4
    elif change == "weights":
        w = pairs.column("weight").to_pylist()
        w[0] += 0.5
        other = pairs.set_column(pairs.schema.get_field_index("weight"), "weight",
                                 pa.array(w, pa.float64()))
    else:
        other = pairs.slice(1)
    other_membership = cluster_pairs(other, seed=0)
    n = len(leiden_calls)
    res = campaign_test(other, other_membership, **kw)
    assert len(leiden_calls) == n + kw["null_graphs"]
    # and the fresh answer equals a computation with an empty cache
    cluster._NULL_CACHE.clear()
    assert campaign_test(other, other_membership, **kw) == res

