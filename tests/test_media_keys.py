"""Perceptual-hash media keys (echoscope.media_keys) and the simulator's images."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from echoscope import schema
from echoscope.actions import build_actions
from echoscope.bank import HashParams, hash_files
from echoscope.errors import InputError, ParameterError
from echoscope.ingest import ingest_files
from echoscope.media_keys import (
    MediaKeyParams,
    apply_media_keys,
    build_media_keys,
    cluster_media_hashes,
    rekey_media_actions,
)
from echoscope.simulate import SimParams, simulate
from echoscope.simulate._images import copy_bytes, media_file_name, render_picture
from echoscope.workspace import Workspace


def _pictures(tmp: Path) -> dict[str, str]:
    """Three pictures posted three times each (re-encoded copies) and two singletons;
    file path -> picture."""
    rng = np.random.default_rng(5)
    out: dict[str, str] = {}
    for p in range(5):
        pic = rng.bytes(32).hex()
        arr = render_picture(pic)
        for c in range(3 if p < 3 else 1):
            mid = int(rng.integers(1 << 40, 1 << 58))
            f = tmp / f"p{p}_c{c}.jpg"
            f.write_bytes(copy_bytes(arr, mid))
            out[str(f)] = pic
    return out


@pytest.fixture(scope="module")
def hashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, dict[str, str]]:
    d = tmp_path_factory.mktemp("pics")
    files = _pictures(d)
    return hash_files(sorted(files), HashParams(workers=1)), files


def test_copies_share_a_key_and_others_do_not(hashed: tuple[pa.Table, dict[str, str]]) -> None:
    hashes, files = hashed
    keys = cluster_media_hashes(hashes)
    assert set(keys) == set(files)
    by_picture: dict[str, set[str]] = {}
    for f, pic in files.items():
        by_picture.setdefault(pic, set()).add(keys[f])
    assert all(len(v) == 1 for v in by_picture.values())  # copies share one key
    assert len({k for v in by_picture.values() for k in v}) == 5  # pictures do not
    assert all(k.startswith("pdq:") and len(k) == 4 + 64 for k in keys.values())
    # the key is the smallest orig hash of the cluster
    origs = {r["item"]: r["value"] for r in hashes.to_pylist()
             if r["signal_type"] == "pdq" and r["variant"] == "orig"}
    for pic in by_picture:
        members = [f for f, p in files.items() if p == pic]
        assert keys[members[0]] == "pdq:" + min(origs[f] for f in members)


def test_radius_zero_separates_reencoded_copies(hashed: tuple[pa.Table, dict[str, str]]
                                                ) -> None:
    hashes, files = hashed
    keys = cluster_media_hashes(hashes, MediaKeyParams(radius=0, variants=False))
    assert len(set(keys.values())) == len(files)


@settings(max_examples=10, deadline=None)
@given(st.randoms(use_true_random=False))
def test_keys_do_not_depend_on_row_order(hashed: tuple[pa.Table, dict[str, str]],
                                         rnd: object) -> None:
    hashes, _ = hashed
    order = list(range(hashes.num_rows))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    assert cluster_media_hashes(hashes.take(pa.array(order))) == cluster_media_hashes(hashes)


def test_featureless_and_broken_files_get_md5_keys(tmp_path: Path) -> None:
    flat = np.full((120, 160, 3), 128, np.uint8)
    buf = io.BytesIO()
    Image.fromarray(flat).save(buf, format="PNG")
    (tmp_path / "a.png").write_bytes(buf.getvalue())
    (tmp_path / "b.png").write_bytes(buf.getvalue())
    flat2 = flat.copy()
    flat2[0, 0] = 0
    buf2 = io.BytesIO()
    Image.fromarray(flat2).save(buf2, format="PNG")
    (tmp_path / "c.png").write_bytes(buf2.getvalue())
    (tmp_path / "d.jpg").write_bytes(b"not an image")
    files = [str(tmp_path / n) for n in ("a.png", "b.png", "c.png", "d.jpg")]
    keys = cluster_media_hashes(hash_files(files, HashParams(workers=1)))
    assert all(keys[f].startswith("md5:") for f in files)
    assert keys[files[0]] == keys[files[1]] != keys[files[2]]
    assert keys[files[3]] != keys[files[0]]


def _posts(media: list[list[dict[str, str | None]] | None]) -> pa.Table:
    rows = [{"platform": "twitter", "post_id": f"p{i}", "account_id": f"a{i}", "media": m}
            for i, m in enumerate(media)]
    full = [{c: r.get(c) for c in schema.TABLES["posts"].columns} for r in rows]
    return pa.Table.from_pylist(full, schema=schema.TABLES["posts"].schema)


def test_apply_media_keys_sets_hash_by_post_and_position() -> None:
    item = {"media_id": "m", "url": "u", "hash": None}
    posts = _posts([[item, {**item, "media_id": "m2", "hash": "h0"}], [], None, [item]])
    keys = pa.table({"post_id": ["p0", "p3", "p9"], "media_index": [1, 0, 0],
                     "key": ["pdq:k1", "pdq:k3", "pdq:nope"]})
    out = apply_media_keys(posts, keys).column("media").to_pylist()
    assert out[0] == [item, {"media_id": "m2", "url": "u", "hash": "pdq:k1"}]
    assert out[1] == [] and out[2] is None
    assert out[3] == [{**item, "hash": "pdq:k3"}]
    assert apply_media_keys(posts, keys.slice(0, 0)) is posts
    # a sliced table (non-zero list offset) keeps the rows aligned
    sliced = apply_media_keys(posts.slice(3), keys).column("media").to_pylist()
    assert sliced == [[{**item, "hash": "pdq:k3"}]]


# -- the simulator's images and the whole path to media actions ------------------------

_SMALL = SimParams(posts=600, seed=7, days=2.0, styles=("image_repost",), members=8,
                   campaign_share=0.3, hard_negative_share=0.05, bot_share=0.0)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sim")
    simulate(d / "data", _SMALL, media_dir=d / "data" / "media")
    return d


def test_simulated_media_files_are_named_as_their_urls(sim: Path) -> None:
    names = {p.name for p in (sim / "data" / "media").iterdir()}
    urls = set()
    ids = []
    for line in (sim / "data" / "tweets.jsonl").read_text().splitlines():
        for m in json.loads(line).get("extended_entities", {}).get("media", []):
            urls.add(m["media_url_https"].rsplit("/", 1)[-1])
            ids.append(m["id"])
    assert names == urls and names
    assert media_file_name(ids[0]) in names


def test_images_do_not_change_the_posts(sim: Path, tmp_path: Path) -> None:
    again = simulate(tmp_path / "plain", _SMALL)
    assert again.files[0].read_bytes() == (sim / "data" / "tweets.jsonl").read_bytes()
    media = tmp_path / "media"
    simulate(tmp_path / "again", _SMALL, media_dir=media)
    for f in sorted(media.iterdir())[:20]:
        assert f.read_bytes() == (sim / "data" / "media" / f.name).read_bytes()


def test_formats_without_media_refuse_images(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="twitter-v1 or twitter-v2"):
        simulate(tmp_path, _SMALL.replace(format="cnt-csv"), media_dir=tmp_path / "m")


def test_media_actions_of_reuploads_share_keys(sim: Path, tmp_path: Path) -> None:
    truth = json.loads((sim / "data" / "truth.json").read_text())
    members = set(truth["campaigns"][0]["members"])
    with Workspace(tmp_path / "ws.duckdb") as ws:
        ingest_files([sim / "data" / "tweets.jsonl"], ws)
        build_actions(ws)
        before = ws.sql("SELECT account_id, key FROM actions WHERE type = 'media'").to_pylist()
        n = build_media_keys(ws, sim / "data" / "media")
        assert n == ws.count("media_keys") and n >= len(before)
        assert rekey_media_actions(ws) == len(before)
        after = ws.sql("SELECT account_id, key FROM actions WHERE type = 'media'").to_pylist()
        assert rekey_media_actions(ws) == 0  # idempotent
        # and the same keys when actions are rebuilt from the posts with the table applied
        posts = ws.sql("SELECT * FROM posts")
        applied = apply_media_keys(posts, ws.table("media_keys"))
    assert len(after) == len(before)
    camp_before = {r["key"] for r in before if r["account_id"] in members}
    camp_after = {r["key"] for r in after if r["account_id"] in members}
    assert len(camp_after) < len(camp_before)  # copies of one picture now share a key
    assert len(camp_after) <= len(truth["campaigns"][0]["images"])
    organic = {r["key"] for r in after if r["account_id"] not in members}
    assert not organic & camp_after  # the campaign's pictures are its own
    viral = set(truth["hard_negatives"]["viral_images"])
    own = [r["key"] for r in after if r["account_id"] not in members | viral]
    assert len(set(own)) == len(own)  # organic pictures of their own stay apart
    keys = {m["hash"] for ms in applied.column("media").to_pylist() for m in (ms or [])}
    assert {r["key"] for r in after} <= keys


def test_build_media_keys_needs_a_folder(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws.duckdb") as ws, pytest.raises(InputError, match="no such"):
        build_media_keys(ws, tmp_path / "absent")


@pytest.mark.slow
def test_analyze_finds_image_reposts_with_media_dir(sim: Path) -> None:
    from echoscope.pipeline import AnalyzeParams, analyze
    from echoscope.simulate import evaluate

    data = sim / "data"
    analyze([data / "tweets.jsonl"], sim / "plain", params=AnalyzeParams(seed=0))
    analyze([data / "tweets.jsonl"], sim / "media", media_dir=data / "media",
            params=AnalyzeParams(seed=0))
    plain = evaluate(data / "truth.json", sim / "plain")["accounts"]
    media = evaluate(data / "truth.json", sim / "media")["accounts"]
    assert plain["recall"] == 0
    assert media["recall"] > 0.5 and media["precision"] == 1.0


def test_cli_simulate_media_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from echoscope.cli import main

    out = tmp_path / "sim"
    assert main(["simulate", "--out", str(out), "--posts", "300", "--styles", "image_repost",
                 "--media-dir", str(out / "media"), "-q"]) == 0
    assert "image files" in capsys.readouterr().out
    assert any((out / "media").iterdir())
    assert main(["simulate", "--out", str(tmp_path / "c"), "--posts", "300",
                 "--format", "cnt-csv", "--media-dir", str(tmp_path / "m"), "-q"]) == 2
