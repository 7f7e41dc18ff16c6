/* echoscope report: campaign pagination, network view, image unblur.
 * Data comes from <script type="application/json"> elements and is only ever written to
 * the page with textContent / createElement: never innerHTML, never as markup. */
(function () {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function fmtTime(s) { return s ? String(s).replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "—"; }
  function fmtNum(x, d) {
    if (x === null || x === undefined) { return "—"; }
    if (typeof x !== "number") { return String(x); }
    return x.toLocaleString("en-US", { maximumFractionDigits: d === undefined ? 3 : d });
  }

  /* ---- ranked campaigns: client-side filter and pagination ---- */
  function initCampaigns() {
    var rows = readJSON("es-campaigns");
    var table = document.getElementById("es-campaign-table");
    if (!rows || !table) { return; }
    var tbody = table.tBodies[0];
    var prefix = table.getAttribute("data-link-prefix") || "#campaign-";
    var pageSize = 50, page = 0, shown = rows;
    var filter = document.getElementById("es-filter");
    var pager = document.getElementById("es-pager");
    var prev = document.getElementById("es-prev"), next = document.getElementById("es-next");
    var label = document.getElementById("es-page"), count = document.getElementById("es-count");

    function bar(score) {
      var ns = "http://www.w3.org/2000/svg";
      var svg = document.createElementNS(ns, "svg");
      svg.setAttribute("class", "bar"); svg.setAttribute("width", "60"); svg.setAttribute("height", "8");
      var bg = document.createElementNS(ns, "rect");
      bg.setAttribute("class", "bar-bg"); bg.setAttribute("width", "60"); bg.setAttribute("height", "8"); bg.setAttribute("rx", "2");
      var fg = document.createElementNS(ns, "rect");
      var w = typeof score === "number" ? Math.max(0, Math.min(1, score)) * 60 : 0;
      fg.setAttribute("class", "bar-fg"); fg.setAttribute("width", w.toFixed(1)); fg.setAttribute("height", "8"); fg.setAttribute("rx", "2");
      svg.appendChild(bg); svg.appendChild(fg);
      return svg;
    }
    function render() {
      var pages = Math.max(1, Math.ceil(shown.length / pageSize));
      page = Math.min(page, pages - 1);
      while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
      shown.slice(page * pageSize, (page + 1) * pageSize).forEach(function (r) {
        // r = [rank, id, size, score, signals, first, last, summary, detailed]
        var tr = el("tr");
        tr.appendChild(el("td", "num", r[0]));
        var td = el("td");
        if (r[8]) {
          var a = el("a", null, r[1]);
          a.setAttribute("href", prefix + encodeURIComponent(String(r[1])));
          td.appendChild(a);
        } else { td.textContent = String(r[1]); }
        tr.appendChild(td);
        var sc = el("td", "nowrap"); sc.appendChild(bar(r[3])); sc.appendChild(document.createTextNode(" " + fmtNum(r[3], 2)));
        tr.appendChild(sc);
        tr.appendChild(el("td", "num", fmtNum(r[2])));
        var sig = el("td");
        (r[4] || []).forEach(function (s) { sig.appendChild(el("span", "chip", s)); });
        tr.appendChild(sig);
        tr.appendChild(el("td", "nowrap", fmtTime(r[5])));
        var summary = String(r[7] || "");
        tr.appendChild(el("td", null, summary.length > 160 ? summary.slice(0, 159) + "…" : summary));
        tbody.appendChild(tr);
      });
      pager.hidden = pages <= 1;
      label.textContent = "page " + (page + 1) + " of " + pages;
      prev.disabled = page === 0; next.disabled = page >= pages - 1;
      count.textContent = fmtNum(shown.length) + (shown.length === rows.length ? " campaigns" : " of " + fmtNum(rows.length) + " campaigns");
    }
    if (filter) {
      filter.addEventListener("input", function () {
        var q = filter.value.trim().toLowerCase();
        shown = !q ? rows : rows.filter(function (r) {
          return [r[1], (r[4] || []).join(" "), r[7]].join(" ").toLowerCase().indexOf(q) >= 0;
        });
        page = 0; render();
      });
    }
    prev.addEventListener("click", function () { page -= 1; render(); });
    next.addEventListener("click", function () { page += 1; render(); });
    render();
  }

  /* ---- network view (cytoscape.js, vendored) ---- */
  var PALETTE = ["#2457c5", "#c2410c", "#0f766e", "#9333ea", "#be123c", "#4d7c0f", "#0369a1",
                 "#a16207", "#7c3aed", "#047857", "#b91c1c", "#1d4ed8"];
  var EDGE_COLORS = { repost: "#2563eb", text: "#d97706", near_text: "#f59e0b", url: "#059669",
                      domain: "#10b981", hashtag: "#7c3aed", hashtag_set: "#a855f7", media: "#db2777",
                      reply: "#0891b2", quote: "#0e7490", mention: "#64748b" };
  function edgeColor(t) { return EDGE_COLORS[t] || "#94a3b8"; }

  function initNetwork() {
    var data = readJSON("es-network");
    var box = document.getElementById("es-cy");
    if (!data || !box || typeof window.cytoscape !== "function" || !data.nodes.length) { return; }
    var elements = [];
    var maxS = 0;
    data.nodes.forEach(function (n) { maxS = Math.max(maxS, n.strength || 0); });
    data.nodes.forEach(function (n) {
      var rel = maxS > 0 ? Math.sqrt(Math.max(0, n.strength || 0) / maxS) : 0;
      elements.push({ group: "nodes", data: { id: "n" + n.id, raw: n, label: n.label,
        color: n.rank ? PALETTE[(n.rank - 1) % PALETTE.length] : "#94a3b8",
        size: 7 + 11 * rel },
        position: { x: n.x, y: n.y } });
    });
    var maxW = 0;
    data.edges.forEach(function (e) { maxW = Math.max(maxW, e.weight || 0); });
    data.edges.forEach(function (e, i) {
      elements.push({ group: "edges", data: { id: "e" + i, source: "n" + e.source, target: "n" + e.target,
        raw: e, color: edgeColor(e.type), w: 0.6 + 2.4 * (maxW > 0 ? Math.max(0, e.weight || 0) / maxW : 0) } });
    });
    var cy = window.cytoscape({
      container: box, elements: elements, layout: { name: "preset" },
      minZoom: 0.05, maxZoom: 6, textureOnViewport: true,
      hideEdgesOnViewport: data.edges.length > 2000,
      style: [
        { selector: "node", style: { "background-color": "data(color)", width: "data(size)", height: "data(size)",
          "border-width": 0.6, "border-color": "#ffffff", label: "", "font-size": 9, color: "#1f2933",
          "text-valign": "bottom", "text-margin-y": 2 } },
        { selector: "node.hl", style: { label: "data(label)", "border-width": 3, "border-color": "#111827", "z-index": 10 } },
        { selector: "node:selected", style: { label: "data(label)", "border-width": 3, "border-color": "#f59e0b" } },
        { selector: "edge", style: { width: "data(w)", "line-color": "data(color)", opacity: 0.5, "curve-style": "haystack" } },
        { selector: "edge:selected", style: { opacity: 1, width: 4 } },
        { selector: ".faded", style: { opacity: 0.08 } }
      ]
    });
    function fitAll() {
      cy.fit(undefined, 24);
      if (cy.zoom() > 2) { cy.zoom(2); cy.center(); }  // small graphs: do not blow nodes up
    }
    fitAll();

    var info = document.getElementById("es-net-info");
    function show(title, pairs) {
      while (info.firstChild) { info.removeChild(info.firstChild); }
      info.appendChild(el("h4", null, title));
      var dl = el("dl");
      pairs.forEach(function (p) { dl.appendChild(el("dt", null, p[0])); dl.appendChild(el("dd", null, p[1])); });
      info.appendChild(dl);
    }
    cy.on("tap", "node", function (ev) {
      var n = ev.target.data("raw");
      cy.elements().addClass("faded");
      ev.target.closedNeighborhood().removeClass("faded");
      show("@" + n.label, [["account id", n.id], ["name", n.name || "—"], ["campaign", n.campaign || "—"],
        ["campaign rank", n.rank || "—"], ["strength", fmtNum(n.strength, 2)],
        ["ties shown", ev.target.degree()]]);
    });
    cy.on("tap", "edge", function (ev) {
      var e = ev.target.data("raw");
      show(e.type + " tie", [["between", ev.target.source().data("label") + " and " + ev.target.target().data("label")],
        ["weight", fmtNum(e.weight, 3)], ["shared keys", fmtNum(e.n_keys)]]);
    });
    cy.on("tap", function (ev) { if (ev.target === cy) { cy.elements().removeClass("faded"); } });

    var search = document.getElementById("es-net-search");
    if (search) {
      search.addEventListener("input", function () {
        var q = search.value.trim().toLowerCase();
        cy.nodes().removeClass("hl");
        if (!q) { return; }
        var hits = cy.nodes().filter(function (n) {
          var r = n.data("raw");
          return String(r.label).toLowerCase().indexOf(q) >= 0 || String(r.id).toLowerCase() === q;
        });
        hits.addClass("hl");
        if (hits.length) { cy.animate({ fit: { eles: hits, padding: 60 } }, { duration: 300 }); }
      });
    }
    var fit = document.getElementById("es-net-fit");
    if (fit) { fit.addEventListener("click", function () { cy.elements().removeClass("faded"); fitAll(); }); }

    var legend = document.getElementById("es-net-legend");
    if (legend) {
      var types = {};
      data.edges.forEach(function (e) { types[e.type] = true; });
      Object.keys(types).sort().forEach(function (t) {
        var item = el("span"); var sw = el("span", "ln"); sw.style.background = edgeColor(t);
        item.appendChild(sw); item.appendChild(document.createTextNode(t)); legend.appendChild(item);
      });
      var nodeNote = el("span", "muted", "· nodes coloured by campaign");
      legend.appendChild(nodeNote);
    }
  }

  /* ---- images: blurred until clicked ---- */
  function initMedia() {
    document.querySelectorAll("img.media").forEach(function (img) {
      img.addEventListener("click", function () { img.classList.toggle("blur"); });
    });
  }

  function start() { initCampaigns(); initNetwork(); initMedia(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
