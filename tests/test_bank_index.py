"""Exact PDQ radius search: multi-index hashing must equal brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.bank import PDQIndex, brute_force_search, pdq_distance, radius_search
from echoscope.bank._signals import pdq_to_words, words_to_pdq


def _random_words(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, size=(n, 4), dtype=np.uint64, endpoint=True)


def _flip_bits(rng: np.random.Generator, words: np.ndarray, max_bits: int) -> np.ndarray:
    out = words.copy()
    for i in range(out.shape[0]):
        k = int(rng.integers(0, max_bits + 1))
        for b in rng.choice(256, size=k, replace=False):
            out[i, b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    return out


def _same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_hex_words_round_trip() -> None:
    rng = np.random.default_rng(3)
    words = _random_words(rng, 50)
    hexes = words_to_pdq(words)
    assert all(len(h) == 64 for h in hexes)
    assert np.array_equal(pdq_to_words(hexes), words)
    # distance on words equals distance on hex strings
    i, j, d = brute_force_search(words[:5], words, 256)
    for a, b, dist in zip(i, j, d, strict=True):
        assert pdq_distance(hexes[a], hexes[b]) == dist


def test_known_answer() -> None:
    zero = "0" * 64
    one_bit = "0" * 63 + "1"
    ff = "f" * 64
    bank = pdq_to_words([zero, one_bit, ff])
    qi, bi, d = radius_search(pdq_to_words([zero]), bank, 31)
    assert list(bi) == [0, 1] and list(d) == [0, 1] and list(qi) == [0, 0]
    qi, bi, d = radius_search(pdq_to_words([zero]), bank, 256)
    assert list(bi) == [0, 1, 2] and list(d) == [0, 1, 256]


@pytest.mark.parametrize("radius", [0, 7, 15, 16, 31, 32, 47, 52])
def test_equals_brute_force_with_planted_neighbours(radius: int) -> None:
    rng = np.random.default_rng(radius)
    bank = _random_words(rng, 3000)
    # near copies of bank rows at distances spread around the radius, plus random queries
    queries = np.vstack([_flip_bits(rng, bank[:400], 60), _random_words(rng, 100)])
    got = PDQIndex.build(bank).search(queries, radius)
    want = brute_force_search(queries, bank, radius)
    assert _same(got, want)
    assert len(got[0]) > 0


def test_clustered_bank_equals_brute_force() -> None:
    # skewed data (many near-identical bank hashes) stresses buckets and de-duplication
    rng = np.random.default_rng(11)
    seeds = _random_words(rng, 5)
    bank = _flip_bits(rng, np.repeat(seeds, 200, axis=0), 40)
    queries = _flip_bits(rng, np.repeat(seeds, 20, axis=0), 40)
    assert _same(PDQIndex.build(bank).search(queries, 31), brute_force_search(queries, bank, 31))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bank=st.integers(0, 200),
    n_query=st.integers(0, 50),
    radius=st.integers(0, 64),
    max_bits=st.integers(0, 80),
)
def test_property_equals_brute_force(seed: int, n_bank: int, n_query: int, radius: int,
                                     max_bits: int) -> None:
    rng = np.random.default_rng(seed)
    bank = _random_words(rng, n_bank)
    base = bank[rng.integers(0, n_bank, n_query)] if n_bank else _random_words(rng, n_query)
    queries = _flip_bits(rng, base, max_bits)
    want = brute_force_search(queries, bank, radius)
    assert _same(PDQIndex.build(bank).search(queries, radius), want)
    assert _same(radius_search(queries, bank, radius), want)


@pytest.mark.parametrize("radius", [31, 52])
def test_radius_search_strategies_agree(radius: int) -> None:
    """radius_search picks the index (large bank, small radius) or brute force."""
    rng = np.random.default_rng(5)
    bank = _random_words(rng, 5000)
    queries = _flip_bits(rng, bank[:300], 70)
    assert _same(radius_search(queries, bank, radius), PDQIndex.build(bank).search(queries, radius))


def test_bad_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        radius_search(np.zeros((3, 3), np.uint64), np.zeros((3, 4), np.uint64), 31)
