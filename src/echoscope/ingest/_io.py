"""Opening inputs: plain, gzip or zstd files, or ``-`` for stdin; sniffing their start."""

from __future__ import annotations

import gzip
import io
import os
import sys
from typing import IO

from echoscope.errors import InputError

__all__ = ["HEAD_BYTES", "open_input", "peek_head"]

HEAD_BYTES = 1 << 16
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


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


def peek_head(stream: IO[bytes], n: int = HEAD_BYTES) -> tuple[bytes, IO[bytes]]:
    """The first ``n`` bytes and a stream that still yields them."""
    if not isinstance(stream, io.BufferedReader):
        stream = io.BufferedReader(stream, buffer_size=max(n, 1 << 20))  # type: ignore[arg-type,type-var]
    try:
        head = stream.peek(n)[:n]
        # peek may return fewer bytes than exist; top up by reading into a prefix buffer
        if len(head) < n:
            data = stream.read(n)
            rest = _Prefixed(data, stream)
            return data, io.BufferedReader(rest, buffer_size=1 << 20)  # type: ignore[type-var]
    except (OSError, EOFError) as e:
        raise InputError(f"cannot read the input: {e}") from None
    return head, stream


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
