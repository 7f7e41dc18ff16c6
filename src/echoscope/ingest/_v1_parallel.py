"""The msgspec path of the v1.1 loader on two processes (a plain JSON-lines file).

The file is split in two byte ranges at a line boundary near its middle. A worker
process (``python -m echoscope.ingest._v1_parallel``: no fork of a process holding
DuckDB's threads, and unlike multiprocessing's ``spawn`` it does not re-run the caller's
script, which may lack a ``__main__`` guard) decodes the first
range with :func:`._v1_struct._load` while this process counts the newlines before the
second range (so its record numbers are exact) and decodes the second. Each writes its
own Arrow spill files; the lines the reference parser must see are not parsed there but
handed back (line number, raw bytes) and given to the reference parser here afterwards,
in line order: rejects, reference posts and account snapshots are recorded exactly as
on the one-process path, and so is the result (tests compare them).

Opt-in (its figures did not beat the one-process path on the shared benchmark machine;
benchmarks/RESULTS.md): ``ECHOSCOPE_V1_PATH=parallel`` (2 processes on a machine with 2+
cores) or ``ECHOSCOPE_V1_WORKERS=2``; then used for plain files of :data:`MIN_BYTES` or
more.
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import subprocess
import sys
import uuid
from typing import IO, Any

from echoscope.errors import EngineError
from echoscope.ingest import _v1_struct
from echoscope.ingest._base import Sink

__all__ = ["MIN_BYTES", "WORKERS", "parallel_load"]

#: processes decoding one file (this one included): 1 (off) unless ECHOSCOPE_V1_WORKERS
#: says otherwise or ECHOSCOPE_V1_PATH=parallel (then 2 on a machine with 2+ cores)
WORKERS = int(os.environ.get("ECHOSCOPE_V1_WORKERS", "0") or 0) or (
    min(2, os.cpu_count() or 1) if os.environ.get("ECHOSCOPE_V1_PATH") == "parallel" else 1)
#: smaller files are decoded in this process only (a worker costs ~1 s of CPU to start);
#: ECHOSCOPE_V1_PARALLEL_MIN_BYTES overrides
MIN_BYTES = int(os.environ.get("ECHOSCOPE_V1_PARALLEL_MIN_BYTES", "") or 64 << 20)
_COUNT_CHUNK = 1 << 23

# what a range's decoding returns: posts spill file, snapshot spill file ("" for none),
# posts decoded, the lines for the reference parser
_Result = tuple[str, str, int, list[tuple[int, bytes]]]


def _decode_range(path: str, start: int, end: int, first: int, spill: str, tag: str,
                  source_file: str, batch: int, chunk: int, parent: int) -> _Result:
    """Decode bytes ``start:end`` of ``path`` (whole lines, the first numbered ``first``)."""
    sink = Sink(source_file, "twitter-v1")
    deferred: list[tuple[int, bytes]] = []
    out: list[str] = []
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start

        def read(n: int) -> bytes:
            nonlocal left
            if parent and os.getppid() != parent:  # the ingest was killed: stop, tidy up
                shutil.rmtree(spill, ignore_errors=True)
                os._exit(1)
            data = f.read(min(n, left))
            left -= len(data)
            return data

        _v1_struct._load(None, sink, None, "", spill, None, read=read, first=first,
                         deferred=deferred, tag=tag, out=out, batch=batch, chunk=chunk)
    return out[0], out[1], sink.n_posts, deferred


def _count_lines(path: str, end: int) -> int:
    n = 0
    with open(path, "rb") as f:
        left = end
        while left > 0 and (data := f.read(min(_COUNT_CHUNK, left))):
            left -= len(data)
            n += data.count(b"\n")
    return n


def _split(path: str, size: int) -> int:
    """The offset just after the first newline at or after the middle (0: none)."""
    with open(path, "rb") as f:
        f.seek(size // 2)
        at = size // 2
        while data := f.read(1 << 16):
            i = data.find(b"\n")
            if i >= 0:
                return at + i + 1 if at + i + 1 < size else 0
            at += len(data)
    return 0


def parallel_load(stream: IO[bytes], sink: Sink, con: Any, spill: str,
                  dispatch: Any) -> bool:
    """Load a plain file on two processes; False (nothing done) when it does not apply."""
    if WORKERS < 2 or stream.__class__ is not io.BufferedReader or not isinstance(
            getattr(stream, "raw", None), io.FileIO):
        return False
    path = stream.raw.name  # type: ignore[attr-defined]
    if not isinstance(path, str) or stream.tell() != 0:
        return False
    size = os.fstat(stream.fileno()).st_size
    if size < MIN_BYTES or not (split := _split(path, size)):
        return False
    args = (sink.source_file, _v1_struct.BATCH, _v1_struct._CHUNK)
    result = os.path.join(spill, "worker-0.pickle")
    with open(result + ".args", "wb") as f:
        pickle.dump((path, 0, split, 1, spill, "-0", *args, os.getpid()), f)
    proc = subprocess.Popen([sys.executable, "-m", __name__, result],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        first = _count_lines(path, split) + 1
        mine = _decode_range(path, split, size, first, spill, "-1", *args, 0)
        err = proc.communicate()[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    theirs = _worker_result(proc.returncode, result, err)
    for posts_file, snaps_file, n_posts, deferred in (theirs, mine):
        for n, raw in deferred:
            _v1_struct._reference(sink, dispatch, n, raw)
        sink.n_posts += n_posts
        if posts_file:
            sink.fast_posts.append(posts_file)
        if snaps_file:
            table = f"_v1_sacc_{uuid.uuid4().hex[:8]}"
            _v1_struct._bulk(con, snaps_file,
                             f'CREATE TEMP TABLE "{table}" AS SELECT * FROM {{}}')
            sink.fast_accounts.append(table)
    return True




def _worker_result(code: int, result: str, err: bytes) -> _Result:
    """What the worker wrote to ``result`` (or the exception it raised, raised here)."""
    try:
        with open(result, "rb") as f:
            got = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError):
        got = None
    if code == 0 and isinstance(got, tuple):
        return got
    if isinstance(got, BaseException):
        raise got
    tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
    raise EngineError(f"the ingest worker process failed (exit {code}: {tail[0]}); set "
                      "ECHOSCOPE_V1_WORKERS=1 to ingest on one process.")


def _worker_main(result: str) -> int:
    with open(result + ".args", "rb") as f:
        args = pickle.load(f)
    try:
        got: Any = _decode_range(*args)
        code = 0
    except Exception as e:  # handed to the parent, which raises it
        got, code = e, 1
    try:
        with open(result, "wb") as f:
            pickle.dump(got, f, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that cannot be pickled: its text on stderr
        if code:
            raise got from None
        raise
    return code


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1]))
