"""The main job: files in, campaigns and evidence out (``echoscope analyze``).

:func:`analyze` runs every stage on one workspace and writes the results to a folder::

    ingest -> actions -> detect -> cluster -> signals -> score -> bank -> report

Each stage is one public function of its own module; the pipeline only calls them in
order, times them in the run log (``ws.run("analyze", ...)``) and records in ``run.json``
which stages ran. A stage whose module is not installed in this build is recorded as
``missing`` and writes nothing (no fake output). ``score`` re-runs the clustering step
after ``signals`` so that the campaign scores include the members' behavioural signals;
campaign ids do not change (see :mod:`echoscope.cluster`).

Files written to ``out_dir``:

=================  =========================================================================
file               content
=================  =========================================================================
accounts.csv       one row per account seen: account_id, handle, flagged (true/false),
                   campaign_id, score (the campaign's), n_<type> for every action type
                   (distinct accounts it shares an edge of that type with that is
                   significant on its own or a tie inside its campaign)
campaigns.csv      the ``campaigns`` table (signals joined by ``|``)
evidence.csv       the ``campaign_evidence`` table (top shared keys of each campaign)
edges.csv/.parquet the ``edges`` table (every edge the detector tested, with p- and
                   q-values) plus ``significant`` (true when the edge is significant on its
                   own: :func:`~echoscope.cluster.significant_edges`) and ``campaign_id``
                   (set when the edge is a tie inside that campaign)
network.gexf       the account network for Gephi (report's exporter)
report.html        the HTML report, when the report stage is available
run.json           parameters, input sha256, versions, counts, timings, stages
=================  =========================================================================

``flagged`` means: the account is a member of a campaign (a cluster of at least
``min_size`` accounts tied by significant co-action). An account with strong ties to only
one other account is not flagged; its edges are in ``edges.csv``.

CSV strings that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with ``'``: handles and texts are
attacker-controlled.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from echoscope import progress
from echoscope.cluster import (
    ACTION_TYPES,
    ClusterParams,
    ClusterResult,
    find_campaigns,
    rescore_campaigns,
    significant_edges,
    tie_edges,
)
from echoscope.errors import InputError, ParameterError, UserError
from echoscope.params import Params, limit
from echoscope.workspace import RunLog, Workspace, file_sha256, library_versions

__all__ = ["AnalyzeParams", "AnalyzeResult", "analyze", "detect", "write_outputs"]

_FORMULA = r"^[=+\-@\t\r]"


@dataclass(frozen=True)
class AnalyzeParams(Params):
    """Parameters of the main job.

    ``windows``: co-action windows in seconds; empty = the detector's default scales.
    ``auto_window``: let the detector pick, per action type, the window where co-action
    most exceeds its null model (``--window auto``). ``alpha``: false-discovery rate of
    edges.
    ``cluster``: campaign finding (:class:`~echoscope.cluster.ClusterParams`; its ``alpha``
    and ``seed`` are set from this object's).
    """

    windows: tuple[float, ...] = field(default=(), metadata=limit(
        0.0, 30 * 86400.0, "seconds", help="co-action windows; empty = detector default"))
    auto_window: bool = False
    alpha: float = field(default=0.05, metadata=limit(
        0.0, 1.0, help="false-discovery rate for edges"))
    seed: int = field(default=0, metadata=limit(0, 2**31 - 1, help="seed of every random step"))
    cluster: ClusterParams = field(default_factory=ClusterParams)

    def validate(self) -> None:
        if self.auto_window and self.windows:
            raise ParameterError("window 'auto' cannot be combined with windows in seconds.")

    def resolved_cluster(self) -> ClusterParams:
        """The cluster parameters with this alpha and seed; for the campaign test, enough
        rewired graphs to reach alpha (at least ``ceil(1/alpha) - 1``)."""
        c = self.cluster
        graphs = c.null_graphs
        if c.method == "group":
            if self.alpha < 1e-4:
                raise ParameterError(
                    f"alpha = {self.alpha} is below 0.0001, which the campaign test "
                    "(at most 10,000 rewired graphs) cannot reach; use a larger alpha or "
                    "the edge-level method.")
            graphs = max(graphs, math.ceil(1.0 / self.alpha - 1e-9) - 1)
        return c.replace(alpha=self.alpha, seed=self.seed, null_graphs=graphs)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["windows"] = "auto" if self.auto_window else (list(self.windows) or "default")
        d["cluster"] = self.resolved_cluster().to_dict()
        return d


@dataclass
class AnalyzeResult:
    """What :func:`analyze` did and wrote."""

    out_dir: Path
    workspace: Path
    run_id: str
    files: dict[str, Path] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def report(self) -> Path | None:
        return self.files.get("report")

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir), "workspace": str(self.workspace),
            "run_id": self.run_id, "files": {k: str(v) for k, v in self.files.items()},
            "stages": self.stages, "counts": self.counts,
        }


# -- optional stages ---------------------------------------------------------------------


def _optional(module: str, attr: str) -> Callable[..., Any] | None:
    """A stage function from a module of this build, or None if the module is absent.

    Only the module itself being absent counts as missing: an import error inside an
    existing module (a missing dependency) is raised.
    """
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and (module == e.name or module.startswith(e.name + ".")):
            return None
        raise
    fn = getattr(mod, attr, None)
    return fn if callable(fn) else None


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return name in sig.parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())


def _params_for(cls: Any, values: dict[str, Any]) -> Any:
    """An instance of a stage's Params class with those ``values`` it has a field for."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names and v is not None})


class _Stages:
    """Bookkeeping of which stages ran, for run.json and the run log."""

    def __init__(self, log: RunLog) -> None:
        self.log = log
        self.info: dict[str, dict[str, Any]] = {}

    def ran(self, name: str, t0: float, **extra: Any) -> None:
        secs = round(time.perf_counter() - t0, 4)
        _release_memory()
        self.log.timings[name] = secs  # (a stage that logs its own time is not counted twice)
        self.info[name] = {"status": "ran", "seconds": secs, **extra}

    def skip(self, name: str, status: str, note: str) -> None:
        self.info[name] = {"status": status, "note": note}
        progress.info(f"{name}: {note}")


def _release_memory() -> None:
    """Hand memory freed by a stage back to the system before the next stage: Arrow's
    allocator keeps freed pages for reuse, so a stage's peak would otherwise stay
    resident through every later stage (docs/scale.md)."""
    import gc

    gc.collect()
    pa.default_memory_pool().release_unused()


def _engine(name: str, spark_master: str | None) -> Any:
    """None for the embedded default, else the named engine (echoscope.engines)."""
    if name == "duckdb" and spark_master is None:
        return None
    from echoscope.engines import get_engine

    return get_engine(name, spark_master)


# -- the stages that re-run on an ingested workspace ------------------------------------


def _run_actions_detect(ws: Workspace, params: AnalyzeParams, st: _Stages,
                        engine: Any = None) -> None:
    # engine: an echoscope.engines engine (Spark...); None = the embedded default
    build_actions = (engine.build_actions if engine is not None
                     else _optional("echoscope.actions", "build_actions"))
    if build_actions is None:
        st.skip("actions", "missing", "echoscope.actions is not part of this build")
    else:
        t0 = time.perf_counter()
        kw: dict[str, Any] = {"log": st.log} if _accepts(build_actions, "log") else {}
        n = build_actions(ws, None, **kw)
        st.ran("actions", t0, rows=int(n) if isinstance(n, int) else ws.count("actions"))

    rekey = _optional("echoscope.media_keys", "rekey_media_actions")
    if rekey is not None and "actions" in st.info:
        # perceptual-hash keys of media files (analyze --media-dir; echoscope.media_keys)
        st.info["actions"]["media_rekeyed"] = int(rekey(ws))

    detect_edges = (engine.detect_edges if engine is not None
                    else _optional("echoscope.detect.coaction", "detect_edges"))
    detect_cls = _optional("echoscope.detect.coaction", "DetectParams")
    if detect_edges is None or detect_cls is None:
        st.skip("detect", "missing", "echoscope.detect.coaction is not part of this build; "
                "no edges and so no campaigns")
        return
    t0 = time.perf_counter()
    dp = _params_for(detect_cls, {
        "windows": params.windows or None,
        "window": "auto" if params.auto_window else None,
        # the campaign test needs the weak edges too: the detector keeps every tested edge
        # (with its p- and q-value) and the cluster stage applies the rules
        "alpha": 1.0 if params.cluster.method == "group" else params.alpha,
        "seed": params.seed,
    })
    kw = {"log": st.log} if _accepts(detect_edges, "log") else {}
    # the co-action sweeps are NumPy work: DuckDB's cache of the posts and actions read so
    # far is dropped (limit lowered for the stage, docs/scale.md) instead of held beside them
    with ws.capped_memory():
        detect_edges(ws, dp, **kw)
    st.ran("detect", t0, rows=ws.count("edges"), params=dp.to_dict())


def _run_cluster(ws: Workspace, params: AnalyzeParams, st: _Stages) -> ClusterResult:
    t0 = time.perf_counter()
    res = find_campaigns(ws, params.resolved_cluster())
    st.ran("cluster", t0, **res.to_dict())
    return res


def detect(workspace: Workspace | str | os.PathLike[str],
           params: AnalyzeParams | None = None, *, engine: str = "duckdb",
           spark_master: str | None = None) -> dict[str, Any]:
    """Re-run actions, detect and cluster on an ingested workspace (``echoscope detect``).

    Returns the stages record (as in ``run.json``). Needs ``posts`` from an earlier ingest.
    ``engine="spark"`` computes actions and edges on Spark (``spark_master``, default
    ``local[*]``; docs/spark.md); clustering runs here either way.
    """
    params = params or AnalyzeParams()
    eng = _engine(engine, spark_master)
    own = not isinstance(workspace, Workspace)
    if own and not Path(str(workspace)).exists():
        raise UserError(f"workspace {workspace} does not exist; ingest files into it first "
                        f"(`echoscope ingest FILE... -w {workspace}`).")
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    try:
        if ws.count("posts") == 0:
            raise UserError(f"workspace {ws.path} has no posts; ingest files into it first.")
        with ws.run("detect", params.to_dict()) as log:
            st = _Stages(log)
            _run_actions_detect(ws, params, st, eng)
            _run_cluster(ws, params, st)
            log.count("stages", st.info)
            return st.info
    finally:
        if own:
            ws.close()


# -- the main job ----------------------------------------------------------------------------


def _resolve_inputs(inputs: Sequence[str | os.PathLike[str]], sample: bool) -> list[str]:
    paths = [str(p) for p in inputs]
    if sample:
        sample_path = _optional("echoscope.simulate", "sample_path")
        if sample_path is None:
            raise UserError("--sample needs echoscope.simulate, which is not part of this "
                            "build; give input files instead.")
        sp = Path(sample_path())
        paths += [str(p) for p in sorted(sp.iterdir()) if p.is_file()] if sp.is_dir() \
            else [str(sp)]
    if not paths:
        raise InputError("no input files given (or use --sample for the bundled sample).")
    for p in paths:
        if p != "-" and not os.path.exists(p):
            raise InputError(f"{p}: no such file.", path=p)
        if os.path.isdir(p):
            raise InputError(f"{p} is a folder; give the files inside it.", path=p)
    return paths


def _default_workspace(out_dir: Path, inputs: list[str], sample: bool) -> Path:
    if sample:
        name = "sample"
    else:
        name = Path(inputs[0]).name.split(".")[0] if inputs[0] != "-" else "stdin"
    return out_dir / f"{name or 'analysis'}.echoscope.duckdb"


def analyze(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    workspace: str | os.PathLike[str] | None = None,
    format: str | None = None,
    suspended: str | os.PathLike[str] | None = None,
    banks: Sequence[str | os.PathLike[str]] = (),
    media_dir: str | os.PathLike[str] | None = None,
    params: AnalyzeParams | None = None,
    seed: int | None = None,
    sample: bool = False,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> AnalyzeResult:
    """Run every stage on ``inputs`` and write the results to ``out_dir``.

    ``workspace`` defaults to ``out_dir/<first input's name>.echoscope.duckdb``; an existing
    workspace is extended (ingest is idempotent) and its stage outputs are replaced.
    ``seed`` (when given) overrides ``params.seed``. ``sample=True`` adds the bundled
    sample data to the inputs (and its list of suspended accounts, unless ``suspended``
    is given). ``engine="spark"`` computes actions and edges on Spark (``spark_master``,
    default ``local[*]``; docs/spark.md).
    """
    params = params or AnalyzeParams()
    eng = _engine(engine, spark_master)
    if seed is not None:
        params = params.replace(seed=seed)
    paths = _resolve_inputs(inputs, sample)
    if sample and suspended is None:
        sample_dir = _optional("echoscope.simulate", "sample_dir")
        bundled = Path(sample_dir()) / "suspended.csv" if sample_dir is not None else None
        if bundled is not None and bundled.is_file():
            suspended = bundled
    for label, p in (("--suspended", suspended), ("--media-dir", media_dir)):
        if p is not None and not os.path.exists(p):
            raise InputError(f"{label} {p}: no such file or folder.", path=str(p))
    for b in banks:
        if not os.path.isfile(b):
            raise InputError(f"--bank {b}: no such file.", path=str(b))
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the results.")
    out.mkdir(parents=True, exist_ok=True)
    ws_path = Path(workspace) if workspace else _default_workspace(out, paths, sample)

    from echoscope.ingest import ingest_files

    started = dt.datetime.now(dt.UTC)
    with Workspace(ws_path) as ws:
        run_params = {**params.to_dict(), "format": format,
                      "suspended": str(suspended) if suspended else None,
                      "banks": [str(b) for b in banks],
                      "media_dir": str(media_dir) if media_dir else None, "sample": sample}
        with ws.run("analyze", run_params, paths) as log:
            st = _Stages(log)
            t0 = time.perf_counter()
            summary = ingest_files(paths, ws, format=format)
            st.ran("ingest", t0, records=summary.records, new_posts=summary.new_posts,
                   rejects=summary.rejects)
            if ws.count("posts") == 0:
                raise InputError(
                    "no posts could be read from the input"
                    + (f" ({summary.rejects:,} records rejected; see `echoscope info "
                       f"--rejects 20 -w {ws_path}`)" if summary.rejects else "") + ".")
            if media_dir is not None:
                _run_media_keys(ws, media_dir, st)
            _run_actions_detect(ws, params, st, eng)
            clustered = _run_cluster(ws, params, st)
            signal_files: dict[str, Path] = {}
            _run_signals(ws, out, suspended, st, signal_files)
            if st.info.get("signals", {}).get("status") == "ran":
                # the same campaigns, scored with the behavioural signals just written
                t0 = time.perf_counter()
                st.ran("score", t0, **rescore_campaigns(ws, clustered).to_dict())
            else:
                st.skip("score", "skipped", "scores computed by cluster (no signals to add)")
            _run_bank(ws, banks, media_dir, st)
            result = AnalyzeResult(out_dir=out, workspace=ws_path, run_id=log.run_id)
            t0 = time.perf_counter()
            result.files.update(signal_files)
            result.files.update(write_outputs(ws, out, params.resolved_cluster()))
            st.ran("outputs", t0)
            if banks:
                result.files["bank_matches.csv"] = out / "bank_matches.csv"
                _copy_csv(ws, ws.sql("SELECT * FROM bank_matches ORDER BY ALL"),
                          result.files["bank_matches.csv"])
            _run_report(ws, out, st, result, media_dir)
            counts = {name: ws.count(name) for name in (
                "posts", "accounts", "rejects", "actions", "edges", "campaigns",
                "campaign_members", "campaign_evidence")}
            counts["flagged_accounts"] = counts["campaign_members"]
            for k, v in counts.items():
                log.count(k, v)
            log.count("stages", st.info)
            result.stages = st.info
            result.counts = counts
            run_json = {
                "run_id": log.run_id,
                "command": "analyze",
                "started_at": started.isoformat(),
                "finished_at": dt.datetime.now(dt.UTC).isoformat(),
                "workspace": str(ws_path),
                "params": run_params,
                # the run log hashed the inputs already (a 2 GB file takes seconds)
                "inputs": ([dict(e) for e in log.inputs] if len(log.inputs) == len(paths)
                           else [_input_entry(p) for p in paths]),
                "versions": library_versions(),
                # DuckDB memory limit / spill folder (ECHOSCOPE_MEMORY_LIMIT, docs/scale.md)
                "engine": ws.engine_settings(),
                "counts": counts,
                "timings": dict(log.timings),
                "stages": st.info,
                "files": {k: str(v) for k, v in result.files.items()},
            }
            path = out / "run.json"
            path.write_text(json.dumps(run_json, indent=2, default=str) + "\n", "utf-8")
            result.files["run.json"] = path
    return result


def _input_entry(p: str) -> dict[str, Any]:
    if p == "-" or not os.path.isfile(p):
        return {"path": p}
    return {"path": p, "sha256": file_sha256(p), "bytes": os.path.getsize(p)}


def _run_signals(ws: Workspace, out: Path, suspended: str | os.PathLike[str] | None,
                 st: _Stages, files: dict[str, Path]) -> None:
    run_signals = _optional("echoscope.signals", "run_signals")
    if run_signals is None:
        if suspended is not None:
            raise UserError("--suspended needs echoscope.signals, which is not part of this "
                            "build.")
        st.skip("signals", "missing", "echoscope.signals is not part of this build")
        return
    t0 = time.perf_counter()
    kw: dict[str, Any] = {}
    if suspended is not None:
        kw["suspended"] = str(suspended)
    res = run_signals(ws, out, **kw)
    st.ran("signals", t0, **(dict(res) if isinstance(res, dict) else {}))
    if isinstance(res, dict):
        for name, path in (res.get("files") or {}).items():
            files[f"{name}.csv"] = Path(path)


def _run_media_keys(ws: Workspace, media_dir: str | os.PathLike[str], st: _Stages) -> None:
    build = _optional("echoscope.media_keys", "build_media_keys")
    if build is None:
        st.skip("media_keys", "missing", "echoscope.media_keys is not part of this build")
        return
    t0 = time.perf_counter()
    n = build(ws, media_dir, log=st.log)
    st.ran("media_keys", t0, rows=int(n))


def _run_bank(ws: Workspace, banks: Sequence[str | os.PathLike[str]],
              media_dir: str | os.PathLike[str] | None, st: _Stages) -> None:
    if not banks:
        st.skip("bank", "skipped", "no --bank given")
        return
    match = _optional("echoscope.bank", "match_workspace")
    if match is None:
        raise UserError("--bank needs echoscope.bank, which is not part of this build.")
    t0 = time.perf_counter()
    res = match(ws, [str(b) for b in banks], str(media_dir) if media_dir else None)
    st.ran("bank", t0, matches=res.num_rows if isinstance(res, pa.Table) else None)


def _run_report(ws: Workspace, out: Path, st: _Stages, result: AnalyzeResult,
                media_dir: str | os.PathLike[str] | None = None) -> None:
    write_report = _optional("echoscope.report", "write_report")
    if write_report is None:
        st.skip("report", "missing", "echoscope.report.write_report is not part of this build")
        return
    t0 = time.perf_counter()
    from echoscope.report import ReportParams

    rp = ReportParams(media_dir=str(media_dir)) if media_dir else None
    path = write_report(ws, out / "report.html", rp)
    result.files["report"] = Path(path) if path else out / "report.html"
    st.ran("report", t0)


# -- output files ----------------------------------------------------------------------------


def _copy_csv(ws: Workspace, data: pa.Table, path: Path) -> None:
    """Write an Arrow table as CSV with DuckDB, guarding formula-like strings."""
    view = f"_out_{uuid.uuid4().hex[:8]}"
    ws.con.register(view, data)
    try:
        cols = []
        for f in data.schema:
            q = f'"{f.name}"'
            if pa.types.is_list(f.type):
                q = f"array_to_string({q}, '|')"
            if pa.types.is_string(f.type) or pa.types.is_list(f.type):
                q = (f"CASE WHEN regexp_matches({q}, '{_FORMULA}') THEN '''' || {q} "
                     f"ELSE {q} END")
            cols.append(f'{q} AS "{f.name}"')
        dest = str(path).replace("'", "''")
        ws.con.execute(f"COPY (SELECT {', '.join(cols)} FROM {view}) TO '{dest}' "
                       "(FORMAT csv, HEADER true)").fetchall()
    finally:
        ws.con.unregister(view)


def _edges_out(ws: Workspace, cp: ClusterParams) -> pa.Table:
    """The edges table plus ``significant`` (edge-level rule) and ``campaign_id`` (the
    edge is a tie inside that campaign)."""
    edges = ws.table("edges")
    rows = pa.array(np.arange(edges.num_rows, dtype=np.int64))
    with_rows = edges.append_column("_row", rows)
    sig = significant_edges(with_rows, cp.alpha, cp.min_keys)
    mask = pc.is_in(rows, value_set=sig.column("_row").combine_chunks())
    ties = tie_edges(with_rows, cp)
    members = ws.sql("SELECT account_id, campaign_id FROM campaign_members")
    ids = members.column("account_id")
    ca = members.column("campaign_id").take(pc.index_in(ties.column("account_a"),
                                                        value_set=ids))
    cb = members.column("campaign_id").take(pc.index_in(ties.column("account_b"),
                                                        value_set=ids))
    same = pc.fill_null(pc.equal(ca, cb), False)
    inside = ties.column("_row").filter(same)
    cid = _campaign_of(rows, inside, ca.filter(same))
    return edges.append_column("significant", mask).append_column("campaign_id", cid)


def _campaign_of(rows: pa.Array, inside: Any, cids: Any) -> pa.Array:
    """campaign id per edge row (null where the row is not a campaign tie)."""
    out: list[str | None] = [None] * len(rows)
    for r, c in zip(inside.to_pylist(), cids.to_pylist(), strict=True):
        out[r] = c
    return pa.array(out, pa.string())


def _accounts_out(ws: Workspace, edges: pa.Table) -> pa.Table:
    view = f"_edges_{uuid.uuid4().hex[:8]}"
    evidence = pc.or_(edges.column("significant"), pc.is_valid(edges.column("campaign_id")))
    ws.con.register(view, edges.filter(evidence))
    per_type = ",\n".join(
        f"count(DISTINCT other) FILTER (WHERE type = '{t}') AS n_{t}" for t in ACTION_TYPES)
    try:
        return ws.sql(f"""
            WITH ids AS (
              SELECT account_id FROM accounts
              UNION SELECT account_id FROM posts
              UNION SELECT account_id FROM actions
            ),
            h AS (SELECT account_id, any_value(handle ORDER BY last_seen DESC NULLS LAST)
                         AS handle FROM accounts GROUP BY 1),
            e AS (SELECT account_a AS account_id, account_b AS other, type FROM {view}
                  UNION ALL SELECT account_b, account_a, type FROM {view}),
            n AS (SELECT account_id, {per_type} FROM e GROUP BY 1),
            m AS (SELECT m.account_id, min(m.campaign_id) AS campaign_id,
                         arg_min(m.joined_by, m.campaign_id) AS joined_by
                  FROM campaign_members m GROUP BY 1)
            SELECT ids.account_id, h.handle,
                   m.campaign_id IS NOT NULL AS flagged,
                   m.campaign_id, c.score, m.joined_by,
                   {", ".join(f"coalesce(n.n_{t}, 0) AS n_{t}" for t in ACTION_TYPES)}
            FROM ids
            LEFT JOIN h USING (account_id)
            LEFT JOIN m USING (account_id)
            LEFT JOIN campaigns c ON c.campaign_id = m.campaign_id
            LEFT JOIN n USING (account_id)
            WHERE ids.account_id IS NOT NULL
            ORDER BY flagged DESC, m.campaign_id, ids.account_id
        """)
    finally:
        ws.con.unregister(view)


def write_outputs(ws: Workspace, out_dir: str | os.PathLike[str],
                  cluster: ClusterParams | None = None) -> dict[str, Path]:
    """Write accounts.csv, campaigns.csv, evidence.csv, edges.csv/.parquet and network.gexf.

    ``cluster`` gives the rule of the ``significant`` column (default ClusterParams()).
    Returns the files written by name.
    """
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cp = cluster or ClusterParams()
    files: dict[str, Path] = {}
    with progress.task("outputs"):
        edges = _edges_out(ws, cp)
        files["edges.parquet"] = out / "edges.parquet"
        pq.write_table(edges, files["edges.parquet"], compression="zstd")
        files["edges.csv"] = out / "edges.csv"
        _copy_csv(ws, edges, files["edges.csv"])
        files["accounts.csv"] = out / "accounts.csv"
        _copy_csv(ws, _accounts_out(ws, edges), files["accounts.csv"])
        files["campaigns.csv"] = out / "campaigns.csv"
        _copy_csv(ws, ws.sql("SELECT * FROM campaigns ORDER BY campaign_id"),
                  files["campaigns.csv"])
        files["evidence.csv"] = out / "evidence.csv"
        _copy_csv(ws, ws.sql("SELECT * FROM campaign_evidence ORDER BY campaign_id, "
                             "n_accounts DESC, n_actions DESC, type, key"),
                  files["evidence.csv"])
        write_gexf = _optional("echoscope.report.exports", "write_gexf")
        if write_gexf is not None:
            files["network.gexf"] = Path(write_gexf(ws, out / "network.gexf"))
    return files
