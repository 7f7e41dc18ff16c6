"""Scale benchmark of the main job: `echoscope analyze` at given sizes, per stage.

For each size it simulates posts (``echoscope simulate``, reused when the folder already
holds them), then runs ``analyze`` in a child process that records, for every stage of
the pipeline (ingest, actions, detect, cluster, signals, score, outputs, report), its wall
time, its CPU seconds (all threads of the process) and the peak resident memory reached
during it (sampled every 50 ms from /proc). The whole run's peak RSS comes from the
child's rusage. Results go to ``benchmarks/RESULTS.md`` between the scale markers under
"## Scale" (the rest of the file is left alone).

The machine is shared: compare CPU seconds and ratios between sizes, not wall time.

    .venv/bin/python benchmarks/scale.py --sizes 100000,1000000
    .venv/bin/python benchmarks/scale.py --sizes 20000 --no-write          # quick check
    .venv/bin/python benchmarks/scale.py --sizes 3000000 --format cnt-csv --workdir /tmp/scale
    .venv/bin/python benchmarks/scale.py --diagnose OUT_DIR sim/truth.json   # docs/scale.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BEGIN = "<!-- scale:begin -->"
END = "<!-- scale:end -->"
HEADING = "## Scale"
STAGES = ("ingest", "actions", "detect", "cluster", "signals", "score", "bank", "outputs",
          "report")


# -- child: one instrumented analyze run ----------------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Sampler(threading.Thread):
    """Peak RSS since the last :meth:`take`, sampled every ``every`` seconds."""

    def __init__(self, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.peak = _rss_bytes()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.peak = max(self.peak, _rss_bytes())

    def take(self) -> int:
        now = _rss_bytes()
        peak, self.peak = max(self.peak, now), now
        return peak


def child(args: argparse.Namespace) -> None:
    from echoscope import pipeline

    sampler = _Sampler()
    sampler.start()
    rows: list[dict[str, Any]] = []
    last = {"wall": time.perf_counter(), "cpu": time.process_time()}
    orig = pipeline._Stages.ran

    def ran(self: Any, name: str, t0: float, **extra: Any) -> None:
        orig(self, name, t0, **extra)
        wall, cpu = time.perf_counter(), time.process_time()
        rows.append({"stage": name, "wall": wall - last["wall"], "cpu": cpu - last["cpu"],
                     "peak_mb": sampler.take() / 2**20})
        last.update(wall=wall, cpu=cpu)
        # each stage as it ends: a run stopped early (a 10M run out of time) keeps them
        with open(Path(args.out).parent / (Path(args.out).name + ".stages.jsonl"), "a") as f:
            f.write(json.dumps(rows[-1]) + "\n")

    pipeline._Stages.ran = ran  # type: ignore[method-assign]
    t0, c0 = time.perf_counter(), time.process_time()
    res = pipeline.analyze(args.inputs, args.out, suspended=args.suspended,
                           workspace=args.workspace, format=args.format_name)
    sampler.stop.set()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    run = json.loads((Path(args.out) / "run.json").read_text("utf-8"))
    print(json.dumps({"stages": rows, "wall": time.perf_counter() - t0,
                      "cpu": time.process_time() - c0, "peak_mb": peak,
                      "counts": res.counts, "engine": run.get("engine", {})}))


# -- parent ------------------------------------------------------------------------------


def _simulate(n: int, fmt: str, seed: int, folder: Path) -> list[Path]:
    def files() -> list[Path]:
        return sorted(p for p in folder.glob("*") if p.is_file()
                      and p.name not in ("truth.json", "suspended.csv"))

    if not (folder / "truth.json").exists():
        subprocess.run([str(BIN / "echoscope"), "simulate", "--out", str(folder), "--posts",
                        str(n), "--seed", str(seed), "--format", fmt, "--quiet"], check=True)
    return files()


def run_size(n: int, fmt: str, seed: int, work: Path, keep: bool,
             memory_limit: str | None = None) -> dict[str, Any]:
    sim = work / f"sim_{fmt}_{n}_s{seed}"
    inputs = _simulate(n, fmt, seed, sim)
    out = work / f"out_{fmt}_{n}"
    ws = work / f"ws_{fmt}_{n}.duckdb"
    for p in (ws, Path(str(ws) + ".wal")):
        p.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--child", "--out", str(out), "--workspace", str(ws),
           "--suspended", str(sim / "suspended.csv"), *map(str, inputs)]
    print(f"[scale] {n:,} posts: {' '.join(cmd)}", file=sys.stderr)
    t0 = time.perf_counter()
    env = dict(os.environ)
    if memory_limit:
        env["ECHOSCOPE_MEMORY_LIMIT"] = memory_limit
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    stdout, _ = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"analyze failed at {n:,} posts (exit {proc.returncode})")
    res: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    res.update(posts=n, format=fmt, outer_wall=wall, load=os.getloadavg()[0])
    ev = subprocess.run([str(BIN / "echoscope"), "evaluate", "--truth",
                         str(sim / "truth.json"), "--results", str(out), "--json"],
                        capture_output=True, text=True)
    if ev.returncode == 0:
        res["evaluate"] = json.loads(ev.stdout)
    if not keep:
        for p in (ws, Path(str(ws) + ".wal")):
            p.unlink(missing_ok=True)
    (work / f"result_{fmt}_{n}.json").write_text(json.dumps(res, indent=1), "utf-8")
    return res


def _fmt_table(results: list[dict[str, Any]]) -> str:
    lines = ["| posts | stage | wall s | CPU s | CPU s per 1M posts | peak RSS MB |",
             "|---:|---|---:|---:|---:|---:|"]
    for r in results:
        per = 1e6 / r["posts"]
        for s in r["stages"]:
            lines.append(f"| {r['posts']:,} | {s['stage']} | {s['wall']:.1f} | {s['cpu']:.1f} "
                         f"| {s['cpu'] * per:.1f} | {s['peak_mb']:,.0f} |")
        total = (f"**stopped after {r['stages'][-1]['stage'] if r['stages'] else 'start'}**"
                 if r.get("partial") else "**total**")
        lines.append(f"| {r['posts']:,} | {total} | {r['wall']:.1f} | {r['cpu']:.1f} "
                     f"| {r['cpu'] * per:.1f} | {r['peak_mb']:,.0f} |")
    return "\n".join(lines)


def _quality(results: list[dict[str, Any]]) -> str:
    lines = ["| posts | precision | recall | organic FPR | ARI | FP breaking news "
             "| campaigns | flagged |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        e = r.get("evaluate") or {}
        acc = e.get("accounts", {})
        bn = e.get("hard_negatives", {}).get("breaking_news", {})

        def g(v: Any) -> str:
            return f"{v:.3f}" if isinstance(v, float) else "-"
        c = r.get("counts", {})
        lines.append(
            f"| {r['posts']:,} | {g(acc.get('precision'))} | {g(acc.get('recall'))} "
            f"| {g(acc.get('organic_fpr'))} | {g(e.get('group_agreement', {}).get('ari'))} "
            f"| {bn.get('flagged', '-')}/{bn.get('accounts', '-')} "
            f"| {c.get('campaigns', '-')} | {c.get('flagged_accounts', '-')} |")
    return "\n".join(lines)


def write_results(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    path = ROOT / "benchmarks" / "RESULTS.md"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join([
        BEGIN, "",
        f"Run {now} by `benchmarks/scale.py --sizes {args.sizes} --format {args.format}`: "
        f"`echoscope analyze` on simulated posts (seed {args.seed}) with `--suspended`, "
        f"default parameters; {os.cpu_count()} cores, load average "
        f"{max(r['load'] for r in results):.1f} at the end (shared machine: CPU seconds "
        "include every thread; wall times are inflated by other jobs). Stage rows run from "
        "the end of the previous stage to the end of this one; peak RSS is the highest "
        "resident memory sampled during the stage, the total's from rusage. DuckDB "
        "memory limit: " + ", ".join(sorted({str(r.get("engine", {}).get("memory_limit",
                                                                         "not recorded"))
                                             for r in results})) + "."
        + (" Sizes already measured in the same work folder were taken from that earlier "
           "run (`--reuse-results`): code and load may differ between sizes."
           if args.reuse_results else ""), "",
        _fmt_table(results), "", "Quality of the same runs (`echoscope evaluate`):", "",
        _quality(results), "", END])
    text = path.read_text("utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n{body}\n"
    path.write_text(text, "utf-8")


# -- diagnosis of hard negatives that get flagged -----------------------------------------


def diagnose(out: Path, truth_path: Path, kind: str = "breaking_news") -> None:
    """Why accounts of a hard-negative ``kind`` are flagged: their campaigns, the ties that
    hold them, the organic tie graph, and which members a k-core of each campaign keeps."""
    import collections

    import duckdb
    import igraph as ig

    truth = json.loads(truth_path.read_text("utf-8"))
    neg = set(truth["hard_negatives"][kind])
    camp_of = {m: c["name"] for c in truth["campaigns"] for m in c["members"]}

    def label(a: str) -> str:
        return str(camp_of.get(a, kind if a in neg else "organic"))

    con = duckdb.connect()
    flagged = dict(con.sql(
        "SELECT account_id, campaign_id FROM read_csv_auto(?, all_varchar=true) "
        "WHERE flagged = 'true'", params=[str(out / "accounts.csv")]).fetchall())
    ties = con.sql(
        "SELECT DISTINCT least(account_a, account_b), greatest(account_a, account_b) "
        "FROM read_parquet(?) WHERE p_value <= 0.1 OR (isnan(p_value) AND n_keys >= 2)",
        params=[str(out / "edges.parquet")]).fetchall()
    edges = con.sql(
        'SELECT type, "window", count(*), median(p_value), sum((p_value <= 0.1)::int), '
        "sum((q_value <= 0.05)::int), median(n_keys) FROM read_parquet(?) "
        "WHERE list_contains(?, account_a) AND list_contains(?, account_b) "
        "GROUP BY 1, 2 ORDER BY 3 DESC", params=[str(out / "edges.parquet"), sorted(neg),
                                                 sorted(neg)]).fetchall()
    n_flag = sum(1 for a in flagged if a in neg)
    print(f"{kind}: {len(neg):,} accounts, {n_flag:,} flagged")
    deg: collections.Counter[str] = collections.Counter()
    for a, b in ties:
        deg[a] += 1
        deg[b] += 1
    e_all = len(ties)
    for c in sorted(set(flagged.values())):
        mem = {a for a, x in flagged.items() if x == c}
        comp = collections.Counter(label(a) for a in mem).most_common(4)
        inner = [(a, b) for a, b in ties if a in mem and b in mem]
        g = ig.Graph.TupleList(inner)
        core = g.coreness()
        kc = {k: dict(collections.Counter(label(n) for n, x in zip(g.vs["name"], core,
                                                                   strict=True) if x >= k))
              for k in (3, 4, 5)}
        per = {a for a in mem if a not in camp_of}
        m = sum(1 for a, b in inner if a in per and b in per)
        k = sum(deg[a] for a in per)
        print(f"  {c}: {len(mem):,} members {comp}; internal ties {len(inner):,}; "
              f"non-campaign part: {len(per):,} accounts, {m:,} ties, excess "
              f"{m - k * k / (4 * e_all):,.1f}")
        if n_flag and any(a in neg for a in mem):
            for kk, v in kc.items():
                print(f"    {kk}-core keeps {v}")
    print(f"  ties between two {kind} accounts (type, window, edges, median p, p<=0.1, "
          "q<=0.05, median keys):")
    for row in edges:
        print(f"    {row}")
    org = [(a, b) for a, b in ties if a not in camp_of and b not in camp_of]
    g = ig.Graph.TupleList(org)
    sizes = sorted((len(x) for x in g.connected_components()), reverse=True)
    inside = sum(1 for a, b in ties if a in camp_of and b in camp_of)
    print(f"  ties: {e_all:,}, {inside / max(e_all, 1):.1%} inside simulated campaigns; "
          f"organic tie graph: {g.vcount():,} accounts, {g.ecount():,} ties, mean degree "
          f"{2 * g.ecount() / max(g.vcount(), 1):.2f}, largest components {sizes[:3]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000")
    ap.add_argument("--format", default="twitter-v1",
                    choices=("twitter-v1", "twitter-v2", "x-io", "cnt-csv"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where simulations and outputs go (default: a new temp folder); "
                         "an existing simulation there is reused")
    ap.add_argument("--keep", action="store_true", help="keep the workspaces")
    ap.add_argument("--reuse-results", action="store_true",
                    help="take a size's figures from --workdir when an earlier run saved them")
    ap.add_argument("--no-write", action="store_true", help="print, do not edit RESULTS.md")
    ap.add_argument("--memory-limit", default=None,
                    help="DuckDB memory limit for analyze (ECHOSCOPE_MEMORY_LIMIT; default: "
                         "the workspace default, min(50%% of RAM, 2 GiB))")
    ap.add_argument("--diagnose", nargs=2, metavar=("RESULTS", "TRUTH"), type=Path,
                    help="explain flagged breaking-news reposters in an analyze output folder")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--workspace", help=argparse.SUPPRESS)
    ap.add_argument("--suspended", help=argparse.SUPPRESS)
    ap.add_argument("--format-name", default=None, help=argparse.SUPPRESS)
    ap.add_argument("inputs", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if args.diagnose:
        diagnose(*args.diagnose)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="echoscope-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        saved = work / f"result_{args.format}_{n}.json"
        partial = work / f"out_{args.format}_{n}.stages.jsonl"
        if args.reuse_results and saved.exists():
            results.append(json.loads(saved.read_text("utf-8")))
        elif args.reuse_results and partial.exists():
            # a run stopped before the end (out of time): the stages it finished
            stages = [json.loads(x) for x in partial.read_text("utf-8").splitlines() if x]
            results.append({"posts": n, "stages": stages, "partial": True,
                             "wall": sum(x["wall"] for x in stages),
                             "cpu": sum(x["cpu"] for x in stages),
                             "peak_mb": max((x["peak_mb"] for x in stages), default=0.0),
                             "load": os.getloadavg()[0]})
        else:
            results.append(run_size(n, args.format, args.seed, work, args.keep,
                                    args.memory_limit))
            print(_fmt_table(results[-1:]), file=sys.stderr)
        if not args.no_write:
            write_results(results, args)
    print(_fmt_table(results))
    print()
    print(_quality(results))


if __name__ == "__main__":
    main()
