"""The popular-key cap and the null model: keys the cap leaves out are out of the null too.

At 10M simulated posts the hashtag storm (hundreds of accounts posting one tag many times
within minutes, on 14 days) made more candidate pairs than the budget (``max_pairs``), so
its largest daily episodes were capped; their co-action still set the rate constant of
their popularity stratum, where it dwarfed everything else, and no pair of the storm crew
was significant (benchmarks/RESULTS.md, "Quality"). A capped key can be in no tested
pair, so the null must not count it either: a capped run equals a run on the input without
the capped keys (p-values, keys, the account test).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from echoscope.detect import DetectParams, coaction_edges
from test_detect import organic, table


def crew_and_burst(seed: int = 0) -> pa.Table:
    """Organic background; a crew of 33 accounts acting on six keys of their own within
    30 s each; one burst key: 60 organic accounts, each acting on it 20 times in a minute
    (about 700,000 co-acting pairs: the crew's keys and the burst share a popularity
    stratum, 32-63 accounts)."""
    rng = np.random.default_rng(seed)
    acc, key, t = organic(n_acc=300, n_keys=3000, n_act=8000, seed=seed)
    ca, ck, ct = [], [], []
    for k in range(6):
        t0 = int(rng.integers(0, 7 * 86400))
        for a in range(33):
            ca.append(90000 + a)
            ck.append(10**6 + k)
            ct.append(t0 + int(rng.integers(0, 30)))
    t0 = int(rng.integers(0, 7 * 86400))
    for a in range(60):
        for _ in range(20):
            ca.append(a)
            ck.append(2 * 10**6)
            ct.append(t0 + int(rng.integers(0, 60)))
    return table(np.r_[acc, ca], np.r_[key, ck], np.r_[t, ct])


def _by_pair(e: pa.Table) -> dict[tuple[str, str], tuple[int, float]]:
    return {(r["account_a"], r["account_b"]): (r["n_keys"], r["p_value"])
            for r in e.to_pylist()}


def test_capped_run_equals_run_without_the_capped_keys():
    acts = crew_and_burst()
    p = DetectParams(types=("repost",), windows=(60.0,), alpha=1.0, max_pairs=50_000)
    st_: dict = {}
    capped = coaction_edges(acts, p, stats=st_)
    layer = st_["layers"][0]
    cap = layer["cap_accounts_per_key"]
    assert layer["capped_keys"] >= 1 and cap < 60  # the burst is capped
    # the same input without every key the cap left out, and no cap
    per_key = acts.group_by("key").aggregate([("account_id", "count_distinct")])
    keep_keys = per_key.filter(pc.less_equal(per_key["account_id_count_distinct"], cap))
    sub = acts.filter(pc.is_in(acts["key"], value_set=keep_keys["key"]))
    st2: dict = {}
    plain = coaction_edges(sub, p.replace(max_pairs=10**9), stats=st2)
    assert st2["layers"][0]["capped_keys"] == 0
    a, b = _by_pair(capped), _by_pair(plain)
    assert a.keys() == b.keys()
    for pair, (nk, pv) in a.items():
        assert nk == b[pair][0]
        assert pv == pytest.approx(b[pair][1], rel=1e-9, abs=1e-300)
    # the account test sees the same null
    acc1 = {r["account_id"]: r["expected"] for r in st_["_accounts"].to_pylist()}
    acc2 = {r["account_id"]: r["expected"] for r in st2["_accounts"].to_pylist()}
    assert acc1.keys() == acc2.keys()
    for k, v in acc1.items():
        assert v == pytest.approx(acc2[k], rel=1e-9)


def test_crew_beside_a_capped_burst_is_significant():
    # before: the capped burst's ~700,000 pairs set the crew's stratum rate (p ~ 1)
    p = DetectParams(types=("repost",), windows=(60.0,), alpha=0.05, max_pairs=50_000)
    e = coaction_edges(crew_and_burst(), p)
    crew = {f"u{90000 + a:05d}" for a in range(33)}
    inside = [r for r in e.to_pylist() if r["account_a"] in crew and r["account_b"] in crew]
    assert len(inside) == 33 * 32 // 2
    assert max(r["p_value"] for r in inside) < 1e-6
