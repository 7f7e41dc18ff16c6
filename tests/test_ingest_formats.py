"""Known-answer tests: every example file of ../shared/formats loads as documented."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from echoscope.ingest import LOADERS, detect_format, ingest_files
from echoscope.workspace import Workspace


def load(tmp_path: Path, *files: Path | str, **kw: Any) -> tuple[Workspace, Any]:
    ws = Workspace(tmp_path / "ws.duckdb")
    summary = ingest_files([str(f) for f in files], ws, **kw)
    return ws, summary


def posts(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {r["post_id"]: r for r in ws.sql("SELECT * FROM posts").to_pylist()}


def accounts(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {r["account_id"]: r for r in ws.sql("SELECT * FROM accounts").to_pylist()}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("twitter_v1_1_twarc1.jsonl", "twitter-v1"),
        ("twitter_v1_1_tweet_2014.json", "twitter-v1"),
        ("twitter_v2_twarc2_search.jsonl", "twitter-v2"),
        ("twitter_v2_twarc2_flattened.jsonl", "twitter-v2"),
        ("twitter_v2_twarc_csv.csv", "twarc-csv"),
        ("twitter_io_tweets_csv_hashed.csv", "x-io"),
        ("twitter_io_users_csv_hashed.csv", "x-io"),
        ("telegram_result.json", "telegram"),
        ("bluesky_jetstream_v1.jsonl", "bluesky"),
        ("mastodon_status_reblog.json", "mastodon"),
    ],
)
def test_sniffing(formats_dir: Path, name: str, fmt: str) -> None:
    head = (formats_dir / name).read_bytes()[: 1 << 16]
    assert detect_format(head, name) == fmt


def test_every_builtin_has_name_and_description() -> None:
    for cls in LOADERS:
        assert cls.name and cls.description, cls


def test_twitter_v2_page_and_flattened_agree(formats_dir: Path, tmp_path: Path) -> None:
    ws1, s1 = load(tmp_path / "a", formats_dir / "twitter_v2_twarc2_search.jsonl")
    ws2, s2 = load(tmp_path / "b", formats_dir / "twitter_v2_twarc2_flattened.jsonl")
    assert s1.files[0].posts == s2.files[0].posts == 3
    p1, p2 = posts(ws1), posts(ws2)
    cols = ["account_id", "handle", "created_at", "kind", "text", "parent_post_id",
            "parent_account_id", "urls", "hashtags", "mentions", "mention_ids", "media",
            "source_app"]
    for pid in p1:
        assert {c: p1[pid][c] for c in cols} == {c: p2[pid][c] for c in cols}, pid
    rt = p1["1600105881560276992"]
    assert rt["kind"] == "repost"
    assert rt["parent_post_id"] == "1600105873125556224"
    assert rt["parent_account_id"] == "1460323737035677698"
    # the full original text, not the cut "RT @..." text
    assert rt["text"].startswith("Road reopened") and not rt["text"].endswith("\u2026")
    # t.co replaced by the unwound URL; the photo link is media, not a URL
    assert rt["urls"] == ["https://example-news.net/2022/12/06/bridge-reopened"]
    assert rt["media"] == [{"media_id": "3_1600105861066588160",
                            "url": "https://pbs.twimg.com/media/FjXyZabcdEFGHIJ.jpg",
                            "hash": None}]
    assert rt["hashtags"] == ["ninawa"] and rt["mentions"] == ["regional_desk"]
    assert rt["source_app"] == "News Relay App"
    assert rt["parent_created_at"] == dt.datetime(2022, 12, 6, 12, 1, 7)
    reply = p1["1600113110171885568"]
    assert reply["kind"] == "reply" and reply["parent_account_id"] == "1460323737035677698"
    quote = p1["1600112230190125057"]
    assert quote["kind"] == "quote"
    acc = accounts(ws1)
    assert acc["331122334"]["handle"] == "ordinary_reader"
    assert acc["331122334"]["followers"] == 512
    assert acc["1460323737035677698"]["handle"] == "relay_news_01"  # resolved from includes
    ws1.close()
    ws2.close()


def test_twarc_csv_matches_v2(formats_dir: Path, tmp_path: Path) -> None:
    ws, s = load(tmp_path, formats_dir / "twitter_v2_twarc_csv.csv")
    assert s.files[0].format == "twarc-csv" and s.files[0].posts == 3
    p = posts(ws)
    rt = p["1600105881560276992"]
    assert rt["kind"] == "repost" and rt["parent_post_id"] == "1600105873125556224"
    assert rt["parent_account_id"] == "1460323737035677698"
    assert rt["urls"] == ["https://example-news.net/2022/12/06/bridge"]  # pic.twitter dropped
    assert rt["hashtags"] == ["ninawa"] and rt["mentions"] == ["regional_desk"]
    assert rt["media"][0]["media_id"] == "3_1600105861066588160"
    assert p["1600113110171885568"]["kind"] == "reply"
    assert p["1600112230190125057"]["kind"] == "quote"
    assert accounts(ws)["1460329988776521728"]["handle"] == "relay_news_07"
    ws.close()


def test_x_io_with_users_beside(formats_dir: Path, tmp_path: Path) -> None:
    ws, s = load(tmp_path, formats_dir / "twitter_io_tweets_csv_hashed.csv")
    f = s.files[0]
    assert (f.format, f.records, f.posts, f.rejects) == ("x-io", 4, 4, 0)
    p = posts(ws)
    rt = p["1069245601904332800"]
    assert rt["kind"] == "repost" and rt["parent_post_id"] == "1069245553141776384"
    assert rt["parent_account_id"] == "2714889912"
    assert rt["created_at"] == dt.datetime(2018, 12, 2, 14, 7)
    assert rt["mention_ids"] == ["2714889912"]
    orig = p["1069245553141776384"]
    assert orig["urls"] == ["http://dlvr.it/QtP7Lm"] and orig["source_app"] == "dlvr.it"
    assert orig["hashtags"] == ["نينوي"]  # Arabic-folded (alef maqsura -> ya)
    assert p["1069250071732187137"]["kind"] == "reply"
    assert p["1069260000000000001"]["kind"] == "quote"
    acc = accounts(ws)
    assert acc["2714889912"]["display_name"] == "Daily Ninawa"
    assert acc["2714889912"]["created_at"] == dt.datetime(2014, 8, 7)
    assert acc["2714889912"]["followers"] == 18452
    ws.close()


def test_x_io_users_option_and_alone(formats_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    tweets = d / "set_tweets.csv"  # not named like a release: no auto-pairing
    shutil.copy(formats_dir / "twitter_io_tweets_csv_hashed.csv", tweets)
    ws, s = load(tmp_path, tweets, users_file=str(formats_dir / "twitter_io_users_csv_hashed.csv"))
    assert s.files[0].posts == 4
    assert accounts(ws)["2714889912"]["handle"] == "daily_ninawa"
    ws.close()
    ws2, s2 = load(tmp_path / "u", formats_dir / "twitter_io_users_csv_hashed.csv")
    f = s2.files[0]
    assert (f.posts, f.skipped, f.records) == (0, 3, 3)
    assert ws2.count("accounts") == 3
    ws2.close()


def test_telegram(formats_dir: Path, tmp_path: Path) -> None:
    ws, s = load(tmp_path, formats_dir / "telegram_result.json")
    f = s.files[0]
    assert (f.records, f.posts, f.skipped, f.rejects) == (5, 4, 1, 0)
    assert f.skip_reasons == {"service message": 1}
    p = posts(ws)
    m3 = p["1234567890/3"]
    assert m3["text"] == ("Full report here #Ninawa via @regional_desk "
                          "https://t.me/regional_desk/881")
    assert m3["urls"] == ["https://example-news.net/bridge", "https://t.me/regional_desk/881"]
    assert m3["hashtags"] == ["ninawa"] and m3["mentions"] == ["regional_desk"]
    assert m3["created_at"] == dt.datetime(2024, 3, 1, 10, 7, 40)
    assert m3["account_id"] == "channel1234567890"
    fwd = p["1234567890/4"]
    assert fwd["kind"] == "repost" and fwd["parent_post_id"].startswith("tgfwd:")
    assert fwd["media"][0]["media_id"] == "photo:1280x960:84213"
    rep = p["1234567890/5"]
    assert rep["kind"] == "reply" and rep["parent_post_id"] == "1234567890/4"
    assert rep["parent_account_id"] == "channel1234567890"
    assert rep["media"][0]["media_id"] == "video_file:convoy.mp4:5242880"
    ws.close()


def test_telegram_full_export_and_forward_key(tmp_path: Path) -> None:
    import orjson

    def msg(i: int, chat: str, text: str) -> dict[str, Any]:
        return {"id": i, "type": "message", "date": "2024-01-01T00:00:00",
                "date_unixtime": str(1704067200 + i), "from": chat, "from_id": chat,
                "forwarded_from": "Source Channel", "text": text}

    doc = {"chats": {"list": [
        {"name": "A", "type": "public_channel", "id": 1,
         "messages": [msg(1, "channel1", "Same   words")]},
        {"name": "B", "type": "public_channel", "id": 2,
         "messages": [msg(1, "channel2", "same words"),
                      {"id": 2, "type": "unsupported"}]},
    ]}}
    f = tmp_path / "result.json"
    f.write_bytes(orjson.dumps(doc))
    ws, s = load(tmp_path, f)
    r = s.files[0]
    assert (r.format, r.records, r.posts, r.skipped) == ("telegram", 3, 2, 1)
    p = posts(ws)
    # two chats forwarding the same source message share the synthetic parent key
    assert p["1/1"]["parent_post_id"] == p["2/1"]["parent_post_id"]
    ws.close()


def test_bluesky(formats_dir: Path, tmp_path: Path) -> None:
    ws, s = load(tmp_path, formats_dir / "bluesky_jetstream_v1.jsonl")
    f = s.files[0]
    assert (f.records, f.posts, f.skipped, f.rejects) == (7, 3, 4, 0)
    assert f.skip_reasons == {"like": 1, "delete commit": 1, "identity event": 1,
                              "account event": 1}
    p = posts(ws)
    root = "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3pte3p2e325"
    post = p[root]
    assert post["urls"] == ["https://example-news.net/bridge"]
    assert post["hashtags"] == ["ninawa"]
    assert post["mentions"] == ["regional.bsky.social"]  # sliced by UTF-8 byte offsets
    assert post["mention_ids"] == ["did:plc:z72i7hdynmk6r22z27h6tvur"]
    assert post["created_at"] == dt.datetime(2024, 9, 9, 19, 46, 2, 329308)  # time_us
    rp = p["at://did:plc:wa7b35aakoll7hugkrjtf3xf/app.bsky.feed.repost/3l3qo2w0xyz2b"]
    assert rp["kind"] == "repost" and rp["parent_post_id"] == root
    assert rp["parent_account_id"] == "did:plc:eygmaihciaxprqvxpfvl6flk"
    reply = p["at://did:plc:wa7b35aakoll7hugkrjtf3xf/app.bsky.feed.post/3l3qo2y6bbb2b"]
    assert reply["kind"] == "reply" and reply["parent_post_id"] == root
    # the identity event's handle lands in the account and its history
    assert accounts(ws)["did:plc:wa7b35aakoll7hugkrjtf3xf"]["handle"] == "relay07.bsky.social"
    ws.close()


def test_bluesky_multibyte_offsets_and_images(tmp_path: Path) -> None:
    import orjson

    text = "ÜBER café 🌉 @some.one tail"
    b = text.encode()
    start = b.index(b"@some.one")
    ev = {"did": "did:plc:a", "time_us": 1_700_000_000_000_000, "kind": "commit",
          "commit": {"operation": "create", "collection": "app.bsky.feed.post", "rkey": "r1",
                     "record": {"text": text, "createdAt": "2023-11-14T22:13:20Z",
                                "facets": [{"index": {"byteStart": start,
                                                      "byteEnd": start + 9},
                                            "features": [{"$type":
                                                          "app.bsky.richtext.facet#mention",
                                                          "did": "did:plc:b"}]}],
                                "embed": {"$type": "app.bsky.embed.images", "images": [
                                    {"image": {"ref": {"$link": "bafkimg"},
                                               "mimeType": "image/jpeg"}}]}}}}
    f = tmp_path / "j.jsonl"
    f.write_bytes(orjson.dumps(ev) + b"\n")
    ws, _ = load(tmp_path, f)
    p = posts(ws)["at://did:plc:a/app.bsky.feed.post/r1"]
    assert p["mentions"] == ["some.one"]
    assert p["media"] == [{"media_id": "bafkimg", "url": None, "hash": "cid:bafkimg"}]
    ws.close()


def test_mastodon(formats_dir: Path, tmp_path: Path) -> None:
    ws, s = load(tmp_path, formats_dir / "mastodon_status_reblog.json")
    assert s.files[0].posts == 1
    p = posts(ws)
    boost = p["https://mastodon.social/users/relay07/statuses/113110918400000777/activity"]
    assert boost["kind"] == "repost"
    assert boost["parent_post_id"] == ("https://news.example/users/relaynews/statuses/"
                                       "113110918200000000")
    assert boost["account_id"] == "https://mastodon.social/@relay07"
    assert boost["handle"] == "relay07@mastodon.social"
    assert boost["parent_account_id"] == "https://news.example/@relaynews"
    assert boost["text"] == ("Bridge reopened, convoy traffic resumes #Ninawa "
                             "https://example-news.net/bridge")
    assert boost["urls"] == ["https://example-news.net/bridge"]  # hashtag link excluded
    assert boost["hashtags"] == ["ninawa"]
    assert boost["media"][0]["url"] == "https://news.example/system/media_attachments/files/p.jpg"
    assert boost["created_at"] == dt.datetime(2024, 9, 9, 19, 46, 3)
    ws.close()


def test_mastodon_dedupes_by_uri_across_instances(tmp_path: Path) -> None:
    import orjson

    def status(local_id: str) -> dict[str, Any]:
        return {"id": local_id, "uri": "https://a.example/users/x/statuses/1",
                "created_at": "2024-01-01T00:00:00.000Z", "content": "<p>hi<br>there</p>",
                "account": {"acct": "x@a.example", "url": "https://a.example/@x"}}

    f1, f2 = tmp_path / "one.json", tmp_path / "two.jsonl"
    f1.write_bytes(orjson.dumps([status("111")]))
    f2.write_bytes(orjson.dumps(status("999")) + b"\n")
    ws, s = load(tmp_path, f1, f2)
    assert [f.format for f in s.files] == ["mastodon", "mastodon"]
    assert s.new_posts == 1
    assert posts(ws)["https://a.example/users/x/statuses/1"]["text"] == "hi\nthere"
    ws.close()


def test_generic_csv_with_map(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text(
        "user,time,body,links,id\n"
        "alice,2024-01-01T00:00:00Z,hello #World,https://A.example/x?utm_source=t,1\n"
        "bob,1704067260,hi @alice,\"[\"\"https://b.example\"\"]\",2\n"
        "carol,1704067260000,no id given,,\n",
        encoding="utf-8",
    )
    ws, s = load(tmp_path, f, column_map={"account_id": "user", "created_at": "time",
                                          "text": "body", "urls": "links",
                                          "post_id": "id"}, platform="forum")
    assert s.files[0].format == "csv" and s.files[0].posts == 3
    p = posts(ws)
    assert p["1"]["urls"] == ["https://a.example/x"] and p["1"]["hashtags"] == ["world"]
    assert p["1"]["platform"] == "forum"
    assert p["2"]["created_at"] == dt.datetime(2024, 1, 1, 0, 1)
    assert p["2"]["mentions"] == ["alice"]
    synth = [k for k in p if k.startswith("gen:")]
    assert len(synth) == 1 and p[synth[0]]["created_at"] == dt.datetime(2024, 1, 1, 0, 1)
    ws.close()


def test_generic_parquet_canonical_names(tmp_path: Path) -> None:
    f = tmp_path / "p.parquet"
    pq.write_table(pa.table({
        "post_id": ["a", "b"], "account_id": ["u1", "u2"],
        "created_at": pa.array([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2)],
                               pa.timestamp("us")),
        "text": ["x", "y"], "hashtags": [["One"], []],
    }), f)
    ws, s = load(tmp_path, f)
    assert s.files[0].format == "parquet" and s.files[0].posts == 2
    p = posts(ws)
    assert p["a"]["hashtags"] == ["one"]
    assert p["b"]["created_at"] == dt.datetime(2024, 1, 2)
    ws.close()


def test_generic_map_errors(tmp_path: Path) -> None:
    from echoscope.errors import InputError, ParameterError

    f = tmp_path / "m.csv"
    f.write_text("user,time\nu,1\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="not posts columns"):
        load(tmp_path, f, column_map={"author": "user"})
    with pytest.raises(InputError, match="no column 'who'"):
        load(tmp_path / "b", f, column_map={"account_id": "who", "created_at": "time"})
    with pytest.raises(InputError, match="no column for created_at"):
        load(tmp_path / "c", f, column_map={"account_id": "user"})


def test_ira_synthetic_ids_are_stable(tmp_path: Path) -> None:
    f = tmp_path / "ira.csv"
    f.write_text(
        "author_id,content,region,language,publish_date,harvested_date,following,followers,"
        "updates,post_type,retweet\n"
        "Acct_A,Same words http://t.co/abc #Tag,US,English,2015-11-26 10:00:00,,1,2,3,,0\n"
        "Acct_A,Same words http://t.co/abc #Tag,US,English,2015-11-26 10:00:00,,1,2,4,,0\n"
        "acct_b,Copied words,US,English,2015-11-26 10:01:00,,1,2,3,R,1\n",
        encoding="utf-8",
    )
    ws, s = load(tmp_path, f)
    assert s.files[0].format == "ira" and s.new_posts == 3  # identical rows stay two posts
    p = posts(ws)
    ids = sorted(p)
    assert all(i.startswith("ira:") for i in ids)
    a = [r for r in p.values() if r["account_id"] == "acct_a"]
    assert len(a) == 2 and a[0]["urls"] == ["http://t.co/abc"] and a[0]["hashtags"] == ["tag"]
    assert next(r for r in p.values() if r["account_id"] == "acct_b")["kind"] == "repost"
    ws.close()
    # a fresh workspace gives the same ids
    ws2, _ = load(tmp_path / "again", f)
    assert sorted(posts(ws2)) == ids
    ws2.close()


def test_coortweet_multi_aggregates_rows(tmp_path: Path) -> None:
    f = tmp_path / "g.csv"
    f.write_text(
        "account_id,post_id,url_id,hashtag_id,domain_id,phash_id,timestamp\n"
        "fb_1,10,5,,7,,1629589836\n"
        "tw_2,20,,h1,,,1629589000\n"
        "fb_1,10,,,,99,1629589836\n"
        "tw_2,20,,h2,,,1629589000\n"
        "tw_3,30,,,8,,1629589001\n",
        encoding="utf-8",
    )
    ws, s = load(tmp_path, f)
    r = s.files[0]
    assert (r.format, r.records, r.posts, r.skipped) == ("coortweet-multi", 5, 3, 2)
    p = posts(ws)
    assert p["10"]["platform"] == "facebook" and p["20"]["platform"] == "twitter"
    assert p["10"]["urls"] == ["https://d7.anon.invalid/u5"]
    assert p["10"]["media"] == [{"media_id": None, "url": None, "hash": "phash:99"}]
    assert p["20"]["hashtags"] == ["h1", "h2"]
    assert p["30"]["urls"] == ["https://d8.anon.invalid"]
    assert p["10"]["source_record"] == 2
    ws.close()
