"""Speed and peak memory of the actions and detect stages on synthetic data.

Each measurement runs in a fresh subprocess so its peak RSS is its own:

* ``detect``: default-mode co-action detection (``coaction_edges``: tight 60 s window for
  every action, 3600 s window for rare keys, stratified configuration null, BH) on N
  synthetic repost actions (Zipf-popular keys incl. viral bursts, lognormal account
  activity, daily rhythm, 7 days) — and the bare numba sort-and-sweep for comparison with
  DESIGN.md's figure (10M actions, W = 60 s: 17.7 s, 2.0 GB).
* ``actions``: ``actions_from_posts`` on N synthetic posts (text + near_text MinHash-LSH,
  hashtags, URLs, mentions; 30 % reposts).

Prints a Markdown table; ``--write`` replaces the "## Detect" section of
benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/detect.py                  # 1M actions, 200k posts
    .venv/bin/python benchmarks/detect.py --sizes 1e6 1e7 --posts 1e6 --write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
HEADING = "## Detect"
NOTES = ("\nNotes: the synthetic actions are independent accounts (no coordination), so "
         "keeping (almost) no edge at 5 % FDR is the expected answer; candidate pairs are "
         "those left after exact pruning. DESIGN.md measured the bare sweep of 10M "
         "actions at 17.7 s / 2.0 GB on this machine class.\n")


def _cpu() -> float:
    return time.process_time()


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def synthetic_actions(n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    n_acc = max(1000, n // 10)
    n_keys = max(1000, n // 2)
    # Zipf-like popularity whose head does not grow with n: the top key gets ~5,000
    # actions at every size (DESIGN.md's hard case of 20,000 accounts is tested apart)
    pop = 1.0 / (np.arange(1, n_keys + 1) + max(1, n // 50_000))
    pop /= pop.sum()
    act = rng.lognormal(0, 1.2, n_acc)
    act /= act.sum()
    acc = rng.choice(n_acc, n, p=act)
    key = rng.choice(n_keys, n, p=pop)
    # each key lives around its own moment: viral keys burst, the tail is spread out
    key_t0 = rng.integers(0, 7 * 86400, n_keys)
    t = key_t0[key] + rng.exponential(7200, n).astype(np.int64)
    t = t * 1_000_000 + rng.integers(0, 1_000_000, n)
    return pa.table({
        "account_id": pa.array(acc.astype(str)),
        "time": pa.array(t).cast(pa.timestamp("us")),
        "type": pa.array(np.full(n, "repost")),
        "key": pa.array(key.astype(str)),
        "post_id": pa.array(np.arange(n).astype(str)),
    })


def synthetic_posts(n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import datetime as dt

    import numpy as np
    import pyarrow as pa

    from echoscope import schema

    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(5000)]
    n_acc = max(100, n // 10)
    n_tpl = max(10, n // 20)
    templates = [" ".join(rng.choice(words, 14)) for _ in range(n_tpl)]
    base = dt.datetime(2024, 1, 1)
    kinds = rng.choice(["post", "repost", "reply", "quote"], n, p=[0.5, 0.3, 0.1, 0.1])
    rows = []
    for i in range(n):
        tpl = templates[int(rng.integers(0, n_tpl))]
        if rng.random() < 0.3:  # a variant: one word changed
            parts = tpl.split()
            parts[int(rng.integers(0, len(parts)))] = words[int(rng.integers(0, 5000))]
            tpl = " ".join(parts)
        rows.append({
            "platform": "twitter", "post_id": str(i), "account_id": str(int(rng.integers(0, n_acc))),
            "handle": None, "created_at": base + dt.timedelta(seconds=int(rng.integers(0, 604800))),
            "kind": str(kinds[i]), "text": tpl + f" https://t.co/{i}",
            "lang": None, "source_app": None,
            "parent_post_id": str(int(rng.integers(0, n))) if kinds[i] != "post" else None,
            "parent_account_id": None, "parent_created_at": None,
            "urls": [f"https://site{int(rng.integers(0, 2000))}.example/a{int(rng.integers(0, 50))}"],
            "hashtags": [f"h{int(rng.integers(0, 300))}" for _ in range(int(rng.integers(0, 3)))],
            "mentions": [f"m{int(rng.integers(0, 1000))}"], "mention_ids": [], "media": [],
            "source_file": "bench", "source_record": i + 1,
        })
    return pa.Table.from_pylist(rows, schema=schema.TABLES["posts"].schema)


def run_one(kind: str, n: int) -> dict[str, float]:
    import numpy as np

    if kind == "detect":
        from echoscope.detect import DetectParams, coaction_edges

        acts = synthetic_actions(n)
        t0, c0 = time.perf_counter(), _cpu()
        stats: dict[str, object] = {}
        edges = coaction_edges(acts, DetectParams(types=("repost",)), stats=stats)
        secs = time.perf_counter() - t0
        layers = stats["layers"]
        assert isinstance(layers, list)
        return {"seconds": secs, "cpu": _cpu() - c0, "peak_gb": _peak_gb(),
                "edges": edges.num_rows,
                "tested": float(stats["edges_tested"]),  # type: ignore[arg-type]
                "candidate_pairs": float(sum(x["candidate_pairs"] for x in layers))}
    if kind == "sweep":
        from echoscope.detect._util import encode as _encode
        from echoscope.detect._util import times_us as _times_us
        from echoscope.detect.kernel import sort_actions, sweep_pairs

        acts = synthetic_actions(n)
        t0, c0 = time.perf_counter(), _cpu()
        key, _ = _encode(acts["key"])
        acct, _ = _encode(acts["account_id"])
        t = _times_us(acts["time"])
        o = sort_actions(key, t, acct.astype(np.int32))
        ii, _jj = sweep_pairs(key[o], t[o], acct[o].astype(np.int32), 60_000_000)
        return {"seconds": time.perf_counter() - t0, "cpu": _cpu() - c0,
                "peak_gb": _peak_gb(), "pairs": float(ii.size)}
    if kind == "actions":
        from echoscope.actions import actions_from_posts

        posts = synthetic_posts(n)
        t0, c0 = time.perf_counter(), _cpu()
        out = actions_from_posts(posts)
        return {"seconds": time.perf_counter() - t0, "cpu": _cpu() - c0,
                "peak_gb": _peak_gb(),
                "actions": float(out.num_rows)}
    raise SystemExit(f"unknown kind {kind}")


def measure(kind: str, n: int) -> dict[str, float]:
    # warm the numba cache first so compile time is not counted
    cmd = [sys.executable, __file__, "--one", kind, str(n)]
    subprocess.run([sys.executable, __file__, "--one", kind, "2000"], check=True,
                   capture_output=True)
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="*", type=float, default=[1e6])
    ap.add_argument("--posts", nargs="*", type=float, default=[2e5])
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(float(args.one[1])))))
        return
    lines = [HEADING, "",
             f"`benchmarks/detect.py` on {platform.machine()}, {os.cpu_count()} cores "
             f"(shared), {time.strftime('%Y-%m-%d')}. Synthetic inputs; time excludes data "
             "generation and numba compilation; peak RSS of the whole process (includes "
             "the generated input). Wall time depends on how busy the shared machine was; "
             "CPU seconds (this process, all threads) are the steadier figure.", "",
             f"Load average at start: {os.getloadavg()[0]:.1f}.", "",
             "| stage | input | wall s | CPU s | peak RSS GB | result |",
             "|---|---|---|---|---|---|"]
    for n in args.sizes:
        for kind in ("sweep", "detect"):
            r = measure(kind, int(n))
            what = (f"{int(r['pairs']):,} pairs" if kind == "sweep" else
                    f"{int(r['edges']):,} edges kept of {int(r['tested']):,} tested; "
                    f"{int(r['candidate_pairs']):,} candidate pairs")
            label = ("numba sort + sweep, W = 60 s" if kind == "sweep" else
                     "coaction_edges (60 s + 3600 s rare, null, BH)")
            lines.append(f"| {label} | {int(n):,} actions | {r['seconds']:.1f} | "
                         f"{r['cpu']:.1f} | {r['peak_gb']:.2f} | {what} |")
            print(lines[-1], flush=True)
    for n in args.posts:
        r = measure("actions", int(n))
        lines.append(f"| actions_from_posts (all types incl. near_text) | {int(n):,} posts | "
                     f"{r['seconds']:.1f} | {r['cpu']:.1f} | {r['peak_gb']:.2f} | "
                     f"{int(r['actions']):,} actions |")
        print(lines[-1], flush=True)
    lines.append(NOTES)
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        pat = re.compile(r"^## Detect\n.*?(?=^## |\Z)", re.S | re.M)
        text = pat.sub(section + "\n", text) if pat.search(text) else (
            text.rstrip("\n") + "\n\n" + section)
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
