"""Scale: many regions through predict -> attribute -> tracks, with the peak memory of every job.

Generates a random genome (``--chroms`` x ``--chrom-len``, bgzip) and ``--regions`` random 1 kb
regions in two classes, builds a small CNN (untrained: throughput and memory do not depend on
the weights) and runs the pipeline up to the tracks of one class and method (all windows of that
class, ``attribute.regions: all``) with ``shard_size`` windows per job. Reads every job's
Snakemake benchmark record and prints wall seconds, regions/s and peak RSS per rule (the largest
over a rule's jobs), against the goals (<= 4 GB per job; attribution <= 2 GB).

    python benchmarks/scale.py --workdir /tmp/scale [--regions 100000] [--shard-size 25000] [--cores 2]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pysam
import yaml

from seqlrp.models import annotate, build, save_model

REPO = Path(__file__).resolve().parents[1]
GOALS_MB = {"attribute_shard": 2000}
DEFAULT_GOAL_MB = 4000


def write_genome(path: Path, n_chroms: int, length: int, seed: int) -> dict[str, int]:
    """A random genome (bgzip FASTA + .fai/.gzi) of ``n_chroms`` x ``length`` bases."""
    rng = np.random.default_rng(seed)
    plain = path.with_suffix("")
    sizes = {}
    with open(plain, "w") as handle:
        for i in range(n_chroms):
            name = f"chr{i + 1}"
            codes = rng.integers(0, 4, size=length, dtype=np.uint8)
            sequence = np.frombuffer(b"ACGT", dtype=np.uint8)[codes].tobytes().decode()
            handle.write(f">{name}\n")
            for lo in range(0, length, 80):
                handle.write(sequence[lo : lo + 80] + "\n")
            sizes[name] = length
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.faidx(str(path))
    return sizes


def write_regions(directory: Path, sizes: dict[str, int], n: int, width: int, seed: int) -> dict[str, str]:
    """Two BED files (classes ``a`` and ``b``) of ``n`` regions in all, random positions and strands."""
    rng = np.random.default_rng(seed + 1)
    names = list(sizes)
    chroms = rng.choice(names, size=n)
    starts = rng.integers(width, min(sizes.values()) - 2 * width, size=n)
    strands = rng.choice(["+", "-"], size=n)
    paths = {}
    for k, cls in enumerate(("a", "b")):
        path = directory / f"{cls}.bed"
        with open(path, "w") as handle:
            for i in range(k, n, 2):
                handle.write(f"{chroms[i]}\t{starts[i]}\t{starts[i] + width}\t{cls}{i}\t0\t{strands[i]}\n")
        paths[cls] = str(path)
    return paths


def benchmark_records(results: Path) -> dict[str, list[dict]]:
    """Snakemake benchmark records by rule (from the file layout of the rules' ``benchmark:``)."""
    records = defaultdict(list)
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        rule = path.parent.name if path.parent.name != "benchmarks" else path.stem
        if rule == "attribute" and ".shard" in path.name:
            rule = "attribute_shard"
        if rule == "predict" and path.name.startswith("shard"):
            rule = "predict_shard"
        with open(path) as handle:
            records[rule] += list(csv.DictReader(handle, delimiter="\t"))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--regions", type=int, default=100_000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--chroms", type=int, default=10)
    parser.add_argument("--chrom-len", type=int, default=10_000_000)
    parser.add_argument("--shard-size", type=int, default=25_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    sizes = write_genome(work / "genome.fa.gz", args.chroms, args.chrom_len, args.seed)
    regions = write_regions(work, sizes, args.regions, args.length, args.seed)
    import torch

    torch.manual_seed(args.seed)
    model = build("cnn", seq_len=args.length, n_classes=2, filters=[32, 32], kernels=[19, 7], pools=[4, 4], dense=[32])
    annotate(model, classes=["a", "b"])
    save_model(model.eval(), work / "model.pt")
    print(f"inputs: {args.regions} regions x {args.length} bp on {args.chroms} x {args.chrom_len / 1e6:g} Mb "
          f"({time.perf_counter() - tic:.0f} s to generate)")

    config = {
        "genome": str(work / "genome.fa.gz"), "regions": regions, "seq_len": args.length,
        "shard_size": args.shard_size, "seed": args.seed,
        "model": {"checkpoint": str(work / "model.pt")},
        "split": {"valid_chroms": ["chr2"], "test_chroms": ["chr3"]},
        "predict": {"device": args.device}, "train": {"device": args.device},
        "attribute": {"regions": "all", "device": args.device, "batch_size": 256,
                      "methods": {"plrp": {"composite": "epsilon-plus", "prune": {"p_pos": 0.25, "mode": "lambda"}}}},
        "tracks": {"hypothetical": False},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/model/predictions.tsv", "results/tracks/a.plrp.bw"]
    command = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(work),
               "--cores", str(args.cores), *targets, "--configfile", str(work / "config.yaml")]
    tic = time.perf_counter()
    subprocess.run(command, check=True, cwd=work)
    wall = time.perf_counter() - tic

    n_class = (args.regions + 1) // 2
    print(f"\npipeline wall time {wall:.0f} s for {args.regions} regions ({args.regions / wall:.0f} regions/s end to end)")
    print(f"{'rule':<16}{'jobs':>5}{'seconds':>9}{'regions/s':>11}{'peak RSS MB':>13}{'goal MB':>9}  verdict")
    for rule, rows in benchmark_records(work / "results").items():
        seconds = sum(float(r["s"]) for r in rows)
        rss = max(float(r["max_rss"]) for r in rows if r["max_rss"] not in ("-", "NA"))
        count = args.regions if rule.startswith("predict") else n_class
        goal = GOALS_MB.get(rule, DEFAULT_GOAL_MB)
        rate = f"{count / seconds:>11.0f}" if rule in ("predict_shard", "attribute_shard", "tracks") else f"{'':>11}"
        print(f"{rule:<16}{len(rows):>5}{seconds:>9.1f}{rate}{rss:>13.0f}{goal:>9}  {'ok' if rss <= goal else 'OVER'}")


if __name__ == "__main__":
    main()
