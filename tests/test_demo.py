"""The demo generator: planted motif instances really are where the truth BED says."""

import hashlib
from pathlib import Path

import numpy as np
import pysam
import pytest
import yaml
from conftest import REPO

from seqlrp.formats.onehot import codes_from_str
from seqlrp.formats.regions import read_regions
from seqlrp.sequences.planted import load_jaspar_motifs
from seqlrp.sequences.windows import ExtractOptions, dataset_from_genome
from seqlrp.stages.demo_data import make_demo

SMALL = dict(n_chroms=3, chrom_len=40_000, gc=0.41, gap=500, n_per_class=60, margin=5,
             targets=["MA0139.2", "MA0080.7", "MA0099.4"], decoys=["MA0105.4", "MA0138.3"],
             instances=[1, 3], decoy_instances=[0, 2])
SEQ_LEN = 120


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    make_demo(SMALL, SEQ_LEN, seed=7, out_dir=out)
    return out


def read_bed6(path):
    rows = []
    for line in Path(path).read_text().splitlines():
        chrom, start, end, name, _score, strand = line.split("\t")
        rows.append((chrom, int(start), int(end), name, strand))
    return rows


def log_odds(codes: np.ndarray, probabilities: np.ndarray, gc: float) -> float:
    background = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return float(np.sum(np.log2(probabilities[codes, np.arange(codes.size)] / background[codes])))


def test_truth_instances_match_their_jaspar_matrix_on_their_strand(demo_dir):
    motifs = {m.matrix_id: m for m in load_jaspar_motifs(SMALL["targets"] + SMALL["decoys"])}
    truth = read_bed6(demo_dir / "truth.bed")
    assert len(truth) > 60
    with pysam.FastaFile(str(demo_dir / "genome.fa.gz")) as fasta:
        on_strand, off_strand, asymmetric = [], [], []
        for chrom, start, end, matrix_id, strand in truth:
            motif = motifs[matrix_id]
            assert end - start == motif.width
            codes = codes_from_str(fasta.fetch(chrom, start, end))
            assert np.all(codes < 4), "planted bases are A/C/G/T, never N"
            forward, reverse = codes, (3 - codes[::-1])
            on_strand.append(log_odds(forward if strand == "+" else reverse, motif.probabilities, SMALL["gc"]))
            off_strand.append(log_odds(reverse if strand == "+" else forward, motif.probabilities, SMALL["gc"]))
            asymmetric.append(matrix_id in ("MA0139.2", "MA0080.7", "MA0138.3"))  # not palindromic
    on_strand, off_strand, asymmetric = np.array(on_strand), np.array(off_strand), np.array(asymmetric)
    assert np.mean(on_strand > 0) > 0.97  # sampled from the PWM: far above background
    # and on the strand the BED says (palindromes such as FOS::JUN score alike on both strands)
    assert np.mean(on_strand[asymmetric] > off_strand[asymmetric]) > 0.97
    assert {strand for *_, strand in truth} == {"+", "-"}


def test_targets_sit_in_positive_windows_and_decoys_in_negative_ones(demo_dir):
    truth = read_bed6(demo_dir / "truth.bed")
    genome = demo_dir / "genome.fa.gz"
    for cls, file, allowed, (lo, hi) in (
        ("positive", "positive.narrowPeak", set(SMALL["targets"]), SMALL["instances"]),
        ("negative", "negative.bed", set(SMALL["decoys"]), SMALL["decoy_instances"]),
    ):
        regions = read_regions(demo_dir / file)
        assert len(regions) == SMALL["n_per_class"]
        data = dataset_from_genome(genome, {cls: demo_dir / file}, ExtractOptions(seq_len=SEQ_LEN), progress=False)
        assert data.info["counts"][cls]["padded"] == 0
        for chrom, start, end in zip(data.table.chrom, data.table.start, data.table.end):
            inside = [t for t in truth if t[0] == chrom and t[1] >= start and t[2] <= end]
            assert lo <= len(inside) <= hi
            assert {t[3] for t in inside} <= allowed
    # every instance lies in some window
    all_windows = []
    for file in ("positive.narrowPeak", "negative.bed"):
        data = dataset_from_genome(genome, {"x": demo_dir / file}, ExtractOptions(seq_len=SEQ_LEN), progress=False)
        all_windows += list(zip(data.table.chrom, data.table.start, data.table.end))
    for chrom, start, end, *_ in truth:
        assert any(c == chrom and s <= start and end <= e for c, s, e in all_windows)


def test_genome_has_gc_soft_masking_and_n_gaps(demo_dir):
    with pysam.FastaFile(str(demo_dir / "genome.fa.gz")) as fasta:
        assert list(fasta.references) == ["chr1", "chr2", "chr3"] and set(fasta.lengths) == {40_000}
        seq = fasta.fetch("chr1")
    assert seq[:500] == "N" * 500 and seq[-500:] == "N" * 500
    core = seq[500:-500].upper()
    gc = (core.count("G") + core.count("C")) / len(core)
    assert abs(gc - 0.41) < 0.02
    lowercase = sum(ch.islower() for ch in seq)
    assert 0.02 < lowercase / len(seq) < 0.3


def test_same_seed_same_bytes_other_seed_other_genome(tmp_path, demo_dir):
    make_demo(SMALL, SEQ_LEN, seed=7, out_dir=tmp_path / "again")
    make_demo(SMALL, SEQ_LEN, seed=8, out_dir=tmp_path / "other")
    for name in ("genome.fa.gz", "positive.narrowPeak", "negative.bed", "truth.bed", "motifs.tsv"):
        digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()
        assert digest(demo_dir / name) == digest(tmp_path / "again" / name), name
    assert (demo_dir / "truth.bed").read_bytes() != (tmp_path / "other" / "truth.bed").read_bytes()


def test_motif_table_names_roles(demo_dir):
    lines = (demo_dir / "motifs.tsv").read_text().splitlines()
    assert lines[0] == "matrix_id\tname\trole\tclass\twidth"
    assert "MA0139.2\tCTCF\ttarget\tpositive\t15" in lines
    assert sum("\tdecoy\t" in line for line in lines) == 2


def test_default_demo_genome_is_at_least_2_mb():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    demo = schema["properties"]["demo"]["properties"]
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())["demo"]
    for source in (config, {k: v["default"] for k, v in demo.items()}):
        assert source["n_chroms"] * source["chrom_len"] >= 2_000_000
        assert source["n_chroms"] >= 3
