"""run_signals: tables and CSV files, with and without campaigns; bad suspended files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from echoscope.errors import InputError, ParameterError
from echoscope.signals import (
    HASHTAG_CSV_COLUMNS,
    REINCARNATION_CSV_COLUMNS,
    SignalParams,
    run_signals,
)
from test_signals_data import build
from test_signals_hashtags import MEMBERS
from test_signals_hashtags import _world as tag_world
from test_signals_reincarnation import _world as reinc_world


def _read(p: Path) -> list[dict[str, str]]:
    with open(p, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_run_signals_writes_tables_and_files(tmp_path: Path) -> None:
    posts, accounts = reinc_world()
    posts += tag_world()
    sus = tmp_path / "suspended.csv"
    sus.write_text("user_id,screen_name,suspended_at\nold1,dawn_news,2024-03-07T00:00:00Z\n"
                   "new1,dawn_news2,2024-03-10T00:00:00\n", encoding="utf-8")
    out = tmp_path / "out"
    with build(posts, accounts, members=MEMBERS) as ws:
        counts = run_signals(ws, out, suspended=str(sus))
        assert counts["storms"] >= 1 and counts["hijacks"] == 1
        assert counts["reincarnations"] == 2 and counts["suspended"] == 2
        assert ws.count("account_signals") == counts["account_signals"] > 0
        assert ws.count("hashtag_signals") == counts["hashtags"]
        assert ws.count("reincarnations") == 2
    tags = _read(out / "hashtags.csv")
    assert list(tags[0]) == HASHTAG_CSV_COLUMNS
    assert tags[0]["hashtag"] == "weather" and tags[0]["hijack"] == "true"
    rein = _read(out / "reincarnations.csv")
    assert list(rein[0]) == REINCARNATION_CSV_COLUMNS
    assert rein[0]["chain"] == "dawn_news -> dawn_news2 -> dawn_news3"
    assert (out / "account_signals.csv").exists()
    assert (out / "campaign_automation.csv").exists()
    assert set(counts["files"]) == {"account_signals", "hashtags", "reincarnations",
                                    "campaign_automation"}


def test_run_signals_without_campaigns_or_edges(tmp_path: Path) -> None:
    with build(tag_world()) as ws:
        counts = run_signals(ws, tmp_path)
        # the campaign is seen through the bursts it carries together (no campaigns table)
        assert counts["hijacks"] == 1 and counts["campaigns_summarised"] == 0
        assert counts["suspended_inferred"]
    assert not (tmp_path / "campaign_automation.csv").exists()
    assert _read(tmp_path / "reincarnations.csv") == []


def test_run_signals_twice_replaces(tmp_path: Path) -> None:
    with build(tag_world(), members=MEMBERS) as ws:
        a = run_signals(ws, None)
        b = run_signals(ws, None)
        assert a == b and ws.count("hashtag_signals") == a["hashtags"]


def test_bad_suspended_file_fails_before_writing(tmp_path: Path) -> None:
    bad = tmp_path / "s.csv"
    bad.write_text("user_id,screen_name,suspended_at\n1,x,not-a-time\n", encoding="utf-8")
    with build(tag_world()) as ws:
        with pytest.raises(InputError, match=r"s\.csv: line 2"):
            run_signals(ws, tmp_path / "out", suspended=str(bad))
        assert ws.count("hashtag_signals") == 0
    assert not (tmp_path / "out").exists()


def test_params_round_trip() -> None:
    p = SignalParams()
    d = p.to_dict()
    assert d["hashtags"]["burst_ratio"] == 5.0 and d["reincarnation"]["min_score"] == 0.5
    with pytest.raises(ParameterError, match="min_score"):
        p.reincarnation.replace(min_score=2.0)


def test_csv_formula_guard(tmp_path: Path) -> None:
    import pyarrow as pa

    from echoscope.signals import _write_csv

    p = tmp_path / "x.csv"
    _write_csv(pa.table({"a": ["=1+1", "@x", "ok", None], "n": [1, 2, 3, 4]}), p)
    assert [r["a"] for r in _read(p)] == ["'=1+1", "'@x", "ok", ""]
