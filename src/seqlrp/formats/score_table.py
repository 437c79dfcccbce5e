"""TSV tables of scores (metrics, evaluation summaries): floats with 6 decimals, ``NA`` when undefined.

One convention for every table of numbers the pipeline writes for people to read: a header line,
tab-separated, floats as ``0.123456``, NaN and infinities as ``NA``, an absent value (None) as an
empty cell, anything else as its text.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence

from .atomic import atomic_write_text


def score_cell(value) -> str:
    """One cell: a float with 6 decimals (``NA`` when not finite), ``""`` for None, else ``str(value)``."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}" if math.isfinite(value) else "NA"
    return str(value)


def write_score_table(path: str | os.PathLike, columns: Sequence[str], rows: Iterable[Mapping]) -> None:
    """Write ``rows`` (mappings holding every column) under a header of ``columns``, atomically."""
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([score_cell(row[column]) for column in columns] for row in rows)
