from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from echoscope import schema
from echoscope.actions import ActionParams, actions_from_posts, build_actions
from echoscope.detect.minhash import cluster_near_duplicates, jaccard_estimate, minhash_signatures
from echoscope.errors import ParameterError
from echoscope.workspace import Workspace

T0 = dt.datetime(2024, 1, 1)


def make_posts(rows: list[dict]) -> pa.Table:
    cols = schema.TABLES["posts"].columns
    full = []
    for i, r in enumerate(rows):
        d = {c: None for c in cols}
        d.update(platform="twitter", post_id=f"p{i}", kind="post", urls=[], hashtags=[],
                 mentions=[], mention_ids=[], media=[], source_file="x", source_record=i + 1)
        d.update(r)
        if isinstance(d["created_at"], int | float):
            d["created_at"] = T0 + dt.timedelta(seconds=d["created_at"])
        full.append(d)
    return pa.Table.from_pylist(full, schema=schema.TABLES["posts"].schema)


LONG = "The quick brown fox jumps over the lazy dog near the river bank"


def by_type(actions: pa.Table) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for r in actions.to_pylist():
        out.setdefault(r["type"], []).append((r["account_id"], r["key"]))
    return out


def test_known_answer_all_types():
    posts = make_posts([
        dict(account_id="a", created_at=0, text=LONG + " https://t.co/x @bob",
             urls=["https://www.example.org/a"], hashtags=["news", "fox"], mentions=["bob"],
             media=[{"media_id": "m1", "url": None, "hash": "h1"}]),
        dict(account_id="b", created_at=5, text="RT @a: " + LONG, kind="repost",
             parent_post_id="p0", urls=["https://www.example.org/a"], hashtags=["news"]),
        dict(account_id="c", created_at=9, text="@a nice", kind="reply", parent_post_id="p0"),
        dict(account_id="d", created_at=9, text=LONG.upper() + "!!", kind="quote",
             parent_post_id="p0", urls=["https://twitter.com/a/status/0"]),
        dict(account_id="e", created_at=None, text=LONG),
    ])
    acts = actions_from_posts(posts)
    assert acts.schema.equals(schema.TABLES["actions"].schema)
    t = by_type(acts)
    assert t["repost"] == [("b", "p0")]
    assert t["reply"] == [("c", "p0")]
    assert t["quote"] == [("d", "p0")]
    # the reply text is too short; the repost gives no text; d's text differs (!!)
    assert [a for a, _ in t["text"]] == ["a", "d"] or sorted(a for a, _ in t["text"]) == ["a", "d"]
    assert len({k for _, k in t["text"]}) == 2
    # a and d are near-duplicates: same near_text key
    assert len({k for _, k in t["near_text"]}) == 1
    assert sorted(t["url"]) == [("a", "https://www.example.org/a"),
                                ("d", "https://twitter.com/a/status/0")]
    assert t["domain"] == [("a", "example.org")]  # platform host excluded
    assert sorted(t["hashtag"]) == [("a", "fox"), ("a", "news")]
    assert t["hashtag_set"] == [("a", "fox news")]
    assert t["media"] == [("a", "h1")]
    assert t["mention"] == [("a", "bob")]
    assert "e" not in set(acts.column("account_id").to_pylist())


def test_repost_content_option_and_types_subset():
    posts = make_posts([
        dict(account_id="b", created_at=5, kind="repost", parent_post_id="p9",
             hashtags=["x"], text=LONG),
    ])
    assert by_type(actions_from_posts(posts)).keys() == {"repost"}
    p = ActionParams(repost_content=True, types=("hashtag", "repost"), text_kinds=("repost",))
    assert by_type(actions_from_posts(posts, p)).keys() == {"repost", "hashtag"}


def test_text_normalisation_urls_mentions_case_arabic():
    base = "هذا نص تجريبي طويل بما فيه الكفاية للمقارنة"
    posts = make_posts([
        dict(account_id="a", created_at=0, text=base + " https://t.co/abc"),
        dict(account_id="b", created_at=1, text="@x " + base.replace("ا", "أ", 1)),
        dict(account_id="c", created_at=2, text=base + " https://t.co/zzz @y"),
    ])
    t = by_type(actions_from_posts(posts, ActionParams(types=("text",))))
    assert len({k for _, k in t["text"]}) == 1


def test_duplicate_hashtags_act_once():
    posts = make_posts([dict(account_id="a", created_at=0, hashtags=["x", "x"])])
    t = by_type(actions_from_posts(posts, ActionParams(types=("hashtag", "hashtag_set"))))
    assert t == {"hashtag": [("a", "x")]}


def test_row_order_independent():
    rows = [dict(account_id=f"a{i % 3}", created_at=i, text=f"{LONG} {i % 2}",
                 hashtags=["h", f"t{i % 2}"]) for i in range(12)]
    a = actions_from_posts(make_posts(rows))
    b = actions_from_posts(make_posts(rows[::-1]).sort_by("account_id"))
    # post ids differ by position, so compare without them
    key = lambda t: sorted((r["account_id"], r["time"], r["type"], r["key"])  # noqa: E731
                           for r in t.to_pylist())
    assert key(a) == key(b)


def test_params_limits():
    with pytest.raises(ParameterError):
        ActionParams(near_threshold=2.0)
    with pytest.raises(ParameterError):
        ActionParams(types=("bogus",))
    with pytest.raises(ParameterError):
        ActionParams(num_perm=64, bands=5)


def test_minhash_estimates_jaccard():
    a = "".join(chr(0x61 + (i * 7) % 26) for i in range(300))
    b = a[:240] + "z" * 60
    sa, sb = minhash_signatures([a, b], num_perm=256)
    sh = lambda s: {s[i:i + 5] for i in range(len(s) - 4)}  # noqa: E731
    exact = len(sh(a) & sh(b)) / len(sh(a) | sh(b))
    assert abs(jaccard_estimate(sa, sb) - exact) < 0.1


def test_near_duplicate_clusters():
    texts = [LONG, LONG + " today", "completely different words about gardening and soil", LONG]
    lab = cluster_near_duplicates(texts)
    assert lab[0] == lab[1] == lab[3] == 0
    assert lab[2] == 2
    assert list(cluster_near_duplicates([])) == []


def test_build_actions_workspace():
    posts = make_posts([
        dict(account_id="a", created_at=0, hashtags=["x"]),
        dict(account_id="b", created_at=None, hashtags=["x"]),
    ])
    with Workspace(":memory:") as ws:
        ws.append("posts", posts)
        n = build_actions(ws, ActionParams(types=("hashtag",)))
        assert n == 1 == ws.count("actions")
        run = ws.runs()[-1]
        assert run["command"] == "actions"
        assert run["counts"]["posts_without_time"] == 1
        assert run["counts"]["actions_by_type"] == {"hashtag": 1}


def test_near_duplicate_clusters_recover_planted_families():
    import numpy as np

    rng = np.random.default_rng(3)
    vocab = [f"{w}{i}" for i, w in enumerate(["river", "stone", "cloud", "market", "garden",
                                              "lamp", "window", "bridge"] * 40)]
    bases = [" ".join(rng.choice(vocab, 16)) for _ in range(20)]
    texts, family = [], []
    for f, b in enumerate(bases):
        for _ in range(10):
            words = b.split()
            words[int(rng.integers(0, 16))] = str(rng.choice(vocab))  # one word changed
            texts.append(" ".join(words))
            family.append(f)
    lab = cluster_near_duplicates(texts, seed=7)
    sh = [{t[i:i + 5] for i in range(len(t) - 4)} for t in texts]
    close = 0
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if family[i] != family[j]:
                assert lab[i] != lab[j]  # unrelated texts never merge
            elif len(sh[i] & sh[j]) / len(sh[i] | sh[j]) >= 0.85:
                close += 1
                assert lab[i] == lab[j]  # close variants always do
    assert close > 30
    # deterministic per seed
    assert cluster_near_duplicates(texts, seed=7).tolist() == lab.tolist()


def test_parentless_reposts_keyed_by_reposted_text():
    tail = " #walmart https://t.co/abc"
    posts = make_posts([
        dict(account_id="a", created_at=0, kind="repost", text="RT @src: " + LONG + tail),
        dict(account_id="b", created_at=9, kind="repost", text=LONG.upper() + tail),
        dict(account_id="c", created_at=9, kind="repost", text=LONG + " https://t.co/zzz"),
        dict(account_id="d", created_at=9, kind="repost", text="so true"),  # too short
        dict(account_id="e", created_at=9, kind="repost", text=LONG + tail,
             parent_post_id="p7"),
    ])
    t = by_type(actions_from_posts(posts))
    keys = dict(t["repost"])
    assert keys["a"] == keys["b"] and keys["a"].startswith("text:")
    assert keys["c"] != keys["a"]  # other links: another original
    assert "d" not in keys and keys["e"] == "p7"
    off = by_type(actions_from_posts(posts, ActionParams(parentless_reposts=False)))
    assert off["repost"] == [("e", "p7")]
