"""Report, export and web-UI figures at scale (issue 7).

Builds a synthetic workspace in SQL (``echoscope.report._sample.build_large``: N campaigns,
M accounts, 2 posts each, campaign members tied pairwise) and measures, in child-free
single runs: report writing time, peak RSS, file size; GEXF and Parquet export time and
size; the web UI's start-up and campaign page time. Prints the figures as a Markdown table.

    .venv/bin/python benchmarks/report_scale.py
    .venv/bin/python benchmarks/report_scale.py --campaigns 1000 --accounts 100000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from echoscope.report import write_report
from echoscope.report._sample import build_large
from echoscope.report.exports import export
from echoscope.report.serve import UI
from echoscope.workspace import Workspace


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--campaigns", type=int, default=1000)
    ap.add_argument("--accounts", type=int, default=100_000)
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with Workspace(tmp / "scale.echoscope.duckdb") as ws:
            t = time.perf_counter()
            build_large(ws, n_campaigns=args.campaigns, n_accounts=args.accounts)
            rows.append(("build synthetic workspace", f"{time.perf_counter() - t:.1f} s"))
            rows.append(("posts / accounts / edges / members",
                         f"{ws.count('posts'):,} / {ws.count('accounts'):,} / "
                         f"{ws.count('edges'):,} / {ws.count('campaign_members'):,}"))
            t = time.perf_counter()
            path = write_report(ws, tmp / "report.html")
            rows.append(("write_report (defaults)", f"{time.perf_counter() - t:.1f} s"))
            rows.append(("report.html size", _mb(path.stat().st_size)))
            t = time.perf_counter()
            (g,) = export(ws, "gexf", tmp / "n.gexf")
            rows.append(("export gexf", f"{time.perf_counter() - t:.1f} s, "
                                        f"{_mb(g.stat().st_size)}"))
            t = time.perf_counter()
            files = export(ws, "parquet", tmp / "pq")
            size = sum(f.stat().st_size for f in files)
            rows.append(("export parquet (all tables)",
                         f"{time.perf_counter() - t:.1f} s, {_mb(size)}"))
        with Workspace(tmp / "scale.echoscope.duckdb", create=False, read_only=True) as ws:
            t = time.perf_counter()
            ui = UI(ws)
            rows.append(("web UI start-up (context)", f"{time.perf_counter() - t:.1f} s"))
            t = time.perf_counter()
            status, _, body = ui.route("/campaign/c00001")
            rows.append(("web UI campaign page", f"{time.perf_counter() - t:.2f} s, "
                                                 f"HTTP {status}, {len(body) / 1e3:.0f} kB"))
            t = time.perf_counter()
            status, _, body = ui.route("/posts?q=number%2042")
            rows.append(("web UI post search", f"{time.perf_counter() - t:.2f} s, "
                                               f"HTTP {status}"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rows.append(("peak RSS of this process", _mb(peak)))
    print(f"| {args.campaigns:,} campaigns, {args.accounts:,} accounts | |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
