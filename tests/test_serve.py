"""Local web UI: pages, search, read-only, 405, no traversal, headers, host guard."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from echoscope.errors import ParameterError
from echoscope.report._sample import build_sample
from echoscope.report.serve import make_server
from echoscope.workspace import Workspace

PAYLOAD = "<script>alert('srv')</script>"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    path = tmp_path_factory.mktemp("serve") / "case.echoscope.duckdb"
    with Workspace(path) as ws:
        build_sample(ws, n_campaigns=3, campaign_size=4, n_organic=5, strings=[PAYLOAD])
    ws = Workspace(path, create=False, read_only=True)
    srv = make_server(ws, port=0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    host, port = srv.server_address[:2]
    try:
        yield str(host), int(port), path
    finally:
        srv.shutdown()
        srv.server_close()
        ws.close()


def request(server: tuple[str, int, Path], method: str, path: str,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    host, port, _ = server
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8")
    finally:
        c.close()


@pytest.mark.parametrize("path,needle", [
    ("/", "c0001"),
    ("/campaign/c0001", "Member activity"),
    ("/network", "es-network"),
    ("/accounts?q=user_1000", "@user_1000001"),
    ("/account/1000001", "user_1000001"),
    ("/posts?q=%23", "Posts"),
    ("/data", "Data and provenance"),
    ("/methods", "Methods and caveats"),
])
def test_pages(server: tuple[str, int, Path], path: str, needle: str) -> None:
    status, headers, body = request(server, "GET", path)
    assert status == 200, body[:500]
    assert needle in body
    assert PAYLOAD not in body
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"


def test_search_is_escaped_and_literal(server: tuple[str, int, Path]) -> None:
    status, _, body = request(server, "GET", "/posts?q=%3Cscript%3Ealert('srv')")
    assert status == 200
    assert "<script>alert(" not in body
    assert "&lt;script&gt;alert(" in body
    assert "matching" in body and "post(s)" in body
    # LIKE wildcards are literal: "%" matches only a real percent sign
    _, _, body = request(server, "GET", "/accounts?q=%25")
    assert "0 account(s)" in body


@pytest.mark.parametrize("path", [
    "/static/../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/",
    "/static/report.py", "/../pyproject.toml", "/campaign/", "/campaign/a/b",
    "/campaign/nope", "/account/nope", "//etc/passwd",
])
def test_no_traversal(server: tuple[str, int, Path], path: str) -> None:
    status, _, body = request(server, "GET", path)
    assert status == 404
    assert "root:" not in body and "[project]" not in body


def test_static_whitelist(server: tuple[str, int, Path]) -> None:
    status, headers, body = request(server, "GET", "/static/report.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert "textContent" in body
    status, headers, _ = request(server, "GET", "/static/cytoscape.min.js")
    assert status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_write_methods_refused(server: tuple[str, int, Path], method: str) -> None:
    status, headers, _ = request(server, method, "/")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_head(server: tuple[str, int, Path]) -> None:
    status, headers, body = request(server, "HEAD", "/")
    assert status == 200 and body == "" and int(headers["content-length"]) > 0


def test_host_header_guard(server: tuple[str, int, Path]) -> None:
    status, _, _ = request(server, "GET", "/", headers={"Host": "attacker.example"})
    assert status == 400
    status, _, _ = request(server, "GET", "/", headers={"Host": f"localhost:{server[1]}"})
    assert status == 200


def test_workspace_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "ro.echoscope.duckdb"
    with Workspace(path) as ws:
        build_sample(ws, n_campaigns=1, campaign_size=3, n_organic=1)
    with Workspace(path, create=False, read_only=True) as ws:
        srv = make_server(ws, port=0)
        try:
            ui = srv.RequestHandlerClass.ui  # type: ignore[attr-defined]
            assert ui.ws.read_only
            with pytest.raises(Exception, match=r"(?i)read-only|read only"):
                ui.ws.con.execute("DELETE FROM posts").fetchall()
            assert ui.route("/campaign/c0001")[0] == 200  # temp tables are fine read-only
        finally:
            srv.server_close()


def test_remote_bind_needs_flag(tmp_path: Path) -> None:
    with Workspace(tmp_path / "w.echoscope.duckdb") as ws:
        with pytest.raises(ParameterError, match="allow-remote"):
            make_server(ws, host="0.0.0.0", port=0)
        srv = make_server(ws, host="0.0.0.0", port=0, allow_remote=True)
        srv.server_close()


def test_cli_serve_refuses_remote_without_flag(tmp_path: Path) -> None:
    from echoscope.cli import main

    path = tmp_path / "w.echoscope.duckdb"
    Workspace(path).close()
    assert main(["serve", str(path), "--host", "0.0.0.0", "--port", "0"]) == 2
