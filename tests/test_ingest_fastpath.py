"""The fast paths of the v1.1 loader (msgspec, the default; DuckDB SQL) give exactly what
the reference Python parser gives."""

from __future__ import annotations

import copy
import gzip
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from echoscope.ingest import _driver, ingest_files
from echoscope.workspace import Workspace

BASE: dict[str, Any] = {
    "created_at": "Fri Jun 13 09:12:44 +0000 2014", "id": 100, "id_str": "100",
    "text": "RT @orig: original words #Tag https://t.co/abc",
    "source": '<a href="http://app.example" rel="nofollow">Some &amp; App</a>',
    "lang": "en", "is_quote_status": False,
    "user": {"id": 1, "id_str": "1", "screen_name": "Alice", "name": "Alice A",
             "created_at": "Mon May 12 04:01:17 +0000 2014", "followers_count": 5,
             "friends_count": 6, "statuses_count": 7, "description": "d",
             "profile_image_url_https": "https://pbs.twimg.com/a.jpg"},
    "entities": {"hashtags": [{"text": "Tag"}], "user_mentions": [
        {"screen_name": "Orig", "id_str": "2"}], "urls": [
        {"url": "https://t.co/abc", "expanded_url": "https://Example.com/x?utm_source=t"}]},
    "retweeted_status": {
        "created_at": "Fri Jun 13 09:10:00 +0000 2014", "id_str": "99",
        "text": "original words #Tag https://t.co/abc",
        "user": {"id_str": "2", "screen_name": "orig", "name": "Orig",
                 "followers_count": 100},
        "entities": {"hashtags": [{"text": "Tag"}, {"text": "TAG"}], "user_mentions": [],
                     "urls": [{"url": "https://t.co/abc",
                               "expanded_url": "https://example.com/x",
                               "unwound": {"url": "https://example.com/x-long"}},
                              {"url": "https://t.co/dup",
                               "expanded_url": "https://example.com/x-long#frag"}]},
        "extended_entities": {"media": [{"id_str": "555",
                                         "media_url_https": "https://pbs.twimg.com/m.jpg"}]},
    },
}


def variants() -> list[dict[str, Any]]:
    out = []
    rt = copy.deepcopy(BASE)
    out.append(rt)
    plain = copy.deepcopy(BASE)
    del plain["retweeted_status"]
    plain.update(id_str="101", text="plain words", full_text="the full words")
    out.append(plain)
    ext = copy.deepcopy(plain)
    ext.update(id_str="102", truncated=True, extended_tweet={
        "full_text": "extended full text #Ext", "entities": {
            "hashtags": [{"text": "Ext"}], "urls": [], "user_mentions": []},
        "extended_entities": {"media": [{"id": 7, "media_url": "http://x.example/p.png"}]}})
    out.append(ext)
    reply = copy.deepcopy(plain)
    reply.update(id_str="103", in_reply_to_status_id_str="99", in_reply_to_user_id=2)
    out.append(reply)
    quote = copy.deepcopy(plain)
    quote.update(id_str="104", is_quote_status=True, quoted_status_id_str="99",
                 quoted_status=copy.deepcopy(BASE["retweeted_status"]))
    out.append(quote)
    quote_deleted = copy.deepcopy(plain)
    quote_deleted.update(id_str="105", is_quote_status=True, quoted_status_id=98)
    out.append(quote_deleted)
    numeric = copy.deepcopy(plain)
    numeric.update(id_str="", id=106)  # only a numeric id: the Python parser's business
    out.append(numeric)
    no_user_time = copy.deepcopy(plain)
    no_user_time["id_str"] = "107"
    no_user_time["user"] = {"id_str": "9", "screen_name": None}
    out.append(no_user_time)
    other_tz = copy.deepcopy(plain)
    other_tz.update(id_str="108", created_at="Fri Jun 13 11:12:44 +0200 2014")
    out.append(other_tz)
    later = copy.deepcopy(plain)  # the same author later, with a new handle
    later.update(id_str="109", created_at="Sat Jun 14 09:12:44 +0000 2014")
    later["user"] = dict(later["user"], screen_name="alice_new", followers_count=None)
    out.append(later)
    return out


def lines_of(objs: list[Any]) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objs)


def snapshot(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for t in ("posts", "accounts", "account_handles", "rejects"):
        out[t] = sorted(map(tuple, (r.values() for r in ws.sql(
            f"SELECT * FROM {t}").to_pylist())), key=repr)
    out["files"] = [tuple(r.values()) for r in ws.sql(
        "SELECT path, format, records, posts, new_posts, skipped, rejects FROM files"
    ).to_pylist()]
    return out


def both(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, Any]:
    """(msgspec path's result, reference parser's result); the SQL path must agree with
    the reference too."""
    from echoscope.ingest import twitter_v1

    got = []
    for fast, way in ((True, "struct"), (True, "sql"), (False, "struct")):
        monkeypatch.setattr(_driver, "FAST_PATH", fast)
        monkeypatch.setattr(twitter_v1, "V1_PATH", way)
        with Workspace(":memory:") as ws:
            ingest_files([str(path)], ws, **kw)
            got.append(snapshot(ws))
    assert got[1] == got[2], "the SQL path differs from the reference parser"
    return got[0], got[2]


def test_fast_path_is_used_and_equal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "v.jsonl"
    f.write_bytes(lines_of(variants()))
    calls: list[bool] = []
    from echoscope.ingest import twitter_v1

    orig = twitter_v1.TwitterV1.load_fast

    def spy(self: Any, *a: Any) -> bool:
        r = orig(self, *a)
        calls.append(r)
        return r

    monkeypatch.setattr(twitter_v1.TwitterV1, "load_fast", spy)
    fast, slow = both(f, monkeypatch)
    assert calls == [True, True]  # the msgspec (default) and SQL paths
    assert fast == slow
    assert len(fast["posts"]) == 10


def test_fast_paths_long_lines_and_later_offsets(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A first line longer than the 4 KiB head; times in other offsets and years."""
    objs = variants()
    objs[0]["text"] = "long words " * 600
    objs[1]["user"]["description"] = "x" * 5000
    objs[2]["created_at"] = "Sun Feb 29 23:59:59 +0000 2032"
    objs[3]["created_at"] = "Mon Jan 01 00:00:00 -0130 1990"
    objs[4]["created_at"] = "Fri Feb 30 10:00:00 +0000 2014"  # no such day: a reject
    objs[5]["user"]["created_at"] = objs[2]["created_at"]
    objs[6]["user"]["followers_count"] = 5.0  # a float count: the reference decides
    f = tmp_path / "long.jsonl"
    leap = objs[2]["created_at"]
    f.write_bytes(lines_of([*objs, dict(objs[1], id_str="300",
                                        created_at=leap[:11] + "00:00:01" + leap[19:])]))
    calls: list[bool] = []
    from echoscope.ingest import twitter_v1

    orig = twitter_v1.TwitterV1.load_fast

    def spy(self: Any, *a: Any) -> bool:
        r = orig(self, *a)
        calls.append(r)
        return r

    monkeypatch.setattr(twitter_v1.TwitterV1, "load_fast", spy)
    fast, slow = both(f, monkeypatch)
    assert calls[0] is True
    assert fast == slow
    assert len(fast["rejects"]) == 1 and len(fast["posts"]) == 10


def test_fast_path_mixed_bad_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    objs = variants()
    body = (b"\xef\xbb\xbf" + lines_of(objs[:2]) + b"\n   \n"
            + b'{"delete": {"status": {"id_str": "1"}}}\n' + b"{broken\n" + b"[1, 2]\n"
            + lines_of([dict(objs[1], id_str="200", user="nope"),
                        dict(objs[1], id_str="201", created_at=5),
                        dict(objs[1], id_str="202", created_at="yesterday"),
                        dict(objs[0], id_str="203", retweeted_status="not an object"),
                        dict(objs[0], id_str="204", retweeted_status={}),
                        dict(objs[1], id_str="205", entities={"hashtags": "x"})])
            + lines_of(objs[2:]) + lines_of(objs[:1])[:-30])
    f = tmp_path / "m.jsonl"
    f.write_bytes(body)
    fast, slow = both(f, monkeypatch)
    assert fast == slow
    assert fast["files"][0][2] == 20  # records: every non-blank line
    g = tmp_path / "m.jsonl.gz"
    g.write_bytes(gzip.compress(body))
    fast_gz, slow_gz = both(g, monkeypatch)
    assert fast_gz == slow_gz


def test_fast_path_strict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from echoscope.errors import RecordError

    f = tmp_path / "s.jsonl"
    f.write_bytes(lines_of(variants()[:3]) + b"{bad\n" + lines_of(variants()[3:]))
    monkeypatch.setattr(_driver, "FAST_PATH", True)
    with Workspace(":memory:") as ws:
        with pytest.raises(RecordError, match="record 4"):
            ingest_files([str(f)], ws, strict=True)
        assert ws.count("posts") == 0 and ws.count("accounts") == 0


@pytest.mark.parametrize("way", ["tight", "Struct", "orjson"])
def test_unknown_v1_path_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     way: str) -> None:
    """ECHOSCOPE_V1_PATH names struct, parallel or sql; anything else (the retired tight
    path too) stops with a user error naming the variable, and changes nothing."""
    from echoscope.errors import ParameterError
    from echoscope.ingest import twitter_v1

    f = tmp_path / "v.jsonl"
    f.write_bytes(lines_of(variants()))
    monkeypatch.setattr(_driver, "FAST_PATH", True)
    monkeypatch.setattr(twitter_v1, "V1_PATH", way)
    with Workspace(":memory:") as ws:
        with pytest.raises(ParameterError, match=f"ECHOSCOPE_V1_PATH='{way}'") as e:
            ingest_files([str(f)], ws)
        assert ("retired" in str(e.value)) == (way == "tight")
        assert "struct (the default), parallel or sql" in str(e.value)
        assert ws.count("posts") == 0 and ws.count("files") == 0


def test_fast_path_declines_crlf_and_bad_utf8(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    objs = variants()
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(lines_of(objs).replace(b"\n", b"\r\n"))
    fast, slow = both(crlf, monkeypatch)
    assert fast == slow and len(fast["posts"]) == 10
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(lines_of(objs[:3]) + b'{"id_str": "\xff"}\n' + lines_of(objs[3:]))
    fast, slow = both(bad, monkeypatch)
    assert fast == slow and len(fast["rejects"]) == 1


_mutation = st.sampled_from([
    ("id_str", st.sampled_from([None, "", 7, "300"])),
    ("created_at", st.sampled_from([None, 7, "nope", "Sat Jun 14 09:12:44 -0500 2014"])),
    ("user", st.sampled_from([None, "x", {}, {"id": 5}, {"id_str": "6", "created_at": "x"}])),
    ("retweeted_status", st.sampled_from([None, 1, {}, {"id_str": "9"},
                                          {"user": {"id_str": "3"}, "created_at": "bad"}])),
    ("quoted_status", st.sampled_from([None, [], {"id_str": "9", "user": {"id_str": "4"}}])),
    ("in_reply_to_status_id_str", st.sampled_from([None, "", "77"])),
    ("is_quote_status", st.sampled_from([True, False, None, "yes"])),
    ("full_text", st.sampled_from([None, "", "ft"])),
    ("extended_tweet", st.sampled_from([None, {}, {"full_text": "x", "entities": {}}])),
    ("entities", st.sampled_from([None, {}, {"urls": [{"url": "https://t.co/z"}]},
                                  {"urls": [{"expanded_url": "example.org/y"}, None]},
                                  {"user_mentions": [{"screen_name": "", "id_str": "1"}]}])),
])


@pytest.mark.slow
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(muts=st.lists(st.tuples(st.integers(0, 9), _mutation), max_size=6), data=st.data())
def test_fast_path_equivalence_property(muts: list[Any], data: st.DataObject,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    objs = variants()
    for i, (key, values) in muts:
        v = data.draw(values)
        if v is None:
            objs[i].pop(key, None)
        else:
            objs[i][key] = copy.deepcopy(v)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "p.jsonl"
        f.write_bytes(lines_of(objs))
        fast, slow = both(f, monkeypatch)
        assert fast == slow
