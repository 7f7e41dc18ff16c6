from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared (datasets and format examples) is not beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def formats_dir(shared_dir: Path) -> Path:
    d = shared_dir / "formats" / "examples"
    if not d.is_dir():
        pytest.skip("../shared/formats/examples is absent")
    return d


@pytest.fixture(scope="session")
def datasets(shared_dir: Path) -> Path:
    d = shared_dir / "datasets"
    if not d.is_dir():
        pytest.skip("../shared/datasets is absent")
    return d
