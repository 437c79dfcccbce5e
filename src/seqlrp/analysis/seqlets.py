"""Seqlets: stretches of high relevance, called at a target false discovery rate.

The score of a stretch is the summed relevance of the observed bases in a sliding window of
``window`` bases. The threshold is calibrated on a null: the same method's relevance on
dinucleotide-shuffled copies of the same sequences (which keep composition but lose motifs).
For the positive side, the threshold is the smallest ``t`` with
``share of null window scores >= t  <=  fdr x share of real window scores >= t`` (the empirical
false discovery rate among windows called), and likewise for the negative side. Windows above
threshold are merged into seqlets; each is written as BED9 in genome coordinates (0-based,
half-open; ``-`` strand windows mapped back), strand = the window's strand, score 0-1000 by
|summed relevance|, red (positive) or blue (negative), after a UCSC ``track`` line that names the
class and method (:mod:`seqlrp.formats.trackline`). :func:`most_relevant_stretch` finds the
stretch of given width with the largest summed |relevance| (what a region picture shows).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..formats.atomic import atomic_write_text
from ..formats.trackline import is_header

log = logging.getLogger(__name__)

RED, BLUE = "255,0,0", "0,0,255"


def window_scores(values: np.ndarray, window: int) -> np.ndarray:
    """Sliding sums (n, L - window + 1) of per-position values (n, L); NaN counts as 0."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64))
    cumulative = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1)], axis=1)
    return cumulative[:, window:] - cumulative[:, :-window]


def fdr_threshold(real: np.ndarray, null: np.ndarray, fdr: float) -> float:
    """Smallest ``t`` (taken from ``real``) with null share >= t <= fdr x real share >= t; inf if none.

    ``real``/``null``: 1-D scores (larger = more significant). :class:`FdrThreshold` gives the
    same threshold from ``real`` seen in chunks.
    """
    threshold = FdrThreshold(null, fdr)
    threshold.add(real)
    return threshold.value()


class FdrThreshold:
    """:func:`fdr_threshold` over real scores that arrive in chunks (:meth:`add`), in memory
    proportional to the null only.

    The null share ``#(null >= t) / m`` is constant while ``t`` stays in one stretch between two
    null scores (``u_j < t <= u_{j+1}`` of the sorted null ``u``). Within a stretch the real share
    ``#(real >= t) / n`` is largest at the smallest positive real score there, so that score is
    the stretch's only candidate, and every real score >= it is a positive one in this stretch or
    above. Per stretch it keeps that score and the count of positive real scores; the threshold
    is the smallest candidate with ``null share <= fdr x real share`` — the same ``t`` as sorting
    every real score.
    """

    def __init__(self, null: np.ndarray, fdr: float):
        self.null = np.sort(np.asarray(null, dtype=np.float64).ravel())
        self.fdr = fdr
        self.smallest = np.full(self.null.size + 1, np.inf)  # smallest positive real score per stretch
        self.positives = np.zeros(self.null.size + 1, dtype=np.int64)  # positive real scores per stretch
        self.n_real = 0

    def add(self, real: np.ndarray) -> None:
        real = np.asarray(real, dtype=np.float64).ravel()
        self.n_real += real.size
        real = real[real > 0]
        stretch = np.searchsorted(self.null, real, side="left")  # = #(null < score)
        self.positives += np.bincount(stretch, minlength=self.positives.size)
        np.minimum.at(self.smallest, stretch, real)

    def value(self) -> float:
        if self.n_real == 0 or self.null.size == 0:
            return float("inf")
        m = self.null.size
        real_share = np.cumsum(self.positives[::-1])[::-1] / self.n_real  # #(real >= candidate) / n
        null_share = (m - np.arange(m + 1)) / m
        ok = np.isfinite(self.smallest) & (null_share <= self.fdr * real_share)
        return float(self.smallest[ok].min()) if ok.any() else float("inf")


@dataclass(frozen=True)
class Seqlet:
    """A seqlet in window orientation: row, [start, end) in the window, summed relevance."""

    row: int
    start: int
    end: int
    total: float


def call_seqlets(values: np.ndarray, window: int, t_pos: float, t_neg: float, flank: int = 0) -> list[Seqlet]:
    """Seqlets (window orientation) of per-position values (n, L) given thresholds.

    A window position ``i`` with score >= ``t_pos`` covers ``[i - flank, i + window + flank)``;
    covered positions form positive seqlets. Negative seqlets likewise with score <= ``-t_neg``.
    Positive seqlets come first, each sign in row order.
    """
    positive, negative = call_seqlets_by_sign(values, window, t_pos, t_neg, flank)
    return positive + negative


def call_seqlets_by_sign(values: np.ndarray, window: int, t_pos: float, t_neg: float, flank: int = 0,
                         first_row: int = 0) -> tuple[list[Seqlet], list[Seqlet]]:
    """:func:`call_seqlets`' positive and negative seqlets apart, rows numbered from ``first_row``
    (for windows read in chunks: the chunks' lists, joined per sign, are the whole call)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64))
    scores = window_scores(values, window)
    n, length = values.shape
    found: list[list[Seqlet]] = []
    for hits in (scores >= t_pos, scores <= -t_neg):
        seqlets: list[Seqlet] = []
        covered = np.zeros((n, length + 1), dtype=np.int32)
        rows, starts = np.nonzero(hits)
        np.add.at(covered, (rows, np.maximum(starts - flank, 0)), 1)
        np.add.at(covered, (rows, np.minimum(starts + window + flank, length)), -1)
        inside = np.cumsum(covered, axis=1)[:, :length] > 0
        edges = np.diff(np.concatenate([np.zeros((n, 1), bool), inside, np.zeros((n, 1), bool)], axis=1).astype(np.int8), axis=1)
        for row, begin in zip(*np.nonzero(edges == 1)):
            end = begin + int(np.argmax(edges[row, begin:] == -1))
            seqlets.append(Seqlet(first_row + int(row), int(begin), int(end), float(values[row, begin:end].sum())))
        found.append(seqlets)
    return found[0], found[1]


def write_seqlets_bed(
    path: str | os.PathLike,
    seqlets: list[Seqlet],
    chroms: list[str],
    starts: np.ndarray,
    ends: np.ndarray,
    strands: list[str],
    chrom_sizes: Mapping[str, int],
    name_prefix: str,
    track_line: str | None = None,
) -> int:
    """Write seqlets as sorted BED9 in genome coordinates; return the number of seqlets written.

    ``track_line`` (see :func:`seqlrp.formats.trackline.bed_track_line`; no newline) opens the file when given.
    """
    order = {chrom: i for i, chrom in enumerate(chrom_sizes)}
    top = max((abs(s.total) for s in seqlets), default=0.0) or 1.0
    lines = []
    for k, seqlet in enumerate(seqlets):
        chrom = chroms[seqlet.row]
        if strands[seqlet.row] == "-":
            lo, hi = int(ends[seqlet.row]) - seqlet.end, int(ends[seqlet.row]) - seqlet.start
        else:
            lo, hi = int(starts[seqlet.row]) + seqlet.start, int(starts[seqlet.row]) + seqlet.end
        lo, hi = max(lo, 0), min(hi, chrom_sizes.get(chrom, hi))
        if hi <= lo:
            continue
        score = int(round(1000 * abs(seqlet.total) / top))
        colour = RED if seqlet.total >= 0 else BLUE
        lines.append((order.get(chrom, len(order)), lo, hi,
                      f"{chrom}\t{lo}\t{hi}\t{name_prefix}{k}\t{score}\t{strands[seqlet.row]}\t{lo}\t{hi}\t{colour}\n"))
    lines.sort(key=lambda item: item[:3])
    with atomic_write_text(path) as handle:
        if track_line is not None:
            handle.write(track_line + "\n")
        handle.writelines(line for *_, line in lines)
    return len(lines)


def name_seqlets(seqlets_bed: str | os.PathLike, instances_bed: str | os.PathLike, labels: Mapping[str, str],
                 out_path: str | os.PathLike, track_line: str | None = None) -> int:
    """Copy a seqlets BED9, naming each seqlet after the motif whose instance overlaps it most.

    ``instances_bed``: BED (chrom, start, end, motif id or label, ...) of motif instances;
    ``labels``: name in ``instances_bed`` -> the name to write (e.g. the matched JASPAR factor;
    names not in it are written as they are). Seqlets that overlap no instance keep their name.
    Header lines of both inputs are skipped; the copy opens with ``track_line`` when given, else
    with the header lines of ``seqlets_bed``. Returns the number of seqlets named after a motif.
    """
    by_chrom: dict[str, list[tuple[int, int, str]]] = {}
    with open(instances_bed, encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if not is_header(line) and len(fields) >= 4:
                by_chrom.setdefault(fields[0], []).append((int(fields[1]), int(fields[2]), fields[3]))
    named = 0
    lines = [] if track_line is None else [track_line + "\n"]
    with open(seqlets_bed, encoding="utf-8") as handle:
        for line in handle:
            if is_header(line):
                if track_line is None:
                    lines.append(line)
                continue
            fields = line.rstrip("\n").split("\t")
            start, end = int(fields[1]), int(fields[2])
            overlaps = [(min(end, hi) - max(start, lo), motif) for lo, hi, motif in by_chrom.get(fields[0], [])
                        if lo < end and start < hi]
            if overlaps:
                fields[3] = labels.get(max(overlaps)[1], max(overlaps)[1])
                named += 1
            lines.append("\t".join(fields) + "\n")
    with atomic_write_text(out_path) as handle:
        handle.writelines(lines)
    return named


def most_relevant_stretch(values: np.ndarray, width: int) -> int:
    """Start of the ``width``-long stretch of ``values`` (L,) with the largest summed |value| (first on ties)."""
    if len(values) <= width:
        return 0
    cumulative = np.concatenate([[0.0], np.cumsum(np.abs(np.nan_to_num(values)))])
    return int(np.argmax(cumulative[width:] - cumulative[:-width]))
