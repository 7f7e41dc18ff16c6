"""Peer-exact mode: coordination-network-toolkit 1.5.2 (QUT Digital Observatory).

Reproduces the toolkit's edge lists on the same input and parameters:

* messages are deduplicated by id (the first row wins); reposts (a non-empty
  ``repost_id``) take part only in ``co_retweet`` and ``co_post``, and their URLs are
  ignored;
* a directed edge ``A -> B`` has weight = the number of distinct messages of ``A`` with
  at least one matching message of ``B`` within ``|dt| <= time_window`` seconds
  (inclusive, compared in floating point exactly as the toolkit's SQL does);
* ``--min-edge-weight`` applies per direction; self-loops are dropped;
* ``co_tweet`` matches the normalised text (lower case, ``@mentions`` removed,
  whitespace collapsed); ``co_similar_tweet`` the Jaccard similarity of lower-cased,
  mention-stripped token sets (Unicode word boundaries; punctuation counts as a token)
  ``>= similarity_threshold``; ``co_link`` the URL as written; ``co_reply`` the
  replied-to id; ``co_retweet`` the reposted id; ``co_post`` any two messages.

Instead of the toolkit's SQL self-joins, every type runs on the shared sort-and-sweep
kernel. ``co_similar_tweet`` uses exact prefix filtering (tokens ordered by rarity; two
sets with Jaccard >= t must share a token among their first ``n - ceil(t n) + 1``), so
it scores only candidate pairs yet returns the same edges as scoring every pair.

Deliberate differences (documented in docs/compat.md): an empty URL field is no URL
(the toolkit stores ``''`` and links everyone who posts without a link); the first tweet
of a Twitter JSON file is kept; two empty texts are never similar (the toolkit's library
function divides by zero).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import regex  # type: ignore[import-untyped]
from numba import njit

from echoscope.detect.kernel import sort_actions, sweep_pairs
from echoscope.errors import InputError
from echoscope.params import Params, choice, limit

__all__ = [
    "CNT_TYPES",
    "EDGE_SCHEMA",
    "CntMessages",
    "CntParams",
    "cnt_network",
    "cotweet_text",
    "messages_from_cnt_csv",
    "messages_from_posts",
    "messages_from_twitter_json",
    "token_set",
]

CNT_TYPES = ("co_retweet", "co_tweet", "co_similar_tweet", "co_link", "co_reply", "co_post")

EDGE_SCHEMA = pa.schema([
    pa.field("source", pa.string(), nullable=False),
    pa.field("target", pa.string(), nullable=False),
    pa.field("weight", pa.int64(), nullable=False),
    pa.field("edge_type", pa.string(), nullable=False),
])

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CntParams(Params):
    """Parameters of ``compute_networks compute`` (names as in the toolkit's CLI)."""

    type: str = field(default="co_retweet", metadata=choice(*CNT_TYPES))
    time_window: float = field(
        default=60.0, metadata=limit(0, 366 * 86400, "seconds",
                                     "messages at most this far apart are co-occurring"))
    min_edge_weight: int = field(
        default=2, metadata=limit(1, None, "messages", "minimum weight of a directed edge"))
    similarity_threshold: float = field(
        default=0.8, metadata=limit(0.01, 1.0, "", "co_similar_tweet: minimum Jaccard"))
    min_document_size: int = field(
        default=1, metadata=limit(0, 10_000, "tokens",
                                  "co_similar_tweet: smaller token sets are never similar"))


# -- text normalisation (same rules as the toolkit, written independently) -------------

# An @mention runs from '@' up to the next whitespace or the end of the text.
_MENTION = regex.compile(r"@\S*")
# Cut points: each Unicode word boundary (UAX #29), swallowing the spaces that follow
# it and an optional apostrophe; the pieces between cuts are the tokens.
_CUT = regex.compile(r"\b\p{Word_Break=WSegSpace}*'?", flags=regex.WORD | regex.V1)


def cotweet_text(text: str) -> str:
    """The toolkit's co_tweet key: lower case, @mentions removed, whitespace collapsed."""
    return " ".join(_MENTION.sub("", text.lower()).split())


def token_set(text: str) -> frozenset[str]:
    """The toolkit's co_similar_tweet token set of a message."""
    out: set[str] = set()
    for piece in _CUT.split(_MENTION.sub("", text.lower())):
        if piece:
            out.update(piece.split())
    return frozenset(out)


# -- messages ------------------------------------------------------------------------


@dataclass
class CntMessages:
    """The toolkit's tables: messages (one row per distinct id, the first row wins) and
    links (one row per distinct message id and URL, from every non-repost row)."""

    message_id: list[str]
    user_id: list[str]
    repost_id: list[str | None]
    reply_id: list[str | None]
    message: list[str]
    timestamp: F64
    link_message: list[str] = field(default_factory=list)
    link_url: list[str] = field(default_factory=list)
    link_user: list[str] = field(default_factory=list)
    link_time: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.message_id)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[tuple[str, str, str | None, str | None, str, float, Sequence[str]]],
    ) -> CntMessages:
        """From ``(message_id, user_id, repost_id, reply_id, message, seconds, urls)``.

        As in the toolkit, a row that repeats a message id adds nothing to the messages,
        but its URLs (with its own user and time) still join the links unless that
        (message, URL) is already there; URLs of reposts are ignored.
        """
        seen: set[str] = set()
        seen_links: set[tuple[str, str]] = set()
        out = cls([], [], [], [], [], np.zeros(0))
        ts: list[float] = []
        for m, u, rp, rl, text, t, us in rows:
            if not rp:
                for x in us:
                    if x and (m, x) not in seen_links:
                        seen_links.add((m, x))
                        out.link_message.append(m)
                        out.link_url.append(x)
                        out.link_user.append(u)
                        out.link_time.append(float(t))
            if m in seen:
                continue
            seen.add(m)
            out.message_id.append(m)
            out.user_id.append(u)
            out.repost_id.append(rp or None)
            out.reply_id.append(rl or None)
            out.message.append(text or "")
            ts.append(float(t))
        out.timestamp = np.asarray(ts, dtype=np.float64)
        return out

    @classmethod
    def concat(cls, parts: Sequence[CntMessages]) -> CntMessages:
        """Several inputs in order, as if preprocessed into one toolkit database."""
        if len(parts) == 1:
            return parts[0]
        out = cls([], [], [], [], [], np.zeros(0))
        seen: set[str] = set()
        seen_links: set[tuple[str, str]] = set()
        ts: list[float] = []
        for p in parts:
            for i, m in enumerate(p.message_id):
                if m not in seen:
                    seen.add(m)
                    out.message_id.append(m)
                    out.user_id.append(p.user_id[i])
                    out.repost_id.append(p.repost_id[i])
                    out.reply_id.append(p.reply_id[i])
                    out.message.append(p.message[i])
                    ts.append(float(p.timestamp[i]))
            for m, x, u, t in zip(p.link_message, p.link_url, p.link_user, p.link_time,
                                  strict=True):
                if (m, x) not in seen_links:
                    seen_links.add((m, x))
                    out.link_message.append(m)
                    out.link_url.append(x)
                    out.link_user.append(u)
                    out.link_time.append(t)
        out.timestamp = np.asarray(ts, dtype=np.float64)
        return out


def messages_from_cnt_csv(path: str) -> CntMessages:
    """Messages of a toolkit CSV file, read as the toolkit's ``preprocess`` reads them."""
    from echoscope.ingest.cnt_csv import read_cnt_rows

    return CntMessages.from_rows(
        (r.message_id, r.user_id, r.repost_id, r.reply_id, r.message, r.timestamp, r.urls)
        for r in read_cnt_rows(path)
    )


def snowflake_seconds(tweet_id: str) -> float:
    """Seconds from a Twitter id's timestamp bits, as the toolkit computes them."""
    return (int(tweet_id) >> 22) / 1000


def _v1_row(t: dict[str, Any]) -> tuple[str, str, str | None, str | None, str, float,
                                         list[str]]:
    if "full_text" in t:
        text = t["full_text"]
    elif isinstance(t.get("extended_tweet"), dict):
        text = t["extended_tweet"]["full_text"]
    else:
        text = t["text"]
    rt = t.get("retweeted_status")
    repost = rt.get("id_str") if isinstance(rt, dict) else None
    urls: list[str] = []
    if not repost:
        ext = t.get("extended_tweet")
        src: dict[str, Any] = ext if isinstance(ext, dict) else t
        for u in (src.get("entities") or {}).get("urls") or ():
            if isinstance(u, dict) and isinstance(u.get("expanded_url"), str):
                urls.append(u["expanded_url"])
    tid = str(t.get("id_str") or t["id"])
    return (tid, str(t["user"]["id_str"]), repost, t.get("in_reply_to_status_id_str"),
            str(text or ""), snowflake_seconds(tid), urls)


def messages_from_twitter_json(path: str) -> CntMessages:
    """Messages of a Twitter v1.1 JSON-lines file, as the toolkit's ``preprocess
    --format twitter_json`` reads them (times from the tweet id, URLs as expanded).

    Lines that are not tweets (delete notices) are skipped; a line that is not JSON is
    an error naming the line.
    """
    import orjson

    from echoscope.ingest._io import open_input
    from echoscope.ingest._util import iter_json_lines

    rows = []
    stream = open_input(path)
    try:
        for n, _raw, obj, err in iter_json_lines(stream):
            if err is not None:
                raise InputError(f"{path}, line {n}: {err}.", path=path)
            items = obj if isinstance(obj, list) else [obj]
            for t in items:
                if not isinstance(t, dict) or ("id_str" not in t and "id" not in t):
                    continue
                try:
                    rows.append(_v1_row(t))
                except (KeyError, TypeError, ValueError) as e:
                    raise InputError(
                        f"{path}, line {n}: not a Twitter v1.1 tweet the toolkit can read "
                        f"({type(e).__name__}: {e}).", path=path) from None
    except orjson.JSONDecodeError as e:  # pragma: no cover - iter_json_lines reports these
        raise InputError(f"{path}: invalid JSON ({e}).", path=path) from None
    finally:
        stream.close()
    return CntMessages.from_rows(rows)


def messages_from_posts(posts: pa.Table, *, snowflake_time: bool | Sequence[bool] = False
                        ) -> CntMessages:
    """Messages from echoscope's canonical ``posts`` (any input format).

    ``created_at`` gives the time unless ``snowflake_time`` (per post or for all), which
    takes it from the Twitter id like the toolkit does for Twitter JSON. URLs are the
    canonical ones of ``posts`` (the toolkit keys links as written).
    """
    cols = posts.select(["post_id", "account_id", "kind", "parent_post_id", "text",
                         "created_at", "urls"]).to_pydict()
    n = len(cols["post_id"])
    flags = [snowflake_time] * n if isinstance(snowflake_time, bool) else list(snowflake_time)
    rows = []
    for i in range(n):
        pid = cols["post_id"][i]
        kind = cols["kind"][i]
        parent = cols["parent_post_id"][i]
        created = cols["created_at"][i]
        if flags[i] and pid.isdigit():
            t = snowflake_seconds(pid)
        elif created is None:
            raise InputError(f"post {pid} has no time; --compat cnt needs one for every post.")
        else:
            t = _seconds(created)
        rows.append((pid, cols["account_id"][i], parent if kind == "repost" else None,
                     parent if kind == "reply" else None, cols["text"][i] or "", t,
                     cols["urls"][i] or []))
    return CntMessages.from_rows(rows)


def _seconds(v: Any) -> float:
    import datetime as dt

    if isinstance(v, dt.datetime):
        d = v - dt.datetime(1970, 1, 1, tzinfo=v.tzinfo)
        return (d.days * 86400 + d.seconds) + d.microseconds / 1e6
    return float(v) / 1e6


# -- the network ---------------------------------------------------------------------


def _encode(values: Sequence[Any]) -> tuple[I64, list[Any]]:
    """Integer codes of ``values`` and the distinct values (by first appearance)."""
    arr = pa.array(values, type=pa.string()).dictionary_encode()
    return (np.asarray(arr.indices.to_numpy(zero_copy_only=False), dtype=np.int64),
            arr.dictionary.to_pylist())


def _slack_us(t: F64, window: float) -> int:
    """Microseconds added to the integer window so float comparisons are never cut."""
    if t.size == 0:
        return 2
    top = float(np.max(np.abs(t))) + abs(window)
    return 2 + math.ceil(4 * float(np.spacing(top)) * 1e6)


def _directed_pairs(key: I64, t: F64, acct: I64, msg: I64, window: float,
                    ) -> tuple[I64, I64, I64]:
    """``(account A, message of A, account B)`` for each match of B within the window.

    ``key``, ``t``, ``acct`` and ``msg`` describe actions (one message may have several,
    e.g. one per URL). The kernel sweeps an integer window widened by a few microseconds;
    each pair is then checked both ways exactly as the toolkit's SQL does
    (``t2 BETWEEN t1 - W AND t1 + W`` in floating point).
    """
    if key.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), e.copy()
    t_us = np.round(t * 1e6).astype(np.int64)
    w_us = math.floor(window * 1e6) + _slack_us(t, window)
    perm = sort_actions(key, t_us, acct.astype(np.int32))
    ii, jj = sweep_pairs(key[perm], t_us[perm], acct[perm].astype(np.int32), w_us)
    pi = perm[ii]
    pj = perm[jj]
    del ii, jj
    return _both_ways(pi, pj, t, acct, msg, window)


def _both_ways(pi: I64, pj: I64, t: F64, acct: I64, msg: I64, window: float
               ) -> tuple[I64, I64, I64]:
    ti = t[pi]
    tj = t[pj]
    fwd = (tj >= ti - window) & (tj <= ti + window)
    bwd = (ti >= tj - window) & (ti <= tj + window)
    src = np.concatenate([acct[pi[fwd]], acct[pj[bwd]]])
    m = np.concatenate([msg[pi[fwd]], msg[pj[bwd]]])
    other = np.concatenate([acct[pj[fwd]], acct[pi[bwd]]])
    return src, m, other


def _weights(src: I64, m: I64, other: I64, n_acct: int, min_weight: int
             ) -> tuple[I64, I64, I64]:
    """``(source, target, weight)``: distinct messages of the source per target."""
    if m.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), e.copy()
    n = np.int64(n_acct)
    sender, inv = np.unique(m * n + src, return_inverse=True)
    inc = np.unique(inv.astype(np.int64) * n + other)
    s = sender[inc // n] % n
    pair, w = np.unique(s * n + inc % n, return_counts=True)
    keep = w >= min_weight
    pair = pair[keep]
    return pair // n, pair % n, w[keep].astype(np.int64)


def _actions(msgs: CntMessages, kind: str) -> tuple[list[Any], I64]:
    """Keys and message indices of the actions of one network type."""
    keys: list[Any] = []
    idx: list[int] = []
    if kind == "co_retweet":
        for i, r in enumerate(msgs.repost_id):
            if r is not None:
                keys.append(r)
                idx.append(i)
    elif kind == "co_reply":
        for i, (r, p) in enumerate(zip(msgs.repost_id, msgs.reply_id, strict=True)):
            if r is None and p is not None:
                keys.append(p)
                idx.append(i)
    elif kind == "co_tweet":
        for i, (r, text) in enumerate(zip(msgs.repost_id, msgs.message, strict=True)):
            if r is None:
                keys.append(cotweet_text(text))
                idx.append(i)
    elif kind == "co_post":
        keys = [""] * len(msgs)
        idx = list(range(len(msgs)))
    else:  # pragma: no cover - CntParams validates the type
        raise ValueError(kind)
    return keys, np.asarray(idx, dtype=np.int64)


def cnt_network(msgs: CntMessages, params: CntParams) -> pa.Table:
    """The toolkit's edge list for ``params.type``: ``source, target, weight, edge_type``.

    Rows are sorted by source then target (the toolkit's order is arbitrary).
    """
    codes, accounts = _encode([*msgs.user_id, *msgs.link_user])
    acct_codes = codes[: len(msgs)]
    n_acct = max(len(accounts), 1)
    window = float(params.time_window)
    if params.type == "co_similar_tweet":
        src, m, other = _similar_pairs(msgs, acct_codes, params)
    elif params.type == "co_link":
        # Link rows carry their own account and time (see CntMessages.from_rows).
        index = {mid: i for i, mid in enumerate(msgs.message_id)}
        link_msg = np.fromiter((index[x] for x in msgs.link_message), dtype=np.int64,
                               count=len(msgs.link_message))
        key_codes, _ = _encode(msgs.link_url)
        src, m, other = _directed_pairs(key_codes, np.asarray(msgs.link_time, np.float64),
                                        codes[len(msgs):], link_msg, window)
    else:
        keys, idx = _actions(msgs, params.type)
        key_codes, _ = _encode(keys)
        src, m, other = _directed_pairs(key_codes, msgs.timestamp[idx], acct_codes[idx],
                                        idx, window)
    src, dst, w = _weights(src, m, other, n_acct, params.min_edge_weight)
    names = np.asarray(accounts, dtype=object)
    table = pa.table({
        "source": pa.array(names[src].tolist() if src.size else [], pa.string()),
        "target": pa.array(names[dst].tolist() if dst.size else [], pa.string()),
        "weight": pa.array(w, pa.int64()),
        "edge_type": pa.array([params.type] * int(w.size), pa.string()),
    }, schema=EDGE_SCHEMA)
    return table.sort_by([("source", "ascending"), ("target", "ascending")])


# -- co_similar_tweet: prefix filtering + exact verification ----------------------------


@njit(cache=True, nogil=True)
def _overlap(indptr: I64, tokens: I64, a: I64, b: I64) -> I64:  # pragma: no cover
    out = np.zeros(a.shape[0], dtype=np.int64)
    for k in range(a.shape[0]):
        i, ie = indptr[a[k]], indptr[a[k] + 1]
        j, je = indptr[b[k]], indptr[b[k] + 1]
        c = 0
        while i < ie and j < je:
            x = tokens[i]
            y = tokens[j]
            if x == y:
                c += 1
                i += 1
                j += 1
            elif x < y:
                i += 1
            else:
                j += 1
        out[k] = c
    return out


def _similar_pairs(msgs: CntMessages, acct_codes: I64, params: CntParams
                   ) -> tuple[I64, I64, I64]:
    thr = float(params.similarity_threshold)
    window = float(params.time_window)
    min_size = max(1, int(params.min_document_size))
    docs: list[int] = []
    sets: list[frozenset[str]] = []
    for i, (r, text) in enumerate(zip(msgs.repost_id, msgs.message, strict=True)):
        if r is None:
            s = token_set(text)
            if len(s) >= min_size:
                docs.append(i)
                sets.append(s)
    empty = np.zeros(0, dtype=np.int64)
    if len(docs) < 2:
        return empty, empty.copy(), empty.copy()
    # Global token order: rarest first (ties by text), so prefixes hold rare tokens.
    df: dict[str, int] = {}
    for s in sets:
        for tok in s:
            df[tok] = df.get(tok, 0) + 1
    rank = {tok: r for r, tok in enumerate(sorted(df, key=lambda x: (df[x], x)))}
    sizes = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    tokens = np.empty(int(indptr[-1]), dtype=np.int64)
    for d, s in enumerate(sets):
        tokens[indptr[d]:indptr[d + 1]] = np.sort(np.fromiter((rank[x] for x in s),
                                                              dtype=np.int64, count=len(s)))
    # Prefix length for Jaccard >= t (t lowered a hair so float rounding never prunes).
    t_low = thr * (1 - 1e-9)
    prefix = sizes - np.ceil(t_low * sizes).astype(np.int64) + 1
    prefix = np.clip(prefix, 1, sizes)
    doc_arr = np.asarray(docs, dtype=np.int64)
    p_doc = np.repeat(np.arange(len(sets), dtype=np.int64), prefix)
    starts = np.repeat(indptr[:-1], prefix)
    offs = np.arange(p_doc.size, dtype=np.int64) - np.repeat(np.cumsum(prefix) - prefix, prefix)
    p_tok = tokens[starts + offs]
    p_t = msgs.timestamp[doc_arr[p_doc]]
    p_acct = acct_codes[doc_arr[p_doc]]
    t_us = np.round(p_t * 1e6).astype(np.int64)
    w_us = math.floor(window * 1e6) + _slack_us(p_t, window)
    perm = sort_actions(p_tok, t_us, p_acct.astype(np.int32))
    ii, jj = sweep_pairs(p_tok[perm], t_us[perm], p_acct[perm].astype(np.int32), w_us)
    da = p_doc[perm[ii]]
    db = p_doc[perm[jj]]
    del ii, jj
    lo = np.minimum(da, db)
    hi = np.maximum(da, db)
    cand = np.unique(lo * np.int64(len(sets)) + hi)
    a = cand // len(sets)
    b = cand % len(sets)
    # size filter, then exact Jaccard as the toolkit computes it (float division)
    na = sizes[a]
    nb = sizes[b]
    ok = np.minimum(na, nb) >= t_low * np.maximum(na, nb)
    a, b, na, nb = a[ok], b[ok], na[ok], nb[ok]
    inter = _overlap(indptr, tokens, a, b)
    jac = inter / (na + nb - inter)
    ok = jac >= thr
    ma = doc_arr[a[ok]]
    mb = doc_arr[b[ok]]
    return _both_ways(ma, mb, msgs.timestamp, acct_codes,
                      np.arange(len(msgs), dtype=np.int64), window)
