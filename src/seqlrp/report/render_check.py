"""Check that a report is self-contained and renders in headless Chromium.

``python -m seqlrp.report.render_check results/report.html --screenshot report.png`` (or ``make
report-check``) runs two checks and exits 1 when either fails:

1. static: no ``src``/``href``/``url()``/``@import``/``srcset``/``action`` of the HTML points anywhere
   but an embedded ``data:`` URI, an in-page ``#anchor`` or the link to the browser page beside it
   (``href="browser.html"``: followed only when clicked), and the page has no ``<script>``,
   ``<link>``, ``<iframe>``, ``<object>`` or ``<embed>`` (so nothing can be fetched);
2. rendered: Chromium (Debian package ``chromium``) loads the file headless with networking
   disabled (``--host-resolver-rules`` maps every host to nowhere), ``--dump-dom`` gives a DOM
   that holds every expected section and in which every ``<img>`` is a ``data:`` URI, and
   ``--screenshot`` writes a PNG of the page (look at it: the check cannot judge the layout).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_ATTRIBUTE = re.compile(r"""\b(src|href|srcset|action|poster|data|formaction|xlink:href)\s*=\s*(["'])(.*?)\2""",
                        re.IGNORECASE | re.DOTALL)
_CSS_URL = re.compile(r"""url\(\s*(["']?)(.*?)\1\s*\)|@import""", re.IGNORECASE)
# pages written beside the report that it links to (a link is followed only when clicked)
SIBLING_PAGES = ("browser.html",)
_FETCHING_TAGS = re.compile(r"<\s*(script|link|iframe|object|embed|base)\b", re.IGNORECASE)


def find_browser() -> str | None:
    """Path of a Chromium (or Chrome) executable on PATH, or None."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def external_references(html: str) -> list[str]:
    """Everything in ``html`` that would make a browser fetch something: empty when self-contained.

    Allowed: ``data:`` URIs, in-page anchors (``#id``) and ``href`` to :data:`SIBLING_PAGES`. Everything else (``http(s)://``,
    ``//host``, ``file:``, relative paths, CSS ``url()`` to anything but ``data:``, ``@import``)
    and every ``<script>``, ``<link>``, ``<iframe>``, ``<object>``, ``<embed>``, ``<base>`` tag is
    reported.
    """
    found = []
    for match in _ATTRIBUTE.finditer(html):
        value = match[3].strip()
        if match[1].lower() == "href" and value in SIBLING_PAGES:
            continue
        if not (value.startswith("#") or value.lower().startswith("data:")):
            found.append(f'{match[1]}="{value[:80]}"')
    for match in _CSS_URL.finditer(html):
        if match[0].lower() == "@import" or not (match[2] or "").strip().lower().startswith("data:"):
            found.append(match[0][:80])
    found += [f"<{m[1]}> tag" for m in _FETCHING_TAGS.finditer(html)]
    return found


def png_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of a PNG file, from its IHDR chunk."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError(f"{path}: not a PNG file")
    return struct.unpack(">II", head[16:24])


@dataclass
class Rendered:
    """What Chromium made of a page: the serialised DOM and the screenshot's path and size."""

    dom: str
    screenshot: Path
    size: tuple[int, int]


def _chromium(browser: str, args: Sequence[str], profile: str, timeout: float) -> subprocess.CompletedProcess:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{browser} exited with {result.returncode}: {tail}")
    return result


def render(report: str | os.PathLike, screenshot: str | os.PathLike, *, browser: str | None = None,
           width: int = 1280, height: int = 4000, timeout: float = 60) -> Rendered:
    """Load ``report`` in headless Chromium: its DOM after parsing, and a ``width`` x ``height`` screenshot."""
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError(f"no Chromium on PATH (looked for {', '.join(BROWSERS)}); Debian: apt-get install chromium")
    url = Path(report).resolve().as_uri()
    screenshot = Path(screenshot).resolve()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="seqlrp-chromium-") as profile:
        dom = _chromium(browser, ["--dump-dom", url], profile, timeout).stdout
        _chromium(browser, [f"--screenshot={screenshot}", f"--window-size={width},{height}",
                            "--hide-scrollbars", url], profile, timeout)
    if not screenshot.is_file():
        raise RuntimeError(f"{browser} wrote no screenshot {screenshot}")
    return Rendered(dom, screenshot, png_size(screenshot))


def check(report: str | os.PathLike, screenshot: str | os.PathLike, sections: Sequence[str] = (),
          browser: str | None = None, width: int = 1280, height: int = 4000) -> list[str]:
    """Problems found in ``report`` (empty list: it is self-contained, renders and holds ``sections`` ids)."""
    html = Path(report).read_text(encoding="utf-8")
    problems = [f"external reference: {ref}" for ref in external_references(html)]
    rendered = render(report, screenshot, browser=browser, width=width, height=height)
    if "</html>" not in rendered.dom.lower():
        problems.append("Chromium's DOM dump is incomplete")
    problems += [f"section #{s} missing from the rendered DOM" for s in sections
                 if not re.search(rf"""id=["']{re.escape(s)}["']""", rendered.dom)]
    problems += [f"rendered DOM: external reference: {ref}" for ref in external_references(rendered.dom)]
    if rendered.size[0] != width:
        problems.append(f"screenshot is {rendered.size[0]} px wide, expected {width}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    from .page import SECTIONS

    parser = argparse.ArgumentParser(prog="python -m seqlrp.report.render_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("report", help="the HTML report (results/report.html)")
    parser.add_argument("--screenshot", default=None, help="PNG to write (default: beside the report, *.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=4000)
    args = parser.parse_args(argv)
    screenshot = args.screenshot or str(Path(args.report).with_suffix(".png"))
    try:
        problems = check(args.report, screenshot, [anchor for anchor, _ in SECTIONS], width=args.width,
                         height=args.height)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
        print(f"seqlrp: error: render check: {err}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"seqlrp: error: {args.report}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.report}: self-contained, renders in headless Chromium; screenshot {screenshot} (look at it)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
