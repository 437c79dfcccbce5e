"""Track writing throughput: genome positions per second into bedGraph.gz (+ tabix) and bigWig.

Synthetic relevance for ``--windows`` windows of 1 kb on both strands, overlapping, over 8
chromosomes of 10 Mb; times ``genome_track`` (strand flip, window merge) plus ``write_tracks``
(formatting, BGZF compression, tabix index, bigWig), for each BGZF level asked. Goal: >= 5 million
positions per second.

    python benchmarks/tracks.py [--windows 20000] [--levels 1 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from seqlrp.tracks import genome_track, write_tracks

LENGTH = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20_000)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--threads", type=int, default=2, help="BGZF compression threads")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sizes = {f"chr{i + 1}": 10_000_000 for i in range(8)}
    chroms = rng.choice(list(sizes), size=args.windows)
    starts = rng.integers(0, 10_000_000 - LENGTH, size=args.windows)
    strands = rng.choice(["+", "-"], size=args.windows)
    values = (rng.standard_normal((args.windows, LENGTH)) * 0.01).astype(np.float32)
    print(f"{args.windows} windows x {LENGTH} bp on 8 x 10 Mb; bedGraph.gz + .tbi + bigWig")
    print(f"{'BGZF level':>10}{'positions':>12}{'seconds':>9}{'M positions/s':>15}{'bedGraph MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for level in [None, *args.levels]:  # None: the bigWig alone
            bedgraph = None if level is None else Path(tmp) / f"t{level}.bedGraph.gz"
            tic = time.perf_counter()
            intervals = genome_track(chroms, starts, strands, values, sizes)
            positions = write_tracks(intervals, sizes, bedgraph, Path(tmp) / "t.bw", "track type=bedGraph name=bench",
                                     compress_level=level or 6, threads=args.threads)
            seconds = time.perf_counter() - tic
            size = f"{bedgraph.stat().st_size / 1e6:>12.1f}" if bedgraph else f"{'(bigWig only)':>14}"
            print(f"{level or '-':>10}{positions:>12}{seconds:>9.2f}{positions / seconds / 1e6:>15.2f}{size}")


if __name__ == "__main__":
    main()
