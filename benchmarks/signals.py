"""Quality and speed of the behavioural signals (issue 5) on simulated data.

For each seed: ``echoscope.simulate`` (all campaign styles, hard negatives incl. look-alike
handles, accounts created right after an unrelated suspension, benign bots), then
``echoscope.pipeline.analyze`` with the simulator's ``suspended.csv`` (signals run inside
it, after clustering), scored with ``echoscope.simulate.evaluate``:

* re-creation pairs (precision / recall), with the list and with inferred suspensions
  (``run_signals`` again without the list);
* storm and hijack flags per hashtag, and organic trending hashtags flagged;
* confounders: look-alike / created-after-suspension accounts reported as successors,
  benign bots with a ``shared_rare_app`` flag, members of the app-relay campaign with one.

Then the speed of ``run_signals`` alone on a larger simulated workspace (ingest only, no
campaigns), with the peak RSS of that child process.

    .venv/bin/python benchmarks/signals.py                       # 3 seeds x 20k posts
    .venv/bin/python benchmarks/signals.py --seeds 1 2 3 4 5 --scale 200000 --write

``--write`` replaces the "## Signals" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
HEADING = "## Signals"


def _quality(seed: int, posts: int, days: float, tmp: Path) -> dict[str, Any]:
    from echoscope.pipeline import analyze
    from echoscope.signals import run_signals
    from echoscope.simulate import SimParams, evaluate, simulate
    from echoscope.workspace import Workspace

    d = tmp / f"seed{seed}"
    sim = simulate(d, SimParams(posts=posts, seed=seed, days=days))
    out = d / "out"
    t0 = time.perf_counter()
    res = analyze([str(p) for p in sim.files], out, suspended=sim.suspended_path, seed=seed)
    t_analyze = time.perf_counter() - t0
    stage = res.stages.get("signals", {})
    ev = evaluate(sim.truth_path, out)
    truth = json.loads(Path(sim.truth_path).read_text("utf-8"))
    hard = truth.get("hard_negatives", {})
    confound = set(hard.get("lookalike_handles", [])) | set(hard.get("created_after_suspension", []))
    bots = {a for a, lab in truth["accounts"].items() if lab == "benign_automation"}
    relay = {a for c in truth["campaigns"] if c["style"] == "app_relay" for a in c["members"]}
    row: dict[str, Any] = {
        "seed": seed, "posts": sim.posts, "accounts": len(truth["accounts"]),
        "analyze_s": round(t_analyze, 1), "signals_s": stage.get("seconds"),
        "campaigns": res.counts.get("campaigns"),
        "reinc": ev["reincarnations"], "hashtags": ev["hashtags"],
    }
    with Workspace(res.workspace) as ws:
        pred = ws.sql("SELECT new_account_id FROM reincarnations").column(0).to_pylist()
        row["confounders_as_successor"] = len(set(pred) & confound)
        row["confounders"] = len(confound)
        flagged = set(ws.sql("SELECT account_id FROM account_signals "
                             "WHERE signal = 'shared_rare_app' AND flagged").column(0).to_pylist())
        row["bots"] = len(bots)
        row["bots_shared_app"] = len(flagged & bots)
        row["relay_members"] = len(relay)
        row["relay_shared_app"] = len(flagged & relay)
        inf_out = d / "inferred"
        run_signals(ws, inf_out)
        # evaluate reads a results folder: accounts.csv from analyze, the new pairs
        shutil.copy(out / "accounts.csv", inf_out / "accounts.csv")
        ev2 = evaluate(sim.truth_path, inf_out)
        row["reinc_inferred"] = ev2["reincarnations"]
    return row


def _scale_child(posts: int, tmp: str) -> None:
    from echoscope.ingest import ingest_files
    from echoscope.signals import run_signals
    from echoscope.simulate import SimParams, simulate
    from echoscope.workspace import Workspace

    sim = simulate(Path(tmp) / "scale", SimParams(posts=posts, seed=7, days=14))
    with Workspace(Path(tmp) / "scale.echoscope.duckdb") as ws:
        ingest_files([str(p) for p in sim.files], ws)
        n = ws.count("posts")
        t0 = time.perf_counter()
        counts = run_signals(ws, Path(tmp) / "scale_out", suspended=str(sim.suspended_path))
        secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(json.dumps({"posts": n, "seconds": round(secs, 2), "peak_gb": round(rss, 2),
                      "account_signals": counts["account_signals"],
                      "hashtags": counts["hashtags"],
                      "reincarnations": counts["reincarnations"]}))


def _f(x: Any) -> str:
    return "–" if x is None else f"{x:.2f}" if isinstance(x, float) else str(x)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| seed | posts | campaigns found | re-creation P / R (list) | P / R (inferred) | "
        "storm P / R | hijack P / R | organic trends flagged | confounders as successors | "
        "bots / relay members with shared_rare_app | signals s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        re_, ri, st, hj = (r["reinc"], r["reinc_inferred"], r["hashtags"]["storm"],
                           r["hashtags"]["hijack"])
        tr = r["hashtags"]["organic_trending_flagged"]
        out.append(
            f"| {r['seed']} | {r['posts']:,} | {r['campaigns']} | "
            f"{_f(re_['precision'])} / {_f(re_['recall'])} ({re_['tp']} of {re_['pairs_true']}) | "
            f"{_f(ri['precision'])} / {_f(ri['recall'])} | "
            f"{_f(st['precision'])} / {_f(st['recall'])} | {_f(hj['precision'])} / "
            f"{_f(hj['recall'])} | {tr['flagged']} of {tr['hashtags']} | "
            f"{r['confounders_as_successor']} of {r['confounders']} | "
            f"{r['bots_shared_app']} of {r['bots']} / {r['relay_shared_app']} of "
            f"{r['relay_members']} | {_f(r['signals_s'])} |")
    return out


def _sum_prf(rows: list[dict[str, Any]], get: Any) -> str:
    tp = sum(get(r)["tp"] for r in rows)
    fp = sum(get(r)["fp"] for r in rows)
    fn = sum(get(r)["fn"] for r in rows)
    p = tp / (tp + fp) if tp + fp else None
    rc = tp / (tp + fn) if tp + fn else None
    return f"precision {_f(p)}, recall {_f(rc)} (tp {tp}, fp {fp}, fn {fn})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--scale", type=int, default=200000, help="posts for the speed run (0: skip)")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--_child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--_tmp", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._child:
        _scale_child(a._child, a._tmp)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in a.seeds:
            r = _quality(s, a.posts, a.days, Path(tmp))
            print(json.dumps(r, default=str), file=sys.stderr)
            rows.append(r)
        scale = None
        if a.scale:
            proc = subprocess.run(
                [sys.executable, __file__, "--_child", str(a.scale), "--_tmp", tmp],
                check=True, capture_output=True, text=True, env={**os.environ})
            scale = json.loads(proc.stdout.strip().splitlines()[-1])
    lines = [
        HEADING, "",
        f"`benchmarks/signals.py --seeds {' '.join(map(str, a.seeds))} --posts {a.posts} "
        f"--days {a.days} --scale {a.scale}` on {platform.machine()}, {os.cpu_count()} cores "
        f"(shared), {time.strftime('%Y-%m-%d', time.gmtime())}. Simulator defaults (all eight "
        "campaign styles, hard negatives); `analyze` with the simulator's suspended.csv; "
        "scored by `echoscope.simulate.evaluate`.",
        "",
        *_table(rows),
        "",
        f"* Re-creation pairs, all seeds (with the list): {_sum_prf(rows, lambda r: r['reinc'])}.",
        f"* Re-creation pairs, inferred suspensions: "
        f"{_sum_prf(rows, lambda r: r['reinc_inferred'])}.",
        f"* Storm flags: {_sum_prf(rows, lambda r: r['hashtags']['storm'])}.",
        f"* Hijack flags: {_sum_prf(rows, lambda r: r['hashtags']['hijack'])}.",
    ]
    if scale:
        lines.append(
            f"* Speed: `run_signals` on {scale['posts']:,} ingested posts (no campaigns; "
            f"suspended list given): {scale['seconds']} s, peak RSS of the process "
            f"{scale['peak_gb']} GB ({scale['account_signals']:,} account-signal rows, "
            f"{scale['hashtags']:,} hashtags, {scale['reincarnations']} re-creation rows).")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.write:
        _write(text)


def _write(section: str) -> None:
    old = RESULTS.read_text("utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pat = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pat.sub(lambda _: section + "\n", old) if pat.search(old) else (
        old.rstrip("\n") + "\n\n" + section)
    RESULTS.write_text(new, "utf-8")


if __name__ == "__main__":
    main()
