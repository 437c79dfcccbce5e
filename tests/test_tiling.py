"""Genome-wide tiling: tile coordinates, N skipping, sequences, unlabeled windows downstream, the pipeline."""

import csv
import json

import numpy as np
import pyBigWig
import pyfaidx
import pytest
import torch
from conftest import random_sequence, write_fasta, write_lines

from seqlrp.errors import InputError, SeqlrpError
from seqlrp.formats.genome import Genome
from seqlrp.formats.onehot import codes_from_str, decode
from seqlrp.formats.table import read_regions_tsv
from seqlrp.models import annotate, build, load_model, read_info, save_model
from seqlrp.sequences.dataset import load_extracted
from seqlrp.sequences.selection import select_rows
from seqlrp.sequences.tiling import TileOptions, n_counts, plan_tiles, tile_starts
from seqlrp.stages.extract import extract
from seqlrp.stages.predict import predict


def outputs(folder):
    names = {"onehot": "onehot.npy", "regions": "regions.tsv", "chrom_sizes": "chrom_sizes.tsv", "info": "dataset.json"}
    return {key: folder / name for key, name in names.items()}


def tiny_model(seq_len, classes=("bound", "unbound")):
    torch.manual_seed(0)
    model = build("cnn", seq_len=seq_len, n_classes=len(classes), filters=[4], kernels=[5], pools=[2], dense=[4],
                  first_activation="relu")
    annotate(model, classes=list(classes))
    return model.eval()


def test_tile_starts_cover_the_chromosome_with_a_flush_last_tile():
    assert tile_starts(1000, 300, 200).tolist() == [0, 200, 400, 600, 700]  # 800 would end past 1000: tail tile at 700
    assert tile_starts(900, 300, 300).tolist() == [0, 300, 600]  # the stride reaches the end: no extra tile
    assert tile_starts(300, 300, 7).tolist() == [0]
    assert tile_starts(299, 300, 100).tolist() == []


def test_tiles_of_a_small_genome_hold_its_sequence(tmp_path, small_genome):
    fasta, chroms = small_genome
    out = outputs(tmp_path / "out")
    extract({"genome": str(fasta), "tile": {"size": 300, "stride": 200}, "classes": ["bound", "unbound"]}, out,
            progress=False)
    table = read_regions_tsv(out["regions"])
    # chr1 (1000 bp): 0 200 400 600 + tail 700; chr2 (600 bp): 0 200 + tail 300; chrM (50 bp) is shorter than a tile
    assert list(zip(table.chrom, table.start, table.end)) == [
        ("chr1", 0, 300), ("chr1", 200, 500), ("chr1", 400, 700), ("chr1", 600, 900), ("chr1", 700, 1000),
        ("chr2", 0, 300), ("chr2", 200, 500), ("chr2", 300, 600)]
    assert set(table.strand) == {"+"} and set(table.cls) == {""} and set(table.split) == {"tile"}
    assert table.name[4] == "chr1:700-1000"
    x = np.load(out["onehot"])
    assert x.shape == (8, 4, 300) and x.dtype == np.uint8
    oracle = pyfaidx.Fasta(str(fasta))
    for row, (chrom, start, end) in enumerate(zip(table.chrom, table.start, table.end)):
        assert decode(x[row]) == str(oracle[chrom][start:end]) == chroms[chrom][start:end]
    info = json.loads(out["info"].read_text())
    assert info["classes"] == ["bound", "unbound"] and info["seq_len"] == 300 and info["n_windows"] == 8
    assert info["source"] == "tiles" and info["split_counts"] == {}
    assert info["tile"]["short_chroms"] == ["chrM"] and info["tile"]["skipped_n"] == 0
    assert info["tile"]["chroms"]["chr2"] == {"length": 600, "tiles": 3, "skipped_n": 0}
    assert out["chrom_sizes"].read_text() == "chr1\t1000\nchr2\t600\nchrM\t50\n"
    # the data set loads back: no class, label -1, every tile explained for each class of the model
    data = load_extracted(out["onehot"], out["regions"], out["info"])
    assert data.labels.tolist() == [-1] * 8 and not data.labeled.any()
    for cls in ("bound", "unbound"):
        assert select_rows(data, cls, "test").tolist() == list(range(8))
        assert select_rows(data, cls, "all").tolist() == list(range(8))
    bed = write_lines(tmp_path / "sub.bed", ["chr2\t550\t560"])
    assert select_rows(data, "bound", str(bed)).tolist() == [7]


def test_tiles_in_assembly_gaps_are_skipped_and_counted(tmp_path):
    seq = random_sequence(1000, 7)
    # bases [300, 700) are N, written as N, n and IUPAC R: all count as N
    gap = "N" * 200 + "n" * 100 + "R" * 100
    fasta = write_fasta(tmp_path / "g.fa", {"chrG": seq[:300] + gap + seq[700:], "chrA": "N" * 500})
    with Genome(fasta) as genome:
        starts = tile_starts(1000, 200, 100)
        # N per tile [s, s + 200): 0 0 100 200 200 200 100 0 0
        assert n_counts(genome.chrom_codes("chrG"), starts, 200).tolist() == [0, 0, 100, 200, 200, 200, 100, 0, 0]
        half = plan_tiles(genome, TileOptions(200, 100), progress=False)
        strict = plan_tiles(genome, TileOptions(200, 100, max_n=0.4), progress=False)
        everything = plan_tiles(genome, TileOptions(200, 100, max_n=1.0), progress=False)
    assert [(p.chrom, p.starts.tolist(), p.skipped_n) for p in half] == [
        ("chrG", [0, 100, 200, 600, 700, 800], 3), ("chrA", [], 4)]  # half-N tiles stay, all-N tiles go
    assert strict[0].starts.tolist() == [0, 100, 700, 800] and strict[0].skipped_n == 5
    assert everything[0].starts.tolist() == half[0].starts.tolist()  # max_n 1 still drops tiles with no base at all
    out = outputs(tmp_path / "out")
    extract({"genome": str(fasta), "tile": {"size": 200, "stride": 100}, "classes": ["a"]}, out, progress=False)
    info = json.loads(out["info"].read_text())
    assert info["n_windows"] == 6 and info["tile"]["skipped_n"] == 7
    assert info["tile"]["chroms"]["chrA"] == {"length": 500, "tiles": 0, "skipped_n": 4}


def test_n_counts_in_small_spans_equal_the_direct_count():
    codes = codes_from_str("".join(np.random.default_rng(3).choice(list("ACGTN"), size=5000)))
    starts = tile_starts(codes.size, 97, 13)
    direct = [(codes[s : s + 97] == 4).sum() for s in starts]
    assert n_counts(codes, starts, 97, span=150).tolist() == direct


def test_chosen_chromosomes_in_fasta_order_and_unknown_names(tmp_path, small_genome):
    fasta, _ = small_genome
    with Genome(fasta) as genome:
        plan = plan_tiles(genome, TileOptions(100, chroms=("chr2", "chr1", "chr2")), progress=False)
        assert [p.chrom for p in plan] == ["chr1", "chr2"]
        assert [p.starts.size for p in plan] == [10, 6]  # stride defaults to size
        with pytest.raises(InputError, match=r"genome\.fa: tile\.chroms names '1', not in this FASTA .*chr1"):
            plan_tiles(genome, TileOptions(100, chroms=("1",)), progress=False)
        with pytest.raises(InputError, match="no tile of 100 bp"):
            plan_tiles(genome, TileOptions(100, chroms=("chrM",)), progress=False)


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": 10, "stride": 11}, {"size": 10, "stride": 0},
                                    {"size": 10, "max_n": 1.5}])
def test_bad_tile_options_are_refused(kwargs):
    with pytest.raises(SeqlrpError, match="tile"):
        TileOptions(**kwargs)


def test_read_info_gives_the_checkpoint_classes_without_building_the_model(tmp_path):
    save_model(tiny_model(120, ("x", "y", "z")), tmp_path / "m.pt")
    info = read_info(tmp_path / "m.pt")
    assert info.classes == ["x", "y", "z"] and info.seq_len == 120 and info.arch == "cnn"
    assert info == load_model(tmp_path / "m.pt").seqlrp_info
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"bad\.pt: not a readable PyTorch checkpoint"):
        read_info(tmp_path / "bad.pt")


def test_predict_on_tiles_writes_predictions_and_says_there_are_no_labels(tmp_path, small_genome):
    fasta, _ = small_genome
    data = outputs(tmp_path / "data")
    extract({"genome": str(fasta), "tile": {"size": 100, "stride": 50}, "classes": ["bound", "unbound"]}, data,
            progress=False)
    save_model(tiny_model(100), tmp_path / "model.pt")
    out = {"predictions": tmp_path / "p.tsv", "metrics": tmp_path / "m.tsv", "figure": tmp_path / "f.png"}
    predict({"device": "cpu"}, {"model": tmp_path / "model.pt", **{k: data[k] for k in ("onehot", "regions", "info")}},
            out)
    with open(out["predictions"], newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 19 + 11  # chr1: 0..900 every 50; chr2: 0..500 every 50
    assert {r["class"] for r in rows} == {""} and {r["split"] for r in rows} == {"tile"}
    assert abs(float(rows[0]["prob_bound"]) + float(rows[0]["prob_unbound"]) - 1) < 1e-5
    assert out["metrics"].read_text().splitlines() == [
        "split\tclass\tauroc\tauprc\taccuracy\tn\tn_class", "tile\tall\tNA\tNA\tNA\t30\t0"]
    assert out["figure"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def tiled_genome(tmp_path):
    """chr1 (1000 bp) with N at [300, 420), chr2 (600 bp), chrM (50 bp); a two-class model of 100 bp windows."""
    chr1 = random_sequence(1000, 11)
    chr1 = chr1[:300] + "N" * 120 + chr1[420:]
    fasta = write_fasta(tmp_path / "genome.fa", {"chr1": chr1, "chr2": random_sequence(600, 12),
                                                 "chrM": random_sequence(50, 13)})
    save_model(tiny_model(100), tmp_path / "model.pt")
    return fasta, chr1, tmp_path / "model.pt"


@pytest.mark.workflow
def test_tiled_run_gives_a_track_over_every_base_of_the_chromosome(tmp_path, tiled_genome):
    from conftest import run_snakemake

    fasta, chr1, checkpoint = tiled_genome
    config = {"genome": str(fasta), "tile": {"stride": 70, "chroms": ["chr1"]}, "model": {"checkpoint": str(checkpoint)},
              "attribute": {"device": "cpu", "methods": {"lrp": {"composite": "epsilon-plus"}}}}
    targets = [f"results/tracks/{cls}.lrp.bw" for cls in ("bound", "unbound")] + ["results/model/metrics.tsv"]
    result = run_snakemake(tmp_path / "run", config, *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "run" / "results"
    table = read_regions_tsv(results / "data" / "regions.tsv")
    # starts 0, 70, ..., 840 and the tail tile at 900; [280, 380) and [350, 450) are over 50 % N
    assert table.start == [s for s in range(0, 841, 70) if s not in (280, 350)] + [900]
    not_n = np.array([b != "N" for b in chr1])
    for cls in ("bound", "unbound"):
        attributions = read_regions_tsv(results / "attributions" / f"{cls}.lrp" / "regions.tsv")
        assert attributions.start == table.start  # every tile, explained by each class's logit
        with pyBigWig.open(str(results / "tracks" / f"{cls}.lrp.bw")) as bigwig:
            covered = np.zeros(1000, dtype=bool)
            for start, end, _ in bigwig.intervals("chr1"):
                assert not covered[start:end].any()
                covered[start:end] = True
            np.testing.assert_array_equal(covered, not_n)  # each non-N base once, no N base
            assert bigwig.intervals("chr2") is None and bigwig.intervals("chrM") is None
    assert (results / "model" / "metrics.tsv").read_text().splitlines()[1] == f"tile\tall\tNA\tNA\tNA\t{len(table)}\t0"


# the tile section's start-up refusals are the run plan's: tests/test_plan.py
