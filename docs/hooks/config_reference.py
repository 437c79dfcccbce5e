"""MkDocs hook: the configuration reference, generated from the config schema.

``mkdocs.yml`` names this file under ``hooks:``. On every page whose Markdown holds the marker
``<!-- config-reference -->`` (``docs/configuration.md``), the marker is replaced by
``seqlrp.formats.config_reference.render_reference`` of ``workflow/schemas/config.schema.yaml``,
so the reference's types, defaults and descriptions come from the schema alone. The site is built
from the repository root; where seqlrp is not installed, the repository's ``src/`` is imported.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

try:
    import seqlrp  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "src"))

from seqlrp.formats.config_reference import MARKER, read_schema, render_reference  # noqa: E402 (after the sys.path fallback)

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def on_page_markdown(markdown, page=None, config=None, files=None, **kwargs):
    """``markdown`` with the marker replaced by the reference (section headings at level 3, under
    the page's ``## Reference``); pages without the marker are returned unchanged."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render_reference(read_schema(SCHEMA), heading_level=3).rstrip("\n"))
