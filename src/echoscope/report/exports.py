"""Exports: networks for Gephi (GEXF 1.3, GraphML) and tables (CSV, Parquet, JSON).

>>> from echoscope.report.exports import export
>>> export(ws, "gexf", "case.gexf")                  # doctest: +SKIP
>>> export(ws, "parquet", "tables/")                 # doctest: +SKIP

Network exports have one node per account that has an edge or belongs to a campaign
(attributes: handle, display_name, platform, campaign_id, score, strength, degree,
n_posts) and one edge per (account pair, action type): when a pair has the same type at
several windows, the strongest row is kept and the number of windows is recorded. Edge
attributes: type, window, n_keys, n_pairs, min_delay, median_delay, weight, p_value,
q_value, n_windows. Missing values (no campaign, NaN p-value) are left out rather than
written as a fake number.

Every string is attacker-controlled: it is XML-escaped by the writer, and characters
that XML 1.0 forbids (control characters, lone surrogates, U+FFFE/FFFF) are replaced by
U+FFFD so the file always parses.

Table exports write one file per table into a folder with DuckDB's ``COPY``. In CSV,
strings that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with ``'`` unless ``csv_formula_guard`` is
off — see docs/report.md.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from echoscope import schema
from echoscope.errors import ParameterError, UserError
from echoscope.params import Params, choice, limit
from echoscope.workspace import Workspace

__all__ = [
    "DEFAULT_TABLES",
    "FORMATS",
    "ExportParams",
    "export",
    "network_tables",
    "write_gexf",
    "write_graphml",
    "write_tables",
    "xml_safe",
]

FORMATS = ("gexf", "graphml", "csv", "parquet", "json")

#: Tables exported by default (``actions`` is derived and large: ask for it by name).
DEFAULT_TABLES = (
    "posts", "accounts", "account_handles", "rejects", "files", "runs", "edges",
    "campaigns", "campaign_members", "campaign_evidence",
    "account_signals", "hashtag_signals", "reincarnations", "bank_matches",
)


@dataclass(frozen=True)
class ExportParams(Params):
    """What to export.

    ``tables``: table names for csv/parquet/json (empty = :data:`DEFAULT_TABLES` that exist).
    ``min_weight``: network exports keep edges with weight ≥ this.
    ``max_edges``: network exports keep at most this many edges (strongest first; 0 = all).
    """

    tables: tuple[str, ...] = ()
    min_weight: float = field(default=0.0, metadata=limit(0, None, "", "minimum edge weight"))
    max_edges: int = field(default=0, metadata=limit(0, None, "edges", "0 = all edges"))
    csv_formula_guard: bool = True
    compression: str = field(default="zstd", metadata=choice("zstd", "snappy", "none"))


# -- XML helpers -------------------------------------------------------------------------

_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(s: str) -> str:
    """Replace the characters XML 1.0 forbids with U+FFFD (escaping is the writer's job)."""
    return _XML_BAD.sub("\ufffd", s)


# -- the network as two tables ---------------------------------------------------------

NODE_ATTRS: tuple[tuple[str, str], ...] = (
    ("handle", "string"),
    ("display_name", "string"),
    ("platform", "string"),
    ("campaign_id", "string"),
    ("score", "double"),
    ("strength", "double"),
    ("degree", "long"),
    ("n_posts", "long"),
)
EDGE_ATTRS: tuple[tuple[str, str], ...] = (
    ("type", "string"),
    ("window", "double"),
    ("n_keys", "long"),
    ("n_pairs", "long"),
    ("min_delay", "double"),
    ("median_delay", "double"),
    ("weight", "double"),
    ("p_value", "double"),
    ("q_value", "double"),
    ("n_windows", "long"),
)


def network_tables(
    ws: Workspace, *, min_weight: float = 0.0, max_edges: int = 0
) -> tuple[pa.Table, pa.Table]:
    """The account network as (nodes, edges) Arrow tables, as written by the exports.

    Edges: one row per (account_a, account_b, type), the strongest window's row, sorted by
    weight (descending) then ids; ``max_edges`` > 0 keeps only the strongest. Nodes: every
    account on a kept edge or in a campaign, with its best campaign (highest score).
    """
    limit_sql = f"LIMIT {int(max_edges)}" if max_edges > 0 else ""
    edges = ws.sql(
        f"""
        WITH ranked AS (
          SELECT *, row_number() OVER (
                   PARTITION BY account_a, account_b, type
                   ORDER BY weight DESC NULLS LAST, "window") AS rn,
                 count(*) OVER (PARTITION BY account_a, account_b, type) AS n_windows
          FROM edges WHERE coalesce(weight, 0) >= ?
        )
        SELECT account_a AS source, account_b AS target, type, "window", n_keys, n_pairs,
               min_delay, median_delay, weight, p_value, q_value, n_windows
        FROM ranked WHERE rn = 1
        ORDER BY weight DESC NULLS LAST, source, target, type
        {limit_sql}
        """,
        [float(min_weight)],
    )
    ws.con.register("_echoscope_export_edges", edges)
    try:
        nodes = ws.sql(
            """
            WITH ids AS (
              SELECT source AS account_id FROM _echoscope_export_edges
              UNION SELECT target FROM _echoscope_export_edges
              UNION SELECT account_id FROM campaign_members
            ),
            best AS (
              SELECT m.account_id, m.campaign_id, c.score, m.strength, m.degree,
                     row_number() OVER (PARTITION BY m.account_id
                                        ORDER BY c.score DESC NULLS LAST, m.campaign_id) AS rn
              FROM campaign_members m LEFT JOIN campaigns c USING (campaign_id)
            ),
            acc AS (
              SELECT account_id, any_value(handle) AS handle,
                     any_value(display_name) AS display_name,
                     any_value(platform) AS platform
              FROM accounts GROUP BY account_id
            ),
            np AS (
              SELECT account_id, count(*) AS n_posts FROM posts
              WHERE account_id IN (SELECT account_id FROM ids) GROUP BY account_id
            )
            SELECT ids.account_id AS id, acc.handle, acc.display_name, acc.platform,
                   best.campaign_id, best.score, best.strength, best.degree,
                   coalesce(np.n_posts, 0) AS n_posts
            FROM ids
            LEFT JOIN acc USING (account_id)
            LEFT JOIN (SELECT * FROM best WHERE rn = 1) best USING (account_id)
            LEFT JOIN np USING (account_id)
            ORDER BY best.score DESC NULLS LAST, best.campaign_id, id
            """
        )
    finally:
        ws.con.unregister("_echoscope_export_edges")
    return nodes, edges


# -- GEXF ------------------------------------------------------------------------------
#
# Lines are built by DuckDB (escaping and number formatting in SQL), so a network of
# hundreds of thousands of edges is written in seconds, not minutes.

_BAD_XML_RE = "[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x{FFFE}\\x{FFFF}]"


def _esc_sql(col: str, *, attr: bool = True) -> str:
    """SQL expression: ``col`` as XML-legal, escaped text."""
    x = f"regexp_replace(CAST({col} AS VARCHAR), '{_BAD_XML_RE}', chr(65533), 'g')"
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        x = f"replace({x}, '{a}', '{b}')"
    if attr:
        x = f"replace({x}, '\"', '&quot;')"
        for code in (10, 13, 9):
            x = f"replace({x}, chr({code}), '&#{code};')"
    return x


def _val_sql(col: str, kind: str, *, attr: bool = True) -> str:
    """SQL expression for an attribute's text, NULL when missing (NULL, NaN, inf)."""
    c = f'"{col}"'
    if kind == "double":
        return f"CASE WHEN isfinite({c}) THEN CAST({c} AS VARCHAR) END"
    if kind == "long":
        return f"CAST({c} AS VARCHAR)"
    return _esc_sql(c, attr=attr)


def _attvalues_sql(attrs: Sequence[tuple[str, str]]) -> str:
    parts = [f"""coalesce('<attvalue for="{i}" value="' || {_val_sql(n, k)} || '"/>', '')"""
             for i, (n, k) in enumerate(attrs)]
    inner = " || ".join(parts)
    return f"CASE WHEN ({inner}) = '' THEN '' ELSE '<attvalues>' || {inner} || '</attvalues>' END"


def _data_sql(attrs: Sequence[tuple[str, str]], pre: str) -> str:
    return " || ".join(
        f"""coalesce('<data key="{pre}_{n}">' || {_val_sql(n, k, attr=False)} || '</data>', '')"""
        for n, k in attrs)


def _write_lines(ws: Workspace, f: io.TextIOWrapper, data: pa.Table, expr: str) -> None:
    """Write one line per row of ``data``, computed by the SQL expression ``expr``."""
    view = f"_es_lines_{uuid.uuid4().hex[:8]}"
    ws.con.register(view, data)
    try:
        rel = ws.con.sql(f"SELECT {expr} AS line FROM {view}")
        reader = rel.to_arrow_reader(100_000) if hasattr(rel, "to_arrow_reader") else None
        batches = reader if reader is not None else rel.to_arrow_table().to_batches(100_000)
        for batch in batches:
            lines = batch.column(0).to_pylist()
            if lines:
                f.write("\n".join(lines))
                f.write("\n")
    finally:
        ws.con.unregister(view)


def _open_text(path: Path) -> io.TextIOWrapper:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)


def write_gexf(
    ws: Workspace, path: str | Path, params: ExportParams | None = None
) -> Path:
    """Write the account network as GEXF 1.3 (opens in Gephi); returns the path.

    Nodes carry handle, display_name, platform, campaign_id, score, strength, degree and
    n_posts; edges carry type (also the GEXF edge ``kind``, so parallel edges of different
    types stay apart), window, n_keys, n_pairs, delays, weight, p_value, q_value.
    """
    p = params or ExportParams()
    path = Path(path)
    nodes, edges = network_tables(ws, min_weight=p.min_weight, max_edges=p.max_edges)
    edges = edges.append_column("eid", pa.array(range(edges.num_rows), pa.int64()))
    from echoscope import __version__

    with _open_text(path) as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<gexf xmlns="http://gexf.net/1.3" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                'xsi:schemaLocation="http://gexf.net/1.3 http://gexf.net/1.3/gexf.xsd" '
                'version="1.3">\n')
        f.write(f'<meta lastmodifieddate="{dt.date.today().isoformat()}">'
                f"<creator>echoscope {xml_safe(__version__)}</creator>"
                "<description>Co-action network of accounts (echoscope export)</description>"
                "</meta>\n")
        f.write('<graph defaultedgetype="undirected" mode="static">\n')
        for cls, attrs in (("node", NODE_ATTRS), ("edge", EDGE_ATTRS)):
            f.write(f'<attributes class="{cls}" mode="static">')
            for i, (name, kind) in enumerate(attrs):
                f.write(f'<attribute id="{i}" title="{name}" type="{kind}"/>')
            f.write("</attributes>\n")
        f.write(f'<nodes count="{nodes.num_rows}">\n')
        _write_lines(ws, f, nodes,
                     f"""'<node id="' || {_esc_sql('id')} || '" label="' || """
                     f"""{_esc_sql('coalesce(handle, id)')} || '">' || """
                     f"""{_attvalues_sql(NODE_ATTRS)} || '</node>'""")
        f.write(f'</nodes>\n<edges count="{edges.num_rows}">\n')
        _write_lines(ws, f, edges,
                     f"""'<edge id="' || eid || '" source="' || {_esc_sql('source')} || """
                     f"""'" target="' || {_esc_sql('target')} || '" kind="' || """
                     f"""{_esc_sql('type')} || '"' || coalesce(' weight="' || """
                     f"""{_val_sql('weight', 'double')} || '"', '') || '>' || """
                     f"""{_attvalues_sql(EDGE_ATTRS)} || '</edge>'""")
        f.write("</edges>\n</graph>\n</gexf>\n")
    return path



def write_edges_gexf(edges: pa.Table, path: str | Path,
                     params: ExportParams | None = None) -> Path:
    """An edges table (canonical ``edges`` schema) alone as GEXF, for outputs made without
    a workspace (the Spark job): the same writer as :func:`write_gexf`, through a scratch
    workspace holding only these edges, so nodes carry ids and no campaign."""
    import tempfile

    with (tempfile.TemporaryDirectory(prefix="echoscope-gexf-") as tmp,
          Workspace(Path(tmp) / "edges.duckdb") as ws):
        ws.replace("edges", edges, stage="export")
        return write_gexf(ws, path, params)

# -- GraphML ---------------------------------------------------------------------------

_GRAPHML_TYPES = {"string": "string", "double": "double", "long": "long", "boolean": "boolean"}


def write_graphml(
    ws: Workspace, path: str | Path, params: ExportParams | None = None
) -> Path:
    """Write the account network as GraphML (Gephi, Cytoscape, networkx, igraph)."""
    p = params or ExportParams()
    path = Path(path)
    nodes, edges = network_tables(ws, min_weight=p.min_weight, max_edges=p.max_edges)
    edges = edges.append_column("eid", pa.array(range(edges.num_rows), pa.int64()))
    with _open_text(path) as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
                'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n')
        for cls, attrs, pre in (("node", NODE_ATTRS, "n"), ("edge", EDGE_ATTRS, "e")):
            for name, kind in attrs:
                f.write(f'<key id="{pre}_{name}" for="{cls}" attr.name="{name}" '
                        f'attr.type="{_GRAPHML_TYPES[kind]}"/>\n')
        f.write('<graph id="echoscope" edgedefault="undirected">\n')
        _write_lines(ws, f, nodes, f"""'<node id="' || {_esc_sql('id')} || '">' || """
                                   f"""{_data_sql(NODE_ATTRS, 'n')} || '</node>'""")
        _write_lines(ws, f, edges,
                     f"""'<edge id="e' || eid || '" source="' || {_esc_sql('source')} || """
                     f"""'" target="' || {_esc_sql('target')} || '">' || """
                     f"""{_data_sql(EDGE_ATTRS, 'e')} || '</edge>'""")
        f.write("</graph>\n</graphml>\n")
    return path


# -- tables ----------------------------------------------------------------------------

_FORMULA = r"^[=+\-@\t\r]"


def _existing_tables(ws: Workspace) -> set[str]:
    rows = ws.sql("SELECT table_name FROM information_schema.tables").column(0).to_pylist()
    return {str(r) for r in rows}


def write_tables(
    ws: Workspace, fmt: str, folder: str | Path, params: ExportParams | None = None
) -> list[Path]:
    """Write tables as ``folder/<table>.csv|.parquet|.jsonl``; returns the files written.

    JSON is written as JSON Lines (one object per row), which streams for large tables.
    """
    p = params or ExportParams()
    if fmt not in ("csv", "parquet", "json"):
        raise ParameterError(f"table format must be csv, parquet or json, not {fmt!r}.")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} is a file; table exports need a folder (one file per table).")
    existing = _existing_tables(ws)
    if p.tables:
        unknown = [t for t in p.tables if t not in schema.TABLES or t not in existing]
        if unknown:
            known = ", ".join(sorted(t for t in schema.TABLES if t in existing))
            raise ParameterError(f"unknown table(s) {', '.join(unknown)}; known: {known}.")
        names = list(p.tables)
    else:
        names = [t for t in DEFAULT_TABLES if t in schema.TABLES and t in existing]
    folder.mkdir(parents=True, exist_ok=True)
    ext = {"csv": "csv", "parquet": "parquet", "json": "jsonl"}[fmt]
    out: list[Path] = []
    for name in names:
        target = folder / f"{name}.{ext}"
        cols = []
        for fld in schema.TABLES[name].schema:
            q = f'"{fld.name}"'
            if fmt == "csv" and p.csv_formula_guard and pa.types.is_string(fld.type):
                q = (f"CASE WHEN regexp_matches({q}, '{_FORMULA}') THEN '''' || {q} "
                     f"ELSE {q} END AS {q}")
            elif fmt == "csv" and pa.types.is_binary(fld.type):
                q = f"CAST({q} AS VARCHAR) AS {q}"
            cols.append(q)
        opts = {
            "csv": "FORMAT csv, HEADER true",
            "parquet": "FORMAT parquet" + (
                "" if p.compression == "none" else f", COMPRESSION {p.compression}"),
            "json": "FORMAT json",
        }[fmt]
        dest = str(target).replace("'", "''")
        ws.con.execute(
            f"COPY (SELECT {', '.join(cols)} FROM \"{name}\") TO '{dest}' ({opts})"
        ).fetchall()
        out.append(target)
    return out


def export(
    ws: Workspace, fmt: str, path: str | Path, params: ExportParams | None = None
) -> list[Path]:
    """Export the network (``gexf``, ``graphml``: one file) or tables (``csv``,
    ``parquet``, ``json``: a folder with one file per table). Returns the files written.
    """
    if fmt not in FORMATS:
        raise ParameterError(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}.")
    if fmt == "gexf":
        return [write_gexf(ws, path, params)]
    if fmt == "graphml":
        return [write_graphml(ws, path, params)]
    return write_tables(ws, fmt, path, params)
