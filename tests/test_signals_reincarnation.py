"""Re-created accounts: handle similarity, suspended lists, ranking with confounders."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.errors import InputError
from echoscope.signals import (
    ReincarnationParams,
    Suspension,
    handle_similarity,
    infer_suspensions,
    read_suspended,
    reincarnations,
)
from test_signals_data import T0, at, build

# -- handle similarity -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("dawn_news", "dawn_news", 1.0),
        ("Dawn_News", "@dawn_news", 1.0),
        ("dawn_news", "dawn_news2", 0.95),  # digit appended
        ("dawn_news2", "dawn_news3", 0.95),  # digit incremented
        ("dawnnews", "dawnnews_7", 0.95),
        ("dawnnews", "dawnnnewss", 0.9),  # letters doubled
        ("dawn_news", "dawnnews", 0.9),  # underscore dropped
        ("dawnnews", "dawnnwes", 0.875),  # two letters swapped: one edit of eight
        ("ab", "ab1", 1 - 1 / 3),  # stems this short are not trusted
        ("dawnnews", "", 0.0),
    ],
)
def test_handle_similarity_known_answers(a: str, b: str, expected: float) -> None:
    assert handle_similarity(a, b) == pytest.approx(expected)


HANDLE = st.text(alphabet="abcdexyz_0123456789", min_size=1, max_size=15)


@settings(max_examples=200, deadline=None)
@given(HANDLE, HANDLE)
def test_handle_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    s = handle_similarity(a, b)
    assert 0.0 <= s <= 1.0
    assert s == pytest.approx(handle_similarity(b, a))
    assert handle_similarity(a, a) == 1.0
    assert (s == 1.0) == (a == b)


# -- the suspended-accounts file -----------------------------------------------------------


def _csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "suspended.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_read_suspended(tmp_path: Path) -> None:
    p = _csv(tmp_path, "user_id,screen_name,suspended_at\n"
                       "42,dawn_news,2024-03-07T00:00:00Z\n"
                       ",other,1709769600\n"
                       "43,,2024-03-07 02:00:00+02:00\n")
    s = read_suspended(p)
    assert [(x.account_id, x.handle) for x in s] == [("42", "dawn_news"), (None, "other"),
                                                     ("43", None)]
    assert s[0].suspended_at == at(days=3)
    assert s[1].suspended_at == at(days=3)
    assert s[2].suspended_at == at(days=3)
    assert [x.line for x in s] == [2, 3, 4]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("id,name,when\n1,a,2024-01-01\n", r"line 1: the header lacks column\(s\) user_id"),
        ("user_id,screen_name,suspended_at\n1,a,yesterday\n", r"line 2: suspended_at 'yesterday'"),
        ("user_id,screen_name,suspended_at\n1,a,2024-01-01\n,,2024-01-01\n",
         "line 3: both user_id and screen_name are empty"),
        ("user_id,screen_name,suspended_at\n1,a,\n", "line 2: suspended_at is empty"),
    ],
)
def test_read_suspended_errors(tmp_path: Path, text: str, match: str) -> None:
    p = _csv(tmp_path, text)
    with pytest.raises(InputError, match=match) as e:
        read_suspended(p)
    assert str(p) in str(e.value)


def test_read_suspended_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_suspended(tmp_path / "nope.csv")


# -- ranking on a small world with confounders -----------------------------------------------

NET = [f"n{i}" for i in range(8)]


def _world() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """dawn_news is suspended on day 3, returns as dawn_news2, is suspended again on day 6 and
    returns as dawn_news3. Confounders: an organic look-alike handle created right after the
    suspension, an unrelated account created an hour after it, and an old look-alike."""
    rnd = random.Random(11)
    posts: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []

    def acct(aid: str, handle: str, created: Any, name: str | None = None,
             avatar: str | None = None) -> None:
        accounts.append(dict(account_id=aid, handle=handle, display_name=name,
                             created_at=created, profile_image_url=avatar))

    acct("old1", "dawn_news", at(days=-100), "Dawn News", "https://img.example/a1_normal.jpg")
    acct("new1", "dawn_news2", at(2, days=3), "Dawn News", "https://img.example/a1_400x400.jpg")
    acct("new2", "dawn_news3", at(2, days=6), "Dawn  news")
    acct("look", "dawn_newsx", at(5, days=3), "Dawn Newsx")
    acct("unrel", "garden_fan", at(1, days=3), "Garden Fan")
    acct("oldlook", "dawn_news1", at(days=-300), "Dawn News")  # existed long before
    for n in NET:
        acct(n, n, at(days=-200))
    slogan = "shared slogan number one for all of us"
    for d in range(9):
        for n in NET:
            posts.append(dict(account_id=n, created_at=at(rnd.uniform(0, 24), days=d),
                              hashtags=["rare_tag", "common"], text=slogan))
    for d in range(3):
        for _ in range(5):
            posts.append(dict(account_id="old1", created_at=at(rnd.uniform(0, 24), days=d),
                              hashtags=["rare_tag", "common"], urls=["https://site.example/x"],
                              text=slogan, mentions=["n1", "n2"]))
    for d in range(3, 6):
        for _ in range(5):
            posts.append(dict(account_id="new1", created_at=at(3 + rnd.uniform(0, 20), days=d),
                              hashtags=["rare_tag"], urls=["https://site.example/x"], text=slogan))
        # the old network promotes the new handle
        posts.append(dict(account_id="n2", created_at=at(4, days=d), text="follow @dawn_news2",
                          mentions=["dawn_news2"]))
    for d in range(6, 9):
        for _ in range(5):
            posts.append(dict(account_id="new2", created_at=at(3 + rnd.uniform(0, 20), days=d),
                              hashtags=["rare_tag"], text=slogan))
    for d in range(3, 9):
        for k in range(5):
            for aid, tag, text in (("look", "cats", "my cat photos today"),
                                   ("unrel", "garden", "tomatoes are growing"),
                                   ("oldlook", "common", "morning coffee thoughts")):
                posts.append(dict(account_id=aid, created_at=at(6 + rnd.uniform(0, 15), days=d),
                                  hashtags=["common", tag], text=f"{text} {k}"))
    return posts, accounts


SUSP = [Suspension("old1", "dawn_news", at(days=3)), Suspension("new1", "dawn_news2", at(days=6))]


def test_ranks_true_successors_and_follows_the_chain() -> None:
    posts, accounts = _world()
    with build(posts, accounts) as ws:
        rows = reincarnations(ws, suspended=SUSP).to_pylist()
    pairs = [(r["old_account_id"], r["new_account_id"]) for r in rows]
    assert pairs == [("old1", "new1"), ("new1", "new2")]
    first = rows[0]
    assert first["rank"] == 1 and first["score"] > 0.9
    assert first["handle_similarity"] == pytest.approx(0.95)
    assert first["same_display_name"] and first["same_avatar"]
    assert first["promoted_by"] == 1 and first["content_overlap"] > 0.4
    assert first["neighbour_overlap"] > 0
    assert first["gap_hours"] == pytest.approx(2.0)
    assert not first["inferred"]
    assert rows[1]["same_display_name"] and not rows[1]["same_avatar"]
    assert {r["chain"] for r in rows} == {"dawn_news -> dawn_news2 -> dawn_news3"}


def test_confounders_score_low() -> None:
    posts, accounts = _world()
    with build(posts, accounts) as ws:
        allc = reincarnations(ws, ReincarnationParams(min_score=0.0, max_candidates=20),
                              suspended=SUSP).to_pylist()
    score = {(r["old_account_id"], r["new_account_id"]): r["score"] for r in allc}
    assert score[("old1", "look")] < 0.4  # look-alike handle, unrelated behaviour
    assert ("old1", "unrel") not in score  # appears in time, but nothing in common
    assert ("old1", "oldlook") not in score  # existed before the suspension
    assert score[("old1", "new1")] > score[("old1", "look")] + 0.4


def test_suspension_by_handle_only() -> None:
    posts, accounts = _world()
    with build(posts, accounts) as ws:
        rows = reincarnations(ws, suspended=[Suspension(None, "DAWN_NEWS", at(days=3))])
    assert rows.column("old_account_id").to_pylist()[0] == "old1"
    assert rows.column("new_account_id").to_pylist()[0] == "new1"


def test_inferred_suspension() -> None:
    posts, accounts = _world()
    with build(posts, accounts) as ws:
        inferred = infer_suspensions(ws)
        rows = reincarnations(ws).to_pylist()
    assert [s.account_id for s in inferred] == ["old1"]
    assert inferred[0].inferred and inferred[0].suspended_at < at(days=3)
    assert rows[0]["old_account_id"] == "old1" and rows[0]["new_account_id"] == "new1"
    assert rows[0]["inferred"]
    # accounts that just keep posting are never inferred as suspended
    assert not {"look", "unrel", *NET} & {s.account_id for s in inferred}


def test_unrelated_suspension_gives_nothing() -> None:
    posts, accounts = _world()
    # 'n5' suspended just before 'unrel' and 'look' were created: no successor
    with build(posts, accounts) as ws:
        rows = reincarnations(ws, suspended=[Suspension("n5", "n5", at(days=3))])
    assert rows.num_rows == 0


def test_empty_inputs() -> None:
    with build([]) as ws:
        assert reincarnations(ws).num_rows == 0
        assert reincarnations(ws, suspended=SUSP).num_rows == 0
        assert infer_suspensions(ws) == []
    assert T0.year == 2024


def test_shared_default_avatar_identifies_nobody() -> None:
    posts, accounts = _world()
    default = "https://img.example/default_profile_normal.png"
    for a in accounts:
        a["profile_image_url"] = default  # everyone has the default picture
        if a["account_id"] != "old1":
            a["display_name"] = None
    with build(posts, accounts) as ws:
        rows = reincarnations(ws, ReincarnationParams(min_score=0.0, max_candidates=20),
                              suspended=SUSP[:1]).to_pylist()
    assert rows and not any(r["same_avatar"] for r in rows)
