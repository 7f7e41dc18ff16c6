"""Ingest speed and memory for Twitter v1.1 JSONL, against merely parsing it with orjson.

    .venv/bin/python benchmarks/ingest.py --tweets 200000

Generates N synthetic v1.1 tweets (neutral invented text; user objects, entities, 30 %
retweets with the nested original, as twarc1 writes them), then measures

* ``parse``: reading the file line by line and ``orjson.loads`` of every line (the floor);
* ``ingest``: ``ingest_files`` into a fresh workspace, in a child process, whose peak RSS
  is reported (``ru_maxrss`` of the child). ``--path`` picks the v1.1 fast path (default
  ``struct``, the msgspec path users get; ``sql``), ``--no-fast-path`` the
  reference parser, ``--workers 2`` the opt-in two-process struct path (the file split in
  two byte ranges; CPU then includes the worker process's).

Goal (issue 2): ingest within 3x of parse, and bounded memory (streaming in batches).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

WORDS = ["bridge", "convoy", "road", "market", "weather", "river", "school", "library", "station", "harbour", "garden", "festival", "train", "museum", "council", "football", "concert", "parade", "bakery", "hospital"]
APPS = ["Twitter for Android", "Twitter Web Client", "Bench App", "TweetDeck", "dlvr.it"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _time(sec: int) -> str:
    t = time.gmtime(1_400_000_000 + sec)
    return (f"{time.strftime('%a', t)} {MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000 {t.tm_year}")


def _user(rng: random.Random, uid: int) -> dict[str, object]:
    return {
        "id": uid, "id_str": str(uid), "name": f"Account {uid}", "screen_name": f"acct_{uid}",
        "location": "", "description": "synthetic account for benchmarks", "url": None,
        "entities": {"description": {"urls": []}}, "protected": False,
        "followers_count": rng.randint(0, 5000), "friends_count": rng.randint(0, 2000),
        "listed_count": 0, "created_at": _time(-rng.randint(0, 10**8)),
        "favourites_count": 12, "utc_offset": None, "time_zone": None, "geo_enabled": False,
        "verified": False, "statuses_count": rng.randint(1, 10**5), "lang": "en",
        "profile_image_url_https": f"https://pbs.twimg.com/profile_images/{uid}/a_normal.jpg",
        "default_profile": True, "default_profile_image": False,
    }


def _tweet(rng: random.Random, i: int, users: int) -> dict[str, object]:
    uid = rng.randrange(users) + 1000
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18)))
    tag = rng.choice(WORDS)
    url = f"https://example-news.net/{rng.randrange(5000)}?utm_source=twitter"
    text = f"{words} #{tag.title()} https://t.co/{i:010d}"
    t: dict[str, object] = {
        "created_at": _time(i), "id": 10**17 + i, "id_str": str(10**17 + i), "text": text,
        "truncated": False,
        "entities": {
            "hashtags": [{"text": tag.title(), "indices": [len(words) + 1,
                                                           len(words) + 2 + len(tag)]}],
            "symbols": [], "user_mentions": [],
            "urls": [{"url": f"https://t.co/{i:010d}", "expanded_url": url,
                      "display_url": url[8:30], "indices": [0, 23]}],
        },
        "source": f'<a href="http://app.example" rel="nofollow">{rng.choice(APPS)}</a>',
        "in_reply_to_status_id": None, "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None, "in_reply_to_user_id_str": None,
        "in_reply_to_screen_name": None, "user": _user(rng, uid), "geo": None,
        "coordinates": None, "place": None, "contributors": None, "is_quote_status": False,
        "retweet_count": 0, "favorite_count": 0, "favorited": False, "retweeted": False,
        "possibly_sensitive": False, "lang": "en",
    }
    if rng.random() < 0.3 and i > 10:
        orig = _tweet(rng, rng.randrange(i // 2 + 1), users)
        t["retweeted_status"] = orig
        t["text"] = f"RT @{orig['user']['screen_name']}: {orig['text']}"[:140]  # type: ignore[index]
        t["entities"]["user_mentions"] = [  # type: ignore[index]
            {"screen_name": orig["user"]["screen_name"],  # type: ignore[index]
             "id_str": orig["user"]["id_str"], "indices": [3, 15]}]  # type: ignore[index]
    return t


def generate(path: Path, n: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    users = max(10, n // 20)
    with path.open("wb") as f:
        for i in range(n):
            f.write(orjson.dumps(_tweet(rng, i, users)) + b"\n")
    return path.stat().st_size


def parse_only(path: Path) -> tuple[float, float]:
    """(wall, cpu) seconds to read and orjson-parse every line."""
    t0, c0 = time.perf_counter(), time.process_time()
    with path.open("rb") as f:
        for line in f:
            orjson.loads(line)
    return time.perf_counter() - t0, time.process_time() - c0


def child(path: str, ws: str) -> None:
    import pandas  # noqa: F401  - DuckDB imports it on first use; keep that out of the timing

    from echoscope.ingest import ingest_files

    def kids() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    t0, c0, k0 = time.perf_counter(), time.process_time(), kids()
    s = ingest_files([path], ws)
    cpu, wcpu = time.process_time() - c0, kids() - k0
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": cpu + wcpu,
                      "worker_cpu": wcpu, "posts": s.new_posts, "records": s.records,
                      "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "worker_rss_mib": resource.getrusage(
                          resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def _ingest(path: Path, ws: Path, args: argparse.Namespace, workers: int) -> dict[str, float]:
    env = dict(os.environ)
    if args.no_fast_path:
        env["ECHOSCOPE_NO_FAST_PATH"] = "1"
    env["ECHOSCOPE_V1_PATH"] = args.path
    if workers:
        env["ECHOSCOPE_V1_WORKERS"] = str(workers)
    out = subprocess.run([sys.executable, __file__, "--child", str(path), str(ws)],
                         capture_output=True, text=True, check=True, env=env)
    res: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    res["ws_mib"] = ws.stat().st_size / 2**20
    ws.unlink()
    return res


def pairs(path: Path, d: str, args: argparse.Namespace) -> None:
    """One process and two, alternating, each run beside its own orjson floor."""
    parse_only(path)  # warm the page cache
    print("| pair | processes | orjson wall / cpu | ingest wall / cpu (worker) | wall ratio "
          "| cpu ratio | peak RSS | load before / after |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i in range(args.pairs):
        for workers in ((1, 2) if i % 2 == 0 else (2, 1)):
            load0 = os.getloadavg()[0]
            w_parse, c_parse = parse_only(path)
            r = _ingest(path, Path(d) / "pair.echoscope.duckdb", args, workers)
            rss = f"{r['rss_mib']:,.0f} MiB" + (
                f" + {r['worker_rss_mib']:,.0f}" if r["worker_cpu"] else "")
            print(f"| {i + 1} | {workers} | {w_parse:.2f} / {c_parse:.2f} s | "
                  f"{r['seconds']:.1f} / {r['cpu']:.1f} s ({r['worker_cpu']:.1f}) | "
                  f"{r['seconds'] / w_parse:.2f}x | {r['cpu'] / c_parse:.2f}x | {rss} | "
                  f"{load0:.1f} / {os.getloadavg()[0]:.1f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tweets", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="keep the generated file here")
    ap.add_argument("--repeat", type=int, default=1, help="runs; the best is reported")
    ap.add_argument("--no-fast-path", action="store_true",
                    help="measure the reference Python parser (ECHOSCOPE_NO_FAST_PATH=1)")
    ap.add_argument("--path", choices=["struct", "sql"], default="struct",
                    help="which fast path (ECHOSCOPE_V1_PATH): msgspec structs (the "
                         "default) or DuckDB SQL")
    ap.add_argument("--workers", type=int, default=0,
                    help="processes decoding the file on the struct path "
                         "(ECHOSCOPE_V1_WORKERS; default 1; 2 = the opt-in two-process "
                         "path, as ECHOSCOPE_V1_PATH=parallel)")
    ap.add_argument("--pairs", type=int, default=0,
                    help="instead: N pairs of runs on one and on two processes, "
                         "alternating, each beside its own orjson floor (a table row each)")
    ap.add_argument("--child", nargs=2, metavar=("FILE", "WS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as d:
        path = args.keep or Path(d) / "tweets.jsonl"
        if not path.exists():
            t0 = time.perf_counter()
            size = generate(path, args.tweets, args.seed)
            print(f"generated {args.tweets:,} tweets ({size / 2**20:,.0f} MiB) in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        size = path.stat().st_size
        if args.pairs:
            pairs(path, d, args)
            return
        print(f"machine             {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f} "
              "before")
        parse_only(path)  # warm the page cache
        w_parse, c_parse = min(parse_only(path) for _ in range(args.repeat))
        runs = [_ingest(path, Path(d) / f"bench{i}.echoscope.duckdb", args, args.workers)
                for i in range(args.repeat)]
        res = min(runs, key=lambda r: r["cpu"])
        ws_size = res["ws_mib"] * 2**20
        rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        n = res["records"]
        way = "reference parser" if args.no_fast_path else f"{args.path} path"
        if args.path == "struct" and not args.no_fast_path:
            way += f", {args.workers or 'default'} workers"
        print(f"tweets              {n:,} ({size / 2**20:,.0f} MiB), {way}, best of "
              f"{args.repeat}")
        print(f"orjson parse  wall  {w_parse:8.2f} s  {n / w_parse:10,.0f} tweets/s")
        print(f"              cpu   {c_parse:8.2f} s")
        print(f"ingest_files  wall  {res['seconds']:8.2f} s  {n / res['seconds']:10,.0f} tweets/s")
        print(f"              cpu   {res['cpu']:8.2f} s  (all threads and worker processes; "
              f"workers {res['worker_cpu']:.2f} s)")
        print(f"ratio         wall  {res['seconds'] / w_parse:8.2f} x  (goal <= 3x)")
        print(f"              cpu   {res['cpu'] / c_parse:8.2f} x")
        print(f"peak RSS (ingest)   {rss_mib:8.0f} MiB  (the largest process; the "
              f"worker's {res['worker_rss_mib']:.0f} MiB)")
        print(f"workspace size      {ws_size / 2**20:8.0f} MiB")
        print(f"machine             {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f} "
              "after")


if __name__ == "__main__":
    main()
