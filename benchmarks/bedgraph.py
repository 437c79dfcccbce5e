"""bedGraph.gz + .tbi throughput, one core: the old path against BedGraphWriter, side by side.

Same synthetic track as ``benchmarks/tracks.py``: ``--windows`` overlapping 1 kb windows on both
strands over 8 chromosomes of 10 Mb, merged by ``genome_track`` (not timed; about 0.94 million
per-base lines per 1,000 windows). Times, per BGZF level asked:

- old: NumPy text rendering (the formatter before numba, kept here as the baseline) ->
  ``BgzfWriter`` on zlib -> ``pysam.tabix_index`` (reads the file back), each stage timed;
- new: ``BedGraphWriter`` (numba text, ISA-L for levels 1-3, zlib above, index built while
  writing), and its text rendering alone.

Reports wall-clock and CPU seconds (on a shared machine the CPU time of this one thread is
the steadier figure; throughput is computed from it). Checks that both paths give the same
text and that the new index equals ``pysam.tabix_index``'s. Goal: >= 8 million positions per
second for the new path on one core (the bigWig writer takes the other).

    python benchmarks/bedgraph.py [--windows 10000] [--levels 1 2 3 6] [--old-levels 1 6]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path
from typing import Self

import numpy as np
import pysam
from tracks import (  # benchmarks/tracks.py: the shared synthetic track
    LENGTH,
    synthetic_intervals,
)

from seqlrp.formats.bedgraph import BedGraphWriter, render
from seqlrp.formats.bgzf import BgzfWriter
from seqlrp.formats.tabix import parse_tbi

TRACK_LINE = "track type=bedGraph name=bench"


_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), dtype=np.uint8).reshape(100, 2)
_POWERS_OF_TEN = 10 ** np.arange(19, dtype=np.int64)


def _numpy_digits(values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.empty((values.size, width), dtype=np.uint8)
    rest = values.astype(np.uint32 if width <= 9 else np.uint64)
    for pair in range(width // 2 - 1, -1, -1):
        rest, low = np.divmod(rest, 100)
        out[:, 2 * pair : 2 * pair + 2] = _PAIRS[low]
    n_digits = np.maximum(np.searchsorted(_POWERS_OF_TEN[:width], values, side="right"), 1)
    return out, np.arange(width) >= (width - n_digits)[:, None]


def _even_width(max_value: int) -> int:
    width = len(str(max(int(max_value), 0)))
    return width + width % 2


def numpy_format_bedgraph(chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray, decimals: int = 6) -> bytes:
    """The baseline: digits rendered column-wise with NumPy, fields joined by masking padded slots."""
    n = starts.size
    width = _even_width(ends.max())
    start_digits, start_keep = _numpy_digits(starts, width)
    end_digits, end_keep = _numpy_digits(ends, width)
    scale = 10**decimals
    fixed = np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)
    whole, fraction = np.divmod(np.abs(fixed), scale)
    whole_digits, whole_keep = _numpy_digits(whole, _even_width(whole.max()))
    fraction_width = decimals + decimals % 2
    fraction_digits = _numpy_digits(fraction * 10 ** (fraction_width - decimals), fraction_width)[0][:, :decimals]
    trailing = sum((fraction % 10**power == 0).astype(np.int64) for power in range(1, decimals + 1))
    fraction_keep = np.arange(decimals) < (decimals - trailing)[:, None]
    prefix = np.frombuffer(chrom.encode() + b"\t", dtype=np.uint8)
    byte = lambda value: np.full((n, 1), value, dtype=np.uint8)
    always = np.ones((n, 1), dtype=bool)
    text = np.concatenate([np.broadcast_to(prefix, (n, prefix.size)), start_digits, byte(9), end_digits, byte(9),
                           byte(45), whole_digits, byte(46), fraction_digits, byte(10)], axis=1)
    keep = np.concatenate([np.ones((n, prefix.size), dtype=bool), start_keep, always, end_keep, always,
                           (fixed < 0)[:, None], whole_keep, fraction_keep[:, :1], fraction_keep, always], axis=1)
    return text[keep].tobytes()


class Timer:
    """Wall-clock and CPU seconds of a ``with`` block."""

    def __enter__(self) -> Self:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


def old_path(intervals, path: Path, level: int) -> dict[str, Timer]:
    with Timer() as format_timer:
        texts = [numpy_format_bedgraph(chrom, starts, ends, values) for chrom, starts, ends, values in intervals]
    with Timer() as bgzf_timer, BgzfWriter(path, level, threads=1, isal=False) as writer:
        writer.write((TRACK_LINE + "\n").encode())
        for text in texts:
            writer.write(text)
    with Timer() as tabix_timer:
        pysam.tabix_index(str(path), force=True, seq_col=0, start_col=1, end_col=2, zerobased=True, line_skip=1)
    return {"format": format_timer, "bgzf": bgzf_timer, "tabix": tabix_timer}


def new_path(intervals, path: Path, level: int) -> Timer:
    with Timer() as timer, BedGraphWriter(path, TRACK_LINE, decimals=6, compress_level=level, threads=1) as writer:
        for chrom, starts, ends, values in intervals:
            writer.add(chrom, starts, ends, values)
    return timer


def bgzf_text(path: Path) -> bytes:
    """Decompressed content (gzip.decompress copies the rest of the input per member: quadratic)."""
    with pysam.BGZFile(str(path), "rb") as handle:
        return handle.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3, 6], help="levels of the new path")
    parser.add_argument("--old-levels", type=int, nargs="*", default=[1, 6], help="zlib levels of the old path")
    args = parser.parse_args()
    _, intervals = synthetic_intervals(args.windows)
    positions = sum(int((ends - starts).sum()) for _, starts, ends, _ in intervals)
    lines = sum(starts.size for _, starts, _, _ in intervals)
    print(f"{args.windows} windows x {LENGTH} bp on 8 x 10 Mb: {positions} positions in {lines} lines; one thread")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        new_path(intervals[:1], tmp / "warm.gz", 1)  # numba: load the compiled kernel outside the timing
        with Timer() as timer:
            for chrom, starts, ends, values in intervals:
                render(chrom, starts, ends, values)
        print(f"new text rendering alone: {timer.cpu:.2f} CPU s ({positions / timer.cpu / 1e6:.1f} M positions/s)")
        print(f"{'path':>5}{'level':>7}{'wall s':>8}{'CPU s':>8}{'M positions/s':>15}{'MB':>8}  CPU s per stage")
        reference = None
        for level in args.old_levels:
            path = tmp / f"old{level}.bedGraph.gz"
            stages = old_path(intervals, path, level)
            wall, cpu = sum(t.wall for t in stages.values()), sum(t.cpu for t in stages.values())
            detail = ", ".join(f"{name} {t.cpu:.2f}" for name, t in stages.items())
            print(f"{'old':>5}{level:>7}{wall:>8.2f}{cpu:>8.2f}{positions / cpu / 1e6:>15.2f}"
                  f"{path.stat().st_size / 1e6:>8.1f}  {detail}")
            reference = reference or path
        for level in args.levels:
            path = tmp / f"new{level}.bedGraph.gz"
            timer = new_path(intervals, path, level)
            print(f"{'new':>5}{level:>7}{timer.wall:>8.2f}{timer.cpu:>8.2f}{positions / timer.cpu / 1e6:>15.2f}"
                  f"{path.stat().st_size / 1e6:>8.1f}  index {Path(f'{path}.tbi').stat().st_size / 1e3:.0f} kB")
            if reference is not None:
                same_text = bgzf_text(path) == bgzf_text(reference)
                new_index = parse_tbi(gzip.decompress(Path(f"{path}.tbi").read_bytes()))
                # the index holds compressed offsets: compare against pysam's index of this very file
                pysam.tabix_index(str(path), force=True, seq_col=0, start_col=1, end_col=2, zerobased=True,
                                  line_skip=1, index=str(tmp / "check.tbi"))
                same_index = new_index == parse_tbi(gzip.decompress((tmp / "check.tbi").read_bytes()))
                print(f"{'':>12}same text as old: {same_text}; index equal to pysam.tabix_index's: {same_index}")


if __name__ == "__main__":
    main()
