"""evaluate: known answers on a hand-written truth, ARI properties, CLI exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from echoscope.cli import main
from echoscope.errors import InputError
from echoscope.simulate import evaluate
from echoscope.simulate.evaluate import adjusted_rand_index, prf

TRUTH: dict[str, Any] = {
    "version": 1,
    "accounts": {
        "1": "relay", "2": "relay", "3": "relay", "4": "relay",
        "5": "ring", "6": "ring",
        "10": "organic", "11": "organic", "12": "organic", "13": "organic", "14": "organic",
        "20": "benign_automation", "21": "benign_automation",
    },
    "campaigns": [
        {"name": "relay", "style": "app_relay", "members": ["1", "2", "3", "4"],
         "low_participation": ["4"]},
        {"name": "ring", "style": "repost_ring", "members": ["5", "6"],
         "low_participation": []},
    ],
    "reincarnations": [
        {"old_account_id": "5", "new_account_id": "6"},
        {"old_account_id": "3", "new_account_id": "4"},
    ],
    "hashtags": {
        "storms": [{"hashtag": "stormtag", "hours": []}],
        "hijacks": [{"hashtag": "trendy", "hours": []}],
        "trending": [{"hashtag": "trendy"}, {"hashtag": "calmtrend"}],
    },
    "hard_negatives": {"breaking_news": ["10", "11"], "benign_bots": ["20", "21"],
                       "copypasta": []},
}


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, Path]:
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(TRUTH))
    res = tmp_path / "out"
    res.mkdir()
    # flagged: 1,2,3 (group A), 5 (group B), 10 (group A: a breaking-news reposter),
    # 20 in its own group; 99 unknown to the truth
    _write(res / "accounts.csv", ["account_id", "handle", "flagged", "campaign_id", "score"], [
        [1, "a", "true", "A", 0.9], [2, "b", "true", "A", 0.9], [3, "c", "True", "A", 0.9],
        [4, "d", "false", "", ""], [5, "e", "true", "B", 0.5], [6, "f", "false", "", ""],
        [10, "g", "true", "A", 0.9], [11, "h", "false", "", ""], [20, "i", "1", "C", 0.2],
        [99, "z", "true", "A", 0.9],
    ])
    return truth, res


def test_known_answers(case: tuple[Path, Path]) -> None:
    truth, res = case
    r = evaluate(truth, res)
    a = r["accounts"]
    assert (a["tp"], a["fp"], a["fn"]) == (4, 2, 2)
    assert a["precision"] == pytest.approx(4 / 6)
    assert a["recall"] == pytest.approx(4 / 6)
    assert a["f1"] == pytest.approx(4 / 6)
    assert a["organic_fpr"] == pytest.approx(1 / 5)
    assert a["benign_automation_fpr"] == pytest.approx(1 / 2)
    assert a["flagged_unknown"] == 1
    camp = {c["name"]: c for c in r["campaigns"]}
    assert camp["relay"]["recall"] == pytest.approx(3 / 4)
    assert camp["relay"]["low_participation_recall"] == 0.0
    assert camp["relay"]["predicted_groups"] == 1
    assert camp["ring"]["recall"] == pytest.approx(1 / 2)
    assert camp["ring"]["low_participation_recall"] is None
    hard = r["hard_negatives"]
    assert hard["breaking_news"] == {"accounts": 2, "flagged": 1, "rate": 0.5}
    assert hard["benign_bots"]["flagged"] == 1
    assert hard["copypasta"]["rate"] is None
    # items: 1,2,3,4,5,6,10,20; truth: relay x4, ring x2, singletons 10, 20
    # prediction: A={1,2,3,10}, B={5}, C={20}, singletons 4, 6
    expected = adjusted_rand_index(
        ["relay"] * 4 + ["ring"] * 2 + ["n10", "n20"],
        ["A", "A", "A", "n4", "B", "n6", "A", "C"])
    assert r["group_agreement"]["ari"] == pytest.approx(expected)
    assert r["group_agreement"]["accounts"] == 8
    assert r["reincarnations"] is None and r["hashtags"] is None


def test_reincarnations_and_hashtags(case: tuple[Path, Path]) -> None:
    truth, res = case
    _write(res / "reincarnations.csv", ["old_account_id", "new_account_id", "score"],
           [[5, 6, 0.9], [1, 2, 0.4], [5, 7, 0.3]])
    _write(res / "hashtags.csv", ["hashtag", "posts", "storm", "hijack"], [
        ["StormTag", 10, "true", "false"], ["#trendy", 10, "false", "false"],
        ["calmtrend", 10, "false", "true"], ["other", 3, "false", "false"],
    ])
    r = evaluate(truth, res)
    re = r["reincarnations"]
    assert (re["tp"], re["fp"], re["fn"]) == (1, 2, 1)
    assert re["precision"] == pytest.approx(1 / 3) and re["recall"] == pytest.approx(1 / 2)
    h = r["hashtags"]
    assert h["storm"]["precision"] == 1.0 and h["storm"]["recall"] == 1.0
    assert (h["hijack"]["tp"], h["hijack"]["fp"], h["hijack"]["fn"]) == (0, 1, 1)
    assert h["organic_trending_flagged"] == {"hashtags": 1, "flagged": 1}


def test_nothing_flagged_gives_undefined_precision(case: tuple[Path, Path]) -> None:
    truth, res = case
    _write(res / "accounts.csv", ["account_id", "flagged", "campaign_id"],
           [[1, "false", ""], [10, "false", ""]])
    a = evaluate(truth, res)["accounts"]
    assert a["precision"] is None and a["recall"] == 0.0 and a["f1"] is None


def test_truth_folder_is_accepted(case: tuple[Path, Path]) -> None:
    truth, res = case
    assert evaluate(truth.parent, res)["accounts"]["tp"] == 4


def test_prf() -> None:
    assert prf(0, 0, 0) == {"tp": 0, "fp": 0, "fn": 0, "precision": None, "recall": None,
                            "f1": None}
    assert prf(0, 3, 2)["f1"] == 0.0
    assert prf(2, 2, 0)["f1"] == pytest.approx(2 * 0.5 * 1.0 / 1.5)


def test_ari_known_values() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(0.5714285714285715)
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == 1.0
    assert adjusted_rand_index([0, 0, 0, 0], [0, 1, 2, 3]) == 0.0
    assert adjusted_rand_index([0, 0, 1, 2], [0, 0, 1, 1]) == pytest.approx(0.5714285714285715)
    assert adjusted_rand_index([0, 1, 2], [0, 1, 2]) == 1.0
    assert adjusted_rand_index([1], [2]) is None


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=40),
       st.permutations(list(range(5))))
def test_ari_properties(pairs: list[tuple[int, int]], perm: list[int]) -> None:
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    v = adjusted_rand_index(a, b)
    assert v is not None and v <= 1.0 + 1e-12
    assert v == pytest.approx(adjusted_rand_index(b, a))             # symmetric
    assert v == pytest.approx(adjusted_rand_index([perm[x] for x in a], b))  # renaming
    assert adjusted_rand_index(a, a) == 1.0


def test_errors_name_the_file(tmp_path: Path, case: tuple[Path, Path]) -> None:
    truth, res = case
    with pytest.raises(InputError, match="does not exist"):
        evaluate(truth, tmp_path / "nope")
    with pytest.raises(InputError, match="truth"):
        evaluate(tmp_path / "missing.json", res)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match=r"not a truth\.json"):
        evaluate(bad, res)
    _write(res / "accounts.csv", ["id", "flag"], [[1, "true"]])
    with pytest.raises(InputError, match="missing column"):
        evaluate(truth, res)
    (res / "accounts.csv").unlink()
    with pytest.raises(InputError, match=r"accounts\.csv"):
        evaluate(truth, res)


def test_cli_table_json_and_exit_codes(case: tuple[Path, Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    truth, res = case
    assert main(["evaluate", "--truth", str(truth), "--results", str(res), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["accounts"]["tp"] == 4
    assert main(["evaluate", "--truth", str(truth), "--results", str(res)]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "relay" in out and "breaking_news" in out
    assert main(["evaluate", "--truth", str(truth), "--results", str(res / "x")]) == 2


def test_cli_simulate_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim = tmp_path / "sim"
    assert main(["simulate", "--out", str(sim), "--posts", "800", "--seed", "3", "--days", "2",
                 "-q", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["posts"] == 800
    truth = json.loads((sim / "truth.json").read_text())
    # a perfect result scores 1 everywhere
    res = tmp_path / "res"
    res.mkdir()
    _write(res / "accounts.csv", ["account_id", "flagged", "campaign_id"],
           [[a, "true" if lab not in ("organic", "benign_automation") else "false",
             lab] for a, lab in truth["accounts"].items()])
    r = evaluate(sim / "truth.json", res)
    assert r["accounts"]["precision"] == 1.0 and r["accounts"]["recall"] == 1.0
    assert r["group_agreement"]["ari"] == 1.0
    assert all(c["recall"] == 1.0 for c in r["campaigns"])
    assert main(["simulate", "--out", str(sim), "--posts", "5"]) == 2
