"""The second round of bad and odd inputs (issue 11): each one refused with one line or handled right."""

import gzip
import logging
import re
import types

import numpy as np
import pytest
from conftest import random_sequence, write_fasta, write_lines

from seqlrp.errors import InputError, SeqlrpError
from seqlrp.formats.config_file import key_lines, locate, read_yaml_file, schema_error_line
from seqlrp.stages.plan import main as check_config
from seqlrp.formats.names import check_names, first_bad_name, name_problem
from seqlrp.formats.records import read_records
from seqlrp.formats.regions import read_regions
from seqlrp.sequences.split import assign_splits, duplicate_groups, random_split
from seqlrp.sequences.windows import ExtractOptions, check_memory, dataset_from_genome, dataset_from_records
from seqlrp.stages.extract import extract
from seqlrp.stages.runner import run_stage

# --- 1. names that become paths --------------------------------------------------------------

BAD_NAMES = [
    ("../../../escaped", "path separator"),
    ("a/b", "path separator"),
    ("a\\b", "path separator"),
    ("", "is empty"),
    ("..", "relative directory"),
    (".", "relative directory"),
    (".hidden", "starts with a dot"),
    ("tab\there", "control or format character"),
    ("new\nline", "control or format character"),
    ("zero\u200bwidth", "control or format character"),
    (" padded", "white space"),
    ("padded ", "white space"),
    ("x" * 101, "longer than 100 bytes"),
    ("ü" * 51, "longer than 100 bytes"),  # 102 bytes in UTF-8
]


@pytest.mark.parametrize("name,problem", BAD_NAMES)
def test_unsafe_names_are_refused(name, problem):
    assert problem in name_problem(name)
    with pytest.raises(SeqlrpError, match=re.escape(f"class name {name!r} ") + ".*" + re.escape(problem)):
        check_names(["fine", name], "class name")


@pytest.mark.parametrize("name", ["CTCF-bound", "class 1", "ünïcode", "CTCF.bound", "x" * 100, "1"])
def test_names_that_work_today_stay_accepted(name):
    assert name_problem(name) is None
    check_names([name, "other"], "class name")


def test_names_colliding_on_a_case_insensitive_disk_are_refused():
    bad = first_bad_name(["positive", "Positive"], "class name")
    assert bad[0] == "Positive" and "'positive' and 'Positive' differ only by case" in bad[1]
    # the same letter composed (NFC) and decomposed (NFD): one name on macOS
    assert first_bad_name(["\u00fcber", "u\u0308ber"], "method name") is not None
    assert first_bad_name(["positive", "negative"], "class name") is None


# --- 10. config files: which file, which line ------------------------------------------------

def test_key_lines_and_the_file_in_force(tmp_path):
    base = write_lines(tmp_path / "base.yaml", ["seq_len: 100", "model:", "  arch: cnn", "  hparams: {}"])
    user = write_lines(tmp_path / "user.yaml", ["# mine", "model:", "  hparams:", "    filterz: [3]"])
    assert key_lines(base)[("model", "hparams")] == 4
    assert locate(["model", "hparams", "filterz"], [base, user]) == (str(user), 4)
    assert locate(["seq_len"], [base, user]) == (str(base), 1)
    # the later file overrides the earlier one at the same depth
    assert locate(["model"], [base, user]) == (str(user), 2)


def test_schema_error_names_the_file_and_line_of_the_unexpected_key(tmp_path):
    import jsonschema

    base = write_lines(tmp_path / "base.yaml", ["seq_len: 100", "extract: {centre: summit}"])
    user = write_lines(tmp_path / "user.yaml", ["seed: 3", "extract:", "  padding: N"])
    schema = {"type": "object", "properties": {"extract": {"type": "object", "additionalProperties": False,
                                                           "properties": {"centre": {}}}}}
    error = next(jsonschema.Draft202012Validator(schema).iter_errors({"extract": {"centre": "summit", "padding": "N"}}))
    line = schema_error_line(error, [base, user])
    assert line.startswith(f"{user}:3: extract: Additional properties are not allowed ('padding' was unexpected)")
    assert str(base) not in line


@pytest.mark.parametrize("content,pattern", [
    (b"seq_len: 100\nextract: {centre: summit\n  bad\n", r"bad\.yaml:\d: not valid YAML: while parsing a flow mapping \(from line 2\)"),
    (b"a: 1\n\tb: 2\n", r"bad\.yaml:2: not valid YAML: .*'\\t'"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", r"bad\.yaml: config file is not text \(it holds NUL bytes"),
    (b"seq_len: 100\nname: caf\xe9\n", r"bad\.yaml:2: config file is not UTF-8 text \(byte 0xe9\)"),
    (b"- just\n- a list\n", r"bad\.yaml:1: the config must be a mapping"),
])
def test_unparsable_config_gives_file_and_line(tmp_path, content, pattern):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    with pytest.raises(InputError, match=pattern):
        read_yaml_file(path)


def test_config_with_byte_order_mark_reads(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfseq_len: 100\n")
    assert key_lines(path) == {("seq_len",): 1}


def test_check_config_command(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = write_lines(tmp_path / "good.yaml", ["seq_len: 100"])
    bad = write_lines(tmp_path / "bad.yaml", ["seq_len: 100", "extract:", "  padding: N"])
    assert check_config([str(good)]) == 0
    assert check_config([str(good), str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"seqlrp: error: {bad}:3: extract: Additional properties are not allowed ('padding' was unexpected)"]


# --- 5. BED12 is BED12, narrowPeak is narrowPeak ---------------------------------------------

BED12 = "chr1\t100\t400\tgene\t0\t+\t100\t400\t0\t2\t50,60,\t0,240,"


def test_bed12_block_count_is_not_a_summit(tmp_path, small_genome):
    fasta, chroms = small_genome
    bed = write_lines(tmp_path / "genes.bed", [BED12])
    assert read_regions(bed)[0].summit == -1
    data = dataset_from_genome(fasta, {"a": bed, "b": bed}, ExtractOptions(seq_len=20))
    assert data.table.start[0] == 250 - 10  # the midpoint, not start + blockCount (102)


def test_narrowpeak_with_too_few_columns_is_refused(tmp_path):
    peaks = write_lines(tmp_path / "p.narrowPeak", ["chr1\t100\t400\tpk\t500\t.\t5.0\t-1\t-1\t30", "chr1\t500\t600\tpk2\t0\t+"])
    with pytest.raises(InputError, match=r"p\.narrowPeak:2: narrowPeak lines have 10 tab-separated columns .* this one has 6"):
        read_regions(peaks)


def test_narrowpeak_gz_name_and_track_type_declare_summits(tmp_path):
    line = "chr1\t100\t400\tpk\t500\t.\t5.0\t-1\t-1\t30"
    gz = tmp_path / "peaks.NarrowPeak.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write(line + "\n")
    assert read_regions(gz)[0].summit == 30
    declared = write_lines(tmp_path / "peaks.bed", ['track type=narrowPeak name="MACS2"', line])
    assert read_regions(declared)[0].summit == 30


def test_ten_columns_without_a_narrowpeak_name_warn_and_use_midpoints(tmp_path, caplog):
    bed = write_lines(tmp_path / "peaks.bed", ["chr1\t100\t400\tpk\t500\t.\t5.0\t-1\t-1\t30"])
    with caplog.at_level(logging.WARNING):
        assert read_regions(bed)[0].summit == -1
    assert "not read as a summit" in caplog.text


# --- 10. messages: byte order marks, spaces for tabs ------------------------------------------

def test_byte_order_mark_is_dropped_from_bed_and_fasta(tmp_path):
    bed = tmp_path / "bom.bed"
    bed.write_bytes(b"\xef\xbb\xbfchr1\t0\t10\n")
    assert read_regions(bed)[0].chrom == "chr1"
    fasta = tmp_path / "bom.fa"
    fasta.write_bytes(b"\xef\xbb\xbf>chr1:0-8\nACGTACGT\n")
    record = read_records(fasta)[0]
    assert (record.chrom, record.start, record.sequence) == ("chr1", 0, "ACGTACGT")


@pytest.mark.parametrize("compressed", [False, True])
def test_byte_order_mark_in_a_genome_is_named(tmp_path, compressed):
    import pysam

    from seqlrp.formats.genome import Genome

    plain = tmp_path / "bom.fa"
    plain.write_bytes(b"\xef\xbb\xbf>chr1\nACGTACGTAC\n")
    path = plain
    if compressed:
        path = tmp_path / "bom.fa.gz"
        pysam.tabix_compress(str(plain), str(path))
    with pytest.raises(InputError, match=rf"{path.name}:1: the FASTA starts with a UTF-8 byte order mark"):
        Genome(path, index_dir=tmp_path / "index")
    assert not (tmp_path / "index").exists() or not any((tmp_path / "index").iterdir())


def test_space_where_a_tab_belongs_names_the_separator(tmp_path):
    bed = write_lines(tmp_path / "spaced.bed", ["chr1\t0\t10", "chr1\t100\t200 peak1\t0\t+"])
    with pytest.raises(InputError, match=r"spaced\.bed:2: end \(column 3\) is '200 peak1': a space where a tab belongs\?"):
        read_regions(bed)


# --- 4. regions past the end of their chromosome ---------------------------------------------

def test_region_past_the_chromosome_end_is_refused(tmp_path, small_genome):
    fasta, _ = small_genome
    bed = write_lines(tmp_path / "far.bed", ["chr2\t10\t30", "chr2\t500\t700"])
    with pytest.raises(InputError, match=r"far\.bed:2: region chr2:500-700 ends past the end of chr2, which is 600 bp long"):
        dataset_from_genome(fasta, {"a": bed, "b": bed}, ExtractOptions(seq_len=20))


def test_window_past_the_end_because_of_seq_len_is_still_padded(tmp_path, small_genome):
    fasta, _ = small_genome
    bed = write_lines(tmp_path / "edge.bed", ["chr2\t590\t600"])
    data = dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=40))
    assert data.info["counts"]["a"]["padded"] == 1 and data.table.end[0] == 615


# --- 7. limits instead of tracebacks ---------------------------------------------------------

def test_seq_len_beyond_every_chromosome_is_refused(tmp_path, small_genome):
    fasta, _ = small_genome
    bed = write_lines(tmp_path / "a.bed", ["chr1\t0\t10"])
    with pytest.raises(SeqlrpError, match=r"seq_len 1,000,000,000 is longer than the longest chromosome of genome\.fa \(chr1, 1,000 bp\)"):
        dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=10**9))


def test_seq_len_far_beyond_every_record_is_refused(tmp_path):
    fasta = write_fasta(tmp_path / "a.fa", {"r1": random_sequence(50, 1), "r2": random_sequence(80, 2)})
    assert dataset_from_records({"a": fasta}, ExtractOptions(seq_len=160)).codes.shape == (2, 160)
    with pytest.raises(SeqlrpError, match=r"seq_len 161 is more than 2x the longest sequence \(80 bp\)"):
        dataset_from_records({"a": fasta}, ExtractOptions(seq_len=161))


def test_extraction_larger_than_memory_is_refused_before_allocating():
    check_memory(1000, 1000, 10**6, available=2**30)
    with pytest.raises(SeqlrpError, match=r"extracting 2,000,000 windows of seq_len 1,000 needs about 1\.9 GiB .* 1\.0 GiB"):
        check_memory(2_000_000, 1000, 10**6, available=2**30)


# --- 8. duplicates never leak across splits --------------------------------------------------

def _codes(n, length, seed):
    return np.random.default_rng(seed).integers(0, 4, size=(n, length)).astype(np.uint8)


def test_duplicate_groups_see_both_strands():
    codes = _codes(4, 12, 0)
    codes[2] = codes[0]
    codes[3] = 3 - codes[1][::-1]  # reverse complement of row 1
    assert list(duplicate_groups(codes, chunk=3)) == [0, 1, 0, 1]


def test_duplicated_windows_land_in_one_split():
    unique = _codes(200, 30, 1)
    codes = np.concatenate([unique, unique])  # every window listed twice
    classes = ["a"] * 100 + ["b"] * 100
    classes = classes + classes
    chroms = ["contig"] * 400  # no held-out chromosome: the random split
    groups = duplicate_groups(codes)
    splits, method = assign_splits(chroms, classes, valid_chroms=[], test_chroms=[], valid_fraction=0.1,
                                   test_fraction=0.1, seed=1, groups=groups)
    assert "random split" in method
    assert all(splits[i] == splits[i + 200] for i in range(200))
    for cls in "ab":
        members = splits[np.array(classes) == cls]
        assert (members == "test").sum() == 20 and (members == "valid").sum() == 20
    ungrouped, _ = assign_splits(chroms, classes, valid_chroms=[], test_chroms=[], valid_fraction=0.1,
                                 test_fraction=0.1, seed=1)
    assert sum(ungrouped[i] != ungrouped[i + 200] for i in range(200)) > 0  # what happened before


def test_without_duplicates_the_split_is_unchanged():
    classes = ["a"] * 30 + ["b"] * 30
    codes = _codes(60, 30, 2)
    np.testing.assert_array_equal(random_split(classes, 0.1, 0.1, 4), random_split(classes, 0.1, 0.1, 4, duplicate_groups(codes)))


def test_extract_logs_duplicates(tmp_path, small_genome, caplog):
    fasta, _ = small_genome
    lines = [f"chr1\t{100 + 10 * i}\t{110 + 10 * i}" for i in range(30)]
    bed = write_lines(tmp_path / "a.bed", lines + lines[:5])
    other = write_lines(tmp_path / "b.bed", [f"chr2\t{100 + 10 * i}\t{110 + 10 * i}" for i in range(30)] + lines[5:7])
    outputs = {name: str(tmp_path / f"out.{name}") for name in ("onehot", "regions", "chrom_sizes", "info")}
    config = {"genome": str(fasta), "regions": {"a": str(bed), "b": str(other)}, "seq_len": 20, "seed": 0,
              "split": {"valid_chroms": [], "test_chroms": []}}
    with caplog.at_level(logging.INFO):
        data = extract(config, outputs, progress=False)
    assert "duplicates: 7 of 67 windows repeat an earlier window" in caplog.text
    assert "2 windows are identical to a window of another class" in caplog.text
    assert data.info["duplicates"] == {"repeated_windows": 7, "across_classes": 2}
    splits = data.table.split
    assert all(splits[i] == splits[30 + i] for i in range(5))


# --- 6. a model needs two classes ------------------------------------------------------------

def test_training_one_class_is_refused():
    from seqlrp.models.training import TrainOptions, train_model

    x = np.zeros((8, 4, 20), dtype=np.uint8)
    with pytest.raises(SeqlrpError, match=r"a classifier needs at least two classes, got 1 \('bound'\)"):
        train_model(x, np.zeros(8, dtype=int), np.array(["train"] * 6 + ["valid"] * 2, dtype=object), ["bound"],
                    arch="cnn", options=TrainOptions(epochs=1, device="cpu"))


# --- 9. temporaries of a killed job ----------------------------------------------------------

def test_stale_temporaries_are_removed_when_the_job_starts_again(tmp_path):
    shard = tmp_path / "positive.lrp" / "shards" / "0"
    shard.mkdir(parents=True)
    stale = [shard / ".relevance.npy.k2j_8xq1.tmp.npy", shard / ".hyp.npy.abcdefgh.tmp.npy"]
    kept = [shard / ".relevance.npy.notatmp", tmp_path / "positive.lrp" / ".relevance.npy.abcdefgh.tmp.npy",
            shard / "notes.txt"]
    for path in stale + kept:
        path.write_text("partial")
    outputs = [str(shard / name) for name in ("relevance.npy", "hyp.npy", "hyp_scale.npy")]
    seen = {}
    smk = types.SimpleNamespace(output=outputs, log=[str(tmp_path / "job.log")])
    run_stage(smk, lambda s: seen.setdefault("left", sorted(p.name for p in shard.iterdir())))
    assert seen["left"] == [".relevance.npy.notatmp", "notes.txt"]
    assert all(path.exists() for path in kept)
    assert "removed 2 temporary file(s) left by an interrupted earlier run" in (tmp_path / "job.log").read_text()


# --- 12. defaults for real data --------------------------------------------------------------

def test_attribution_explains_every_window_of_the_class_by_default():
    from seqlrp.stages.attribute import AttributeOptions

    assert AttributeOptions().selection == "all"


def test_too_few_windows_for_motif_discovery_warn(caplog):
    from seqlrp.stages.motifs import warn_if_too_few_windows

    with caplog.at_level(logging.WARNING):
        assert warn_if_too_few_windows("bound.lrp", 198, "test")
        assert not warn_if_too_few_windows("unbound.lrp", 3900, "all")
    assert "motifs bound.lrp: only 198 windows" in caplog.text and "attribute.regions: all" in caplog.text
    assert "unbound" not in caplog.text
