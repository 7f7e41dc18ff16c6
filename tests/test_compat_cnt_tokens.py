"""The vectorised tokenizer of ``--compat cnt`` co_similar_tweet and the vectorised
co_tweet keys against the toolkit's own functions (coordination-network-toolkit 1.5.2,
``similarity.tokenize`` and ``similarity.message_preprocessor``), on any text: ASCII
punctuation in every position, apostrophes, digits with separators, mentions, control
characters, Arabic, CJK, emoji, combining marks."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.detect.compat_cnt import cotweet_keys, token_set, token_table

sim = pytest.importorskip("coordination_network_toolkit.similarity")

pytestmark = pytest.mark.peers

# pieces that exercise the word-boundary rules: letters, digits, '_', the joining marks
# . , ; : ' between letters or digits, other ASCII punctuation, all ASCII whitespace and
# control characters, mentions, and non-ASCII scripts
PIECES = st.sampled_from([
    *"abzAZ019_ .,;:'\"!?#$%&()*+-/<=>@[\\]^`{|}~\t\n\r\x0b\x0c\x00\x1c\x1f\x7f",
    "don't", "1,000", "3.14", "a.b", "e:g", "@user", "@@", "@a.b", "\r\n", "  ",
    "مرحبا", "السلام", "٣", "\u064b", "日本語", "カタカナ", "🙂", "👍🏽", "🇺🇸",
    "\u200d", "\u00a0", "\u3000", "\u2019", "é", "e\u0301", "ß", "İ", "\u0085",
])
TEXT = st.lists(PIECES, max_size=24).map("".join) | st.text(max_size=24)
ASCII_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=30)


def _reference(text: str) -> frozenset[str]:
    return frozenset(sim.tokenize(text).split())


def _table_sets(texts: list[str]) -> list[frozenset[str]]:
    doc, code, vocab = token_table(pa.array(texts, pa.string()))
    words = vocab.to_pylist()
    out: list[set[str]] = [set() for _ in texts]
    pairs = list(zip(doc.tolist(), code.tolist(), strict=True))
    assert pairs == sorted(set(pairs))  # sorted by text then code, no repeats
    for d, c in pairs:
        out[d].add(words[c])
    return [frozenset(x) for x in out]


@settings(max_examples=400, deadline=None)
@given(st.lists(TEXT | ASCII_TEXT, max_size=10))
def test_token_table_equals_toolkit_tokenizer(texts: list[str]) -> None:
    assert _table_sets(texts) == [_reference(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(TEXT | ASCII_TEXT)
def test_token_set_equals_toolkit_tokenizer(text: str) -> None:
    assert token_set(text) == _reference(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT | ASCII_TEXT, max_size=10))
def test_cotweet_keys_equal_toolkit_preprocessor(texts: list[str]) -> None:
    got = cotweet_keys(pa.array(texts, pa.string())).to_pylist()
    assert got == [sim.message_preprocessor(t) for t in texts]


@pytest.mark.parametrize("text", [
    "Hello, World!! @bob x", "it's 'quoted' a'", "a.b c.d. 1.5 1,000 a:b e;f 1;2",
    "x_.y _a_ __ a_1", "(a)[b]{c} a-b+c=d", "", "@only", "tab\there\r\nnew",
    "مرحبا بالعالم!", "🙂🙂 x", "a\x0bb\x1cc",
])
def test_known_texts(text: str) -> None:
    assert _table_sets([text]) == [_reference(text)]


def test_empty_input() -> None:
    doc, code, vocab = token_table(pa.array([], pa.string()))
    assert doc.size == code.size == len(vocab) == 0


WORDS = st.text(alphabet="abcxyz019_", min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(WORDS, st.sampled_from([" ", "  ", "\t", "!", "-", ", ",
                                                           "\n", "#", "?!"])),
                         max_size=8).map(lambda ws: "".join(w + s for w, s in ws)),
                max_size=12))
def test_byte_tokenizer_on_words_of_every_length(texts: list[str]) -> None:
    # tokens of up to 8 bytes are keyed packed in an integer, longer ones as strings
    assert _table_sets(texts) == [_reference(t) for t in texts]


def test_byte_tokenizer_known_lengths() -> None:
    texts = ["abcdefgh abcdefghi abcdefgh", "a ab abcdefghijklmnop _ 12345678", "",
             "x!y abcdefghi.", "abcdefghi abcdefgh"]
    assert _table_sets(texts) == [_reference(t) for t in texts]
