"""The real public datasets in ../shared/datasets load completely (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from echoscope.ingest import ingest_files
from echoscope.workspace import Workspace


def test_ira_fearmonger(datasets: Path) -> None:
    f = datasets / "ira_fearmonger_kochfarms_2015" / "ira_fearmonger_tweets.csv"
    if not f.is_file():
        pytest.skip(f"{f} is absent")
    with Workspace(":memory:") as ws:
        s = ingest_files([f], ws)
        r = s.files[0]
        assert (r.format, r.records, r.posts, r.rejects, r.skipped) == ("ira", 11_140, 11_140,
                                                                         0, 0)
        assert ws.count("posts") == 11_140  # synthetic ids never collide
        assert ws.scalar("SELECT count(DISTINCT account_id) FROM posts") == 125
        # the #KochFarms day: 26-27 Nov 2015
        n = ws.scalar("SELECT count(*) FROM posts WHERE created_at >= '2015-11-26' "
                      "AND created_at < '2015-11-28'")
        assert n >= 4_604
        assert ws.scalar("SELECT count(*) FROM posts WHERE list_contains(hashtags, "
                         "'kochfarms')") > 1000
        assert ws.scalar("SELECT count(*) FROM posts WHERE kind = 'repost'") > 0


@pytest.mark.slow
def test_german_elections(datasets: Path) -> None:
    f = datasets / "coortweet_german_elections_2021" / "german_elections.csv.gz"
    if not f.is_file():
        pytest.skip(f"{f} is absent")
    with Workspace(":memory:") as ws:
        s = ingest_files([f], ws)
        r = s.files[0]
        assert r.format == "coortweet-multi" and r.records == 218_971
        assert r.records == r.posts + r.skipped + r.rejects
        assert r.posts == 194_323 and r.skipped == 24_645
        assert r.reject_reasons == {"missing field post_id": 3}  # 3 rows have no post_id
        plats = dict(ws.con.execute(
            "SELECT platform, count(*) FROM posts GROUP BY 1").fetchall())
        assert set(plats) == {"facebook", "twitter"}
        assert ws.scalar("SELECT count(*) FROM posts WHERE len(media) > 0") > 0
        # one URL per post at most (the data has one url_id per post)
        assert ws.scalar("SELECT max(len(urls)) FROM posts") == 1
