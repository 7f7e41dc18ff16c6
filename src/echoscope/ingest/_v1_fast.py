"""The fast path of the Twitter v1.1 JSONL loader: DuckDB parses, Python only normalises.

Per-tweet Python is the cost of ingest (orjson parses a tweet in ~6 µs; walking the dict
into a post costs several times that). Here DuckDB reads the lines and parses each once
(``json_transform`` into a typed struct, in C++, on all cores); the rows become posts and
account snapshots in SQL. Python sees only the *distinct* URLs, hashtags, handles and
source anchors (to apply :mod:`echoscope.normalise`), and the few lines that are not plain
well-formed tweets (invalid JSON, notices, missing or mistyped fields), which go through
the reference Python parser (:func:`echoscope.ingest.twitter_v1.parse_tweet`) and so get
exactly its posts, skips and rejects.

The result is the same as the Python path's (a test compares both on the example files
and on generated data). The fast path declines (returns False, and the caller uses the
Python path) when DuckDB cannot read the file as lines, e.g. invalid UTF-8 somewhere, or
when the number of lines DuckDB saw differs from the file's (blank lines).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import duckdb
import pyarrow as pa

from echoscope.ingest._base import Sink
from echoscope.ingest._util import app_from_source
from echoscope.normalise import canonical_url, normalise_handle, normalise_hashtag

__all__ = ["fast_load_v1"]

_V = "VARCHAR"
_MEDIA = [{"id_str": _V, "id": _V, "media_url_https": _V, "media_url": _V}]
_ENTS = {
    "hashtags": [{"text": _V}],
    "urls": [{"url": _V, "expanded_url": _V, "unwound": "JSON"}],
    "user_mentions": [{"screen_name": _V, "id_str": _V, "id": _V}],
    "media": _MEDIA,
}
_USER = {"id_str": _V, "id": _V, "screen_name": _V, "name": _V, "created_at": _V,
         "followers_count": "BIGINT", "friends_count": "BIGINT", "statuses_count": "BIGINT",
         "description": _V, "profile_image_url_https": _V, "profile_image_url": _V}
_XENTS = {"media": _MEDIA}
_CONTENT = {
    "id_str": _V, "id": _V, "created_at": _V, "text": _V, "full_text": _V,
    "extended_tweet": {"full_text": _V, "entities": _ENTS, "extended_entities": _XENTS},
    "entities": _ENTS, "extended_entities": _XENTS, "user": _USER,
}
_TWEET = {
    **_CONTENT, "lang": _V, "source": _V,
    "in_reply_to_status_id_str": _V, "in_reply_to_status_id": _V,
    "in_reply_to_user_id_str": _V, "in_reply_to_user_id": _V,
    "quoted_status_id_str": _V, "quoted_status_id": _V, "is_quote_status": "JSON",
    "retweeted_status": _CONTENT, "quoted_status": _CONTENT,
}
_TS = "%a %b %d %H:%M:%S %z %Y"


def _spec(d: Any) -> str:
    return "'" + json.dumps(d).replace("'", "''") + "'"


def _ts(expr: str) -> str:
    return f"make_timestamp(epoch_us(try_strptime({expr}, '{_TS}')))"


def _id(p: str, key: str) -> str:
    return f"coalesce(nullif({p}.{key}_str, ''), {p}.{key})"


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _map_table(con: duckdb.DuckDBPyConnection, name: str, keys: list[tuple[Any, ...]],
               key_names: list[str], fn: Any) -> None:
    cols: list[Any] = list(zip(*keys, strict=True)) if keys else [[] for _ in key_names]
    data = {k: pa.array(list(c), pa.string()) for k, c in zip(key_names, cols, strict=True)}
    data["v"] = pa.array([fn(*k) for k in keys], pa.string())
    tbl = pa.table(data)
    con.register(f"{name}_arrow", tbl)
    try:
        con.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM "{name}_arrow"')
    finally:
        con.unregister(f"{name}_arrow")


def fast_load_v1(con: duckdb.DuckDBPyConnection, path: str, compression: str, stage: str,
                 sink: Sink, n_lines: int) -> list[int] | None:
    """Load the plain tweets of a v1.1 JSONL file into ``stage`` (posts) and ``sink``.

    Returns the line numbers left for the reference parser (in order), or None, having
    changed nothing, when the file cannot take the fast path. ``n_lines`` is the number of
    lines of the (decompressed) file, to check that DuckDB saw every line as one row.
    """
    tag = uuid.uuid4().hex[:8]
    u = f"_v1_u_{tag}"
    src = (f"read_csv({_sql_str(path)}, columns = {{'column0': 'VARCHAR'}}, header = false, "
           "delim = '\\x01', quote = '', escape = '', auto_detect = false, "
           "strict_mode = false, max_line_size = 16777216, buffer_size = 33554432, "
           "new_line = '\\n', "
           f"compression = {_sql_str(compression)}) WITH ORDINALITY AS src(raw, line)")
    # checked on a scratch connection: a failed query would abort the ingest transaction
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    scratch = duckdb.connect(config={"memory_limit": str(limit).replace(" ", "")})
    try:
        n = scratch.execute(f"SELECT count(*) FROM {src}").fetchall()[0][0]
    except duckdb.Error:
        return None
    finally:
        scratch.close()
    if n != n_lines:
        return None
    try:
        _run(con, src, tag, u, stage, sink)
        rest = [r[0] for r in con.execute(
            f'SELECT range AS line FROM range(1, {n_lines + 1}) '
            f'EXCEPT SELECT line FROM "{u}" ORDER BY line').fetchall()]
    finally:
        for t in ("u", "m_url", "m_tag", "m_handle", "m_app", "l_url", "l_tag", "l_men"):
            con.execute(f'DROP TABLE IF EXISTS "_v1_{t}_{tag}"')
    return rest


def _run(con: duckdb.DuckDBPyConnection, src: str, tag: str, u: str, stage: str,
         sink: Sink) -> None:
    # 1. parse every line once (streaming); lines that are not plain tweets are left for
    #    the reference parser. A nested object that came out all-empty may not have been
    #    an object at all (the transform is lenient): such lines are left to it too.
    def pick(field: str) -> str:
        return f"CASE WHEN is_rt THEN rt.{field} ELSE t.{field} END"

    def empty(x: str) -> str:
        return (f"({x} IS NOT NULL AND {x}.id_str IS NULL AND {x}.id IS NULL AND "
                f"{x}.created_at IS NULL AND {x}.user IS NULL AND {x}.text IS NULL AND "
                f"{x}.full_text IS NULL)")

    ext_ents = pick("extended_tweet.entities")
    # Python uses extended_tweet.entities when it is a non-empty object
    use_ext = (f"({ext_ents} IS NOT NULL AND ({ext_ents}.hashtags IS NOT NULL OR "
               f"{ext_ents}.urls IS NOT NULL OR {ext_ents}.user_mentions IS NOT NULL OR "
               f"{ext_ents}.media IS NOT NULL))")
    ents = f"CASE WHEN {use_ext} THEN {ext_ents} ELSE {pick('entities')} END"
    xents = (f"CASE WHEN {use_ext} THEN {pick('extended_tweet.extended_entities')} "
             f"ELSE {pick('extended_entities')} END")
    text = (f"coalesce(nullif({pick('extended_tweet.full_text')}, ''), "
            f"nullif({pick('full_text')}, ''), nullif({pick('text')}, ''), '')")
    refuse = (f"created_at IS NULL OR post_id IS NULL OR t.id_str = '' OR account_id IS NULL"
              f" OR (t.user.created_at IS NOT NULL AND user_created IS NULL)"
              f" OR {empty('rt')} OR {empty('q')}"
              f" OR (rt_snap AND ({_id('rt.user', 'id')} IS NULL OR (rt.user.created_at"
              f" IS NOT NULL AND rt_user_created IS NULL)"
              f" OR (rt.created_at IS NOT NULL AND rt_created IS NULL)))"
              f" OR (q_snap AND ({_id('q.user', 'id')} IS NULL OR (q.user.created_at"
              f" IS NOT NULL AND q_user_created IS NULL)"
              f" OR (q.created_at IS NOT NULL AND q_created IS NULL)))")
    con.execute(f"""
        CREATE TABLE "{u}" AS
        SELECT line, kind, parent_id, parent_acc, parent_time, rt_snap, q_snap,
               rt.user AS rt_user, q.user AS q_user, post_id, account_id,
               t.user.screen_name AS handle, created_at,
               {text} AS text, t.lang AS lang, t.source AS source, t.user AS user,
               {ents} AS e, {xents} AS x
        FROM (
          SELECT *,
               CASE WHEN is_rt THEN 'repost'
                    WHEN reply_id IS NOT NULL THEN 'reply'
                    WHEN quote_id IS NOT NULL THEN 'quote' ELSE 'post' END AS kind,
               CASE WHEN is_rt THEN {_id('rt', 'id')}
                    WHEN reply_id IS NOT NULL THEN reply_id ELSE quote_id END AS parent_id,
               CASE WHEN is_rt THEN (CASE WHEN rt_has_user THEN {_id('rt.user', 'id')} END)
                    WHEN reply_id IS NOT NULL THEN {_id('t', 'in_reply_to_user_id')}
                    WHEN quote_id IS NOT NULL AND q_has_user THEN {_id('q.user', 'id')}
                    END AS parent_acc,
               CASE WHEN is_rt AND rt_has_user THEN rt_created
                    WHEN NOT is_rt AND reply_id IS NULL AND quote_id IS NOT NULL
                         AND q_has_user THEN q_created END AS parent_time,
               (is_rt AND rt_has_user) AS rt_snap,
               (NOT is_rt AND reply_id IS NULL AND quote_id IS NOT NULL AND q_has_user)
                   AS q_snap
          FROM (
            SELECT line, t, rt, q, rt IS NOT NULL AS is_rt,
                   rt.user IS NOT NULL AS rt_has_user, q.user IS NOT NULL AS q_has_user,
                   {_id('t', 'id')} AS post_id, {_id('t.user', 'id')} AS account_id,
                   {_ts('t.created_at')} AS created_at,
                   {_ts('t.user.created_at')} AS user_created,
                   {_ts('rt.created_at')} AS rt_created,
                   {_ts('rt.user.created_at')} AS rt_user_created,
                   {_ts('q.created_at')} AS q_created,
                   {_ts('q.user.created_at')} AS q_user_created,
                   {_id('t', 'in_reply_to_status_id')} AS reply_id,
                   CASE WHEN coalesce(t.is_quote_status NOT IN ('false', 'null', '0', '""'),
                                      false)
                             OR {_id('t', 'quoted_status_id')} IS NOT NULL OR q IS NOT NULL
                        THEN coalesce({_id('t', 'quoted_status_id')}, {_id('q', 'id')})
                        END AS quote_id
            FROM (
              SELECT line, t, t.retweeted_status AS rt, t.quoted_status AS q
              FROM (
                SELECT line, try(json_transform(raw, {_spec(_TWEET)})) AS t
                FROM (SELECT line, raw FROM {src})
                WHERE raw IS NOT NULL AND NOT (line = 1 AND starts_with(raw, chr(65279)))
              )
              WHERE t IS NOT NULL
            )
          )
        )
        WHERE NOT coalesce({refuse}, true)
    """)

    # 2. normalise the distinct values in Python
    def distinct(q: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in con.execute(q).fetchall()]

    exp = ("CASE WHEN json_type(x.unwound) = 'OBJECT' THEN x.unwound->>'url' "
           "ELSE x.expanded_url END")
    # the URL canonical_url(url, exp) would canonicalise: exp replaces a t.co link
    short = _sql_str(r"^\s*(?:(?:https?:)?//)?(?:www\.)?t\.co(?:[/:?#]|$)")
    resolved = (f"CASE WHEN coalesce(exp, '') <> '' AND (trim(coalesce(url, '')) = '' "
                f"OR regexp_matches(coalesce(url, ''), {short}, 'i')) THEN exp ELSE url END")
    l_url, l_tag, l_men = f"_v1_l_url_{tag}", f"_v1_l_tag_{tag}", f"_v1_l_men_{tag}"
    con.execute(f"""CREATE TEMP TABLE "{l_url}" AS
        SELECT line, i, {resolved} AS url, expanded
        FROM (SELECT line, i, x.url AS url, {exp} AS exp, x.expanded_url AS expanded
              FROM (SELECT line, unnest(e.urls) AS x, generate_subscripts(e.urls, 1) AS i
                    FROM "{u}") WHERE x IS NOT NULL)""")
    con.execute(f"""CREATE TEMP TABLE "{l_tag}" AS
        SELECT line, i, x.text AS k
        FROM (SELECT line, unnest(e.hashtags) AS x, generate_subscripts(e.hashtags, 1) AS i
              FROM "{u}") WHERE x.text IS NOT NULL AND x.text <> ''""")
    con.execute(f"""CREATE TEMP TABLE "{l_men}" AS
        SELECT line, i, x.screen_name AS k
        FROM (SELECT line, unnest(e.user_mentions) AS x,
                     generate_subscripts(e.user_mentions, 1) AS i FROM "{u}")
        WHERE x.screen_name IS NOT NULL AND x.screen_name <> ''""")

    def canon(url: str | None, expanded: str | None) -> str | None:
        v = canonical_url(url)
        if v is None and expanded:
            v = canonical_url(expanded)
        return v

    m_url, m_tag = f"_v1_m_url_{tag}", f"_v1_m_tag_{tag}"
    m_handle, m_app = f"_v1_m_handle_{tag}", f"_v1_m_app_{tag}"
    _map_table(con, m_url, distinct(f'SELECT DISTINCT url, expanded FROM "{l_url}"'),
               ["url", "expanded"], canon)
    _map_table(con, m_tag, distinct(f'SELECT DISTINCT k FROM "{l_tag}"'), ["k"],
               normalise_hashtag)
    _map_table(con, m_handle, distinct(f'SELECT DISTINCT k FROM "{l_men}"'), ["k"],
               normalise_handle)
    _map_table(con, m_app, distinct(f'SELECT DISTINCT source FROM "{u}" WHERE source IS NOT '
                                    "NULL"), ["k"], app_from_source)

    # 3. posts into the stage table
    con.execute(f"""
        INSERT INTO "{stage}"
        WITH urls AS (
            SELECT line, list(v ORDER BY i) AS urls FROM (
                SELECT l.line, m.v, min(l.i) AS i FROM "{l_url}" l JOIN "{m_url}" m
                  ON m.url IS NOT DISTINCT FROM l.url
                 AND m.expanded IS NOT DISTINCT FROM l.expanded
                WHERE m.v IS NOT NULL GROUP BY l.line, m.v)
            GROUP BY line),
        tags AS (SELECT l.line, list(m.v ORDER BY l.i) AS tags FROM "{l_tag}" l
                 JOIN "{m_tag}" m ON m.k = l.k GROUP BY l.line),
        men AS (SELECT l.line, list(m.v ORDER BY l.i) AS men FROM "{l_men}" l
                JOIN "{m_handle}" m ON m.k = l.k GROUP BY l.line)
        SELECT 'twitter', post_id, account_id, handle, created_at, kind, text, lang,
               app.v, parent_id, parent_acc, parent_time,
               coalesce(urls.urls, []), coalesce(tags.tags, []), coalesce(men.men, []),
               [{_id('y', 'id')} FOR y IN coalesce(e.user_mentions, [])
                IF y IS NOT NULL AND coalesce({_id('y', 'id')}, '') <> ''],
               [{{'media_id': {_id('y', 'id')},
                  'url': coalesce(nullif(y.media_url_https, ''), y.media_url),
                  'hash': NULL::VARCHAR}}
                FOR y IN coalesce(nullif(x.media, []), e.media, []) IF y IS NOT NULL],
               {_sql_str(sink.source_file)}, u.line
        FROM "{u}" u
        LEFT JOIN urls ON urls.line = u.line
        LEFT JOIN tags ON tags.line = u.line
        LEFT JOIN men ON men.line = u.line
        LEFT JOIN "{m_app}" app ON app.k = u.source
    """)
    n_posts = con.execute(f'SELECT count(*) FROM "{u}"').fetchall()[0][0]

    # 4. account snapshots (author; retweeted author; quoted author)
    def snap(who: str, seen: str, where: str) -> str:
        return f"""SELECT line, {_id(who, 'id')} AS account_id, {who}.screen_name AS handle,
                          {who}.name AS display_name, {_ts(f'{who}.created_at')} AS created_at,
                          {who}.followers_count AS followers, {who}.friends_count AS following,
                          {who}.statuses_count AS posts_count, {who}.description AS description,
                          coalesce(nullif({who}.profile_image_url_https, ''),
                                   {who}.profile_image_url) AS profile_image_url,
                          {seen} AS seen
                   FROM "{u}" WHERE {where}"""

    acc = f"_v1_acc_{tag}"
    con.execute(f"""CREATE TABLE "{acc}" AS
        {snap('user', 'created_at', 'true')}
        UNION ALL {snap('rt_user', 'parent_time', 'rt_snap')}
        UNION ALL {snap('q_user', 'parent_time', 'q_snap')}""")
    sink.fast_accounts.append(acc)
    sink.n_posts += n_posts
