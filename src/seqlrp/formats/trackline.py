"""UCSC ``track`` lines for the BED files the pipeline writes, and telling header lines from data.

Every BED output (seqlets, motif-named seqlets, motif instances) opens with one line
``track name="{class} {method} ..." description="..." visibility=2 itemRgb="On"``: the UCSC
browser draws the BED9 colour column only with ``itemRgb="On"``, and IGV and UCSC show the
track line's ``name`` instead of the file name, so files of the same name in different
``{class}.{method}`` folders stay apart when loaded together. Data lines follow (0-based,
half-open coordinates).

Readers skip header lines: blank lines and lines starting with ``#``, ``track`` or ``browser``
(what UCSC, IGV and bedtools skip).
"""

from __future__ import annotations

HEADER_PREFIXES = ("#", "track", "browser")


def _quoted(text: str) -> str:
    """``text`` inside double quotes; inner double quotes become single ones (a track line cannot escape them)."""
    return '"' + " ".join(text.replace('"', "'").split()) + '"'


def bed_track_line(name: str, description: str) -> str:
    """A UCSC ``track`` line (no newline) for a BED9 file with its colours shown."""
    return f"track name={_quoted(name)} description={_quoted(description)} visibility=2 itemRgb=\"On\""


def is_header(line: str) -> bool:
    """True for a blank line or a ``#`` / ``track`` / ``browser`` header line of a BED or bedGraph file."""
    return not line.strip() or line.startswith(HEADER_PREFIXES)
