"""A synthetic workspace for tests, screenshots and benchmarks of the report.

It writes schema-valid rows straight into the canonical tables (no ingest, no detection):
organic accounts plus ``n_campaigns`` clusters whose members repost the same posts and
share texts, links and hashtags within seconds. The text is neutral and invented.
``strings`` (optional) are mixed into handles, display names, texts, URLs and hashtags,
which is how the safety tests plant hostile payloads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from echoscope import schema
from echoscope.workspace import Workspace

__all__ = ["XSS_PAYLOADS", "build_large", "build_sample"]

#: Hostile strings the safety tests plant in every text field (script tags, event handlers,
#: javascript: URLs, SVG onload, attribute/JSON/script break-outs, U+2028, remote resources).
XSS_PAYLOADS: tuple[str, ...] = (
    "<script>window.__xss=1;alert(1)</script>",
    "\"><img src=x onerror=\"window.__xss=2;alert(2)\">",
    "'><svg onload=alert(3)>",
    "javascript:alert(4)",
    "</script><script>alert(5)</script>",
    "</title><style>body{display:none}</style>",
    "{{7*7}}{% raw %}",
    "\u2028\u2029</ScRiPt >",
    "<a href=\"http://xss.invalid/\">x</a>",
    "<iframe src=\"http://xss.invalid/\"></iframe>",
    "<img src=\"http://xss.invalid/pixel.gif\">",
    "\" autofocus onfocus=\"alert(6)",
    "\\u003c/script\\u003e\"}]}<!--",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(7)>",
)

_WORDS = ["garden", "river", "lantern", "orchard", "meadow", "harbor", "pebble", "willow", "maple", "canyon", "juniper", "thistle", "comet", "prairie", "saffron", "walnut", "cobalt", "marble", "breeze", "ember", "tundra", "lagoon"]
_APPS = ("Twitter Web App", "Twitter for Android", "Twitter for iPhone")
_T0 = dt.datetime(2024, 3, 1, 8, 0, 0)


def _cols(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    sch = schema.TABLES[name].schema
    return pa.Table.from_pylist(rows, schema=sch)


def build_sample(
    ws: Workspace,
    *,
    n_campaigns: int = 4,
    campaign_size: int = 6,
    n_organic: int = 30,
    posts_per_account: int = 4,
    strings: Sequence[str] = (),
    seed: int = 0,
) -> None:
    """Fill ``ws`` with a small synthetic investigation (deterministic for ``seed``)."""
    rng = np.random.default_rng(seed)
    bad = list(strings)

    def pick_bad(i: int) -> str:
        return bad[i % len(bad)] if bad else ""

    accounts: list[dict[str, Any]] = []
    posts: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    campaigns: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    handles: list[dict[str, Any]] = []
    pid = 0

    def account(aid: str, i: int, created: dt.datetime) -> dict[str, Any]:
        handle = f"user_{aid}" + (pick_bad(i) if bad and i % 2 == 0 else "")
        disp = f"{_WORDS[i % len(_WORDS)].title()} {_WORDS[(i * 7) % len(_WORDS)].title()}"
        if bad:
            disp += " " + pick_bad(i + 1)
        return {
            "platform": "twitter", "account_id": aid, "handle": handle, "display_name": disp,
            "created_at": created, "followers": int(rng.integers(0, 5000)),
            "following": int(rng.integers(0, 2000)), "posts_count": int(rng.integers(1, 9000)),
            "description": "Invented profile for testing." + (pick_bad(i + 2) if bad else ""),
            "profile_image_url": "https://example.invalid/avatar.png",
            "first_seen": None, "last_seen": None,
        }

    def post(aid: str, handle: str, t: dt.datetime, text: str, app: str, i: int,
             kind: str = "post", parent: str | None = None,
             urls: Sequence[str] = (), tags: Sequence[str] = ()) -> str:
        nonlocal pid
        pid += 1
        post_id = f"{pid:08d}"
        posts.append({
            "platform": "twitter", "post_id": post_id, "account_id": aid, "handle": handle,
            "created_at": t, "kind": kind, "text": text, "lang": "en", "source_app": app,
            "parent_post_id": parent, "parent_account_id": None, "parent_created_at": None,
            "urls": list(urls), "hashtags": list(tags), "mentions": [], "mention_ids": [],
            "media": [{"media_id": f"m{post_id}", "url": "https://example.invalid/i.jpg",
                       "hash": f"{i:016x}"}] if i % 5 == 0 else [],
            "source_file": "sample.jsonl", "source_record": pid,
        })
        return post_id

    # organic accounts
    for i in range(n_organic):
        aid = f"9{i:07d}"
        a = account(aid, i, _T0 - dt.timedelta(days=int(rng.integers(30, 3000))))
        accounts.append(a)
        for j in range(posts_per_account):
            t = _T0 + dt.timedelta(seconds=int(rng.integers(0, 3 * 86400)))
            words = rng.choice(_WORDS, size=6)
            text = " ".join(str(w) for w in words) + (f" {pick_bad(i + j)}" if bad else "")
            post(aid, a["handle"], t, text, _APPS[int(rng.integers(0, 3))], i + j,
                 tags=[str(words[0])])

    # campaigns
    for c in range(n_campaigns):
        cid = f"c{c + 1:04d}"
        app = f"Amplifier {c + 1}" if c % 2 == 0 else _APPS[c % 3]
        size = campaign_size + c % 3
        ids = [f"{c + 1}{k:06d}" for k in range(size)]
        created = _T0 - dt.timedelta(days=int(rng.integers(1, 40)))
        seed_text = " ".join(str(w) for w in rng.choice(_WORDS, size=8)) + (
            " " + pick_bad(c) if bad else "")
        url = f"https://news.example/{_WORDS[c % len(_WORDS)]}/{c}" + (
            "?q=" + pick_bad(c + 3) if bad else "")
        tag = f"{_WORDS[(c * 3) % len(_WORDS)]}{c}" + (pick_bad(c + 4) if bad else "")
        origin = post(f"8{c:07d}", f"origin_{c}", _T0, seed_text, "Twitter Web App", c)
        start = _T0 + dt.timedelta(hours=int(rng.integers(1, 60)))
        first = last = start
        for k, aid in enumerate(ids):
            a = account(aid, c * 31 + k, created + dt.timedelta(minutes=k))
            accounts.append(a)
            handles.append({"platform": "twitter", "account_id": aid, "handle": a["handle"],
                            "display_name": a["display_name"], "first_seen": start,
                            "last_seen": start})
            for burst in range(3):
                t = start + dt.timedelta(minutes=30 * burst, seconds=int(rng.integers(0, 40)))
                first, last = min(first, t), max(last, t)
                post(aid, a["handle"], t, seed_text, app, c + burst, kind="repost",
                     parent=origin)
                post(aid, a["handle"], t + dt.timedelta(seconds=5), seed_text, app,
                     c + burst + 1, urls=[url], tags=[tag])
            members.append({"campaign_id": cid, "account_id": aid,
                            "strength": float(size - k) * 1.5, "degree": size - 1,
                            "joined_by": "ties"})
        for x in range(size):
            for y in range(x + 1, size):
                for typ in ("repost", "text", "url"):
                    edges.append({
                        "account_a": ids[x], "account_b": ids[y], "type": typ,
                        "window": 60.0, "n_keys": 3, "n_pairs": 3, "min_delay": 1.0,
                        "median_delay": float(rng.integers(2, 30)),
                        "weight": round(float(rng.uniform(0.5, 3.0)), 3),
                        "p_value": 1e-4 if typ != "url" else float("nan"),
                        "q_value": 1e-3 if typ != "url" else float("nan"),
                    })
        score = round(1.0 - c / max(n_campaigns, 1) * 0.8, 4)
        signals = ["repost", "text", "url"] + (["source_app"] if c % 2 == 0 else [])
        campaigns.append({
            "campaign_id": cid, "size": size, "score": score, "signals": signals,
            "n_edges": size * (size - 1) // 2 * 3, "density": 1.0,
            "first_time": first, "last_time": last,
            "summary": f"{size} accounts reposted and copied the same post within seconds, "
                       f"three times" + (f" {pick_bad(c + 5)}" if bad else "") + ".",
        })
        for typ, key, ex in (("repost", origin, seed_text), ("text", f"h{c:x}", seed_text),
                             ("url", url, None), ("hashtag", tag, None)):
            evidence.append({
                "campaign_id": cid, "type": typ, "key": key, "n_accounts": size,
                "n_actions": size * 3, "first_time": first, "last_time": last,
                "example_post_id": origin, "example_text": ex,
            })

    ws.append("accounts", _cols("accounts", accounts))
    ws.append("account_handles", _cols("account_handles", handles))
    ws.append("posts", _cols("posts", posts))
    ws.con.execute(
        "UPDATE accounts SET first_seen = p.f, last_seen = p.l FROM "
        "(SELECT account_id, min(created_at) f, max(created_at) l FROM posts GROUP BY 1) p "
        "WHERE accounts.account_id = p.account_id").fetchall()
    ws.append("edges", _cols("edges", edges))
    ws.append("campaigns", _cols("campaigns", campaigns))
    ws.append("campaign_members", _cols("campaign_members", members))
    ws.append("campaign_evidence", _cols("campaign_evidence", evidence))
    ws.append("files", _cols("files", [{
        "file_sha256": "0" * 64, "path": "sample.jsonl" + (pick_bad(7) if bad else ""),
        "format": "twitter-v1", "bytes": 12345, "records": len(posts) + 2,
        "posts": len(posts), "new_posts": len(posts), "skipped": 0, "rejects": 2,
        "ingested_at": _T0, "run_id": "sample"}]))
    ws.append("rejects", _cols("rejects", [
        {"source_file": "sample.jsonl", "source_record": len(posts) + k + 1,
         "format": "twitter-v1", "reason": "not JSON: unexpected end of line",
         "raw": (b'{"id": ' + (pick_bad(k).encode() if bad else b"")),
         "file_sha256": "0" * 64} for k in range(2)]))
    with ws.run("analyze", {"window": 60, "seed": seed, "note": pick_bad(8) if bad else ""},
                []) as log:
        log.count("posts", len(posts))


def build_large(ws: Workspace, *, n_campaigns: int = 1000, n_accounts: int = 100_000,
                posts_per_account: int = 2, seed: int = 0) -> None:
    """A large synthetic workspace generated in SQL (for scale tests and benchmarks).

    Campaign ``c`` (1-based) has ``5 + c % 36`` members (≈20 on average), all tied
    pairwise by ``repost`` edges; every account has ``posts_per_account`` posts.
    """
    con = ws.con
    n, c, k, s = int(n_accounts), int(n_campaigns), int(posts_per_account), int(seed)
    con.execute(f"""
        INSERT INTO accounts
        SELECT 'twitter', 'a' || i, 'user_' || i, 'Name ' || i,
               TIMESTAMP '2023-01-01' + to_seconds(hash(i, {s}) % 30000000),
               hash(i, {s}, 1) % 5000, hash(i, {s}, 2) % 2000, hash(i, {s}, 3) % 9000,
               'invented profile', NULL,
               TIMESTAMP '2024-03-01', TIMESTAMP '2024-03-04'
        FROM range({n}) t(i)""").fetchall()
    con.execute(f"""
        CREATE TEMP TABLE _m AS
        WITH camp AS (SELECT c, 5 + c % 36 AS size, sum(5 + c % 36) OVER (ORDER BY c) - (5 + c % 36) AS off
                      FROM range(1, {c} + 1) t(c))
        SELECT 'c' || lpad(c::VARCHAR, 5, '0') AS cid, c, 'a' || ((off + j) % {n}) AS aid, j,
               size
        FROM camp, range(5 + c % 36) r(j)""").fetchall()
    con.execute(f"""
        INSERT INTO posts
        SELECT 'twitter', 'p' || (i * {k} + j), 'a' || i, 'user_' || i,
               TIMESTAMP '2024-03-01' + to_seconds(hash(i, j, {s}) % 259200),
               'post', 'invented text number ' || (hash(i, j) % 5000), 'en',
               CASE hash(i, {s}) % 3 WHEN 0 THEN 'Twitter Web App' WHEN 1 THEN 'Twitter for Android'
                    ELSE 'Twitter for iPhone' END,
               NULL, NULL, NULL, [], ['tag' || (hash(i, j) % 300)], [], [], [], 'large.jsonl',
               i * {k} + j + 1
        FROM range({n}) t(i), range({k}) u(j)""").fetchall()
    con.execute("""
        INSERT INTO campaign_members
        SELECT cid, aid, (size - j) * 1.0, size - 1, 'ties' FROM _m""").fetchall()
    con.execute("""
        INSERT INTO edges
        SELECT least(x.aid, y.aid), greatest(x.aid, y.aid), 'repost', 60.0, 3, 3, 1.0, 5.0,
               1.0 + (hash(x.aid, y.aid) % 1000) / 500.0, 1e-4, 1e-3
        FROM _m x JOIN _m y ON x.cid = y.cid AND x.j < y.j""").fetchall()
    con.execute(f"""
        INSERT INTO campaigns
        SELECT cid, any_value(size), 1.0 - any_value(c) / ({c} + 1.0), ['repost', 'text'],
               any_value(size) * (any_value(size) - 1) // 2, 1.0,
               TIMESTAMP '2024-03-01', TIMESTAMP '2024-03-02',
               any_value(size) || ' accounts reposted the same posts within a minute.'
        FROM _m GROUP BY cid""").fetchall()
    con.execute("""
        INSERT INTO campaign_evidence
        SELECT cid, t.type, t.type || ':' || cid, any_value(size), any_value(size) * 3,
               TIMESTAMP '2024-03-01', TIMESTAMP '2024-03-01 00:10:00', NULL,
               'invented shared text of ' || cid
        FROM _m, (VALUES ('repost'), ('text'), ('url'), ('hashtag')) t(type)
        GROUP BY cid, t.type""").fetchall()
    con.execute("DROP TABLE _m").fetchall()
