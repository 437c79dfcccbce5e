"""Opening text inputs that may be gzip-compressed (BED, narrowPeak, FASTA of sequences)."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from typing import TextIO

from ..errors import InputError

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
    binary = CheckedGzipFile(path) if magic == GZIP_MAGIC else open(path, "rb")
    if binary.read(len(UTF8_BOM)) != UTF8_BOM:
        binary.seek(0)
    return io.TextIOWrapper(binary, encoding=encoding, errors="replace")


class CheckedGzipFile(gzip.GzipFile):
    """A gzip (or bgzip) file read as :class:`gzip.GzipFile` reads it, but a truncated or corrupt
    stream raises one-line :class:`~seqlrp.errors.InputError` naming the file, not ``EOFError``,
    ``gzip.BadGzipFile`` or ``zlib.error`` from deep inside a parser."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(path, "rb")
        self._path = os.fspath(path)

    def _checked(self, read, *args):
        try:
            return read(*args)
        except EOFError:
            raise InputError(self._path, "truncated gzip file: it ends before the end of its compressed data "
                                         "(an interrupted download or copy?); fetch or compress it again") from None
        except (gzip.BadGzipFile, zlib.error) as err:
            raise InputError(self._path, f"corrupt gzip data ({err}); fetch or compress the file again") from None

    def read(self, size=-1):
        return self._checked(super().read, size)

    def read1(self, size=-1):
        return self._checked(super().read1, size)

    def readinto(self, buffer):
        return self._checked(super().readinto, buffer)

    def readline(self, size=-1):
        return self._checked(super().readline, size)

    def peek(self, n):
        return self._checked(super().peek, n)
