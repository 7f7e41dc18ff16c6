"""Parameters of the behavioural signals, with their limits declared as data."""

from __future__ import annotations

from dataclasses import dataclass, field

from echoscope.params import Params, limit

__all__ = ["AutomationParams", "HashtagParams", "ReincarnationParams", "SignalParams"]


@dataclass(frozen=True)
class AutomationParams(Params):
    """Thresholds of the per-account automation and profile signals.

    A flag only says that one measured value passed one threshold; every flag carries its
    reason. None of them alone says an account is coordinated (a weather bot is regular,
    but it is not a campaign).
    """

    min_posts: int = field(default=10, metadata=limit(2, 10**6, "posts",
                           "timing signals need at least this many posts"))
    regular_cv: float = field(default=0.25, metadata=limit(0, 5, "",
                              "inter-post gaps with a coefficient of variation below this are regular"))
    periodicity_min: float = field(default=0.6, metadata=limit(0, 1, "",
                                   "autocorrelation peak of hourly counts that counts as periodic"))
    around_clock_entropy: float = field(default=4.3, metadata=limit(0, 4.585, "bits",
                                        "hour-of-day entropy at or above this = active at all hours"))
    around_clock_min_posts: int = field(default=48, metadata=limit(2, 10**6, "posts"))
    fast_reaction: float = field(default=10.0, metadata=limit(0, 86400, "seconds",
                                 "median repost delay at or below this is flagged"))
    fast_reaction_min: int = field(default=5, metadata=limit(1, 10**6, "reposts"))
    repost_share: float = field(default=0.95, metadata=limit(0, 1, "",
                                "share of reposts at or above this is flagged"))
    burst_per_minute: int = field(default=10, metadata=limit(2, 10**6, "posts",
                                  "posts within any 60 s at or above this is flagged"))
    new_account_days: float = field(default=7.0, metadata=limit(0, 3650, "days",
                                    "account created less than this before its first post"))
    default_handle_digits: int = field(default=5, metadata=limit(1, 20, "digits",
                                       "trailing digits that make a handle look default"))
    low_follower_ratio: float = field(default=0.05, metadata=limit(0, 1000, "",
                                      "followers/following below this is flagged"))
    low_follower_min_following: int = field(default=200, metadata=limit(0, 10**9, "accounts"))
    campaign_app_min_members: int = field(default=3, metadata=limit(2, 10**6, "accounts",
                                          "members of one campaign sharing a main app"))
    campaign_app_exclusivity: float = field(default=0.6, metadata=limit(0, 1, "",
                                            "share of the app's users inside the campaign"))


@dataclass(frozen=True)
class HashtagParams(Params):
    """Burst detection, storm and hijack thresholds per hashtag."""

    min_posts: int = field(default=10, metadata=limit(1, 10**9, "posts",
                           "hashtags with fewer posts are not analysed"))
    alpha: float = field(default=0.01, metadata=limit(0, 1, "",
                         "family-wise error of the Poisson burst test (Bonferroni over hours)"))
    burst_ratio: float = field(default=5.0, metadata=limit(1, 10**6, "x baseline"))
    min_burst_posts: int = field(default=5, metadata=limit(1, 10**9, "posts per hour"))
    baseline_floor: float = field(default=0.05, metadata=limit(1e-6, 10**6, "posts per hour"))
    top_k: int = field(default=10, metadata=limit(1, 10**6, "accounts"))
    storm_campaign_share: float = field(default=0.5, metadata=limit(0, 1, "",
                                        "share of a burst's posts from one campaign's members"))
    storm_top_share: float = field(default=0.5, metadata=limit(0, 1, "",
                                   "share of a burst's posts from its top-k accounts"))
    storm_min_accounts: int = field(default=3, metadata=limit(1, 10**6, "accounts"))
    recur_min_days: int = field(default=3, metadata=limit(2, 366, "days"))
    organic_min_posts: int = field(default=10, metadata=limit(1, 10**9, "posts",
                                   "posts from outside the burst's group that make a tag organic"))
    organic_min_accounts: int = field(default=5, metadata=limit(1, 10**9, "accounts"))
    hijack_max_similarity: float = field(default=0.5, metadata=limit(0, 1, "",
                                         "relative TF-IDF similarity of burst vs usual content"))


@dataclass(frozen=True)
class ReincarnationParams(Params):
    """Candidate search and scoring of successors of suspended accounts."""

    max_gap_days: float = field(default=30.0, metadata=limit(0, 3650, "days"))
    tolerance_hours: float = field(default=1.0, metadata=limit(0, 720, "hours",
                                   "a successor may appear this long before the suspension time"))
    handle_min: float = field(default=0.75, metadata=limit(0, 1, "",
                              "handle similarity below this adds no identity evidence"))
    display_weight: float = field(default=0.7, metadata=limit(0, 1))
    avatar_weight: float = field(default=0.8, metadata=limit(0, 1))
    content_saturation: float = field(default=0.3, metadata=limit(1e-6, 1, "",
                                      "content overlap that counts as full evidence"))
    neighbour_saturation: float = field(default=0.2, metadata=limit(1e-6, 1))
    promotion_saturation: int = field(default=2, metadata=limit(1, 10**6, "accounts"))
    promotion_hours: float = field(default=72.0, metadata=limit(0, 8760, "hours"))
    time_scale_days: float = field(default=7.0, metadata=limit(1e-3, 3650, "days"))
    min_score: float = field(default=0.5, metadata=limit(0, 1, "",
                             "candidates scoring below this are not reported"))
    max_candidates: int = field(default=3, metadata=limit(1, 1000, "per suspended account"))
    infer: bool = field(default=True, metadata={"help": "infer suspensions without a list"})
    infer_min_posts: int = field(default=3, metadata=limit(2, 10**6, "posts"))
    infer_min_silence_hours: float = field(default=24.0, metadata=limit(0, 10**6, "hours"))
    infer_alpha: float = field(default=0.05, metadata=limit(1e-12, 1, "",
                               "a silence less likely than this at the account's rate"))
    infer_min_active_neighbours: int = field(default=2, metadata=limit(1, 10**6, "accounts"))


@dataclass(frozen=True)
class SignalParams(Params):
    """All behavioural-signal parameters (one object for ``run_signals``)."""

    automation: AutomationParams = field(default_factory=AutomationParams)
    hashtags: HashtagParams = field(default_factory=HashtagParams)
    reincarnation: ReincarnationParams = field(default_factory=ReincarnationParams)
