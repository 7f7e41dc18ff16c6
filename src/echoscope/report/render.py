"""Rendering: Jinja templates (autoescape on), safe JSON embedding, a strict CSP.

:func:`write_report` writes one self-contained HTML file: CSS, JavaScript (the app and the
vendored cytoscape.js) and data are inlined, images are ``data:`` URIs, and a
Content-Security-Policy meta tag allows only those inline scripts and styles (by sha256
hash), ``data:`` images and no network at all.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import os
from dataclasses import asdict
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from echoscope.report.context import (
    CampaignRow,
    ReportContext,
    ReportParams,
    TimelineRow,
    build_context,
)
from echoscope.workspace import Workspace

__all__ = [
    "STATIC_FILES",
    "csp",
    "environment",
    "json_script",
    "render_report",
    "static_text",
    "timeline_svg",
    "write_report",
]

#: The only static files the report inlines and the web UI serves (a fixed whitelist).
STATIC_FILES: dict[str, str] = {
    "report.css": "text/css; charset=utf-8",
    "report.js": "text/javascript; charset=utf-8",
    "cytoscape.min.js": "text/javascript; charset=utf-8",
    "cytoscape.LICENSE": "text/plain; charset=utf-8",
}


@cache
def static_text(name: str) -> str:
    """Text of a whitelisted static file shipped in the package."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    return (resources.files("echoscope.report") / "static" / name).read_text(encoding="utf-8")


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def csp(scripts: list[str], styles: list[str]) -> str:
    """A Content-Security-Policy that allows exactly these inline scripts and styles."""
    return "; ".join([
        "default-src 'none'",
        "script-src " + " ".join(_sha(s) for s in scripts),
        "style-src " + " ".join(_sha(s) for s in styles),
        "img-src data:",
        "connect-src 'none'",
        "font-src 'none'",
        "media-src 'none'",
        "object-src 'none'",
        "frame-src 'none'",
        "worker-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ])


# -- JSON for <script type="application/json"> -------------------------------------------

_JS_ESC = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
           0x2028: "\\u2028", 0x2029: "\\u2029"}


def _plain(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dt.datetime):
        return v.isoformat() + "Z" if v.tzinfo is None else v.isoformat()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def json_text(data: Any) -> str:
    """JSON safe inside a script element: ``<``, ``>``, ``&``, U+2028/2029 escaped."""
    return json.dumps(_plain(data), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).translate(_JS_ESC)


def json_script(data: Any, element_id: str) -> Markup:
    """``<script type="application/json" id=...>`` holding ``data`` (never executed)."""
    return Markup('<script type="application/json" id="{}">{}</script>').format(
        element_id, Markup(json_text(data)))


# -- template filters --------------------------------------------------------------------

def fmt_time(v: Any) -> str:
    if not isinstance(v, dt.datetime):
        return "—"
    return v.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def fmt_num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        if v != 0 and abs(v) < 10 ** -digits:
            return f"{v:.1e}"
        return f"{v:,.{digits}f}".rstrip("0").rstrip(".") if "." in f"{v:.{digits}f}" else f"{v}"
    return str(v)


def fmt_duration(seconds: Any) -> str:
    if seconds is None or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return "—"
    s = float(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def fmt_cell(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return fmt_time(v)
    if isinstance(v, float | int | bool) or v is None:
        return fmt_num(v)
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def truncate(s: Any, n: int = 280) -> str:
    t = "" if s is None else str(s)
    return t if len(t) <= n else t[: n - 1] + "…"


def timeline_svg(rows: list[TimelineRow], *, width: int = 1100) -> Markup:
    """Member activity as an inline SVG strip chart: one row per member, one tick per post.

    Posts of coordinated accounts line up vertically. Labels are escaped; everything else
    is numbers computed here.
    """
    times = [t for r in rows for t in r.times]
    if not times:
        return Markup('<p class="muted">No timestamped posts for these members.</p>')
    t0, t1 = min(times), max(times)
    span = max((t1 - t0).total_seconds(), 1.0)
    left, right, top, rh = 150, 10, 8, 16
    plot = width - left - right
    height = top + rh * len(rows) + 28
    parts = [Markup(
        '<svg class="timeline" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'xmlns="http://www.w3.org/2000/svg"><title>Posts per member over time</title>'
    ).format(w=width, h=height)]
    for i, r in enumerate(rows):
        y = top + i * rh
        if i % 2 == 0:
            parts.append(Markup('<rect class="band" x="{}" y="{}" width="{}" height="{}"/>')
                         .format(left, y, plot, rh))
        parts.append(Markup('<text class="lbl" x="{}" y="{}" text-anchor="end">{}</text>')
                     .format(left - 6, y + rh - 3, truncate(r.handle, 20)))
        xs = sorted({round(left + (t - t0).total_seconds() / span * plot, 1) for t in r.times})
        d = " ".join(f"M{x} {y + 2}v{rh - 4}" for x in xs)
        if d:
            parts.append(Markup('<path class="tick" d="{}"/>').format(d))
    ya = top + rh * len(rows) + 4
    parts.append(Markup('<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>')
                 .format(left, left + plot, ya, ya))
    parts.append(Markup('<text class="lbl" x="{}" y="{}">{}</text>')
                 .format(left, ya + 16, fmt_time(t0)))
    parts.append(Markup('<text class="lbl" x="{}" y="{}" text-anchor="end">{}</text>')
                 .format(left + plot, ya + 16, fmt_time(t1)))
    parts.append(Markup('<text class="lbl" x="{}" y="{}" text-anchor="middle">span {}</text>')
                 .format(left + plot / 2, ya + 16, fmt_duration(span)))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # Our own docs, but rendered defensively: raw HTML is escaped, and images and links
    # are disabled (shown as text), so the methods text can load or open nothing.
    return MarkdownIt("commonmark", {"html": False}).disable(["image", "link", "autolink"])


def markdown(text: str) -> Markup:
    """Markdown (docs/methods.md) as HTML: no raw HTML, no images, no links."""
    return Markup(_markdown().render(text))


def score_bar(score: Any) -> Markup:
    v = float(score) if isinstance(score, int | float) and math.isfinite(score) else 0.0
    w = max(0.0, min(1.0, v)) * 60
    return Markup('<svg class="bar" width="60" height="8" viewBox="0 0 60 8">'
                  '<rect class="bar-bg" width="60" height="8" rx="2"/>'
                  '<rect class="bar-fg" width="{:.1f}" height="8" rx="2"/></svg>').format(w)


@cache
def environment() -> Environment:
    """The Jinja environment (autoescape on for every template)."""
    env = Environment(
        loader=PackageLoader("echoscope.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(time=fmt_time, num=fmt_num, duration=fmt_duration, cell=fmt_cell,
                       truncate_text=truncate, pathseg=lambda v: quote(str(v), safe=""),
                       markdown=markdown)
    env.globals.update(timeline_svg=timeline_svg, score_bar=score_bar, json_script=json_script)
    return env


def campaign_json(rows: list[CampaignRow]) -> list[list[Any]]:
    """The ranked list as compact rows for client-side pagination."""
    return [[r.rank, r.campaign_id, r.size, r.score, r.signals, r.first_time, r.last_time,
             r.summary, r.detailed] for r in rows]


def network_json(ctx: ReportContext) -> dict[str, Any]:
    return {"nodes": ctx.network.nodes, "edges": ctx.network.edges}


def page_assets(*, network: bool) -> dict[str, Any]:
    """Inline CSS/JS for a page and the CSP that allows exactly them."""
    css = static_text("report.css")
    scripts = [static_text("report.js")]
    if network:
        scripts.insert(0, static_text("cytoscape.min.js"))
    return {"css": Markup(css), "scripts": [Markup(s) for s in scripts],
            "csp": csp(scripts, [css]), "external": False}


def render_report(ctx: ReportContext) -> str:
    """The report HTML for a context."""
    assets = page_assets(network=bool(ctx.network.nodes))
    return environment().get_template("report.html").render(
        ctx=ctx, assets=assets, mode="report",
        campaigns_json=json_script(campaign_json(ctx.campaigns), "es-campaigns"),
        network_json=json_script(network_json(ctx), "es-network"),
    )


def write_report(ws: Workspace, path: str | os.PathLike[str],
                 params: ReportParams | None = None) -> Path:
    """Write the self-contained HTML report of a workspace; returns the path.

    >>> write_report(ws, "case/report.html")          # doctest: +SKIP
    """
    ctx = build_context(ws, params)
    html = render_report(ctx)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out


def context_dict(ctx: ReportContext) -> dict[str, Any]:
    """The context as plain JSON-able data (for snapshots and the web UI's JSON)."""
    return dict(_plain(asdict(ctx)))
