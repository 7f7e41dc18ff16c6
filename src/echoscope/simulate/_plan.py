"""Planned (non-organic) activity: hard negatives, benign bots and campaigns.

Planning happens once, before any post is written: every episode fixes who takes part and
when, so the number of planned posts is known and organic traffic fills the rest exactly.
Episodes are materialised into posts only when the writer reaches their hour.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from echoscope.simulate._names import DOMAINS, VOCAB
from echoscope.simulate._organic import TAGS
from echoscope.simulate._post import KIND_POST, KIND_REPOST, Post, TextMaker
from echoscope.simulate._world import (
    BOT,
    BOT_APPS,
    DAY,
    HOUR,
    MEMBER,
    ORGANIC,
    World,
    activity_rates,
    campaign_words,
)

__all__ = ["Campaign", "Episode", "Plan", "make_plan"]

MIN = 60_000_000
SEC = 1_000_000
NewPost = Callable[..., Post]


@dataclass
class Episode:
    start: int
    n_posts: int
    make: Callable[[NewPost], list[Post]]


@dataclass
class Campaign:
    name: str
    style: str
    members: np.ndarray
    participation: np.ndarray
    app: int | None = None
    hub: int | None = None
    hashtags: list[str] = field(default_factory=list)
    domain: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    posts: int = 0


@dataclass
class Plan:
    episodes: list[Episode] = field(default_factory=list)
    campaigns: list[Campaign] = field(default_factory=list)
    hard: dict[str, set[int]] = field(default_factory=dict)
    reincarnations: list[tuple[int, int]] = field(default_factory=list)
    storms: list[dict[str, Any]] = field(default_factory=list)
    hijacks: list[dict[str, Any]] = field(default_factory=list)
    trending: list[tuple[int, int, str, float]] = field(default_factory=list)
    bots: list[tuple[int, int, int, np.ndarray]] = field(default_factory=list)

    @property
    def planned_posts(self) -> int:
        return sum(e.n_posts for e in self.episodes) + sum(len(b[3]) for b in self.bots)


def _hour_iso(t: int) -> str:
    import datetime as dt

    d = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=(t // HOUR) * HOUR)
    return d.strftime("%Y-%m-%dT%H:00Z")


class Planner:
    def __init__(self, world: World, rng: np.random.Generator, text: TextMaker) -> None:
        self.w = world
        self.p = world.params
        self.rng = rng
        self.text = text
        self.plan = Plan()
        self.n = self.p.posts
        self.t0 = self.p.start_us
        self.t1 = self.p.end_us
        self.organic = np.flatnonzero(world.role == ORGANIC)

    # -- helpers -----------------------------------------------------------------------
    def when(self, margin_hours: float = 6.0) -> int:
        """A random time, biased to daytime hours (UTC 07-22), away from the end."""
        span = max(self.t1 - self.t0 - int(margin_hours * HOUR), HOUR)
        for _ in range(8):
            t = self.t0 + int(self.rng.integers(0, span))
            if 7 <= (t // HOUR) % 24 <= 22:
                return t
        return t

    def unrelated(self, k: int) -> np.ndarray:
        k = min(k, len(self.organic))
        return self.rng.choice(self.organic, size=k, replace=False)

    def add(self, start: int, n: int, make: Callable[[NewPost], list[Post]]) -> None:
        if n > 0:
            self.plan.episodes.append(Episode(start, n, make))

    # -- hard negatives ----------------------------------------------------------------
    def hard_negatives(self) -> None:
        p, rng = self.p, self.rng
        budget = self.n * p.hard_negative_share
        hard = self.plan.hard
        for kind in ("breaking_news", "copypasta", "share_button", "benign_bots",
                  "lookalike_handles", "created_after_suspension"):
            hard[kind] = set()
        root = math.sqrt(self.n)
        news = self.organic[np.argsort(-self.w.followers[self.organic], kind="stable")[:20]]
        # breaking news: a news account posts; hundreds of unrelated accounts repost in minutes
        size = int(np.clip(root * 0.8, 25, 800))
        for _ in range(max(1, round(budget * 0.4 / (size + 1)))):
            k = int(np.clip(size * rng.lognormal(0, 0.3), 10, len(self.organic) - 1))
            src = int(rng.choice(news))
            who = self.unrelated(k)
            who = who[who != src]
            t0 = self.when()
            delays = np.clip(rng.lognormal(math.log(100), 0.9, size=len(who)), 3, 7200)
            times = t0 + (delays * SEC).astype(np.int64)
            hard["breaking_news"].update(who.tolist())
            headline = self.text.sentences(1, 6, 11)[0]
            dom = DOMAINS[int(rng.integers(0, 8))]
            url = f"https://{dom}/breaking/{headline.split()[0].lower()}-{t0 % 100000}"

            def make(new: NewPost, t0: int = t0, src: int = src, who: np.ndarray = who,
                     times: np.ndarray = times, headline: str = headline, url: str = url
                     ) -> list[Post]:
                orig = new(t0, src, KIND_POST, int(self.w.app[src]), text=headline, urls=[url],
                           pool=True)
                return [orig] + [new(int(t), int(a), KIND_REPOST, int(self.w.app[a]),
                                     parent=orig) for a, t in zip(who, times, strict=True)]

            self.add(t0, len(who) + 1, make)
        # viral copypasta: many unrelated accounts post the same text over hours
        size = int(np.clip(root * 0.5, 15, 400))
        for _ in range(max(1, round(budget * 0.3 / size))):
            who = self.unrelated(int(np.clip(size * rng.lognormal(0, 0.3), 8, 5000)))
            t0 = self.when(12)
            times = t0 + (rng.exponential(3 * 3600, size=len(who)) * SEC).astype(np.int64)
            body = self.text.sentences(1, 14, 22)[0]
            variant = rng.random(len(who)) < 0.1
            hard["copypasta"].update(who.tolist())

            def make_cp(new: NewPost, who: np.ndarray = who, times: np.ndarray = times,
                        body: str = body, variant: np.ndarray = variant) -> list[Post]:
                return [new(int(t), int(a), KIND_POST, int(self.w.app[a]),
                            text=body + ("!!" if v else ""))
                        for a, t, v in zip(who, times, variant, strict=True)]

            self.add(t0, len(who), make_cp)
        # share-button posts: identical text + link of a news site's share button
        for _ in range(max(1, round(budget * 0.3 / size))):
            who = self.unrelated(int(np.clip(size * rng.lognormal(0, 0.3), 8, 5000)))
            site = int(rng.choice(news))
            t0 = self.when(12)
            times = t0 + (rng.exponential(2 * 3600, size=len(who)) * SEC).astype(np.int64)
            headline = self.text.sentences(1, 5, 9)[0]
            dom = DOMAINS[int(rng.integers(0, len(DOMAINS)))]
            url = (f"https://{dom}/story/{headline.split()[-1].lower()}-{t0 % 99991}"
                   "?utm_source=share_button&utm_medium=social")
            hard["share_button"].update(who.tolist())

            def make_sb(new: NewPost, who: np.ndarray = who, times: np.ndarray = times,
                        headline: str = headline, url: str = url, site: int = site
                        ) -> list[Post]:
                return [new(int(t), int(a), KIND_POST, int(self.w.app[a]),
                            text=f"{headline} via", urls=[url], mentions=[site])
                        for a, t in zip(who, times, strict=True) if int(a) != site]

            n_sb = int((who != site).sum())
            self.add(t0, n_sb, make_sb)
        # trending hashtags (organic boost; hijacks add more windows later)
        for _ in range(max(2, int(self.p.days // 2))):
            self.trend()
        # look-alike handles among organic accounts
        n_look = int(np.clip(len(self.organic) * 0.01, 3, 2000))
        pairs = self.rng.choice(self.organic, size=min(2 * n_look, len(self.organic)),
                                replace=False)
        for j in range(0, len(pairs) - 1, 2):
            a, b = int(pairs[j]), int(pairs[j + 1])
            self.w.set_handle(b, self.w.lookalike(a, j // 2))
            if rng.random() < 0.5:
                self.w.names[b] = self.w.names[a]
            hard["lookalike_handles"].update((a, b))
        # benign bots: automated, regular, not coordinated
        bot_budget = self.n * p.bot_share
        if bot_budget >= 1:
            n_bots = int(np.clip(round(bot_budget / (self.p.days * 24)), 2, 2000))
            per_bot = bot_budget / n_bots
            options = np.array([10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440])
            idx = self.w.add_accounts(n_bots, rng, role=BOT, campaign=-1,
                                      rate=np.zeros(n_bots))
            bot_apps = [self.w.add_app(name, f"https://{VOCAB[200 + i]}.example/app")
                        for i, name in enumerate(BOT_APPS)]
            for b in idx.tolist():
                want = self.p.days * 1440 / max(per_bot * rng.lognormal(0, 0.4), 1)
                period = int(options[np.argmin(np.abs(np.log(options / want)))])
                offset = int(rng.integers(0, period)) if rng.random() < 0.5 else 0
                first = self.t0 + offset * MIN
                times = np.arange(first, self.t1, period * MIN, dtype=np.int64)
                times += (np.abs(rng.normal(0, 3, size=len(times))) * SEC).astype(np.int64)
                app = bot_apps[int(rng.integers(0, len(bot_apps)))]
                self.w.app[b] = app
                self.plan.bots.append((b, app, period, times))
                hard["benign_bots"].add(b)

    def trend(self, hours: float | None = None) -> tuple[int, int, str]:
        rng = self.rng
        tag = TAGS[int(rng.integers(30, 300))]
        dur = int((hours or rng.uniform(4, 12)) * HOUR)
        t0 = self.when(14)
        self.plan.trending.append((t0, t0 + dur, tag, float(rng.uniform(0.04, 0.1))))
        return t0, t0 + dur, tag

    # -- campaigns ---------------------------------------------------------------------
    def campaigns(self) -> None:
        p, rng = self.p, self.rng
        styles = [s for s in p.styles for _ in range(p.campaigns_per_style)]
        if not styles:
            return
        budget = self.n * p.campaign_share / len(styles)
        pbar = (1 - p.low_participation) * 0.8 + p.low_participation * 0.09
        m_auto = int(np.clip(math.sqrt(self.n) / 2.5, 10, 500))
        m = p.members or min(m_auto, max(6, int(budget / (4 * pbar))))
        counter: dict[str, int] = {}
        for style in styles:
            counter[style] = counter.get(style, 0) + 1
            name = f"{style}_{counter[style]}"
            k_members = max(4, int(m * rng.uniform(0.8, 1.2)))
            idx = self._members(k_members, len(self.plan.campaigns))
            low = rng.random(len(idx)) < p.low_participation
            part = np.where(low, rng.uniform(0.03, 0.15, len(idx)), rng.uniform(0.6, 1.0,
                                                                                 len(idx)))
            c = Campaign(name, style, idx, part)
            c.info["low_participation"] = [int(x) for x in idx[low]]
            self.plan.campaigns.append(c)
            if style != "reincarnation":
                # a few members are suspended late in the period, without re-creation
                for a in idx[1:][rng.random(len(idx) - 1) < 0.08].tolist():
                    self.w.suspended[a] = self.t0 + int(rng.uniform(0.6, 0.95)
                                                        * (self.t1 - self.t0))
            episodes = max(2, round(budget / max(len(idx) * pbar, 1)))
            getattr(self, "_" + style)(c, episodes)

    def _members(self, k: int, cidx: int) -> np.ndarray:
        rng = self.rng
        center = self.t0 - int(rng.uniform(20, 400) * DAY)
        created = center + (rng.normal(0, 3, size=k) * DAY).astype(np.int64)
        old = rng.random(k) < 0.3
        created[old] = self.t0 - (rng.uniform(0.5, 6, size=int(old.sum())) * 365 * DAY
                                  ).astype(np.int64)
        idx = self.w.add_accounts(k, rng, role=MEMBER, campaign=cidx,
                                  rate=activity_rates(rng, k) * 0.7, created=created)
        return idx

    def _takes_part(self, c: Campaign, t: np.ndarray | int, members: np.ndarray | None = None
                    ) -> np.ndarray:
        """Members who take part in an episode at time(s) t (participation, alive)."""
        mem = c.members if members is None else members
        prob = c.participation[np.searchsorted(c.members, mem)]
        part = self.rng.random(len(mem)) < prob
        tt = np.broadcast_to(np.asarray(t, dtype=np.int64), mem.shape)
        alive = (self.w.created[mem] <= tt) & (tt < self.w.suspended[mem])
        out: np.ndarray = mem[part & alive]
        return out

    def _alive(self, who: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keep only the (account, time) pairs where the account exists and is not suspended."""
        ok = (self.w.created[who] <= times) & (times < self.w.suspended[who])
        return who[ok], times[ok]

    def _texts(self, c: Campaign, n: int, lo: int = 4, hi: int = 9) -> list[str]:
        words: list[str] = c.info.setdefault("words", campaign_words(self.rng))
        out = []
        for base in self.text.sentences(n, 2, 5):
            k = int(self.rng.integers(lo - 2, hi - 2))
            out.append(base + " " + " ".join(self.rng.choice(words, size=max(k, 1))))
        return out

    def _app_relay(self, c: Campaign, episodes: int) -> None:
        rng, w = self.rng, self.w
        word = VOCAB[int(rng.integers(2000, 3000))].capitalize()
        c.app = w.add_app(f"{word} Relay", f"https://{word.lower()}.example/relay")
        c.hub = int(c.members[0])
        c.info["relay_delay_s"] = [self.p.relay_delay, self.p.relay_delay + self.p.relay_spread]
        w.followers[c.hub] *= 20
        others = c.members[1:]
        for _ in range(episodes):
            t0 = self.when()
            who = self._takes_part(c, t0 + int(self.p.relay_delay * SEC), others)
            delays = self.p.relay_delay + rng.uniform(0, self.p.relay_spread, size=len(who))
            times = t0 + (delays * SEC).astype(np.int64)
            who, times = self._alive(who, times)
            text = self._texts(c, 1, 8, 14)[0]

            def make(new: NewPost, t0: int = t0, who: np.ndarray = who, times: np.ndarray = times,
                     text: str = text, c: Campaign = c) -> list[Post]:
                hub = new(t0, c.hub, KIND_POST, c.app, text=text)
                return [hub] + [new(int(t), int(a), KIND_REPOST, c.app, parent=hub)
                                for a, t in zip(who, times, strict=True)]

            self.add(t0, len(who) + 1, make)
            c.posts += len(who) + 1

    def _hashtag_storm(self, c: Campaign, episodes: int) -> None:
        rng = self.rng
        tag = VOCAB[int(rng.integers(2000, 3000))].capitalize() + VOCAB[
            int(rng.integers(2000, 3000))].capitalize()
        c.hashtags = [tag]
        n_days = int(min(max(2, episodes), max(1, int(self.p.days))))
        per = max(1, round(episodes / n_days))
        day0 = self.t0 // DAY
        days = np.sort(rng.choice(int(self.p.days), size=n_days, replace=False))
        hours = []
        for d in days.tolist():
            t0 = (day0 + d) * DAY + self.p.storm_hour * HOUR
            if t0 >= self.t1:
                continue
            who = np.repeat(self._takes_part(c, t0), per)
            times = t0 + (rng.uniform(0, 12 * 60, size=len(who)) * SEC).astype(np.int64)
            who, times = self._alive(who, times)
            texts = self._texts(c, len(who))
            hours.append(_hour_iso(t0))

            def make(new: NewPost, who: np.ndarray = who, times: np.ndarray = times,
                     texts: list[str] = texts, tag: str = tag) -> list[Post]:
                return [new(int(t), int(a), KIND_POST, int(self.w.app[a]), text=x, tags=[tag])
                        for a, t, x in zip(who, times, texts, strict=True)]

            self.add(t0, len(who), make)
            c.posts += len(who)
        self.plan.storms.append({"hashtag": tag.lower(), "hours": hours, "campaign": c.name})

    def _hijack(self, c: Campaign, episodes: int) -> None:
        rng = self.rng
        dom = f"{VOCAB[int(rng.integers(2000, 3000))]}-{VOCAB[int(rng.integers(2000, 3000))]}.example"
        c.domain = dom
        n_windows = max(1, min(episodes, 4))
        per = max(1, round(episodes / n_windows))
        for _ in range(n_windows):
            ts, te, tag = self.trend(rng.uniform(6, 12))
            c.hashtags.append(tag)
            who = np.repeat(self._takes_part(c, ts), per)
            times = ts + rng.integers(0, te - ts, size=len(who))
            who, times = self._alive(who, times)
            texts = self._texts(c, len(who))
            with_url = rng.random(len(who)) < 0.5
            hours = sorted({_hour_iso(int(x)) for x in times.tolist()})
            self.plan.hijacks.append({"hashtag": tag.lower(), "hours": hours,
                                      "campaign": c.name})

            def make(new: NewPost, who: np.ndarray = who, times: np.ndarray = times,
                     texts: list[str] = texts, tag: str = tag, with_url: np.ndarray = with_url
                     ) -> list[Post]:
                return [new(int(t), int(a), KIND_POST, int(self.w.app[a]), text=x, tags=[tag],
                            urls=[f"https://{dom}/{x.split()[-1]}"] if u else [])
                        for a, t, x, u in zip(who, times, texts, with_url, strict=True)]

            self.add(ts, len(who), make)
            c.posts += len(who)

    def _repost_ring(self, c: Campaign, episodes: int, hub_pick: bool = True) -> None:
        rng = self.rng
        for _ in range(episodes):
            t0 = self.when()
            alive = self._takes_part(c, t0, c.members)  # who could post the seed
            if len(alive) == 0:
                continue
            seed_acct = int(rng.choice(alive))
            who = self._takes_part(c, t0)
            who = who[who != seed_acct]
            times = t0 + ((3 + rng.exponential(90, size=len(who))) * SEC).astype(np.int64)
            who, times = self._alive(who, times)
            text = self._texts(c, 1, 6, 12)[0]

            def make(new: NewPost, t0: int = t0, s: int = seed_acct, who: np.ndarray = who,
                     times: np.ndarray = times, text: str = text) -> list[Post]:
                seed = new(t0, s, KIND_POST, int(self.w.app[s]), text=text)
                return [seed] + [new(int(t), int(a), KIND_REPOST, int(self.w.app[a]),
                                     parent=seed) for a, t in zip(who, times, strict=True)]

            self.add(t0, len(who) + 1, make)
            c.posts += len(who) + 1

    def _link_network(self, c: Campaign, episodes: int) -> None:
        rng = self.rng
        dom = f"{VOCAB[int(rng.integers(2000, 3000))]}{VOCAB[int(rng.integers(2000, 3000))]}.example"
        c.domain = dom
        sources = ["tw", "twitter", "social", "share", "feed"]
        for e in range(episodes):
            t0 = self.when()
            who = self._takes_part(c, t0)
            times = t0 + (rng.exponential(20 * 60, size=len(who)) * SEC).astype(np.int64)
            who, times = self._alive(who, times)
            path = f"https://{dom}/articles/{e}/{VOCAB[int(rng.integers(2000, 3000))]}"
            urls = []
            for _ in range(len(who)):
                q = (f"?utm_source={sources[int(rng.integers(0, 5))]}&utm_medium=social"
                     f"&utm_campaign={VOCAB[int(rng.integers(0, 3000))]}{int(rng.integers(100))}")
                if rng.random() < 0.3:
                    q += f"&fbclid=IwAR{rng.bytes(8).hex()}"
                urls.append(path + q)
            texts = self._texts(c, len(who))

            def make(new: NewPost, who: np.ndarray = who, times: np.ndarray = times,
                     texts: list[str] = texts, urls: list[str] = urls) -> list[Post]:
                return [new(int(t), int(a), KIND_POST, int(self.w.app[a]), text=x, urls=[u])
                        for a, t, x, u in zip(who, times, texts, urls, strict=True)]

            self.add(t0, len(who), make)
            c.posts += len(who)

    def _template_text(self, c: Campaign, episodes: int) -> None:
        rng = self.rng
        for _ in range(episodes):
            t0 = self.when()
            who = self._takes_part(c, t0)
            times = t0 + (rng.exponential(15 * 60, size=len(who)) * SEC).astype(np.int64)
            who, times = self._alive(who, times)
            template = self._texts(c, 1, 12, 18)[0].split()
            texts = [self._edit(template) for _ in range(len(who))]

            def make(new: NewPost, who: np.ndarray = who, times: np.ndarray = times,
                     texts: list[str] = texts) -> list[Post]:
                return [new(int(t), int(a), KIND_POST, int(self.w.app[a]), text=x)
                        for a, t, x in zip(who, times, texts, strict=True)]

            self.add(t0, len(who), make)
            c.posts += len(who)

    def _edit(self, words: list[str]) -> str:
        """A near-duplicate: one or two small edits (drop, swap, insert, change case)."""
        w = list(words)
        rng = self.rng
        for _ in range(int(rng.integers(1, 3))):
            op = int(rng.integers(0, 4))
            i = int(rng.integers(0, len(w)))
            if op == 0 and len(w) > 4:
                del w[i]
            elif op == 1 and i + 1 < len(w):
                w[i], w[i + 1] = w[i + 1], w[i]
            elif op == 2:
                w.insert(i, self.text.words[int(self.text.pick(1)[0])])
            else:
                w[i] = w[i].upper() if rng.random() < 0.5 else w[i].capitalize()
        return " ".join(w)

    def _image_repost(self, c: Campaign, episodes: int) -> None:
        rng = self.rng
        for _ in range(episodes):
            t0 = self.when()
            who = self._takes_part(c, t0)
            times = t0 + (rng.exponential(30 * 60, size=len(who)) * SEC).astype(np.int64)
            who, times = self._alive(who, times)
            image = np.frombuffer(rng.bytes(32), dtype=np.uint8).copy()
            hashes = []
            for _ in range(len(who)):
                h = image.copy()
                bits = rng.integers(0, 256, size=int(rng.integers(0, 7)))
                for b in bits.tolist():
                    h[b // 8] ^= np.uint8(1 << (b % 8))
                hashes.append(h.tobytes().hex())
            texts = self._texts(c, len(who), 3, 6)
            picture = image.tobytes().hex()
            c.info.setdefault("images", []).append(picture)

            def make(new: NewPost, who: np.ndarray = who, times: np.ndarray = times,
                     texts: list[str] = texts, hashes: list[str] = hashes,
                     picture: str = picture) -> list[Post]:
                # every copy is a new upload (its own media id) of the same picture
                return [new(int(t), int(a), KIND_POST, int(self.w.app[a]), text=x,
                            media=[(int(self.rng.integers(1 << 40, 1 << 58)), h, picture)])
                        for a, t, x, h in zip(who, times, texts, hashes, strict=True)]

            self.add(t0, len(who), make)
            c.posts += len(who)

    def _reincarnation(self, c: Campaign, episodes: int) -> None:
        rng, w = self.rng, self.w
        old = c.members[1:][c.participation[1:] > 0.5]
        n_re = max(2, len(c.members) // 4)
        old = rng.choice(old, size=min(n_re, len(old)), replace=False)
        span = self.t1 - self.t0
        susp = self.t0 + (rng.uniform(0.2, 0.7, size=len(old)) * span).astype(np.int64)
        born = susp + (rng.uniform(10 * 60, 6 * 3600, size=len(old)) * SEC).astype(np.int64)
        new_idx = w.add_accounts(len(old), rng, role=MEMBER, campaign=len(self.plan.campaigns) - 1,
                                 rate=activity_rates(rng, len(old)) * 0.7, created=born)
        for j, (o, n) in enumerate(zip(old.tolist(), new_idx.tolist(), strict=True)):
            w.suspended[o] = int(susp[j])
            w.set_handle(n, w.lookalike(o, int(rng.integers(0, 3))))
            w.names[n] = w.names[o]
            w.avatar[n] = w.avatar[o]
            w.tz[n] = w.tz[o]
            w.app[n] = w.app[o]
            self.plan.reincarnations.append((o, n))
        c.members = np.concatenate([c.members, new_idx])
        c.participation = np.concatenate([c.participation, np.full(len(new_idx), 0.9)])
        # promotion: the old network mentions the new handle soon after its creation
        for n, b in zip(new_idx.tolist(), born.tolist(), strict=True):
            t0 = b + int(rng.uniform(5 * 60, 3 * 3600) * SEC)
            who = self._takes_part(c, t0)
            who = who[(who != n) & (rng.random(len(who)) < 0.5)]
            times = t0 + (rng.exponential(20 * 60, size=len(who)) * SEC).astype(np.int64)
            who, times = self._alive(who, times)
            texts = self._texts(c, len(who), 3, 6)

            def make(new: NewPost, who: np.ndarray = who, times: np.ndarray = times,
                     texts: list[str] = texts, n: int = n) -> list[Post]:
                return [new(int(t), int(a), KIND_POST, int(self.w.app[a]), text=x,
                            mentions=[n]) for a, t, x in zip(who, times, texts, strict=True)]

            self.add(t0, len(who), make)
            c.posts += len(who)
        self._repost_ring(c, episodes)
        # unrelated organic accounts created soon after some suspensions (hard negatives)
        for s in susp.tolist():
            if rng.random() < 0.7:
                born_o = s + int(rng.uniform(0, 3 * 3600) * SEC)
                a = w.add_accounts(1, rng, role=ORGANIC, campaign=-1,
                                   created=np.array([born_o]))
                self.plan.hard["created_after_suspension"].add(int(a[0]))


def make_plan(world: World, rng: np.random.Generator, text: TextMaker) -> Plan:
    pl = Planner(world, rng, text)
    pl.hard_negatives()
    pl.campaigns()
    pl.plan.episodes.sort(key=lambda e: e.start)
    return pl.plan
