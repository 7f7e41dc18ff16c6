"""Canonical forms of text, URLs, hashtags and handles.

Everything later stages compare goes through here, so two posts that differ only in
case, width, spacing, an ``RT @x:`` prefix, Arabic diacritics or tracking parameters
compare equal. Nothing here touches the network: a shortened URL is only replaced by the
expanded URL that the record itself carries.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = [
    "canonical_url",
    "domain_of",
    "normalise_arabic",
    "normalise_handle",
    "normalise_hashtag",
    "normalise_text",
    "strip_retweet_prefix",
    "text_hash",
]

# --- text ---------------------------------------------------------------------------

# one or more leading "RT @handle:" (a manual retweet of a manual retweet has two)
_RT_PREFIX = re.compile(r"^\s*(?:RT\s*@[\w.]+\s*:?\s*)+", re.IGNORECASE)
_WS = re.compile(r"\s+")
_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e"), None
)

# Arabic: tatweel, harakat/diacritics and Quranic marks removed; letter variants unified.
_AR_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")
_AR_TATWEEL = "\u0640"
_AR_MAP = str.maketrans(
    {
        "\u0622": "\u0627",  # آ -> ا
        "\u0623": "\u0627",  # أ -> ا
        "\u0625": "\u0627",  # إ -> ا
        "\u0671": "\u0627",  # ٱ -> ا
        "\u0649": "\u064a",  # ى -> ي
        "\u06cc": "\u064a",  # ی (Farsi yeh) -> ي
        "\u0629": "\u0647",  # ة -> ه
        "\u0624": "\u0648",  # ؤ -> و
        "\u0626": "\u064a",  # ئ -> ي
        "\u06a9": "\u0643",  # ک (keheh) -> ك
        "\u0640": None,      # tatweel
        # Arabic-Indic and extended (Persian) digits -> ASCII
        **{chr(0x0660 + i): str(i) for i in range(10)},
        **{chr(0x06F0 + i): str(i) for i in range(10)},
    }
)


def normalise_arabic(text: str) -> str:
    """Remove tatweel and diacritics, unify alef/ya/ta-marbuta forms, fold digits."""
    return _AR_DIACRITICS.sub("", text).translate(_AR_MAP)


def strip_retweet_prefix(text: str) -> str:
    """Remove leading ``RT @handle:`` prefixes (manual retweets, chained ones too)."""
    return _RT_PREFIX.sub("", text, count=1)


_URL_IN_TEXT = re.compile(r"https?://\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@[\w.]+")


def normalise_text(
    text: str | None,
    *,
    strip_urls: bool = False,
    strip_mentions: bool = False,
) -> str:
    """Canonical text: NFKC, RT-prefix removal, Arabic folding, case-folding, one space.

    ``strip_urls`` drops ``http(s)://`` links (t.co links differ per copy);
    ``strip_mentions`` drops ``@handles``.
    """
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    t = strip_retweet_prefix(t)
    if strip_urls:
        t = _URL_IN_TEXT.sub(" ", t)
    if strip_mentions:
        t = _MENTION.sub(" ", t)
    t = normalise_arabic(t).casefold()
    return _WS.sub(" ", t).strip()


def text_hash(normalised: str) -> str:
    """A short stable hash of already-normalised text (hex, 16 chars)."""
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).hexdigest()


# --- hashtags and handles ------------------------------------------------------------

@lru_cache(maxsize=100_000)
def normalise_hashtag(tag: str) -> str:
    """Case-folded hashtag without ``#`` (NFKC, Arabic-folded)."""
    t = unicodedata.normalize("NFKC", tag).translate(_ZERO_WIDTH).strip().lstrip("#＃")
    return normalise_arabic(t).casefold()


@lru_cache(maxsize=100_000)
def normalise_handle(handle: str) -> str:
    """Case-folded handle without ``@`` (NFKC, so full-width forms fold too)."""
    return unicodedata.normalize("NFKC", handle).translate(_ZERO_WIDTH).strip().lstrip(
        "@").casefold()


# --- URLs ----------------------------------------------------------------------------

_TRACKING_EXACT = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "igshid", "igsh", "mc_cid", "mc_eid",
        "yclid", "_ga", "_gl", "ref_src", "ref_url", "s_cid", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "wickedid", "twclid", "ttclid", "si", "spm", "__twitter_impression",
        "cmpid", "soc_src", "soc_trk", "ocid", "sr_share", "rdt", "share_id", "feature",
    }
)
_TRACKING_PREFIX = ("utm_", "pk_", "hsa_", "mtm_", "__hs", "_hs", "ga_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SHORTENER_HOSTS = frozenset({"t.co"})


def _is_tracking(name: str) -> bool:
    n = name.lower()
    return n in _TRACKING_EXACT or n.startswith(_TRACKING_PREFIX)


# shorteners replaced by the record's expanded URL (hosts of _SHORTENER_HOSTS)
_SHORT_PREFIX = re.compile(r"^\s*(?:(?:https?:)?//)?(?:www\.)?t\.co(?:[/:?#]|$)", re.IGNORECASE)


def canonical_url(url: str | None, expanded: str | None = None) -> str | None:
    """Canonical form of a URL, or None if it is not a usable http(s) URL.

    Scheme and host lower-cased, ``www.`` kept, default ports and fragments removed,
    tracking parameters (``utm_*``, ``fbclid``, ``igshid``, …) removed, remaining query
    parameters sorted, percent-encoding normalised, trailing slash of the path removed.
    A ``t.co`` link is replaced by ``expanded`` when the record gives one; it is never
    fetched.
    """
    if not url and not expanded:
        return None
    u = (url or "").strip()
    if expanded and (not u or _SHORT_PREFIX.match(u)):
        u = expanded.strip()
    if not u:
        return None
    return _canonical(u)


@lru_cache(maxsize=200_000)
def _canonical(u: str) -> str | None:
    if "://" not in u[:12]:
        if u.startswith("//"):
            u = "http:" + u
        elif re.match(r"^[\w.-]+\.[a-z]{2,}(/|$)", u, re.IGNORECASE):
            u = "http://" + u
        else:
            return None
    try:
        parts = urlsplit(u)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            return None
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return None
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            host = host.lower()
        port = parts.port
    except ValueError:
        return None
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/%:@!$&'()*+,;=~-._")
    if path.endswith("/"):
        path = path.rstrip("/")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(k)
    ]
    query.sort()
    q = urlencode(query, doseq=True, quote_via=quote)
    return urlunsplit((scheme, netloc, path, q, ""))


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url if "://" in url else "http://" + url).hostname or "").lower()
    except ValueError:
        return ""


def domain_of(url: str) -> str:
    """Host of a canonical URL without a leading ``www.``."""
    h = _host_of(url)
    return h[4:] if h.startswith("www.") else h


def canonical_urls(urls: Iterable[str | None]) -> list[str]:
    """Canonical, de-duplicated (order kept) list of URLs."""
    out: list[str] = []
    seen: set[str] = set()
    for u in urls:
        c = canonical_url(u) if u else None
        if c and c not in seen:
            seen.add(c)
            out.append(c)
    return out
