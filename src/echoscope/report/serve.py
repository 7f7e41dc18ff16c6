"""The local web UI: browse campaigns, accounts, posts and networks of a workspace.

Read-only by construction: the workspace is opened with ``read_only=True`` and the server
answers only GET and HEAD (other methods get 405). It binds to 127.0.0.1 by default;
binding to another address needs ``allow_remote=True`` and prints a warning. Requests whose
``Host`` header is not the loopback address are refused while bound to loopback (a guard
against DNS rebinding). Static files come from a fixed whitelist of the package's
``static/`` folder; no path from the request ever reaches the file system. Every response
carries a strict Content-Security-Policy and no-sniff / no-referrer / no-framing headers.

Pages use the same templates and context as the HTML report.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from echoscope import progress
from echoscope.errors import ParameterError
from echoscope.report._campaigns import campaign_row, campaign_view
from echoscope.report._network import network_view
from echoscope.report.context import NetworkView, ReportContext, ReportParams, build_context
from echoscope.report.render import (
    STATIC_FILES,
    campaign_json,
    environment,
    json_script,
    static_text,
)
from echoscope.workspace import Workspace

__all__ = ["SECURITY_HEADERS", "UI", "make_server", "serve", "ui_csp"]

SEARCH_LIMIT = 100

#: Sent with every response.
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cache-Control": "no-store",
}


def ui_csp(*, header: bool = True) -> str:
    """The web UI's policy: scripts and styles only from our static whitelist.

    ``frame-ancestors`` works only as a header, so the copy in the page's meta tag omits it.
    """
    return "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src data:",
        "connect-src 'none'", "font-src 'none'", "media-src 'none'", "object-src 'none'",
        "frame-src 'none'", "worker-src 'none'", "base-uri 'none'", "form-action 'self'",
        *(["frame-ancestors 'none'"] if header else []),
    ])


class _NotFound(Exception):
    pass


class UI:
    """Renders the pages of one workspace (thread-safe: one lock around DuckDB)."""

    def __init__(self, ws: Workspace, params: ReportParams | None = None) -> None:
        self.ws = ws
        self.params = (params or ReportParams()).replace(detail_campaigns=0,
                                                          network_max_edges=0)
        self.net_params = params or ReportParams()
        self.lock = threading.Lock()
        with self.lock:
            ctx = build_context(ws, self.params)
        # every campaign has its own page here, so every row links to it
        self.ctx = dataclasses.replace(
            ctx, campaigns=[dataclasses.replace(c, detailed=True) for c in ctx.campaigns],
            notes=[n for n in ctx.notes if not n.startswith("Full detail")])
        self._network: NetworkView | None = None

    # -- helpers -------------------------------------------------------------------------
    def _rows(self, q: str, params: list[Any]) -> list[dict[str, Any]]:
        with self.lock:
            rows: list[dict[str, Any]] = self.ws.sql(q, params).to_pylist()
        return rows

    def _render(self, page: str, *, ctx: ReportContext | None = None, **kw: Any) -> str:
        ctx = ctx or self.ctx
        net = kw.pop("network", None)
        assets = {"external": True, "csp": ui_csp(header=False),
                  "scripts": (["cytoscape.min.js"] if net else []) + ["report.js"]}
        kw.setdefault("page_title", page.title())
        kw.setdefault("campaigns_json", None)
        kw["network_json"] = json_script({"nodes": net.nodes, "edges": net.edges},
                                         "es-network") if net else None
        return environment().get_template("ui.html").render(
            ctx=ctx, assets=assets, page=page, mode="ui", **kw)

    # -- pages -------------------------------------------------------------------------------
    def index(self) -> str:
        return self._render("index", page_title="Campaigns",
                            campaigns_json=json_script(campaign_json(self.ctx.campaigns),
                                                       "es-campaigns"))

    def campaign(self, cid: str) -> str:
        with self.lock:  # any campaign, also beyond the listed max_campaigns
            row = campaign_row(self.ws, cid)
            if row is None:
                raise _NotFound(f"No campaign {cid!r} in this workspace.")
            view = campaign_view(self.ws, row, self.net_params)
            net = network_view(self.ws, [row], self.net_params)
        ctx = dataclasses.replace(self.ctx, network=net)
        return self._render("campaign", ctx=ctx, view=view, network=net,
                            page_title=f"Campaign {cid}")

    def network(self) -> str:
        if self._network is None:
            with self.lock:
                self._network = network_view(self.ws, self.ctx.campaigns, self.net_params)
        ctx = dataclasses.replace(self.ctx, network=self._network)
        return self._render("network", ctx=ctx, network=self._network if
                            self._network.nodes else None, page_title="Network")

    def accounts(self, q: str) -> str:
        rows: list[dict[str, Any]] = []
        if q:
            like = f"%{_like(q)}%"
            rows = self._rows("""
                WITH a AS (SELECT * FROM accounts
                           WHERE handle ILIKE ? ESCAPE '\\' OR display_name ILIKE ? ESCAPE '\\'
                              OR account_id = ?
                           ORDER BY handle, account_id LIMIT ?)
                SELECT a.*, (SELECT count(*) FROM posts p WHERE p.account_id = a.account_id)
                       AS n_posts,
                       (SELECT list(campaign_id ORDER BY campaign_id) FROM campaign_members m
                        WHERE m.account_id = a.account_id) AS campaigns
                FROM a ORDER BY handle, account_id
                """, [like, like, q, SEARCH_LIMIT])
        return self._render("accounts", q=q, rows=rows, limit=SEARCH_LIMIT,
                            page_title="Accounts")

    def account(self, aid: str) -> str:
        acc = self._rows("SELECT * FROM accounts WHERE account_id = ? LIMIT 1", [aid])
        if not acc:
            raise _NotFound(f"No account {aid!r} in this workspace.")
        posts = self._rows("SELECT * FROM posts WHERE account_id = ? "
                           "ORDER BY created_at DESC, post_id LIMIT ?", [aid, SEARCH_LIMIT])
        campaigns = self._rows("SELECT campaign_id, strength FROM campaign_members "
                               "WHERE account_id = ? ORDER BY strength DESC", [aid])
        handles = self._rows("SELECT * FROM account_handles WHERE account_id = ? "
                             "ORDER BY first_seen", [aid])
        signals: list[dict[str, Any]] = []
        if self._has("account_signals"):
            signals = self._rows("SELECT * FROM account_signals WHERE account_id = ? "
                                 "ORDER BY signal", [aid])
        return self._render("account", account=acc[0], posts=posts, campaigns=campaigns,
                            handles=handles, signals=signals,
                            page_title=f"@{acc[0]['handle'] or aid}")

    def posts(self, q: str) -> str:
        posts: list[dict[str, Any]] = []
        if q:
            like = f"%{_like(q)}%"
            tag = q.lstrip("#").casefold()
            posts = self._rows("""
                SELECT * FROM posts WHERE text ILIKE ? ESCAPE '\\'
                   OR list_contains(hashtags, ?) OR list_contains(urls, ?) OR post_id = ?
                ORDER BY created_at, post_id LIMIT ?
                """, [like, tag, q, q, SEARCH_LIMIT])
        return self._render("posts", q=q, posts=posts, limit=SEARCH_LIMIT,
                            page_title="Posts")

    def data(self) -> str:
        return self._render("data", page_title="Data")

    def methods(self) -> str:
        return self._render("methods", page_title="Methods")

    def error(self, status: int, message: str) -> str:
        return self._render("error", status=f"{status} {HTTPStatus(status).phrase}",
                            message=message, page_title=str(status))

    def _has(self, table: str) -> bool:
        return bool(self._rows("SELECT count(*) n FROM information_schema.tables "
                               "WHERE table_name = ?", [table])[0]["n"])

    # -- routing -----------------------------------------------------------------------------
    def route(self, raw_path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of ``raw_path``."""
        parts = urlsplit(raw_path)
        path = parts.path
        query = parse_qs(parts.query, max_num_fields=10)
        q = (query.get("q") or [""])[0].strip()[:200]
        html = "text/html; charset=utf-8"
        try:
            if path.startswith("/static/"):
                name = path[len("/static/"):]
                if name not in STATIC_FILES:  # fixed whitelist; no file-system path
                    raise _NotFound("No such file.")
                return 200, STATIC_FILES[name], static_text(name).encode("utf-8")
            pages: dict[str, Callable[[], str]] = {
                "/": self.index, "/network": self.network, "/data": self.data,
                "/methods": self.methods, "/accounts": lambda: self.accounts(q),
                "/posts": lambda: self.posts(q),
            }
            if path in pages:
                return 200, html, pages[path]().encode("utf-8")
            m = re.fullmatch(r"/(campaign|account)/([^/]+)", path)
            if m:
                key = unquote(m.group(2))
                body = self.campaign(key) if m.group(1) == "campaign" else self.account(key)
                return 200, html, body.encode("utf-8")
            raise _NotFound("No such page.")
        except _NotFound as e:
            return 404, html, self.error(404, str(e)).encode("utf-8")


def _like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server_version = "echoscope"
    sys_version = ""
    ui: UI
    allowed_hosts: frozenset[str] | None

    def version_string(self) -> str:
        return "echoscope"

    def log_message(self, format: str, *args: Any) -> None:  # quiet unless progress on
        progress.info(f"{self.address_string()} {format % args}")

    def _send(self, status: int, ctype: str, body: bytes, head: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", ui_csp())
        for k, v in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _host_ok(self) -> bool:
        if self.allowed_hosts is None:
            return True
        return (self.headers.get("Host") or "").lower() in self.allowed_hosts

    def _get(self, head: bool) -> None:
        if not self._host_ok():
            self._send(400, "text/plain; charset=utf-8", b"Bad Host header.\n", head)
            return
        try:
            status, ctype, body = self.ui.route(self.path)
        except Exception as e:  # a bug: answer 500 without details, log the type
            progress.info(f"error serving {self.path!r}: {type(e).__name__}: {e}")
            status, ctype = 500, "text/html; charset=utf-8"
            body = self.ui.error(500, "Internal error; see the server's log.").encode("utf-8")
        self._send(status, ctype, body, head)

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def _refuse(self) -> None:
        self._send(405, "text/plain; charset=utf-8", b"Read-only: only GET and HEAD.\n",
                   extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse


def make_server(ws: Workspace, *, host: str = "127.0.0.1", port: int = 8765,
                allow_remote: bool = False,
                params: ReportParams | None = None) -> ThreadingHTTPServer:
    """A ready (not yet serving) HTTP server for the UI of an open workspace."""
    if not _is_loopback(host) and not allow_remote:
        raise ParameterError(
            f"--host {host} is not a loopback address; the UI shows raw data without "
            "authentication. Pass --allow-remote to bind to it anyway.")
    ui = UI(ws, params)
    server = ThreadingHTTPServer((host, port), _Handler)
    bound = server.server_address[1]
    hosts = None
    if _is_loopback(host):
        names = ("127.0.0.1", "localhost", "[::1]")
        hosts = frozenset(f"{n}:{bound}" for n in names) | frozenset(names)
    handler = type("Handler", (_Handler,), {"ui": ui, "allowed_hosts": hosts})
    server.RequestHandlerClass = handler
    server.daemon_threads = True
    return server


def serve(workspace: str, *, host: str = "127.0.0.1", port: int = 8765,
          allow_remote: bool = False, params: ReportParams | None = None,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve the UI of ``workspace`` (opened read-only) until interrupted."""
    with Workspace(workspace, create=False, read_only=True) as ws:
        server = make_server(ws, host=host, port=port, allow_remote=allow_remote,
                             params=params)
        addr, p = server.server_address[:2]
        h = addr.decode() if isinstance(addr, bytes) else str(addr)
        url = f"http://{'[' + h + ']' if ':' in h else h}:{p}/"
        if not _is_loopback(host):
            print(f"WARNING: serving {workspace} on {url} to the network without "
                  "authentication; anyone who can reach it can read the data.",
                  file=sys.stderr)
        if ready:
            ready(url)
        try:
            server.serve_forever()
        finally:
            server.server_close()
