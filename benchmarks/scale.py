"""Scale: many regions, or a whole chromosome's tiles, to a relevance bigWig, with the peak memory of every job.

``--mode regions`` (default): a random genome (``--chroms`` x ``--chrom-len``, bgzip) and
``--regions`` random 1 kb regions in two classes, through extract -> predict -> attribute ->
tracks of one class and method (all windows of that class, ``attribute.regions: all``).
``--mode tiles``: one random chromosome of ``--chrom-len`` bases (e.g. 249 Mb, the size of chr1)
tiled with ``tile: {size: --length, stride: --stride}``, through extract -> attribute -> tracks of
one class and method (every tile). Both build a small CNN (untrained: throughput and memory do
not depend on the weights) and run with ``shard_size`` windows per job. Reads every job's
Snakemake benchmark record and prints wall seconds, windows/s and peak RSS per rule (the largest
over a rule's jobs) against the goals (<= 4 GB per job; attribution <= 2 GB), and the size of
the attribution store per window against the goal (<= 12 kB per 1 kb window).

    python benchmarks/scale.py --workdir /tmp/scale [--regions 100000] [--shard-size 25000] [--cores 2]
    python benchmarks/scale.py --workdir /tmp/chr1 --mode tiles --chroms 1 --chrom-len 249000000 --shard-size 50000
"""

from __future__ import annotations

import argparse
import csv
import json
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
STORE_GOAL_BYTES_PER_KB = 12_000


def write_genome(path: Path, n_chroms: int, length: int, seed: int) -> dict[str, int]:
    """A random genome (bgzip FASTA + .fai/.gzi) of ``n_chroms`` x ``length`` bases."""
    rng = np.random.default_rng(seed)
    plain = path.with_suffix("")
    sizes = {}
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(plain, "wb") as handle:
        for i in range(n_chroms):
            name = f"chr{i + 1}"
            handle.write(f">{name}\n".encode())
            for lo in range(0, length, 8_000_000):  # 80 bases a line, 100,000 lines at a time
                codes = rng.integers(0, 4, size=min(8_000_000, length - lo), dtype=np.uint8)
                text = letters[codes]
                pad = (-text.size) % 80
                lines = np.concatenate([text, np.zeros(pad, np.uint8)]).reshape(-1, 80)
                block = np.concatenate([lines, np.full((len(lines), 1), ord("\n"), np.uint8)], axis=1).ravel()
                handle.write(block[: block.size - pad - (1 if pad else 0)].tobytes() + (b"\n" if pad else b""))
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
    parser.add_argument("--mode", choices=("regions", "tiles"), default="regions")
    parser.add_argument("--stride", type=int, default=500, help="tiles mode: bases between tile starts")
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
    import torch

    torch.manual_seed(args.seed)
    model = build("cnn", seq_len=args.length, n_classes=2, filters=[32, 32], kernels=[19, 7], pools=[4, 4], dense=[32])
    annotate(model, classes=["a", "b"])
    save_model(model.eval(), work / "model.pt")
    config = {
        "genome": str(work / "genome.fa.gz"), "seq_len": args.length, "shard_size": args.shard_size, "seed": args.seed,
        "model": {"checkpoint": str(work / "model.pt")},
        "predict": {"device": args.device}, "train": {"device": args.device},
        "attribute": {"regions": "all", "device": args.device, "batch_size": 256,
                      "methods": {"plrp": {"composite": "epsilon-plus", "prune": {"p_pos": 0.25, "mode": "lambda"}}}},
        "tracks": {"hypothetical": False},
    }
    if args.mode == "regions":
        config["regions"] = write_regions(work, sizes, args.regions, args.length, args.seed)
        config["split"] = {"valid_chroms": ["chr2"], "test_chroms": ["chr3"]}
        targets = ["results/model/predictions.tsv", "results/tracks/a.plrp.bw"]
        what = f"{args.regions} regions x {args.length} bp on {args.chroms} x {args.chrom_len / 1e6:g} Mb"
    else:
        config["tile"] = {"size": args.length, "stride": args.stride}
        targets = ["results/tracks/a.plrp.bw"]
        what = f"{args.chroms} x {args.chrom_len / 1e6:g} Mb tiled by {args.length} bp every {args.stride} bp"
    print(f"inputs: {what} ({time.perf_counter() - tic:.0f} s to generate)")
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    command = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(work),
               "--cores", str(args.cores), *targets, "--configfile", str(work / "config.yaml")]
    tic = time.perf_counter()
    subprocess.run(command, check=True, cwd=work)
    wall = time.perf_counter() - tic

    results = work / "results"
    n_windows = json.loads((results / "data" / "dataset.json").read_text())["n_windows"]
    n_class = (args.regions + 1) // 2 if args.mode == "regions" else n_windows
    print(f"\npipeline wall time {wall:.0f} s for {n_windows} windows ({n_windows / wall:.0f} windows/s end to end)")
    print(f"{'rule':<16}{'jobs':>5}{'seconds':>9}{'windows/s':>11}{'peak RSS MB':>13}{'goal MB':>9}  verdict")
    for rule, rows in benchmark_records(results).items():
        seconds = sum(float(r["s"]) for r in rows)
        rss = max(float(r["max_rss"]) for r in rows if r["max_rss"] not in ("-", "NA"))
        count = n_windows if rule.startswith("predict") else n_class
        goal = GOALS_MB.get(rule, DEFAULT_GOAL_MB)
        rate = f"{count / seconds:>11.0f}" if rule in ("predict_shard", "attribute_shard", "tracks") else f"{'':>11}"
        print(f"{rule:<16}{len(rows):>5}{seconds:>9.1f}{rate}{rss:>13.0f}{goal:>9}  {'ok' if rss <= goal else 'OVER'}")
    store = results / "attributions" / "a.plrp"
    arrays = sum(p.stat().st_size for p in (store / "shards").rglob("*.npy"))
    everything = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    goal = STORE_GOAL_BYTES_PER_KB * args.length / 1000
    print(f"attribution store: {everything / n_class:,.0f} bytes per {args.length} bp window "
          f"({arrays / n_class:,.0f} of arrays, the rest tables), goal <= {goal:,.0f}: "
          f"{'ok' if everything / n_class <= goal else 'OVER'}; one-hot input "
          f"{(results / 'data' / 'onehot.npy').stat().st_size / n_windows:,.0f} bytes per window")


if __name__ == "__main__":
    main()
