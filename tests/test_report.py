"""HTML report: context (snapshot-ish), rendering, escaping, CSP, media, limits, CLI."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoscope.cli import main
from echoscope.report import ReportParams, build_context, render_report, write_report
from echoscope.report._query import method_notes
from echoscope.report._sample import XSS_PAYLOADS, build_large, build_sample
from echoscope.report.context import ReportContext
from echoscope.report.render import context_dict, json_text
from echoscope.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2025, 1, 2, 3, 4, 5)

XSS = list(XSS_PAYLOADS)


@pytest.fixture()
def sample_ws(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "case.echoscope.duckdb")
    build_sample(ws, n_campaigns=4, campaign_size=5, n_organic=10, seed=1)
    return ws


@pytest.fixture()
def hostile_ws(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "hostile.echoscope.duckdb")
    build_sample(ws, n_campaigns=3, campaign_size=4, n_organic=8, strings=XSS, seed=2)
    return ws


def _normalised(ctx: ReportContext) -> dict[str, Any]:
    d = context_dict(ctx)
    for r in d["runs"]:
        r["run_id"] = "RUN"
        r["started_at"] = "TIME"
        r["versions"] = []
    d["echoscope_version"] = "VERSION"
    d["workspace"] = "WS"
    return d


def test_context_snapshot(sample_ws: Workspace) -> None:
    ctx = build_context(sample_ws, now=NOW)
    d = _normalised(ctx)
    assert d["generated_at"] == "2025-01-02T03:04:05Z"
    assert [(c["rank"], c["campaign_id"], c["size"]) for c in d["campaigns"]] == [
        (1, "c0001", 5), (2, "c0002", 6), (3, "c0003", 7), (4, "c0004", 5)]
    assert d["campaigns_total"] == 4 and len(d["details"]) == 4
    top = d["details"][0]
    assert top["members_total"] == 5 and len(top["members"]) == 5
    m0 = top["members"][0]
    assert (m0["account_id"], m0["handle"], m0["n_posts"], m0["degree"]) == (
        "1000000", "user_1000000", 6, 4)
    assert m0["apps"] == [["Amplifier 1", 6]]
    assert m0["ties"] == [["repost", 4], ["text", 4], ["url", 4]]
    assert [e["type"] for e in top["evidence"]] == ["hashtag", "repost", "text", "url"]
    assert top["samples"][0]["n_copies"] == 5
    assert len(top["timeline"]) == 5 and all(len(t["times"]) == 6 for t in top["timeline"])
    s = d["summary"]
    assert (s["posts"], s["accounts"], s["rejects"]) == (182, 33, 2)  # 10×4 organic + 4 origins + 23 members × 6
    assert d["runs"][0]["command"] == "analyze"
    assert ["seed", "1"] in d["runs"][0]["params"]
    assert len(d["network"]["nodes"]) == 23
    assert d["network"]["nodes"][0].keys() >= {"id", "label", "campaign", "rank", "x", "y"}
    # deterministic: the same workspace and seed give the same context
    assert _normalised(build_context(sample_ws, now=NOW)) == d
    json.dumps(d)  # plain data throughout


def test_limits_are_applied(sample_ws: Workspace) -> None:
    p = ReportParams(max_campaigns=3, detail_campaigns=1, members_per_campaign=2,
                     evidence_per_campaign=1, samples_per_campaign=0, network_max_edges=10)
    ctx = build_context(sample_ws, p)
    assert len(ctx.campaigns) == 3 and ctx.campaigns_total == 4
    assert len(ctx.details) == 1 and len(ctx.details[0].members) == 2
    assert len(ctx.details[0].evidence) == 1 and ctx.details[0].samples == []
    assert len(ctx.network.edges) == 10 and "strongest" in ctx.network.note
    assert any("top 3 of 4" in n for n in ctx.notes)
    html = render_report(ctx)
    assert 'id="campaign-c0001"' in html and 'id="campaign-c0002"' not in html


def test_empty_workspace(tmp_path: Path) -> None:
    with Workspace(tmp_path / "empty.echoscope.duckdb") as ws:
        ctx = build_context(ws)
        assert ctx.campaigns == [] and ctx.network.nodes == [] and ctx.sections == []
        path = write_report(ws, tmp_path / "out" / "report.html")
    html = path.read_text(encoding="utf-8")
    assert "No campaigns in this workspace" in html
    assert "Cytoscape Consortium" not in html  # no network view, so no library inlined


def _inline(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}(?: id=\"[^\"]*\")?>(.*?)</{tag}>", html, flags=re.S)


def test_csp_allows_exactly_the_inline_code(sample_ws: Workspace) -> None:
    html = render_report(build_context(sample_ws))
    m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert m
    policy = m.group(1).replace("&#39;", "'")
    assert "default-src 'none'" in policy and "connect-src 'none'" in policy
    assert "img-src data:" in policy and "unsafe" not in policy

    def sha(s: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"

    scripts = _inline(html, "script")
    assert len(scripts) == 2  # cytoscape + report.js; data blocks are type=application/json
    for s in scripts:
        assert sha(s) in policy
    (style,) = _inline(html, "style")
    assert sha(style) in policy
    assert "http://" not in html.split("<script>")[0].replace("http://www.w3.org/2000/svg", "")


def test_hostile_strings_are_escaped(hostile_ws: Workspace) -> None:
    html = render_report(build_context(hostile_ws))
    for bad in ("<script>window", "<img src=x", "<svg onload", "<iframe", "<style>body",
                "onfocus=\"alert", "</script><script>"):
        assert bad not in html, bad
    assert "&lt;script&gt;window.__xss=1" in html  # shown as text
    assert "{{7*7}}" in html  # data is never evaluated as a template
    # JSON data blocks parse back to the original strings
    for block in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html,
                            flags=re.S):
        assert "<" not in block and "\u2028" not in block
        json.loads(block)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(), c, max_size=4),
                    max_leaves=20))
def test_json_text_is_script_safe(value: Any) -> None:
    text = json_text(value)
    for ch in "<>&\u2028\u2029":
        assert ch not in text
    assert json.loads(text) == value


def test_media_only_from_local_dir(tmp_path: Path) -> None:
    from PIL import Image

    media = tmp_path / "media"
    media.mkdir()
    ws = Workspace(tmp_path / "m.echoscope.duckdb")
    build_sample(ws, n_campaigns=1, campaign_size=4, n_organic=0, seed=3)
    ids = ws.sql("SELECT m.media_id FROM posts, unnest(media) t(m) ORDER BY 1").column(0)
    Image.new("RGB", (4, 4), (200, 30, 30)).save(media / f"{ids[0]}.png")
    (media / f"{ids[1]}.jpg").write_bytes(b"<html>not an image</html>")
    (tmp_path / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    ws.con.execute("UPDATE posts SET media = [{'media_id': '../secret', 'url': 'x', "
                   "'hash': '../../secret'}] WHERE post_id = (SELECT min(post_id) FROM posts)"
                   ).fetchall()
    ctx = build_context(ws, ReportParams(media_dir=str(media)))
    imgs = [i for v in ctx.details for s in v.samples for i in s.images]
    html = render_report(ctx)
    assert all(i.startswith("data:image/png;base64,") for i in imgs)
    assert "secret" not in "".join(base64.b64decode(i.split(",")[1]).decode("latin1")
                                   for i in imgs)
    assert 'class="media blur"' in html if imgs else True
    assert "not an image" not in html


def test_methods_have_caveats() -> None:
    notes = method_notes()
    assert notes and all(n.text for n in notes) and any(n.name for n in notes)
    assert any("false positive" in n.text.lower() for n in notes)


def test_methods_markdown_is_inert() -> None:
    from echoscope.report.render import markdown

    html = str(markdown("- a <script>x</script>\n- [l](javascript:alert(1)) "
                        "![i](http://x.invalid/y.png) <http://x.invalid/>"))
    assert "<li>" in html and "&lt;script&gt;" in html
    assert "<a " not in html and "<img" not in html


def test_docs_describe_the_context() -> None:
    doc = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    for cls in (ReportContext, ReportParams):
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in doc, f"docs/report.md does not describe {cls.__name__}.{f.name}"


def test_cli_report(sample_ws: Workspace, tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:
    sample_ws.close()
    out = tmp_path / "r" / "report.html"
    code = main(["report", "-w", str(tmp_path / "case.echoscope.duckdb"), "-o", str(out), "-q",
                 "--title", "Case <42>"])
    assert code == 0 and out.is_file()
    assert capsys.readouterr().out.strip() == str(out)
    assert "Case &lt;42&gt;" in out.read_text(encoding="utf-8")
    assert main(["report", "-w", str(tmp_path / "nope.duckdb"), "-o", str(out)]) == 2


SIZE_LIMIT_MB = 25  # documented in docs/report.md


@pytest.mark.slow
def test_large_report_stays_small(tmp_path: Path) -> None:
    with Workspace(tmp_path / "large.echoscope.duckdb") as ws:
        build_large(ws, n_campaigns=1000, n_accounts=100_000)
        path = write_report(ws, tmp_path / "large.html")
    size_mb = path.stat().st_size / 1e6
    assert size_mb < SIZE_LIMIT_MB
    html = path.read_text(encoding="utf-8")
    rows = json.loads(re.search(r'id="es-campaigns">(.*?)</script>', html, flags=re.S)[1])
    assert len(rows) == 1000
    assert html.count('class="card campaign"') == 200


def test_network_shows_whole_campaigns_first(sample_ws: Workspace) -> None:
    ctx = build_context(sample_ws, ReportParams(network_max_edges=50))
    net = ctx.network
    assert len(net.edges) == 50
    by_campaign: dict[str, int] = {}
    camp = {n["id"]: n["campaign"] for n in net.nodes}
    for e in net.edges:
        assert camp[e["source"]] == camp[e["target"]]
        by_campaign[camp[e["source"]]] = by_campaign.get(camp[e["source"]], 0) + 1
    # c0001 (5 members, 10 pairs x 3 types) is complete; c0002 gets the remaining 20
    assert by_campaign == {"c0001": 30, "c0002": 20}
    assert "2 best-ranked campaigns" in net.note


def _schema_rows(name: str, rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    from echoscope import schema

    sch = schema.TABLES[name].schema
    full = [{f.name: r.get(f.name) for f in sch} for r in rows]
    return pa.Table.from_pylist(full, schema=sch)


def test_signal_sections(sample_ws: Workspace) -> None:
    ws = sample_ws
    t = dt.datetime(2024, 3, 2, 10)
    ws.append("account_signals", _schema_rows("account_signals", [
        {"account_id": "1000000", "signal": "interpost_cv", "value": 0.01, "flagged": True,
         "reason": "posts every 60 s"},
        {"account_id": "1000000", "signal": "hour_entropy", "value": 0.2, "flagged": True,
         "reason": "posts at one hour"},
        {"account_id": "90000001", "signal": "hour_entropy", "value": 3.0, "flagged": False,
         "reason": ""}]))
    ws.append("hashtag_signals", _schema_rows("hashtag_signals", [
        {"hashtag": "garden0", "posts": 18, "accounts": 6, "bursts": 1, "burst_hours": 1,
         "peak_hour": t, "peak_posts": 18, "baseline": 0.1, "top_share": 1.0,
         "campaign_share": 1.0, "recurring_hours": "", "content_similarity": 0.1,
         "storm": True, "hijack": False, "evidence": "storm of 18 posts"}]))
    ws.append("reincarnations", _schema_rows("reincarnations", [
        {"old_account_id": "1", "old_handle": "old_name", "new_account_id": "2",
         "new_handle": "old_name2", "score": 0.9, "rank": 1, "handle_similarity": 0.95,
         "same_display_name": True, "same_avatar": False, "content_overlap": 0.3,
         "neighbour_overlap": 0.2, "promoted_by": 2, "gap_hours": 5.0, "inferred": False,
         "chain": "old_name -> old_name2"}]))
    if "bank_matches" in ws.sql("SELECT table_name FROM information_schema.tables"
                                ).column(0).to_pylist():
        ws.append("bank_matches", _schema_rows("bank_matches", [
            {"query_type": "post", "query_id": "00000001", "post_id": "00000001",
             "account_id": "1000000", "signal_type": "md5", "bank": "demo-bank",
             "label": "known-item", "distance": 0, "similarity": 1.0, "match_kind": "auto"}]))
    ctx = build_context(ws)
    sections = {s.key: s for s in ctx.sections}
    assert set(sections) >= {"automation", "hashtags", "reincarnations"}
    auto = sections["automation"]
    assert auto.total == 1 and auto.rows[0][:3] == ["user_1000000", True, 2]
    assert sections["hashtags"].rows[0][0] == "garden0"
    assert sections["reincarnations"].rows[0][:2] == ["old_name", "old_name2"]
    if "bank" in sections:
        assert sections["bank"].rows[0][:2] == ["demo-bank", "known-item"]
    html = render_report(ctx)
    for key in sections:
        assert f'id="{key}"' in html and f'href="#{key}"' in html


def test_ui_campaign_beyond_the_list(sample_ws: Workspace) -> None:
    from echoscope.report.serve import UI

    ui = UI(sample_ws, ReportParams(max_campaigns=1))
    assert len(ui.ctx.campaigns) == 1
    status, _, body = ui.route("/campaign/c0004")
    assert status == 200 and b"#4" in body
    assert ui.route("/campaign/c9999")[0] == 404


def test_members_joined_without_ties_say_how(sample_ws: Workspace, tmp_path: Path) -> None:
    # accounts added by the owned-content or hijack-crew steps have no ties of their own;
    # the member table says how they joined (and an older workspace without the column
    # shows every member as tied in)
    sample_ws.con.execute("UPDATE campaign_members SET joined_by = 'hijack_crew' "
                          "WHERE account_id = '1000000'")
    d = context_dict(build_context(sample_ws, now=NOW))
    joined = {m["account_id"]: m["joined_by"] for c in d["details"] for m in c["members"]}
    assert joined["1000000"] == "hijack_crew"
    assert set(joined.values()) == {"ties", "hijack_crew"}
    html = render_report(build_context(sample_ws, now=NOW))
    assert html.count(">hijack crew</span>") == 1
    sample_ws.con.execute("ALTER TABLE campaign_members DROP COLUMN joined_by")
    d = context_dict(build_context(sample_ws, now=NOW))
    assert {m["joined_by"] for c in d["details"] for m in c["members"]} == {"ties"}
