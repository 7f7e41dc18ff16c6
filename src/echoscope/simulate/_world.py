"""The simulated population: accounts, their rhythms, apps, handles and lifetimes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from echoscope.errors import ParameterError
from echoscope.simulate._names import HANDLE_CAPACITY, VOCAB, derive_handle, display_name, handle_of
from echoscope.simulate._params import SimParams

__all__ = ["APPS", "BOT", "MEMBER", "NEVER", "ORGANIC", "World", "build_world"]

NEVER = np.iinfo(np.int64).max
ORGANIC, BOT, MEMBER = 0, 1, 2
HOUR = 3_600_000_000
DAY = 24 * HOUR

# (name, href). The first five are the common clients; bots and campaigns get their own.
APPS: list[tuple[str, str]] = [
    ("Twitter for Android", "http://twitter.com/download/android"),
    ("Twitter for iPhone", "http://twitter.com/download/iphone"),
    ("Twitter Web Client", "http://twitter.com"),
    ("TweetDeck", "https://about.twitter.com/products/tweetdeck"),
    ("Twitter for iPad", "http://twitter.com/#!/download/ipad"),
    ("Hootsuite", "https://hootsuite.com"),
]
COMMON_APP_WEIGHTS = np.array([0.42, 0.28, 0.17, 0.06, 0.04, 0.03])
BOT_APPS = ["Weather Station Scheduler", "Feed Poster Pro", "Hourly Notice Bot"]
# time-zone offsets (hours) of the population and their weights
TZ_OFFSETS = np.array([-8, -6, -5, -3, 0, 1, 2, 3, 4, 5, 7, 8, 9])
TZ_WEIGHTS = np.array([0.07, 0.05, 0.12, 0.06, 0.12, 0.14, 0.06, 0.14, 0.04, 0.06, 0.04,
                       0.06, 0.04])


def diurnal(local_hour: np.ndarray) -> np.ndarray:
    """Relative activity by local hour: trough around 04:00, peak around 16:00-21:00."""
    h = np.asarray(local_hour, dtype=np.float64)
    return 1.0 + 0.85 * np.cos(2 * np.pi * (h - 17.0) / 24.0) + 0.1 * np.cos(
        4 * np.pi * (h - 12.0) / 24.0)


@dataclass
class World:
    """All accounts of one simulation, as parallel arrays indexed by account index."""

    params: SimParams
    role: np.ndarray            # ORGANIC / BOT / MEMBER
    campaign: np.ndarray        # campaign index or -1
    rate: np.ndarray            # relative organic activity (0 = none)
    tz: np.ndarray              # UTC offset, hours
    followers: np.ndarray
    friends: np.ndarray
    created: np.ndarray         # µs
    suspended: np.ndarray       # µs, NEVER if not suspended
    app: np.ndarray             # usual posting app index into apps
    repost_p: np.ndarray
    avatar: np.ndarray          # avatar index (re-created accounts reuse the old one)
    handles: list[str]
    names: list[str]
    account_ids: np.ndarray     # int64 platform ids
    apps: list[tuple[str, str]] = field(default_factory=lambda: list(APPS))
    posts_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n(self) -> int:
        return int(self.role.shape[0])

    def add_app(self, name: str, href: str) -> int:
        self.apps.append((name, href))
        return len(self.apps) - 1

    def add_accounts(self, k: int, rng: np.random.Generator, *, role: int, campaign: int,
                     rate: np.ndarray | None = None, created: np.ndarray | None = None
                     ) -> np.ndarray:
        """Append ``k`` accounts; returns their indices."""
        start = self.n
        idx = np.arange(start, start + k, dtype=np.int64)
        if start + k > HANDLE_CAPACITY:
            raise ParameterError("too many accounts for the handle generator (max 9M).")
        tz = TZ_OFFSETS[rng.choice(len(TZ_OFFSETS), size=k, p=TZ_WEIGHTS / TZ_WEIGHTS.sum())]
        fol = np.round(np.exp(rng.normal(4.6, 1.6, size=k))).astype(np.int64)
        fri = np.round(np.exp(rng.normal(5.2, 1.0, size=k))).astype(np.int64)
        if rate is None:
            rate = activity_rates(rng, k)
        if created is None:
            years = rng.uniform(0.05, 6.0, size=k)
            created = self.params.start_us - (years * 365.25 * DAY).astype(np.int64)
        app = rng.choice(len(COMMON_APP_WEIGHTS), size=k, p=COMMON_APP_WEIGHTS)
        rp = rng.beta(2.0, 3.0, size=k)
        self.role = np.concatenate([self.role, np.full(k, role, dtype=np.int8)])
        self.campaign = np.concatenate([self.campaign, np.full(k, campaign, dtype=np.int32)])
        self.rate = np.concatenate([self.rate, rate.astype(np.float64)])
        self.tz = np.concatenate([self.tz, tz.astype(np.int64)])
        self.followers = np.concatenate([self.followers, fol])
        self.friends = np.concatenate([self.friends, fri])
        self.created = np.concatenate([self.created, created.astype(np.int64)])
        self.suspended = np.concatenate([self.suspended, np.full(k, NEVER, dtype=np.int64)])
        self.app = np.concatenate([self.app, app.astype(np.int64)])
        self.repost_p = np.concatenate([self.repost_p, rp])
        self.avatar = np.concatenate([self.avatar, idx])
        # platform ids: increasing with index, unique, 9-10 digits, not consecutive
        gaps = rng.integers(1, 5000, size=k)
        base = int(self.account_ids[-1]) if self.account_ids.size else 100_000_000
        self.account_ids = np.concatenate([self.account_ids, base + np.cumsum(gaps)])
        seen = set(self._handle_set)
        for i in idx.tolist():
            h = handle_of(i)
            j = 2
            while h.lower() in seen:
                h = f"{handle_of(i)[:12]}{j}"
                j += 1
            seen.add(h.lower())
            self.handles.append(h)
            self.names.append(display_name(i))
        self._handle_set = seen
        return idx

    _handle_set: set[str] = field(default_factory=set)

    def set_handle(self, i: int, handle: str) -> str:
        """Give account ``i`` a specific handle (made unique if it is taken)."""
        h = handle
        j = 3
        while h.lower() in self._handle_set:
            h = f"{handle[:13]}{j}"
            j += 1
        self._handle_set.discard(self.handles[i].lower())
        self._handle_set.add(h.lower())
        self.handles[i] = h
        return h

    def lookalike(self, i: int, variant: int) -> str:
        return derive_handle(self.handles[i], variant)

    def active(self, acct: np.ndarray, t: np.ndarray) -> np.ndarray:
        ok: np.ndarray = (self.created[acct] <= t) & (t < self.suspended[acct])
        return ok


def activity_rates(rng: np.random.Generator, k: int) -> np.ndarray:
    """Heavy-tailed relative activity: lognormal body with a Pareto tail of hyperactives."""
    r = np.exp(rng.normal(0.0, 1.7, size=k))
    hyper = rng.random(k) < 0.01
    r[hyper] *= 5.0 + rng.pareto(1.5, size=int(hyper.sum())) * 5.0
    return r


def build_world(params: SimParams, rng: np.random.Generator, n_organic: int) -> World:
    empty_i = np.zeros(0, dtype=np.int64)
    w = World(
        params=params, role=np.zeros(0, dtype=np.int8), campaign=np.zeros(0, dtype=np.int32),
        rate=np.zeros(0), tz=empty_i, followers=empty_i, friends=empty_i, created=empty_i,
        suspended=empty_i, app=empty_i, repost_p=np.zeros(0), avatar=empty_i, handles=[],
        names=[], account_ids=empty_i,
    )
    w.add_accounts(n_organic, rng, role=ORGANIC, campaign=-1)
    return w


def campaign_words(rng: np.random.Generator, k: int = 14) -> list[str]:
    """A campaign's theme vocabulary (invented words, rarer than everyday words)."""
    idx = rng.choice(np.arange(1500, len(VOCAB)), size=k, replace=False)
    return [VOCAB[int(i)] for i in idx]


def poisson_int(rng: np.random.Generator, lam: float) -> int:
    return int(rng.poisson(lam)) if lam > 0 and math.isfinite(lam) else 0
