"""Engines: where the heavy stages (actions, co-action edges) run.

``duckdb`` (the default) is the embedded single-machine code (:mod:`echoscope.actions`,
:mod:`echoscope.detect.coaction`). ``spark`` runs the same stages on Apache Spark through
PySpark (:mod:`echoscope.engines.spark`) with identical results; clustering of the account
graph runs on the driver in both. Every engine offers the workspace stages with the
signatures of :func:`echoscope.actions.build_actions` and
:func:`echoscope.detect.coaction.detect_edges`, and the pure Arrow cores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: `--help` does not load Arrow
    import pyarrow as pa

from echoscope.errors import ParameterError

__all__ = ["ENGINES", "DuckDBEngine", "Engine", "get_engine"]

ENGINES: tuple[str, ...] = ("duckdb", "spark")


class Engine(Protocol):
    """What the pipeline needs from an engine."""

    name: str

    def actions(self, posts: pa.Table, params: Any = None) -> pa.Table: ...

    def edges(self, actions: pa.Table, params: Any = None, *,
              stats: dict[str, Any] | None = None) -> pa.Table: ...

    def build_actions(self, ws: Any, params: Any = None, *, log: Any = None) -> int: ...

    def detect_edges(self, ws: Any, params: Any = None, *, log: Any = None) -> pa.Table: ...


class DuckDBEngine:
    """The embedded default: the single-machine functions, unchanged."""

    name = "duckdb"

    def actions(self, posts: pa.Table, params: Any = None) -> pa.Table:
        from echoscope.actions import actions_from_posts

        return actions_from_posts(posts, params)

    def edges(self, actions: pa.Table, params: Any = None, *,
              stats: dict[str, Any] | None = None) -> pa.Table:
        from echoscope.detect.coaction import DetectParams, coaction_edges

        p = params or DetectParams()
        return coaction_edges(actions, p, p.seed, stats=stats)

    def build_actions(self, ws: Any, params: Any = None, *, log: Any = None) -> int:
        from echoscope.actions import build_actions

        return build_actions(ws, params, log=log)

    def detect_edges(self, ws: Any, params: Any = None, *, log: Any = None) -> pa.Table:
        from echoscope.detect.coaction import detect_edges

        return detect_edges(ws, params, log=log)


def get_engine(name: str = "duckdb", spark_master: str | None = None) -> Engine:
    """The engine called ``name`` ("duckdb" or "spark").

    ``spark_master`` (Spark only) is the master URL, default ``local[*]``; an active
    SparkSession (e.g. under ``spark-submit``) is reused.
    """
    if name == "duckdb":
        if spark_master is not None:
            raise ParameterError("--spark-master is only meaningful with --engine spark.")
        return DuckDBEngine()
    if name == "spark":
        from echoscope.engines.spark import SparkEngine

        return SparkEngine(master=spark_master)
    raise ParameterError(f"engine = {name!r} is not one of {', '.join(ENGINES)}.")
