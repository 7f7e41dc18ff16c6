"""Reports people act on: the HTML report, exports and the local web UI.

- :func:`write_report` writes one self-contained HTML file (opens offline).
- :func:`echoscope.report.exports.export` writes GEXF/GraphML networks and CSV/Parquet/JSON
  tables; :func:`write_gexf` is the Gephi network.
- :mod:`echoscope.report.serve` is the read-only local web UI.
"""

from __future__ import annotations

from echoscope.report.exports import ExportParams, export, write_gexf, write_graphml

__all__ = ["ExportParams", "export", "write_gexf", "write_graphml"]
