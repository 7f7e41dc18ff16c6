"""One co-action network from input files or a workspace (the ``network`` command).

:func:`network` has three modes:

* ``compat="cnt"``: coordination-network-toolkit 1.5.2's edge list for one of its
  network types (``co_retweet``, ``co_tweet``, ``co_similar_tweet``, ``co_link``,
  ``co_reply``, ``co_post``), exactly; see :mod:`echoscope.detect.compat_cnt`;
* ``compat="coortweet"``: CooRTweet 2.1.3's coordinated network; see
  :mod:`echoscope.detect.compat_coortweet`;
* ``compat=None``: echoscope's own co-action network of one action type (``co_repost``,
  ``co_text``, ``co_url``, ...): pairs of accounts acting on the same keys within the
  window, with distinct keys, pairs and delays per account pair.

Inputs are files in any format echoscope reads (the compat modes read a toolkit CSV,
a CooRTweet CSV or Twitter v1.1 JSON directly, as the peers do) or an existing
workspace.

>>> edges = network(["tweets.csv"], compat="cnt", type="co_retweet",
...                 window=60, min_edge_weight=2)          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from echoscope.errors import InputError, ParameterError
from echoscope.params import Params, choice, limit

if TYPE_CHECKING:  # DuckDB is loaded only when a workspace is used (not by --compat cnt)
    from echoscope.workspace import Workspace

__all__ = [
    "COMPAT_MODES",
    "DEFAULT_TYPES",
    "NetworkParams",
    "default_network",
    "network",
    "networks",
    "parse_types",
    "write_edges_csv",
]

COMPAT_MODES = ("cnt", "coortweet")
#: default-mode network types -> action types (see :mod:`echoscope.actions`)
DEFAULT_TYPES: dict[str, str] = {
    "co_repost": "repost", "co_retweet": "repost", "co_reply": "reply", "co_quote": "quote",
    "co_text": "text", "co_near_text": "near_text", "co_url": "url", "co_link": "url",
    "co_domain": "domain", "co_hashtag": "hashtag", "co_hashtag_set": "hashtag_set",
    "co_media": "media", "co_mention": "mention",
}
_JSON_FORMATS = ("twitter-v1", "twitter-v2")


@dataclass(frozen=True)
class NetworkParams(Params):
    """Default mode: one action type, one window."""

    type: str = field(default="co_repost", metadata=choice(*DEFAULT_TYPES))
    window: float = field(default=60.0, metadata=limit(0, 366 * 86400, "seconds"))
    min_keys: int = field(
        default=2, metadata=limit(1, 1_000_000, "keys", "minimum distinct keys per pair"))
    alpha: float = field(
        default=0.05, metadata=limit(0, 1, "", "false-discovery rate; 1 keeps every pair"))
    null: str = field(default="configuration",
                      metadata=choice("configuration", "shift", "none"))


def _task(description: str) -> Any:
    """:func:`echoscope.progress.task`, or nothing when progress was never loaded (then it
    is off; loading it for nothing would import rich)."""
    mod = sys.modules.get("echoscope.progress")
    return mod.task(description) if mod is not None else contextlib.nullcontext()


# The toolkit CSV's header line (ingest.cnt_csv.COLUMNS; a test checks that format
# detection names this header cnt-csv): recognised without loading every ingest loader.
_CNT_HEADER = b"message_id,user_id,username,repost_id,reply_id,message,timestamp,urls"


def _is_cnt_csv(path: str) -> bool:
    """Whether ``path`` is an uncompressed file starting with the toolkit CSV's header."""
    try:
        with open(path, "rb") as f:
            first = f.readline(len(_CNT_HEADER) + 8)
    except OSError:
        return False
    return first.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n") == _CNT_HEADER


def _detect(path: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    if path == "-":
        raise InputError("the network command needs a file, not stdin (-), for compat modes.")
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file.", path=path)
    if _is_cnt_csv(path):
        return "cnt-csv"
    from echoscope.ingest import detect_format
    from echoscope.ingest._io import open_input, peek_head

    stream = open_input(path)
    try:
        head, stream = peek_head(stream)
    finally:
        stream.close()
    return detect_format(head, path)


def _posts(ws: Workspace) -> pa.Table:
    return ws.sql(
        """
        SELECT p.*, coalesce(f.format, '') AS _format
        FROM posts p LEFT JOIN (SELECT path, any_value(format) AS format FROM files
                                GROUP BY path) f
          ON f.path = p.source_file
        ORDER BY p.source_file, p.source_record
        """
    )


def _ingested(paths: Sequence[str], fmt: str | None, platform: str | None) -> pa.Table:
    from echoscope.ingest import ingest_files
    from echoscope.workspace import Workspace

    with Workspace(":memory:") as ws:
        ingest_files(list(paths), ws, format=fmt, platform=platform)
        return _posts(ws)


def _ws_posts(workspace: Workspace | str | os.PathLike[str]) -> pa.Table:
    from echoscope.workspace import Workspace

    if isinstance(workspace, Workspace):
        return _posts(workspace)
    with Workspace(workspace, create=False, read_only=True) as ws:
        return _posts(ws)


def network(
    inputs: Sequence[str | os.PathLike[str]] = (),
    *,
    type: str | None = None,
    compat: str | None = None,
    window: float | None = None,
    min_edge_weight: int = 2,
    similarity_threshold: float = 0.8,
    min_document_size: int = 1,
    min_participation: int = 2,
    edge_weight: float = 0.5,
    min_keys: int = 2,
    alpha: float = 0.05,
    null: str = "configuration",
    workspace: Workspace | str | os.PathLike[str] | None = None,
    format: str | None = None,
    platform: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> pa.Table:
    """One network as an Arrow table (columns depend on the mode; see the module doc).

    Give ``inputs`` (files) or ``workspace``; ``window`` is in seconds and required.
    ``engine="spark"`` computes it on Spark (docs/spark.md; the compat modes' pair sweep).
    """
    paths, window = _checked_inputs(inputs, workspace, window)
    pairs_ctx = _pairs_context(engine, spark_master) if compat is not None else \
        contextlib.nullcontext()
    if compat == "cnt":
        from echoscope.detect.compat_cnt import CntParams, cnt_network

        params = CntParams(type=type or "co_retweet", time_window=window,
                           min_edge_weight=min_edge_weight,
                           similarity_threshold=similarity_threshold,
                           min_document_size=min_document_size)
        msgs = _cnt_messages(paths, workspace, format, platform, [params.type])
        with _task(f"{params.type} network (coordination-network-toolkit)"), pairs_ctx:
            return cnt_network(msgs, params)
    if compat == "coortweet":
        from echoscope.detect.compat_coortweet import CoortweetParams, coortweet_network

        if type not in (None, "co_retweet", "co_repost", "co_share"):
            raise ParameterError(
                f"--type {type} does not apply to --compat coortweet, which links accounts "
                "sharing the same objects (object_id).")
        cparams = CoortweetParams(time_window=window, min_participation=min_participation,
                                  edge_weight=edge_weight)
        shares = _coortweet_shares(paths, workspace, format, platform)
        with _task("coordinated network (CooRTweet)"), pairs_ctx:
            return coortweet_network(shares, cparams)
    if compat is not None:
        raise ParameterError(f"--compat {compat!r} is not one of: {', '.join(COMPAT_MODES)}.")
    nparams = NetworkParams(type=type or "co_repost", window=window, min_keys=min_keys,
                            alpha=alpha, null=null)
    posts = _ws_posts(workspace) if workspace is not None else _ingested(paths, format, platform)
    if engine != "duckdb" or spark_master is not None:
        from echoscope.engines import get_engine

        return default_network(posts, nparams, engine=get_engine(engine, spark_master))
    return default_network(posts, nparams)


def parse_types(values: str | Sequence[str] | None) -> list[str]:
    """Network types from ``--type`` values: each may be a comma list (``"a,b"``);
    blanks are skipped and repeats dropped, the first occurrence keeping its place."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for v in items:
        for t in str(v).split(","):
            t = t.strip()
            if t and t not in out:
                out.append(t)
    return out


def networks(
    inputs: Sequence[str | os.PathLike[str]] = (),
    *,
    types: Sequence[str],
    compat: str = "cnt",
    window: float | None = None,
    min_edge_weight: int = 2,
    similarity_threshold: float = 0.8,
    min_document_size: int = 1,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    format: str | None = None,
    platform: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    threads: int = 2,
) -> dict[str, pa.Table]:
    """Several coordination-network-toolkit networks of one input: ``{type: edges}``.

    The input is read once (only the columns the ``types`` need) and the networks are
    computed together on up to ``threads`` threads
    (:func:`echoscope.detect.compat_cnt.cnt_networks`: a second thread only from 4M
    messages, where it was measured to pay); each table equals
    ``network(inputs, compat="cnt", type=t, ...)``. Only ``compat="cnt"`` has several
    network types.

    >>> tables = networks(["tweets.csv"], types=["co_retweet", "co_tweet"],
    ...                   window=60, min_edge_weight=2)        # doctest: +SKIP
    """
    kinds = parse_types(types)
    if compat != "cnt":
        raise ParameterError(
            f"several network types are computed together only with --compat cnt, "
            f"not {compat!r}.")
    if not kinds:
        raise ParameterError("give at least one network type (--type).")
    paths, window = _checked_inputs(inputs, workspace, window)
    from echoscope.detect.compat_cnt import CntParams, cnt_networks

    params = [CntParams(type=t, time_window=window, min_edge_weight=min_edge_weight,
                        similarity_threshold=similarity_threshold,
                        min_document_size=min_document_size) for t in kinds]
    pairs_ctx = _pairs_context(engine, spark_master)
    msgs = _cnt_messages(paths, workspace, format, platform, kinds)
    with _task(f"{', '.join(kinds)} networks (coordination-network-toolkit)"), pairs_ctx:
        tables = cnt_networks(msgs, params, threads=threads)
    return dict(zip(kinds, tables, strict=True))


def _checked_inputs(inputs: Sequence[str | os.PathLike[str]], workspace: Any,
                    window: float | None) -> tuple[list[str], float]:
    """The input paths as strings and the window, after the checks every mode shares."""
    paths = [str(p) for p in inputs]
    if not paths and workspace is None:
        raise InputError("give input files or a workspace (-w).")
    if paths and workspace is not None:
        raise ParameterError("give input files or a workspace (-w), not both.")
    if window is None:
        raise ParameterError(
            "the time window is required (--time-window SECONDS): the peers' defaults differ "
            "(coordination-network-toolkit's CLI uses 1 s, its README says 60 s).")
    return paths, window


def _pairs_context(engine: str, spark_master: str | None) -> Any:
    """Where the compat modes' pair sweep runs: here (a no-op context) or on Spark."""
    if engine == "duckdb" and spark_master is None:
        return contextlib.nullcontext()
    from echoscope.engines import get_engine
    from echoscope.engines.compat import pairs_on

    return pairs_on(get_engine(engine, spark_master))


def _cnt_messages(paths: list[str], workspace: Any, fmt: str | None,
                  platform: str | None, net_types: list[str]) -> Any:
    from echoscope.detect import compat_cnt as cc

    if workspace is not None:
        posts = _ws_posts(workspace)
        return cc.messages_from_posts(posts, snowflake_time=_snowflake_flags(posts))
    parts = []
    for p in paths:
        f = _detect(p, fmt)
        if f == "cnt-csv":
            parts.append(cc.messages_from_cnt_csv(p, types=net_types))
        elif f == "twitter-v1":
            parts.append(cc.messages_from_twitter_json(p))
        else:
            posts = _ingested([p], f, platform)
            parts.append(cc.messages_from_posts(posts, snowflake_time=_snowflake_flags(posts)))
    return cc.CntMessages.concat(parts)


def _snowflake_flags(posts: pa.Table) -> list[bool]:
    fmts = posts["_format"].to_pylist() if "_format" in posts.column_names else [""] * len(posts)
    plats = posts["platform"].to_pylist()
    return [f in _JSON_FORMATS and p == "twitter" for f, p in zip(fmts, plats, strict=True)]


def _coortweet_shares(paths: list[str], workspace: Any, fmt: str | None,
                      platform: str | None) -> Any:
    from echoscope.detect import compat_coortweet as ct

    if workspace is not None:
        return ct.shares_from_posts(_ws_posts(workspace))
    parts = []
    for p in paths:
        f = _detect(p, fmt)
        if f == "coortweet-csv":
            parts.append(ct.shares_from_csv(p))
        else:
            parts.append(ct.shares_from_posts(_ingested([p], f, platform)))
    if len(parts) == 1:
        return parts[0]
    return ct.Shares(
        [x for s in parts for x in s.object_id], [x for s in parts for x in s.account_id],
        [x for s in parts for x in s.content_id],
        np.concatenate([s.timestamp for s in parts]))


# -- default mode ----------------------------------------------------------------------


def default_network(posts: pa.Table, params: NetworkParams, *, engine: Any = None) -> pa.Table:
    """echoscope's co-action network of one type from canonical posts (``edges`` table).

    Actions of the one type (:func:`echoscope.actions.actions_from_posts`), then the
    default-mode detector (:func:`echoscope.detect.coaction.coaction_edges`) with a single
    window: per unordered account pair, distinct keys, pairs, delays, rarity weight,
    p-value and q-value; pairs kept at ``min_keys`` keys and q-value <= ``alpha``.
    """
    import pyarrow.compute as pc

    from echoscope.actions import ActionParams, actions_from_posts
    from echoscope.detect.coaction import DetectParams, coaction_edges

    action_type = DEFAULT_TYPES[params.type]
    ap = ActionParams(types=(action_type,))
    acts = engine.actions(posts, ap) if engine is not None else actions_from_posts(posts, ap)
    acts = acts.filter(pc.equal(acts["type"], action_type))
    dp = DetectParams(types=(action_type,), window=float(params.window),
                      min_keys=params.min_keys, alpha=params.alpha, null=params.null)
    if engine is not None:  # an echoscope.engines engine (Spark): identical edges
        return engine.edges(acts, dp)
    return coaction_edges(acts, dp)


# -- output ----------------------------------------------------------------------------


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if v != v:
            return "NA"
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    return str(v)


def write_edges_csv(table: pa.Table, path: str | os.PathLike[str] | None,
                    *, quote_all: bool = False) -> int:
    """Write an edge table as CSV to ``path`` (``None`` or ``-`` = stdout); returns rows.

    ``quote_all`` quotes every cell, as the toolkit's ``output_gephi_csv`` does. Numbers
    are written as R and the toolkit write them (``7``, not ``7.0``).
    """
    out: IO[str]
    to_stdout = path is None or str(path) == "-"
    out = sys.stdout if to_stdout else open(path, "w", newline="", encoding="utf-8")  # type: ignore[arg-type]  # noqa: SIM115
    try:
        w = csv.writer(out, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
                       lineterminator="\n")
        w.writerow(table.column_names)
        cols = [table[c].to_pylist() for c in table.column_names]
        for row in zip(*cols, strict=True):
            w.writerow([_cell(v) for v in row])
    finally:
        if not to_stdout:
            out.close()
        else:
            out.flush()
    return int(table.num_rows)
