"""Automation and profile signals per account, and their summary per campaign.

Each account gets one row per measurable signal in ``account_signals``: the value, whether
it passes the signal's documented threshold (:class:`AutomationParams`) and, when it does,
a sentence saying why. Signals:

``interpost_cv``
    Coefficient of variation (sd / mean) of the gaps between consecutive posts. Humans
    post in irregular bursts (CV around 1 or more); schedulers post at fixed intervals
    (CV near 0). Flagged below ``regular_cv``.
``periodicity``
    Highest autocorrelation of the account's hourly post counts at lags of 6 hours to a
    third of its active span (at most the last 90 days). A post at 20:00 every day gives
    a peak near 1 at lag 24. Flagged at or above ``periodicity_min``; the period is in the
    reason.
``hour_entropy``
    Shannon entropy (bits, at most log2 24 = 4.585) of the hour of day of the posts.
    People sleep; an account posting evenly round the clock has entropy near the maximum.
    Flagged at or above ``around_clock_entropy`` with ``around_clock_min_posts`` posts over
    at least two days.
``reaction_delay``
    Median seconds between a repost and the post it reposts (when the data has the
    parent's time). Flagged at or below ``fast_reaction`` with ``fast_reaction_min``
    reposts.
``repost_share``
    Share of the account's posts that are reposts. Flagged at or above ``repost_share``.
``burst_per_minute``
    Most posts within any sliding 60 seconds. Flagged at or above ``burst_per_minute``.
``account_age_days``
    Days from account creation to its first post in the data. Flagged below
    ``new_account_days``.
``default_handle``
    Trailing digits of a handle made of a name plus digits (``name12345678`` is what
    platforms suggest). Flagged at ``default_handle_digits`` digits or more.
``follower_ratio``
    Followers / following. Flagged below ``low_follower_ratio`` when following at least
    ``low_follower_min_following``.
``main_app_share``
    Share of posts sent with the account's main posting app (named in the reason). Never
    flagged on its own.
``shared_rare_app``
    Only for campaign members: share of all accounts using the member's main posting app
    that belong to the same campaign. Flagged when at least ``campaign_app_min_members``
    members share the app and at least ``campaign_app_exclusivity`` of its users are in the
    campaign (a custom posting app nobody else uses). Common apps (the web client, the
    official phone apps) are used by everyone and are never flagged.

A flag is a measured fact, not a verdict: a weather bot is regular and periodic but not
coordinated. Coordination comes from co-action; these signals explain how a campaign
operates (:func:`campaign_automation`) and feed its score.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from echoscope import schema
from echoscope.signals._params import AutomationParams
from echoscope.signals._util import has_rows, registered, sql_float
from echoscope.workspace import Workspace

__all__ = ["TIMING_SIGNALS", "account_automation", "campaign_automation", "periodicity"]

#: Signals that indicate scheduled or scripted posting (used in the campaign summary).
TIMING_SIGNALS = ("interpost_cv", "periodicity", "hour_entropy", "reaction_delay",
                  "burst_per_minute")

_MAX_HOURS = 90 * 24
_MIN_LAG = 6


def periodicity(hours: np.ndarray) -> tuple[float, int]:
    """Autocorrelation peak and its lag (hours) of the hourly counts of post times.

    ``hours`` are integer hour indexes (epoch hours) of an account's posts. Returns
    ``(nan, 0)`` when the span is shorter than three times the smallest lag or the counts
    do not vary.
    """
    if hours.size < 2:
        return float("nan"), 0
    h = hours.astype(np.int64)
    h = h[h > h.max() - _MAX_HOURS]
    x = np.bincount(h - h.min()).astype(np.float64)
    n = x.size
    if n < 3 * _MIN_LAG:
        return float("nan"), 0
    x -= x.mean()
    var = float(x @ x)
    if var <= 0:
        return float("nan"), 0
    f = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(f * np.conj(f), 2 * n)[:n] / var
    hi = n // 3
    if hi <= _MIN_LAG:
        return float("nan"), 0
    seg = acf[_MIN_LAG:hi + 1]
    i = int(np.argmax(seg))
    return float(seg[i]), _MIN_LAG + i


def _periodicity_table(ws: Workspace, min_posts: int) -> pa.Table:
    data = ws.sql(
        """
        WITH c AS (SELECT account_id FROM posts WHERE created_at IS NOT NULL
                   GROUP BY account_id HAVING count(*) >= ?)
        SELECT p.account_id, (epoch_us(p.created_at) // 3600000000)::BIGINT AS h
        FROM posts p JOIN c USING (account_id)
        WHERE p.created_at IS NOT NULL
        ORDER BY p.account_id, h
        """,
        [min_posts],
    )
    ids: list[str] = []
    vals: list[float] = []
    lags: list[int] = []
    if data.num_rows:
        acc = data.column("account_id").to_numpy(zero_copy_only=False)
        hrs = data.column("h").to_numpy()
        starts = np.flatnonzero(np.r_[True, acc[1:] != acc[:-1]])
        ends = np.r_[starts[1:], acc.size]
        for s, e in zip(starts, ends, strict=True):
            v, lag = periodicity(hrs[s:e])
            if v == v:  # not NaN
                ids.append(str(acc[s]))
                vals.append(v)
                lags.append(lag)
    return pa.table({"account_id": pa.array(ids, pa.string()),
                     "acf": pa.array(vals, pa.float64()),
                     "period_h": pa.array(lags, pa.int64())})


_STATS = """
CREATE OR REPLACE TEMP TABLE _sig_acct AS
WITH p AS (
  SELECT account_id, created_at, kind, source_app, parent_created_at
  FROM posts WHERE account_id IS NOT NULL AND created_at IS NOT NULL
),
g AS (
  SELECT account_id, created_at,
    (epoch_us(created_at) - epoch_us(lag(created_at) OVER w)) / 1e6 AS gap,
    count(*) OVER (PARTITION BY account_id ORDER BY created_at
                   RANGE BETWEEN INTERVAL 60 SECONDS PRECEDING AND CURRENT ROW) AS in_min
  FROM p WINDOW w AS (PARTITION BY account_id ORDER BY created_at)
),
base AS (
  SELECT account_id, count(*) AS n_posts, min(created_at) AS first_post,
    max(created_at) AS last_post, avg(gap) AS gap_mean, stddev_pop(gap) AS gap_sd,
    max(in_min) AS max_per_min
  FROM g GROUP BY account_id
),
hc AS (
  SELECT account_id, hour(created_at) AS hr, count(*)::DOUBLE AS c FROM p GROUP BY ALL
),
ent AS (
  SELECT account_id, -sum(c / tot * log2(c / tot)) AS hour_entropy
  FROM (SELECT *, sum(c) OVER (PARTITION BY account_id) AS tot FROM hc) GROUP BY account_id
),
rp AS (
  SELECT account_id,
    count(*) FILTER (WHERE kind = 'repost') AS n_reposts,
    count(*) FILTER (WHERE kind = 'repost' AND parent_created_at IS NOT NULL) AS n_timed,
    median((epoch_us(created_at) - epoch_us(parent_created_at)) / 1e6)
      FILTER (WHERE kind = 'repost' AND parent_created_at IS NOT NULL) AS reaction
  FROM p GROUP BY account_id
),
apps AS (
  SELECT account_id, source_app, count(*) AS c FROM p
  WHERE source_app IS NOT NULL AND source_app <> '' GROUP BY ALL
),
main_app AS (
  SELECT account_id, arg_max(source_app, c ORDER BY c DESC, source_app) AS main_app,
    max(c) AS main_app_posts
  FROM apps GROUP BY account_id
),
app_users AS (SELECT source_app, count(*) AS users FROM apps GROUP BY source_app)
SELECT b.*, e.hour_entropy, r.n_reposts, r.n_timed, r.reaction,
  m.main_app, m.main_app_posts, u.users AS app_users,
  a.handle, a.created_at AS account_created, a.followers, a.following
FROM base b
LEFT JOIN ent e USING (account_id)
LEFT JOIN rp r USING (account_id)
LEFT JOIN main_app m USING (account_id)
LEFT JOIN app_users u ON u.source_app = m.main_app
LEFT JOIN (SELECT account_id, any_value(handle) AS handle, min(created_at) AS created_at,
                  max(followers) AS followers, max(following) AS following
           FROM accounts GROUP BY account_id) a USING (account_id)
"""


def _dur(expr: str) -> str:
    """SQL for a human-readable duration of ``expr`` seconds."""
    return (f"CASE WHEN {expr} < 120 THEN printf('%.0f s', {expr}) "
            f"WHEN {expr} < 7200 THEN printf('%.1f min', {expr} / 60) "
            f"WHEN {expr} < 172800 THEN printf('%.1f h', {expr} / 3600) "
            f"ELSE printf('%.1f days', {expr} / 86400) END")


def _signals_sql(p: AutomationParams, per: str, camp: str | None) -> str:
    f = sql_float
    cv = "gap_sd / gap_mean"
    parts = [
        f"""SELECT account_id, 'interpost_cv' AS signal, {cv} AS value,
              {cv} < {f(p.regular_cv)} AS flagged,
              CASE WHEN {cv} < {f(p.regular_cv)} THEN printf(
                'posts every %s on average with a gap coefficient of variation of %.2f '
                '(a regular schedule; threshold {p.regular_cv})', {_dur('gap_mean')}, {cv})
              ELSE '' END AS reason
            FROM _sig_acct WHERE n_posts >= {p.min_posts} AND gap_mean > 0""",
        f"""SELECT account_id, 'periodicity', acf, acf >= {f(p.periodicity_min)},
              CASE WHEN acf >= {f(p.periodicity_min)} THEN printf(
                'hourly activity repeats every %d h (autocorrelation %.2f; threshold '
                '{p.periodicity_min})', period_h, acf) ELSE '' END
            FROM {per}""",
        f"""SELECT account_id, 'hour_entropy', hour_entropy,
              hour_entropy >= {f(p.around_clock_entropy)} AND n_posts >= {p.around_clock_min_posts}
                AND last_post - first_post >= INTERVAL 2 DAY,
              CASE WHEN hour_entropy >= {f(p.around_clock_entropy)}
                AND n_posts >= {p.around_clock_min_posts}
                AND last_post - first_post >= INTERVAL 2 DAY THEN printf(
                'posts evenly at all hours of the day (hour entropy %.2f of 4.58 bits over %d '
                'posts): no sleep pattern', hour_entropy, n_posts) ELSE '' END
            FROM _sig_acct WHERE n_posts >= {p.min_posts}""",
        f"""SELECT account_id, 'reaction_delay', reaction,
              reaction <= {f(p.fast_reaction)} AND n_timed >= {p.fast_reaction_min},
              CASE WHEN reaction <= {f(p.fast_reaction)} AND n_timed >= {p.fast_reaction_min}
                THEN printf('reposts a median %.1f s after the original appears (%d reposts; '
                'threshold {p.fast_reaction} s)', reaction, n_timed) ELSE '' END
            FROM _sig_acct WHERE n_timed >= 1""",
        f"""SELECT account_id, 'repost_share', n_reposts / n_posts,
              n_reposts / n_posts >= {f(p.repost_share)},
              CASE WHEN n_reposts / n_posts >= {f(p.repost_share)} THEN printf(
                '%d of its %d posts are reposts', n_reposts, n_posts) ELSE '' END
            FROM _sig_acct WHERE n_posts >= {p.min_posts}""",
        f"""SELECT account_id, 'burst_per_minute', max_per_min::DOUBLE,
              max_per_min >= {p.burst_per_minute},
              CASE WHEN max_per_min >= {p.burst_per_minute} THEN printf(
                '%d posts within 60 seconds', max_per_min) ELSE '' END
            FROM _sig_acct WHERE n_posts >= 2""",
        f"""SELECT account_id, 'account_age_days', age, age < {f(p.new_account_days)},
              CASE WHEN age < {f(p.new_account_days)} THEN printf(
                'account created %.1f days before its first post in the data', age)
              ELSE '' END
            FROM (SELECT *, greatest(0, (epoch_us(first_post) - epoch_us(account_created))
                    / 86400e6) AS age FROM _sig_acct WHERE account_created IS NOT NULL)""",
        f"""SELECT account_id, 'default_handle', digits::DOUBLE,
              digits >= {p.default_handle_digits},
              CASE WHEN digits >= {p.default_handle_digits} THEN printf(
                'handle is a name followed by %d digits, as platforms suggest by default',
                digits) ELSE '' END
            FROM (SELECT account_id,
                    length(regexp_extract(lower(handle), '^[a-z][a-z_]+?_?([0-9]+)$', 1))
                      AS digits
                  FROM _sig_acct WHERE handle IS NOT NULL)""",
        f"""SELECT account_id, 'follower_ratio', followers / following,
              followers / following < {f(p.low_follower_ratio)}
                AND following >= {p.low_follower_min_following},
              CASE WHEN followers / following < {f(p.low_follower_ratio)}
                AND following >= {p.low_follower_min_following} THEN printf(
                'follows %d accounts but has %d followers', following, followers) ELSE '' END
            FROM _sig_acct WHERE following > 0 AND followers IS NOT NULL""",
        """SELECT account_id, 'main_app_share', main_app_posts / n_posts, false,
              printf('main posting app %s (%d of %d posts; %d accounts use it)',
                     to_json(main_app), main_app_posts, n_posts, app_users)
            FROM _sig_acct WHERE main_app IS NOT NULL""",
    ]
    if camp is not None:
        parts.append(
            f"""SELECT account_id, 'shared_rare_app', excl,
                  shared >= {p.campaign_app_min_members} AND excl >= {f(p.campaign_app_exclusivity)},
                  CASE WHEN shared >= {p.campaign_app_min_members}
                    AND excl >= {f(p.campaign_app_exclusivity)} THEN printf(
                    'main posting app %s is shared by %d members of campaign %s and used by '
                    'only %d accounts in all', to_json(main_app), shared, campaign_id,
                    app_users) ELSE '' END
                FROM (
                  SELECT s.account_id, s.main_app, s.app_users, m.campaign_id,
                    count(*) OVER (PARTITION BY m.campaign_id, s.main_app) AS shared,
                    count(*) OVER (PARTITION BY m.campaign_id, s.main_app) / s.app_users AS excl,
                    row_number() OVER (PARTITION BY s.account_id ORDER BY m.strength DESC NULLS LAST,
                                       m.campaign_id) AS rk
                  FROM _sig_acct s JOIN {camp} m USING (account_id)
                  WHERE s.main_app IS NOT NULL)
                WHERE rk = 1"""
        )
    return "\nUNION ALL\n".join(f"({q})" for q in parts)


def account_automation(ws: Workspace, params: AutomationParams | None = None) -> pa.Table:
    """Compute the per-account signals from ``posts``/``accounts`` (and campaign members).

    Returns an ``account_signals`` table (not yet written to the workspace), one row per
    measurable (account, signal), ordered by account and signal.
    """
    p = params or AutomationParams()
    if not has_rows(ws, "posts"):
        return schema.empty("account_signals")
    ws.con.execute(_STATS)
    try:
        per = _periodicity_table(ws, p.min_posts)
        camp = None
        if has_rows(ws, "campaign_members"):
            camp = "campaign_members"
        with registered(ws, per, "per") as per_name:
            out = ws.sql(
                f"SELECT * FROM ({_signals_sql(p, per_name, camp)}) "
                "WHERE value IS NOT NULL AND NOT isnan(value) ORDER BY account_id, signal"
            )
    finally:
        ws.con.execute("DROP TABLE IF EXISTS _sig_acct")
    out = out.rename_columns(["account_id", "signal", "value", "flagged", "reason"])
    return schema.check("account_signals", out, stage="signals.automation")


_CAMPAIGN_COLUMNS = [
    ("campaign_id", pa.string()),
    ("members", pa.int64()),
    ("shared_app", pa.string()),
    ("shared_app_members", pa.int64()),
    ("shared_app_exclusivity", pa.float64()),
    ("automated_share", pa.float64()),
    ("regular_share", pa.float64()),
    ("periodic_share", pa.float64()),
    ("around_clock_share", pa.float64()),
    ("fast_reaction_share", pa.float64()),
    ("burst_share", pa.float64()),
    ("repost_only_share", pa.float64()),
    ("new_account_share", pa.float64()),
    ("default_handle_share", pa.float64()),
    ("low_follower_share", pa.float64()),
    ("median_interpost_cv", pa.float64()),
    ("median_reaction_delay", pa.float64()),
    ("summary", pa.string()),
]

_SHARE_LABELS = [
    ("regular_share", "interpost_cv", "post on a regular schedule"),
    ("periodic_share", "periodicity", "repeat their activity periodically"),
    ("around_clock_share", "hour_entropy", "post at all hours"),
    ("fast_reaction_share", "reaction_delay", "repost within seconds"),
    ("burst_share", "burst_per_minute", "post in bursts within a minute"),
    ("repost_only_share", "repost_share", "almost only repost"),
    ("new_account_share", "account_age_days", "are new accounts"),
    ("default_handle_share", "default_handle", "have default-looking handles"),
    ("low_follower_share", "follower_ratio", "have few followers for whom they follow"),
]


def campaign_automation(ws: Workspace) -> pa.Table:
    """Summarise ``account_signals`` per campaign (for the report and the campaign score).

    One row per campaign: members, the shared posting app if one is flagged, the share of
    members flagged for each signal, ``automated_share`` (members with at least one timing
    flag, :data:`TIMING_SIGNALS`) and a one-sentence summary. Empty when there are no
    campaigns or no signals.
    """
    schema_ = pa.schema(_CAMPAIGN_COLUMNS)
    if not (has_rows(ws, "campaign_members") and has_rows(ws, "account_signals")):
        return schema_.empty_table()
    shares = ",\n".join(
        f"avg(coalesce(f.\"{sig}\", false)::INT)::DOUBLE AS {col}" for col, sig, _ in _SHARE_LABELS
    )
    pivots = ",\n".join(
        f"bool_or(flagged) FILTER (WHERE signal = '{sig}') AS \"{sig}\""
        for _, sig, _ in _SHARE_LABELS
    )
    timing = ", ".join(f"'{s}'" for s in TIMING_SIGNALS)
    data = ws.sql(
        f"""
        WITH f AS (
          SELECT account_id, {pivots},
            bool_or(flagged) FILTER (WHERE signal IN ({timing})) AS timing_any,
            any_value(value) FILTER (WHERE signal = 'interpost_cv') AS cv,
            any_value(value) FILTER (WHERE signal = 'reaction_delay') AS delay,
            any_value(reason) FILTER (WHERE signal = 'shared_rare_app' AND flagged) AS app_reason,
            any_value(value) FILTER (WHERE signal = 'shared_rare_app' AND flagged) AS app_excl
          FROM account_signals GROUP BY account_id
        ),
        m AS (SELECT DISTINCT campaign_id, account_id FROM campaign_members),
        apps AS (
          SELECT account_id, arg_max(source_app, c ORDER BY c DESC, source_app) AS app FROM (
            SELECT account_id, source_app, count(*) AS c FROM posts
            WHERE source_app IS NOT NULL AND source_app <> '' GROUP BY ALL)
          GROUP BY account_id
        )
        SELECT m.campaign_id, count(*)::BIGINT AS members,
          mode(a.app) FILTER (WHERE f.app_reason IS NOT NULL) AS shared_app,
          count(*) FILTER (WHERE f.app_reason IS NOT NULL)::BIGINT AS shared_app_members,
          max(f.app_excl) AS shared_app_exclusivity,
          avg(coalesce(f.timing_any, false)::INT)::DOUBLE AS automated_share,
          {shares},
          median(f.cv) AS median_interpost_cv,
          median(f.delay) AS median_reaction_delay
        FROM m LEFT JOIN f USING (account_id) LEFT JOIN apps a USING (account_id)
        GROUP BY m.campaign_id ORDER BY m.campaign_id
        """
    )
    rows = data.to_pylist()
    for r in rows:
        bits = []
        if r["shared_app"] is not None:
            bits.append(f"{r['shared_app_members']} of {r['members']} members post with the "
                        f"rare app {r['shared_app']!r}")
        for col, _, label in _SHARE_LABELS:
            if (r[col] or 0) >= 0.5:
                bits.append(f"{r[col]:.0%} {label}")
        r["summary"] = ("; ".join(bits) + ".") if bits else "no automation signal shared by most members."
    return pa.Table.from_pylist(rows, schema=schema_)
