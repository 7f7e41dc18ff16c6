"""The report and the web UI in headless Chromium: hostile data runs no script, opens no
dialog, triggers no CSP violation and sends no request; screenshots render campaigns.

Needs Debian's chromium at /usr/bin/chromium (scripts/system-deps.sh installs it) and the
Python playwright package; never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from echoscope.report import ReportParams, write_report
from echoscope.report._sample import XSS_PAYLOADS, build_sample
from echoscope.report.serve import make_server
from echoscope.workspace import Workspace

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is absent (install it with scripts/system-deps.sh)"),
]

# Record CSP violations and any attempt to open a window; runs before the page's scripts.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Watched:
    page: Any
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_page(browser: Any, url: str, allowed_prefix: str) -> Watched:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    w = Watched(page)
    page.add_init_script(WATCH)

    def on_dialog(d: Any) -> None:
        w.dialogs.append(d.message)
        d.dismiss()

    def on_request(r: Any) -> None:
        if not (r.url.startswith(allowed_prefix) or r.url.startswith("data:")):
            w.requests.append(r.url)

    page.on("dialog", on_dialog)
    page.on("request", on_request)
    page.on("console", lambda m: w.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: w.errors.append(f"pageerror: {e}"))
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    return w


def assert_clean(w: Watched) -> None:
    page = w.page
    assert w.dialogs == [], f"a dialog opened: {w.dialogs}"
    assert w.requests == [], f"requests left the page: {w.requests}"
    assert w.errors == [], f"console errors: {w.errors}"
    assert page.evaluate("window.__xss") is None, "an injected script ran"
    assert page.evaluate("window.__csp") == [], "CSP violations (something tried to run/load)"
    assert page.evaluate("""() => [...document.querySelectorAll('*')].filter(e =>
        [...e.attributes].some(a => a.name.startsWith('on'))).length""") == 0
    assert page.evaluate("document.querySelectorAll('iframe, object, embed, math').length") == 0
    assert page.evaluate("""() => [...document.querySelectorAll('[href], [src]')].filter(e =>
        /^\\s*javascript:/i.test(e.getAttribute('href') || e.getAttribute('src') || '')
        ).length""") == 0


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "hostile.echoscope.duckdb"
    with Workspace(path) as ws:
        build_sample(ws, n_campaigns=3, campaign_size=5, n_organic=12,
                     strings=list(XSS_PAYLOADS), seed=5)
        # a signal section with hostile text too
        import pyarrow as pa

        from echoscope import schema

        ws.append("account_signals", pa.Table.from_pylist([
            {"account_id": "1000000", "signal": x, "value": 1.0, "flagged": True, "reason": x}
            for x in XSS_PAYLOADS], schema=schema.TABLES["account_signals"].schema))
    return path


def test_report_with_hostile_data(browser: Any, hostile_ws: Path, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    from PIL import Image

    with Workspace(hostile_ws, create=False, read_only=True) as ws:
        for mid in ws.sql("SELECT DISTINCT m.media_id FROM posts, unnest(media) t(m)"
                          ).column(0).to_pylist():
            Image.new("RGB", (8, 8), (40, 90, 160)).save(media / f"{mid}.png")
        report = write_report(ws, tmp_path / "report.html", ReportParams(media_dir=str(media)))
    w = open_page(browser, report.as_uri(), report.as_uri())
    page = w.page
    # the data is there, as text
    assert page.locator(".campaign").count() == 3
    handles = page.locator("td.handle").all_text_contents()
    assert any("<script>window.__xss=1" in h for h in handles)
    # interact: filter, network search, unblur an image
    page.fill("#es-filter", "<img src=x onerror=alert(9)>")
    page.fill("#es-filter", "")
    page.fill("#es-net-search", "<svg onload=alert(10)>")
    page.click("#es-net-fit")
    img = page.locator("img.media").first
    if img.count():
        img.scroll_into_view_if_needed()
        img.click()
        assert "blur" not in (img.get_attribute("class") or "")
    page.locator("#es-cy canvas").first.click(position={"x": 200, "y": 200})
    page.wait_for_timeout(200)
    assert_clean(w)
    w.page.context.close()


@pytest.fixture(scope="module")
def ui_server(hostile_ws: Path) -> Iterator[str]:
    ws = Workspace(hostile_ws, create=False, read_only=True)
    srv = make_server(ws, port=0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        ws.close()


@pytest.mark.parametrize("path", [
    "/", "/campaign/c0001", "/network", "/accounts?q=user", "/account/1000000",
    "/posts?q=%3Cscript%3E", "/posts?q=garden", "/data", "/methods", "/nope%3Cscript%3E",
])
def test_ui_with_hostile_data(browser: Any, ui_server: str, path: str) -> None:
    w = open_page(browser, ui_server + path, ui_server + "/")
    if path == "/nope%3Cscript%3E":
        w.errors = [e for e in w.errors if "404" not in e]  # the 404 itself is logged
    assert_clean(w)
    if path == "/":
        w.page.fill("#es-filter", "c000")
        assert w.page.locator("#es-campaign-table tbody tr").count() == 3
        w.page.click("#es-campaign-table tbody a >> nth=0")
        w.page.wait_for_load_state("load")
        assert "/campaign/" in w.page.url
        assert_clean(w)
    w.page.context.close()


def test_report_screenshots(browser: Any, tmp_path: Path) -> None:
    with Workspace(tmp_path / "demo.echoscope.duckdb") as ws:
        build_sample(ws, n_campaigns=120, campaign_size=6, n_organic=60, seed=7)
        report = write_report(ws, tmp_path / "report.html",
                              ReportParams(title="echoscope report — synthetic demo",
                                           detail_campaigns=12))
    w = open_page(browser, report.as_uri(), report.as_uri())
    page = w.page
    assert page.locator("#es-campaign-table tbody tr").count() == 50  # first page
    assert page.locator("#es-page").text_content() == "page 1 of 3"
    page.click("#es-next")
    assert page.locator("#es-campaign-table tbody tr").first.locator("td").first \
        .text_content() == "51"
    page.click("#es-prev")
    assert page.locator(".campaign").count() == 12
    assert page.locator("#es-cy canvas").count() > 0  # cytoscape drew the network
    assert page.locator("svg.timeline").count() == 12
    top = tmp_path / "report-top.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    page.screenshot(path=str(top))
    page.locator("#network").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "report-network.png"))
    page.locator("#campaign-c0001").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "report-campaign.png"))
    for f in ("report-top.png", "report-network.png", "report-campaign.png"):
        assert (tmp_path / f).stat().st_size > 10_000
    assert_clean(w)
    if os.environ.get("ECHOSCOPE_UPDATE_SCREENSHOTS"):
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(top, ROOT / "docs" / "img" / "report.png")
        shutil.copy(tmp_path / "report-network.png", ROOT / "docs" / "img" / "report-network.png")
        shutil.copy(tmp_path / "report-campaign.png",
                    ROOT / "docs" / "img" / "report-campaign.png")
    w.page.context.close()
