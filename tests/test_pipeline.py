"""End-to-end ``analyze`` on synthetic data generated here (neutral invented text only)."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from echoscope.cluster import ACTION_TYPES
from echoscope.errors import InputError, ParameterError, UserError
from echoscope.pipeline import AnalyzeParams, analyze, detect
from echoscope.workspace import Workspace

T0 = dt.datetime(2024, 5, 6, 8, 0, 0, tzinfo=dt.UTC)
HAS_DETECT = importlib.util.find_spec("echoscope.detect.coaction") is not None
needs_detect = pytest.mark.skipif(not HAS_DETECT, reason="echoscope.detect.coaction absent")

ACCOUNT_COLUMNS = [
    "account_id",
    "handle",
    "flagged",
    "campaign_id",
    "score",
    "joined_by",
    *[f"n_{t}" for t in ACTION_TYPES],
]
CAMPAIGN_COLUMNS = [
    "campaign_id",
    "size",
    "score",
    "signals",
    "n_edges",
    "density",
    "first_time",
    "last_time",
    "summary",
]

WORDS = [
    "garden",
    "bicycle",
    "river",
    "lantern",
    "market",
    "violin",
    "orchard",
    "pebble",
    "meadow",
    "kettle",
    "harbor",
    "window",
    "ladder",
    "blanket",
    "pencil",
    "teapot",
    "sparrow",
    "canvas",
    "button",
    "marble",
    "compass",
    "thimble",
    "pepper",
    "candle",
    "basket",
    "mirror",
    "puzzle",
    "saddle",
    "rocket",
    "hammock",
]


def _tweet(
    tid: int,
    uid: str,
    when: dt.datetime,
    text: str,
    tags: list[str],
    retweet_of: dict[str, Any] | None = None,
) -> dict[str, Any]:
    t: dict[str, Any] = {
        "created_at": when.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id_str": str(tid),
        "text": text,
        "user": {"id_str": uid, "screen_name": f"user_{uid}", "name": f"User {uid}"},
        "entities": {"hashtags": [{"text": h} for h in tags], "urls": [], "user_mentions": []},
    }
    if retweet_of is not None:
        t["retweeted_status"] = retweet_of
        t["text"] = "RT: " + retweet_of["text"]
    return t


def write_planted(
    path: Path, *, seed: int = 0, n_camp: int = 8, n_org: int = 60
) -> tuple[set[str], set[str]]:
    """A campaign posting identical invented texts staggered by minutes, plus organic noise.

    Returns (campaign account ids, organic account ids).
    """
    rng = random.Random(seed)
    tweets: list[dict[str, Any]] = []
    tid = 1000
    camp = {f"9{i:03d}" for i in range(n_camp)}
    org = {f"5{i:03d}" for i in range(n_org)}
    for k in range(5):
        start = T0 + dt.timedelta(hours=6 * k + rng.uniform(0, 2))
        text = (
            f"Invented announcement {k}: the {WORDS[k]} club meets near the "
            f"{WORDS[k + 7]} at noon, bring a {WORDS[k + 14]}"
        )
        for j, uid in enumerate(sorted(camp)):
            when = start + dt.timedelta(minutes=2 * j + rng.uniform(0, 1.5))
            tid += 1
            tweets.append(_tweet(tid, uid, when, text, ["clubnews"]))
    originals: list[dict[str, Any]] = []
    for uid in sorted(org):
        for _ in range(6):
            when = T0 + dt.timedelta(seconds=rng.uniform(0, 2 * 86400))
            text = " ".join(rng.choice(WORDS) for _ in range(9))
            tags = rng.sample(["weather", "sports", "music", "food"], rng.randint(0, 2))
            tid += 1
            if originals and rng.random() < 0.25:
                src = rng.choice(originals)
                src_time = dt.datetime.strptime(src["created_at"], "%a %b %d %H:%M:%S +0000 %Y")
                when = src_time.replace(tzinfo=dt.UTC) + dt.timedelta(
                    seconds=rng.uniform(5, 3 * 3600)
                )
                tweets.append(_tweet(tid, uid, when, src["text"], [], retweet_of=src))
            else:
                t = _tweet(tid, uid, when, text, tags)
                originals.append(t)
                tweets.append(t)
    # organic copypasta: popular phrases posted independently by several organic
    # accounts at unrelated times over the two days (real data has shared content at every
    # popularity; such accounts must not be flagged)
    org_list = sorted(org)
    for k in range(n_org // 2):
        phrase = f"Shared saying {k}: " + " ".join(rng.choice(WORDS) for _ in range(8))
        for uid in rng.sample(org_list, min(len(org_list), rng.randint(3, 10))):
            tid += 1
            when = T0 + dt.timedelta(seconds=rng.uniform(0, 2 * 86400))
            tweets.append(_tweet(tid, uid, when, phrase, []))
    rng.shuffle(tweets)
    with path.open("w", encoding="utf-8") as f:
        for t in tweets:
            f.write(json.dumps(t) + "\n")
    return camp, org


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], set[str]]:
    d = tmp_path_factory.mktemp("planted")
    path = d / "tweets.jsonl"
    camp, org = write_planted(path)
    return path, camp, org


@pytest.fixture(scope="module")
def result(
    planted: tuple[Path, set[str], set[str]], tmp_path_factory: pytest.TempPathFactory
) -> Any:
    out = tmp_path_factory.mktemp("out")
    return analyze([planted[0]], out, params=AnalyzeParams(seed=1))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_outputs_exist_with_documented_columns(
    result: Any, planted: tuple[Path, set[str], set[str]]
) -> None:
    out: Path = result.out_dir
    for name in (
        "accounts.csv",
        "campaigns.csv",
        "evidence.csv",
        "edges.csv",
        "edges.parquet",
        "run.json",
    ):
        assert (out / name).is_file(), name
    assert result.workspace == out / "tweets.echoscope.duckdb"
    accounts = _read_csv(out / "accounts.csv")
    assert list(accounts[0].keys()) == ACCOUNT_COLUMNS
    assert {a["account_id"] for a in accounts} == planted[1] | planted[2]
    assert {a["flagged"] for a in accounts} <= {"true", "false"}
    with (out / "campaigns.csv").open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == CAMPAIGN_COLUMNS
    edges = pq.read_table(out / "edges.parquet")
    assert "significant" in edges.column_names and "q_value" in edges.column_names
    run = json.loads((out / "run.json").read_text())
    assert run["inputs"][0]["sha256"] and run["params"]["seed"] == 1
    assert run["stages"]["ingest"]["status"] == "ran"
    assert run["counts"]["posts"] > 0 and "versions" in run
    for stage in ("actions", "detect", "cluster", "signals", "report"):
        assert stage in run["stages"]
    with Workspace(result.workspace) as ws:
        runs = [r for r in ws.runs() if r["command"] == "analyze"]
        assert len(runs) == 1 and runs[0]["status"] == "ok"
        assert "cluster" in runs[0]["timings"] and runs[0]["inputs"][0]["sha256"]


def test_missing_stages_are_reported_not_faked(result: Any) -> None:
    for name, info in result.stages.items():
        assert info["status"] in ("ran", "missing", "skipped"), name
        if info["status"] == "missing":
            assert info["note"]
    if not HAS_DETECT:
        assert result.stages["detect"]["status"] == "missing"
        assert result.counts["edges"] == 0 and result.counts["campaigns"] == 0


@needs_detect
def test_planted_campaign_found_organic_not(
    result: Any, planted: tuple[Path, set[str], set[str]]
) -> None:
    _, camp, org = planted
    accounts = {a["account_id"]: a for a in _read_csv(result.out_dir / "accounts.csv")}
    flagged = {k for k, a in accounts.items() if a["flagged"] == "true"}
    assert camp <= flagged
    assert not (flagged & org)
    assert len({accounts[a]["campaign_id"] for a in camp}) == 1
    ev = _read_csv(result.out_dir / "evidence.csv")
    assert any("Invented announcement" in (e["example_text"] or "") for e in ev)


@needs_detect
def test_campaign_ids_stable_across_runs(
    planted: tuple[Path, set[str], set[str]], result: Any, tmp_path: Path
) -> None:
    again = analyze([planted[0]], tmp_path / "again", params=AnalyzeParams(seed=1))
    a = _read_csv(result.out_dir / "accounts.csv")
    b = _read_csv(again.out_dir / "accounts.csv")
    assert [(r["account_id"], r["campaign_id"]) for r in a] == [
        (r["account_id"], r["campaign_id"]) for r in b
    ]


def test_rerun_on_same_workspace_replaces_outputs(
    planted: tuple[Path, set[str], set[str]], tmp_path: Path
) -> None:
    first = analyze([planted[0]], tmp_path / "o", params=AnalyzeParams(seed=2))
    a = _read_csv(first.out_dir / "accounts.csv")
    second = analyze([planted[0]], tmp_path / "o", params=AnalyzeParams(seed=2))
    assert first.counts == second.counts
    # the second run finds account_signals of the first before clustering: same ids
    b = _read_csv(second.out_dir / "accounts.csv")
    assert [(r["account_id"], r["campaign_id"], r["score"]) for r in a] == [
        (r["account_id"], r["campaign_id"], r["score"]) for r in b
    ]
    with Workspace(second.workspace) as ws:
        assert [r["command"] for r in ws.runs()].count("analyze") == 2
    stages = detect(second.workspace, AnalyzeParams(seed=2))
    assert stages["cluster"]["status"] == "ran"


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        analyze([tmp_path / "absent.jsonl"], tmp_path / "o")
    with pytest.raises(InputError, match="no input files"):
        analyze([], tmp_path / "o")
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"not": "a tweet"}\n')
    with pytest.raises(UserError):
        analyze([junk], tmp_path / "o2")
    (tmp_path / "afile").write_text("x")
    good = tmp_path / "g.jsonl"
    write_planted(good, n_camp=3, n_org=3)
    with pytest.raises(UserError, match="is a file"):
        analyze([good], tmp_path / "afile")
    with pytest.raises(InputError, match="--bank"):
        analyze([good], tmp_path / "o3", banks=[tmp_path / "nobank.csv"])
    with pytest.raises(ParameterError):
        AnalyzeParams(alpha=2.0)
    with pytest.raises(UserError, match="no posts"):
        detect(Workspace(tmp_path / "empty.echoscope.duckdb"))
