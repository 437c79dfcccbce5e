"""Opening text inputs that may be gzip-compressed (BED, narrowPeak, FASTA of sequences)."""

from __future__ import annotations

import gzip
import os
from typing import TextIO

GZIP_MAGIC = b"\x1f\x8b"


def open_text(path: str | os.PathLike, encoding: str = "utf-8") -> TextIO:
    """Open ``path`` for reading text, decompressing gzip (and bgzip) when its magic bytes say so.

    Undecodable bytes become U+FFFD rather than an exception, so parsers report them by line.
    """
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rt", encoding=encoding, errors="replace")
    return open(path, encoding=encoding, errors="replace")
