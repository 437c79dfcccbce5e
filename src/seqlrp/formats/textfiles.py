"""Opening text inputs that may be gzip-compressed (BED, narrowPeak, FASTA of sequences)."""

from __future__ import annotations

import gzip
import io
import os
from typing import TextIO

GZIP_MAGIC = b"\x1f\x8b"
# what Windows editors (Notepad, Excel's "UTF-8 CSV") put before the first character
UTF8_BOM = b"\xef\xbb\xbf"


def open_text(path: str | os.PathLike, encoding: str = "utf-8") -> TextIO:
    """Open ``path`` for reading text, decompressing gzip (and bgzip) when its magic bytes say so.

    A UTF-8 byte order mark at the start is dropped, so the first line reads as written.
    Undecodable bytes become U+FFFD rather than an exception, so parsers report them by line.
    """
    with open(path, "rb") as probe:
        magic = probe.read(2)
    binary = gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")
    if binary.read(len(UTF8_BOM)) != UTF8_BOM:
        binary.seek(0)
    return io.TextIOWrapper(binary, encoding=encoding, errors="replace")
