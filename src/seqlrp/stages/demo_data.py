"""Stage ``demo_data``: a synthetic genome with planted JASPAR motifs and its ground truth.

Deterministic by seed. The genome has ``n_chroms`` chromosomes of ``chrom_len`` bases drawn
i.i.d. at the requested GC content, an N-gap (telomere stand-in) at both ends of every
chromosome, and soft-masked (lowercase) stretches: low-complexity repeats written in, and
interspersed-repeat stand-ins lowercased in place. Windows of ``seq_len`` for the positive class
carry 1-3 instances of the target motifs; negative windows carry 0-2 decoy motifs. Each instance
is a sequence sampled from the JASPAR position frequency matrix, on a random strand.

Outputs (all coordinates 0-based, half-open):

* ``genome.fa.gz`` — bgzip FASTA (+ ``.fai``/``.gzi``),
* ``positive.narrowPeak`` — peaks whose summit (column 10) is the centre of a positive window,
* ``negative.bed`` — BED6 intervals whose midpoint is the centre of a negative window, either strand,
* ``truth.bed`` — BED6 of every planted instance: name = JASPAR matrix ID, strand of the instance,
* ``motifs.tsv`` — matrix ID, TF name, role (``target``/``decoy``), class, length.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pysam

from ..errors import SeqlrpError
from ..formats.atomic import atomic_write_text
from ..sequences.planted import load_jaspar_motifs, place_instances, random_chromosome, sample_instance

log = logging.getLogger(__name__)

_UPPER = np.frombuffer(b"ACGTN", dtype=np.uint8)
_LOWER = np.frombuffer(b"acgtn", dtype=np.uint8)


def make_demo(config: Mapping, seq_len: int, seed: int, out_dir: str | os.PathLike) -> dict:
    """Write the demo genome, regions, truth and motif table into ``out_dir``; return a summary.

    ``config`` keys (the ``demo`` section): n_chroms, chrom_len, gc, gap, n_per_class,
    targets, decoys, instances (``[min, max]`` per positive window), decoy_instances, margin.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    n_chroms, chrom_len, gap = config["n_chroms"], config["chrom_len"], config["gap"]
    n_per_class, margin = config["n_per_class"], config["margin"]
    targets = load_jaspar_motifs(config["targets"])
    decoys = load_jaspar_motifs(config["decoys"])
    widest = max(m.width for m in targets + decoys)
    if seq_len < 2 * margin + 3 * (widest + 1):
        raise SeqlrpError(f"demo: seq_len {seq_len} is too short to plant 3 motifs of up to {widest} bp")

    chroms = [f"chr{i + 1}" for i in range(n_chroms)]
    genome = {name: random_chromosome(chrom_len, config["gc"], gap, rng) for name in chroms}

    # Windows sit in separate blocks of 2 * seq_len, so no two windows overlap.
    block = 2 * seq_len
    blocks_per_chrom = (chrom_len - 2 * gap - block) // block
    if blocks_per_chrom * n_chroms < 2 * n_per_class:
        raise SeqlrpError(
            f"demo: {n_chroms} chromosomes of {chrom_len} bp hold {blocks_per_chrom * n_chroms} windows of "
            f"{seq_len} bp; {2 * n_per_class} are needed (raise demo.chrom_len or lower demo.n_per_class)"
        )
    chosen = rng.choice(blocks_per_chrom * n_chroms, size=2 * n_per_class, replace=False)
    roles = np.array(["positive"] * n_per_class + ["negative"] * n_per_class)[rng.permutation(2 * n_per_class)]

    peaks, negatives, truth = [], [], []
    for index, (slot, role) in enumerate(zip(chosen.tolist(), roles.tolist())):
        chrom = chroms[slot // blocks_per_chrom]
        start = gap + (slot % blocks_per_chrom) * block + int(rng.integers(0, seq_len))
        codes, masked = genome[chrom]
        if role == "positive":
            chosen_motifs = [targets[i] for i in rng.integers(len(targets), size=int(rng.integers(config["instances"][0], config["instances"][1] + 1)))]
        else:
            chosen_motifs = [decoys[i] for i in rng.integers(len(decoys), size=int(rng.integers(config["decoy_instances"][0], config["decoy_instances"][1] + 1)))]
        offsets = place_instances(seq_len, [m.width for m in chosen_motifs], margin, rng)
        if offsets is None:
            raise SeqlrpError(f"demo: could not place {len(chosen_motifs)} motifs in a {seq_len} bp window")
        for motif, offset in zip(chosen_motifs, offsets):
            instance = sample_instance(motif, rng)
            strand = "+" if rng.random() < 0.5 else "-"
            if strand == "-":
                instance = (3 - instance[::-1]).astype(np.uint8)
            lo = start + offset
            codes[lo : lo + motif.width] = instance
            masked[lo : lo + motif.width] = False
            truth.append((chrom, lo, lo + motif.width, motif.matrix_id, strand))
        centre = start + seq_len // 2
        if role == "positive":
            left, right = int(rng.integers(seq_len // 4, seq_len)), int(rng.integers(seq_len // 4, seq_len))
            signal = float(np.round(rng.gamma(4.0, 5.0), 3))
            peaks.append((chrom, centre - left, centre + right, f"peak_{index}", min(1000, int(signal * 20)), signal, left))
        else:
            half = int(rng.integers(seq_len // 4, seq_len))
            negatives.append((chrom, centre - half, centre + half, f"background_{index}", "+" if rng.random() < 0.5 else "-"))

    _write_genome(out_dir / "genome.fa.gz", genome)
    order = {name: i for i, name in enumerate(chroms)}
    with atomic_write_text(out_dir / "positive.narrowPeak") as handle:
        for chrom, lo, hi, name, score, signal, summit in sorted(peaks, key=lambda p: (order[p[0]], p[1])):
            handle.write(f"{chrom}\t{lo}\t{hi}\t{name}\t{score}\t.\t{signal}\t-1\t-1\t{summit}\n")
    with atomic_write_text(out_dir / "negative.bed") as handle:
        for chrom, lo, hi, name, strand in sorted(negatives, key=lambda p: (order[p[0]], p[1])):
            handle.write(f"{chrom}\t{lo}\t{hi}\t{name}\t0\t{strand}\n")
    with atomic_write_text(out_dir / "truth.bed") as handle:
        for chrom, lo, hi, matrix_id, strand in sorted(truth, key=lambda t: (order[t[0]], t[1])):
            handle.write(f"{chrom}\t{lo}\t{hi}\t{matrix_id}\t0\t{strand}\n")
    with atomic_write_text(out_dir / "motifs.tsv") as handle:
        handle.write("matrix_id\tname\trole\tclass\twidth\n")
        for role, cls, motifs in (("target", "positive", targets), ("decoy", "negative", decoys)):
            for motif in motifs:
                handle.write(f"{motif.matrix_id}\t{motif.name}\t{role}\t{cls}\t{motif.width}\n")
    total = n_chroms * chrom_len
    gc_content = float(np.mean([np.isin(c[gap:-gap], (1, 2)).mean() for c, _ in genome.values()]))
    summary = {"genome_bp": total, "gc": round(gc_content, 4), "positives": len(peaks), "negatives": len(negatives), "instances": len(truth)}
    log.info("demo: %s", ", ".join(f"{k} {v}" for k, v in summary.items()))
    return summary


def _write_genome(path: Path, genome: Mapping[str, tuple[np.ndarray, np.ndarray]], width: int = 60) -> None:
    """bgzip FASTA with its .fai and .gzi indexes; the FASTA is renamed into place last."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".genome.") as scratch:
        plain, compressed = Path(scratch) / "genome.fa", Path(scratch) / "genome.fa.gz"
        with open(plain, "wb") as handle:
            for name, (codes, masked) in genome.items():
                letters = np.where(masked, _LOWER[codes], _UPPER[codes]).tobytes()
                handle.write(f">{name}\n".encode())
                handle.write(b"\n".join(letters[i : i + width] for i in range(0, len(letters), width)) + b"\n")
        pysam.tabix_compress(str(plain), str(compressed), force=True)
        pysam.faidx(str(compressed))
        for index_suffix in (".fai", ".gzi"):
            os.replace(f"{compressed}{index_suffix}", f"{path}{index_suffix}")
        os.replace(compressed, path)


def make_variants(demo_dir: str | os.PathLike, seq_len: int, seed: int, vcf_out: str | os.PathLike,
                  truth_out: str | os.PathLike) -> dict:
    """Rule demo_variants: the demo's VCF (motif-breaking SNVs, motif-creating substitutions, controls
    and odd but valid records; :mod:`seqlrp.sequences.demo_variants`) and its labels."""
    from ..sequences.demo_variants import make_demo_variants

    demo_dir = Path(demo_dir)
    counts = make_demo_variants(demo_dir / "genome.fa.gz", demo_dir / "truth.bed", demo_dir / "motifs.tsv", seq_len,
                                seed, vcf_out, truth_out)
    log.info("demo variants: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts
