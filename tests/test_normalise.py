"""Canonical text, URL, hashtag and handle forms (English and Arabic are both first-class)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from echoscope.normalise import (
    canonical_url,
    canonical_urls,
    domain_of,
    normalise_arabic,
    normalise_handle,
    normalise_hashtag,
    normalise_text,
    strip_retweet_prefix,
    text_hash,
)

# --- text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello   World", "hello world"),
        ("  tabs\tand\nnewlines\r\n here ", "tabs and newlines here"),
        ("ＦＵＬＬ　ｗｉｄｔｈ", "full width"),          # NFKC folds width (and the ideographic space)
        ("ﬁne ligature", "fine ligature"),             # NFKC
        ("Straße", "strasse"),                          # case-folding, not just lower()
        ("zero\u200bwidth\u200djoin", "zerowidthjoin"),
        ("non\u00a0breaking", "non breaking"),
        ("RT @some_user: the same words", "the same words"),
        ("rt @x the same words", "the same words"),
        ("RT @a: RT @b: nested copy", "nested copy"),    # chained manual retweets
        ("a RT @x: inside stays", "a rt @x: inside stays"),
        ("", ""),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


def test_normalise_text_none_and_options() -> None:
    assert normalise_text(None) == ""
    t = "Look https://t.co/AbC and @Someone now"
    assert normalise_text(t, strip_urls=True) == "look and @someone now"
    assert normalise_text(t, strip_mentions=True) == "look https://t.co/abc and now"
    assert normalise_text(t, strip_urls=True, strip_mentions=True) == "look and now"


def test_strip_retweet_prefix_only_at_start() -> None:
    assert strip_retweet_prefix("RT @x: hi") == "hi"
    assert strip_retweet_prefix("hi RT @x: there") == "hi RT @x: there"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("مـــرحـــبـــا", "مرحبا"),                     # tatweel removed
        ("مَرْحَبًا", "مرحبا"),                           # harakat removed
        ("أحمد إبراهيم آمن ٱلله", "احمد ابراهيم امن الله"),  # alef forms unified
        ("مدرسة", "مدرسه"),                              # ta marbuta -> ha
        ("على", "علي"),                                  # alef maqsura -> ya
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),                    # Arabic-Indic digits
        ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),                    # extended (Persian) digits
        ("ﻻ", "لا"),                                     # presentation form via NFKC
    ],
)
def test_arabic(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


def test_arabic_variants_compare_equal() -> None:
    a = "RT @حساب: أخبار   عاجلة ٢٠٢٤ #الموصل"
    b = "اخبار عاجله 2024 #الموصل"
    assert normalise_text(a) == normalise_text(b)
    assert text_hash(normalise_text(a)) == text_hash(normalise_text(b))
    assert normalise_arabic("إِسْلَام") == "اسلام"


@given(st.text())
def test_normalise_text_is_idempotent(s: str) -> None:
    once = normalise_text(s)
    assert normalise_text(once) == once
    assert once == once.strip() and "  " not in once


def test_text_hash_is_short_and_stable() -> None:
    h = text_hash("hello")
    assert len(h) == 16 and h == text_hash("hello") and h != text_hash("hello!")


# --- hashtags and handles -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("#KochFarms", "kochfarms"),
        ("KOCHFARMS", "kochfarms"),
        ("＃ＦｕｌｌＷｉｄｔｈ", "fullwidth"),
        ("#نينوى", "نينوي"),
        ("#مـوصـل", "موصل"),
        (" #Spaced ", "spaced"),
        ("#tag\u200b", "tag"),
    ],
)
def test_hashtags(raw: str, expected: str) -> None:
    assert normalise_hashtag(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("@Relay_News_01", "relay_news_01"), ("relay_news_01", "relay_news_01"),
     ("＠ＦｕｌｌＷｉｄｔｈ", "fullwidth"), (" @Regional.bsky.social ", "regional.bsky.social")],
)
def test_handles(raw: str, expected: str) -> None:
    assert normalise_handle(raw) == expected


# --- URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://Example.COM/Path", "https://example.com/Path"),  # path case kept
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#section", "https://example.com/a"),
        ("https://example.com/a/", "https://example.com/a"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com/a?utm_source=tw&utm_medium=x&id=5", "https://example.com/a?id=5"),
        ("https://example.com/a?fbclid=abc", "https://example.com/a"),
        ("https://example.com/a?igshid=abc&b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?UTM_Campaign=x", "https://example.com/a"),
        ("https://example.com/a%7Eb", "https://example.com/a~b"),
        ("https://bücher.example/buch", "https://xn--bcher-kva.example/buch"),
        ("https://BÜCHER.example/", "https://xn--bcher-kva.example"),
        ("example.com/page", "http://example.com/page"),
        ("//cdn.example.com/x", "http://cdn.example.com/x"),
        ("https://example.com./a", "https://example.com/a"),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


@pytest.mark.parametrize("bad", ["", "not a url", "javascript:alert(1)", "ftp://x.example/f",
                                 "mailto:a@b.example", "http://", "https://host:notaport/"])
def test_canonical_url_refuses(bad: str) -> None:
    assert canonical_url(bad) is None


def test_tco_replaced_by_expanded_url_from_the_record() -> None:
    assert canonical_url("https://t.co/Ab1Cd2Ef3G",
                         "https://Example-News.net/story?utm_source=twitter") == (
        "https://example-news.net/story")
    # without an expansion the t.co link stays as it is (never fetched)
    assert canonical_url("https://t.co/Ab1Cd2Ef3G") == "https://t.co/Ab1Cd2Ef3G"
    # a non-shortener URL is not replaced by a different "expanded" value
    assert canonical_url("https://a.example/x", "https://b.example/y") == "https://a.example/x"
    assert canonical_url(None, "https://b.example/y") == "https://b.example/y"


def test_canonical_urls_and_domain() -> None:
    assert canonical_urls(["https://A.example/x", "https://a.example/x#f", None,
                           "bad url", "https://b.example"]) == [
        "https://a.example/x", "https://b.example"]
    assert domain_of("https://www.example.com/a") == "example.com"
    assert domain_of("https://news.example.com/a") == "news.example.com"


@given(st.from_regex(r"https?://[a-zA-Z0-9.-]{1,20}\.[a-z]{2,5}(/[a-zA-Z0-9_~.%-]{0,10}){0,3}"
                     r"(\?[a-z_]{1,8}=[a-z0-9]{0,5}(&[a-z_]{1,8}=[a-z0-9]{0,5}){0,3})?"
                     r"(#[a-z]{0,5})?", fullmatch=True))
def test_canonical_url_is_idempotent(u: str) -> None:
    c = canonical_url(u)
    if c is not None:
        assert canonical_url(c) == c
        assert "#" not in c and "utm_" not in c.lower()
