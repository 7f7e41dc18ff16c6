"""The ingest driver: files in, canonical rows out, one transaction per file."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from echoscope import progress, schema
from echoscope.errors import InputError
from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.ingest._io import STREAM_ERRORS, open_input, peek_head

if TYPE_CHECKING:  # DuckDB loads on first ingest: format detection alone does not need it
    from echoscope.workspace import Workspace

__all__ = ["FileResult", "IngestSummary", "detect_format", "ingest_files"]

BATCH_ROWS = 50_000
#: use a loader's SQL fast path when it has one (tests switch it off to compare)
FAST_PATH = os.environ.get("ECHOSCOPE_NO_FAST_PATH", "") == ""
_BROKEN: tuple[type[BaseException], ...] = (UnicodeDecodeError, *STREAM_ERRORS)


@dataclass
class FileResult:
    path: str
    format: str
    sha256: str
    records: int = 0
    posts: int = 0
    new_posts: int = 0
    skipped: int = 0
    rejects: int = 0
    already_ingested: bool = False
    #: set when every record was rejected (probably the wrong format)
    warning: str | None = None
    reject_reasons: dict[str, int] = field(default_factory=dict)
    skip_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class IngestSummary:
    workspace: str
    files: list[FileResult] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def new_posts(self) -> int:
        return sum(f.new_posts for f in self.files)

    @property
    def rejects(self) -> int:
        return sum(f.rejects for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "records": self.records,
            "new_posts": self.new_posts,
            "rejects": self.rejects,
            "files": [asdict(f) for f in self.files],
        }


def _loaders() -> list[Loader]:
    from echoscope.ingest import LOADERS

    return [cls() for cls in LOADERS]  # type: ignore[operator]


def detect_format(head: bytes, filename: str) -> str:
    """The name of the loader most confident it can read a stream starting with ``head``."""
    from echoscope.ingest import LOADERS

    if not head.strip():
        raise InputError(f"{filename} is empty.", path=filename)
    scored = sorted(
        ((loader.sniff(head, filename), loader.name) for loader in _loaders()),
        reverse=True,
    )
    best, name = scored[0] if scored else (0.0, "")
    if best <= 0:
        raise InputError(
            f"cannot tell the format of {filename}; pass --format with one of: "
            f"{', '.join(LOADERS.names())}.",
            path=filename,
        )
    return name


@contextlib.contextmanager
def _spooled_stdin(tmpdir: str | None) -> Iterator[str]:
    """Copy stdin to a temporary file so it can be hashed, sniffed and re-read."""
    import sys

    fd, name = tempfile.mkstemp(prefix="echoscope-stdin-", dir=tmpdir)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        yield name
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def ingest_files(
    paths: Sequence[str | os.PathLike[str]],
    workspace: Workspace | str | os.PathLike[str],
    *,
    format: str | None = None,
    strict: bool = False,
    column_map: Mapping[str, str] | None = None,
    platform: str | None = None,
    users_file: str | None = None,
) -> IngestSummary:
    """Ingest files into a workspace: idempotent, incremental, one transaction per file.

    A file whose bytes were ingested before adds nothing; posts already present (same
    platform and post id) are not added again. Bad records go to ``rejects`` (or raise
    :class:`~echoscope.errors.RecordError` with ``strict=True``).
    """
    from echoscope.ingest import LOADERS

    if format is not None:
        LOADERS.get(format)  # validate early
    if not paths:
        raise InputError("no input files given.")
    for p in paths:
        ps = str(p)
        if ps != "-" and not os.path.exists(ps):
            raise InputError(f"{ps}: no such file.", path=ps)
        if ps != "-" and os.path.isdir(ps):
            raise InputError(f"{ps} is a folder; give the files inside it.", path=ps)
        if ps != "-" and os.path.getsize(ps) == 0:
            raise InputError(f"{ps} is empty.", path=ps)
    from echoscope.workspace import Workspace

    own = not isinstance(workspace, Workspace)
    ws: Workspace = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    options = LoadOptions(
        column_map=dict(column_map or {}), platform=platform, strict=strict,
        users_file=users_file,
    )
    summary = IngestSummary(workspace=ws.path)
    cap = os.environ.get("ECHOSCOPE_INGEST_MEMORY_LIMIT", INGEST_MEMORY_LIMIT)
    try:
        with ws.capped_memory(cap), ws.run(
            "ingest",
            params={"format": format, "strict": strict, "column_map": dict(column_map or {}),
                    "platform": platform, "users_file": users_file},
            inputs=[],  # filled below with the hashes ingest computes anyway
        ) as run:
            for p in paths:
                ps = str(p)
                with run.timed(f"ingest:{ps}"):
                    if ps == "-":
                        with _spooled_stdin(None) as tmp:
                            res = _ingest_one(ws, tmp, "-", format, options, run.run_id)
                    else:
                        res = _ingest_one(ws, ps, ps, format, options, run.run_id)
                summary.files.append(res)
                run.inputs.append({"path": ps, "sha256": res.sha256, "format": res.format})
            run.count("records", summary.records)
            run.count("new_posts", summary.new_posts)
            run.count("rejects", summary.rejects)
    finally:
        if own:
            ws.close()
    return summary


#: DuckDB memory cap during ingest (it spills to the workspace's temp folder beyond it),
#: so a file of any size streams in bounded memory; ECHOSCOPE_INGEST_MEMORY_LIMIT changes it
INGEST_MEMORY_LIMIT = "1GiB"


def _ingest_one(
    ws: Workspace, path: str, display: str, fmt: str | None, options: LoadOptions, run_id: str
) -> FileResult:
    from echoscope.ingest import LOADERS
    from echoscope.workspace import file_sha256

    size = os.path.getsize(path)
    sha_of: Callable[[], str]
    hasher: _Hasher | None = None
    if ws.scalar("SELECT count(*) FROM files WHERE bytes = ?", [size]):
        # a file of this size was ingested before: maybe this one; hash it first
        sha = file_sha256(path)
        done = ws.scalar("SELECT format FROM files WHERE file_sha256 = ?", [sha])
        if done is not None:
            progress.info(f"{display}: already ingested (same content), nothing added.")
            return FileResult(path=display, format=str(done), sha256=sha,
                              already_ingested=True)
        sha_of = functools.partial(str, sha)
    else:
        # new content for sure: hash on another thread while the loader reads (hashlib
        # releases the GIL), wanted only when rows are written
        hasher = _Hasher(path)
        hasher.start()
        sha_of = hasher.result
    stream = open_input(path)
    sink: Sink | None = None
    try:
        try:
            head, stream = peek_head(stream, name=display)
        except STREAM_ERRORS as e:
            raise InputError(f"{display}: cannot be read ({e}).", path=display) from None
        if not head.strip():
            raise InputError(f"{display} is empty.", path=display)
        if fmt:
            name = fmt
        elif options.column_map:
            name = "parquet" if head.startswith(b"PAR1") else "csv"
        else:
            name = detect_format(head, display)
        loader: Loader = LOADERS.get(name)()  # type: ignore[operator]
        sink = Sink(display, name, strict=options.strict)
        stage = f"_stage_posts_{uuid.uuid4().hex[:8]}"
        result = FileResult(path=display, format=name, sha256="")
        with ws.transaction() as con, progress.task(f"ingest {Path(display).name}", total=size) as bar:
            con.execute(schema.ddl(schema.TABLES["posts"], name=stage))
            # (before the loader: a fast path may insert posts while it reads)
            before = ws.count("posts")
            flusher = _Flusher(ws, sink, stage, sha_of)
            sink_post = sink.post

            def post(**kw: Any) -> None:
                sink_post(**kw)
                if len(sink.post_rows) >= BATCH_ROWS:
                    flusher.flush()
                    bar.update(description=f"ingest {Path(display).name} ({sink.records:,} records)")

            sink.post = post  # type: ignore[method-assign]
            try:
                fast = getattr(loader, "load_fast", None)
                if not (FAST_PATH and fast is not None
                        and fast(con, path, stage, sink, options)):
                    loader.load(stream, sink, options)
            except _BROKEN as e:
                # A broken stream (truncated gzip, unreadable bytes) after some records:
                # keep what was read, record the break as a reject.
                sink.reject(sink.records + 1, b"", f"stream broken: {e}")
            flusher.flush()
            result.records = sink.records
            result.posts = sink.n_posts
            result.skipped = sink.n_skipped
            result.rejects = sink.n_rejects
            result.reject_reasons = dict(sink.reject_reasons)
            result.skip_reasons = dict(sink.skip_reasons)
            cols = ", ".join(f'"{c}"' for c in schema.TABLES["posts"].columns)
            if sink.fast_posts:
                _insert_with_spill(con, stage, sink.fast_posts, cols)
            else:
                con.execute(
                    f"""
                    INSERT INTO posts ({cols})
                    SELECT {cols} FROM "{stage}" s
                    WHERE s.rowid IN (
                        -- the first record of each post id (narrow: no wide rows sorted)
                        SELECT arg_min(rowid, struct_pack(r := source_record, i := rowid))
                        FROM "{stage}" GROUP BY platform, post_id)
                    AND NOT EXISTS (
                        SELECT 1 FROM posts p
                        WHERE p.platform = s.platform AND p.post_id = s.post_id)
                    """
                )
            result.new_posts = ws.count("posts") - before
            result.sha256 = sha_of()
            con.execute(f'DROP TABLE "{stage}"')
            _merge_accounts(ws, sink)
            con.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [result.sha256, display, name, size, result.records, result.posts, result.new_posts,
                 result.skipped, result.rejects,
                 dt.datetime.now(dt.UTC).replace(tzinfo=None), run_id],
            )
            bar.advance(size)
    finally:
        stream.close()
        if hasher is not None:
            hasher.stop.set()  # only when this file failed: the hash is done otherwise
        for d in sink.temp_dirs if sink is not None else ():
            shutil.rmtree(d, ignore_errors=True)
    if result.rejects and result.rejects == result.records:
        result.warning = (
            f"none of the {result.records:,} records of {display} could be read as {name} "
            f"(first problem: {next(iter(result.reject_reasons), '?')}); is it the right "
            "format? Pass --format with one of: " + ", ".join(LOADERS.names()) + "."
        )
        progress.info(result.warning)
    elif result.rejects:
        progress.info(
            f"{display}: {result.rejects:,} of {result.records:,} records rejected "
            f"({', '.join(f'{k}: {v}' for k, v in result.reject_reasons.items())}); "
            "see them with `echoscope info --rejects`."
        )
    return result


class _Hasher(threading.Thread):
    """SHA-256 of a file on a thread of its own (``Workspace.file_sha256``'s value)."""

    def __init__(self, path: str) -> None:
        super().__init__(name="echoscope-sha256", daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.sha: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            h = hashlib.sha256()
            with open(self.path, "rb") as f:
                while (b := f.read(1 << 20)) and not self.stop.is_set():
                    h.update(b)
            self.sha = h.hexdigest()
        except BaseException as e:  # handed to the caller of result()
            self.error = e

    def result(self) -> str:
        self.join()
        if self.error is not None:
            raise self.error
        assert self.sha is not None and not self.stop.is_set()
        return self.sha


def _insert_with_spill(con: Any, stage: str, files: list[str], cols: str) -> None:
    """Insert the stage table's rows and those of Arrow stream ``files`` into ``posts``.

    The same rule as the stage-only insert: the first record of each post id, and only
    post ids not in ``posts`` yet. A fast path's rows go from its files straight into
    ``posts`` (each file is read twice, as a stream each time: once for the first
    record of each post id, once for the rows), instead of being copied into the stage
    table first; one post per record, so (post id, record) names one row. When the
    numbers the fast path keeps beside its files show that no post id recurs (and the
    stage table is empty), every row is the first of its id and each file is read once.
    """
    views: list[str] = []
    opened: list[Any] = []
    # No post id recurs among the files' rows and the stage table is empty (the usual
    # case): each row is the first record of its post id, so the group-by is skipped.
    unique = _ids_unique(files) and not _scalar(con, f'SELECT count(*) FROM "{stage}"')

    def union(what: str) -> str:
        parts = [f'SELECT {what} FROM "{stage}"']
        for f in files:
            src = pa.OSFile(f)
            opened.append(src)
            view = f"_spill_posts_{uuid.uuid4().hex[:8]}"
            con.register(view, pa.ipc.open_stream(src))
            views.append(view)
            parts.append(f'SELECT {what} FROM "{view}"')
        return " UNION ALL ".join(parts)

    try:
        first = "" if unique else f"""(s.platform, s.post_id, s.source_record) IN (
                SELECT platform, post_id, min(source_record)
                FROM ({union("platform, post_id, source_record")})
                GROUP BY platform, post_id)
            AND"""
        con.execute(f"""
            INSERT INTO posts ({cols})
            SELECT {cols} FROM ({union(cols)}) s
            WHERE {first} NOT EXISTS (
                SELECT 1 FROM posts p WHERE p.platform = s.platform AND p.post_id = s.post_id)
        """)
    finally:
        for view in views:
            with contextlib.suppress(Exception):
                con.unregister(view)
        for src in opened:
            src.close()


def _scalar(con: Any, sql: str) -> Any:
    return con.execute(sql).fetchall()[0][0]


def _ids_unique(files: list[str]) -> bool:
    """Whether the post ids of the spill ``files`` are all distinct, from the numbers the
    fast path wrote beside each (False when a file has none: ids that are not numbers)."""
    from echoscope.ingest._v1_struct import IDS_SUFFIX

    parts = []
    for f in files:
        try:
            parts.append(np.fromfile(f + IDS_SUFFIX, dtype=np.uint64))
        except OSError:
            return False
    if not parts:
        return False
    ids = np.sort(np.concatenate(parts))
    return not bool((ids[1:] == ids[:-1]).any())


class _Flusher:
    def __init__(self, ws: Workspace, sink: Sink, stage: str,
                 sha_of: Callable[[], str]) -> None:
        self.ws = ws
        self.sink = sink
        self.stage = stage
        self.sha_of = sha_of

    def flush(self) -> None:
        sink = self.sink
        if sink.post_rows:
            table = posts_table(sink.post_rows, sink.source_file)
            sink.post_rows = []
            self.ws._insert(self.stage, table)
        if sink.reject_rows:
            recs, reasons, raws = zip(*sink.reject_rows, strict=True)
            n = len(recs)
            table = pa.table(
                {
                    "source_file": pa.array([sink.source_file] * n, pa.string()),
                    "source_record": pa.array(recs, pa.int64()),
                    "format": pa.array([sink.format] * n, pa.string()),
                    "reason": pa.array(reasons, pa.string()),
                    "raw": pa.array(raws, pa.binary()),
                    "file_sha256": pa.array([self.sha_of()] * n, pa.string()),
                }
            )
            sink.reject_rows = []
            self.ws.append("rejects", table, stage="ingest")


_POST_SCHEMA = schema.TABLES["posts"].schema


def posts_table(rows: list[tuple[Any, ...]], source_file: str) -> pa.Table:
    """Arrow ``posts`` table from Sink rows (Sink.POST_COLUMNS order)."""
    cols = list(zip(*rows, strict=True))
    data: dict[str, pa.Array] = {}
    for name, values in zip(Sink.POST_COLUMNS, cols, strict=True):
        data[name] = pa.array(values, type=_POST_SCHEMA.field(name).type)
    data["source_file"] = pa.array([source_file] * len(rows), pa.string())
    return pa.table(data).select(_POST_SCHEMA.names)


_PROF = ["handle", "display_name", "created_at", "followers", "following", "posts_count",
         "description", "profile_image_url"]


# The order of fast-path snapshots: those with a time (by time) after those without, then
# by line (2n for the author of line n, 2n+1 for its parent's author), as one HUGEINT
# (2.6x cheaper for arg_max than a struct of the three); times are years 1-9999 (at most
# 2^58 microseconds either side of 1970), so null sorts below them all, and 2^40 orders
# fit the line.
_SNAP_KEY = ("(CASE WHEN seen IS NULL THEN -4611686018427387904 ELSE epoch_us(seen) END)"
             "::HUGEINT * 1099511627776 + line")


def _fast_snapshots(tables: list[str]) -> tuple[str, str]:
    """SQL of per-account rows and handle rows from fast-path snapshot tables."""
    snaps = " UNION ALL ".join(f'SELECT * FROM "{t}"' for t in tables)
    fields = ", ".join(f"arg_max({c}, k) FILTER (WHERE {c} IS NOT NULL) AS {c}" for c in _PROF)
    acc = f"""
        SELECT 'twitter' AS platform, account_id, {fields},
               min(seen) AS first_seen, max(seen) AS last_seen, max(seen) AS _seen
        FROM (SELECT *, {_SNAP_KEY} AS k FROM ({snaps}))
        GROUP BY account_id"""
    handles = f"""
        SELECT 'twitter' AS platform, account_id, handle, display_name,
               min(seen) AS first_seen, max(seen) AS last_seen
        FROM ({snaps}) WHERE handle IS NOT NULL OR display_name IS NOT NULL
        GROUP BY ALL"""
    return acc, handles


def _merge_accounts(ws: Workspace, sink: Sink) -> None:
    if not sink.accounts and not sink.fast_accounts:
        return
    rows = []
    for (plat, aid), (prof, seen, first, last, _order) in sink.accounts.items():
        rows.append((plat, aid, *prof, first, last, seen))
    names = ["platform", "account_id", *_PROF, "first_seen", "last_seen", "_seen"]
    types = [pa.string(), pa.string(), pa.string(), pa.string(), schema.TS, pa.int64(),
             pa.int64(), pa.int64(), pa.string(), pa.string(), schema.TS, schema.TS, schema.TS]
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    new = pa.table({n: pa.array(list(c), t) for n, c, t in zip(names, cols, types, strict=True)})
    ws.con.register("_new_accounts_py", new)
    try:
        if sink.fast_accounts:
            fast_acc = _fast_snapshots(sink.fast_accounts)[0]
            fields = ", ".join(f"arg_max({c}, _seen) FILTER (WHERE {c} IS NOT NULL) AS {c}"
                               for c in _PROF)
            ws.con.execute(f"""
                CREATE TEMP TABLE _new_accounts AS
                SELECT platform, account_id, {fields}, min(first_seen) AS first_seen,
                       max(last_seen) AS last_seen, max(_seen) AS _seen
                FROM (SELECT * FROM _new_accounts_py UNION ALL {fast_acc})
                GROUP BY platform, account_id""")
        else:
            ws.con.execute("CREATE TEMP TABLE _new_accounts AS SELECT * FROM _new_accounts_py")
    finally:
        ws.con.unregister("_new_accounts_py")
    try:
        prof_cols = ["handle", "display_name", "created_at", "followers", "following",
                     "posts_count", "description", "profile_image_url"]
        # The newer snapshot wins each profile field, the other fills its gaps.
        pick = ",\n".join(
            f"CASE WHEN o.last_seen IS NULL OR n.last_seen >= o.last_seen "
            f"THEN coalesce(n.{c}, o.{c}) ELSE coalesce(o.{c}, n.{c}) END AS {c}"
            for c in prof_cols
        )
        merged = f"""
            SELECT n.platform, n.account_id, {pick},
                   CASE WHEN o.first_seen IS NULL THEN n.first_seen
                        WHEN n.first_seen IS NULL THEN o.first_seen
                        ELSE least(n.first_seen, o.first_seen) END AS first_seen,
                   CASE WHEN o.last_seen IS NULL THEN n.last_seen
                        WHEN n.last_seen IS NULL THEN o.last_seen
                        ELSE greatest(n.last_seen, o.last_seen) END AS last_seen
            FROM _new_accounts n
            LEFT JOIN accounts o ON o.platform = n.platform AND o.account_id = n.account_id
        """
        ws.con.execute(f"CREATE TEMP TABLE _merged_accounts AS {merged}")
        ws.con.execute(
            "DELETE FROM accounts WHERE (platform, account_id) IN "
            "(SELECT platform, account_id FROM _new_accounts)"
        )
        ws.con.execute("INSERT INTO accounts SELECT * FROM _merged_accounts")
        ws.con.execute("DROP TABLE _merged_accounts")
    finally:
        ws.con.execute("DROP TABLE IF EXISTS _new_accounts")
    # handle history
    hrows = [(p, a, h, d, f, la) for (p, a, h, d), (f, la) in sink.handles.items()]
    if hrows or sink.fast_accounts:
        hn = ["platform", "account_id", "handle", "display_name", "first_seen", "last_seen"]
        hc: list[Any] = list(zip(*hrows, strict=True)) if hrows else [[] for _ in hn]
        ht = [pa.string()] * 4 + [schema.TS, schema.TS]
        hnew = pa.table({n: pa.array(list(c), t) for n, c, t in zip(hn, hc, ht, strict=True)})
        ws.con.register("_new_handles_py", hnew)
        extra = (" UNION ALL " + _fast_snapshots(sink.fast_accounts)[1]
                 if sink.fast_accounts else "")
        ws.con.execute("CREATE TEMP TABLE _new_handles AS SELECT * FROM _new_handles_py"
                       + extra)
        ws.con.unregister("_new_handles_py")
        try:
            ws.con.execute(
                """
                CREATE TEMP TABLE _merged_handles AS
                SELECT platform, account_id, handle, display_name,
                       min(first_seen) AS first_seen, max(last_seen) AS last_seen
                FROM (SELECT * FROM account_handles WHERE (platform, account_id) IN
                        (SELECT platform, account_id FROM _new_handles)
                      UNION ALL SELECT * FROM _new_handles)
                GROUP BY ALL
                """
            )
            ws.con.execute(
                "DELETE FROM account_handles WHERE (platform, account_id) IN "
                "(SELECT platform, account_id FROM _new_handles)"
            )
            ws.con.execute("INSERT INTO account_handles SELECT * FROM _merged_handles")
            ws.con.execute("DROP TABLE _merged_handles")
        finally:
            ws.con.execute("DROP TABLE IF EXISTS _new_handles")
    for t in sink.fast_accounts:
        ws.con.execute(f'DROP TABLE IF EXISTS "{t}"')
