"""numba's cache for echoscope imported from a zip (a wheel shipped with ``--py-files``).

``spark-submit --py-files echoscope-<version>-py3-none-any.whl`` puts the wheel itself on
``sys.path``: Python imports echoscope from inside the zip, and numba's
``@njit(cache=True)`` kernels find no cache locator for a file that is not on disk (numba
knows ``.zip`` archives, not ``.whl``): the import fails with ``RuntimeError: cannot cache
function ...: no locator available for file '.../echoscope-...whl/...'``.

:class:`ArchiveCacheLocator` is a numba cache locator for sources inside any zip archive
(``.whl``, ``.zip``, ``.egg``): compiled kernels go to ``NUMBA_CACHE_DIR`` when set, else
to a per-user folder under the system temp dir (writable on executors), keyed by the
archive member's content hash. Select it on the driver and the executors with

    NUMBA_CACHE_LOCATOR_CLASSES=UserProvidedCacheLocator,InTreeCacheLocator,UserWideCacheLocator,echoscope.engines.numba_cache.ArchiveCacheLocator

(:data:`LOCATOR_CLASSES`; ``spark.executorEnv.NUMBA_CACHE_LOCATOR_CLASSES=...`` for the
executors, docs/spark.md). Installed packages are unaffected: the standard locators come
first. Nothing here is imported unless numba is told to.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from numba.core.caching import _CacheLocator

__all__ = ["ARCHIVE_SUFFIXES", "LOCATOR_CLASSES", "ArchiveCacheLocator", "install",
           "own_archive"]

ARCHIVE_SUFFIXES = (".whl", ".zip", ".egg")

#: the value of NUMBA_CACHE_LOCATOR_CLASSES that keeps numba's own locators first
LOCATOR_CLASSES = ("UserProvidedCacheLocator,InTreeCacheLocator,UserWideCacheLocator,"
                   "echoscope.engines.numba_cache.ArchiveCacheLocator")


def install() -> None:
    """Select :data:`LOCATOR_CLASSES` in this process (unless the user chose locators):
    call it before echoscope's numba kernels are imported (``spark_job`` does)."""
    from numba.core import config

    os.environ.setdefault("NUMBA_CACHE_LOCATOR_CLASSES", LOCATOR_CLASSES)
    if not getattr(config, "CACHE_LOCATOR_CLASSES", ""):
        setattr(config, "CACHE_LOCATOR_CLASSES", os.environ["NUMBA_CACHE_LOCATOR_CLASSES"])  # noqa: B010


def own_archive() -> str | None:
    """The zip archive (wheel) echoscope itself was imported from, if any."""
    import echoscope

    where = split_archive_path(str(echoscope.__file__))
    return where[0] if where else None


def split_archive_path(py_file: str) -> tuple[str, str] | None:
    """``(archive, member)`` of a source path inside a zip archive on disk, else None."""
    path = Path(py_file)
    for i, part in enumerate(path.parts):
        if part.lower().endswith(ARCHIVE_SUFFIXES):
            archive = str(Path(*path.parts[: i + 1]))
            if os.path.isfile(archive) and zipfile.is_zipfile(archive):
                return archive, PurePosixPath(*path.parts[i + 1:]).as_posix()
            return None
    return None


def _cache_root() -> str:
    from numba.core import config

    cache_dir = getattr(config, "CACHE_DIR", "")
    if cache_dir:
        return str(cache_dir)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"echoscope-numba-{uid}")


class ArchiveCacheLocator(_CacheLocator):  # type: ignore[misc]
    """numba cache locator for functions whose source is inside a zip archive."""

    def __init__(self, py_func: Any, py_file: str, archive: str, member: str) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._archive = archive
        self._member = member
        sub = self.get_suitable_cache_subpath(py_file)  # type: ignore[no-untyped-call]
        self._cache_path = os.path.join(_cache_root(), sub)

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> str:
        st = os.stat(self._archive)
        return _member_hash(self._archive, self._member, st.st_mtime, st.st_size)

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> ArchiveCacheLocator | None:
        where = split_archive_path(py_file)
        if where is None:
            return None
        self = cls(py_func, py_file, *where)
        try:
            self.ensure_cache_path()  # type: ignore[no-untyped-call]
        except OSError:  # no writable cache folder: numba then reports the function
            return None
        return self


_HASHES: dict[tuple[str, str, float, int], str] = {}


def _member_hash(archive: str, member: str, mtime: float, size: int) -> str:
    key = (archive, member, mtime, size)
    h = _HASHES.get(key)
    if h is None:
        with zipfile.ZipFile(archive) as zf, zf.open(member) as f:
            h = _HASHES[key] = hashlib.sha256(f.read()).hexdigest()
    return h
