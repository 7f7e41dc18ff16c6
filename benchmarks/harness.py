"""Benchmark harness: echoscope vs coordination-network-toolkit on simulated data.

For each size it simulates the same posts twice (Twitter v1.1 JSONL for echoscope, the
toolkit's CSV for coordination-network-toolkit), runs both tools side by side in one run
as child processes (wall time and peak memory from the child's rusage), scores both
against the simulator's truth with ``echoscope evaluate``, compares edge sets, and writes
a section of ``benchmarks/RESULTS.md`` (between the harness markers; the rest of the file
is left alone). Absolute times are noisy on shared machines, so ratios from the same run
are reported next to them.

    .venv/bin/python benchmarks/harness.py --sizes 10000,100000,1000000
    .venv/bin/python benchmarks/harness.py --sizes 10000 --no-write   # quick check

Steps that are unavailable (``echoscope analyze`` not in this build, the toolkit not
installed) are reported as such, never silently skipped.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BEGIN = "<!-- harness:begin -->"
END = "<!-- harness:end -->"
HEADING = "## Simulator and benchmark harness (issue 3)"
# echoscope default-mode action type that corresponds to each toolkit network
CNT_TO_ECHO = {"co_retweet": "repost", "co_tweet": "text", "co_link": "url",
               "co_reply": "reply", "co_similar_tweet": "near_text"}


@dataclass
class Step:
    name: str
    cmd: list[str]
    wall: float = 0.0
    peak_mb: float = 0.0
    rc: int | None = None
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass
class ToolRun:
    tool: str
    steps: list[Step] = field(default_factory=list)
    available: bool = True
    note: str = ""
    quality: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.available and all(s.ok for s in self.steps)

    @property
    def wall(self) -> float:
        return sum(s.wall for s in self.steps)

    @property
    def peak_mb(self) -> float:
        return max((s.peak_mb for s in self.steps), default=0.0)


TIMEOUT_RC = -999


def run_child(name: str, cmd: Sequence[str], log_dir: Path, env: dict[str, str] | None = None,
              timeout: float | None = None) -> Step:
    """Run ``cmd``; wall time and peak RSS (ru_maxrss of that child) are measured.

    A child still running after ``timeout`` seconds is killed; its ``rc`` is TIMEOUT_RC.
    """
    step = Step(name, [str(c) for c in cmd])
    log = log_dir / f"{name.replace(' ', '_').replace('/', '_')}.log"
    step.log = str(log)
    timed_out = False
    with open(log, "wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(step.cmd, stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if timeout else 0)
            if pid:
                break
            if timeout and time.perf_counter() - t0 > timeout:
                proc.kill()
                timed_out = True
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
        step.wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    step.rc = TIMEOUT_RC if timed_out else proc.returncode
    step.peak_mb = usage.ru_maxrss / 1024.0  # Linux: kilobytes
    return step


def tail(path: str, n: int = 6) -> str:
    try:
        lines = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(lines[-n:])


def _failure(step: Step) -> str:
    if step.rc == TIMEOUT_RC:
        return f"{step.name}: stopped after the --step-timeout of {step.wall:.0f} s"
    return f"{step.name} failed (exit {step.rc}): {tail(step.log, 3)}"


def echoscope_has(command: str) -> bool:
    exe = BIN / "echoscope"
    if not exe.exists():
        return False
    r = subprocess.run([str(exe), command, "--help"], capture_output=True)
    return r.returncode == 0


def simulate(size: int, seed: int, fmt: str, out: Path, logs: Path) -> Step:
    return run_child(f"simulate {fmt} {size}", [
        BIN / "echoscope", "simulate", "--out", out, "--posts", size, "--seed", seed,
        "--format", fmt, "-q", "--json"], logs)


def read_cnt_edges(path: Path) -> set[tuple[str, str, int]]:
    out = set()
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            out.add((str(r["source"]), str(r["target"]), int(float(r["weight"]))))
    return out


def undirected(edges: set[tuple[str, str, int]]) -> set[tuple[str, str]]:
    return {(a, b) if a < b else (b, a) for a, b, _ in edges if a != b}


def echoscope_default_pairs(edges_csv: Path, action: str) -> set[tuple[str, str]]:
    out = set()
    with open(edges_csv, newline="") as fh:
        for r in csv.DictReader(fh):
            if r.get("type") == action and r.get("significant", "true").lower() == "true":
                a, b = r["account_a"].lstrip("'"), r["account_b"].lstrip("'")
                out.add((a, b) if a < b else (b, a))
    return out


def cnt_accounts_csv(edge_files: list[Path], out_dir: Path) -> Path:
    """Flag accounts in any toolkit edge (weight >= min_edge_weight); groups = components."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for f in edge_files:
        for a, b, _ in read_cnt_edges(f):
            if a != b:
                parent[find(a)] = find(b)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "accounts.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["account_id", "flagged", "campaign_id"])
        for a in sorted(parent):
            w.writerow([a, "true", f"K{find(a)}"])
    return path


def evaluate(truth: Path, results: Path) -> dict[str, Any] | None:
    from echoscope.simulate import evaluate as ev

    try:
        return ev(truth, results)
    except Exception as e:  # reported in the table, not hidden
        return {"error": f"{type(e).__name__}: {e}"}


def bench_size(size: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    d = work / f"n{size}"
    if d.exists():
        shutil.rmtree(d)
    logs = d / "logs"
    logs.mkdir(parents=True)
    res: dict[str, Any] = {"size": size, "sim": [], "tools": {}, "edges": []}
    v1, cntdir = d / "sim-v1", d / "sim-cnt"
    for fmt, out in (("twitter-v1", v1), ("cnt-csv", cntdir)):
        s = simulate(size, args.seed, fmt, out, logs)
        res["sim"].append(s)
        if not s.ok:
            raise SystemExit(f"simulate failed ({s.log}): {tail(s.log)}")
    truth = v1 / "truth.json"
    types = [t for t in args.cnt_types.split(",") if t]
    w = str(int(args.window)) if float(args.window).is_integer() else str(args.window)
    k = str(args.min_edge_weight)

    # -- echoscope ----------------------------------------------------------------------
    echo = ToolRun("echoscope analyze")
    if args.skip_echoscope:
        echo.available, echo.note = False, "skipped (--skip-echoscope)"
    elif not echoscope_has("analyze"):
        echo.available = False
        echo.note = "`echoscope analyze` is not available in this build"
    else:
        out = d / "echo-out"
        echo.steps.append(run_child(f"echoscope analyze {size}", [
            BIN / "echoscope", "analyze", v1 / "tweets.jsonl", "--suspended",
            v1 / "suspended.csv", "--out", out, "--seed", args.seed, "-q"], logs,
            timeout=args.step_timeout))
        if echo.ok:
            echo.quality = evaluate(truth, out)
        else:
            echo.note = _failure(echo.steps[-1])
    res["tools"]["echoscope"] = echo

    # -- echoscope --compat cnt ----------------------------------------------------------
    compat = ToolRun("echoscope network --compat cnt")
    compat_files: dict[str, Path] = {}
    if args.skip_echoscope:
        compat.available, compat.note = False, "skipped (--skip-echoscope)"
    elif not echoscope_has("network"):
        compat.available, compat.note = False, "`echoscope network` is not available"
    else:
        for t in types:
            f = d / f"echo-compat-{t}.csv"
            compat.steps.append(run_child(f"echoscope network compat {t} {size}", [
                BIN / "echoscope", "network", cntdir / "messages.csv", "--format", "cnt-csv",
                "--compat", "cnt", "--type", t, "--time-window", w, "--min-edge-weight", k,
                "-o", f, "-q"], logs, timeout=args.step_timeout))
            if compat.steps[-1].ok:
                compat_files[t] = f
        if not compat.ok:
            compat.note = _failure(next(s for s in compat.steps if not s.ok))
    res["tools"]["compat"] = compat

    # -- coordination-network-toolkit ----------------------------------------------------
    cnt = ToolRun("coordination-network-toolkit")
    cnt_files: dict[str, Path] = {}
    exe = BIN / "compute_networks"
    if args.skip_cnt:
        cnt.available, cnt.note = False, "skipped (--skip-cnt)"
    elif not exe.exists():
        cnt.available, cnt.note = False, f"{exe} not found (pip install coordination-network-toolkit)"
    else:
        db = d / "cnt.db"
        cnt.steps.append(run_child(f"cnt preprocess {size}", [
            exe, db, "preprocess", "--format", "csv", cntdir / "messages.csv"], logs,
            timeout=args.step_timeout))
        for t in types:
            if not cnt.ok:
                break
            cnt.steps.append(run_child(f"cnt compute {t} {size}", [
                exe, db, "compute", t, "--time_window", w, "--min_edge_weight", k,
                "--n_cpus", args.n_cpus], logs, timeout=args.step_timeout))
            if not cnt.ok:
                break
            f = d / f"cnt-{t}.csv"
            # the CLI's CSV export crashes in 1.5.2; the library function works
            cnt.steps.append(run_child(f"cnt export {t} {size}", [
                sys.executable, "-c",
                "import sys; from coordination_network_toolkit.output import output_gephi_csv;"
                " output_gephi_csv(sys.argv[1], sys.argv[2], sys.argv[3], loops=False)",
                db, t, f], logs))
            if cnt.steps[-1].ok:
                cnt_files[t] = f
        if cnt.ok:
            cnt_accounts_csv(list(cnt_files.values()), d / "cnt-out")
            cnt.quality = evaluate(truth, d / "cnt-out")
        else:
            cnt.note = _failure(cnt.steps[-1])
    res["tools"]["cnt"] = cnt

    # -- edge agreement ------------------------------------------------------------------
    for t in types:
        row: dict[str, Any] = {"type": t}
        c = read_cnt_edges(cnt_files[t]) if t in cnt_files else None
        e = read_cnt_edges(compat_files[t]) if t in compat_files else None
        row["cnt_edges"] = None if c is None else len(c)
        row["compat_edges"] = None if e is None else len(e)
        row["identical"] = None if c is None or e is None else c == e
        if c is not None and e is not None:
            row["compat_only"] = len(e - c)
            row["cnt_only"] = len(c - e)
        edges_csv = d / "echo-out" / "edges.csv"
        if c is not None and edges_csv.exists():
            pc, pe = undirected(c), echoscope_default_pairs(edges_csv, CNT_TO_ECHO[t])
            row["default_pairs"] = len(pe)
            row["cnt_pairs"] = len(pc)
            row["pairs_shared"] = len(pc & pe)
        res["edges"].append(row)
    return res


# -- report ------------------------------------------------------------------------------

def _f(x: Any, nd: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if a > 0 and b > 0 else "-"


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    load = os.getloadavg()
    lines = [
        HEADING, BEGIN, "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/harness.py "
        f"--sizes {args.sizes}`: seed {args.seed}, window {args.window} s, "
        f"min edge weight {args.min_edge_weight}, toolkit types {args.cnt_types}, "
        f"toolkit --n_cpus {args.n_cpus}; {os.cpu_count()} cores, load average "
        f"{load[0]:.1f} at the end (shared machine: compare ratios, not absolute times).",
        "",
        "### Simulator",
        "",
        "| posts | format | wall s | posts/s | peak MB |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in results:
        for s in r["sim"]:
            fmt = s.name.split()[1]
            lines.append(f"| {r['size']:,} | {fmt} | {s.wall:.1f} | "
                         f"{r['size'] / s.wall:,.0f} | {s.peak_mb:.0f} |")
    lines += ["", "### Time and peak memory (child processes, same run)", "",
              "echoscope analyze = every stage on Twitter v1.1 JSON (ingest, actions, all "
              "networks, null model, clustering, signals, report); the toolkit = preprocess "
              "of its CSV + the listed networks + CSV export.", "",
              "| posts | tool | wall s | peak MB | toolkit / echoscope time | "
              "toolkit / echoscope memory | note |",
              "|---:|---|---:|---:|---:|---:|---|"]
    for r in results:
        e, c, m = r["tools"]["echoscope"], r["tools"]["cnt"], r["tools"]["compat"]
        for run in (e, m, c):
            if not run.available or not run.steps:
                lines.append(f"| {r['size']:,} | {run.tool} | - | - | - | - | {run.note} |")
                continue
            tr = mr = ""
            if run is c and e.ok:
                tr, mr = _ratio(c.wall, e.wall), _ratio(c.peak_mb, e.peak_mb)
            if run is m and c.ok:
                tr = f"{_ratio(c.wall - c.steps[0].wall, m.wall)} (networks only, vs compat)"
            lines.append(f"| {r['size']:,} | {run.tool} | {run.wall:.1f} | {run.peak_mb:.0f} "
                         f"| {tr} | {mr} | {run.note} |")
    lines += ["", "### Quality against the simulator's truth (`echoscope evaluate`)", "",
              "Toolkit: accounts in any edge of the listed networks are flagged; groups are "
              "connected components.", "",
              "| posts | tool | precision | recall | F1 | organic FPR | ARI | FP breaking news "
              "| FP copypasta | FP share button | FP bots | re-creation F1 |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for key in ("echoscope", "cnt"):
            run = r["tools"][key]
            q = run.quality
            if not q or "error" in q:
                lines.append(f"| {r['size']:,} | {run.tool} | " + " | ".join(["-"] * 10)
                             + (f" <!-- {q['error']} -->" if q else "") + " |")
                continue
            a, h = q["accounts"], q["hard_negatives"]
            rein = q.get("reincarnations")

            def hn(kind: str, h: dict[str, Any] = h) -> str:
                x = h.get(kind)
                return f"{x['flagged']}/{x['accounts']}" if x else "-"

            lines.append(
                f"| {r['size']:,} | {run.tool} | {_f(a['precision'])} | {_f(a['recall'])} | "
                f"{_f(a['f1'])} | {_f(a['organic_fpr'])} | {_f(q['group_agreement']['ari'])} "
                f"| {hn('breaking_news')} | {hn('copypasta')} | {hn('share_button')} | "
                f"{hn('benign_bots')} | {_f(rein['f1']) if rein else '-'} |")
    lines += ["", "### Edge agreement", "",
              "Compat = `echoscope network --compat cnt` on the same CSV and parameters "
              "(directed edges with weights must be identical). Default = echoscope's own "
              "significant edges of the matching action type (undirected pairs).", "",
              "co_link differs by design: the toolkit stores an empty URL field as the URL "
              "'' and links every pair of link-less posts within the window (PEERS.md); "
              "echoscope does not reproduce that bug.", "",
              "| posts | network | toolkit edges | compat edges | identical | toolkit pairs | "
              "default pairs | shared pairs |",
              "|---:|---|---:|---:|---|---:|---:|---:|"]
    for r in results:
        for row in r["edges"]:
            lines.append(
                f"| {r['size']:,} | {row['type']} | {_f(row['cnt_edges'])} | "
                f"{_f(row['compat_edges'])} | {_f(row['identical'])} | "
                f"{_f(row.get('cnt_pairs'))} | {_f(row.get('default_pairs'))} | "
                f"{_f(row.get('pairs_shared'))} |")
    lines += ["", END, ""]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace the harness section (between markers) or append it; other text is kept."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    if BEGIN in text and END in text:
        start = text.index(BEGIN)
        head_at = text.rfind(HEADING, 0, start)
        start = head_at if head_at != -1 else start
        stop = text.index(END) + len(END)
        text = text[:start] + section.rstrip("\n") + text[stop:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000",
                    help="comma-separated post counts (default 10000,100000,1000000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--window", type=float, default=60.0, help="co-action window, seconds")
    ap.add_argument("--min-edge-weight", type=int, default=2)
    ap.add_argument("--cnt-types", default="co_retweet,co_tweet,co_link",
                    help="toolkit networks (co_similar_tweet is ~N^2: add it for small sizes)")
    ap.add_argument("--n-cpus", type=int, default=os.cpu_count() or 1,
                    help="toolkit worker processes")
    ap.add_argument("--step-timeout", type=float, default=None,
                    help="kill a tool step after this many seconds (reported as such)")
    ap.add_argument("--work", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--skip-cnt", action="store_true")
    ap.add_argument("--skip-echoscope", action="store_true")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    ap.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    ap.add_argument("--json", default=None, help="also write raw results as JSON here")
    args = ap.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="echoscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    section = ""
    try:
        for n in sizes:
            print(f"[harness] {n:,} posts in {work}", file=sys.stderr)
            results.append(bench_size(n, args, work))
            # write after every size, so a long run keeps what it has measured
            section = render(results, args)
            if args.json:
                Path(args.json).write_text(json.dumps(results, default=lambda o: o.__dict__,
                                                      indent=2))
            if not args.no_write:
                write_section(Path(args.results), section)
                print(f"[harness] updated {args.results}", file=sys.stderr)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
