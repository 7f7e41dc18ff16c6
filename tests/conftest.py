from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# No per-example deadline: these tests check behaviour, not speed (speed is measured by
# benchmarks/), and on a loaded CI machine a first example that imports or compiles can
# exceed Hypothesis' default 200 ms and fail a correct test.
settings.register_profile("echoscope", deadline=None)
settings.load_profile("echoscope")

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


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for every Spark test of the run (starting one costs ~10 s)."""
    from echoscope.engines.spark import spark_session

    s = spark_session("local[2]", shuffle_partitions=4,
                      conf={"spark.default.parallelism": "2",
                            "spark.sql.adaptive.enabled": "false"})
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()
