"""Placeholder; replaced below."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def evaluate(truth_path: str | Path, results_dir: str | Path) -> dict[str, Any]:
    raise NotImplementedError
