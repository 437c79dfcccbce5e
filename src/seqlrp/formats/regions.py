"""Reading BED and narrowPeak region files, with errors that name the file and the line.

BED coordinates are 0-based, half-open. Column 4 is the name, column 6 the strand (``+``, ``-``
or ``.``). A file is a narrowPeak when its name says so (``*.narrowPeak``, ``*.narrowPeak.gz``,
any case) or a ``track type=narrowPeak`` line does; then every line must have exactly 10
columns and column 10 is the summit offset from ``start`` (-1: none given). In any other file
column 10 means something else (a BED12's blockCount) and is never read as a summit.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .textfiles import open_text
from .trackline import is_header

log = logging.getLogger(__name__)

_STRANDS = {"+", "-", "."}


@dataclass(frozen=True)
class Region:
    """One interval of a BED/narrowPeak file (0-based, half-open) and where it came from."""

    chrom: str
    start: int
    end: int
    name: str
    strand: str  # "+", "-" or "."
    summit: int  # offset from start, or -1 when the file gives none
    path: str
    line: int

    def centre(self, use_summit: bool = True) -> int:
        """The summit when known (and asked for), else the midpoint ``(start + end) // 2``."""
        if use_summit and self.summit >= 0:
            return self.start + self.summit
        return (self.start + self.end) // 2



NARROWPEAK_COLUMNS = 10


def _parse_int(text: str, column: str, path: Path, line: int) -> int:
    try:
        return int(text)
    except ValueError:
        if any(char.isspace() for char in text.strip()):
            raise InputError(path, f"{column} is {text!r}: a space where a tab belongs? BED columns are "
                                   "separated by tabs", line) from None
        raise InputError(path, f"{column} must be an integer, got {text!r}", line) from None


def is_narrowpeak_name(path: str | os.PathLike) -> bool:
    """True when the file name says narrowPeak (``x.narrowPeak``, ``x.narrowPeak.gz``, any case)."""
    name = Path(path).name.lower()
    return name.removesuffix(".gz").endswith(".narrowpeak")


def _declares_narrowpeak(header: str) -> bool:
    """True for a ``track`` line with ``type=narrowPeak``."""
    return header.startswith("track") and "type=narrowpeak" in header.lower().replace('"', "")


def read_regions(path: str | os.PathLike) -> list[Region]:
    """Parse a BED (3+ columns) or narrowPeak file (plain or gzip) into regions.

    Header lines (``#``, ``track``, ``browser``) and blank lines are skipped. Raises
    :class:`InputError` naming the line for fewer than 3 columns, non-integer coordinates,
    a negative start, start >= end, a bad strand or summit, a narrowPeak line without
    exactly 10 columns; and for a file without regions.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "region file not found")
    regions: list[Region] = []
    narrowpeak = is_narrowpeak_name(path)
    ten_columns = 0
    with open_text(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            text = raw.rstrip("\r\n")
            if is_header(text):
                narrowpeak = narrowpeak or _declares_narrowpeak(text)
                continue
            fields = text.split("\t")
            split_at_spaces = len(fields) < 3
            if split_at_spaces:
                fields = text.split()
            if len(fields) < 3:
                raise InputError(path, f"expected at least 3 tab-separated columns (chrom, start, end), found {len(fields)}", line_no)
            if narrowpeak and len(fields) != NARROWPEAK_COLUMNS:
                raise InputError(
                    path,
                    f"narrowPeak lines have {NARROWPEAK_COLUMNS} tab-separated columns (column 10: summit offset), "
                    f"this one has {len(fields)}{' (split at spaces)' if split_at_spaces else ''}; give a narrowPeak "
                    "file, or name the file .bed to centre windows on region midpoints",
                    line_no,
                )
            chrom = fields[0]
            start = _parse_int(fields[1], "start (column 2)", path, line_no)
            end = _parse_int(fields[2], "end (column 3)", path, line_no)
            if start < 0:
                raise InputError(path, f"start (column 2) is negative: {start}", line_no)
            if start >= end:
                raise InputError(path, f"start ({start}) must be smaller than end ({end})", line_no)
            name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else f"{chrom}:{start}-{end}"
            strand = fields[5] if len(fields) > 5 else "."
            if strand not in _STRANDS:
                raise InputError(path, f"strand (column 6) must be +, - or ., got {strand!r}", line_no)
            summit = -1
            ten_columns += len(fields) == NARROWPEAK_COLUMNS
            if narrowpeak:
                summit = _parse_int(fields[9], "summit (column 10)", path, line_no)
                if summit >= end - start:
                    raise InputError(path, f"summit offset {summit} lies outside the peak of length {end - start}", line_no)
                summit = max(summit, -1)
            regions.append(Region(chrom, start, end, name, strand, summit, str(path), line_no))
    if not regions:
        raise InputError(path, "no regions: the file is empty or holds only header lines")
    if not narrowpeak and ten_columns == len(regions):
        log.warning("%s: every line has 10 columns like a narrowPeak, but neither the file name (.narrowPeak) nor a "
                    "'track type=narrowPeak' line says so: column 10 is not read as a summit, windows are centred "
                    "on region midpoints", path)
    return regions
