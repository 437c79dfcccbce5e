"""Coordinates: known sequences at known positions, both strands, summits, chromosome ends."""

import json

import numpy as np
import pyfaidx
import pysam
import pytest
from conftest import write_fasta, write_lines

from seqlrp.errors import InputError
from seqlrp.formats.onehot import decode, onehot_from_codes
from seqlrp.formats.table import read_regions_tsv
from seqlrp.sequences.windows import ExtractOptions, dataset_from_genome, dataset_from_records
from seqlrp.stages.extract import extract


def revcomp(seq: str) -> str:
    return seq.translate(str.maketrans("ACGTacgtN", "TGCAtgcaN"))[::-1]


def window_strings(dataset) -> list[str]:
    return [decode(x) for x in onehot_from_codes(dataset.codes)]


def test_known_sequence_comes_back_on_both_strands(tmp_path, small_genome):
    fasta, chroms = small_genome
    bed = write_lines(tmp_path / "a.bed", ["chr1\t100\t120\tplus\t0\t+", "chr2\t300\t320\tminus\t0\t-", "chr1\t0\t20\tdot\t0\t."])
    data = dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=20))
    got = window_strings(data)
    # an independent reader (pyfaidx) is the oracle for the genome side
    oracle = pyfaidx.Fasta(str(fasta))
    assert got[0] == str(oracle["chr1"][100:120]) == chroms["chr1"][100:120]
    assert got[1] == revcomp(chroms["chr2"][300:320]) == oracle["chr2"][300:320].reverse.complement.seq
    assert got[2] == chroms["chr1"][0:20]
    assert data.table.start == [100, 300, 0] and data.table.end == [120, 320, 20]
    assert data.table.strand == ["+", "-", "+"]
    assert data.table.name == ["plus", "minus", "dot"]


def test_window_is_centred_on_midpoint_for_odd_and_even_lengths(tmp_path, small_genome):
    fasta, chroms = small_genome
    bed = write_lines(tmp_path / "a.bed", ["chr1\t200\t301"])  # midpoint (200 + 301) // 2 = 250
    for seq_len, start in ((10, 245), (11, 245)):
        data = dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=seq_len))
        assert (data.table.start[0], data.table.end[0]) == (start, start + seq_len)
        assert window_strings(data)[0] == chroms["chr1"][start : start + seq_len]


def test_narrowpeak_summit_centring_and_midpoint_switch(tmp_path, small_genome):
    fasta, chroms = small_genome
    peak = write_lines(tmp_path / "p.narrowPeak", ["chr1\t100\t400\tpk\t500\t.\t5.0\t-1\t-1\t30"])
    by_summit = dataset_from_genome(fasta, {"a": peak}, ExtractOptions(seq_len=20))
    assert by_summit.table.start[0] == 100 + 30 - 10
    assert window_strings(by_summit)[0] == chroms["chr1"][120:140]
    by_mid = dataset_from_genome(fasta, {"a": peak}, ExtractOptions(seq_len=20, centre="midpoint"))
    assert by_mid.table.start[0] == 250 - 10


def test_summit_minus_one_means_midpoint(tmp_path, small_genome):
    fasta, _ = small_genome
    peak = write_lines(tmp_path / "p.narrowPeak", ["chr1\t100\t400\tpk\t500\t.\t5.0\t-1\t-1\t-1"])
    assert dataset_from_genome(fasta, {"a": peak}, ExtractOptions(seq_len=20)).table.start[0] == 240


def test_chromosome_ends_are_padded_with_n_or_dropped(tmp_path, small_genome):
    fasta, chroms = small_genome
    bed = write_lines(tmp_path / "a.bed", ["chr2\t0\t10", "chr2\t590\t600\tend\t0\t-", "chr2\t300\t310"])
    padded = dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=40))
    got = window_strings(padded)
    assert padded.table.start[:2] == [-15, 575]
    assert got[0] == "N" * 15 + chroms["chr2"][0:25]
    assert got[1] == revcomp(chroms["chr2"][575:600] + "N" * 15)
    assert padded.info["counts"]["a"] == {"regions": 3, "padded": 2, "dropped": 0}
    dropped = dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=40, out_of_bounds="drop"))
    assert len(dropped.table) == 1 and dropped.table.start == [285]
    assert dropped.info["counts"]["a"]["dropped"] == 2


def test_bgzip_genome_equals_plain(tmp_path, small_genome):
    fasta, _ = small_genome
    bgz = tmp_path / "genome.fa.gz"
    pysam.tabix_compress(str(fasta), str(bgz))
    bed = write_lines(tmp_path / "a.bed", ["chr1\t100\t500\tx\t0\t-", "chr2\t0\t600"])
    plain = dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=64))
    compressed = dataset_from_genome(bgz, {"a": bed}, ExtractOptions(seq_len=64))
    np.testing.assert_array_equal(plain.codes, compressed.codes)
    # the missing index is built where seqlrp may write, never beside the user's genome
    assert not (tmp_path / "genome.fa.gz.fai").exists() and not (tmp_path / "genome.fa.gz.gzi").exists()


def test_soft_masked_bases_and_n_encode_as_documented(tmp_path):
    fasta = write_fasta(tmp_path / "g.fa", {"chrS": "acgtNNRYACGT" + "A" * 20})
    bed = write_lines(tmp_path / "a.bed", ["chrS\t0\t12"])
    data = dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=12))
    assert window_strings(data)[0] == "ACGTNNNNACGT"
    x = onehot_from_codes(data.codes)[0]
    assert x[:, 4:8].sum() == 0 and x[:, :4].sum() == 4


def test_many_windows_per_chromosome_take_the_whole_chromosome_path(tmp_path, small_genome):
    fasta, chroms = small_genome
    starts = list(range(0, 900, 7))
    bed = write_lines(tmp_path / "a.bed", [f"chr1\t{s}\t{s + 50}" for s in starts])
    data = dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=50))
    assert window_strings(data) == [chroms["chr1"][s : s + 50] for s in starts]


def test_records_with_coordinates_match_genome_extraction(tmp_path, small_genome):
    fasta, chroms = small_genome
    bed = write_lines(tmp_path / "a.bed", ["chr1\t100\t260\tr1\t0\t+", "chr2\t50\t170\tr2\t0\t-"])
    from_genome = dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=100))
    # the same regions as `bedtools getfasta -s` writes them, soft-masked and of uneven length
    records = write_fasta(
        tmp_path / "a.fa",
        {"chr1:100-260(+)": chroms["chr1"][100:260].lower(), "r2::chr2:50-170(-)": revcomp(chroms["chr2"][50:170])},
    )
    from_records = dataset_from_records({"a": records}, ExtractOptions(seq_len=100))
    np.testing.assert_array_equal(from_records.codes, from_genome.codes)
    assert from_records.table.start == from_genome.table.start
    assert from_records.table.strand == ["+", "-"]
    assert from_records.table.name == ["chr1:100-260(+)", "r2"]
    assert from_records.info["counts"]["a"] == {"regions": 2, "padded": 0, "dropped": 0, "cropped": 2}


@pytest.mark.parametrize("header", ["chr2:10-30", "chr2:10-30(+)", "chr2:10-30:+", "chr2:10-30 some description"])
def test_record_header_styles(tmp_path, header, small_genome):
    _, chroms = small_genome
    records = write_fasta(tmp_path / "a.fa", {header: chroms["chr2"][10:30]})
    data = dataset_from_records({"a": records}, ExtractOptions(seq_len=20))
    assert (data.table.chrom[0], data.table.start[0], data.table.end[0], data.table.strand[0]) == ("chr2", 10, 30, "+")
    assert window_strings(data)[0] == chroms["chr2"][10:30]


def test_colon_minus_header_is_reverse_strand(tmp_path, small_genome):
    _, chroms = small_genome
    records = write_fasta(tmp_path / "a.fa", {"chr2:10-30:-": revcomp(chroms["chr2"][10:30])})
    data = dataset_from_records({"a": records}, ExtractOptions(seq_len=10))
    assert data.table.strand == ["-"] and data.table.start == [15]
    assert window_strings(data)[0] == revcomp(chroms["chr2"][15:25])


def test_records_without_coordinates_become_contigs_cropped_or_padded(tmp_path):
    records = write_fasta(tmp_path / "a.fa", {"peakA desc": "AAAACCCCGGGGTTTT", "peakB": "ACG"})
    data = dataset_from_records({"a": records}, ExtractOptions(seq_len=8))
    assert window_strings(data) == ["CCCCGGGG", "NNNACGNN"]
    assert data.table.chrom == ["peakA", "peakB"] and data.table.start == [4, -3]
    assert data.chrom_sizes == {"peakA": 16, "peakB": 3}


def test_length_mismatch_points_at_one_based_headers(tmp_path):
    records = write_fasta(tmp_path / "a.fa", {"chr1:101-200": "A" * 100, "chr1:300-310": "A" * 10})
    with pytest.raises(InputError, match=r"a\.fa:1: .*spans 99 bp but the sequence has 100 bp.*1-based"):
        dataset_from_records({"a": records}, ExtractOptions(seq_len=20))


def test_duplicate_contig_names_are_refused_with_both_lines(tmp_path):
    records = tmp_path / "a.fa"
    records.write_text(">x\nACGT\nACGT\n>x\nAC\n")
    with pytest.raises(InputError, match=r"a\.fa:4: .*'x' repeats the record of line 1"):
        dataset_from_records({"a": records}, ExtractOptions(seq_len=4))


def test_extract_stage_writes_documented_files(tmp_path, small_genome):
    fasta, chroms = small_genome
    bed_a = write_lines(tmp_path / "a.bed", [f"chr1\t{s}\t{s + 20}" for s in range(0, 900, 100)])
    bed_b = write_lines(tmp_path / "b.bed", [f"chr2\t{s}\t{s + 20}\tb{s}\t0\t-" for s in range(0, 500, 100)])
    out = {k: tmp_path / "out" / f for k, f in
           (("onehot", "onehot.npy"), ("regions", "regions.tsv"), ("chrom_sizes", "sizes.tsv"), ("info", "dataset.json"))}
    config = {"genome": str(fasta), "regions": {"a": str(bed_a), "b": str(bed_b)}, "seq_len": 20, "seed": 3,
              "split": {"valid_chroms": [], "test_chroms": [], "valid_fraction": 0.2, "test_fraction": 0.2}}
    extract(config, out, progress=False)
    x = np.load(out["onehot"])
    assert x.shape == (14, 4, 20) and x.dtype == np.uint8
    table = read_regions_tsv(out["regions"])
    assert table.cls == ["a"] * 9 + ["b"] * 5
    assert decode(x[9]) == revcomp(chroms["chr2"][0:20])
    assert out["chrom_sizes"].read_text() == "chr1\t1000\nchr2\t600\nchrM\t50\n"
    info = json.loads(out["info"].read_text())
    assert info["classes"] == ["a", "b"] and info["seq_len"] == 20
    assert "random split" in info["split_method"]
    assert not list((tmp_path / "out").glob(".*tmp*"))
