"""Reports people act on: the HTML report, exports and the local web UI.

- :func:`write_report` writes one self-contained HTML file (opens offline) from a
  :class:`ReportContext` built by :func:`build_context`.
- :func:`export` writes GEXF/GraphML networks and CSV/Parquet/JSON tables;
  :func:`write_gexf` is the Gephi network.
- :func:`serve` runs the read-only local web UI (:mod:`echoscope.report.serve`).
"""

from __future__ import annotations

from typing import Any

from echoscope.report.context import ReportContext, ReportParams, build_context
from echoscope.report.exports import ExportParams, export, write_gexf, write_graphml
from echoscope.report.render import render_report, write_report

__all__ = [
    "ExportParams",
    "ReportContext",
    "ReportParams",
    "build_context",
    "export",
    "render_report",
    "serve",
    "write_gexf",
    "write_graphml",
    "write_report",
]


def serve(*args: Any, **kwargs: Any) -> None:
    """Run the local web UI (see :func:`echoscope.report.serve.serve`)."""
    from echoscope.report.serve import serve as _serve

    _serve(*args, **kwargs)
