"""Per-nucleotide relevance mapped back to the genome: bedGraph (bgzip + tabix) and bigWig.

A window's relevance is read per position (summed over A, C, G, T: the observed base's for the
default input rules, :func:`observed_relevance`), put back into genome orientation (``-`` strand windows are
reversed), and windows that overlap are combined position by position (``mean``, ``max``, or
``absmax`` — the value of largest magnitude, sign kept). Positions outside the chromosome
(N padding) and N bases carry no value and are left out of the track. Coordinates are 0-based,
half-open in both files, as bedGraph and the bigWig API expect.

Memory stays bounded: the windows' values are read lazily (:class:`~seqlrp.formats.arrays.LazyRows`
from the attribution store), one chromosome at a time in start order, and the chromosome is
swept in segments of ``segment`` bases, at most ``batch`` windows of a segment at once; each
window touches at most two segments. What grows with the number of windows is their index
(chromosome, start, strand: about 20 bytes each).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from ..formats.arrays import LazyRows
from ..formats.atomic import atomic_path
from ..formats.bedgraph import BedGraphWriter
from ..formats.bigwig import BigWigWriter

COMBINE = ("mean", "max", "absmax")


def observed_relevance(relevance: np.ndarray, onehot: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Relevance of each position (N, L) float32 from (N, 4, L) maps: summed over A, C, G, T, NaN
    where the base is N — what the attribution store keeps and the tracks show.

    For input rules of the form ``R = x * g`` (the default; epsilon, z+, alpha-beta, gamma) only
    the observed base carries relevance, so this is the observed base's relevance; the flat,
    w^2 and z-box rules give the absent bases some too, and it is then the position's total.
    Works through ``chunk`` windows at a time, so memory-mapped inputs are never loaded whole.
    """
    n, _, length = relevance.shape
    values = np.empty((n, length), dtype=np.float32)
    for lo in range(0, n, chunk):
        part = np.asarray(relevance[lo : lo + chunk], dtype=np.float32).sum(axis=1, dtype=np.float32)
        part[np.asarray(onehot[lo : lo + chunk]).sum(axis=1) == 0] = np.nan
        values[lo : lo + chunk] = part
    return values


def merge_windows(
    starts: np.ndarray, values, chrom_size: int, combine: str = "mean", segment: int = 1 << 20, batch: int = 4096
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Combine overlapping windows into one value per genome position.

    ``starts`` (n,) int, sorted ascending; ``values`` (n, L) in genome orientation, NaN = no
    value: an array, or anything that gives rows ``values[lo:hi]`` and has ``shape`` (read
    ``batch`` windows at a time). Yields ``(positions, merged)`` chunks in ascending position
    order, positions restricted to ``[0, chrom_size)``.
    """
    if combine not in COMBINE:
        raise ValueError(f"combine must be one of {COMBINE}, got {combine!r}")
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0:
        return
    length = values.shape[1]
    segment = max(segment, length)
    offsets = np.arange(length, dtype=np.int64)
    first = max(0, int(starts[0]))
    last = min(chrom_size, int(starts[-1]) + length)
    for seg_start in range(first - first % segment, last, segment):
        seg_end = min(seg_start + segment, chrom_size)
        lo = np.searchsorted(starts, seg_start - length, side="right")
        hi = np.searchsorted(starts, seg_end, side="left")
        merged = _Merge(seg_end - seg_start, combine)
        for b_lo in range(lo, hi, batch):
            b_hi = min(b_lo + batch, hi)
            index = starts[b_lo:b_hi, None] + offsets - seg_start
            block = np.asarray(values[b_lo:b_hi])
            keep = (index >= 0) & (index < seg_end - seg_start) & ~np.isnan(block)
            merged.add(index[keep], block[keep].astype(np.float64))
        if merged.counts is not None:
            covered, result = merged.result()
            yield covered + seg_start, result


class _Merge:
    """Per-position accumulator of one segment (``span`` positions) for ``combine``."""

    def __init__(self, span: int, combine: str):
        self.span, self.combine = span, combine
        self.counts = self.total = self.high = self.low = None

    def add(self, index: np.ndarray, values: np.ndarray) -> None:
        if index.size == 0:
            return
        counts = np.bincount(index, minlength=self.span)
        if self.counts is None:
            self.counts = counts
            if self.combine == "mean":
                self.total = np.zeros(self.span)
            else:
                self.high = np.full(self.span, -np.inf)
                self.low = np.full(self.span, np.inf) if self.combine == "absmax" else None
        else:
            self.counts += counts
        if self.combine == "mean":
            self.total += np.bincount(index, weights=values, minlength=self.span)
        else:
            np.maximum.at(self.high, index, values)
            if self.low is not None:
                np.minimum.at(self.low, index, values)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Covered positions (k,) of the segment and their merged values (k,) float32."""
        covered = np.flatnonzero(self.counts)
        if self.combine == "mean":
            merged = self.total[covered] / self.counts[covered]
        elif self.combine == "max":
            merged = self.high[covered]
        else:
            high, low = self.high[covered], self.low[covered]
            merged = np.where(np.abs(low) > np.abs(high), low, high)
        return covered, merged.astype(np.float32)


def runs(positions: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge consecutive positions with equal values into intervals ``(starts, ends, values)``."""
    if positions.size == 0:
        return positions, positions, values
    breaks = np.flatnonzero((np.diff(positions) != 1) | (np.diff(values) != 0)) + 1
    first = np.concatenate([[0], breaks])
    last = np.concatenate([breaks, [positions.size]])
    return positions[first], positions[last - 1] + 1, values[first]


def genome_track(
    chroms: Iterable[str],
    starts: np.ndarray,
    strands: Iterable[str],
    values,
    chrom_sizes: Mapping[str, int],
    combine: str = "mean",
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Intervals ``(chrom, starts, ends, values)`` per chromosome, in the order of ``chrom_sizes``.

    ``chroms``/``starts``/``strands`` (N,) describe the windows (regions table columns);
    ``values`` (N, L) are in window orientation: an array or lazy rows
    (:func:`observed_rows`) indexed by row arrays, read one chromosome at a time in start order.
    """
    lookup: dict[str, int] = {}
    codes = np.fromiter((lookup.setdefault(c, len(lookup)) for c in chroms), dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    minus = np.fromiter((s == "-" for s in strands), dtype=bool, count=codes.size)
    for chrom, size in chrom_sizes.items():
        if chrom not in lookup:
            continue
        rows = np.flatnonzero(codes == lookup[chrom])
        rows = rows[np.argsort(starts[rows], kind="stable")]
        for positions, merged in merge_windows(starts[rows], _GenomeOriented(values, rows, minus[rows]), size, combine):
            run_starts, run_ends, run_values = runs(positions, merged)
            yield chrom, run_starts, run_ends, run_values


class _GenomeOriented:
    """Rows ``rows`` of window values (n, L), ``-`` strand ones (``minus``) reversed, read on slicing."""

    def __init__(self, values, rows: np.ndarray, minus: np.ndarray):
        self.values, self.rows, self.minus = values, rows, minus
        self.shape = (rows.size, values.shape[1])

    def __getitem__(self, item: slice) -> np.ndarray:
        block = np.array(self.values[self.rows[item]], dtype=np.float32)
        flip = self.minus[item]
        block[flip] = block[flip, ::-1]
        return block


def observed_rows(relevance, onehot) -> LazyRows:
    """Lazy (n, L) float32 rows: the position relevance (n, L) of the attribution store, NaN where
    the one-hot (n, 4, L) has no base (N) — what the tracks and seqlets show."""
    def read(local):
        values = np.array(relevance[local], dtype=np.float32)
        values[np.asarray(onehot[local]).sum(axis=1) == 0] = np.nan
        return values

    return LazyRows([(len(relevance), read)], (relevance.shape[1],), np.float32)


def write_tracks(
    intervals: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    chrom_sizes: Mapping[str, int],
    bedgraph_path: str | os.PathLike | None,
    bigwig_path: str | os.PathLike,
    track_line: str,
    decimals: int = 6,
    compress_level: int = 2,
    threads: int = 2,
) -> int:
    """Write one pass of intervals to a bigWig and (unless ``bedgraph_path`` is None) a bgzip
    bedGraph with its tabix index; return the number of positions written.

    ``compress_level`` is the bedGraph's BGZF level (1-3 ISA-L, fast; 4-9 zlib, ~5 % smaller);
    the bigWig is zlib level 6 with 10 zoom levels (:mod:`seqlrp.formats.bigwig`). With ``threads`` >= 2
    the bedGraph is written on a second thread while the bigWig is written on this one (both
    writers spend their time in code that releases the GIL). Intervals must come sorted by
    chromosome (in ``chrom_sizes`` order) and start, without overlaps — what
    :func:`genome_track` yields. All files appear only when complete.
    """
    positions = 0
    with contextlib.ExitStack() as stack:
        tmp_bigwig = stack.enter_context(atomic_path(bigwig_path, suffix=".bw"))
        bedgraph = None
        if bedgraph_path is not None:
            tmp_bedgraph = stack.enter_context(atomic_path(bedgraph_path, suffix=".gz"))
            tmp_index = stack.enter_context(atomic_path(f"{bedgraph_path}.tbi", suffix=".tbi"))
            bedgraph = stack.enter_context(
                BedGraphWriter(tmp_bedgraph, track_line, decimals, compress_level, threads=1, index_path=tmp_index))
            if threads >= 2:
                bedgraph = stack.enter_context(_BackgroundWriter(bedgraph))
        bigwig = stack.enter_context(BigWigWriter(tmp_bigwig, chrom_sizes))
        for chrom, starts, ends, values in intervals:
            if starts.size == 0:
                continue
            if bedgraph is not None:
                bedgraph.add(chrom, starts, ends, values)
            bigwig.add(chrom, starts, ends, values)
            positions += int((ends - starts).sum())
    return positions


class _BackgroundWriter:
    """Run a writer's ``add`` calls on one worker thread, in order; a worker error surfaces here.

    At most ``depth`` chunks wait, so memory stays bounded when the worker is the slower side.
    """

    def __init__(self, writer, depth: int = 4):
        self._writer = writer
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="bedgraph")
        self._pending: collections.deque = collections.deque()
        self._depth = depth

    def add(self, *args) -> None:
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._writer.add, *args))

    def __enter__(self) -> "_BackgroundWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            while self._pending:  # on success a worker error raises here, and the files are discarded
                future = self._pending.popleft()
                if exc_type is None:
                    future.result()
                else:
                    future.cancel()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        return False


def chrom_sizes_from_tsv(path: str | os.PathLike) -> dict[str, int]:
    """``chrom<TAB>size`` lines (the extract stage's ``chrom_sizes.tsv``) in file order."""
    sizes: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                chrom, size = line.rstrip("\n").split("\t")[:2]
                sizes[chrom] = int(size)
    return sizes


def genome_hypothetical(hypothetical, strands: Iterable[str], base: int) -> LazyRows:
    """Lazy (n, L) float32 rows: the hypothetical contribution of genome base ``base`` (0..3 =
    A,C,G,T) per window position, from hypothetical contributions (n, 4, L).

    On a ``-`` strand window, channel ``c`` is the complement of the genome's plus-strand base,
    so genome base ``b`` reads channel ``3 - b`` there; positions are reversed later, by
    :func:`genome_track`, as for any ``-`` window.
    """
    minus = np.fromiter((s == "-" for s in strands), dtype=bool)

    def read(local):
        block = np.asarray(hypothetical[local], dtype=np.float32)
        return np.where(minus[local][:, None], block[:, 3 - base, :], block[:, base, :])

    return LazyRows([(len(hypothetical), read)], (hypothetical.shape[2],), np.float32)
