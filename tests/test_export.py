"""Exports: GEXF/GraphML parse (also with hostile strings), tables round-trip."""

from __future__ import annotations

import csv
import json
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.cli import main
from echoscope.errors import ParameterError
from echoscope.report._sample import build_sample
from echoscope.report.exports import ExportParams, export, write_gexf, xml_safe
from echoscope.workspace import Workspace

HOSTILE = [
    "<script>alert(1)</script>", "\x00\x01\x1b[31m", "\u2028\u2029", "&amp;\"'<>",
    "]]><!--", "=HYPERLINK(\"http://x.invalid\")", "\ufffe",
]


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path / "case.echoscope.duckdb")
    build_sample(w, n_campaigns=3, campaign_size=4, n_organic=5, strings=HOSTILE)
    return w


def test_gexf_known_answer(ws: Workspace, tmp_path: Path) -> None:
    p = write_gexf(ws, tmp_path / "n.gexf")
    root = ET.parse(p).getroot()
    assert root.tag == "{http://gexf.net/1.3}gexf" and root.get("version") == "1.3"
    g = nx.read_gexf(p)
    # 3 campaigns of 4, 5, 6 members, complete graphs, 3 edge types each
    assert g.number_of_nodes() == 4 + 5 + 6
    assert g.number_of_edges() == 3 * (6 + 10 + 15)
    n = g.nodes["1000000"]
    assert n["campaign_id"] == "c0001" and n["score"] == 1.0
    assert n["handle"].startswith("user_1000000<script>")  # kept, escaped in the file
    types = {d["type"] for _, _, d in g.edges(data=True)}
    assert types == {"repost", "text", "url"}
    e = next(d for _, _, d in g.edges(data=True) if d["type"] == "repost")
    assert e["n_keys"] == 3 and e["p_value"] == pytest.approx(1e-4)
    # NaN p-values are left out, not written as a number
    e = next(d for _, _, d in g.edges(data=True) if d["type"] == "url")
    assert "p_value" not in e
    raw = p.read_text(encoding="utf-8")
    assert "<script>" not in raw and "\x00" not in raw


def test_graphml_parses(ws: Workspace, tmp_path: Path) -> None:
    (p,) = export(ws, "graphml", tmp_path / "n.graphml")
    g = nx.read_graphml(p)
    assert g.number_of_nodes() == 15
    assert g.number_of_edges() == 93  # parallel edges, one per type (a multigraph)


def test_max_edges_keeps_strongest(ws: Workspace, tmp_path: Path) -> None:
    p = write_gexf(ws, tmp_path / "n.gexf", ExportParams(max_edges=5))
    g = nx.read_gexf(p)
    assert g.number_of_edges() == 5
    kept = sorted((d["weight"] for _, _, d in g.edges(data=True)), reverse=True)
    allw = sorted(ws.sql("SELECT weight FROM edges").column(0).to_pylist(), reverse=True)
    assert kept == allw[:5]


def test_edges_gexf_without_workspace(ws: Workspace, tmp_path: Path) -> None:
    """The Spark job's GEXF (an edges table alone) has the workspace export's edges."""
    from echoscope.report.exports import write_edges_gexf

    edges = ws.table("edges")
    g = nx.read_gexf(write_edges_gexf(edges, tmp_path / "alone.gexf"))
    full = nx.read_gexf(write_gexf(ws, tmp_path / "full.gexf"))
    assert g.number_of_edges() == full.number_of_edges() > 0
    assert sorted(g.edges(data="weight")) == sorted(full.edges(data="weight"))
    assert all(d.get("campaign_id") in (None, "") for _, d in g.nodes(data=True))


def test_empty_workspace_exports(tmp_path: Path) -> None:
    with Workspace(tmp_path / "e.echoscope.duckdb") as w:
        g = nx.read_gexf(write_gexf(w, tmp_path / "e.gexf"))
        assert g.number_of_nodes() == 0
        files = export(w, "csv", tmp_path / "t")
        assert (tmp_path / "t" / "campaigns.csv") in files


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_xml_safe_always_parses(s: str) -> None:
    from xml.sax.saxutils import quoteattr

    doc = f"<a b={quoteattr(xml_safe(s))}/>"
    ET.fromstring(doc)


def test_tables_roundtrip(ws: Workspace, tmp_path: Path) -> None:
    files = export(ws, "parquet", tmp_path / "pq")
    t = pq.read_table(tmp_path / "pq" / "campaigns.parquet")
    assert t.num_rows == 3 and any(f.name == "posts.parquet" for f in files)
    export(ws, "json", tmp_path / "js", ExportParams(tables=("campaigns",)))
    rows = [json.loads(x) for x in (tmp_path / "js" / "campaigns.jsonl").read_text().splitlines()]
    assert [r["campaign_id"] for r in sorted(rows, key=lambda r: r["campaign_id"])] == [
        "c0001", "c0002", "c0003"]


def test_csv_formula_guard(ws: Workspace, tmp_path: Path) -> None:
    export(ws, "csv", tmp_path / "c", ExportParams(tables=("posts",)))
    with open(tmp_path / "c" / "posts.csv", newline="", encoding="utf-8") as f:
        cells = [c for row in csv.reader(f) for c in row]
    assert not any(c[:1] in ("=", "+", "-", "@") for c in cells)
    export(ws, "csv", tmp_path / "d", ExportParams(tables=("accounts",), csv_formula_guard=False))
    text = (tmp_path / "d" / "accounts.csv").read_text(encoding="utf-8")
    assert "=HYPERLINK" in text


def test_unknown_table_and_format(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="unknown table"):
        export(ws, "csv", tmp_path / "x", ExportParams(tables=("nope",)))
    with pytest.raises(ParameterError, match="not one of"):
        export(ws, "xlsx", tmp_path / "x")


def test_cli_export(ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws.close()
    out = tmp_path / "cli.gexf"
    code = main(["export", "-w", str(tmp_path / "case.echoscope.duckdb"), "--format", "gexf",
                 "-o", str(out), "-q"])
    assert code == 0 and out.exists()
    assert capsys.readouterr().out.strip() == str(out)
    code = main(["export", "-w", str(tmp_path / "missing.duckdb"), "--format", "csv",
                 "-o", str(tmp_path / "z")])
    assert code == 2


@pytest.fixture(scope="module")
def tiny_ws() -> Iterator[Workspace]:
    with Workspace(":memory:") as w:
        build_sample(w, n_campaigns=1, campaign_size=3, n_organic=0)
        yield w


@settings(max_examples=15, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40))
def test_gexf_roundtrips_any_handle(tiny_ws: Workspace, s: str) -> None:
    tiny_ws.con.execute("UPDATE accounts SET handle = ?, display_name = ?", [s, s]).fetchall()
    with tempfile.TemporaryDirectory() as d:
        g1 = nx.read_gexf(write_gexf(tiny_ws, Path(d) / "a.gexf"))
        g2 = nx.read_graphml(export(tiny_ws, "graphml", Path(d) / "a.graphml")[0])
    want = xml_safe(s)
    assert g1.nodes["1000000"]["handle"] == want  # attribute values keep \r, \n, \t
    # GraphML keeps values as element text, where XML normalises line ends
    got = g2.nodes["1000000"]["handle"]
    assert got == want.replace("\r\n", "\n").replace("\r", "\n")
