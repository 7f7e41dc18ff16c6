"""Co-action networks, default mode: multi-scale windows, rarity weights, a null model, FDR.

Two distinct accounts co-act when they act on the same key (same reposted post, same text,
same URL, ...) within a window ``W`` (``|Δt| <= W``, sliding, never binned). For every
action type and window (a *layer*) the pure core :func:`coaction_edges`:

1. integer-encodes keys and accounts and sorts the actions once by (key, time, account);
2. prunes exactly: drops actions no other account matched within ``W``, then accounts left
   with fewer than ``min_keys`` distinct keys, and repeats until nothing changes (no edge
   can change);
3. counts the candidate action pairs before allocating them; only above ``max_pairs`` it
   excludes the most popular keys (acted on by more than a cap of accounts, the cap chosen
   as high as the budget allows) and reports the cap and the number of keys it touched;
4. sweeps the pairs with the shared kernel and aggregates them per account pair: distinct
   keys co-acted on (``n_keys``), action pairs (``n_pairs``), min/median ``|Δt|``;
5. scores every account pair with at least ``min_keys`` keys against the null model and
   keeps those whose Benjamini-Hochberg q-value is at most ``alpha``.

Null model (``null="configuration"``, the default). Keys are grouped into popularity
strata (``floor(log2(accounts acting on the key))``; optionally a stratum of fewer than
``min_stratum_keys`` keys is merged into the next lower one, so a small campaign's few keys
do not set their own stratum's rate). Under the null, each account spends
its ``n_a(s)`` actions in stratum ``s`` on keys of that stratum independently of everyone
else, and each action's time comes from its key's own time profile (so a breaking-news
repost burst is *expected* to produce co-action). The expected number of co-acting action
pairs of accounts a and b is ``λ_ab = Σ_s n_a(s) n_b(s) C_s`` with
``C_s = P_s / Σ_{a<b} n_a(s) n_b(s)``, ``P_s`` the co-acting action pairs of the stratum —
both sums taken without any pair of *candidate accounts* (accounts in a pair that shares
two or more keys), one-key pairs included, so a campaign that fills a stratum does not
define its own null; a stratum left with little data borrows one pseudo co-acting pair at
the layer's pooled rate (:func:`echoscope.detect.null.robust_rates`). Keys of
``episode_types`` (hashtag) count once per episode (:func:`episode_keys`). The p-value
is the Poisson tail ``P(X >= n_keys | λ_ab)``; counting distinct keys rather than pairs
makes it conservative. Benjamini-Hochberg runs over *every* account pair that could have
co-acted (all pairs of accounts active in each layer, summed over layers), not only the
pairs observed, which is what keeps the false-discovery rate honest.

``null="shift"`` is the classic alternative: every account's timeline is shifted by an
independent random circular offset over the observation span ``T`` (preserving each
account's rhythm and each key's popularity but destroying any shared timing). Its exact
expectation is analytic: ``λ_ab = S_ab · min(1, (2W + 1µs) / T)`` where ``S_ab`` is the
number of action pairs of a and b on shared keys at any time. :func:`shift_null_counts`
runs real shifts to check it. It flags organic bursts (two accounts who both repost the
same two breaking-news posts within a minute are very unlikely under random shifts), so
it is not the default.

Account test. Per account, the tested pairs it is in (partners reaching ``min_keys``
keys, over all layers) against the number the null gives it
(:func:`echoscope.detect.null.chance_partners`), with ``P(Poisson(expected) >= partners)``:
the ``coaction_accounts`` table, used by the campaign stage's member trim.

Weight. ``weight = Σ_k r_k · n_keys / (n_keys + λ_ab)`` over the distinct keys co-acted on,
with rarity ``r_k = 1 / log2(1 + n_accounts(k))`` (a key acted on by 2 accounts gives 0.63,
by 12 accounts 0.27, by 10,000 accounts 0.075): rare shared content counts most, and the
factor ``n_keys / (n_keys + λ)`` discounts what hyperactive accounts would reach by chance.

Windows. ``windows[0]`` (default 60 s) applies to every type; every larger window (default
3600 s) applies only to rare content (``wide_types``, keys acted on by at most
``wide_max_accounts`` accounts), because campaigns stagger copies of their own content by
minutes to dodge spam filters while popular content co-occurs by chance at that scale.
``window="auto"`` picks the first window per type (see :func:`choose_window`). Rare keys
of ``episode_window_types`` (hashtag episodes) also get ``episode_window`` (6 h): a crew
pushing its own tag on several days co-acts on each day's episode (:func:`layer_plan`).

Co-action events. For ``event_types`` (types whose posts carry several keys: hashtag, url,
domain, mention, media) ``n_keys`` is capped by the pair's distinct events, pairs of action
times (:func:`echoscope.detect.kernel.pair_event`): one post with four hashtags by each
account is one piece of evidence, not four.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from echoscope import progress, schema
from echoscope.actions import ACTION_TYPES
from echoscope.detect._util import F64, I32, I64, US, distinct_per, encode, times_us
from echoscope.detect.base import DETECTORS, DetectorBase
from echoscope.detect.kernel import count_pairs, isolated_mask, sort_actions, sweep_pair_events
from echoscope.detect.null import (
    account_excess,
    benjamini_hochberg,
    bout_pairs_per_key,
    bout_strata,
    candidate_denominator,
    chance_partners,
    configuration_strata,
    expected_coactions,
    heavy_accounts,
    pair_bout_pairs,
    pairs_per_key,
    poisson_tail,
    rates,
    robust_rates,
    shift_null_counts,
    shift_shared,
)
from echoscope.detect.windows import AUTO_CANDIDATES, choose_window
from echoscope.errors import ParameterError
from echoscope.params import Params, choice, limit
from echoscope.workspace import RunLog, Workspace

__all__ = [
    "AUTO_CANDIDATES",
    "CoactionDetector",
    "DetectParams",
    "benjamini_hochberg",
    "choose_window",
    "coaction_edges",
    "detect_edges",
    "pairs_per_key",
    "shift_null_counts",
]

WIDE_TYPES: tuple[str, ...] = ("text", "near_text", "url", "media", "repost", "quote")
# types whose posts can carry several keys (a post's other types have one key each, so
# their distinct keys are distinct posts already; merging equal action times there would
# only merge distinct posts of coarse timestamps, e.g. minute-resolution archives)
EVENT_TYPES: tuple[str, ...] = ("hashtag", "url", "domain", "mention", "media")
#: what ``_aggregate`` takes for a layer whose keys are not capped by co-action events
NO_EVENTS = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class DetectParams(Params):
    """Parameters of default-mode co-action detection (module docstring explains them)."""

    types: tuple[str, ...] = field(default=ACTION_TYPES, metadata=choice(
        *ACTION_TYPES, help="action types to build networks for"))
    windows: tuple[float, ...] = field(default=(60.0, 3600.0), metadata=limit(
        0.0, 30 * 86400.0, "seconds",
        "co-action windows: the smallest for every type, larger ones for rare content"))
    window: float | str | None = field(default=None, metadata={
        "help": "'auto' picks the first window per type; a number replaces `windows`"})
    wide_types: tuple[str, ...] = field(default=WIDE_TYPES, metadata=choice(
        *ACTION_TYPES, help="types that also get the larger windows"))
    wide_max_accounts: int = field(default=50, metadata=limit(
        2, 10_000_000, "accounts", "larger windows use keys with at most this many accounts"))
    episode_types: tuple[str, ...] = field(default=("hashtag",), metadata=choice(
        *ACTION_TYPES, help="types whose keys count once per episode (see episode_gap)"))
    episode_gap: float = field(default=6 * 3600.0, metadata=limit(
        60.0, 365 * 86400.0, "seconds",
        "a key unused this long starts a new episode: a hashtag stormed on three days is "
        "three keys"))
    episode_window: float = field(default=6 * 3600.0, metadata=limit(
        0.0, 30 * 86400.0, "seconds",
        "an extra window for rare keys (at most wide_max_accounts accounts) of "
        "episode_window_types: accounts acting on one rare episode within this long "
        "co-act (default: the episode gap); 0 = none"))
    episode_window_types: tuple[str, ...] = field(default=("hashtag",), metadata=choice(
        *ACTION_TYPES, help="types that also get episode_window (for rare keys); adding "
        "domain (with domain in episode_types) finds more hijacks but flagged 2.2x the "
        "accounts on the German elections set (docs/methods.md)"))
    time_classes: int = field(default=1, metadata=limit(
        1, 32, "classes", "null-model strata also split keys of one popularity by the share "
        "of their pairs within the window (factors of 4); 1 = popularity only (default: "
        "6 classes lowered recall, docs/methods.md)"))
    account_time_classes: int = field(default=1, metadata=limit(
        1, 32, "classes", "time classes of the account test's null (see time_classes); "
        "1 = popularity only (default: 6 lowered recall at 20k, benchmarks/RESULTS.md)"))
    min_stratum_keys: int = field(default=0, metadata=limit(
        0, 1_000_000, "keys", "null-model popularity strata holding fewer keys are merged "
        "into the next lower stratum, so a small campaign's few keys do not set their own "
        "stratum's rate; 0 or 1 = no merging (default: 20 raises recall at 20k, image "
        "reposts with media files 0.33-0.59 -> 0.90-0.96, but splits #KochFarms 24 + 2; "
        "benchmarks/RESULTS.md)"))
    null_bouts: bool = field(default=True, metadata={
        "help": "configuration null counted in bouts (an account's actions on one key with "
                "gaps of at most the window count once), in the unit of the edge's "
                "statistic (distinct keys); both engines; false counts action pairs "
                "(docs/methods.md, 'Bouts')"})
    min_keys: int = field(default=2, metadata=limit(
        1, 1_000_000, "keys", "distinct keys a pair must co-act on"))
    event_types: tuple[str, ...] = field(default=EVENT_TYPES, metadata=choice(
        *ACTION_TYPES, help="types whose keys a pair co-acted on at the same two action "
        "times (one post carrying several hashtags, URLs, ... by each account) count as "
        "one key: one co-action event; types with one key per post need no cap; () = off"))
    alpha: float = field(default=0.05, metadata=limit(
        0.0, 1.0, "", "false-discovery rate; 1 keeps every edge with min_keys"))
    null: str = field(default="configuration", metadata=choice(
        "configuration", "shift", "none", help="null model for p-values"))
    max_pairs: int = field(default=30_000_000, metadata=limit(
        1, 10_000_000_000, "pairs", "candidate pairs per layer before popular keys are capped"))
    auto_candidates: tuple[float, ...] = field(default=AUTO_CANDIDATES, metadata=limit(
        0.001, 30 * 86400.0, "seconds", "windows tried by window='auto'"))
    seed: int = field(default=0, metadata=limit(0, 2**31 - 1, "", "seed of random steps"))

    def validate(self) -> None:
        if not self.windows:
            raise ParameterError("windows must list at least one window (seconds).")
        w = self.window
        if w is not None and w != "auto" and (
                isinstance(w, bool) or not isinstance(w, int | float)
                or not 0 <= w <= 30 * 86400):
            raise ParameterError(
                    f"window = {w!r} must be 'auto' or a number of seconds in [0, 2592000].")
        if not self.auto_candidates:
            raise ParameterError("auto_candidates must list at least one window.")
        if self.null_bouts and (self.time_classes > 1 or self.account_time_classes > 1):
            raise ParameterError("null_bouts (on by default) counts popularity strata "
                                 "only: time_classes or account_time_classes > 1 needs "
                                 "null_bouts = false.")

    def resolved_windows(self) -> tuple[float, ...]:
        """The windows used: sorted, de-duplicated (``window`` number overrides)."""
        if isinstance(self.window, int | float) and not isinstance(self.window, bool):
            return (float(self.window),)
        return tuple(sorted({float(w) for w in self.windows}))


# -- aggregation -----------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _aggregate(code: I64, key: I64, delay: I64, rarity: F64, event: I64,
               n_out: int) -> tuple[I64, I64, I64, I64, F64, F64]:  # pragma: no cover
    """Per pair code (input sorted by code): keys, pairs, min/median delay, rarity sum.

    The keys are capped by the distinct co-action events (``event``, delay): keys
    co-acted on at the same two action times count once. An empty ``event``
    (:data:`NO_EVENTS`) counts keys alone."""
    out_code = np.empty(n_out, dtype=np.int64)
    n_keys = np.empty(n_out, dtype=np.int64)
    n_pairs = np.empty(n_out, dtype=np.int64)
    min_d = np.empty(n_out, dtype=np.int64)
    med_d = np.empty(n_out, dtype=np.float64)
    rsum = np.empty(n_out, dtype=np.float64)
    n = code.shape[0]
    g = 0
    i = 0
    while i < n:
        j = i
        c = code[i]
        nk = 0
        rs = 0.0
        last = -1
        while j < n and code[j] == c:
            j += 1
        ks = np.sort(key[i:j])
        for x in range(j - i):
            if ks[x] != last:
                nk += 1
                rs += rarity[ks[x]]
                last = ks[x]
        d = np.sort(delay[i:j])
        if event.size:
            # distinct (event, delay) among the pair's rows: its co-action events
            o = np.argsort(event[i:j])
            ev = event[i:j][o]
            dl = delay[i:j][o]
            n_ev = 0
            x = 0
            while x < j - i:
                y = x
                while y < j - i and ev[y] == ev[x]:
                    y += 1
                dd = np.sort(dl[x:y])
                n_ev += 1
                for z in range(1, y - x):
                    if dd[z] != dd[z - 1]:
                        n_ev += 1
                x = y
            nk = min(nk, n_ev)
        out_code[g] = c
        n_keys[g] = nk
        n_pairs[g] = j - i
        min_d[g] = d[0]
        h = (j - i) // 2
        if (j - i) % 2 == 1:
            med_d[g] = d[h]
        else:
            med_d[g] = (d[h - 1] + d[h]) / 2.0
        rsum[g] = rs
        g += 1
        i = j
    return out_code, n_keys, n_pairs, min_d, med_d, rsum


# -- one layer -------------------------------------------------------------------------


@dataclass
class _Layer:
    type: str
    window: float
    key: I64
    t: I64
    acct: I32
    n_accounts: int  # size of the account dictionary (codes are < this)
    events: bool = False  # cap keys by co-action events (type in event_types)


def _prune(key: I64, t: I64, acct: I32, w: int, min_keys: int,
           n_acct: int) -> npt.NDArray[np.bool_]:
    """Exact pruning; returns the mask of actions to keep (input sorted)."""
    keep = np.ones(key.size, dtype=np.bool_)
    idx = np.arange(key.size, dtype=np.int64)
    while idx.size:
        iso = isolated_mask(key[idx], t[idx], acct[idx], w)
        changed = bool(iso.any())
        idx = idx[~iso]
        if min_keys > 1 and idx.size:
            nk = distinct_per(acct[idx].astype(np.int64), key[idx], n_acct)
            few = nk[acct[idx]] < min_keys
            if few.any():
                changed = True
                idx = idx[~few]
        if not changed:
            break
    keep[:] = False
    keep[idx] = True
    return keep


def _cap(key: I64, t: I64, acct: I32, w: int, n_acc_key: I64,
         budget: int) -> tuple[npt.NDArray[np.bool_], int, I64]:
    """Exclude the most popular keys until the pairs fit the budget: (keep, cap, the
    excluded key codes)."""
    uniq = np.unique(key)
    per_key = pairs_per_key(key, t, acct, w, int(key.max()) + 1)[uniq]
    pop = n_acc_key[uniq]
    vals, inv = np.unique(pop, return_inverse=True)
    cum = np.cumsum(np.bincount(inv, weights=per_key))
    fits = np.flatnonzero(cum <= budget)
    cap = int(vals[fits[-1]]) if fits.size else 0
    dropped: I64 = uniq[pop > cap]
    keep = ~np.isin(key, dropped)
    return keep, cap, dropped


def _layer_edges(layer: _Layer, p: DetectParams,
                 stats: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Candidate edges of one layer with their null expectation; and its family size."""
    key, t, acct = layer.key, layer.t, layer.acct
    w = round(layer.window * US)
    order = sort_actions(key, t, acct)
    key, t, acct = key[order], t[order], acct[order]
    n_act = np.bincount(acct, minlength=layer.n_accounts).astype(np.int64)
    active = int((n_act > 0).sum())
    family = active * (active - 1) // 2
    n_key_dict = int(key.max()) + 1 if key.size else 0
    n_acc_key = distinct_per(key, acct.astype(np.int64), n_key_dict)
    rarity = np.where(n_acc_key > 0, 1.0 / np.log2(1.0 + np.maximum(n_acc_key, 1)), 0.0)
    info: dict[str, Any] = {"type": layer.type, "window": layer.window,
                            "actions": int(key.size), "accounts": active}
    keep = _prune(key, t, acct, w, p.min_keys, layer.n_accounts)
    info["pruned_actions"] = int(key.size - keep.sum())
    k2, t2, a2 = key[keep], t[keep], acct[keep]
    n_cand = count_pairs(k2, t2, a2, w)
    info["candidate_pairs"] = int(n_cand)
    info["capped_keys"] = 0
    capped = np.zeros(0, dtype=np.int64)
    if n_cand > p.max_pairs:
        ok, cap, touched = _cap(k2, t2, a2, w, n_acc_key, p.max_pairs)
        k2, t2, a2 = k2[ok], t2[ok], a2[ok]
        info["cap_accounts_per_key"] = cap
        info["capped_keys"] = int(touched.size)
        progress.info(
            f"detect: {layer.type} @ {layer.window:g}s has {n_cand:,} candidate pairs "
            f"(budget {p.max_pairs:,}); {touched.size:,} key(s) acted on by more than {cap} "
            "accounts were left out (rarity weighting gives them little weight anyway)")
        capped = np.flatnonzero(n_acc_key > cap).astype(np.int64)
        del touched
    del keep
    # null-model constants from the whole layer (pruned actions included), without the
    # keys above the cap: no tested pair can count them, so neither may the null (a
    # capped burst's co-action would set the rate constant of its popularity stratum)
    if p.null == "configuration":
        nk_, nt_, na_, nak_ = key, t, acct, n_acc_key
        if capped.size:
            live = ~np.isin(key, capped)
            nk_, nt_, na_ = key[live], t[live], acct[live]
            nak_ = n_acc_key.copy()
            nak_[capped] = 0
            del live
        if p.null_bouts:
            strata, key_stratum, s_pairs, s_denom, bts = bout_strata(
                nk_, nt_, na_, w, nak_, layer.n_accounts, p.min_stratum_keys)
        else:
            strata, key_stratum, s_pairs, s_denom = configuration_strata(
                nk_, nt_, na_, w, nak_, layer.n_accounts, p.time_classes,
                p.min_stratum_keys)
        info["null_pairs"] = round(float(s_pairs.sum()))
        info["null_strata"] = int(s_pairs.size)
    code, pkey, delay, event = sweep_pair_events(k2, t2, a2, w, layer.n_accounts)
    del k2, t2, a2
    srt = np.argsort(code, kind="stable")
    code = code[srt]
    pkey = pkey[srt]
    delay = delay[srt]
    event = event[srt] if layer.events else NO_EVENTS
    del srt
    n_out = int(np.count_nonzero(np.diff(code))) + 1 if code.size else 0
    if n_out:
        ucode, nk, npairs, mind, medd, rsum = _aggregate(code, pkey, delay, rarity, event,
                                                         n_out)
    else:
        ucode = nk = npairs = mind = np.zeros(0, dtype=np.int64)
        medd = rsum = np.zeros(0, dtype=np.float64)
    del event
    sel = nk >= p.min_keys
    null: dict[str, Any] = {}
    if p.null == "configuration":
        # each candidate's action pairs per popularity stratum (to leave them out of the
        # null's rate constants once they are found significant)
        n_str = s_pairs.size
        gid = np.zeros(code.size, dtype=np.int64)
        if code.size:
            np.cumsum(code[1:] != code[:-1], out=gid[1:])
        rows = sel[gid]  # only the candidates' rows
        rank = np.cumsum(sel) - 1
        n_sel = int(sel.sum())
        own_g, own_k = gid[rows], pkey[rows]
        own_w: F64 | None = None
        if p.null_bouts:  # in bouts: a pair's co-acting bout pairs on each co-acted key
            nkd = max(n_key_dict, 1)
            u = np.unique(own_g * nkd + own_k)
            own_g, own_k = u // nkd, u % nkd
            own_w = np.empty(own_g.size, dtype=np.float64)
            for i in range(0, own_g.size, 1 << 22):
                oc = ucode[own_g[i:i + (1 << 22)]]
                own_w[i:i + oc.size] = pair_bout_pairs(
                    bts, oc // layer.n_accounts, oc % layer.n_accounts,
                    own_k[i:i + oc.size], w, layer.n_accounts)
            del u
        own = np.bincount(rank[own_g] * n_str + key_stratum[own_k], weights=own_w,
                          minlength=n_sel * n_str)
        null["own"] = own.astype(np.float64).reshape(n_sel, n_str)
        # all co-acting pairs among the candidates' accounts (one shared key too) and
        # their share of the denominator: left out of the rate constants (robust_rates)
        cand = np.zeros(layer.n_accounts, dtype=np.bool_)
        multi = ucode[nk >= max(2, p.min_keys)]
        cand[multi // layer.n_accounts] = True
        cand[multi % layer.n_accounts] = True
        if p.null_bouts:
            bk, ba, bs, be = bts
            cb = cand[ba]
            null["cc_pairs"] = np.bincount(key_stratum, weights=bout_pairs_per_key(
                bk[cb], bs[cb], be[cb], w, key_stratum.size), minlength=n_str)[
                :n_str].astype(np.float64)
            del bts, bk, ba, bs, be, cb
        else:
            both = cand[code // layer.n_accounts] & cand[code % layer.n_accounts]
            null["cc_pairs"] = np.bincount(key_stratum[pkey[both]], minlength=n_str)[
                :n_str].astype(np.float64)
        null["cc_denom"] = candidate_denominator(strata, cand)
        # for the account-level test (null.chance_partners): the stratum Gram matrix of
        # all the layer's accounts and the strata rows of the accounts in tested pairs
        if p.account_time_classes == p.time_classes:
            acc_strata, acc_ks, a_pairs, a_denom = strata, key_stratum, s_pairs, s_denom
        else:
            acc_strata, acc_ks, a_pairs, a_denom = configuration_strata(
                nk_, nt_, na_, w, nak_, layer.n_accounts, p.account_time_classes,
                p.min_stratum_keys)
        # rate constants without the tested pairs' own co-action only (not all co-action
        # among candidate accounts, as the edges' robust rate does): most reposters of a
        # breaking story are candidate accounts, but few of their pairs share two stories,
        # so this keeps the bursts' co-action in the null, while a campaign alone in its
        # stratum (its pairs share many keys) still does not set its own rate
        sa, sb = ucode[sel] // layer.n_accounts, ucode[sel] % layer.n_accounts
        own_sum = np.bincount(acc_ks[own_k], weights=own_w,
                              minlength=a_pairs.size)[:a_pairs.size]
        null.update(account_null(acc_strata, sa, sb, own_sum, a_pairs, a_denom))
        del acc_strata, acc_ks, nk_, nt_, na_, nak_
    del code, pkey, delay
    ucode, nk, npairs, mind = ucode[sel], nk[sel], npairs[sel], mind[sel]
    medd, rsum = medd[sel], rsum[sel]
    ea = ucode // layer.n_accounts
    eb = ucode % layer.n_accounts
    if p.null == "configuration":
        null["ab"] = strata[ea] * strata[eb]
        null["pairs"] = s_pairs
        null["denom"] = s_denom
        lam = expected_coactions(null["ab"], rates(s_pairs, s_denom))
    elif p.null == "shift":
        span = float(t.max() - t.min()) + 1.0 if t.size else 1.0
        frac = min(1.0, (2.0 * w + 1.0) / span)
        lam = shift_shared(key, acct, ea, eb, layer.n_accounts).astype(np.float64) * frac
    else:
        lam = np.full(ea.size, np.nan)
    info["edges_tested"] = int(ea.size)
    stats.setdefault("layers", []).append(info)
    cols = {"a": ea, "b": eb, "n_keys": nk, "n_pairs": npairs, "min_delay": mind / US,
            "median_delay": medd / US, "rarity": rsum, "lam": lam, "null": null}
    return cols, family


def account_null(strata: F64, sa: I64, sb: I64, own_sum: F64 | I64, pairs: F64,
                 denom: F64) -> dict[str, Any]:
    """A layer's null entries for the account-level test (``_account_test``), from the
    accounts' actions per stratum ``strata``, the tested pairs ``(sa, sb)`` (sorted by pair
    code), their own co-acting pairs per stratum ``own_sum`` and the layer's per-stratum
    pairs and denominator: ``account_rate`` (rate constants without the tested pairs' own
    co-action), the heaviest accounts' rows, the Gram matrix of the others, the per-stratum
    totals and the tested accounts' rows. Both engines call this (identical results)."""
    ab_sum = np.zeros(pairs.size)
    for i in range(0, sa.size, 65536):
        ab_sum += (strata[sa[i:i + 65536]] * strata[sb[i:i + 65536]]).sum(axis=0)
    heavy = heavy_accounts(strata)
    tested = np.unique(np.concatenate([sa, sb]))
    return {"account_rate": rates(pairs - own_sum, denom - ab_sum),
            "heavy_accounts": heavy, "heavy_rows": strata[heavy],
            "gram_light": strata.T @ strata - strata[heavy].T @ strata[heavy],
            "colsum": strata.sum(axis=0), "tested_accounts": tested,
            "tested_rows": strata[tested]}


# -- the pure core ---------------------------------------------------------------------


def episode_keys(actions: pa.Table, types: tuple[str, ...], gap: float) -> pa.Table:
    """Keys of ``types`` split into episodes: ``key@<first time of the episode>``.

    An episode of a key is a run of its actions (by any account) with no pause longer
    than ``gap`` seconds. A hashtag pushed in a storm on three days is then three keys,
    so its storm crew co-acts on three distinct keys, while a hashtag in continuous use
    stays one key. Data-driven sessions, not fixed bins: the split never depends on a
    calendar grid, and it depends only on the key's own times (not on row order).
    """
    if not types or actions.num_rows == 0:
        return actions
    mask = pc.is_in(actions["type"], value_set=pa.array(list(types), pa.string()))
    sel = np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
    if not sel.any():
        return actions
    idx = np.flatnonzero(sel)
    sub = actions.take(pa.array(idx))
    kcode, _ = encode(pc.binary_join_element_wise(sub["type"], sub["key"], "\x1f"))
    t = times_us(sub["time"])
    order = np.lexsort((t, kcode))
    ks, ts = kcode[order], t[order]
    new = np.ones(ks.size, dtype=bool)
    if ks.size > 1:
        new[1:] = (ks[1:] != ks[:-1]) | (ts[1:] - ts[:-1] > round(gap * US))
    ep = np.cumsum(new) - 1
    start = ts[new][ep]  # first time of each action's episode, in sorted order
    first = np.empty_like(start)
    first[order] = start
    stamp = pc.strftime(pa.array(first, pa.timestamp("us")), format="%Y-%m-%dT%H:%M")
    keys = pc.binary_join_element_wise(sub["key"], stamp, "@")
    full = actions["key"].combine_chunks().to_numpy(zero_copy_only=False).astype(object)
    full[idx] = np.asarray(keys.to_numpy(zero_copy_only=False), dtype=object)
    return actions.set_column(actions.schema.get_field_index("key"), "key",
                              pa.array(full, pa.string()))


def coaction_edges(actions: pa.Table, params: DetectParams | None = None, seed: int = 0,
                   *, stats: dict[str, Any] | None = None) -> pa.Table:
    """Default-mode co-action edges of an ``actions`` table (Arrow in, ``edges`` out).

    ``stats`` (a dict, optional) receives per-layer figures: actions, accounts, pruned
    actions, candidate pairs, capped keys and the cap, edges tested, chosen windows.
    Deterministic; ``seed`` is accepted for the detector contract (the analytic null
    needs no random numbers).
    """
    p = params or DetectParams()
    stats = stats if stats is not None else {}
    actions = schema.check("actions", actions, stage="detect")
    actions = episode_keys(actions, p.episode_types, p.episode_gap)
    acct_all, acct_dict = encode(actions["account_id"])
    types_col = actions["type"]

    def layers() -> Iterator[tuple[str, pa.Table, I32]]:
        for typ in p.types:
            mask = pc.equal(types_col, typ).combine_chunks() if actions.num_rows else None
            if mask is None:
                continue
            sel = np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
            if not sel.any():
                continue
            yield typ, actions.filter(mask), acct_all[sel].astype(np.int32)

    return _edges_of_layers(layers(), acct_dict, p, seed, stats)


def _edges_of_layers(layers: Iterable[tuple[str, pa.Table, I32]], acct_dict: pa.Array,
                     p: DetectParams, seed: int, stats: dict[str, Any]) -> pa.Table:
    """Edges from the action layers (type, its actions with episode keys, account codes
    into ``acct_dict``), one layer in memory at a time."""
    stats["max_pairs"] = p.max_pairs
    windows = p.resolved_windows()
    stats["windows"] = {}
    n_acct = len(acct_dict)
    results: list[dict[str, Any]] = []
    families = 0
    for typ, sub, acct in layers:
        key, _ = encode(sub["key"])
        t = times_us(sub["time"])
        first = windows[0]
        if p.window == "auto":
            first, curve = choose_window(key, t, acct, p.auto_candidates,
                                         max_pairs=p.max_pairs, seed=seed,
                                         default=windows[0])
            stats.setdefault("auto_curves", {})[typ] = curve
        plan = layer_plan(p, typ, first)
        stats["windows"][typ] = [w for w, _ in plan]
        for w, rare_only in plan:
            if not rare_only:
                lk, lt, la = key, t, acct
            else:
                n_acc_key = distinct_per(key, acct.astype(np.int64), int(key.max()) + 1)
                rare = n_acc_key[key] <= p.wide_max_accounts
                lk, lt, la = key[rare], t[rare], acct[rare]
            cols, fam = _layer_edges(_Layer(typ, w, lk, lt, la, n_acct,
                                            typ in p.event_types), p, stats)
            families += fam
            cols["type"] = typ
            cols["window"] = w
            results.append(cols)
    stats["family_size"] = families
    return _finish(results, acct_dict, p, families, stats)


def layer_plan(p: DetectParams, typ: str, first: float) -> list[tuple[float, bool]]:
    """The layers of one action type: ``(window, rare keys only)`` in order.

    ``first`` (``windows[0]``, or the type's ``window="auto"`` choice) for every key; the
    larger ``windows`` for rare keys of ``wide_types``; ``episode_window`` for rare keys
    of ``episode_window_types`` (when larger than ``first`` and not already one of the type's
    windows). Both engines build their layers from this.
    """
    out = [(first, False)]
    if typ in p.wide_types:
        out += [(w, True) for w in p.resolved_windows()[1:] if w > first]
    ew = float(p.episode_window)
    if (ew > first and typ in p.episode_window_types
            and all(w != ew for w, _ in out)):
        out.append((ew, True))
    return out


def _account_test(results: list[dict[str, Any]], acct_dict: pa.Array,
                  p: DetectParams) -> pa.Table:
    """Per account: tested pairs (partners reaching ``min_keys`` keys, summed over layers),
    the number chance would give (:func:`echoscope.detect.null.chance_partners`) and the
    p-value of the excess (:func:`echoscope.detect.null.account_excess`)."""
    n = len(acct_dict)
    partners = np.zeros(n, dtype=np.float64)
    expected = np.zeros(n, dtype=np.float64)
    for r in results:
        nl = r["null"]
        if "gram_light" not in nl or "rate" not in nl:
            continue
        rate = nl["account_rate"]
        partners += np.bincount(r["a"], minlength=n)[:n]
        partners += np.bincount(r["b"], minlength=n)[:n]
        idx = nl["tested_accounts"]
        expected[idx] += chance_partners(nl["tested_rows"], idx, nl["heavy_rows"],
                                         nl["heavy_accounts"], nl["gram_light"],
                                         nl["colsum"], rate, p.min_keys)
    idx = np.flatnonzero(partners > 0)
    return schema.check("coaction_accounts", pa.table({
        "account_id": acct_dict.take(pa.array(idx)),
        "partners": pa.array(partners[idx].astype(np.int64)),
        "expected": pa.array(expected[idx]),
        "p_value": pa.array(account_excess(partners[idx], expected[idx])),
    }), stage="detect")


def _finish(results: list[dict[str, Any]], acct_dict: pa.Array, p: DetectParams,
            family: int, stats: dict[str, Any]) -> pa.Table:
    if not results:
        stats["edges"] = 0
        return schema.empty("edges")
    cat = {c: np.concatenate([r[c] for r in results]) for c in
           ("a", "b", "n_keys", "n_pairs", "min_delay", "median_delay", "rarity", "lam")}
    typ = np.concatenate([np.full(r["a"].size, r["type"], dtype=object) for r in results])
    win = np.concatenate([np.full(r["a"].size, r["window"], dtype=np.float64)
                          for r in results])
    nk = cat["n_keys"].astype(np.float64)
    lam = cat["lam"]
    if p.null == "none":
        pv = np.full(nk.size, np.nan)
        qv = np.full(nk.size, np.nan)
        weight = cat["rarity"]
        keep = np.ones(nk.size, dtype=bool)
    else:
        if p.null == "configuration":
            lam = robust_rates(results, nk, family, stats)
            stats["_accounts"] = _account_test(results, acct_dict, p)
        pv = poisson_tail(nk, lam)
        qv = benjamini_hochberg(pv, family)
        weight = cat["rarity"] * nk / (nk + lam)
        keep = qv <= p.alpha
    stats["edges_tested"] = int(nk.size)
    stats["edges"] = int(keep.sum())
    idx = np.flatnonzero(keep)
    a = acct_dict.take(pa.array(cat["a"][idx]))
    b = acct_dict.take(pa.array(cat["b"][idx]))
    out = pa.table({
        "account_a": a, "account_b": b,
        "type": pa.array(typ[idx].tolist(), pa.string()),
        "window": pa.array(win[idx]),
        "n_keys": pa.array(cat["n_keys"][idx].astype(np.int64)),
        "n_pairs": pa.array(cat["n_pairs"][idx].astype(np.int64)),
        "min_delay": pa.array(cat["min_delay"][idx].astype(np.float64)),
        "median_delay": pa.array(cat["median_delay"][idx].astype(np.float64)),
        "weight": pa.array(weight[idx].astype(np.float64)),
        "p_value": pa.array(pv[idx].astype(np.float64)),
        "q_value": pa.array(qv[idx].astype(np.float64)),
    })
    out = out.sort_by([("type", "ascending"), ("window", "ascending"),
                       ("account_a", "ascending"), ("account_b", "ascending")])
    return schema.check("edges", out, stage="detect")


# -- workspace stage -------------------------------------------------------------------


def detect_edges(ws: Workspace, params: DetectParams | None = None, *,
                 log: RunLog | None = None) -> pa.Table:
    """Build default-mode co-action edges from the workspace's ``actions``; replace ``edges``.

    Per-layer figures (pruning, candidate pairs, the popular-key cap and how many keys it
    touched, chosen windows) go to ``log`` when given, else to a run-log entry of its own
    (command ``detect-edges``).
    """
    p = params or DetectParams()
    if log is None:
        with ws.run("detect-edges", {"detect": p.to_dict()}) as own:
            return detect_edges(ws, p, log=own)
    stats: dict[str, Any] = {}
    with progress.task("co-action networks"), log.timed("detect"):
        # one action type in memory at a time (the account codes come from all of them,
        # sorted, as coaction_edges encodes them): same edges, a fraction of the memory
        acct_dict = ws.sql(
            "SELECT DISTINCT account_id FROM actions WHERE list_contains(?, type) "
            "ORDER BY account_id", [list(p.types)]).column(0).combine_chunks()
        acct_dict = acct_dict.cast(pa.string())

        def layers() -> Iterator[tuple[str, pa.Table, I32]]:
            for typ in p.types:
                sub = ws.sql("SELECT account_id, time, type, key FROM actions "
                             "WHERE type = ?", [typ])
                if not sub.num_rows:
                    continue
                sub = episode_keys(sub, p.episode_types, p.episode_gap)
                codes = pc.index_in(sub["account_id"], value_set=acct_dict)
                yield typ, sub, np.asarray(codes.to_numpy(zero_copy_only=False),
                                           dtype=np.int32)

        edges = _edges_of_layers(layers(), acct_dict, p, p.seed, stats)
        ws.replace("edges", edges, stage="detect")
        acc = stats.pop("_accounts", None)
        ws.replace("coaction_accounts", acc if acc is not None
                   else schema.empty("coaction_accounts"), stage="detect")
    log.count("edges", edges.num_rows)
    log.count("detect", _jsonable(stats))
    capped = [x for x in stats.get("layers", []) if x.get("capped_keys")]
    for x in capped:
        log.count(f"capped_keys_{x['type']}_{x['window']:g}", x["capped_keys"])
    progress.info(f"detect: {edges.num_rows:,} edges kept of {stats.get('edges_tested', 0):,} "
                  f"tested (FDR {p.alpha:g}, family of {stats.get('family_size', 0):,} pairs)")
    return edges


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


# -- registration ----------------------------------------------------------------------


@DETECTORS.register
class CoactionDetector(DetectorBase):
    """Default mode: all action types, multi-scale windows, null model, FDR."""

    name = "coaction"
    action_types = ACTION_TYPES
    params_class = DetectParams
    description = ("co-action on the same keys within tight (all types) and wide (rare "
                   "content) windows, rarity-weighted, kept by false-discovery rate")
    doc_section = "Co-action networks (default mode)"

    def _edges(self, actions: pa.Table, params: Any, seed: int) -> pa.Table:
        return coaction_edges(actions, params, seed)
