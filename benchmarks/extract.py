"""Extraction + one-hot throughput (Mbp/s) on the demo genome for 1 kb windows, one core.

Generates the default demo genome (2.4 Mb, bgzip) in a temporary directory, writes a BED of
random 1 kb regions on both strands, then times ``dataset_from_genome`` (BED parsing,
window placement, sequence access through pysam, reverse complement) followed by one-hot
encoding, for a dense set of windows (the whole-chromosome path) and a sparse one (the
per-window fetch path). Goal: >= 50 Mbp/s on one core.

    python benchmarks/extract.py [--windows 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from seqlrp.formats.onehot import onehot_from_codes  # noqa: E402
from seqlrp.sequences.windows import ExtractOptions, dataset_from_genome  # noqa: E402
from seqlrp.stages.demo_data import make_demo  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WINDOW = 1000


def write_bed(path: Path, lengths: dict[str, int], n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    chroms = list(lengths)
    with open(path, "w") as handle:
        for i in range(n):
            chrom = chroms[rng.integers(len(chroms))]
            start = int(rng.integers(0, lengths[chrom] - WINDOW))
            handle.write(f"{chrom}\t{start}\t{start + WINDOW}\tw{i}\t0\t{'+-'[i % 2]}\n")


def time_extraction(genome: Path, bed: Path, repeats: int) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(repeats):
        tic = time.perf_counter()
        data = dataset_from_genome(genome, {"bench": bed}, ExtractOptions(seq_len=WINDOW), progress=False)
        onehot = onehot_from_codes(data.codes)
        best = min(best, time.perf_counter() - tic)
        n = onehot.shape[0]
    return best, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["demo"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_demo(demo, seq_len=200, seed=1, out_dir=tmp)
        genome = tmp / "genome.fa.gz"
        lengths = {f"chr{i + 1}": demo["chrom_len"] for i in range(demo["n_chroms"])}
        print(f"demo genome: {sum(lengths.values()) / 1e6:.1f} Mb, bgzip; windows of {WINDOW} bp; 1 thread")
        print(f"{'set':<20}{'windows':>9}{'seconds':>10}{'Mbp/s':>9}")
        for label, n in (("random windows", args.windows),):
            bed = tmp / f"{n}.bed"
            write_bed(bed, lengths, n, seed=n)
            seconds, count = time_extraction(genome, bed, args.repeats)
            print(f"{label:<20}{count:>9}{seconds:>10.3f}{count * WINDOW / 1e6 / seconds:>9.1f}")


if __name__ == "__main__":
    main()
