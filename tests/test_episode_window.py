"""The episode window: rare episode keys (default: domains) co-acted on within hours."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.detect import DetectParams, coaction_edges
from echoscope.detect.coaction import layer_plan
from echoscope.errors import ParameterError
from test_detect_conformance import actions, edge_set

H = 3600
EP = dict(episode_types=("hashtag", "domain"), episode_window=12.0 * H,
          episode_window_types=("domain",))
NONE = dict(null="none", **EP)


def test_layer_plan_known_answers():
    p = DetectParams(**EP)
    assert layer_plan(p, "domain", 60.0) == [(60.0, False), (12.0 * H, True)]
    assert layer_plan(p, "url", 60.0) == [(60.0, False), (3600.0, True)]
    assert layer_plan(p, "hashtag", 60.0) == [(60.0, False)]
    # off, or not larger than the type's first (e.g. auto-chosen) window
    assert layer_plan(p.replace(episode_window=0.0), "domain", 60.0) == [(60.0, False)]
    assert layer_plan(p, "domain", 13.0 * H) == [(13.0 * H, False)]
    # a type in both lists gets the episode window once, after its wide windows
    q = p.replace(episode_window=3600.0, episode_window_types=("url",))
    assert layer_plan(q, "url", 60.0) == [(60.0, False), (3600.0, True)]
    q = p.replace(episode_window_types=("url", "hashtag"))
    assert layer_plan(q, "url", 60.0) == [(60.0, False), (3600.0, True), (12.0 * H, True)]
    assert layer_plan(q, "hashtag", 60.0) == [(60.0, False), (12.0 * H, True)]


def _hijack_like() -> list[tuple[str, float, str, str]]:
    """Three accounts link one rare domain in two episodes two days apart, hours apart
    within each episode (never within 60 s or 1 h of each other)."""
    rows = []
    for day in (0, 2):
        t0 = day * 86400
        for i, a in enumerate(("a", "b", "c")):
            rows.append((a, t0 + i * 2 * H, "domain", "rare.example"))
    return rows


def test_rare_domain_in_two_episodes_is_two_keys_within_the_episode_window():
    acts = actions(_hijack_like())
    e = coaction_edges(acts, DetectParams(**NONE))
    assert edge_set(e) == {(a, b, "domain", 12.0 * H)
                           for a, b in (("a", "b"), ("a", "c"), ("b", "c"))}
    assert set(e["n_keys"].to_pylist()) == {2}  # one key per episode
    # without the window, or without episodes (one key), no edge
    assert coaction_edges(acts, DetectParams(**{**NONE, "episode_window": 0.0})).num_rows == 0
    assert coaction_edges(acts, DetectParams(**{**NONE, "episode_types": ("hashtag",)})
                          ).num_rows == 0
    # 5 h apart: inside 12 h only
    assert ("a", "c", "domain", 12.0 * H) in edge_set(e)


def test_episode_window_only_for_rare_keys():
    rows = _hijack_like()
    # a crowd makes the domain's episodes popular (more accounts than wide_max_accounts)
    rows += [(f"z{i}", day * 86400 + 600 * i, "domain", "rare.example")
             for day in (0, 2) for i in range(5)]
    e = coaction_edges(actions(rows), DetectParams(wide_max_accounts=5, **NONE))
    assert not [x for x in edge_set(e) if x[3] == 12.0 * H]


def test_episode_window_layer_has_a_null_and_fdr():
    """With the configuration null the episode layer's edges carry p- and q-values and
    enter the FDR family like every layer."""
    stats: dict = {}
    e = coaction_edges(actions(_hijack_like()), DetectParams(alpha=1.0, **EP), stats=stats)
    assert stats["windows"]["domain"] == [60.0, 12.0 * H]
    ep = [r for r in e.to_pylist() if r["window"] == 12.0 * H]
    assert ep and all(0.0 <= r["p_value"] <= 1.0 and r["q_value"] >= r["p_value"]
                      for r in ep)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 4 * 86400),
                          st.sampled_from(["domain", "url"]), st.sampled_from("xyz")),
                min_size=2, max_size=40),
       st.floats(2 * H, 24 * H))
def test_row_order_and_window_monotone(rows, ew):
    """Results do not depend on row order, and a larger episode window never removes an
    episode-layer edge's key (co-action within W is co-action within any W' > W)."""
    acts = actions(rows)
    p = DetectParams(**{**NONE, "episode_window": ew})
    e1 = coaction_edges(acts, p)
    rev = acts.take(pa.array(list(range(acts.num_rows))[::-1]))
    assert edge_set(e1) == edge_set(coaction_edges(rev, p))
    small = {(r["account_a"], r["account_b"], r["type"]): r["n_keys"]
             for r in e1.to_pylist() if r["window"] == ew}
    big = {(r["account_a"], r["account_b"], r["type"]): r["n_keys"]
           for r in coaction_edges(acts, p.replace(episode_window=ew + H)).to_pylist()
           if r["window"] == ew + H}
    for k, n in small.items():
        assert big.get(k, 0) >= n


def test_defaults_and_params_recorded():
    d = DetectParams().to_dict()
    assert d["episode_window"] == 6 * H
    assert list(d["event_types"]) == ["hashtag", "url", "domain", "mention", "media"]
    assert list(d["episode_window_types"]) == ["hashtag"]
    assert list(d["episode_types"]) == ["hashtag"]
    assert layer_plan(DetectParams(), "domain", 60.0) == [(60.0, False)]
    assert layer_plan(DetectParams(), "hashtag", 60.0) == [(60.0, False), (6.0 * H, True)]
    assert layer_plan(DetectParams(), "mention", 60.0) == [(60.0, False)]
    with pytest.raises(ParameterError, match="episode_window"):
        DetectParams(episode_window=-1.0)
    with pytest.raises(ParameterError, match="episode_window_types"):
        DetectParams(episode_window_types=("nonsense",))
