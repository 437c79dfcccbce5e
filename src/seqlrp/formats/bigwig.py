"""A streaming bigWig writer in NumPy, with zoom levels, several times faster than libBigWig.

The layout is UCSC's (Kent et al. 2010, "BigWig and BigBed"; bbiFile.h, bwgCreate.c)::

    header (64 bytes) | zoom headers (24 bytes each) | total summary (40) | chromosome B+ tree
    | section count (u64) | data sections | R-tree of the sections
    | per zoom level: record count (u32), record blocks, R-tree of the blocks | magic

Every chromosome of ``chrom_sizes`` is in the B+ tree (keys sorted bytewise, ids in the given
order, so readers list them in that order). Data sections are zlib streams of a 24-byte wig
header plus items: fixed-step (type 3, step 1, span 1: 4 bytes per base, up to 8192 bases) for
stretches of at least 64 touching intervals averaging at most 3 bases, bedGraph (type 1: start,
end, value; up to 2048) for everything else. Coordinates are 0-based, half-open, as in the
bigWig API.

Zoom levels: level ``k`` has one record (chromId, start, end, validCount, min, max, sum,
sumSquares) per bin of ``r0 * 4**k`` bases that holds data, bins aligned to the chromosome
start, start and end tightened to the covered bases. ``r0`` is the power of two at or above
``max(64, 10 * mean interval span)`` of the first :meth:`BigWigWriter.add` call. UCSC starts at
10x the item span and grows it until the first level is at most half the data (counting zoom
records as compressing half as well), which gives ~35 for per-base data (32-byte records
against 4 bytes per base); libBigWig takes 10. We take one power of two more: on per-base
relevance the zoom levels then cost ~18% of the write time (~24% at 32, ~35% at 16) and 13% of
the file, and a browser that reads the data itself below 64 bases per pixel decompresses at
most 256 bytes per pixel.
Powers of two make bins nest, so each level is reduced from the one below it. As in UCSC,
levels stop after the first one with no more records than chromosomes with data; a level with
as many records as the one below repeats it and is left out.

Compression: sections and blocks are separate zlib streams, as readers ``uncompress`` them; at
~50 ns per base it is most of the work. Float32 values have no repeated strings for LZ77 to
find, only skewed byte statistics and runs (zeros), so fixed-step sections use zlib's RLE
strategy: the same size as the default strategy (within 0.5% on relevance tracks) in 20-50%
less time (more for long stretches). Zoom blocks use it too: 20% larger blocks (2% of the
file) in half the time. bedGraph sections, whose coordinates repeat, use the default strategy.
``compress_level=0`` stores everything (about 10% larger for float relevance, four times as
fast).

Memory stays bounded: sections are written as they come; zoom records are kept only up to one
block per level, then compressed into an anonymous temporary file beside the output and copied
after the data at :meth:`BigWigWriter.close`. What stays in memory is the index of sections and
blocks (48 bytes per section) and, during one call, a few times the arrays it was given.
"""

from __future__ import annotations

import itertools
import os
import struct
import tempfile
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, Self

import numpy as np

BIGWIG_MAGIC = 0x888FFC26
BPT_MAGIC = 0x78CA8C91
CIR_MAGIC = 0x2468ACE0
VERSION = 4
BLOCK_SIZE = 256  # children per index node, as UCSC
FIXED_ITEMS = 8192  # bases per fixed-step section: 32 KiB, libBigWig's buffer size
BEDGRAPH_ITEMS = 2048  # intervals per bedGraph section
ZOOM_ITEMS = 1024  # records per zoom block (32 KiB), UCSC's itemsPerSlot
MIN_FIXED = 64  # a stretch goes fixed-step with at least this many intervals ...
MAX_FIXED_SPAN = 3  # ... of at most this mean span (then 4 bytes per base beat 12 per interval)
ZOOM_FACTOR_SHIFT = 2  # each zoom level is 4x coarser
MIN_FIRST_ZOOM = 64
MAX_ZOOM_LEVELS = 15
MAX_REDUCTION = 1 << 30
ZOOM_LEVEL, ZOOM_STRATEGY = 1, zlib.Z_RLE  # zoom blocks: see the module notes

_HEADER = struct.Struct("<IHHQQQHHQQIQ")
_ZOOM_HEADER = struct.Struct("<IIQQ")
_SUMMARY = struct.Struct("<Qdddd")
_SECTION = struct.Struct("<IIIIIBBH")
_BPT_HEADER = struct.Struct("<IIIIQQ")
_CIR_HEADER = struct.Struct("<IIQIIIIQII")
_NODE = struct.Struct("<BBH")
_BEDGRAPH_ITEM = np.dtype([("start", "<u4"), ("end", "<u4"), ("value", "<f4")])
_ZOOM_RECORD = np.dtype([("chrom", "<u4"), ("start", "<u4"), ("end", "<u4"), ("count", "<u4"),
                         ("min", "<f4"), ("max", "<f4"), ("sum", "<f4"), ("sumsq", "<f4")])
_LEAF = np.dtype([("chrom0", "<u4"), ("start", "<u4"), ("chrom1", "<u4"), ("end", "<u4"),
                  ("offset", "<u8"), ("size", "<u8")])
_BRANCH = np.dtype([("chrom0", "<u4"), ("start", "<u4"), ("chrom1", "<u4"), ("end", "<u4"), ("offset", "<u8")])
_MAX_COORD = (1 << 32) - 1


def _deflate_all(jobs: list[tuple[bytes, int, int]]) -> list[bytes]:
    """zlib streams (what bigWig readers pass to ``uncompress``) for ``(raw, level, strategy)`` jobs."""
    out = []
    for raw, level, strategy in jobs:
        compressor = zlib.compressobj(level, zlib.DEFLATED, 15, 8, strategy)
        out.append(compressor.compress(raw) + compressor.flush())
    return out


class _Records(NamedTuple):
    """Zoom records of one chromosome chunk, one per bin: arrays of equal length."""

    bin: np.ndarray  # int64, bin index at this level
    start: np.ndarray  # int64, first covered base
    end: np.ndarray  # int64, end of the last covered base
    count: np.ndarray  # int64, bases covered
    min: np.ndarray  # float64
    max: np.ndarray
    sum: np.ndarray
    sumsq: np.ndarray


def _group(bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index of each run of equal ``bins``."""
    first = np.flatnonzero(bins[1:] != bins[:-1]) + 1
    return np.insert(first, 0, 0), np.append(first, bins.size) - 1


def _first_level(starts: np.ndarray, ends: np.ndarray, values: np.ndarray, shift: int, unit: bool) -> _Records:
    """Level-0 records of sorted, non-overlapping intervals in bins of ``1 << shift`` bases.

    ``unit``: every interval is one base long (the common per-base track), so none crosses a
    bin edge. Otherwise an interval that crosses bin edges is cut into one piece per bin.
    """
    bins = starts >> shift
    if unit:
        first, last = _group(bins)
        v64 = values.astype(np.float64)
        return _Records(bins[first], starts[first], ends[last], last - first + 1,
                        np.minimum.reduceat(values, first).astype(np.float64),
                        np.maximum.reduceat(values, first).astype(np.float64),
                        np.add.reduceat(v64, first), np.add.reduceat(v64 * v64, first))
    pieces = ((ends - 1) >> shift) - bins + 1
    if np.any(pieces > 1):
        owner = np.repeat(np.arange(starts.size), pieces)
        bins = bins[owner] + np.arange(owner.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        starts = np.maximum(starts[owner], bins << shift)
        ends = np.minimum(ends[owner], (bins + 1) << shift)
        values = values[owner]
    first, last = _group(bins)
    widths = ends - starts
    v64 = values.astype(np.float64)
    weighted = v64 * widths
    return _Records(bins[first], starts[first], ends[last], np.add.reduceat(widths, first),
                    np.minimum.reduceat(v64, first), np.maximum.reduceat(v64, first),
                    np.add.reduceat(weighted, first), np.add.reduceat(weighted * v64, first))


def _coarser(records: _Records) -> _Records:
    """The next zoom level (bins 4x wider) from the records of this one."""
    bins = records.bin >> ZOOM_FACTOR_SHIFT
    first, last = _group(bins)
    return _Records(bins[first], records.start[first], records.end[last], np.add.reduceat(records.count, first),
                    np.minimum.reduceat(records.min, first), np.maximum.reduceat(records.max, first),
                    np.add.reduceat(records.sum, first), np.add.reduceat(records.sumsq, first))


class _ZoomLevel:
    """Records of one zoom level, cut into blocks of :data:`ZOOM_ITEMS` as they come.

    The last record of a chunk stays open: the next chunk of the same chromosome may add bases
    to its bin.
    """

    def __init__(self, reduction: int):
        self.reduction = reduction
        self.open: tuple | None = None  # (chrom, bin, start, end, count, min, max, sum, sumsq)
        self.buffer: list[np.ndarray] = []
        self.buffered = 0
        self.records = 0
        self.blocks: list[tuple[int, ...]] = []  # spill offset, size, chrom0, start, chrom1, end

    def add(self, chrom: int, records: _Records) -> None:
        if self.open is not None:
            if self.open[0] == chrom and self.open[1] == records.bin[0]:
                records = _Records(*(field.copy() for field in records))
                _, _, start, _, count, low, high, total, squares = self.open
                records.start[0] = start
                records.count[0] += count
                records.min[0] = min(low, records.min[0])
                records.max[0] = max(high, records.max[0])
                records.sum[0] += total
                records.sumsq[0] += squares
            else:
                self._emit_open()
        self._emit(chrom, records, records.bin.size - 1)
        self.open = (chrom, *(field[-1] for field in records))

    def close(self) -> None:
        if self.open is not None:
            self._emit_open()
            self.open = None

    def _emit_open(self) -> None:
        chrom, *fields = self.open
        self._emit(chrom, _Records(*(np.array([value]) for value in fields)), 1)

    def _emit(self, chrom: int, records: _Records, n: int) -> None:
        if n <= 0:
            return
        out = np.empty(n, _ZOOM_RECORD)
        out["chrom"] = chrom
        for name in _ZOOM_RECORD.names[1:]:
            out[name] = getattr(records, name)[:n]
        self.buffer.append(out)
        self.buffered += n
        self.records += n

    def take_blocks(self, final: bool) -> list[np.ndarray]:
        """Full blocks of records ready to write (and the remainder too when ``final``)."""
        if self.buffered < ZOOM_ITEMS and not (final and self.buffered):
            return []
        records = np.concatenate(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
        cut = records.size if final else records.size - records.size % ZOOM_ITEMS
        self.buffer = [records[cut:]] if cut < records.size else []
        self.buffered = records.size - cut
        return [records[i : i + ZOOM_ITEMS] for i in range(0, cut, ZOOM_ITEMS)]


class BigWigWriter:
    """Write a bigWig file from intervals streamed one chromosome after another.

    ``chrom_sizes`` lists every chromosome of the file (all appear in its chromosome tree, also
    those without data), in the order their data will come. ``zoom_levels`` is the most zoom
    levels to write (see the module notes for which are kept). ``compress_level`` is zlib's
    level (0 stores); ``threads`` > 1 compress sections side by side, with the same bytes as one
    thread.

    Use as a context manager; leaving it on an exception closes the file unfinished (write to
    a temporary path, as :func:`seqlrp.formats.atomic.atomic_path` gives).
    """

    def __init__(self, path: str | os.PathLike, chrom_sizes: Mapping[str, int], zoom_levels: int = 10,
                 compress_level: int = 6, threads: int = 1):
        if not chrom_sizes:
            raise ValueError("a bigWig needs at least one chromosome")
        if not 0 <= zoom_levels <= MAX_ZOOM_LEVELS:
            raise ValueError(f"zoom_levels must be between 0 and {MAX_ZOOM_LEVELS}, got {zoom_levels}")
        if not 0 <= compress_level <= 9:
            raise ValueError(f"compress_level must be between 0 and 9, got {compress_level}")
        self._names = [str(name) for name in chrom_sizes]
        self._sizes = [int(size) for size in chrom_sizes.values()]
        for name, size in zip(self._names, self._sizes):
            if not 0 <= size <= _MAX_COORD:
                raise ValueError(f"chromosome {name!r}: size {size} outside 0..{_MAX_COORD}")
            if not name or "\0" in name:
                raise ValueError(f"invalid chromosome name {name!r}")
        self._ids = {name: i for i, name in enumerate(self._names)}
        if len(self._ids) != len(self._names):
            raise ValueError("chromosome names must be unique")
        self._max_zooms = zoom_levels
        self._level = compress_level
        self._threads = max(1, threads)
        self._pool = ThreadPoolExecutor(max_workers=self._threads) if self._threads > 1 else None
        self._jobs: list[tuple[bytes, int, int]] = []  # this call's (raw, level, strategy)
        self._metas: list[tuple] = []  # (zoom level or None, chrom0, start, chrom1, end) per job
        self._pending: list[tuple[list, list[tuple]]] = []  # earlier calls: (results or futures, metas)
        self._chrom = -1
        self._last_end = 0
        self._chroms_with_data: set[int] = set()
        self._zooms: list[_ZoomLevel] | None = None
        self._shift = 0
        self._index: list[np.ndarray] = []
        self._index_rows: list[tuple[int, ...]] = []
        self._max_raw = 0
        self._summary = [0, np.inf, -np.inf, 0.0, 0.0]  # bases, min, max, sum, sum of squares
        self._closed = False

        self._handle = open(path, "wb")  # noqa: SIM115 - closed by close()
        try:
            self._spill = tempfile.TemporaryFile(dir=Path(path).parent, prefix=".zoom.")  # noqa: SIM115 - as above
        except BaseException:
            self._handle.close()
            raise
        self._spill_position = 0
        self._summary_offset = _HEADER.size + _ZOOM_HEADER.size * zoom_levels
        self._tree_offset = self._summary_offset + _SUMMARY.size
        tree = _chrom_tree([name.encode() for name in self._names], self._sizes, self._tree_offset)
        self._data_offset = self._tree_offset + len(tree)
        self._handle.write(bytes(self._tree_offset) + tree + bytes(8))
        self._position = self._data_offset + 8

    def add(self, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        """Add intervals ``[starts, ends)`` (0-based, half-open) with their values, (n,) each.

        Intervals are sorted by start and do not overlap, also across calls for the same
        chromosome; chromosomes come in ``chrom_sizes`` order (several calls per chromosome are
        fine). Values are stored as float32 and must be finite. Raises ValueError otherwise.
        """
        chrom_id, starts, ends, values, widths = self._check(chrom, starts, ends, values)
        if starts.size == 0:
            return
        self._chrom, self._last_end = chrom_id, int(ends[-1])
        self._chroms_with_data.add(chrom_id)
        if self._zooms is None:
            self._start_zooms(widths)
        unit = bool(widths.max() == 1)
        self._add_sections(chrom_id, starts, ends, values, unit)
        self._add_zooms(chrom_id, starts, ends, values, unit)
        self._dispatch()
        self._collect(keep=1)

    def close(self) -> None:
        """Write the index, the zoom levels, the summary and the header; close the file."""
        if self._closed:
            return
        try:
            self._finish()
        finally:
            self._release()

    def _release(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown()
        self._spill.close()
        self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._release()

    def _check(self, chrom: str, starts, ends, values) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._closed:
            raise ValueError("the bigWig writer is closed")
        if chrom not in self._ids:
            raise ValueError(f"unknown chromosome {chrom!r} (not in chrom_sizes)")
        chrom_id = self._ids[chrom]
        starts = np.asarray(starts)
        ends = np.asarray(ends)
        for name, array in (("starts", starts), ("ends", ends)):
            if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
                raise ValueError(f"{chrom}: {name} must be a 1-D integer array")
        starts = starts.astype(np.int64, copy=False)
        ends = ends.astype(np.int64, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            values = np.asarray(values, dtype=np.float32)
        if values.ndim != 1 or not starts.size == ends.size == values.size:
            raise ValueError(f"{chrom}: starts, ends and values must be 1-D arrays of one length")
        widths = ends - starts
        if starts.size == 0:
            return chrom_id, starts, ends, values, widths
        if chrom_id < self._chrom:
            raise ValueError(f"chromosome {chrom!r} comes after {self._names[self._chrom]!r}: "
                             "chromosomes must come in chrom_sizes order")
        floor = self._last_end if chrom_id == self._chrom else 0
        if starts[0] < floor:
            raise ValueError(f"{chrom}:{starts[0]}: interval starts before {floor} "
                             "(negative, or overlapping the intervals of the previous call)")
        if widths.min() <= 0:
            i = int(np.argmax(widths <= 0))
            raise ValueError(f"{chrom}:{starts[i]}-{ends[i]}: empty or reversed interval (index {i})")
        overlap = starts[1:] < ends[:-1]
        if overlap.any():
            i = int(np.argmax(overlap)) + 1
            raise ValueError(f"{chrom}:{starts[i]}: interval {i} starts before the end ({ends[i - 1]}) "
                             "of the one before: intervals must be sorted and must not overlap")
        if ends[-1] > self._sizes[chrom_id]:
            raise ValueError(f"{chrom}:{starts[-1]}-{ends[-1]}: past the chromosome end ({self._sizes[chrom_id]})")
        finite = np.isfinite(values)
        if not finite.all():
            i = int(np.argmin(finite))
            raise ValueError(f"{chrom}:{starts[i]}-{ends[i]}: value {values[i]} is not a finite float32")
        return chrom_id, starts, ends, values, widths

    def _start_zooms(self, widths: np.ndarray) -> None:
        first = max(MIN_FIRST_ZOOM, int(np.ceil(10 * widths.mean())))
        self._shift = (first - 1).bit_length()
        self._zooms = []
        for k in range(self._max_zooms):
            reduction = 1 << (self._shift + ZOOM_FACTOR_SHIFT * k)
            if reduction > MAX_REDUCTION:
                break
            self._zooms.append(_ZoomLevel(reduction))

    def _add_sections(self, chrom: int, starts: np.ndarray, ends: np.ndarray, values: np.ndarray,
                      unit: bool) -> None:
        n = starts.size
        breaks = np.flatnonzero(starts[1:] != ends[:-1]) + 1
        first = np.insert(breaks, 0, 0)
        counts = np.append(breaks, n) - first
        spans = ends[first + counts - 1] - starts[first]
        fixed = (counts >= MIN_FIXED) & (spans <= MAX_FIXED_SPAN * counts)
        # a segment is one fixed-step stretch, or the run of other stretches between two of them
        opens = fixed.copy()
        opens[1:] |= fixed[:-1]
        opens[0] = True
        segments = np.flatnonzero(opens)
        bounds = np.append(first[segments], n).tolist()
        jobs, metas, level = self._jobs, self._metas, self._level
        for lo, hi, is_fixed in zip(bounds[:-1], bounds[1:], fixed[segments].tolist()):
            if is_fixed:
                per_base = values[lo:hi] if unit else np.repeat(values[lo:hi], ends[lo:hi] - starts[lo:hi])
                origin = int(starts[lo])
                for a in range(0, per_base.size, FIXED_ITEMS):
                    chunk = per_base[a : a + FIXED_ITEMS]
                    s, e = origin + a, origin + a + chunk.size
                    head = _SECTION.pack(chrom, s, e, 1, 1, 3, 0, chunk.size)
                    jobs.append((head + chunk.tobytes(), level, zlib.Z_RLE))
                    metas.append((None, chrom, s, chrom, e))
            else:
                items = np.empty(hi - lo, _BEDGRAPH_ITEM)
                items["start"] = starts[lo:hi]
                items["end"] = ends[lo:hi]
                items["value"] = values[lo:hi]
                for a in range(0, items.size, BEDGRAPH_ITEMS):
                    chunk = items[a : a + BEDGRAPH_ITEMS]
                    s, e = int(chunk["start"][0]), int(chunk["end"][-1])
                    head = _SECTION.pack(chrom, s, e, 0, 0, 1, 0, chunk.size)
                    jobs.append((head + chunk.tobytes(), level, zlib.Z_DEFAULT_STRATEGY))
                    metas.append((None, chrom, s, chrom, e))

    def _add_zooms(self, chrom: int, starts: np.ndarray, ends: np.ndarray, values: np.ndarray, unit: bool) -> None:
        # with no zoom levels, one bin per chunk still gives the total summary
        records = _first_level(starts, ends, values, self._shift if self._zooms else 62, unit)
        summary = self._summary
        summary[0] += int(records.count.sum())
        summary[1] = min(summary[1], float(records.min.min()))
        summary[2] = max(summary[2], float(records.max.max()))
        summary[3] += float(records.sum.sum())
        summary[4] += float(records.sumsq.sum())
        for k, level in enumerate(self._zooms):
            if k:
                records = _coarser(records)
            level.add(chrom, records)
            self._add_zoom_blocks(k, final=False)

    def _add_zoom_blocks(self, k: int, final: bool) -> None:
        for block in self._zooms[k].take_blocks(final):
            meta = (k, int(block["chrom"][0]), int(block["start"][0]), int(block["chrom"][-1]), int(block["end"][-1]))
            self._jobs.append((block.tobytes(), min(self._level, ZOOM_LEVEL), ZOOM_STRATEGY))
            self._metas.append(meta)

    def _dispatch(self) -> None:
        """Compress this call's jobs: here, or on the threads in contiguous groups (order kept)."""
        jobs, metas = self._jobs, self._metas
        self._jobs, self._metas = [], []
        if not jobs:
            return
        self._max_raw = max(self._max_raw, *(len(job[0]) for job in jobs))
        if self._pool is None:
            self._pending.append(([_deflate_all(jobs)], metas))
            return
        sizes = np.cumsum([len(job[0]) for job in jobs])
        cuts = np.searchsorted(sizes, sizes[-1] * np.arange(1, self._threads) / self._threads).tolist()
        bounds = [0, *cuts, len(jobs)]
        futures = [self._pool.submit(_deflate_all, jobs[a:b]) for a, b in itertools.pairwise(bounds) if b > a]
        self._pending.append((futures, metas))

    def _collect(self, keep: int = 0) -> None:
        """Write the compressed jobs of all but the last ``keep`` calls, in submission order."""
        while len(self._pending) > keep:
            groups, metas = self._pending.pop(0)
            results = [data for group in groups for data in (group if isinstance(group, list) else group.result())]
            data_parts, spill_parts = [], []
            for data, (level, *bounds) in zip(results, metas):
                if level is None:
                    self._index_rows.append((*bounds, self._position, len(data)))
                    self._position += len(data)
                    data_parts.append(data)
                else:
                    self._zooms[level].blocks.append((self._spill_position, len(data), *bounds))
                    self._spill_position += len(data)
                    spill_parts.append(data)
            self._handle.write(b"".join(data_parts))
            self._spill.write(b"".join(spill_parts))
        if len(self._index_rows) >= 4096:
            self._index.append(np.array(self._index_rows, dtype=np.uint64))
            self._index_rows = []

    def _finish(self) -> None:
        for k, level in enumerate(self._zooms or []):
            level.close()
            self._add_zoom_blocks(k, final=True)
        self._dispatch()
        self._collect(keep=0)
        handle = self._handle
        sections = np.concatenate([*self._index, np.array(self._index_rows, dtype=np.uint64).reshape(-1, 6)])
        index_offset = self._position
        handle.write(_rtree(sections, 1, index_offset))
        self._spill.flush()
        zoom_headers = []
        for level in self._kept_levels():
            data_offset = handle.tell()
            handle.write(struct.pack("<I", level.records))
            rows = []
            for spill_offset, size, *bounds in level.blocks:
                self._spill.seek(spill_offset)
                rows.append((*bounds, handle.tell(), size))
                handle.write(self._spill.read(size))
            zoom_index = handle.tell()
            handle.write(_rtree(np.array(rows, dtype=np.uint64).reshape(-1, 6), ZOOM_ITEMS, zoom_index))
            zoom_headers.append(_ZOOM_HEADER.pack(level.reduction, 0, data_offset, zoom_index))
        handle.write(struct.pack("<I", BIGWIG_MAGIC))
        bases, low, high, total, squares = self._summary
        if not bases:
            low = high = 0.0
        handle.seek(0)
        handle.write(_HEADER.pack(BIGWIG_MAGIC, VERSION, len(zoom_headers), self._tree_offset, self._data_offset,
                                  index_offset, 0, 0, 0, self._summary_offset,
                                  max(self._max_raw, ZOOM_ITEMS * _ZOOM_RECORD.itemsize), 0))
        handle.write(b"".join(zoom_headers))
        handle.seek(self._summary_offset)
        handle.write(_SUMMARY.pack(bases, low, high, total, squares))
        handle.seek(self._data_offset)
        handle.write(struct.pack("<Q", len(sections)))

    def _kept_levels(self) -> list[_ZoomLevel]:
        """UCSC's rule: stop after the first level with at most one record per chromosome with
        data; leave out a level with as many records as the one below (it repeats it)."""
        kept, below = [], None
        for level in self._zooms or []:
            if below is not None and below.records <= len(self._chroms_with_data):
                break
            if below is None or level.records < below.records:
                kept.append(level)
            below = level
        return kept


def _chrom_tree(names: list[bytes], sizes: list[int], offset: int) -> bytes:
    """The chromosome B+ tree written at ``offset``: keys sorted bytewise, value (id, size); ids
    are the list order.

    Nodes are written root first, unpadded, leaves last and contiguous (libBigWig reads the
    leaves in sequence, UCSC follows the child offsets).
    """
    key_size = max(len(name) for name in names)
    block = min(BLOCK_SIZE, len(names))
    order = sorted(range(len(names)), key=names.__getitem__)
    keys = [names[i].ljust(key_size, b"\0") for i in order]
    leaf_items = [key + struct.pack("<II", i, sizes[i]) for key, i in zip(keys, order)]
    # levels[0]: leaves; levels[j]: nodes over levels[j-1]; each node = list of item indices
    levels = [[list(range(i, min(i + block, len(keys)))) for i in range(0, len(keys), block)]]
    while len(levels[-1]) > 1:
        below = len(levels[-1])
        levels.append([list(range(i, min(i + block, below))) for i in range(0, below, block)])
    first_key = [[keys[node[0]] for node in levels[0]]]  # smallest key under each node
    for level in levels[1:]:
        first_key.append([first_key[-1][node[0]] for node in level])
    item_size = key_size + 8
    offsets: list[list[int]] = [[] for _ in levels]
    position = offset + _BPT_HEADER.size
    for depth in range(len(levels) - 1, -1, -1):
        for node in levels[depth]:
            offsets[depth].append(position)
            position += _NODE.size + item_size * len(node)
    out = [_BPT_HEADER.pack(BPT_MAGIC, block, key_size, 8, len(names), 0)]
    for depth in range(len(levels) - 1, -1, -1):
        for node in levels[depth]:
            out.append(_NODE.pack(depth == 0, 0, len(node)))
            if depth == 0:
                out.extend(leaf_items[i] for i in node)
            else:
                out.extend(first_key[depth - 1][i] + struct.pack("<Q", offsets[depth - 1][i]) for i in node)
    return b"".join(out)


def _rtree(items: np.ndarray, items_per_slot: int, offset: int) -> bytes:
    """The R-tree (cirTree) over blocks written at ``offset``.

    ``items`` (n, 6) uint64: chrom0, start, chrom1, end, file offset, size; sorted by position,
    not overlapping. Root first, each level in order, leaves last; nodes unpadded.
    """
    leaves = np.empty(len(items), _LEAF)
    for name, column in zip(_LEAF.names, items.T):
        leaves[name] = column
    # bounds of the nodes level by level, bottom up
    levels = [leaves]
    while True:
        below = levels[-1]
        nodes = np.empty(max(1, -(-below.size // BLOCK_SIZE)), _BRANCH)
        firsts = np.arange(0, max(below.size, 1), BLOCK_SIZE)
        lasts = np.minimum(firsts + BLOCK_SIZE, below.size) - 1
        if below.size:
            for name in ("chrom0", "start"):
                nodes[name] = below[name][firsts]
            for name in ("chrom1", "end"):
                nodes[name] = below[name][lasts]
        else:
            nodes[["chrom0", "start", "chrom1", "end"]] = 0
        levels.append(nodes)
        if nodes.size == 1:
            break
    root = levels[-1][0]
    header = _CIR_HEADER.pack(CIR_MAGIC, BLOCK_SIZE, leaves.size, int(root["chrom0"]), int(root["start"]),
                              int(root["chrom1"]), int(root["end"]), offset, items_per_slot, 0)
    # levels[1:] hold one entry per node; a node's items are the entries of the level below
    node_levels = levels[1:][::-1]  # root level first
    sizes = []
    for depth, nodes in enumerate(node_levels):
        below = levels[len(levels) - 2 - depth]
        item = _LEAF.itemsize if below is leaves else _BRANCH.itemsize
        counts = np.minimum(BLOCK_SIZE, below.size - np.arange(nodes.size) * BLOCK_SIZE).clip(0)
        sizes.append(_NODE.size + item * counts)
    position = offset + _CIR_HEADER.size
    node_offsets = []
    for level_sizes in sizes:
        starts = position + np.concatenate([[0], np.cumsum(level_sizes)[:-1]])
        node_offsets.append(starts)
        position += int(level_sizes.sum())
    out = [header]
    for depth, nodes in enumerate(node_levels):
        below_index = len(levels) - 2 - depth
        below = levels[below_index]
        if below is not leaves:
            below = below.copy()
            below["offset"] = node_offsets[depth + 1]
        is_leaf = below_index == 0
        for j in range(nodes.size):
            chunk = below[j * BLOCK_SIZE : (j + 1) * BLOCK_SIZE]
            out.append(_NODE.pack(is_leaf, 0, chunk.size))
            out.append(chunk.tobytes())
    return b"".join(out)
