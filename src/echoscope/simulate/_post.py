"""One simulated post, and the ids and texts it carries."""

from __future__ import annotations

import numpy as np

from echoscope.simulate._names import VOCAB

__all__ = ["KIND_POST", "KIND_QUOTE", "KIND_REPLY", "KIND_REPOST", "Post", "TextMaker",
           "snowflake"]

KIND_POST, KIND_REPOST, KIND_REPLY, KIND_QUOTE = 0, 1, 2, 3
TWEPOCH_MS = 1_288_834_974_657


def snowflake(t_us: int, seq: int) -> int:
    """A Twitter-style id whose top bits are the time (ms since the Twitter epoch)."""
    ms = max(t_us // 1000 - TWEPOCH_MS, 0)
    return (ms << 22) | (seq & 0x3FFFFF)


class Post:
    """A post in the simulation (format independent)."""

    __slots__ = ("acct", "app", "composed", "id", "kind", "media", "mentions", "parent", "t",
                 "tags", "text", "urls")

    def __init__(self, pid: int, t: int, acct: int, kind: int, app: int, text: str = "",
                 parent: Post | None = None, tags: list[str] | None = None,
                 urls: list[str] | None = None, mentions: list[int] | None = None,
                 media: list[tuple[int, str, str]] | None = None) -> None:
        self.id = pid
        self.t = t
        self.acct = acct
        self.kind = kind
        self.app = app
        self.text = text
        self.parent = parent
        self.tags = tags or []
        self.urls = urls or []
        self.mentions = mentions or []
        # (media id, perceptual-hash field, picture): the picture seeds the image file;
        # "" = organic, the picture is chosen by simulate._images from the media id
        self.media = media or []
        self.composed: tuple[str, list[tuple[str, int, int, object]]] | None = None

    def __lt__(self, other: Post) -> bool:
        return (self.t, self.id) < (other.t, other.id)


class TextMaker:
    """Invented everyday text: Zipf-distributed words from the fixed vocabulary."""

    def __init__(self, rng: np.random.Generator, n_common: int = 1500) -> None:
        ranks = np.arange(1, n_common + 1, dtype=np.float64)
        w = ranks ** -1.05
        self.cdf = np.cumsum(w / w.sum())
        perm = rng.permutation(n_common)
        self.words = [VOCAB[int(i)] for i in perm]
        self.rng = rng

    def sentences(self, n: int, lo: int = 5, hi: int = 14) -> list[str]:
        if n == 0:
            return []
        lens = self.rng.integers(lo, hi + 1, size=n)
        idx = np.searchsorted(self.cdf, self.rng.random(int(lens.sum())))
        idx = np.minimum(idx, len(self.words) - 1)
        words = self.words
        out: list[str] = []
        pos = 0
        for k in lens.tolist():
            seg = idx[pos:pos + k].tolist()
            pos += k
            s = " ".join(words[i] for i in seg)
            out.append(s[:1].upper() + s[1:])
        return out

    def pick(self, n: int) -> np.ndarray:
        idx = np.searchsorted(self.cdf, self.rng.random(n))
        return np.minimum(idx, len(self.words) - 1)
