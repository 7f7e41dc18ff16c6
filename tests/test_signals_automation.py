"""Automation signals: known answers, benign-bot confounders, invariants."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.errors import ParameterError
from echoscope.signals import AutomationParams, account_automation, campaign_automation
from echoscope.signals.automation import periodicity
from test_signals_data import at, build, signal


def _world(common_app_for_campaign: bool = False) -> list[dict[str, object]]:
    rnd = random.Random(7)
    posts: list[dict[str, object]] = []
    # a benign weather bot: every hour on the hour for five days, its own app
    for i in range(120):
        posts.append(dict(account_id="wx", created_at=at(i), text=f"forecast {i}",
                          source_app="WeatherBot"))
    # a person: irregular gaps, daytime only
    t = 8.0
    while len(posts) < 160:
        t += rnd.expovariate(1 / 3)
        if 8 <= t % 24 <= 22:
            posts.append(dict(account_id="h1", created_at=at(t), text="hello there"))
    # a campaign of five posting at 20:00 daily with a custom app
    app = "Web App" if common_app_for_campaign else "DawnApp"
    for m in range(5):
        for d in range(5):
            for k in range(3):
                posts.append(dict(account_id=f"m{m}", created_at=at(20, days=d, seconds=60 * k + m),
                                  source_app=app, text="meeting tonight"))
    # ordinary users of the common app
    for u in range(10):
        for _k in range(3):
            posts.append(dict(account_id=f"u{u}", created_at=at(rnd.uniform(0, 100)),
                              source_app="Web App", text="just a post"))
    # a fast reposter with a new account, default handle and few followers
    for k in range(6):
        posts.append(dict(account_id="r1", created_at=at(k, seconds=2), kind="repost",
                          parent_created_at=at(k), parent_post_id=f"x{k}"))
    return posts


def _ws(common: bool = False) -> object:
    return build(
        _world(common),
        [dict(account_id="r1", handle="maria48213907", created_at=at(-24), followers=3,
              following=1000),
         dict(account_id="h1", handle="john1985", created_at=at(-24 * 400), followers=300,
              following=280)],
        members=[("c1", f"m{m}") for m in range(5)],
    )


def test_known_answers() -> None:
    with _ws() as ws:  # type: ignore[attr-defined]
        t = account_automation(ws)
        wx = signal(t, "wx", "interpost_cv")
        assert wx is not None and wx["value"] == pytest.approx(0.0) and wx["flagged"]
        assert "every 60.0 min" in wx["reason"]
        ent = signal(t, "wx", "hour_entropy")
        assert ent is not None and ent["value"] == pytest.approx(math.log2(24)) and ent["flagged"]
        h1 = signal(t, "h1", "interpost_cv")
        assert h1 is not None and not h1["flagged"] and h1["value"] > 0.5
        assert not signal(t, "h1", "hour_entropy")["flagged"]  # type: ignore[index]
        per = signal(t, "m0", "periodicity")
        assert per is not None and per["flagged"] and "every 24 h" in per["reason"]
        app = signal(t, "m3", "shared_rare_app")
        assert app is not None and app["flagged"] and app["value"] == pytest.approx(1.0)
        assert '"DawnApp"' in app["reason"] and "5 members of campaign c1" in app["reason"]
        rd = signal(t, "r1", "reaction_delay")
        assert rd is not None and rd["value"] == pytest.approx(2.0) and rd["flagged"]
        assert signal(t, "r1", "default_handle")["flagged"]  # type: ignore[index]
        assert signal(t, "r1", "default_handle")["value"] == 8  # type: ignore[index]
        assert not signal(t, "h1", "default_handle")["flagged"]  # type: ignore[index]
        age = signal(t, "r1", "account_age_days")
        assert age is not None and age["value"] == pytest.approx(1.0, abs=1e-3) and age["flagged"]
        fr = signal(t, "r1", "follower_ratio")
        assert fr is not None and fr["value"] == pytest.approx(0.003) and fr["flagged"]
        assert not signal(t, "h1", "follower_ratio")["flagged"]  # type: ignore[index]
        # every flag states its reason
        for r in t.to_pylist():
            assert bool(r["reason"]) if r["flagged"] else True


def test_benign_bot_is_not_a_shared_app_campaign() -> None:
    with _ws() as ws:  # type: ignore[attr-defined]
        t = account_automation(ws)
        assert signal(t, "wx", "shared_rare_app") is None  # not in a campaign: never
        ws.replace("account_signals", t)
        camp = campaign_automation(ws).to_pylist()
        assert [c["campaign_id"] for c in camp] == ["c1"]
        assert camp[0]["shared_app"] == "DawnApp" and camp[0]["shared_app_members"] == 5
        assert camp[0]["periodic_share"] == pytest.approx(1.0)
        assert "DawnApp" in camp[0]["summary"]


def test_common_app_shared_by_campaign_is_not_flagged() -> None:
    with _ws(common=True) as ws:  # type: ignore[attr-defined]
        t = account_automation(ws)
        app = signal(t, "m0", "shared_rare_app")
        assert app is not None and not app["flagged"]
        assert app["value"] == pytest.approx(5 / 17)  # 5 of the app's 17 users (h1, r1 too)


def test_empty_and_no_campaigns() -> None:
    with build([]) as ws:
        assert account_automation(ws).num_rows == 0
        assert campaign_automation(ws).num_rows == 0
    with build(_world()) as ws:
        t = account_automation(ws)
        assert "shared_rare_app" not in set(t.column("signal").to_pylist())
        assert campaign_automation(ws).num_rows == 0


def test_periodicity_known_answers() -> None:
    daily = np.array([24 * d + 20 for d in range(10)])
    v, lag = periodicity(daily)
    assert lag == 24 and v > 0.85  # biased ACF: (n - lag) / n of 1
    twice = np.sort(np.r_[daily, daily - 12])
    v2, lag2 = periodicity(twice)
    assert lag2 == 12 and v2 > 0.85
    flat = np.arange(200)  # one post every hour: counts never vary
    assert math.isnan(periodicity(flat)[0])
    assert math.isnan(periodicity(np.array([5, 6]))[0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2000), min_size=2, max_size=200), st.integers(0, 10**6))
def test_periodicity_shift_invariant(hours: list[int], shift: int) -> None:
    h = np.sort(np.array(hours))
    a, b = periodicity(h), periodicity(h + shift)
    assert a[1] == b[1]
    assert (math.isnan(a[0]) and math.isnan(b[0])) or a[0] == pytest.approx(b[0])
    if not math.isnan(a[0]):
        assert -1.0 - 1e-9 <= a[0] <= 1.0 + 1e-9


@settings(max_examples=4, deadline=None)
@given(st.randoms(use_true_random=False))
def test_row_order_does_not_matter(rnd: random.Random) -> None:
    posts = _world()
    shuffled = posts[:]
    rnd.shuffle(shuffled)
    with build(posts, members=[("c1", "m0"), ("c1", "m1"), ("c1", "m2")]) as a, \
            build(shuffled, members=[("c1", "m2"), ("c1", "m0"), ("c1", "m1")]) as b:
        ta, tb = account_automation(a), account_automation(b)
        assert ta.column("account_id").to_pylist() == tb.column("account_id").to_pylist()
        assert ta.column("flagged").to_pylist() == tb.column("flagged").to_pylist()
        np.testing.assert_allclose(ta.column("value").to_numpy(), tb.column("value").to_numpy(),
                                   rtol=1e-9)


def test_stricter_threshold_flags_no_more() -> None:
    with _ws() as ws:  # type: ignore[attr-defined]
        loose = account_automation(ws, AutomationParams(regular_cv=0.5))
        strict = account_automation(ws, AutomationParams(regular_cv=0.01))
        n = lambda t: sum(r["flagged"] for r in t.to_pylist() if r["signal"] == "interpost_cv")  # noqa: E731
        assert n(strict) <= n(loose)


def test_parameter_limits() -> None:
    with pytest.raises(ParameterError, match="regular_cv"):
        AutomationParams(regular_cv=-1)
