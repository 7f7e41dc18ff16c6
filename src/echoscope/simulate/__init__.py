"""Synthetic social-media data with ground truth, and scoring of results against it.

* :func:`simulate` writes organic traffic full of hard negatives plus injected campaigns
  (app relays, hashtag storms, hijacks, repost rings, link networks, template text, image
  reposts, re-created accounts) in a real input format, with ``truth.json`` and
  ``suspended.csv``.
* :func:`evaluate` scores an ``echoscope analyze`` output directory against ``truth.json``.
* :func:`sample_path` is the bundled small sample (a few thousand posts).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from echoscope.simulate._params import FORMATS, HARD_NEGATIVES, STYLES, SimParams
from echoscope.simulate.evaluate import evaluate

if TYPE_CHECKING:
    from echoscope.simulate._engine import SimResult, simulate


def __getattr__(name: str) -> Any:
    # the engine on first use: every CLI start imports _params (for --help), not the engine
    if name in ("SimResult", "simulate"):
        from echoscope.simulate import _engine

        value = getattr(_engine, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "FORMATS",
    "HARD_NEGATIVES",
    "SAMPLE_PARAMS",
    "STYLES",
    "SimParams",
    "SimResult",
    "evaluate",
    "sample_dir",
    "sample_path",
    "simulate",
    "write_sample",
]

#: Parameters of the bundled sample: every campaign style (small, intense campaigns) and
#: every kind of hard negative in 2,000 posts over three days.
SAMPLE_PARAMS = SimParams(posts=2000, seed=2014, days=3.0, members=6, campaign_share=0.3,
                          hard_negative_share=0.12, bot_share=0.02, gzip=True)


def sample_dir() -> Path:
    """The directory of the bundled sample (``sample.jsonl.gz``, truth.json, suspended.csv)."""
    return Path(__file__).resolve().parent / "sample"


def sample_path() -> Path:
    """The bundled sample's posts: Twitter v1.1 JSONL (gzip), for ``analyze --sample``."""
    return sample_dir() / "sample.jsonl.gz"


def write_sample(out_dir: str | Path | None = None) -> Path:
    """(Re)generate the bundled sample into ``out_dir`` (default: the package's copy).

    Returns the path of ``sample.jsonl.gz``; ``truth.json`` and ``suspended.csv`` are
    written beside it. The result is byte-identical for the same numpy version.
    """
    from echoscope.simulate._engine import simulate

    out = Path(out_dir) if out_dir is not None else sample_dir()
    res = simulate(out, SAMPLE_PARAMS)
    target = out / "sample.jsonl.gz"
    res.files[0].replace(target)
    return target
