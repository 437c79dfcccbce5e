"""Reading what the report shows: TSV tables, number formatting, region pictures, the training curve.

Coordinates are the pipeline's: 0-based, half-open, ``strand`` ``-`` = the window's one-hot row
is the reverse complement of the genome.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..analysis.motifs import select_windows
from ..errors import InputError
from .htmlkit import Markup, element, table


@dataclass
class Tsv:
    """A tab-separated table with a header: ``rows`` are dicts keyed by ``header``."""

    path: Path
    header: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)


def read_header(reader, path: Path, required: Sequence[str] = ()) -> list[str]:
    """The header line of a TSV being read by ``reader`` (a ``csv.reader``); :class:`InputError` for an
    empty file or absent ``required`` columns."""
    header = next(reader, None)
    if not header:
        raise InputError(path, "empty file (expected a header line)", 1)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)} (header: {', '.join(header)})", 1)
    return header


def read_tsv(path: str | os.PathLike, required: Sequence[str] = ()) -> Tsv:
    """Read a TSV with a header line; :class:`InputError` for absent ``required`` columns or ragged rows."""
    path = Path(path)
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = read_header(reader, path, required)
        table = Tsv(path, header)
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(path, f"{len(row)} fields, the header has {len(header)}", line)
            table.rows.append(dict(zip(header, row)))
    return table


def fmt(text: str) -> str:
    """A number from a TSV shown with 4 significant digits; integers and words unchanged."""
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+", stripped):
        return stripped
    try:
        value = float(stripped)
    except ValueError:
        return text
    return f"{value:.4g}" if math.isfinite(value) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.strip() in ("", "NA", "nan", "NaN")
    return True


def tsv_table(tsv: Tsv, columns: Sequence[str] | None = None, rows: Iterable[Mapping[str, str]] | None = None,
              row_classes: Sequence[str | None] | None = None) -> Markup:
    """A TSV (or some of its rows and columns) as an HTML table; numeric columns right-aligned."""
    columns = list(columns or tsv.header)
    rows = list(tsv.rows if rows is None else rows)
    numeric = [j for j, c in enumerate(columns) if rows and all(_is_number(r.get(c, "")) for r in rows)]
    return element("div", table(columns, ([fmt(r.get(c, "")) for c in columns] for r in rows), numeric,
                                row_classes=row_classes), class_="wide")


def locus(chrom: str, start: int, end: int, strand: str) -> tuple[str, str]:
    """``(BED-style chrom:start-end(strand), 1-based browser locus chrom:start+1-end)`` of a window."""
    return f"{chrom}:{start}-{end}({strand})", f"{chrom}:{max(start, 0) + 1:,}-{end:,}"


@dataclass(frozen=True)
class RegionPicture:
    """A region picture of the motifs stage and the window it shows (strand/logit None when unknown)."""

    rank: int
    path: Path
    chrom: str
    start: int
    end: int
    strand: str | None
    name: str | None
    logit: float | None


_PICTURE = re.compile(r"^(\d+)\.(.+)_(-?\d+)_(-?\d+)\.png$")


def region_pictures(directory: Path, windows: Tsv | None) -> list[RegionPicture]:
    """The ``{rank}.{chrom}_{start}_{end}.png`` pictures of ``directory``, by rank, matched to their windows.

    The motifs stage draws the windows of highest logit in :func:`seqlrp.analysis.motifs.select_windows`
    order, so rank k is the k-th window of that order; a window is otherwise found by its
    coordinates (the file name carries no strand).
    """
    found = []
    for path in sorted(directory.glob("*.png")):
        match = _PICTURE.match(path.name)
        if match:
            found.append((int(match[1]), path, match[2], int(match[3]), int(match[4])))
    found.sort(key=lambda item: item[0])
    order: np.ndarray = np.array([], dtype=int)
    rows: list[dict[str, str]] = []
    if windows is not None:
        rows = windows.rows
        order = select_windows(np.array([to_float(r.get("logit")) for r in rows]), len(rows))
    pictures = []
    for rank, path, chrom, start, end in found:
        candidates = ([order[rank - 1]] if 0 < rank <= len(order) else []) + list(order)
        row = next((rows[i] for i in candidates if _same_window(rows[i], chrom, start, end)), None)
        pictures.append(RegionPicture(rank, path, chrom, start, end, row["strand"] if row else None,
                                      row.get("name") if row else None, to_float(row.get("logit")) if row else None))
    return pictures


def to_float(text: str | None) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _same_window(row: Mapping[str, str], chrom: str, start: int, end: int) -> bool:
    return row.get("chrom") == chrom and row.get("start") == str(start) and row.get("end") == str(end)


def training_curve_png(history: Tsv) -> bytes:
    """PNG of the per-epoch losses (left) and validation AUROC/AUPRC (right); best epoch marked."""
    from matplotlib.figure import Figure

    def column(name: str) -> np.ndarray:
        return np.array([to_float(r.get(name)) for r in history.rows])

    epochs = column("epoch")
    fig = Figure(figsize=(10, 3.2), dpi=100)
    loss_ax, score_ax = fig.subplots(1, 2)
    for name, label in (("train_loss", "train"), ("valid_loss", "validation")):
        if name in history.header:
            loss_ax.plot(epochs, column(name), marker="o", ms=3, lw=1.5, label=label)
    for name, label in (("valid_auroc", "validation AUROC"), ("valid_auprc", "validation AUPRC")):
        if name in history.header:
            score_ax.plot(epochs, column(name), marker="o", ms=3, lw=1.5, label=label)
    best = [e for e, r in zip(epochs, history.rows) if r.get("best") == "1"]
    for ax in (loss_ax, score_ax):
        if best:
            ax.axvline(best[-1], color="grey", ls="--", lw=0.8, label=f"kept epoch {int(best[-1])}")
        ax.set_xlabel("epoch")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False, fontsize=8)
    loss_ax.set(ylabel="cross-entropy", title="loss")
    score_ax.set(ylabel="score", title="validation")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def plain_data(value: object) -> object:
    """Config as plain YAML-able data (Snakemake hands mapping and sequence subclasses)."""
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
