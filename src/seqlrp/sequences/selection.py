"""Which windows of an extracted data set to explain: the ``attribute.regions`` choice.

:data:`SELECTIONS` are the named choices (``test``: the test split, ``all``: every window of
the class); any other value is a BED file, and the windows overlapping one of its intervals are
chosen. Rows are indices into the data set (``results/data``), ascending.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError, SeqlrpError
from ..formats.regions import read_regions
from .dataset import ExtractedData

SELECTIONS = ("test", "all")


def select_rows(data: ExtractedData, cls: str, selection: str | os.PathLike) -> np.ndarray:
    """Rows (n,) of class ``cls`` to explain: ``test`` split, ``all``, or windows overlapping a BED.

    Unlabeled windows (genome-wide tiles) belong to every class and to no split: each class
    explains all of them, under ``test`` as under ``all`` (a BED still narrows them down).
    """
    of_class = data.of_class(cls)
    if selection == "test":
        rows = np.flatnonzero(of_class & ((data.splits == "test") | ~data.labeled))
    elif selection == "all":
        rows = np.flatnonzero(of_class)
    else:
        rows = np.flatnonzero(of_class & _overlaps_bed(data, Path(selection)))
    if rows.size == 0:
        raise SeqlrpError(f"attribute: no windows of class {cls!r} to explain with attribute.regions = {selection!r}")
    return rows


def _overlaps_bed(data: ExtractedData, bed: Path) -> np.ndarray:
    """Mask (N,) of windows overlapping any interval of ``bed``."""
    by_chrom: dict[str, list[tuple[int, int]]] = {}
    for region in read_regions(bed):
        by_chrom.setdefault(region.chrom, []).append((region.start, region.end))
    starts = np.asarray(data.table.start, dtype=np.int64)
    ends = np.asarray(data.table.end, dtype=np.int64)
    chroms = np.asarray(data.table.chrom, dtype=object)
    mask = np.zeros(len(data.table), dtype=bool)
    for chrom, intervals in by_chrom.items():
        rows = np.flatnonzero(chroms == chrom)
        if rows.size == 0:
            continue
        intervals = np.array(sorted(intervals), dtype=np.int64)
        reach = np.maximum.accumulate(intervals[:, 1])  # furthest end among intervals starting up to here
        last = np.searchsorted(intervals[:, 0], ends[rows], side="left") - 1  # last interval starting before window end
        mask[rows] = (last >= 0) & (reach[np.maximum(last, 0)] > starts[rows])
    if not mask.any():
        raise InputError(bed, "no extracted window overlaps these regions")
    return mask
