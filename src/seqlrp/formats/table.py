"""The regions table: one row per extracted window, written as ``regions.tsv``.

Columns: ``chrom, start, end, strand, name, class, split``. ``start``/``end`` are the window's
genome coordinates, 0-based and half-open, always ``end - start == seq_len``; a window padded
with N at a chromosome end keeps its true coordinates (``start`` may be negative, ``end`` may
pass the chromosome length). ``strand`` ``-`` means the one-hot row is the reverse complement of
the genome window. Row ``i`` of the table is row ``i`` of the one-hot array. ``class`` is empty
for unlabeled windows (genome-wide tiles, whose ``split`` is ``tile``; see :mod:`seqlrp.sequences.tiling`).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .atomic import atomic_write_text

COLUMNS = ("chrom", "start", "end", "strand", "name", "class", "split")
UNLABELED = ""
"""The class of a window that has none (a genome-wide tile)."""


@dataclass
class RegionTable:
    """Column-wise regions table; every column has one entry per window."""

    chrom: list[str] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    strand: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    cls: list[str] = field(default_factory=list)
    split: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.chrom)

    def append(self, chrom: str, start: int, end: int, strand: str, name: str, cls: str, split: str = "") -> None:
        self.chrom.append(chrom)
        self.start.append(int(start))
        self.end.append(int(end))
        self.strand.append(strand)
        self.name.append(name)
        self.cls.append(cls)
        self.split.append(split)

    def rows(self):
        return zip(self.chrom, self.start, self.end, self.strand, self.name, self.cls, self.split)

    def labels(self, classes: list[str]) -> np.ndarray:
        """Class index (N,) int64 of every row, in the order of ``classes``; -1 for an unlabeled row (class "")."""
        index = {name: i for i, name in enumerate(classes)}
        index[UNLABELED] = -1
        return np.array([index[c] for c in self.cls], dtype=np.int64)


def write_regions_tsv(table: RegionTable, path: str | os.PathLike) -> None:
    """Write the table atomically as a tab-separated file with a header line."""
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(table.rows())


def read_regions_tsv(path: str | os.PathLike) -> RegionTable:
    """Read a table written by :func:`write_regions_tsv`."""
    path = Path(path)
    table = RegionTable()
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(header[: len(COLUMNS)]) != COLUMNS:
            raise InputError(path, f"not a seqlrp regions table: header must start with {'/'.join(COLUMNS)}", 1)
        for line_no, row in enumerate(reader, start=2):
            try:
                table.append(row[0], int(row[1]), int(row[2]), row[3], row[4], row[5], row[6])
            except (IndexError, ValueError):
                raise InputError(path, "malformed row (expected 7 columns with integer start/end)", line_no) from None
    return table
