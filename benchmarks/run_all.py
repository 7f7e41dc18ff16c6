"""Run every benchmark script in this folder (each as its own process), one after another.

    .venv/bin/python benchmarks/run_all.py                 # all scripts, default arguments
    .venv/bin/python benchmarks/run_all.py --only harness,detect
    .venv/bin/python benchmarks/run_all.py --skip vs_cnt --dry-run

Each script prints its figures and appends/updates its own section of RESULTS.md. This
runner reports each script's exit code and wall time, continues after a failure, and exits
with 1 if any script failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(only: set[str], skip: set[str]) -> list[Path]:
    out = []
    for p in sorted(HERE.glob("*.py")):
        name = p.stem
        if name == "run_all" or name.startswith("_"):
            continue
        if (only and name not in only) or name in skip:
            continue
        out.append(p)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated script names (no .py)")
    ap.add_argument("--skip", default="", help="comma-separated script names to leave out")
    ap.add_argument("--dry-run", action="store_true", help="list the scripts, run nothing")
    args = ap.parse_args(argv)
    only = {s.strip().removesuffix(".py") for s in args.only.split(",") if s.strip()}
    skip = {s.strip().removesuffix(".py") for s in args.skip.split(",") if s.strip()}
    unknown = (only | skip) - {p.stem for p in HERE.glob("*.py")}
    if unknown:
        print(f"unknown benchmark script(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    todo = scripts(only, skip)
    results = []
    for p in todo:
        if args.dry_run:
            print(p.name)
            continue
        print(f"=== {p.name}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(p)])
        results.append((p.name, rc, time.perf_counter() - t0))
    if args.dry_run:
        return 0
    print("\nscript                 exit   wall s", file=sys.stderr)
    for name, rc, wall in results:
        print(f"{name:<22} {rc:>4} {wall:>8.1f}", file=sys.stderr)
    return 1 if any(rc != 0 for _, rc, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
