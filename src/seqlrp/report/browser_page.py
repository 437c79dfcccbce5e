"""The offline browser page's HTML: igv.js and the data inline, a region list beside one igv.js browser.

Everything a user's file names (records, variants, motifs, classes) is data: in the HTML it is
escaped text (:func:`seqlrp.report.htmlkit.esc`), and the page's data is one JSON document in a
``<script type="application/json">`` element, written by :func:`script_json` so that no ``<``,
``>`` or ``&`` appears in it (``</script>`` and ``<!--`` cannot end or change the element). The
page's own script builds the region list with ``textContent``, never HTML. igv.js shows track names
as HTML, so they are HTML-escaped before they reach it (:mod:`.browser`); it draws feature names on
its canvas (text), but writes a clicked feature's fields into its popup as HTML: the page takes that
over (igv.js's ``trackclick`` event) and writes every field as text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping

from .htmlkit import esc
from .igv_bundle import IgvBundle

_SCRIPT_END = re.compile(r"</script|<!--", re.IGNORECASE)


def script_json(value: object) -> str:
    """JSON of ``value`` safe inside a ``<script>`` element: ``<``, ``>``, ``&`` and the line
    separators U+2028/U+2029 written as ``\\uXXXX`` escapes (the same JSON when parsed)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def inline_script(code: str, where: str) -> str:
    """``code`` checked to hold nothing that ends or alters a ``<script>`` element."""
    found = _SCRIPT_END.search(code)
    if found:
        raise ValueError(f"{where}: holds {found[0]!r} at character {found.start()}, which would end its <script>")
    return code


STYLE = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fafafa}
header{padding:8px 16px;background:#24425f;color:#fff}
header h1{margin:0;font-size:18px;font-weight:600}
header p{margin:2px 0 0;font-size:12px;opacity:.85}
main{display:flex;align-items:flex-start;gap:12px;padding:12px}
#regions-panel{flex:0 0 400px;max-height:calc(100vh - 90px);display:flex;flex-direction:column;background:#fff;
 border:1px solid #ccc;border-radius:4px}
#regions-panel input{margin:8px;padding:4px 6px;border:1px solid #aaa;border-radius:3px}
#regions-count{margin:0 8px 4px;font-size:12px;color:#555}
#regions-scroll{overflow:auto}
table{border-collapse:collapse;width:100%;font-size:12px}
th{position:sticky;top:0;background:#eee;text-align:left;padding:4px;cursor:pointer;white-space:nowrap;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
td{padding:3px 4px;border-top:1px solid #eee;max-width:150px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr{cursor:pointer}
tbody tr:hover{background:#f0f6ff}
tbody tr.selected{background:#d6e6ff}
#browser-panel{flex:1 1 auto;min-width:0;background:#fff;border:1px solid #ccc;border-radius:4px;padding:4px}
#browser-error{color:#a00;white-space:pre-wrap}
footer{padding:0 16px 16px;font-size:12px;color:#555}
footer pre{white-space:pre-wrap;font-size:11px}
"""

# the page's own code: igv.js session from the embedded JSON, the region list (text only), jumps
APP = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("seqlrp-data").textContent);
  var status = document.getElementById("regions-count");
  var body = document.querySelector("#regions tbody");
  var search = document.getElementById("regions-search");
  var rows = [];
  var browser = null;
  var sortColumn = -1, sortAscending = true;

  function cell(text, numeric) {
    var td = document.createElement("td");
    td.textContent = text;
    td.title = text;
    if (numeric) td.className = "num";
    return td;
  }

  function formatScore(value) {
    if (value === null || value === undefined) return "";
    var magnitude = Math.abs(value);
    return (magnitude !== 0 && (magnitude < 0.001 || magnitude >= 1e5)) ? value.toExponential(2) : value.toFixed(3);
  }

  data.regions.forEach(function (region, index) {
    var tr = document.createElement("tr");
    tr.dataset.index = String(index);
    tr.dataset.locus = region.locus;
    [region.kind, region.name, region.position, region.cls, formatScore(region.score), region.note]
      .forEach(function (text, column) { tr.appendChild(cell(text, column === 4)); });
    tr.addEventListener("click", function () { jump(tr, region); });
    rows.push({tr: tr, region: region, text: [region.kind, region.name, region.position, region.cls,
      region.note].join(" ").toLowerCase()});
    body.appendChild(tr);
  });

  function jump(tr, region) {
    rows.forEach(function (row) { row.tr.classList.remove("selected"); });
    tr.classList.add("selected");
    if (browser) browser.search(region.locus);
  }

  function showCount() {
    var shown = rows.filter(function (row) { return !row.tr.hidden; }).length;
    status.textContent = shown + " of " + rows.length + " regions" + (data.note ? " \u00b7 " + data.note : "");
  }

  search.addEventListener("input", function () {
    var query = search.value.trim().toLowerCase();
    rows.forEach(function (row) { row.tr.hidden = query !== "" && row.text.indexOf(query) < 0; });
    showCount();
  });

  var keys = [
    function (r) { return r.kind; }, function (r) { return r.name; }, function (r) { return r.order; },
    function (r) { return r.cls; }, function (r) { return r.score === null ? -Infinity : r.score; },
    function (r) { return r.note; }
  ];
  document.querySelectorAll("#regions th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      sortAscending = sortColumn === column ? !sortAscending : column !== 4;
      sortColumn = column;
      document.querySelectorAll("#regions th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", sortAscending ? "ascending" : "descending");
      var key = keys[column];
      rows.sort(function (a, b) {
        var x = key(a.region), y = key(b.region);
        var order = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return sortAscending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row.tr); });
    });
  });
  showCount();

  var options = {
    loadDefaultGenomes: false,
    search: false,
    queryParametersSupported: false,
    showCenterGuide: true,
    reference: data.reference,
    locus: data.locus,
    tracks: data.tracks,
    roi: data.roi
  };
  function escapeHtml(value) {
    return String(value === undefined || value === null ? "" : value).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }

  // igv.js's own markup in a popup line (a divider, a non-breaking space) as plain text
  function plain(value) {
    return String(value === undefined || value === null ? "" : value).replace(/&nbsp;?/g, " ");
  }

  // igv.js writes a clicked feature's fields (names from the user's files) into its popup as HTML:
  // the page writes every field as text instead, and igv.js's dividers as <hr>
  function popupText(track, popupData) {
    if (!popupData || popupData.length === 0) return false;
    return popupData.map(function (item) {
      if (typeof item === "string" && /^\s*<hr\b/i.test(item)) return "<hr>";
      if (item && typeof item === "object" && item.html !== undefined) return "<hr>";
      if (item && typeof item === "object" && item.name !== undefined) {
        return "<div><b>" + escapeHtml(plain(item.name)) + "</b> " + escapeHtml(plain(item.value)) + "</div>";
      }
      return "<div>" + escapeHtml(plain(item)) + "</div>";
    }).join("");
  }

  if (!data.reference) {  // nothing to show: the list says so, igv.js is not started
    document.getElementById("browser-error").textContent = data.note;
    document.body.dataset.ready = "empty";
    return;
  }

  igv.createBrowser(document.getElementById("igv"), options).then(function (created) {
    browser = created;
    created.on("trackclick", popupText);
    window.seqlrpBrowser = created;
    document.body.dataset.ready = "true";
  }).catch(function (error) {
    document.getElementById("browser-error").textContent = "igv.js could not start: " + error;
    document.body.dataset.ready = "error";
    console.error(error);
  });
})();
"""

HEADERS = ("list", "name", "locus", "class", "score", "note")


def script_hash(code: str) -> str:
    """The CSP source of an inline script: ``'sha256-<base64 of its UTF-8 bytes' SHA-256>'``."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(*scripts: str) -> str:
    """The page's policy: nothing from anywhere but the page itself. Only ``scripts`` run (by their
    hashes); images, fonts, workers and fetches only from ``data:``/``blob:`` URIs; no form, no
    frame. igv.js offers a BLAT search of the visible sequence, which would send it to igv.org:
    the policy refuses that request."""
    return "; ".join([
        "default-src 'none'", f"script-src {' '.join(script_hash(code) for code in scripts)}",
        "style-src 'unsafe-inline'", "img-src data: blob:", "font-src data:", "connect-src data: blob:",
        "worker-src blob:", "base-uri 'none'", "form-action 'none'"])


def render_page(title: str, subtitle: str, data: Mapping, bundle: IgvBundle) -> str:
    """The whole page: ``data`` (``reference``, ``locus``, ``tracks``, ``roi``, ``regions``, ``note``:
    the igv.js session and the region list) embedded as JSON, igv.js and its licence inline."""
    head_cells = "".join(f"<th scope=\"col\">{esc(name)}</th>" for name in HEADERS)
    igv_code = inline_script(bundle.script, "igv.min.js")
    return "\n".join([
        "<!DOCTYPE html>",
        "<html lang=\"en\">",
        "<head>",
        "<meta charset=\"utf-8\">",
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(content_security_policy(igv_code, APP))}\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>{esc(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>",
        "<main>",
        "<section id=\"regions-panel\" aria-label=\"regions\">",
        "<input id=\"regions-search\" type=\"search\" placeholder=\"search regions (name, class, locus, note)\">",
        "<div id=\"regions-count\"></div>",
        f"<div id=\"regions-scroll\"><table id=\"regions\"><thead><tr>{head_cells}</tr></thead><tbody></tbody>"
        "</table></div>",
        "</section>",
        "<section id=\"browser-panel\" aria-label=\"genome browser\"><div id=\"browser-error\"></div>"
        "<div id=\"igv\"></div></section>",
        "</main>",
        "<footer><p>Click a row to go there; click a column title to sort. Relevance is drawn as letters "
        "(dynseq) when zoomed in to a few hundred bases, as bars further out; every track keeps one scale.</p>"
        f"<details><summary>igv.js {esc(bundle.version)} (MIT licence), embedded in this page</summary>"
        f"<pre>{esc(bundle.license)}</pre></details></footer>",
        f"<script type=\"application/json\" id=\"seqlrp-data\">{script_json(data)}</script>",
        f"<script>{igv_code}</script>",
        f"<script>{APP}</script>",
        "</body>",
        "</html>",
        "",
    ])

