"""The workspace: one DuckDB file per investigation.

It holds the canonical tables of :mod:`echoscope.schema`, a ``meta`` table (schema version,
echoscope version, creation time) and the run log (``runs``). A workspace written by an
incompatible schema version is refused with a message saying what to do.

>>> with Workspace(":memory:") as ws:
...     ws.count("posts")
0
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform as _platform
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from echoscope import schema
from echoscope.errors import EngineError, WorkspaceError

__all__ = ["RunLog", "Workspace", "default_memory_limit", "file_sha256", "library_versions"]

_VERSION_KEY = "schema_version"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (as stored, before decompression)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of echoscope, Python and the libraries results depend on."""
    from importlib import metadata

    from echoscope import __version__

    out = {"echoscope": __version__, "python": _platform.python_version()}
    for dist in ("duckdb", "pyarrow", "polars", "numpy", "numba", "python-igraph",
                 "leidenalg", "datasketch", "pdqhash", "pyspark"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


class RunLog:
    """What one command did: counts and timings, written to ``runs`` when it ends."""

    def __init__(self, run_id: str, command: str) -> None:
        self.run_id = run_id
        self.command = command
        self.counts: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.params: dict[str, Any] = {}
        self.inputs: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Time a stage: ``with run.timed("detect"): ...``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = round(self.timings.get(stage, 0.0) + time.perf_counter() - t0, 4)

    def count(self, name: str, value: Any) -> None:
        self.counts[name] = value


class Workspace:
    """An investigation's DuckDB database with the canonical tables.

    ``Workspace(path)`` opens or creates the file; ``Workspace(":memory:")`` is a throwaway
    one. Use it as a context manager so the file is closed (and unlocked) at the end.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = str(path)
        self.in_memory = self.path == ":memory:"
        if not self.in_memory:
            p = Path(self.path)
            if p.is_dir():
                raise WorkspaceError(
                    f"{self.path} is a folder; give a workspace file name such as "
                    f"{p / 'case.echoscope.duckdb'}."
                )
            if not p.exists() and (not create or read_only):
                raise WorkspaceError(
                    f"workspace {self.path} does not exist; create it with "
                    f"`echoscope ingest FILE... --workspace {self.path}`."
                )
            if not p.parent.exists():
                if read_only:
                    raise WorkspaceError(f"folder {p.parent} does not exist.")
                p.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "memory_limit": (memory_limit or os.environ.get("ECHOSCOPE_MEMORY_LIMIT")
                             or default_memory_limit()),
        }
        if threads:
            config["threads"] = threads
        try:
            self.con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.IOException as e:
            msg = str(e)
            if "lock" in msg.lower():
                raise WorkspaceError(
                    f"workspace {self.path} is in use by another echoscope process; "
                    "wait for it to finish or use another workspace."
                ) from None
            raise WorkspaceError(f"cannot open workspace {self.path}: {msg}") from None
        except duckdb.Error as e:
            if "memory" in str(e).lower():
                raise WorkspaceError(
                    f"memory limit {config['memory_limit']!r} (ECHOSCOPE_MEMORY_LIMIT or "
                    f"memory_limit) is not a valid DuckDB memory size such as '4GB': {e}"
                ) from None
            raise WorkspaceError(
                f"{self.path} is not an echoscope workspace (a DuckDB file): {e}"
            ) from None
        # the limit as configured and as DuckDB shows it (rounded), to restore it exactly
        self._memory_limit = (str(config["memory_limit"]),
                              str(self.scalar("SELECT current_setting('memory_limit')")))
        if not self.in_memory:
            tmp = os.environ.get("ECHOSCOPE_TEMP_DIR") or self.path + ".tmp"
            with contextlib.suppress(duckdb.Error):
                self.con.execute(f"SET temp_directory = '{_sql_str(str(tmp))}'")
        self.read_only = read_only
        try:
            self._init_schema()
        except BaseException:
            self.close()  # a refused workspace must not stay open (and locked)
            raise

    def engine_settings(self) -> dict[str, Any]:
        """DuckDB's memory limit, spill folder and threads for this workspace (run.json)."""
        names = ("memory_limit", "temp_directory", "threads")
        rows = self.con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE list_contains(?, name)",
            [list(names)]).fetchall()
        return {str(k): v for k, v in rows}

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()

    def __repr__(self) -> str:
        return f"Workspace({self.path!r})"

    # -- schema --------------------------------------------------------------------
    def _init_schema(self) -> None:
        from echoscope import __version__

        con = self.con
        has_meta = bool(
            self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'")
        )
        if has_meta:
            value = self.scalar("SELECT value FROM meta WHERE key = ?", [_VERSION_KEY])
            found = int(value) if value is not None else None
            if found != schema.SCHEMA_VERSION:
                raise WorkspaceError(
                    f"workspace {self.path} has schema version {found}, but this echoscope "
                    f"({__version__}) uses version {schema.SCHEMA_VERSION}. Re-ingest your "
                    "input files into a new workspace (`echoscope ingest FILE... --workspace "
                    "NEW.echoscope.duckdb`), or use the echoscope version that wrote it."
                )
        else:
            tables = self.scalar("SELECT count(*) FROM information_schema.tables")
            if tables and not self.in_memory:
                raise WorkspaceError(
                    f"{self.path} is a DuckDB file but not an echoscope workspace "
                    "(it has no meta table); choose another file name."
                )
            if self.read_only:
                raise WorkspaceError(f"{self.path} is empty; ingest data into it first.")
        if self.read_only:
            return
        con.execute("BEGIN")
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        if not has_meta:
            con.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    (_VERSION_KEY, str(schema.SCHEMA_VERSION)),
                    ("echoscope_version", __version__),
                    ("created_at", _now().isoformat()),
                ],
            )
        for table in schema.TABLES.values():
            con.execute(schema.ddl(table))
        con.execute("COMMIT")

    def ensure_table(self, name: str) -> None:
        """Create a declared table if an older workspace lacks it, and add the declared
        columns it lacks (NULL in its rows): a column added to a stage-output table
        within one schema version (e.g. ``campaign_members.joined_by``)."""
        if self.read_only:
            return
        table = schema.TABLES[name]
        self.con.execute(schema.ddl(table))
        have = {r[0] for r in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [name]).fetchall()}
        for f in table.schema:
            if f.name not in have:
                self.con.execute(
                    f'ALTER TABLE "{name}" ADD COLUMN "{f.name}" {schema.duck_type(f.type)}')

    # -- data access ---------------------------------------------------------------
    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pa.Table:
        """Run a query and return an Arrow table."""
        try:
            rel = self.con.sql(query, params=params) if params else self.con.sql(query)
            return rel.to_arrow_table() if rel is not None else pa.table({})
        except duckdb.Error as e:
            raise EngineError(f"DuckDB query failed: {e}") from e

    def scalar(self, query: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.con.execute(query, params).fetchall()
        return rows[0][0] if rows else None

    def table(self, name: str) -> pa.Table:
        """A canonical table as Arrow, checked against its schema."""
        return schema.check(name, self.sql(f'SELECT * FROM "{name}"'), stage="workspace")

    def count(self, name: str) -> int:
        return int(self.scalar(f'SELECT count(*) FROM "{name}"'))

    def replace(self, name: str, data: pa.Table, *, stage: str = "") -> int:
        """Replace a stage-output table's rows with ``data`` (checked), atomically."""
        data = schema.check(name, data, stage=stage)
        with self.transaction():
            self.con.execute(f'DELETE FROM "{name}"')
            self._insert(name, data)
        return int(data.num_rows)

    def append(self, name: str, data: pa.Table, *, stage: str = "") -> int:
        """Append checked rows to a table (inside the caller's transaction, if any)."""
        data = schema.check(name, data, stage=stage)
        self._insert(name, data)
        return int(data.num_rows)

    def _insert(self, name: str, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        cols = ", ".join(f'"{c}"' for c in data.column_names)
        # Read through DuckDB's replacement scan of this local variable, not a view made
        # with con.register(): inside a transaction a registered view keeps its Arrow
        # data (and more) alive until COMMIT even after unregister(), so a loop of
        # appends in one transaction (ingest, actions) would hold every batch it wrote
        # (docs/scale.md, "Memory and 10M posts").
        _echoscope_arrow_in = data  # read by the SQL below (replacement scan)
        self.con.execute(
            f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM _echoscope_arrow_in')

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN … COMMIT, or ROLLBACK on any exception (including Ctrl-C)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            with contextlib.suppress(Exception):
                self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    @contextlib.contextmanager
    def capped_memory(self, cap: str = "1GiB") -> Iterator[None]:
        """Lower DuckDB's memory limit to ``cap`` for a block (never raise it), then
        restore it. Lowering the limit makes DuckDB drop its cached pages at once (spilling
        temporary data), so a stage's NumPy phase (MinHash signatures, co-action sweeps)
        does not sit on top of a full DuckDB cache; queries inside the block spill beyond
        ``cap``. Results do not depend on the limit."""
        current = str(self.scalar("SELECT current_setting('memory_limit')"))
        cur_b, cap_b = _memory_bytes(current), _memory_bytes(cap)
        if cur_b is None or cap_b is None or cur_b <= cap_b:
            yield
            return
        configured, shown = self._memory_limit
        restore = configured if current == shown else current
        self.con.execute(f"SET memory_limit = '{int(cap_b)}B'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{_sql_str(restore)}'")

    # -- meta and run log ------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return {k: v for k, v in self.con.execute("SELECT key, value FROM meta").fetchall()}

    def set_meta(self, key: str, value: str) -> None:
        self.con.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    @contextlib.contextmanager
    def run(
        self,
        command: str,
        params: Mapping[str, Any] | None = None,
        inputs: Sequence[str | os.PathLike[str]] = (),
    ) -> Iterator[RunLog]:
        """Record a command in the run log: parameters, input hashes, counts, timings.

        The row is written when the block ends, with status ok, failed or interrupted.
        """
        from echoscope import __version__

        log = RunLog(uuid.uuid4().hex[:12], command)
        log.params = dict(params or {})
        for p in inputs:
            ps = str(p)
            entry: dict[str, Any] = {"path": ps}
            if ps != "-" and os.path.isfile(ps):
                entry["sha256"] = file_sha256(ps)
                entry["bytes"] = os.path.getsize(ps)
            log.inputs.append(entry)
        started = _now()
        status = "ok"
        try:
            yield log
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except BaseException:
            status = "failed"
            raise
        finally:
            if not self.read_only:
                with contextlib.suppress(Exception):
                    self.con.execute(
                        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            log.run_id, command, __version__, started, _now(), status,
                            _json(log.params), _json(log.inputs), _json(log.counts),
                            _json(log.timings), _json(library_versions()),
                        ],
                    )

    def runs(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.sql("SELECT * FROM runs ORDER BY started_at").to_pylist()
        for r in rows:
            for k in ("params", "inputs", "counts", "timings", "versions"):
                r[k] = json.loads(r[k]) if r[k] else None
        return rows


def default_memory_limit() -> str:
    """DuckDB memory limit when neither the caller nor ``ECHOSCOPE_MEMORY_LIMIT`` sets one:
    half the machine's RAM, at most 2 GiB. DuckDB's own default (80% of RAM) lets one
    workspace take most of a shared machine; above the limit DuckDB spills to the
    workspace's ``.tmp`` folder instead. The Python side (MinHash signatures, detect's
    pair arrays) needs the rest of the 8 GB budget at 10M posts (docs/scale.md)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 8 << 30
    return f"{max(256, min(ram // 2, 2 << 30) >> 20)}MiB"


_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10,
          "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _memory_bytes(setting: str) -> float | None:
    """Bytes of a DuckDB memory size such as ``1.8 GiB``, ``2048MiB`` or ``4GB``."""
    text = setting.strip().lower().replace("bytes", "b").replace(" ", "")
    num = text.rstrip("kmgtib")
    try:
        return float(num) * _UNITS[text[len(num):] or "b"]
    except (ValueError, KeyError):
        return None


def _json(v: Any) -> str:
    return json.dumps(v, default=str, sort_keys=True)


def _sql_str(s: str) -> str:
    return s.replace("'", "''")
