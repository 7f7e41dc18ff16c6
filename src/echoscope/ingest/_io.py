"""Opening inputs: plain, gzip or zstd files, or ``-`` for stdin; sniffing their start."""

from __future__ import annotations

import gzip
import io
import os
import sys
from typing import IO

from echoscope.errors import InputError

__all__ = ["HEAD_BYTES", "STREAM_ERRORS", "open_input", "peek_head"]

HEAD_BYTES = 1 << 16
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


def _stream_errors() -> tuple[type[BaseException], ...]:
    import zstandard

    return (OSError, EOFError, zstandard.ZstdError)


#: what reading a broken (truncated, corrupt) compressed stream raises
STREAM_ERRORS = _stream_errors()


def open_input(path: str) -> IO[bytes]:
    """A buffered binary stream of the (decompressed) content of ``path`` or stdin."""
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
    else:
        if os.path.isdir(path):
            raise InputError(f"{path} is a folder; give the files inside it.", path=path)
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except FileNotFoundError:
            raise InputError(f"{path}: no such file.", path=path) from None
        except PermissionError:
            raise InputError(f"{path}: permission denied.", path=path) from None
        except OSError as e:
            raise InputError(f"{path}: cannot be read ({e.strerror}).", path=path) from None
    buf: io.BufferedReader = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(
        raw, buffer_size=1 << 20)  # type: ignore[type-var,arg-type]
    magic = buf.peek(4)[:4]
    if magic[:2] == _GZIP:
        return gzip.GzipFile(fileobj=buf, mode="rb")  # type: ignore[return-value]
    if magic == _ZSTD:
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(buf))  # type: ignore[arg-type]
    return buf


def peek_head(
    stream: IO[bytes], n: int = HEAD_BYTES, name: str = "the input"
) -> tuple[bytes, IO[bytes]]:
    """The first ``n`` bytes and a stream that still yields them.

    A stream that breaks inside the head (a truncated gzip) keeps what could be read; the
    break is met again, and reported, when the loader reads on.
    """
    if not hasattr(stream, "peek"):
        stream = io.BufferedReader(stream, buffer_size=max(n, 1 << 20))  # type: ignore[arg-type,type-var]
    try:
        head = stream.peek(n)[:n]  # type: ignore[attr-defined]
    except STREAM_ERRORS as e:
        raise InputError(f"{name} cannot be read ({e}).", path=name) from None
    if len(head) >= n:
        return head, stream
    # peek may return fewer bytes than exist: read the head in small steps
    chunks: list[bytes] = []
    size = 0
    try:
        while size < n:
            b = stream.read(min(1 << 13, n - size))
            if not b:
                break
            chunks.append(b)
            size += len(b)
    except STREAM_ERRORS as e:
        if not chunks:
            raise InputError(f"{name} cannot be read ({e}).", path=name) from None
    data = b"".join(chunks)
    rest = _Prefixed(data, stream)
    return data, io.BufferedReader(rest, buffer_size=1 << 16)  # type: ignore[type-var]


class _Prefixed(io.RawIOBase):
    """A stream that yields ``prefix`` then the rest of ``rest``."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(b), len(self._prefix))
            b[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(b))
        n = len(data)
        b[:n] = data
        return n
