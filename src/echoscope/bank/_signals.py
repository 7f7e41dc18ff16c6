"""Signal types of a bank and the validation of their values.

Each signal type has one canonical textual form, so the same content imported twice (or
from two sources) compares equal:

- ``pdq``: 64 lower-case hex digits (256 bits, most significant bit first, as
  ThreatExchange and the GIFCT hash-sharing database write them);
- ``md5``: 32 lower-case hex digits of the file's bytes;
- ``text_exact``: the 16-hex :func:`echoscope.normalise.text_hash` of the normalised text
  (:func:`bank_text`: normalised, links and @mentions removed).
  A value that is text is normalised and hashed; a value of exactly 16 hex digits is taken
  as such a hash already (what ``bank export`` writes);
- ``text_near``: the normalised text itself (MinHash signatures are computed when matching);
- ``url``: the canonical URL (:func:`echoscope.normalise.canonical_url`).
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from echoscope.normalise import canonical_url, normalise_text, text_hash

__all__ = [
    "SIGNAL_TYPES",
    "bank_text",
    "canonical_value",
    "pdq_distance",
    "pdq_to_words",
    "words_to_pdq",
]

SIGNAL_TYPES: tuple[str, ...] = ("pdq", "md5", "text_exact", "text_near", "url")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")

U64 = npt.NDArray[np.uint64]


def bank_text(text: str | None) -> str:
    """Text as banks compare it: :func:`normalise_text` without links and @mentions
    (t.co links differ per copy), the same form the ``text`` actions use."""
    return normalise_text(text, strip_urls=True, strip_mentions=True)


def canonical_value(signal_type: str, value: str | None) -> str:
    """The canonical form of ``value`` for ``signal_type``; ``ValueError`` says why not."""
    if signal_type not in SIGNAL_TYPES:
        raise ValueError(
            f"unknown signal_type {signal_type!r}; use one of {', '.join(SIGNAL_TYPES)}"
        )
    v = (value or "").strip()
    if not v:
        raise ValueError(f"empty value for signal_type {signal_type}")
    if signal_type == "pdq":
        v = v.lower()
        if not _HEX64.match(v):
            raise ValueError(f"pdq value must be 64 hex digits, got {len(v)} characters")
        return v
    if signal_type == "md5":
        v = v.lower()
        if not _HEX32.match(v):
            raise ValueError(f"md5 value must be 32 hex digits, got {len(v)} characters")
        return v
    if signal_type == "text_exact":
        if _HEX16.match(v):
            return v
        norm = bank_text(v)
        if not norm:
            raise ValueError("text_exact value is empty after normalisation")
        return text_hash(norm)
    if signal_type == "text_near":
        norm = bank_text(v)
        if not norm:
            raise ValueError("text_near value is empty after normalisation")
        return norm
    url = canonical_url(v)
    if url is None:
        raise ValueError("url value is not an http(s) URL")
    return url


def pdq_to_words(hexes: list[str]) -> U64:
    """PDQ hex strings -> an (n, 4) uint64 array (big-endian words)."""
    if not hexes:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = bytes.fromhex("".join(hexes))
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def words_to_pdq(words: U64) -> list[str]:
    """Inverse of :func:`pdq_to_words`."""
    raw = np.ascontiguousarray(words, dtype=np.uint64).astype(">u8").tobytes()
    return [raw[i : i + 32].hex() for i in range(0, len(raw), 32)]


def pdq_distance(a: str, b: str) -> int:
    """Hamming distance of two PDQ hex strings."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
