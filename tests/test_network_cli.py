"""`echoscope network`: the three modes from the command line, inputs, errors, loaders."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from echoscope.cli import main
from echoscope.ingest import detect_format, ingest_files
from echoscope.network import network, write_edges_csv
from echoscope.workspace import Workspace

CNT_ROWS = [
    ["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp",
     "urls"],
    ["1", "A", "a", "", "", "Good morning, river town", "100", "http://x.example/a"],
    ["2", "B", "b", "", "", "good  morning, RIVER town @c", "130", "http://x.example/a"],
    ["3", "A", "a", "", "", "Good morning, river town", "200", "http://y.example/b"],
    ["4", "B", "b", "", "", "good morning, river town", "210", "http://y.example/b"],
    ["5", "C", "c", "1", "", "RT Good morning", "101", ""],
    ["6", "D", "d", "1", "", "RT Good morning", "150", ""],
    ["7", "C", "c", "3", "", "RT Good morning", "205", ""],
    ["8", "D", "d", "3", "", "RT Good morning", "230.5", ""],
]


@pytest.fixture
def cnt_csv(tmp_path: Path) -> Path:
    p = tmp_path / "cnt.csv"
    with open(p, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(CNT_ROWS)
    return p


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_compat_cnt_cli(cnt_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                        ) -> None:
    out = tmp_path / "edges.csv"
    assert main(["network", str(cnt_csv), "--compat", "cnt", "--type", "co_tweet",
                 "--time-window", "60", "--min-edge-weight", "2", "-o", str(out), "-q"]) == 0
    text = out.read_text()
    assert text.splitlines()[0] == '"source","target","weight","edge_type"'
    assert _rows(text) == [
        {"source": "A", "target": "B", "weight": "2", "edge_type": "co_tweet"},
        {"source": "B", "target": "A", "weight": "2", "edge_type": "co_tweet"},
    ]
    # stdout by default; the reposts of "3" are 25.5 s apart, those of "1" 49 s
    assert main(["network", str(cnt_csv), "--compat", "cnt", "--type", "co_retweet",
                 "--time-window", "30", "--min-edge-weight", "1", "-q"]) == 0
    assert _rows(capsys.readouterr().out) == [
        {"source": "C", "target": "D", "weight": "1", "edge_type": "co_retweet"},
        {"source": "D", "target": "C", "weight": "1", "edge_type": "co_retweet"},
    ]
    assert main(["network", str(cnt_csv), "--compat", "cnt", "--type", "co_retweet",
                 "--time-window", "30", "--min-edge-weight", "2", "-q"]) == 0
    assert _rows(capsys.readouterr().out) == []


def test_compat_cnt_windows(cnt_csv: Path) -> None:
    def w(window: float) -> list[tuple[str, str, int]]:
        t = network([cnt_csv], compat="cnt", type="co_retweet", window=window,
                    min_edge_weight=1)
        return list(zip(t["source"].to_pylist(), t["target"].to_pylist(),
                        t["weight"].to_pylist(), strict=True))

    assert w(25) == []                                  # 205 -> 230.5 is 25.5 s
    assert w(25.5) == [("C", "D", 1), ("D", "C", 1)]    # inclusive
    assert w(49) == [("C", "D", 2), ("D", "C", 2)]


def test_compat_cnt_from_workspace_equals_file(cnt_csv: Path, tmp_path: Path) -> None:
    ws = tmp_path / "case.echoscope.duckdb"
    ingest_files([cnt_csv], ws)
    for kind in ("co_tweet", "co_retweet", "co_link", "co_post"):
        a = network([cnt_csv], compat="cnt", type=kind, window=60, min_edge_weight=1)
        b = network(compat="cnt", type=kind, window=60, min_edge_weight=1, workspace=ws)
        assert a.equals(b), kind


def test_compat_coortweet_cli(datasets: Path, tmp_path: Path) -> None:
    src = datasets / "coortweet_russian_coord_tweets" / "russian_coord_tweets.csv"
    ref = datasets / "coortweet_reference_outputs" / "russian_tw10_mp5_edges_all.csv"
    out = tmp_path / "e.csv"
    assert main(["network", str(src), "--compat", "coortweet", "--time-window", "10",
                 "--min-participation", "5", "--edge-weight", "0.5", "-o", str(out),
                 "-q"]) == 0
    got = _rows(out.read_text())
    want = _rows(ref.read_text())
    assert list(got[0]) == list(want[0])  # same columns in the same order
    norm = [{**r, "from": min(r["from"], r["to"]), "to": max(r["from"], r["to"])}
            for r in want]
    key = lambda r: (r["from"], r["to"])  # noqa: E731
    assert sorted(got, key=key) == sorted(norm, key=key)  # R writes 7, not 7.0


def test_default_mode(cnt_csv: Path) -> None:
    t = network([cnt_csv], type="co_repost", window=60, min_keys=2, alpha=1.0)
    assert t.num_rows == 1
    r = t.to_pylist()[0]
    assert (r["account_a"], r["account_b"], r["n_keys"], r["type"]) == ("C", "D", 2, "repost")
    assert r["min_delay"] == 25.5
    assert network([cnt_csv], type="co_repost", window=20, min_keys=2, alpha=1.0).num_rows == 0


def test_default_mode_cli(cnt_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["network", str(cnt_csv), "--type", "co_url", "--window", "60",
                 "--alpha", "1", "-q"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [(r["account_a"], r["account_b"], r["n_keys"]) for r in rows] == [("A", "B", "2")]


@pytest.mark.parametrize("argv,msg", [
    (["--compat", "cnt"], "time window is required"),
    (["--compat", "cnt", "--time-window", "60", "--type", "co_nothing"], "co_nothing"),
    (["--compat", "cnt", "--time-window", "60", "--min-edge-weight", "0"], "min_edge_weight"),
    (["--compat", "coortweet", "--time-window", "60", "--edge-weight", "2"], "edge_weight"),
    (["--type", "co_nothing", "--window", "60"], "co_nothing"),
])
def test_errors_exit_2(cnt_csv: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                       msg: str) -> None:
    assert main(["network", str(cnt_csv), *argv, "-q"]) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err


def test_no_input_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["network", "--compat", "cnt", "--time-window", "1", "-q"]) == 2
    assert "input files or a workspace" in capsys.readouterr().err
    assert main(["network", str(tmp_path / "nope.csv"), "--compat", "cnt",
                 "--time-window", "1", "-q"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_bad_row_is_an_error_naming_the_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(",".join(CNT_ROWS[0]) + "\n1,A,a,,,hi,100,\n2,B,b,,,hi,soon,\n",
                 encoding="utf-8")
    assert main(["network", str(p), "--compat", "cnt", "--time-window", "1", "-q"]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "soon" in err


# -- loaders ----------------------------------------------------------------------------


def test_sniffing_tells_the_csvs_apart(cnt_csv: Path, datasets: Path) -> None:
    assert detect_format(cnt_csv.read_bytes()[:4096], "x.csv") == "cnt-csv"
    coor = datasets / "coortweet_russian_coord_tweets" / "russian_coord_tweets.csv"
    assert detect_format(coor.read_bytes()[:4096], "x.csv") == "coortweet-csv"


def test_cnt_loader_posts(cnt_csv: Path, tmp_path: Path) -> None:
    with Workspace(tmp_path / "w.duckdb") as ws:
        s = ingest_files([cnt_csv], ws)
        assert s.new_posts == 8 and s.rejects == 0
        rows = ws.sql("SELECT post_id, kind, parent_post_id, urls, epoch_us(created_at) AS t "
                      "FROM posts ORDER BY post_id").to_pylist()
    assert rows[0]["kind"] == "post" and rows[0]["urls"] == ["http://x.example/a"]
    assert rows[4]["kind"] == "repost" and rows[4]["parent_post_id"] == "1"
    assert rows[7]["t"] == 230_500_000


def test_cnt_loader_list_urls_and_no_header(tmp_path: Path) -> None:
    p = tmp_path / "nohead.csv"
    p.write_text("1,A,a,,9,hello,1.5,\"['http://a.example/', 'http://b.example/']\"\n"
                 "2,B,b,,,hi,2,\n", encoding="utf-8")
    with Workspace(":memory:") as ws:
        ingest_files([p], ws, format="cnt-csv")
        rows = ws.sql("SELECT post_id, kind, urls FROM posts ORDER BY post_id").to_pylist()
    assert rows == [
        {"post_id": "1", "kind": "reply", "urls": ["http://a.example", "http://b.example"]},
        {"post_id": "2", "kind": "post", "urls": []},
    ]


def test_coortweet_loader_keeps_first_of_repeated_content(tmp_path: Path) -> None:
    p = tmp_path / "shares.csv"
    p.write_text("object_id,account_id,content_id,timestamp_share\n"
                 "o1,A,c1,10\no1,B,c2,12\no2,B,c2,13\n", encoding="utf-8")
    with Workspace(":memory:") as ws:
        s = ingest_files([p], ws)
        assert s.files[0].format == "coortweet-csv"
        rows = ws.sql("SELECT post_id, kind, parent_post_id FROM posts ORDER BY post_id"
                      ).to_pylist()
    assert rows == [{"post_id": "c1", "kind": "repost", "parent_post_id": "o1"},
                    {"post_id": "c2", "kind": "repost", "parent_post_id": "o1"}]


def test_write_edges_csv_numbers(tmp_path: Path) -> None:
    import pyarrow as pa

    t = pa.table({"a": ["x"], "w": [7.0], "m": [2.5]})
    p = tmp_path / "o.csv"
    assert write_edges_csv(t, p) == 1
    assert p.read_text() == "a,w,m\nx,7,2.5\n"


# -- several --compat cnt types in one run ------------------------------------------------

ALL_CNT = ("co_retweet", "co_tweet", "co_similar_tweet", "co_link", "co_reply", "co_post")


def test_several_cnt_types_equal_single_runs(cnt_csv: Path, tmp_path: Path) -> None:
    single = {}
    for kind in ALL_CNT:
        out = tmp_path / f"one_{kind}.csv"
        assert main(["network", str(cnt_csv), "--compat", "cnt", "--type", kind,
                     "--time-window", "60", "--min-edge-weight", "1", "-o", str(out),
                     "-q"]) == 0
        single[kind] = out.read_text()
    assert any(len(t.splitlines()) > 1 for t in single.values())
    # repeated option and comma list mixed; a repeat is computed once
    d = tmp_path / "nets"
    assert main(["network", str(cnt_csv), "--compat", "cnt",
                 "--type", "co_retweet,co_tweet", "--type", "co_similar_tweet",
                 "--type", "co_link, co_reply", "--type", "co_post,co_tweet",
                 "--time-window", "60", "--min-edge-weight", "1", "-o", str(d), "-q"]) == 0
    assert sorted(p.name for p in d.iterdir()) == sorted(f"{k}.csv" for k in ALL_CNT)
    for kind in ALL_CNT:
        assert (d / f"{kind}.csv").read_text() == single[kind], kind
    # a pattern; one thread
    assert main(["network", str(cnt_csv), "--compat", "cnt", "--type", "co_link,co_tweet",
                 "--time-window", "60", "--min-edge-weight", "1", "--threads", "1",
                 "-o", str(tmp_path / "p" / "e_{type}.csv"), "-q"]) == 0
    for kind in ("co_link", "co_tweet"):
        assert (tmp_path / "p" / f"e_{kind}.csv").read_text() == single[kind]


def test_networks_library_equals_network(cnt_csv: Path) -> None:
    from echoscope.network import networks

    for window, k in ((30, 1), (60, 2)):
        got = networks([cnt_csv], types=list(ALL_CNT), window=window, min_edge_weight=k)
        assert list(got) == list(ALL_CNT)
        for kind, table in got.items():
            assert table.equals(network([cnt_csv], compat="cnt", type=kind, window=window,
                                        min_edge_weight=k)), (kind, window, k)
    one = networks([cnt_csv], types=["co_tweet"], window=60, threads=1)["co_tweet"]
    assert one.equals(network([cnt_csv], compat="cnt", type="co_tweet", window=60))


def test_one_type_to_a_directory(cnt_csv: Path, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    assert main(["network", str(cnt_csv), "--compat", "cnt", "--type", "co_tweet",
                 "--time-window", "60", "-o", str(d), "-q"]) == 0
    assert _rows((d / "co_tweet.csv").read_text())[0]["edge_type"] == "co_tweet"


@pytest.mark.parametrize("argv,msg", [
    (["--compat", "cnt", "--type", "co_tweet,co_link"], "cannot all go to stdout"),
    (["--compat", "cnt", "--type", "co_tweet", "--type", "co_nothing", "-o", "{d}"],
     "co_nothing"),
    (["--type", "co_url,co_repost", "-o", "{d}"], "only with --compat cnt"),
    (["--compat", "cnt", "--type", "co_tweet,co_link", "-o", "{f}"], "existing file"),
])
def test_several_types_errors(cnt_csv: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str], argv: list[str],
                              msg: str) -> None:
    f = tmp_path / "exists.csv"
    f.write_text("x\n")
    argv = [a.format(d=tmp_path / "out", f=f) for a in argv]
    assert main(["network", str(cnt_csv), *argv, "--time-window", "60", "-q"]) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err
    assert f.read_text() == "x\n" and not (tmp_path / "out").exists()


_SCRIPT = """
import atexit, sys
class Teardown:
    def __del__(self):
        sys.stderr.write("teardown ran\\n")
t = Teardown()
atexit.register(lambda: sys.stderr.write("exit handlers ran\\n"))
sys.argv = ["echoscope", *sys.argv[1:]]
from echoscope.cli import run
run()
"""


@pytest.mark.parametrize("to_stdout", [True, False])
def test_console_script_skips_teardown_after_cnt_runs(cnt_csv: Path, tmp_path: Path,
                                                      to_stdout: bool) -> None:
    import subprocess
    import sys

    # many rows: the edge list is more than one stdout buffer, all of it must arrive
    rows = [CNT_ROWS[0]] + [[f"m{i}", f"u{i % 40}", "u", "r", "", "RT", str(i % 7), ""]
                            for i in range(4000)]
    src = tmp_path / "many.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    out = tmp_path / "edges.csv"
    args = ["network", str(src), "--compat", "cnt", "--type", "co_retweet",
            "--time-window", "60", "--min-edge-weight", "1", "-q"]
    p = subprocess.run([sys.executable, "-c", _SCRIPT, *args,
                        *([] if to_stdout else ["-o", str(out)])],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    text = p.stdout if to_stdout else out.read_text(encoding="utf-8")
    want = network([src], compat="cnt", type="co_retweet", window=60, min_edge_weight=1)
    assert len(_rows(text)) == want.num_rows == 40 * 39
    assert "exit handlers ran" in p.stderr
    assert "teardown ran" not in p.stderr
    # a failed run (and every other command) exits normally
    p = subprocess.run([sys.executable, "-c", _SCRIPT, "network", str(cnt_csv), "--compat",
                        "cnt", "-q"], capture_output=True, text=True, check=False)
    assert p.returncode == 2
    assert "exit handlers ran" in p.stderr and "teardown ran" in p.stderr


def test_cnt_run_leaves_the_garbage_collector_as_it_was(cnt_csv: Path, tmp_path: Path) -> None:
    import gc

    args = ["network", str(cnt_csv), "--compat", "cnt", "--type", "co_tweet",
            "--time-window", "60", "-o", str(tmp_path / "e.csv"), "-q"]
    assert gc.isenabled()
    assert main(args) == 0
    assert gc.isenabled()
    assert main([*args[:4], "no_such_type", *args[5:]]) == 2  # an error inside the block
    assert gc.isenabled()
    gc.disable()
    try:
        assert main(args) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
