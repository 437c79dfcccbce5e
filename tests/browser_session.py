"""Open a page in headless Chromium (Debian's ``chromium``) through Playwright, with the network refused.

Every request whose URL is not ``file:``, ``data:`` or ``blob:`` is aborted and recorded, as are the
console's messages, uncaught page errors and dialogs (``alert`` and friends, dismissed). Skips the
test where Chromium or Playwright is missing (fails under ``SEQLRP_REQUIRE_TEST_DEPS=1``).
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from optional import need, need_program

from seqlrp.report.render_check import find_browser

LOCAL = ("file:", "data:", "blob:", "about:")


@dataclass
class Visit:
    """What happened while the page was open."""

    page: object
    refused: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Network requests, console warnings and errors, page errors and dialogs, as lines."""
        return ([f"request {url}" for url in self.refused] + [f"console {kind}: {text}" for kind, text in self.console
                                                              if kind in ("error", "warning", "assert")]
                + [f"page error: {error}" for error in self.errors] + [f"dialog: {text}" for text in self.dialogs])


_RUNNING: dict = {}


def _browser():
    """One headless Chromium per test process, started on first use and closed at exit (a launch
    costs about a second; each visit gets a fresh browser context of its own)."""
    if "browser" not in _RUNNING:
        chromium = need_program("chromium", find_browser())
        sync_api = need("playwright.sync_api")
        playwright = sync_api.sync_playwright().start()
        _RUNNING["playwright"] = playwright
        _RUNNING["browser"] = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])

        def stop():
            _RUNNING.pop("browser").close()
            _RUNNING.pop("playwright").stop()

        atexit.register(stop)
    return _RUNNING["browser"]


@contextlib.contextmanager
def visit(path: Path, width: int = 1500, height: int = 1000, ready: str = "body[data-ready]") -> Iterator[Visit]:
    """Open ``path`` from ``file://`` in a fresh context and wait for ``ready`` (the browser page
    sets ``data-ready``)."""
    context = _browser().new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        seen = Visit(page)

        def route(request_route):
            url = request_route.request.url
            if url.startswith(LOCAL):
                request_route.continue_()
            else:
                seen.refused.append(url)
                request_route.abort()

        page.route("**/*", route)
        page.on("console", lambda message: seen.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: seen.errors.append(str(error)))

        def dialog(opened):
            seen.dialogs.append(opened.message)
            opened.dismiss()

        page.on("dialog", dialog)
        page.goto(path.resolve().as_uri())
        page.wait_for_selector(ready, state="attached", timeout=60_000)
        yield seen
    finally:
        context.close()
