"""numba's cache for modules imported from a zip archive (a wheel on ``--py-files``):
:class:`echoscope.engines.numba_cache.ArchiveCacheLocator`. Each case runs in a fresh
interpreter (numba reads its locator setting at import)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from echoscope.engines.numba_cache import LOCATOR_CLASSES, split_archive_path

MODULE = '''
from numba import njit

@njit(cache=True)
def twice(x):
    return 2 * x
'''

RUN = '''
import sys
sys.path.insert(0, sys.argv[1])
import zipmod
assert zipmod.twice(21) == 42
print("hits", sum(zipmod.twice.stats.cache_hits.values()))
'''


def _archive(tmp: Path) -> Path:
    whl = tmp / "zipmod-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("zipmod.py", MODULE)
    return whl


def _run(whl: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", RUN, str(whl)], env=full,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_wheel_without_locator_fails(tmp_path: Path) -> None:
    r = _run(_archive(tmp_path), {})
    assert r.returncode != 0 and "no locator available" in r.stderr


@pytest.mark.slow
def test_archive_locator_caches_and_reuses(tmp_path: Path) -> None:
    whl = _archive(tmp_path)
    env = {"NUMBA_CACHE_LOCATOR_CLASSES": LOCATOR_CLASSES,
           "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = _run(whl, env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["hits", "0"]
    assert list((tmp_path / "cache").rglob("*.nbi"))
    second = _run(whl, env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["hits", "1"]  # loaded from the cache


def test_split_archive_path(tmp_path: Path) -> None:
    whl = _archive(tmp_path)
    assert split_archive_path(str(whl / "pkg" / "mod.py")) == (str(whl), "pkg/mod.py")
    assert split_archive_path(str(tmp_path / "missing.whl" / "mod.py")) is None
    assert split_archive_path(str(tmp_path / "plain" / "mod.py")) is None
