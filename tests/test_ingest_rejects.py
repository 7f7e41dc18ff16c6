"""Bad input: a clear error or a reject, never a silent loss; compressed input and stdin."""

from __future__ import annotations

import csv
import gzip
import io
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from echoscope.errors import InputError, RecordError
from echoscope.ingest import ingest_files
from echoscope.workspace import Workspace

V1 = {
    "id_str": "1", "created_at": "Fri Jun 13 09:12:44 +0000 2014", "text": "hello #Tag",
    "user": {"id_str": "10", "screen_name": "a"},
    "entities": {"hashtags": [{"text": "Tag"}], "urls": [], "user_mentions": []},
}


def v1_line(i: int, **kw: Any) -> bytes:
    t = dict(V1, id_str=str(i), **kw)
    return orjson.dumps(t) + b"\n"


def ingest(path: Path | str, **kw: Any) -> tuple[Workspace, Any]:
    ws = Workspace(":memory:")
    return ws, ingest_files([str(path)], ws, **kw)


def rejects(ws: Workspace) -> list[dict[str, Any]]:
    return ws.sql("SELECT * FROM rejects ORDER BY source_record").to_pylist()


def test_truncated_bom_invalid_utf8_missing_user_wrong_types(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    lines = [
        b"\xef\xbb\xbf" + v1_line(1),                    # BOM at the start: tolerated
        v1_line(2, user="not an object"),                # wrong type
        orjson.dumps({k: v for k, v in V1.items() if k != "user"}) + b"\n",  # no user
        v1_line(4)[:-1].replace(b"hello", b"h\xffllo") + b"\n",  # invalid UTF-8
        v1_line(5, created_at=12345),                    # wrong type
        b'{"delete": {"status": {"id_str": "9"}}}\n',    # a notice, not a post
        b"[1, 2]\n",                                     # JSON, but not a tweet
        v1_line(8)[:40],                                 # truncated last line
    ]
    f.write_bytes(b"".join(lines))
    ws, s = ingest(f, format="twitter-v1")
    r = s.files[0]
    assert (r.records, r.posts, r.skipped, r.rejects) == (8, 1, 1, 6)
    rows = rejects(ws)
    assert [x["source_record"] for x in rows] == [2, 3, 4, 5, 7, 8]
    reasons = [x["reason"] for x in rows]
    assert reasons[0] == "missing field user"
    assert reasons[1] == "missing field user"
    assert reasons[2].startswith("invalid UTF-8")
    assert reasons[3] == "missing field created_at"
    assert reasons[4].startswith("not a tweet object")
    assert reasons[5].startswith("invalid JSON (truncated?)")
    assert rows[2]["raw"].startswith(b'{"id_str":"4"')  # the raw bytes are kept
    assert all(x["format"] == "twitter-v1" for x in rows)


def test_strict_stops_and_rolls_back(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(v1_line(1))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(v1_line(2) + b"{nope\n" + v1_line(3))
    ws = Workspace(":memory:")
    ingest_files([str(good)], ws, strict=True)
    with pytest.raises(RecordError, match=r"bad\.jsonl, record 2: invalid JSON"):
        ingest_files([str(bad)], ws, strict=True)
    assert ws.count("posts") == 1 and ws.count("rejects") == 0 and ws.count("files") == 1


def test_empty_file_is_an_input_error(tmp_path: Path) -> None:
    f = tmp_path / "empty.jsonl"
    f.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jsonl is empty"):
        ingest(f)
    g = tmp_path / "blank.jsonl.gz"
    g.write_bytes(gzip.compress(b"\n\n"))
    with pytest.raises(InputError, match="is empty"):
        ingest(g)


def test_unknown_and_wrong_format(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("just some words\nand more\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"cannot tell the format of .*notes\.txt; pass --format"):
        ingest(f)
    g = tmp_path / "tweets.jsonl"
    g.write_bytes(v1_line(1) + v1_line(2))
    _ws, s = ingest(g, format="bluesky")
    r = s.files[0]
    assert r.rejects == r.records == 2
    assert r.warning is not None and "could be read as bluesky" in r.warning
    assert "--format" in r.warning


def test_gzip_zstd_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = v1_line(1) + v1_line(2) + v1_line(3)
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    zs = tmp_path / "t.jsonl.zst"
    zs.write_bytes(zstandard.ZstdCompressor().compress(data))
    for path in (gz, zs):
        _ws, s = ingest(path)
        assert (s.files[0].format, s.files[0].posts) == ("twitter-v1", 3), path
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(data))))
    _ws, s = ingest("-")
    assert s.files[0].path == "-" and s.files[0].posts == 3
    # the same bytes from a file are recognised as already ingested
    ws2 = Workspace(":memory:")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    ingest_files(["-"], ws2)
    plain = tmp_path / "t.jsonl"
    plain.write_bytes(data)
    assert ingest_files([str(plain)], ws2).files[0].already_ingested


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = b"".join(v1_line(i) for i in range(1, 2001))
    gz = gzip.compress(data)
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(gz[: len(gz) * 2 // 3])
    ws, s = ingest(f)
    r = s.files[0]
    assert 0 < r.posts < 2000
    assert r.records == r.posts + r.rejects + r.skipped
    assert any("stream broken" in x["reason"] or "truncated" in x["reason"]
               for x in rejects(ws))


def test_csv_rejects(tmp_path: Path) -> None:
    f = tmp_path / "io_tweets.csv"
    header = ("tweetid,userid,user_display_name,user_screen_name,tweet_text,tweet_time,"
              "is_retweet,hashtags,urls,user_mentions\n")
    f.write_bytes(
        b"\xef\xbb\xbf" + header.encode()
        + b"1,u1,U,u,hello,2018-12-02 14:07,False,[],[],[]\n"
        + b"2,u1,U,u,bad time,yesterday,False,[],[],[]\n"
        + b"3,u1,U,u,h\xe9llo,2018-12-02 14:07,False,[],[],[]\n"
        + b"4,u1,U,u,too few fields\n"
        + b"5,,U,u,no user,2018-12-02 14:07,False,[],[],[]\n"
        + b'6,u1,U,u,"multi\nline text",2018-12-02 14:08,False,[],[],[]\n'
    )
    ws, s = ingest(f)
    r = s.files[0]
    assert r.format == "x-io"
    assert (r.records, r.posts, r.rejects) == (6, 2, 4)
    rows = rejects(ws)
    assert [x["source_record"] for x in rows] == [3, 4, 5, 6]  # line numbers
    assert rows[0]["reason"].startswith("bad value")
    assert rows[1]["reason"].startswith("invalid UTF-8")
    assert rows[2]["reason"].startswith("wrong number of fields")
    assert rows[3]["reason"] == "missing field userid"
    assert ws.scalar("SELECT text FROM posts WHERE post_id = '6'") == "multi\nline text"


def test_csv_missing_required_column(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="has no column userid"):
        ingest(f, format="x-io")


# --- the invariant: posts + rejects + skipped == records read, for every loader --------

def _examples() -> dict[str, tuple[str, bytes]]:
    shared = Path(__file__).resolve().parents[2] / "shared" / "formats" / "examples"
    out: dict[str, tuple[str, bytes]] = {}
    if shared.is_dir():
        for name, fmt in [
            ("twitter_v1_1_twarc1.jsonl", "twitter-v1"),
            ("twitter_v2_twarc2_flattened.jsonl", "twitter-v2"),
            ("twitter_v2_twarc_csv.csv", "twarc-csv"),
            ("twitter_io_tweets_csv_hashed.csv", "x-io"),
            ("bluesky_jetstream_v1.jsonl", "bluesky"),
            ("telegram_result.json", "telegram"),
            ("mastodon_status_reblog.json", "mastodon"),
        ]:
            out[fmt] = (name, (shared / name).read_bytes())
    out["ira"] = ("ira.csv", (
        "author_id,content,publish_date,post_type\n"
        + "".join(f"acct{i % 3},text number {i},2015-11-26 10:{i:02d}:00,{'R' if i % 2 else ''}\n"
                  for i in range(12))).encode())
    out["coortweet-multi"] = ("g.csv", (
        "account_id,post_id,url_id,hashtag_id,domain_id,phash_id,timestamp\n"
        + "".join(f"fb_{i % 4},{i // 2},{i},,{i % 5},,{1629589000 + i}\n"
                  for i in range(12))).encode())
    out["csv"] = ("c.csv", (
        "post_id,account_id,created_at,text\n"
        + "".join(f"{i},u{i % 3},2024-01-01T00:00:{i:02d}Z,hello {i}\n"
                  for i in range(12))).encode())
    out["mastodon-jsonl"] = ("m.jsonl", b"".join(
        orjson.dumps({"uri": f"https://a.example/s/{i}", "created_at": "2024-01-01T00:00:00Z",
                      "content": f"<p>post {i}</p>",
                      "account": {"acct": "x", "url": "https://a.example/@x"}}) + b"\n"
        for i in range(8)))
    return out


EXAMPLES = _examples()
_LINE_FORMATS = {"twitter-v1", "twitter-v2", "bluesky", "mastodon-jsonl"}


def _count_csv_records(data: bytes) -> int:
    """Records as echoscope defines them: lines end at LF (CRLF too); a bare CR inside a
    line is not a record separator, and a line the csv module cannot parse is one record."""
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    lines = iter(_lf_lines(text))
    reader = csv.reader(lines)
    n = -1  # the header
    while True:
        try:
            r = next(reader)
        except StopIteration:
            return max(n, 0)
        except csv.Error:
            n += 1
            continue
        if n < 0 or (r and not (len(r) == 1 and not r[0].strip())):
            n += 1


def _lf_lines(text: str) -> list[str]:
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


_corruption = st.sampled_from(["truncate", "garbage", "bad_utf8", "drop_char", "dup"])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(EXAMPLES))
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_invariant_under_corruption(fmt: str, data: st.DataObject) -> None:
    name, content = EXAMPLES[fmt]
    lines = content.split(b"\n")
    n_corrupt = data.draw(st.integers(1, 3))
    for _ in range(n_corrupt):
        i = data.draw(st.integers(0, len(lines) - 1))
        how = data.draw(_corruption)
        line = lines[i]
        if how == "truncate" and line:
            line = line[: data.draw(st.integers(0, max(0, len(line) - 1)))]
        elif how == "garbage":
            line = data.draw(st.binary(min_size=1, max_size=30)).replace(b"\n", b" ")
        elif how == "bad_utf8":
            pos = data.draw(st.integers(0, len(line)))
            line = line[:pos] + b"\xff\xfe" + line[pos:]
        elif how == "drop_char" and line:
            pos = data.draw(st.integers(0, len(line) - 1))
            line = line[:pos] + line[pos + 1:]
        elif how == "dup":
            lines.insert(i, line)
        lines[i] = line
    corrupted = b"\n".join(lines)
    real_fmt = "mastodon" if fmt == "mastodon-jsonl" else fmt
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(corrupted)
        ws = Workspace(":memory:")
        try:
            s = ingest_files([str(p)], ws, format=real_fmt)
        except InputError as e:
            # only a broken header / empty file may stop a file; and then nothing is written
            msg = str(e)
            assert any(w in msg for w in ("empty", "column", "header", "cannot be read")), e
            assert ws.count("posts") == ws.count("rejects") == 0
            return
        r = s.files[0]
        assert r.records == r.posts + r.rejects + r.skipped
        assert ws.count("rejects") == r.rejects
        assert ws.count("posts") == r.new_posts <= r.posts
        f = ws.sql("SELECT records, posts, skipped, rejects FROM files").to_pylist()[0]
        assert f == {"records": r.records, "posts": r.posts, "skipped": r.skipped,
                     "rejects": r.rejects}
        if fmt in _LINE_FORMATS:
            body = corrupted[3:] if corrupted.startswith(b"\xef\xbb\xbf") else corrupted
            assert r.records == sum(1 for ln in body.split(b"\n") if ln.strip())
        elif fmt in ("ira", "csv", "x-io", "twarc-csv", "coortweet-multi"):
            assert r.records == _count_csv_records(corrupted)
        ws.close()
