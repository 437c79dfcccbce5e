import gzip

import numpy as np
import pysam
import pytest

from seqlrp.formats.bedgraph import BedGraphWriter, format_bedgraph, render
from seqlrp.formats.tabix import parse_tbi


def python_line(chrom, start, end, value, decimals):
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return f"{chrom}\t{start}\t{end}\t{'0' if text in ('-0', '') else text}\n"


def test_known_lines():
    text = format_bedgraph(
        "chr2", np.array([0, 9, 99, 123456789]), np.array([1, 10, 150, 123456790]), np.array([0.0, -1.5, 12.25, -0.0000004])
    )
    assert text == b"chr2\t0\t1\t0\nchr2\t9\t10\t-1.5\nchr2\t99\t150\t12.25\nchr2\t123456789\t123456790\t0\n"


@pytest.mark.parametrize("decimals", [1, 4, 6, 7])
def test_matches_python_formatting_on_random_values(decimals):
    rng = np.random.default_rng(decimals)
    starts = np.sort(rng.integers(0, 3_000_000_000, size=5000))
    ends = starts + rng.integers(1, 100, size=5000)
    values = rng.standard_normal(5000) * 10.0 ** rng.integers(-8, 4, size=5000)
    lines = format_bedgraph("chrX", starts, ends, values, decimals=decimals).decode().splitlines()
    assert len(lines) == 5000
    for line, s, e, v in zip(lines, starts, ends, values):
        chrom, got_s, got_e, got_v = line.split("\t")
        assert (chrom, int(got_s), int(got_e)) == ("chrX", s, e)
        expected = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
        expected = "0" if expected in ("-0", "") else expected
        assert got_v == expected, (v, got_v, expected)


def test_per_base_runs_carry_into_new_digits():
    # consecutive one-base lines reuse the previous end's digits: 9 -> 10, 99 -> 100, 999999 -> 1000000
    starts = np.concatenate([np.arange(0, 120), np.arange(999_990, 1_000_012), [1_000_020, 1_000_021]])
    ends = starts + 1
    ends[-2] = 1_000_021  # a start equal to the previous end, then a longer interval
    ends[-1] = 1_000_100
    values = np.linspace(-1, 1, starts.size)
    expected = "".join(python_line("c", s, e, v, 3) for s, e, v in zip(starts, ends, values))
    assert format_bedgraph("c", starts, ends, values, decimals=3).decode() == expected


def test_render_reports_where_each_line_starts():
    text, offsets = render("chr1", np.array([5, 10]), np.array([6, 20]), np.array([0.5, -2.0]))
    assert text.tobytes() == b"chr1\t5\t6\t0.5\nchr1\t10\t20\t-2\n"
    assert offsets.tolist() == [0, 13, 27]


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e13])
def test_values_that_cannot_be_written_are_refused(value):
    with pytest.raises(ValueError, match="finite"):
        format_bedgraph("chr1", np.array([0]), np.array([1]), np.array([value]))


def test_negative_coordinates_are_refused():
    with pytest.raises(ValueError, match="negative"):
        format_bedgraph("chr1", np.array([-5]), np.array([1]), np.array([1.0]))


def test_empty():
    assert format_bedgraph("chr1", np.array([], dtype=int), np.array([], dtype=int), np.array([])) == b""


def write_track(path, chunks, track_line="track type=bedGraph name=t", **options):
    with BedGraphWriter(path, track_line, **options) as writer:
        for chrom, starts, ends, values in chunks:
            writer.add(chrom, np.asarray(starts), np.asarray(ends), np.asarray(values, dtype=np.float32))


def test_writer_output_reads_back_with_gzip_and_tabix(tmp_path):
    path = tmp_path / "t.bedGraph.gz"
    chunks = [
        ("chr1", [0, 1, 2], [1, 2, 3], [0.5, -0.25, 1.0]),
        ("chr1", [100, 200], [150, 201], [2.0, 3.0]),  # the chromosome goes on in a second call
        ("chrEmpty", [], [], []),  # no intervals: no entry in the index
        ("chr2", [10], [20], [-1.5]),
    ]
    write_track(path, chunks)
    assert gzip.decompress(path.read_bytes()).decode() == (
        "track type=bedGraph name=t\n"
        "chr1\t0\t1\t0.5\nchr1\t1\t2\t-0.25\nchr1\t2\t3\t1\nchr1\t100\t150\t2\nchr1\t200\t201\t3\n"
        "chr2\t10\t20\t-1.5\n"
    )
    with pysam.TabixFile(str(path)) as tabix:
        assert list(tabix.contigs) == ["chr1", "chr2"]
        assert list(tabix.fetch("chr1", 0, 2)) == ["chr1\t0\t1\t0.5", "chr1\t1\t2\t-0.25"]  # no track line
        assert list(tabix.fetch("chr1", 149, 200)) == ["chr1\t100\t150\t2"]  # half-open ends
        assert list(tabix.fetch("chr2", 19, 1000)) == ["chr2\t10\t20\t-1.5"]
        assert list(tabix.fetch("chr2", 0, 10)) == []


def test_an_empty_track_still_gets_an_index(tmp_path):
    path = tmp_path / "e.bedGraph.gz"
    write_track(path, [])
    assert gzip.decompress(path.read_bytes()) == b"track type=bedGraph name=t\n"
    with pysam.TabixFile(str(path)) as tabix:
        assert list(tabix.contigs) == []


def test_the_index_goes_where_asked_and_no_track_line_means_no_skipped_line(tmp_path):
    path, index = tmp_path / "data.tmp", tmp_path / "index.tmp"
    write_track(path, [("chr1", [3], [4], [1.0])], track_line=None, index_path=index)
    assert gzip.decompress(path.read_bytes()) == b"chr1\t3\t4\t1\n"
    assert not (tmp_path / "data.tmp.tbi").exists()
    assert parse_tbi(gzip.decompress(index.read_bytes()))["header"][-1] == 0  # lines skipped
    with pysam.TabixFile(str(path), index=str(index)) as tabix:
        assert list(tabix.fetch("chr1", 0, 10)) == ["chr1\t3\t4\t1"]


def dense_and_sparse_track(seed=0):
    """Three chromosomes: per-base lines (big bins), sparse lines with gaps (small bins merged into
    parents, empty linear-index windows), long intervals spanning bin boundaries (higher levels)."""
    rng = np.random.default_rng(seed)
    dense = np.arange(50_000, 250_000)
    sparse = np.sort(rng.choice(np.arange(0, 3_000_000, 500), size=3000, replace=False)) + 7
    sparse_ends = sparse + rng.integers(1, 400, size=sparse.size)
    long_starts = np.arange(0, 5_000_000, 300_000) + 1000
    chunks = []
    for part in np.array_split(np.arange(dense.size), 3):
        chunks.append(("chr1", dense[part], dense[part] + 1, rng.standard_normal(part.size) * 0.01))
    chunks.append(("chr2", sparse, sparse_ends, rng.standard_normal(sparse.size)))
    chunks.append(("chr10", long_starts, long_starts + 250_000, rng.standard_normal(long_starts.size)))
    return chunks


@pytest.mark.parametrize("level", [1, 6])
def test_index_equals_pysam_tabix_index(tmp_path, level):
    path = tmp_path / "t.bedGraph.gz"
    write_track(path, dense_and_sparse_track(), compress_level=level)
    pysam.tabix_index(str(path), force=True, seq_col=0, start_col=1, end_col=2, zerobased=True, line_skip=1,
                      index=str(tmp_path / "pysam.tbi"))
    ours = parse_tbi(gzip.decompress((tmp_path / "t.bedGraph.gz.tbi").read_bytes()))
    theirs = parse_tbi(gzip.decompress((tmp_path / "pysam.tbi").read_bytes()))
    assert ours["names"] == ["chr1", "chr2", "chr10"]
    assert len(ours["references"][0]["bins"]) > 5 and len(ours["references"][2]["linear"]) > 300
    assert ours == theirs


def test_fetch_with_our_index_equals_fetch_with_pysams(tmp_path):
    path = tmp_path / "t.bedGraph.gz"
    chunks = dense_and_sparse_track(seed=1)
    write_track(path, chunks, compress_level=2)
    pysam.tabix_index(str(path), force=True, seq_col=0, start_col=1, end_col=2, zerobased=True, line_skip=1,
                      index=str(tmp_path / "pysam.tbi"))
    rng = np.random.default_rng(2)
    with pysam.TabixFile(str(path)) as ours, pysam.TabixFile(str(path), index=str(tmp_path / "pysam.tbi")) as theirs:
        for chrom, size in [("chr1", 300_000), ("chr2", 3_100_000), ("chr10", 5_300_000)]:
            for start in rng.integers(0, size, size=40):
                end = int(start + rng.integers(1, 60_000))
                got = list(ours.fetch(chrom, int(start), end))
                assert got == list(theirs.fetch(chrom, int(start), end))
        # and a region checked against the input directly: chr1 holds one line per base from 50,000
        assert [line.split("\t")[1] for line in ours.fetch("chr1", 49_998, 50_002)] == ["50000", "50001"]


def test_same_input_same_bytes_on_any_number_of_threads(tmp_path):
    chunks = dense_and_sparse_track()
    write_track(tmp_path / "a.gz", chunks, compress_level=2, threads=1)
    write_track(tmp_path / "b.gz", chunks, compress_level=2, threads=3)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    assert (tmp_path / "a.gz.tbi").read_bytes() == (tmp_path / "b.gz.tbi").read_bytes()


@pytest.mark.parametrize(
    "chunks,problem",
    [
        ([("chr1", [5, 3], [6, 4], [1.0, 1.0])], "sorted"),
        ([("chr1", [0, 5], [10, 6], [1.0, 1.0])], "overlap"),
        ([("chr1", [0], [10], [1.0]), ("chr1", [9], [12], [1.0])], "overlap"),  # across calls
        ([("chr1", [0], [10], [1.0]), ("chr2", [0], [10], [1.0]), ("chr1", [20], [30], [1.0])], "come together"),
        ([("chr1", [4], [4], [1.0])], "start < end"),
        ([("chr1", [0], [1], [np.nan])], "finite"),
        ([("chr1", [0], [2**29 + 1], [1.0])], "beyond"),
    ],
)
def test_bad_intervals_raise_value_error(tmp_path, chunks, problem):
    with pytest.raises(ValueError, match=problem):
        write_track(tmp_path / "bad.gz", chunks)
    assert not (tmp_path / "bad.gz.tbi").exists()
