"""bigWig writing throughput: seqlrp.formats.bigwig.BigWigWriter against pyBigWig (libBigWig), both with zoom levels.

The intervals of benchmarks/tracks.py (``--windows`` windows of 1 kb on both strands over 8
chromosomes of 10 Mb, merged per position by ``genome_track``) are computed once; then each
writer writes them ``--repeats`` times and the best time counts (the machine may be shared).
pyBigWig gets per-base blocks (``addEntries`` with span 1, step 1), its fastest input, as
``seqlrp.analysis.tracks`` gives it, and ``maxZooms=10``.

    python benchmarks/bigwig.py [--windows 20000] [--repeats 3] [--threads 1 2] [--levels 6 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyBigWig
from tracks import (  # benchmarks/tracks.py: the shared synthetic track
    LENGTH,
    synthetic_intervals,
)

from seqlrp.formats.bigwig import BigWigWriter


def write_seqlrp(path: Path, sizes, intervals, level: int, threads: int) -> None:
    with BigWigWriter(path, sizes, zoom_levels=10, compress_level=level, threads=threads) as writer:
        for chrom, starts, ends, values in intervals:
            writer.add(chrom, starts, ends, values)


def write_pybigwig(path: Path, sizes, intervals) -> None:
    bigwig = pyBigWig.open(str(path), "w")
    bigwig.addHeader(list(sizes.items()), maxZooms=10)
    for chrom, starts, ends, values in intervals:
        lengths = ends - starts
        per_base = np.repeat(values.astype(np.float64), lengths)
        first_base = np.concatenate([[0], np.cumsum(lengths)])
        gaps = np.flatnonzero(starts[1:] != ends[:-1]) + 1
        for lo, hi in zip(np.concatenate([[0], gaps]).tolist(), np.concatenate([gaps, [starts.size]]).tolist()):
            bigwig.addEntries(chrom, int(starts[lo]), values=per_base[first_base[lo] : first_base[hi]], span=1, step=1)
    bigwig.close()


def best_time(write, repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds over ``repeats`` runs."""
    wall, cpu = [], []
    for _ in range(repeats):
        tic, tic_cpu = time.perf_counter(), time.process_time()
        write()
        wall.append(time.perf_counter() - tic)
        cpu.append(time.process_time() - tic_cpu)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--levels", type=int, nargs="+", default=[6, 0], help="zlib levels of BigWigWriter")
    args = parser.parse_args()
    sizes, intervals = synthetic_intervals(args.windows)
    positions = sum(int((ends - starts).sum()) for _, starts, ends, _ in intervals)
    print(f"{args.windows} windows x {LENGTH} bp on 8 x 10 Mb: {positions} positions in {len(intervals)} chunks")
    print(f"{'writer':<26}{'wall s':>8}{'cpu s':>8}{'M pos/s (wall)':>16}{'M pos/s (cpu)':>15}{'MB':>8}{'zooms':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("pyBigWig maxZooms=10", lambda path: write_pybigwig(path, sizes, intervals))]
        for level in args.levels:
            for threads in args.threads:
                runs.append((f"BigWigWriter level {level} x{threads}",
                             lambda path, lv=level, t=threads: write_seqlrp(path, sizes, intervals, lv, t)))
        for name, write in runs:
            path = Path(tmp) / "t.bw"
            wall, cpu = best_time(lambda write=write, path=path: write(path), args.repeats)
            with pyBigWig.open(str(path)) as bigwig:
                zooms = bigwig.header()["nLevels"]
            print(f"{name:<26}{wall:>8.2f}{cpu:>8.2f}{positions / wall / 1e6:>16.2f}{positions / cpu / 1e6:>15.2f}"
                  f"{path.stat().st_size / 1e6:>8.1f}{zooms:>7}")


if __name__ == "__main__":
    main()
