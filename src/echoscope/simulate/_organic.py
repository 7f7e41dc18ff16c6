"""Organic traffic: heavy-tailed, diurnal, with popularity-driven repost cascades."""

from __future__ import annotations

import numpy as np

from echoscope.simulate._names import DOMAINS, VOCAB
from echoscope.simulate._post import (
    KIND_POST,
    KIND_QUOTE,
    KIND_REPLY,
    KIND_REPOST,
    Post,
    TextMaker,
)
from echoscope.simulate._world import BOT, HOUR, ORGANIC, World, diurnal

__all__ = ["TAGS", "OrganicProcess", "Pool"]

TAGS: list[str] = [VOCAB[i].capitalize() if i % 3 else VOCAB[i] for i in range(1000, 1400)]


class Pool:
    """Recent original posts that others may repost, reply to or quote (bounded ring)."""

    def __init__(self, capacity: int = 8192, tau_hours: float = 8.0) -> None:
        self.cap = capacity
        self.posts: list[Post | None] = [None] * capacity
        self.t = np.zeros(capacity, dtype=np.int64)
        self.pop = np.zeros(capacity)
        self.cnt = np.zeros(capacity)
        self.head = 0
        self.size = 0
        self.tau = tau_hours * HOUR

    def add(self, post: Post, popularity: float) -> None:
        i = self.head
        self.posts[i] = post
        self.t[i] = post.t
        self.pop[i] = popularity
        self.cnt[i] = 0.0
        self.head = (i + 1) % self.cap
        self.size = min(self.size + 1, self.cap)

    def choose(self, rng: np.random.Generator, n: int, now: int, rounds: int = 4) -> list[Post]:
        """``n`` parents, preferential attachment: weight = popularity x (1 + reposts so far)."""
        if n == 0 or self.size == 0:
            return []
        k = self.size
        age = np.maximum(now - self.t[:k], 0) / self.tau
        base = self.pop[:k] * np.exp(-age)
        out: list[Post] = []
        per = max(1, -(-n // rounds))
        while len(out) < n:
            m = min(per, n - len(out))
            w = base * (1.0 + self.cnt[:k])
            s = w.sum()
            idx = rng.integers(0, k, size=m) if s <= 0 else rng.choice(k, size=m, p=w / s)
            np.add.at(self.cnt, idx, 1.0)
            out.extend(self.posts[int(i)] for i in idx)  # type: ignore[misc]
        return out


class OrganicProcess:
    """Draws each hour's organic posts: who (by time zone and activity), what, and when."""

    def __init__(self, world: World, rng: np.random.Generator, text: TextMaker,
                 new_post: object) -> None:
        self.w = world
        self.rng = rng
        self.text = text
        self.new = new_post
        eligible = np.flatnonzero((world.rate > 0) & (world.role != BOT))
        self.stable = np.flatnonzero((world.role == ORGANIC) & (world.created < world.params.start_us)
                                     & (world.suspended == np.iinfo(np.int64).max))
        self.buckets: list[tuple[int, np.ndarray, np.ndarray]] = []
        for tz in np.unique(world.tz[eligible]).tolist():
            members = eligible[world.tz[eligible] == tz]
            cum = np.cumsum(world.rate[members])
            self.buckets.append((int(tz), members, cum))
        self.mass = np.array([b[2][-1] for b in self.buckets])
        self.tag_cdf = np.cumsum(np.arange(1, len(TAGS) + 1, dtype=np.float64) ** -1.1)
        self.tag_cdf /= self.tag_cdf[-1]
        self.dom_cdf = np.cumsum(np.arange(1, len(DOMAINS) + 1, dtype=np.float64) ** -1.2)
        self.dom_cdf /= self.dom_cdf[-1]
        pop_order = np.argsort(-world.followers[self.stable], kind="stable")
        self.popular = self.stable[pop_order[: max(10, len(pop_order) // 50)]]
        self.pool = Pool()
        self.trending: list[tuple[int, int, str, float]] = []  # (start, end, tag, share)

    def hour_weights(self, n_hours: int, start_us: int) -> np.ndarray:
        hours = (start_us // HOUR + np.arange(n_hours)) % 24
        tzs = np.array([b[0] for b in self.buckets])
        d = diurnal((hours[:, None] + tzs[None, :]) % 24)
        out: np.ndarray = (d * self.mass[None, :]).sum(axis=1)
        return out

    def popularity(self, acct: int) -> float:
        return float((float(self.w.followers[acct]) + 10.0) ** 0.6)

    def hour(self, start: int, n: int) -> list[Post]:
        """The ``n`` organic posts of the hour starting at ``start`` (µs)."""
        if n == 0:
            return []
        rng, w = self.rng, self.w
        utc_hour = (start // HOUR) % 24
        tzs = np.array([b[0] for b in self.buckets])
        bw = diurnal((utc_hour + tzs) % 24) * self.mass
        counts = rng.multinomial(n, bw / bw.sum())
        parts = []
        for (_, members, cum), c in zip(self.buckets, counts.tolist(), strict=True):
            if c:
                pos = np.searchsorted(cum, rng.random(c) * cum[-1], side="right")
                parts.append(members[np.minimum(pos, len(members) - 1)])
        acct = np.concatenate(parts)
        t = start + rng.integers(0, HOUR, size=n)
        bad = ~w.active(acct, t)
        if bad.any():
            acct[bad] = self.stable[rng.integers(0, len(self.stable), size=int(bad.sum()))]
        order = np.argsort(t, kind="stable")
        acct, t = acct[order], t[order]
        u = rng.random(n)
        rp = w.repost_p[acct]
        kind = np.full(n, KIND_POST, dtype=np.int8)
        if self.pool.size:
            kind[u < rp] = KIND_REPOST
            kind[(u >= rp) & (u < rp + 0.07)] = KIND_REPLY
            kind[(u >= rp + 0.07) & (u < rp + 0.10)] = KIND_QUOTE
        out: list[Post] = []
        new = self.new
        # reposts, replies and quotes pick parents from the pool
        ref = np.flatnonzero(kind != KIND_POST)
        parents = self.pool.choose(rng, len(ref), start)
        for j, i in enumerate(ref.tolist()):
            par = parents[j]
            ti = int(t[i])
            if ti <= par.t:
                ti = par.t + 1_000_000 + int(rng.exponential(900.0) * 1e6)
            a = int(acct[i])
            while a == par.acct or not (w.created[a] <= ti < w.suspended[a]):
                a = int(self.stable[rng.integers(0, len(self.stable))])
            k = int(kind[i])
            if k == KIND_REPOST:
                out.append(new(ti, a, KIND_REPOST, int(w.app[a]), parent=par))  # type: ignore[operator]
            else:
                out.append(new(ti, a, k, int(w.app[a]), text=self.text.sentences(1, 3, 10)[0],  # type: ignore[operator]
                               parent=par, mentions=[par.acct] if k == KIND_REPLY else []))
        orig = np.flatnonzero(kind == KIND_POST)
        texts = self.text.sentences(len(orig))
        m = len(orig)
        has_tag = rng.random(m) < 0.2
        tag_idx = np.searchsorted(self.tag_cdf, rng.random(m))
        has_url = rng.random(m) < 0.1
        dom_idx = np.searchsorted(self.dom_cdf, rng.random(m))
        has_media = rng.random(m) < 0.05
        has_mention = rng.random(m) < 0.08
        mention = self.popular[rng.integers(0, len(self.popular), size=m)]
        trend_u = rng.random(m)
        active_trends = [tr for tr in self.trending if tr[0] < start + HOUR and tr[1] > start]
        for j, i in enumerate(orig.tolist()):
            ti, a = int(t[i]), int(acct[i])
            tags: list[str] = []
            if has_tag[j]:
                tags.append(TAGS[min(int(tag_idx[j]), len(TAGS) - 1)])
            for (ts, te, tag, share) in active_trends:
                if ts <= ti < te and trend_u[j] < share and tag not in tags:
                    tags.append(tag)
            urls: list[str] = []
            if has_url[j]:
                d = DOMAINS[min(int(dom_idx[j]), len(DOMAINS) - 1)]
                urls.append(f"https://{d}/{ti // 86_400_000_000}/{texts[j].split()[0].lower()}"
                            f"-{ti % 9973}")
            media = []
            if has_media[j]:
                mid = int(rng.integers(1 << 40, 1 << 58))
                ph = rng.bytes(32).hex()
                media.append((mid, ph, ""))  # "": a picture of its own (see _images)
            mentions = [int(mention[j])] if has_mention[j] and int(mention[j]) != a else []
            p = new(ti, a, KIND_POST, int(w.app[a]), text=texts[j], tags=tags,  # type: ignore[operator]
                    urls=urls, media=media, mentions=mentions)
            out.append(p)
            self.pool.add(p, self.popularity(a))
        return out
