"""bedGraph text, bgzip-compressed and tabix-indexed in one pass.

A genome-wide relevance track has hundreds of millions of one-base lines; Python string
formatting manages about 1.5 million lines per second. :func:`render` writes the lines with a
compiled loop (numba, no GIL held) straight into a byte buffer and reports where each line
starts, so :class:`BedGraphWriter` can compress the text (:mod:`seqlrp.formats.bgzf`) and build the
tabix index (:mod:`seqlrp.formats.tabix`) without reading the file back.

Line format: ``chrom<TAB>start<TAB>end<TAB>value\\n``, coordinates 0-based, half-open; the
value is rounded to ``decimals`` places (half to even, as ``numpy.rint`` of value x 10^decimals),
trailing zeros and a bare point are dropped, and ``-0`` is written ``0``.
"""

from __future__ import annotations

import os
from typing import Self

import numba
import numpy as np

from .bgzf import BgzfWriter
from .tabix import TabixIndexBuilder

_TAB, _NEWLINE, _MINUS, _DOT, _ZERO = 9, 10, 45, 46, 48
_MAX_FIXED = 2**62  # |value| x 10^decimals must stay well inside int64


_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), dtype=np.uint8)  # "00".."99"
_POWERS = np.array([10**k for k in range(20)], dtype=np.uint64)


@numba.njit(cache=True, nogil=True, inline="always")
def _put_digits(out, end, value, width):
    """The last ``width`` decimal digits of ``value`` (uint64) at ``out[end - width:end]``."""
    cursor = end
    while cursor - end + width >= 2:
        value, pair = divmod(value, np.uint64(100))
        cursor -= 2
        out[cursor] = _PAIRS[2 * pair]
        out[cursor + 1] = _PAIRS[2 * pair + 1]
    if cursor > end - width:
        out[cursor - 1] = _ZERO + value % np.uint64(10)


@numba.njit(cache=True, nogil=True, inline="always")
def _put_uint(out, pos, value):
    """ASCII decimal of ``value`` (uint64) at ``out[pos:]``; returns the position after it."""
    width = 1
    while width < 20 and value >= _POWERS[width]:
        width += 1
    _put_digits(out, pos + width, value, width)
    return pos + width


@numba.njit(cache=True, nogil=True, inline="always")
def _copy(out, source, length, pos):
    for k in range(length):
        out[pos + k] = out[source + k]
    return pos + length


@numba.njit(cache=True, nogil=True)
def _render_lines(prefix, starts, ends, fixed, decimals, out, offsets):
    """Write the lines into ``out``; line ``i`` goes to ``out[offsets[i]:offsets[i + 1]]``.

    ``fixed`` (n,) int64 = value x 10^decimals, already rounded. Per-base tracks repeat the
    previous end as the next start and have end = start + 1: those digits are copied and
    incremented in place instead of converted again.
    """
    scale = _POWERS[decimals]
    pos = 0
    end_at, end_length, previous_end = 0, 0, -1
    for i in range(starts.size):
        offsets[i] = pos
        for byte in prefix:
            out[pos] = byte
            pos += 1
        start = starts[i]
        start_at = pos
        if start == previous_end:
            pos = _copy(out, end_at, end_length, pos)
        else:
            pos = _put_uint(out, pos, np.uint64(start))
        start_length = pos - start_at
        out[pos] = _TAB
        pos += 1
        end_at = pos
        end = ends[i]
        last = start_at + start_length - 1
        while last >= start_at and out[last] == _ZERO + 9:
            last -= 1
        if end == start + 1 and last >= start_at:  # increment the copied start, no carry out of the top digit
            pos = _copy(out, start_at, start_length, pos)
            out[end_at + last - start_at] += 1
            for k in range(end_at + last - start_at + 1, pos):
                out[k] = _ZERO
        else:
            pos = _put_uint(out, pos, np.uint64(end))
        end_length = pos - end_at
        previous_end = end
        out[pos] = _TAB
        pos += 1
        value = fixed[i]
        if value < 0:
            out[pos] = _MINUS
            pos += 1
            value = -value
        whole, fraction = divmod(np.uint64(value), scale)
        pos = _put_uint(out, pos, whole)
        if fraction:
            width = decimals
            while fraction % np.uint64(10) == 0:
                fraction //= np.uint64(10)
                width -= 1
            out[pos] = _DOT
            _put_digits(out, pos + 1 + width, fraction, width)
            pos += width + 1
        out[pos] = _NEWLINE
        pos += 1
    offsets[starts.size] = pos


def _digits(value: int) -> int:
    return len(str(max(int(value), 0)))


def render(chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray, decimals: int = 6,
           buffer: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """bedGraph lines for one chromosome as ``(text (size,) uint8, offsets (n + 1,) int64)``.

    ``starts``/``ends`` (n,) non-negative int, 0-based half-open; ``values`` (n,) float, finite.
    Line ``i`` is ``text[offsets[i]:offsets[i + 1]]``. ``text`` is a view of ``buffer`` (uint8)
    when that is large enough, else of a new array. Raises ValueError on a non-finite value or
    one too large for ``decimals`` places.
    """
    if not 0 <= decimals <= 17:
        raise ValueError(f"decimals must be within 0..17, got {decimals}")
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    ends = np.ascontiguousarray(ends, dtype=np.int64)
    n = starts.size
    if n == 0:
        return np.empty(0, dtype=np.uint8), np.zeros(1, dtype=np.int64)
    if starts.min() < 0 or ends.min() < 0:  # the buffer is sized for non-negative numbers
        raise ValueError("bedGraph coordinates must not be negative")
    scaled = np.asarray(values, dtype=np.float64) * float(10**decimals)
    largest = float(np.abs(scaled).max())  # NaN when any value is NaN
    if not largest < _MAX_FIXED:
        raise ValueError(f"bedGraph values must be finite and below {_MAX_FIXED / 10**decimals:g} in magnitude")
    fixed = np.rint(scaled, out=scaled).astype(np.int64)
    prefix = np.frombuffer(chrom.encode("ascii") + b"\t", dtype=np.uint8)
    width = prefix.size + 2 * _digits(max(int(ends.max()), int(starts.max()))) + _digits(largest) + decimals + 5
    text = buffer if buffer is not None and buffer.size >= n * width else np.empty(n * width, dtype=np.uint8)
    offsets = np.empty(n + 1, dtype=np.int64)
    _render_lines(prefix, starts, ends, fixed, decimals, text, offsets)
    return text[: offsets[-1]], offsets


def format_bedgraph(chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray, decimals: int = 6) -> bytes:
    """bedGraph lines ``chrom<TAB>start<TAB>end<TAB>value\\n`` for one chromosome (see :func:`render`)."""
    return render(chrom, starts, ends, values, decimals)[0].tobytes()


class BedGraphWriter:
    """Write ``path`` (bgzip bedGraph) and ``index_path`` (its tabix index) in one pass.

    ``track_line`` (without final newline; None for none) opens the file: one or more header
    lines (a ``#seqlrp provenance`` comment, then the ``track`` line), all skipped by the index,
    whose ``line_skip`` is their count (what ``tabix -p bed -S <count>`` writes).
    Intervals come through :meth:`add`, one chromosome after another (a chromosome may span
    several calls but may not come back later), sorted by start and not overlapping.
    ``compress_level`` follows :func:`seqlrp.formats.bgzf.compress_block` (1-3 ISA-L, 4-9 zlib);
    ``threads`` > 1 compresses blocks side by side. The same calls give the same bytes.
    Both files are complete only after :meth:`close` (``index_path`` defaults to ``path + ".tbi"``);
    the caller passes temporary paths and renames them.
    """

    def __init__(self, path: str | os.PathLike, track_line: str | None = None, decimals: int = 6,
                 compress_level: int = 6, threads: int = 1, index_path: str | os.PathLike | None = None):
        self._index_path = os.fspath(path) + ".tbi" if index_path is None else os.fspath(index_path)
        self._decimals = decimals
        self._level = compress_level
        self._bgzf = BgzfWriter(path, compress_level, threads)
        skip = 0
        if track_line is not None:
            header = track_line.rstrip("\n") + "\n"
            self._bgzf.write(header.encode())
            skip = header.count("\n")
        self._index = TabixIndexBuilder(line_skip=skip)
        self._buffer = np.empty(0, dtype=np.uint8)  # reused text buffer: no fresh pages per call
        self._closed = False

    def add(self, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> int:
        """Append intervals (n,) of ``chrom`` (0-based, half-open); returns the positions covered."""
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        ends = np.ascontiguousarray(ends, dtype=np.int64)
        values = np.asarray(values)
        if not starts.shape == ends.shape == values.shape or starts.ndim != 1:
            raise ValueError(f"starts, ends and values must be equal-length 1-d arrays, got "
                             f"{starts.shape}, {ends.shape}, {values.shape}")
        if starts.size == 0:
            return 0
        text, offsets = render(chrom, starts, ends, values, self._decimals, self._buffer)
        self._buffer = text.base  # the buffer ``text`` views, grown when it was too small
        offsets += self._bgzf.tell()
        self._index.add(chrom, starts, ends, offsets)  # checks the intervals before anything is written
        self._bgzf.write(text)
        return int((ends - starts).sum())

    def close(self) -> None:
        """Finish the BGZF file and write the index beside it."""
        if self._closed:
            return
        self._closed = True
        self._bgzf.close()
        index = self._index.to_bytes(self._bgzf.virtual_offsets)
        with BgzfWriter(self._index_path, self._level, threads=1) as handle:
            handle.write(index)

    def abort(self) -> None:
        """Stop without writing the index (the data file is left incomplete for the caller to delete)."""
        self._closed = True
        self._bgzf.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
