"""HTML building blocks of the self-contained report: escaping, tables, embedded images, the page.

Text read from files is data, never markup. Every builder here escapes what it is given unless it
is a :class:`Markup` (HTML this module produced), so a class name such as ``<script>`` shows as
text. Images are embedded as ``data:image/png;base64`` URIs and the page carries its own CSS: the
file opens offline and fetches nothing.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Iterable, Mapping, Sequence

from ..errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Markup(str):
    """A string that is already HTML; :func:`esc` returns it unchanged."""


def esc(value: object) -> Markup:
    """``value`` as HTML text: escaped (quotes too), unless it is :class:`Markup` already."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Markup:
    """Concatenate parts, escaping those that are not :class:`Markup`."""
    return Markup(esc(sep).join(esc(p) for p in parts))


def _attributes(attrs: Mapping[str, object]) -> str:
    return "".join(f' {key.rstrip("_").replace("_", "-")}="{esc(value)}"' for key, value in attrs.items()
                   if value is not None)


def element(tag: str, /, *children: object, **attrs: object) -> Markup:
    """``<tag attrs>children</tag>``; attribute ``class_`` becomes ``class``, ``None`` values are left out."""
    return Markup(f"<{tag}{_attributes(attrs)}>{join(children)}</{tag}>")


def void(tag: str, /, **attrs: object) -> Markup:
    """An element without content (``<img>``, ``<meta>``)."""
    return Markup(f"<{tag}{_attributes(attrs)}>")


def png_data_uri(data: bytes, where: str | os.PathLike = "<png>") -> str:
    """``data:image/png;base64,...`` for PNG bytes; :class:`InputError` when they are not a PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise InputError(where, "not a PNG file (bad signature)")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def image(data: bytes, alt: str, where: str | os.PathLike = "<png>", class_: str | None = None) -> Markup:
    """An ``<img>`` embedding PNG bytes (no external source; shown at most at the column width)."""
    return void("img", src=png_data_uri(data, where), alt=alt, class_=class_)


def figure(data: bytes, caption: object, where: str | os.PathLike = "<png>", class_: str | None = None) -> Markup:
    """An embedded PNG with a caption below it."""
    return element("figure", image(data, plain_text(caption), where), element("figcaption", caption), class_=class_)


def plain_text(content: object) -> str:
    """``content`` as text without markup (for attributes such as ``alt``): tags dropped, entities read."""
    return html.unescape(re.sub(r"<[^>]*>", "", str(content))) if isinstance(content, Markup) else str(content)


def table(header: Sequence[object], rows: Iterable[Sequence[object]], numeric: Iterable[int] = (),
          class_: str | None = None, row_classes: Sequence[str | None] | None = None) -> Markup:
    """A table; cells are escaped unless :class:`Markup`; columns in ``numeric`` are right-aligned.

    ``row_classes``: an optional CSS class per row (None for none).
    """
    numeric = set(numeric)
    head = element("tr", *(element("th", h) for h in header))
    body = [element("tr", *(element("td", cell, class_="num" if j in numeric else None) for j, cell in enumerate(row)),
                    class_=row_classes[i] if row_classes else None)
            for i, row in enumerate(rows)]
    return element("table", element("thead", head), element("tbody", *body), class_=class_)


def details(summary: object, *content: object, open_: bool = False) -> Markup:
    """A collapsible block (``<details>``), closed unless ``open_``."""
    return element("details", element("summary", summary), *content, open="" if open_ else None)


def note(*text: object, kind: str = "note") -> Markup:
    """A highlighted paragraph (``kind`` note | warn)."""
    return element("p", *text, class_=kind)


def badge(verdict: str, text: str | None = None) -> Markup:
    """A coloured verdict: ``pass`` green, ``warn`` orange, anything else grey; shows ``text`` or the verdict."""
    kind = verdict if verdict in ("pass", "warn") else "other"
    return element("span", verdict if text is None else text, class_=f"badge {kind}")


def code(text: object) -> Markup:
    return element("code", text)


def definition_list(items: Mapping[str, object]) -> Markup:
    """A two-column key/value table (keys escaped; values escaped unless :class:`Markup`)."""
    return table(("", ""), ((element("b", k), v) for k, v in items.items()), class_="kv")


CSS = """
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --bg-alt: #f5f6f8; --accent: #1a5fb4; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 24px 48px; }
header.top { border-bottom: 2px solid var(--accent); margin-bottom: 8px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
h4 { font-size: 14px; margin: 14px 0 4px; }
p.sub { color: var(--muted); margin: 0 0 8px; }
nav.toc ol { margin: 4px 0 8px; padding-left: 22px; columns: 2; }
nav.toc a, a { color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg-alt); font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv td:first-child { white-space: nowrap; }
table.kv th { display: none; }
tr.configured td { font-weight: 600; }
.wide { max-width: 100%; overflow-x: auto; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--bg-alt); border: 1px solid var(--line); padding: 8px 10px; overflow-x: auto; }
details { margin: 6px 0 10px; }
details > summary { cursor: pointer; color: var(--accent); font-weight: 600; }
p.note { background: #eef4fb; border-left: 4px solid var(--accent); padding: 6px 10px; }
p.warn { background: #fff4e5; border-left: 4px solid #e67e00; padding: 6px 10px; }
.badge { display: inline-block; min-width: 44px; text-align: center; border-radius: 10px; padding: 0 8px;
         font-size: 12px; font-weight: 700; color: #fff; }
.badge.pass { background: #2e7d32; }
.badge.warn { background: #e67e00; }
.badge.other { background: #80868b; }
figure { margin: 8px 0 16px; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 3px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 12px 18px; }
.grid figure { margin: 0; }
.region figcaption { font-size: 13px; color: var(--fg); }
.muted { color: var(--muted); }
"""


def page(title: str, subtitle: object, toc: Sequence[tuple[str, str]], body: Sequence[object]) -> str:
    """The complete HTML document: own CSS, no scripts, no external resources."""
    nav = element("nav", element("ol", *(element("li", element("a", text, href=f"#{anchor}")) for anchor, text in toc)),
                  class_="toc")
    return ("<!DOCTYPE html>\n"
            + element("html",
                      element("head", void("meta", charset="utf-8"),
                              void("meta", name="viewport", content="width=device-width, initial-scale=1"),
                              element("title", title), element("style", Markup(CSS))),
                      element("body", element("main", element("header", element("h1", title),
                                                               element("p", subtitle, class_="sub"), nav,
                                                               class_="top"),
                                              *body)),
                      lang="en")
            + "\n")
