"""Invented words, handles, display names and texts (neutral, lorem-like, deterministic).

Nothing here refers to real people, places, slogans or organisations: words are built from
syllables by a fixed generator, so the vocabulary is the same for every run and seed.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DOMAINS",
    "HANDLE_CAPACITY",
    "VOCAB",
    "derive_handle",
    "display_name",
    "handle_of",
]

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr",
           "kl", "st", "tr", "pl", "gr", "sh", "th", "ch", "")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io", "ou")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "th", "x")


def _make_vocab(n: int) -> tuple[str, ...]:
    rng = np.random.default_rng(20140613)  # fixed: the vocabulary never depends on the seed
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        k = 2 if rng.random() < 0.85 else 3
        w = "".join(
            _ONSETS[int(rng.integers(len(_ONSETS)))] + _VOWELS[int(rng.integers(len(_VOWELS)))]
            for _ in range(k)
        ) + _CODAS[int(rng.integers(len(_CODAS)))]
        if 4 <= len(w) <= 7 and w not in seen:
            seen.add(w)
            out.append(w)
    return tuple(out)


VOCAB: tuple[str, ...] = _make_vocab(3000)
_V = len(VOCAB)
HANDLE_CAPACITY = _V * _V
# affine bijection on [0, V*V): spreads consecutive indices over the handle space
_MUL = 1_000_003
_ADD = 7_777_777

DOMAINS: tuple[str, ...] = tuple(
    f"{VOCAB[i]}{suffix}" for i, suffix in zip(range(40, 80), (
        ".example", "-news.example", ".example.org", "daily.example", "-post.example",
    ) * 8, strict=False)
)


def _mix(x: int) -> int:
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def handle_of(idx: int) -> str:
    """A unique, stable handle for account index ``idx`` (< HANDLE_CAPACITY)."""
    n = (idx * _MUL + _ADD) % HANDLE_CAPACITY
    a, b = n % _V, n // _V
    h = _mix(n)
    style = h % 6
    w1, w2 = VOCAB[a], VOCAB[b]
    if style == 0:
        return f"{w1}_{w2}"
    if style == 1:
        return f"{w1}{w2}"
    if style == 2:
        return f"{w1}_{w2[:4]}{(h >> 8) % 100}"
    if style == 3:
        return f"{w1.capitalize()}{w2.capitalize()}"
    if style == 4:
        return f"{w1}{(h >> 8) % 1000}_{w2[:3]}"
    return f"the{w1}{w2[:3]}"


def display_name(idx: int) -> str:
    """A display name matching the handle's words."""
    n = (idx * _MUL + _ADD) % HANDLE_CAPACITY
    return f"{VOCAB[n % _V].capitalize()} {VOCAB[n // _V].capitalize()}"


def derive_handle(handle: str, variant: int) -> str:
    """A look-alike of ``handle``: digit appended/incremented, letters swapped or doubled."""
    v = variant % 4
    if v == 0:  # digit incremented or appended
        i = len(handle)
        while i > 0 and handle[i - 1].isdigit():
            i -= 1
        if i < len(handle):
            return handle[:i] + str(int(handle[i:]) + 1)
        return handle + "2"
    if v == 1:  # two adjacent letters swapped (first pair that differs)
        for i in range(len(handle) // 2, len(handle) - 1):
            if handle[i] != handle[i + 1] and handle[i].isalpha() and handle[i + 1].isalpha():
                return handle[:i] + handle[i + 1] + handle[i] + handle[i + 2:]
        return handle + "_"
    if v == 2:  # a letter doubled
        for i in range(1, len(handle)):
            if handle[i].isalpha():
                return (handle[:i] + handle[i] + handle[i:])[:15]
        return handle + "x"
    return (handle + "_")[:15] if not handle.endswith("_") else handle + "1"
