"""Track writing throughput: genome positions per second into bedGraph.gz (+ tabix) and bigWig.

Synthetic relevance for ``--windows`` windows of 1 kb on both strands, overlapping, over 8
chromosomes of 10 Mb; times ``genome_track`` (strand flip, window merge) plus ``write_tracks``
(formatting, BGZF compression, tabix index, bigWig with 10 zoom levels), for each BGZF level
asked, with the bedGraph on a second thread (``--threads 2``, what the rule does) or on the
same one. Goal: >= 5 million positions per second.

    python benchmarks/tracks.py [--windows 20000] [--levels 2 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from seqlrp.analysis.tracks import genome_track, write_tracks

LENGTH = 1000


def synthetic_windows(windows: int, seed: int = 0):
    """Random 1 kb windows over 8 x 10 Mb: ``(sizes, chroms, starts, strands, values (n, L) float32)``.

    The data of every track benchmark (``bedgraph.py`` and ``bigwig.py`` import it from here).
    """
    rng = np.random.default_rng(seed)
    sizes = {f"chr{i + 1}": 10_000_000 for i in range(8)}
    chroms = rng.choice(list(sizes), size=windows)
    starts = rng.integers(0, 10_000_000 - LENGTH, size=windows)
    strands = rng.choice(["+", "-"], size=windows)
    values = (rng.standard_normal((windows, LENGTH)) * 0.01).astype(np.float32)
    return sizes, chroms, starts, strands, values


def synthetic_intervals(windows: int) -> tuple[dict[str, int], list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]]:
    """The synthetic windows merged into genome intervals, as :func:`genome_track` yields them."""
    sizes, chroms, starts, strands, values = synthetic_windows(windows)
    return sizes, list(genome_track(chroms, starts, strands, values, sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20_000)
    parser.add_argument("--levels", type=int, nargs="+", default=[2, 6])
    parser.add_argument("--threads", type=int, default=2, help="2: bedGraph on a second thread; 1: one thread")
    args = parser.parse_args()
    sizes, chroms, starts, strands, values = synthetic_windows(args.windows)
    print(f"{args.windows} windows x {LENGTH} bp on 8 x 10 Mb; bedGraph.gz + .tbi + bigWig")
    print(f"{'BGZF level':>10}{'positions':>12}{'seconds':>9}{'M positions/s':>15}{'bedGraph MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for level in [None, *args.levels]:  # None: the bigWig alone
            bedgraph = None if level is None else Path(tmp) / f"t{level}.bedGraph.gz"
            tic = time.perf_counter()
            intervals = genome_track(chroms, starts, strands, values, sizes)
            positions = write_tracks(intervals, sizes, bedgraph, Path(tmp) / "t.bw", "track type=bedGraph name=bench",
                                     compress_level=level or 2, threads=args.threads)
            seconds = time.perf_counter() - tic
            size = f"{bedgraph.stat().st_size / 1e6:>12.1f}" if bedgraph else f"{'(bigWig only)':>14}"
            print(f"{level or '-':>10}{positions:>12}{seconds:>9.2f}{positions / seconds / 1e6:>15.2f}{size}")


if __name__ == "__main__":
    main()
