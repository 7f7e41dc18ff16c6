"""--compat cnt: edge lists equal coordination-network-toolkit 1.5.2's on the same input.

The real package runs in these tests (its Python API on a temporary SQLite file). Inputs
are synthetic, neutral text, and avoid the toolkit's bugs that echoscope deliberately does
not reproduce (every non-repost row has a URL; the header row is present; no two empty
texts are compared for similarity).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from echoscope.detect.compat_cnt import (
    CNT_TYPES,
    CntMessages,
    CntParams,
    cnt_network,
    cotweet_keys,
    cotweet_text,
    key_codes,
    messages_from_cnt_csv,
    messages_from_twitter_json,
    token_set,
)
from echoscope.errors import ParameterError

cnt = pytest.importorskip("coordination_network_toolkit")
from coordination_network_toolkit import compute_networks as cn  # noqa: E402
from coordination_network_toolkit import graph, preprocess  # noqa: E402
from coordination_network_toolkit import similarity as sim  # noqa: E402

pytestmark = pytest.mark.peers

HEADER = ["message_id", "user_id", "username", "repost_id", "reply_id", "message",
          "timestamp", "urls"]
Row = tuple[str, str, str, str, str, str, float, str]
Edges = list[tuple[str, str, int]]


# -- running the real toolkit --------------------------------------------------------


def _compute(db: str, kind: str, window: float, k: int, thr: float = 0.8) -> None:
    if kind == "co_retweet":
        cn.compute_co_retweet_parallel(db, window, n_threads=1, min_edge_weight=k)
    elif kind == "co_tweet":
        cn.compute_co_tweet_network(db, window, n_threads=1, min_edge_weight=k)
    elif kind == "co_reply":
        cn.compute_co_reply_network(db, window, n_threads=1, min_edge_weight=k)
    elif kind == "co_link":
        cn.compute_co_link_network(db, window, n_threads=1, min_edge_weight=k)
    elif kind == "co_post":
        cn.compute_co_post_network(db, window, n_threads=1, min_edge_weight=k)
    else:
        cn.compute_co_similar_tweet(
            db, window, n_threads=1, min_edge_weight=k, similarity_threshold=thr,
            similarity_function=sim.get_similarity_fn_from_min_size(1))


def toolkit_edges(tmp: Path, inputs: list[Path], runs: list[tuple[str, float, int]],
                  *, fmt: str = "csv", thr: float = 0.8) -> list[Edges]:
    """Preprocess once, then one edge list per (type, window, min weight)."""
    db = str(tmp / f"cnt{uuid.uuid4().hex}.db")
    out = []
    with contextlib.redirect_stdout(io.StringIO()):
        if fmt == "csv":
            preprocess.preprocess_csv_files(db, [str(p) for p in inputs])
        else:
            preprocess.preprocess_twitter_json_files(db, [str(p) for p in inputs])
        for kind, window, k in runs:
            _compute(db, kind, window, k, thr)
            out.append(sorted((str(a), str(b), int(w))
                              for a, b, w, _ in graph.get_edge_rows(db, kind)))
    return out


def ours(msgs: CntMessages, kind: str, window: float, k: int, thr: float = 0.8) -> Edges:
    t = cnt_network(msgs, CntParams(type=kind, time_window=window, min_edge_weight=k,
                                    similarity_threshold=thr))
    assert t.column_names == ["source", "target", "weight", "edge_type"]
    assert set(t["edge_type"].to_pylist()) <= {kind}
    return sorted(zip(t["source"].to_pylist(), t["target"].to_pylist(),
                      t["weight"].to_pylist(), strict=True))


def write_csv(path: Path, rows: list[Row]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for r in rows:
            w.writerow([*r[:6], repr(r[6]) if isinstance(r[6], float) else r[6], r[7]])
    return path


# -- generated inputs -----------------------------------------------------------------

WORDS = ("river", "lamp", "orange", "garden", "market", "silver", "window", "cloud",
         "bridge", "paper", "coffee", "yellow", "train", "forest", "music", "stone")
PUNCT = ("", "!", ".", ",", "?", " -", "'s")
URLS = ("http://a.example/1", "https://b.example/x?id=2", "http://c.example/", "d.example/p")


def gen_rows(seed: int, n: int = 240, users: int = 14, span: int = 400) -> list[Row]:
    rng = random.Random(seed)
    bases = [[rng.choice(WORDS) for _ in range(rng.randint(4, 9))] for _ in range(10)]
    rows: list[Row] = []
    for i in range(n):
        u = rng.randrange(users)
        base = list(rng.choice(bases))
        if rng.random() < 0.4:  # near duplicate: swap or add a word
            base[rng.randrange(len(base))] = rng.choice(WORDS)
        if rng.random() < 0.3:
            base.append(rng.choice(WORDS))
        text = " ".join(base) + rng.choice(PUNCT)
        if rng.random() < 0.3:
            text = rng.choice(["@someone ", "@Other_1 ", ""]) + text.upper() if rng.random() < .5 \
                else text + "  @mention"
        repost = str(rng.randrange(6)) if rng.random() < 0.3 else ""
        reply = str(100 + rng.randrange(6)) if not repost and rng.random() < 0.3 else ""
        t: float = float(rng.randrange(span))
        if rng.random() < 0.2:
            t += rng.choice([0.5, 0.25, 0.125])
        urls = " ".join(rng.sample(URLS, rng.randint(1, 2)))
        rows.append((str(10_000 + i), f"user{u}", f"name{u}", repost, reply, text, t, urls))
    return rows


# -- known answers --------------------------------------------------------------------


def test_directed_weights_known_answer(tmp_path: Path) -> None:
    # A posts a text 3 times and B once, all within the window: A->B = 3, B->A = 1.
    rows: list[Row] = [
        ("1", "A", "a", "", "", "same words here", 0, "http://x.example/1"),
        ("2", "A", "a", "", "", "Same  words HERE", 10, "http://x.example/2"),
        ("3", "A", "a", "", "", "same words here @bob", 20, "http://x.example/3"),
        ("4", "B", "b", "", "", "same words here", 15, "http://x.example/4"),
    ]
    p = write_csv(tmp_path / "k.csv", rows)
    got = ours(messages_from_cnt_csv(str(p)), "co_tweet", 60, 1)
    assert got == [("A", "B", 3), ("B", "A", 1)]
    assert got == toolkit_edges(tmp_path, [p], [("co_tweet", 60, 1)])[0]
    # per-direction minimum weight
    assert ours(messages_from_cnt_csv(str(p)), "co_tweet", 60, 2) == [("A", "B", 3)]


def test_window_is_inclusive(tmp_path: Path) -> None:
    rows: list[Row] = [
        ("1", "A", "a", "9", "", "rt", 100, ""),
        ("2", "B", "b", "9", "", "rt", 160, ""),
        ("3", "C", "c", "9", "", "rt", 221, ""),
    ]
    p = write_csv(tmp_path / "w.csv", rows)
    msgs = messages_from_cnt_csv(str(p))
    assert ours(msgs, "co_retweet", 60, 1) == [("A", "B", 1), ("B", "A", 1)]
    assert ours(msgs, "co_retweet", 61, 1) == [
        ("A", "B", 1), ("B", "A", 1), ("B", "C", 1), ("C", "B", 1)]
    ref = toolkit_edges(tmp_path, [p], [("co_retweet", 60, 1), ("co_retweet", 61, 1)])
    assert ref == [ours(msgs, "co_retweet", 60, 1), ours(msgs, "co_retweet", 61, 1)]


def test_reposts_only_in_co_retweet_and_co_post(tmp_path: Path) -> None:
    rows: list[Row] = [
        ("1", "A", "a", "7", "", "hello there friend", 0, "http://x.example/"),
        ("2", "B", "b", "7", "", "hello there friend", 1, "http://x.example/"),
    ]
    msgs = messages_from_cnt_csv(str(write_csv(tmp_path / "r.csv", rows)))
    for kind in ("co_tweet", "co_similar_tweet", "co_link", "co_reply"):
        assert ours(msgs, kind, 60, 1) == []
    assert ours(msgs, "co_retweet", 60, 1) == [("A", "B", 1), ("B", "A", 1)]
    assert ours(msgs, "co_post", 60, 1) == [("A", "B", 1), ("B", "A", 1)]


def test_empty_url_field_links_nobody(tmp_path: Path) -> None:
    # Deliberate difference: the toolkit stores '' as a URL and links these two.
    rows: list[Row] = [
        ("1", "A", "a", "", "", "one", 0, ""),
        ("2", "B", "b", "", "", "two", 1, ""),
    ]
    msgs = messages_from_cnt_csv(str(write_csv(tmp_path / "e.csv", rows)))
    assert ours(msgs, "co_link", 60, 1) == []


def test_two_empty_texts_are_not_similar() -> None:
    msgs = CntMessages.from_rows([("1", "A", None, None, "@x", 0.0, ()),
                                  ("2", "B", None, None, "", 1.0, ())])
    assert ours(msgs, "co_similar_tweet", 60, 1) == []


def test_duplicate_message_ids_first_row_wins() -> None:
    msgs = CntMessages.from_rows([("1", "A", "9", None, "", 0.0, ()),
                                  ("1", "C", "9", None, "", 0.0, ()),
                                  ("2", "B", "9", None, "", 5.0, ())])
    assert ours(msgs, "co_retweet", 60, 1) == [("A", "B", 1), ("B", "A", 1)]


def test_repeated_id_still_adds_its_urls(tmp_path: Path) -> None:
    # The toolkit drops a repeated message id from its messages but still records the
    # row's URLs (with that row's user and time); echoscope reproduces this.
    rows: list[Row] = [
        ("0", "u1", "n", "", "", "x", 0.0, "http://b.example/"),
        ("0", "u1", "n", "", "", "x", 0.0, "http://a.example/"),
        ("1", "u2", "n", "", "", "x", 0.0, "http://a.example/"),
    ]
    p = write_csv(tmp_path / "d.csv", rows)
    got = ours(messages_from_cnt_csv(str(p)), "co_link", 0, 1)
    assert got == [("u1", "u2", 1), ("u2", "u1", 1)]
    assert got == toolkit_edges(tmp_path, [p], [("co_link", 0, 1)])[0]


def test_params_are_checked() -> None:
    with pytest.raises(ParameterError, match="type"):
        CntParams(type="co_nothing")
    with pytest.raises(ParameterError, match="min_edge_weight"):
        CntParams(min_edge_weight=0)
    with pytest.raises(ParameterError, match="similarity_threshold"):
        CntParams(similarity_threshold=1.5)


# -- the same normalisation as the toolkit ---------------------------------------------

TEXT = st.lists(
    st.sampled_from([*"abcAB xyz@#'.,!?-_\t\n1é", "\u00a0", "ß", "İ", "日本", "🙂",
                     "don't", "@@", "\u3000", "٣"]),
    max_size=30).map("".join) | st.text(max_size=30)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_text_normalisation_matches_toolkit(text: str) -> None:
    assert cotweet_text(text) == sim.message_preprocessor(text)
    assert token_set(text) == frozenset(sim.tokenize(text).split())


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT | st.text(alphabet=" \t\n\r\x0b\x0cab@C.", max_size=12), max_size=8))
def test_vectorised_cotweet_keys_match_toolkit(texts: list[str]) -> None:
    got = cotweet_keys(pa.array(texts, pa.string())).to_pylist()
    assert got == [sim.message_preprocessor(t) for t in texts]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "", "ab", "ba", "é", "a "]), max_size=20))
def test_key_codes_equal_iff_strings_equal(values: list[str]) -> None:
    codes = key_codes(pa.array(values, pa.string())).tolist()
    for i in range(len(values)):
        for j in range(len(values)):
            assert (codes[i] == codes[j]) == (values[i] == values[j])


def test_key_codes_survive_hash_collisions(monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    monkeypatch.setattr(pl.Series, "hash", lambda self, seed=0: pl.Series([7] * len(self),
                                                                          dtype=pl.UInt64))
    codes = key_codes(pa.array(["x", "y", "x"])).tolist()
    assert codes[0] == codes[2] != codes[1]
    msgs = CntMessages.from_rows([("1", "A", "9", None, "", 0.0, ()),
                                  ("2", "B", "8", None, "", 1.0, ()),
                                  ("3", "C", "9", None, "", 2.0, ())])
    assert ours(msgs, "co_retweet", 60, 1) == [("A", "C", 1), ("C", "A", 1)]


# -- every type against the real package ---------------------------------------------


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_all_types_match_toolkit(tmp_path: Path, seed: int) -> None:
    rows = gen_rows(seed)
    p = write_csv(tmp_path / "in.csv", rows)
    msgs = messages_from_cnt_csv(str(p))
    runs = [(kind, w, k) for kind in CNT_TYPES for w, k in ((0, 1), (5, 1), (30, 2), (60, 3))]
    ref = toolkit_edges(tmp_path, [p], runs)
    for (kind, w, k), expected in zip(runs, ref, strict=True):
        assert ours(msgs, kind, w, k) == expected, (kind, w, k)
    assert sum(map(len, ref)) > 200  # the comparison is not vacuous


@pytest.mark.parametrize("thr", [0.5, 0.8, 1.0])
def test_similarity_thresholds_match_toolkit(tmp_path: Path, thr: float) -> None:
    p = write_csv(tmp_path / "s.csv", gen_rows(7, n=200))
    msgs = messages_from_cnt_csv(str(p))
    runs = [("co_similar_tweet", 20, 1), ("co_similar_tweet", 120, 2)]
    ref = toolkit_edges(tmp_path, [p], runs, thr=thr)
    for (kind, w, k), expected in zip(runs, ref, strict=True):
        assert ours(msgs, kind, w, k, thr) == expected
    assert ref[0]


def test_fractional_windows_and_times_match_toolkit(tmp_path: Path) -> None:
    # toolkit's CLI takes integer windows; its library any number
    p = write_csv(tmp_path / "f.csv", gen_rows(3, n=150, span=60))
    msgs = messages_from_cnt_csv(str(p))
    runs = [("co_retweet", 0.5, 1), ("co_link", 2.25, 1), ("co_tweet", 0.125, 1)]
    for (kind, w, k), expected in zip(runs, toolkit_edges(tmp_path, [p], runs), strict=True):
        assert ours(msgs, kind, w, k) == expected


def test_several_files_match_toolkit(tmp_path: Path) -> None:
    rows = gen_rows(11, n=160)
    p1 = write_csv(tmp_path / "a.csv", rows[:90])
    p2 = write_csv(tmp_path / "b.csv", rows[80:])  # overlap: duplicate ids
    msgs = CntMessages.concat([messages_from_cnt_csv(str(p1)), messages_from_cnt_csv(str(p2))])
    runs = [("co_retweet", 30, 1), ("co_link", 30, 2)]
    for (kind, w, k), expected in zip(runs, toolkit_edges(tmp_path, [p1, p2], runs),
                                      strict=True):
        assert ours(msgs, kind, w, k) == expected


def _tweet(tid: int, user: str, text: str, *, rt: int | None = None,
           reply: int | None = None, urls: tuple[str, ...] = ()) -> dict[str, Any]:
    t: dict[str, Any] = {
        "id": tid, "id_str": str(tid), "created_at": "Fri Jun 13 09:12:44 +0000 2014",
        "full_text": text, "user": {"id_str": user, "screen_name": "n" + user},
        "in_reply_to_status_id_str": str(reply) if reply else None,
        "entities": {"urls": [{"url": "https://t.co/x", "expanded_url": u} for u in urls]},
    }
    if rt is not None:
        t["retweeted_status"] = {"id_str": str(rt), "full_text": text,
                                 "user": {"id_str": "orig"}, "entities": {"urls": []}}
    return t


def test_twitter_json_times_from_ids_match_toolkit(tmp_path: Path) -> None:
    rng = random.Random(5)
    base = 477394721357914112
    lines = [_tweet(base - (1 << 40), "lonely", "first line, lost by the toolkit",
                    urls=("http://z.example/",))]
    for i in range(120):
        ms = rng.randrange(0, 120_000)
        tid = base + (ms << 22) + i
        u = f"{rng.randrange(10)}"
        kind = rng.random()
        if kind < 0.35:
            lines.append(_tweet(tid, u, "RT text", rt=rng.randrange(4)))
        else:
            lines.append(_tweet(tid, u, rng.choice(["Good morning all", "see the map",
                                                    "@x good morning ALL"]),
                                reply=rng.choice([None, 5, 6]),
                                urls=tuple(rng.sample(URLS, rng.randint(1, 2)))))
    p = tmp_path / "tweets.jsonl"
    p.write_text("".join(json.dumps(t) + "\n" for t in lines), encoding="utf-8")
    msgs = messages_from_twitter_json(str(p))
    runs = [("co_retweet", 10, 1), ("co_tweet", 5, 1), ("co_link", 3.5, 1), ("co_reply", 20, 2)]
    ref = toolkit_edges(tmp_path, [p], runs, fmt="twitter_json")
    for (kind, w, k), expected in zip(runs, ref, strict=True):
        assert ours(msgs, kind, w, k) == expected, kind
    assert all(ref)


# -- Hypothesis: random small inputs, against a direct oracle and the real package -------


def oracle(rows: list[Row], kind: str, window: float, k: int) -> Edges:
    """The definition, written out: for every message of A, does B have a match?

    Messages are the first row per id; links come from every non-repost row (first
    row per message id and URL), each with its own row's user and time.
    """
    seen: set[object] = set()
    items: list[tuple[str, str, str, float]] = []   # (message id, user, key, time)
    if kind == "co_link":
        for r in rows:
            for u in r[7].split(" "):
                if u and not r[3] and (r[0], u) not in seen:
                    seen.add((r[0], u))
                    items.append((r[0], r[1], u, r[6]))
    else:
        for r in rows:
            if r[0] in seen:
                continue
            seen.add(r[0])
            if kind == "co_retweet" and r[3]:
                items.append((r[0], r[1], r[3], r[6]))
            elif kind == "co_tweet" and not r[3]:
                items.append((r[0], r[1], cotweet_text(r[5]), r[6]))
    hits: dict[tuple[str, str], set[str]] = defaultdict(set)
    for a in items:
        for b in items:
            if a[1] != b[1] and a[2] == b[2] and abs(b[3] - a[3]) <= window:
                hits[(a[1], b[1])].add(a[0])
    return sorted((s, t, len(m)) for (s, t), m in hits.items() if len(m) >= k)


ROWS = st.lists(
    st.tuples(
        st.integers(0, 40).map(str),                       # message id (dups allowed)
        st.sampled_from(["u1", "u2", "u3", "u4"]),
        st.just("n"),
        st.sampled_from(["", "", "r1", "r2"]),
        st.just(""),
        st.sampled_from(["aa bb", "AA  bb", "aa bb @cc", "bb", "@x"]),
        st.integers(0, 100).map(float),
        st.sampled_from(["http://a.example/", "http://b.example/",
                         "http://a.example/ http://b.example/"]),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(rows=ROWS, kind=st.sampled_from(["co_retweet", "co_tweet", "co_link"]),
       window=st.sampled_from([0, 1, 10, 60]), k=st.integers(1, 3))
def test_matches_definition(rows: list[Row], kind: str, window: int, k: int) -> None:
    msgs = CntMessages.from_rows((r[0], r[1], r[3], r[4], r[5], r[6], r[7].split())
                                 for r in rows)
    assert ours(msgs, kind, window, k) == oracle(rows, kind, window, k)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, window=st.sampled_from([0, 10, 60]), k=st.integers(1, 2))
def test_matches_toolkit_hypothesis(tmp_path: Path, rows: list[Row], window: int, k: int
                                    ) -> None:
    p = write_csv(tmp_path / f"h{uuid.uuid4().hex}.csv", rows)
    msgs = messages_from_cnt_csv(str(p))
    runs = [(kind, window, k) for kind in ("co_retweet", "co_tweet", "co_link")]
    for (kind, w, kk), expected in zip(runs, toolkit_edges(tmp_path, [p], runs), strict=True):
        assert ours(msgs, kind, w, kk) == expected


@pytest.mark.slow
def test_larger_input_matches_toolkit(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "big.csv", gen_rows(21, n=15_000, users=400, span=60_000))
    msgs = messages_from_cnt_csv(str(p))
    runs = [(kind, 60, 2) for kind in CNT_TYPES]
    for (kind, w, k), expected in zip(runs, toolkit_edges(tmp_path, [p], runs), strict=True):
        assert ours(msgs, kind, w, k) == expected, kind
