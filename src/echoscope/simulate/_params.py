"""Parameters of the simulator (a frozen Params dataclass, limits declared as data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from echoscope.errors import ParameterError
from echoscope.params import Params, choice, limit

__all__ = ["FORMATS", "HARD_NEGATIVES", "STYLES", "SimParams"]

STYLES: tuple[str, ...] = (
    "app_relay", "hashtag_storm", "hijack", "repost_ring", "link_network", "template_text",
    "image_repost", "reincarnation",
)
FORMATS: tuple[str, ...] = ("twitter-v1", "twitter-v2", "x-io", "cnt-csv")
HARD_NEGATIVES: tuple[str, ...] = (
    "breaking_news", "copypasta", "share_button", "benign_bots", "lookalike_handles",
    "created_after_suspension",
)


@dataclass(frozen=True)
class SimParams(Params):
    """What to simulate. Sizes left at 0 are derived from ``posts``.

    The number of posts written is exactly ``posts``: organic traffic fills what campaigns,
    hard negatives and bots leave.
    """

    posts: int = field(default=10_000, metadata=limit(200, 1_000_000_000, "posts"))
    seed: int = field(default=0, metadata=limit(0, 2**63 - 1))
    format: str = field(default="twitter-v1", metadata=choice(*FORMATS))
    days: float = field(default=14.0, metadata=limit(1, 365, "days"))
    start: str = field(default="2014-06-01", metadata={"help": "first day (UTC), YYYY-MM-DD"})
    accounts: int = field(default=0, metadata=limit(0, 50_000_000, "accounts",
                                                    help="organic accounts; 0 = posts/8"))
    styles: tuple[str, ...] = field(default=STYLES, metadata=choice(*STYLES))
    campaigns_per_style: int = field(default=1, metadata=limit(0, 50))
    members: int = field(default=0, metadata=limit(0, 100_000, "accounts",
                                                   help="members per campaign; 0 = auto"))
    campaign_share: float = field(default=0.08, metadata=limit(0, 0.5, "fraction of posts"))
    hard_negative_share: float = field(default=0.08, metadata=limit(0, 0.5,
                                                                    "fraction of posts"))
    bot_share: float = field(default=0.02, metadata=limit(0, 0.3, "fraction of posts"))
    low_participation: float = field(default=0.25, metadata=limit(0, 1, "fraction of members",
                                     help="members who take part only a little"))
    relay_delay: float = field(default=60.0, metadata=limit(0, 86_400, "seconds",
                               help="app_relay: smallest delay of a copy"))
    relay_spread: float = field(default=600.0, metadata=limit(1, 86_400, "seconds",
                                help="app_relay: copies are staggered over this span"))
    storm_hour: int = field(default=18, metadata=limit(0, 23, "hour UTC"))
    gzip: bool = False

    def validate(self) -> None:
        try:
            dt.date.fromisoformat(self.start)
        except ValueError:
            raise ParameterError(
                f"start = {self.start!r} is not a date like 2014-06-01.") from None
        if len(set(self.styles)) != len(self.styles):
            raise ParameterError("styles lists a campaign style twice.")

    @property
    def start_us(self) -> int:
        d = dt.date.fromisoformat(self.start)
        return (d - dt.date(1970, 1, 1)).days * 86_400_000_000

    @property
    def end_us(self) -> int:
        return self.start_us + int(self.days * 86_400_000_000)
