"""Matching posts, media and hashed files against banks (known answers + CLI)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from echoscope import schema
from echoscope.bank import (
    MatchParams,
    hash_array,
    import_bank,
    match_workspace,
    pdq_distance,
)
from echoscope.bank.synthetic import edit, synthetic_image
from echoscope.cli import main
from echoscope.errors import ParameterError
from echoscope.workspace import Workspace

NEAR = "a long neutral invented sentence about gardening tools, rain and the village fair"
NEAR_EDIT = "A long neutral invented sentence about gardening tools, rain and the village fair!!"
EXACT = "Meet at the square at noon, bring blue flags"


def _flip(hexstr: str, nbits: int) -> str:
    v = int(hexstr, 16)
    for b in range(nbits):
        v ^= 1 << (b * 5)
    return f"{v:064x}"


def _posts(rows: list[dict]) -> pa.Table:
    base = {c: None for c in schema.TABLES["posts"].columns}
    full = []
    for i, r in enumerate(rows, 1):
        row = dict(base, platform="twitter", account_id=f"acc{i}", kind="post",
                   created_at=dt.datetime(2024, 1, 1, 12, i), urls=[], hashtags=[], mentions=[],
                   mention_ids=[], media=[], source_file="test", source_record=i)
        row.update(r)
        full.append(row)
    return pa.Table.from_pylist(full, schema=schema.TABLES["posts"].schema)


@pytest.fixture()
def case(tmp_path: Path) -> dict:
    img = synthetic_image(42, (240, 180))
    other = synthetic_image(43, (240, 180))
    media = tmp_path / "media"
    media.mkdir()
    edit(img, "mirror").save(media / "m1.png")          # found by media id
    edit(img, "crop2.5").save(media / "photo_b.png")    # found by the URL's file name
    other.save(media / "m3.png")                        # unrelated
    (media / "m4.png").write_bytes(b"\x89PNG broken")   # unreadable
    h = {x.variant: x for x in hash_array(__import__("numpy").asarray(img))}
    orig = h["orig"].value
    review = _flip(orig, 40)
    md5 = "0123456789abcdef0123456789abcdef"
    bank = tmp_path / "known.csv"
    bank.write_text(
        "signal_type,value,label,item\n"
        f"pdq,{orig},imgs,known-image\n"
        f"pdq,{h['crop95'].value},imgs,known-image\n"
        f"md5,{md5},files,known-file\n"
        f'text_exact,"{EXACT}",texts,\n'
        f'text_near,"{NEAR}",texts,\n'
        "url,https://example.org/article?id=7,links,\n"
    )
    posts = _posts([
        {"post_id": "p1", "text": "meet at the SQUARE at noon,   bring blue flags"},
        {"post_id": "p2", "text": NEAR_EDIT},
        {"post_id": "p3", "text": "something else entirely, about cooking pasta at home"},
        {"post_id": "p4", "urls": ["https://example.org/article?id=7"]},
        {"post_id": "p5", "media": [{"media_id": "m1", "url": "https://cdn.example/x/m1.png",
                                     "hash": None}]},
        {"post_id": "p6", "media": [{"media_id": "zz", "url": "https://cdn.example/photo_b.png:large",
                                     "hash": None}]},
        {"post_id": "p7", "media": [{"media_id": "m3", "url": None, "hash": None}]},
        {"post_id": "p8", "media": [{"media_id": "m4", "url": None, "hash": None}]},
        {"post_id": "p9", "media": [{"media_id": "x9", "url": None, "hash": review}]},
        {"post_id": "p10", "media": [{"media_id": "x10", "url": None, "hash": md5.upper()}]},
        {"post_id": "p11", "media": [{"media_id": "nofile", "url": None, "hash": None}]},
    ])
    ws_path = tmp_path / "case.echoscope.duckdb"
    with Workspace(ws_path) as ws:
        ws.append("posts", posts)
    return {"ws": ws_path, "bank": bank, "media": media, "orig": orig, "review": review}


def test_match_workspace_known_answer(case: dict) -> None:
    with Workspace(case["ws"]) as ws:
        m = match_workspace(ws, [str(case["bank"])], case["media"])
        rows = m.to_pylist()
        by_post = {}
        for r in rows:
            by_post.setdefault(r["post_id"], []).append(r)
        assert set(by_post) == {"p1", "p2", "p4", "p5", "p6", "p9", "p10"}
        assert [r["signal_type"] for r in by_post["p1"]] == ["text_exact"]
        assert by_post["p2"][0]["signal_type"] == "text_near"
        assert by_post["p2"][0]["similarity"] >= 0.8 and by_post["p2"][0]["distance"] is None
        assert by_post["p4"][0]["signal_type"] == "url" and by_post["p4"][0]["label"] == "links"
        p5 = by_post["p5"][0]
        assert (p5["signal_type"], p5["media_id"], p5["query_variant"], p5["match_kind"]) == (
            "pdq", "m1", "mirror", "auto")
        assert p5["distance"] <= 8 and p5["item"] == "known-image"
        assert Path(p5["file"]).name == "m1.png"
        p6 = by_post["p6"][0]
        assert p6["match_kind"] == "auto" and Path(p6["file"]).name == "photo_b.png"
        p9 = by_post["p9"][0]
        assert p9["match_kind"] == "review" and p9["distance"] == 40
        assert pdq_distance(case["review"], case["orig"]) == 40
        assert by_post["p10"][0]["signal_type"] == "md5"
        assert all(r["account_id"] for r in rows)
        # one row per post, media item and bank item
        assert len(by_post["p5"]) == 1 and len(by_post["p6"]) == 1
        stored = ws.table("bank_matches")
        assert stored.num_rows == m.num_rows
        # re-running replaces, does not duplicate; the bank file is imported once
        match_workspace(ws, [str(case["bank"])], case["media"])
        assert ws.count("bank_matches") == m.num_rows
        assert ws.scalar("SELECT count(DISTINCT bank) FROM bank_entries") == 1


def test_review_band_off_and_radius(case: dict) -> None:
    with Workspace(case["ws"]) as ws:
        import_bank(ws, "known", case["bank"])
        m = match_workspace(ws, ["known"], params=MatchParams(review_radius=0))
        assert "review" not in m.column("match_kind").to_pylist()
        m = match_workspace(ws, ["known"], params=MatchParams(pdq_radius=40, review_radius=40))
        p9 = [r for r in m.to_pylist() if r["post_id"] == "p9"]
        assert p9 and p9[0]["match_kind"] == "auto"
        m = match_workspace(ws, [], params=MatchParams(signal_types=("url",)))
        assert set(m.column("signal_type").to_pylist()) == {"url"}


def test_without_media_dir_only_recorded_hashes(case: dict) -> None:
    with Workspace(case["ws"]) as ws:
        m = match_workspace(ws, [str(case["bank"])])
        media = {r["post_id"] for r in m.to_pylist() if r["signal_type"] in ("pdq", "md5")}
        assert media == {"p9", "p10"}


def test_params_and_unknown_bank(case: dict) -> None:
    with pytest.raises(ParameterError, match="review_radius"):
        MatchParams(pdq_radius=40, review_radius=35)
    with pytest.raises(ParameterError, match="pdq_radius"):
        MatchParams(pdq_radius=100)
    with Workspace(case["ws"]) as ws, pytest.raises(ParameterError, match="no bank named"):
        match_workspace(ws, ["nope"])
    from echoscope.errors import InputError

    with Workspace(case["ws"]) as ws, pytest.raises(InputError, match="no such file"):
        match_workspace(ws, ["missing.csv"])


def test_cli_match_hashes_and_workspace(case: dict, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    hashes = tmp_path / "h.csv"
    assert main(["hash", str(case["media"]), "-o", str(hashes), "-q"]) == 0
    capsys.readouterr()
    out = tmp_path / "m.csv"
    assert main(["match", "--bank", str(case["bank"]), "--hashes", str(hashes),
                 "-o", str(out), "-q"]) == 0
    text = out.read_text()
    assert "m1.png" in text and "photo_b.png" in text and "m3.png" not in text
    assert "2 matches" in capsys.readouterr().err
    assert main(["match", "--bank", str(case["bank"]), "-w", str(case["ws"]),
                 "--media-dir", str(case["media"]), "-q"]) == 0
    cap = capsys.readouterr()
    assert cap.out.startswith('"query_type"') and "p5" in cap.out
    assert "1 for review" in cap.err
    # exactly one of --hashes / --workspace
    assert main(["match", "--bank", str(case["bank"]), "-q"]) == 2
    assert main(["match", "--bank", str(case["bank"]), "--hashes", str(hashes),
                 "-w", str(case["ws"]), "-q"]) == 2
    assert main(["match", "--bank", str(case["bank"]), "--hashes", str(hashes),
                 "--radius", "99", "-q"]) == 2
    assert "pdq_radius" in capsys.readouterr().err


def test_cli_match_reports_bad_bank_rows(case: dict, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(case["bank"].read_text() + "pdq,xyz,imgs,\n")
    hashes = tmp_path / "h.csv"
    hashes.write_text("item,signal_type,value\nf,md5,0123456789abcdef0123456789abcdef\n")
    assert main(["match", "--bank", str(bad), "--hashes", str(hashes), "-q"]) == 0
    cap = capsys.readouterr()
    assert "line 8" in cap.err and "known-file" in cap.out
    assert main(["match", "--bank", str(bad), "--hashes", str(hashes), "--strict", "-q"]) == 2


def _pdq_tables(seed: int, n_bank: int, n_query: int) -> tuple[pa.Table, pa.Table]:
    import numpy as np

    from echoscope.bank._signals import words_to_pdq
    from echoscope.bank.hashing import HASH_SCHEMA

    rng = np.random.default_rng(seed)
    bank = rng.integers(0, 2**64 - 1, size=(n_bank, 4), dtype=np.uint64, endpoint=True)
    q = bank[rng.integers(0, n_bank, n_query)].copy()
    for i in range(n_query):
        for b in rng.choice(256, size=int(rng.integers(0, 70)), replace=False):
            q[i, b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    entries = pa.Table.from_pylist([
        {"bank": "b", "signal_type": "pdq", "value": v, "label": "", "source": "",
         "added_at": None, "item": f"e{i}", "variant": "orig", "quality": None}
        for i, v in enumerate(words_to_pdq(bank))], schema=schema.TABLES["bank_entries"].schema)
    hashes = pa.Table.from_pylist([
        {"item": f"q{i}", "kind": "image", "signal_type": "pdq", "variant": "orig", "value": v,
         "quality": 100, "error": None} for i, v in enumerate(words_to_pdq(q))],
        schema=HASH_SCHEMA)
    return hashes, entries


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), r1=st.integers(0, 40), extra=st.integers(0, 20))
def test_property_radius_monotone_and_order_free(seed: int, r1: int, extra: int) -> None:
    from echoscope.bank import match_hashes

    hashes, entries = _pdq_tables(seed, 60, 30)

    def pairs(h: pa.Table, e: pa.Table, r: int) -> set[tuple[str, str, int]]:
        m = match_hashes(h, e, MatchParams(pdq_radius=r, review_radius=0)).to_pylist()
        return {(x["query_id"], x["item"], x["distance"]) for x in m}

    small = pairs(hashes, entries, r1)
    large = pairs(hashes, entries, r1 + extra)
    assert small <= large  # raising the radius never removes a match
    assert all(d <= r1 for _, _, d in small)
    shuffled = pairs(hashes.take(list(reversed(range(hashes.num_rows)))),
                     entries.take(list(reversed(range(entries.num_rows)))), r1)
    assert shuffled == small  # row order does not matter


def test_text_near_threshold_monotone(tmp_path: Path) -> None:
    from echoscope.bank import hash_texts, match_hashes, read_bank_file

    bank = tmp_path / "t.csv"
    bank.write_text(f'signal_type,value\ntext_near,"{NEAR}"\n')
    entries, _ = read_bank_file(bank)
    texts = [("same", NEAR_EDIT), ("half", NEAR[:45] + " and totally different words follow"),
             ("other", "an unrelated invented remark about trains and the weather today")]
    hashes = hash_texts(texts)
    got = {}
    for t in (0.3, 0.5, 0.8, 0.95):
        m = match_hashes(hashes, entries, MatchParams(text_threshold=t)).to_pylist()
        got[t] = {r["query_id"] for r in m if r["signal_type"] == "text_near"}
    assert got[0.8] == {"same"} and "other" not in got[0.3]
    assert got[0.95] <= got[0.8] <= got[0.5] <= got[0.3]
