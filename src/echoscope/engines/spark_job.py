"""spark-submit entry point: ``spark-submit .../spark_job.py INPUT... --out DIR``.

Reads posts (Parquet with the posts schema, or Twitter v1.1 JSON lines) from any
Spark-readable path, computes actions and co-action edges on the cluster and clusters the
account graph on the driver (:func:`echoscope.engines.spark.run_job`). Also runs as
``python -m echoscope.engines.spark_job`` (local mode). docs/spark.md has a walk-through.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the job, print counts as JSON; exit code 2 on a user error."""
    from echoscope.engines.numba_cache import install
    from echoscope.errors import EchoscopeError

    install()  # before any numba kernel: they cache even from a shipped wheel (zip)

    ap = argparse.ArgumentParser(
        prog="spark_job.py",
        description="echoscope on Spark: posts -> actions, edges, campaign memberships. "
                    "Example: spark-submit spark_job.py s3a://bucket/posts/ --out out "
                    "--window 60 --window 3600")
    ap.add_argument("inputs", nargs="+", help="input path(s) Spark can read")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--format", default="parquet", choices=("parquet", "twitter-v1"))
    ap.add_argument("--window", type=float, action="append", default=None,
                    help="co-action window in seconds (repeatable; default 60 and 3600)")
    ap.add_argument("--alpha", type=float, default=0.05, help="false-discovery rate")
    ap.add_argument("--min-keys", type=int, default=2)
    ap.add_argument("--split-rows", type=int, default=None,
                    help="keys with more actions per layer are split into time buckets")
    ap.add_argument("--master", default=None, help="Spark master (default: spark-submit's "
                                                   "or local[*])")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    from echoscope.detect.coaction import DetectParams
    from echoscope.engines.spark import SPLIT_ROWS, run_job

    try:
        kw: dict[str, object] = {"alpha": a.alpha, "min_keys": a.min_keys, "seed": a.seed}
        if a.window:
            kw["windows"] = tuple(a.window)
        res = run_job(a.inputs, a.out, fmt=a.format, detect_params=DetectParams(**kw),  # type: ignore[arg-type]
                      master=a.master, split_rows=a.split_rows or SPLIT_ROWS, seed=a.seed)
    except EchoscopeError as e:
        print(f"Error: {e}", file=sys.stderr)
        return e.exit_code
    res.pop("detect", None)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
