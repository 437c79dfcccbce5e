"""Every bad input named in the foundation issue: one clear line, non-zero exit, no output left."""

import gzip
import re
import shutil

import pytest
from conftest import run_extract_job, write_lines

from seqlrp.errors import InputError, SeqlrpError
from seqlrp.formats.genome import Genome
from seqlrp.formats.regions import read_regions
from seqlrp.sequences.windows import ExtractOptions, dataset_from_genome

BAD_BED_LINES = [
    ("chr1\t10\tabc", r"bad\.bed:2: end \(column 3\) must be an integer, got 'abc'"),
    ("chr1\t1.5\t20", r"bad\.bed:2: start \(column 2\) must be an integer, got '1.5'"),
    ("chr1\t50\t50", r"bad\.bed:2: start \(50\) must be smaller than end \(50\)"),
    ("chr1\t60\t50", r"bad\.bed:2: start \(60\) must be smaller than end \(50\)"),
    ("chr1\t-5\t50", r"bad\.bed:2: start \(column 2\) is negative: -5"),
    ("chr1\t10", r"bad\.bed:2: expected at least 3 tab-separated columns \(chrom, start, end\), found 2"),
    ("chr1\t10\t20\tx\t0\t*", r"bad\.bed:2: strand \(column 6\) must be \+, - or \., got '\*'"),
]


@pytest.mark.parametrize("line,message", BAD_BED_LINES)
def test_bad_bed_line_names_file_and_line(tmp_path, line, message):
    bed = write_lines(tmp_path / "bad.bed", ["chr1\t0\t10", line])
    with pytest.raises(InputError, match=message):
        read_regions(bed)


def test_header_lines_are_skipped_and_counted_in_line_numbers(tmp_path):
    bed = write_lines(tmp_path / "bad.bed", ["track name=x", "# comment", "", "chr1\t5\t1"])
    with pytest.raises(InputError, match=r"bad\.bed:4: "):
        read_regions(bed)


@pytest.mark.parametrize("lines", [[], ["track name=empty", "# nothing here"]])
def test_empty_bed(tmp_path, lines):
    bed = write_lines(tmp_path / "empty.bed", lines)
    with pytest.raises(InputError, match=r"empty\.bed: no regions: the file is empty or holds only header lines"):
        read_regions(bed)


def test_missing_chromosome_lists_both_sides_and_hints_chr_prefix(tmp_path, small_genome):
    fasta, _ = small_genome
    bed = write_lines(tmp_path / "a.bed", ["chr1\t0\t10", "2\t0\t10"])
    with pytest.raises(InputError) as err:
        dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=10))
    text = str(err.value)
    assert text.startswith(f"{bed}:2: chromosome '2' is not in the genome FASTA genome.fa")
    assert "regions use: 2, chr1" in text and "FASTA has: chr1, chr2, chrM" in text
    assert "differ by a 'chr' prefix ('2' vs 'chr2')" in text


def test_missing_chromosome_without_prefix_relation_gives_no_hint(tmp_path, small_genome):
    fasta, _ = small_genome
    bed = write_lines(tmp_path / "a.bed", ["scaffold_9\t0\t10"])
    with pytest.raises(InputError, match="not in the genome FASTA") as err:
        dataset_from_genome(fasta, {"a": bed}, ExtractOptions(seq_len=10))
    assert "hint" not in str(err.value)


def test_missing_fasta(tmp_path):
    with pytest.raises(InputError, match=r"nowhere\.fa: genome FASTA not found"):
        Genome(tmp_path / "nowhere.fa")


def test_plain_gzip_fasta_is_refused_with_bgzip_hint(tmp_path, small_genome):
    fasta, _ = small_genome
    gz = tmp_path / "genome.fa.gz"
    with open(fasta, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    with pytest.raises(InputError, match=r"genome\.fa\.gz: plain-gzip FASTA cannot be indexed.*bgzip"):
        Genome(gz)


@pytest.mark.parametrize("seq_len", [0, -5])
def test_non_positive_seq_len(seq_len):
    with pytest.raises(SeqlrpError, match="seq_len must be a positive integer"):
        ExtractOptions(seq_len=seq_len)


def test_class_with_no_usable_region(tmp_path, small_genome):
    fasta, _ = small_genome
    good = write_lines(tmp_path / "good.bed", ["chr1\t400\t500"])
    edge = write_lines(tmp_path / "edge.bed", ["chrM\t0\t50", "chr2\t0\t20"])
    with pytest.raises(InputError, match=r"edge\.bed: class 'b' has no usable region: all 2 windows of 100 bp run past"):
        dataset_from_genome(fasta, {"a": good, "b": edge}, ExtractOptions(seq_len=100, out_of_bounds="drop"))


# --- the same as the extract job meets them: exit code, one line, nothing left behind -----------
# (in-process through run_stage, as the rule's script runs it; the dry run's own refusals, such as a
# missing input file, are the run plan's: tests/test_plan.py)


def _assert_failed_cleanly(status, errors, data_dir, pattern):
    assert status == 1
    assert len(errors) == 1 and re.search(pattern, errors[0]), errors
    assert not data_dir.exists() or not any(data_dir.iterdir())


def test_extract_job_on_a_bad_bed_line(tmp_path, small_genome):
    fasta, _ = small_genome
    bed = write_lines(tmp_path / "bad.bed", ["chr1\t0\t10", "chr1\t20\tnope"])
    _assert_failed_cleanly(*run_extract_job(tmp_path, fasta, {'a': bed, 'b': bed}, seq_len=64), r"bad\.bed:2: end \(column 3\) must be an integer")


def test_extract_job_on_a_missing_chromosome(tmp_path, small_genome):
    fasta, _ = small_genome
    bed = write_lines(tmp_path / "a.bed", ["1\t0\t10"])
    _assert_failed_cleanly(*run_extract_job(tmp_path, fasta, {'a': bed, 'b': bed}, seq_len=64), r"a\.bed:1: chromosome '1' is not in .*'chr' prefix")


def test_extract_job_on_a_plain_gzip_fasta(tmp_path, small_genome):
    fasta, _ = small_genome
    gz = tmp_path / "genome.fa.gz"
    with open(fasta, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    bed = write_lines(tmp_path / "a.bed", ["chr1\t0\t10"])
    _assert_failed_cleanly(*run_extract_job(tmp_path, gz, {'a': bed, 'b': bed}, seq_len=64), r"genome\.fa\.gz: plain-gzip FASTA .*bgzip")


@pytest.mark.parametrize(
    "override,pattern",
    [
        ({"seq_lenn": 100}, r"config\.yaml:1: top level: Additional properties are not allowed \('seq_lenn' was unexpected\)"),
        ({"extract": {"padding": "N"}}, r"config\.yaml:\d+: extract: Additional properties are not allowed \('padding' was"),
        ({"seq_len": 0}, r"config\.yaml:\d+: seq_len: 0 is less than the minimum of 1"),
        ({"seq_len": -3}, r"config\.yaml:\d+: seq_len: -3 is less than the minimum of 1"),
    ],
)
def test_schema_errors_are_one_line_with_file_and_line(tmp_path, override, pattern):
    import yaml

    from seqlrp.formats.config_file import load_config

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(override))
    with pytest.raises(SeqlrpError) as caught:
        load_config([tmp_path / "config.yaml"])
    assert "\n" not in str(caught.value) and re.search(pattern, str(caught.value)), caught.value


# --- truncated or corrupt gzip inputs: one line naming the file, never a traceback ---------------

def _gzip_cut(path, text: str, how: str):
    import gzip as gz

    data = bytearray(gz.compress(text.encode()))
    if how == "truncated":
        data = data[: len(data) // 2]
    else:  # the deflate stream damaged in its middle: garbage or a CRC failure at the end
        data[10:] = bytes(b ^ 0xA5 for b in data[10:])
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("how,pattern", [("truncated", r"truncated gzip file"),
                                         ("corrupt", r"corrupt gzip data|invalid|expected at least 3")])
@pytest.mark.parametrize("kind", ["bed", "narrowPeak", "fasta"])
def test_broken_gzip_inputs_are_one_line_naming_the_file(tmp_path, kind, how, pattern):
    from seqlrp.formats.records import read_records

    if kind == "fasta":
        text = "".join(f">chr1:{i * 100}-{i * 100 + 60}\n{'ACGT' * 15}\n" for i in range(3000))
        path, read = _gzip_cut(tmp_path / "seqs.fa.gz", text, how), read_records
    else:
        columns = "\t.\t0\t+\t5\t1\t1\t10" if kind == "narrowPeak" else ""
        text = "".join(f"chr1\t{i * 10}\t{i * 10 + 20}{columns}\n" for i in range(20000))
        path, read = _gzip_cut(tmp_path / f"peaks.{kind}.gz", text, how), read_regions
    with pytest.raises(InputError) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message and re.search(pattern, message), message


def test_extract_job_on_a_truncated_gzip_bed(tmp_path, small_genome):
    fasta, _ = small_genome
    bed = _gzip_cut(tmp_path / "a.bed.gz", "".join(f"chr1\t{i}\t{i + 10}\n" for i in range(0, 900, 3)) * 30, "truncated")
    status, errors, data = run_extract_job(tmp_path, fasta, {"a": bed, "b": bed}, seq_len=64)
    _assert_failed_cleanly(status, errors, data, r"a\.bed\.gz: truncated gzip file")
