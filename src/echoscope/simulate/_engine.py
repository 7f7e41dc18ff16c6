"""The simulation loop: plan, then stream hour by hour into a writer."""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from echoscope import progress
from echoscope.errors import InputError, ParameterError
from echoscope.simulate._images import MediaWriter
from echoscope.simulate._organic import OrganicProcess
from echoscope.simulate._params import SimParams
from echoscope.simulate._plan import Plan, make_plan
from echoscope.simulate._post import Post, TextMaker, snowflake
from echoscope.simulate._truth import write_truth
from echoscope.simulate._world import DAY, HOUR, ORGANIC, World, build_world
from echoscope.simulate._writers import WRITERS

__all__ = ["SimResult", "simulate"]


@dataclass(frozen=True)
class SimResult:
    """What :func:`simulate` wrote."""

    out_dir: Path
    files: list[Path]
    truth_path: Path
    suspended_path: Path
    posts: int
    accounts: int
    campaigns: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    media_dir: Path | None = None
    media_files: int = 0

    @property
    def posts_per_second(self) -> float:
        return self.posts / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "files": [str(f) for f in self.files],
                "truth": str(self.truth_path), "suspended": str(self.suspended_path),
                "posts": self.posts, "accounts": self.accounts, "campaigns": self.campaigns,
                "media_dir": str(self.media_dir) if self.media_dir else None,
                "media_files": self.media_files, "seconds": round(self.seconds, 3),
                "posts_per_second": round(self.posts_per_second, 1)}


class _Sim:
    def __init__(self, params: SimParams) -> None:
        self.p = params
        self.rng = np.random.default_rng(params.seed)
        self.text = TextMaker(self.rng)
        self.seq = 0
        n_org = params.accounts or max(200, params.posts // 8)
        self.world: World = build_world(params, self.rng, n_org)
        self.plan: Plan = make_plan(self.world, self.rng, self.text)
        self.organic = OrganicProcess(self.world, self.rng, self.text, self.new)
        self.organic.trending = self.plan.trending
        self.n_organic = params.posts - self.plan.planned_posts
        if self.n_organic < 0.2 * params.posts:
            raise ParameterError(
                f"campaigns, hard negatives and bots need {self.plan.planned_posts:,} of the "
                f"{params.posts:,} posts; raise --posts or lower the shares.")
        w = self.world
        age_days = np.maximum(params.start_us - w.created, DAY) / DAY
        w.posts_of = (w.rate * (age_days + 1) * 2).astype(np.int64) + 1

    def new(self, t: int, acct: int, kind: int, app: int, *, pool: bool = False,
            **kw: Any) -> Post:
        self.seq += 1
        p = Post(snowflake(t, self.seq), t, acct, kind, app, **kw)
        if pool:
            self.organic.pool.add(p, self.organic.popularity(acct))
        return p

    def run(self, out_dir: Path, media: MediaWriter | None = None
            ) -> tuple[list[Path], np.ndarray]:
        p = self.p
        n_hours = int(np.ceil((p.end_us - p.start_us) / HOUR))
        weights = self.organic.hour_weights(n_hours, p.start_us)
        per_hour = self.rng.multinomial(self.n_organic, weights / weights.sum())
        writer = WRITERS[p.format](out_dir, self.world, gzip_out=p.gzip)
        counts = np.zeros(self.world.n, dtype=np.int64)
        pending: list[Post] = []
        episodes = self.plan.episodes
        bots = self.plan.bots
        ei = 0
        with progress.task(f"simulating {p.posts:,} posts", total=n_hours) as bar:
            for h in range(n_hours):
                t0 = p.start_us + h * HOUR
                t1 = t0 + HOUR
                batch: list[Post] = []
                while ei < len(episodes) and episodes[ei].start < t1:
                    for post in episodes[ei].make(self.new):
                        heapq.heappush(pending, post)
                    ei += 1
                for b, app, _, times in bots:
                    lo, hi = np.searchsorted(times, [t0, t1])
                    for t in times[lo:hi].tolist():
                        heapq.heappush(pending, self._bot_post(b, app, t))
                for post in self.organic.hour(t0, int(per_hour[h])):
                    if post.t < t1:
                        batch.append(post)
                    else:
                        heapq.heappush(pending, post)
                while pending and pending[0].t < t1:
                    batch.append(heapq.heappop(pending))
                self._emit(writer, batch, counts, media)
                bar.advance()
        while ei < len(episodes):
            for post in episodes[ei].make(self.new):
                heapq.heappush(pending, post)
            ei += 1
        self._emit(writer, [heapq.heappop(pending) for _ in range(len(pending))], counts,
                   media)
        return writer.close(), counts

    def _bot_post(self, b: int, app: int, t: int) -> Post:
        w = self.world
        hh = (t // HOUR) % 24
        mm = (t // 60_000_000) % 60
        k = self.seq % 97
        text = (f"{w.names[b].split()[0]} station update {hh:02d}:{mm:02d}: level {k}, "
                f"index {(self.seq * 7) % 31}")
        return self.new(t, b, 0, app, text=text)

    @staticmethod
    def _emit(writer: Any, batch: list[Post], counts: np.ndarray,
              media: MediaWriter | None = None) -> None:
        if not batch:
            return
        batch.sort()
        writer.write(batch)
        if media is not None:
            for q in batch:
                if q.media:
                    media.write(q.media, q.acct)
        np.add.at(counts, np.fromiter((q.acct for q in batch), dtype=np.int64,
                                      count=len(batch)), 1)


def simulate(out_dir: str | Path, params: SimParams | None = None, *,
             media_dir: str | Path | None = None) -> SimResult:
    """Write simulated posts with ground truth into ``out_dir``.

    Files: the posts in ``params.format`` (``tweets.jsonl`` for Twitter v1.1/v2,
    ``messages.csv`` for coordination-network-toolkit, ``sim_tweets_csv_unhashed.csv`` and
    ``sim_users_csv_unhashed.csv`` for X information operations), ``truth.json`` and
    ``suspended.csv``. Deterministic per ``params.seed``; every format of one seed holds the
    same posts. Memory stays bounded: posts are generated and written one hour at a time.

    ``media_dir``: also write an image file for every media item (synthetic abstract
    pictures; the copies of an ``image_repost`` campaign are re-encoded variants of one
    picture), named as the media URL's last segment (``B<digits>.jpg``), for
    ``analyze --media-dir``. Only ``twitter-v1`` and ``twitter-v2`` record media. The posts
    written are the same with or without images.
    """
    params = params or SimParams()
    out = Path(out_dir)
    if media_dir is not None and params.format not in ("twitter-v1", "twitter-v2"):
        raise ParameterError(
            f"--media-dir needs --format twitter-v1 or twitter-v2: {params.format} records "
            "no media, so no image could be matched to its post.")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a directory.", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sim = _Sim(params)
    media = MediaWriter(Path(media_dir)) if media_dir is not None else None
    files, counts = sim.run(out, media)
    if media is not None:
        # organic accounts that uploaded a viral picture: a hard negative of image keys
        sim.plan.hard["viral_images"] = {a for a in media.viral_accounts
                                         if sim.world.role[a] == ORGANIC}
    truth_path, susp_path = write_truth(out, sim.world, sim.plan, counts, sim.seq)
    secs = time.perf_counter() - started
    camp = {c.name: len(c.members) for c in sim.plan.campaigns}
    progress.info(f"wrote {int(counts.sum()):,} posts by {int((counts > 0).sum()):,} accounts "
                  f"to {out} in {secs:.1f} s")
    if media is not None:
        progress.info(f"wrote {media.files:,} image files to {media.dir}")
    return SimResult(out, files, truth_path, susp_path, int(counts.sum()),
                     int((counts > 0).sum()), camp, secs,
                     media.dir if media is not None else None,
                     media.files if media is not None else 0)
