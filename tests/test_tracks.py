import gzip

import numpy as np
import pyBigWig
import pysam
import pytest

from seqlrp.analysis.tracks import genome_track, merge_windows, observed_relevance, runs, write_tracks
from seqlrp.formats.onehot import encode


def test_observed_relevance_is_the_position_sum_and_marks_n():
    onehot = encode("ACNT")[None]
    gain = np.arange(16, dtype=np.float32).reshape(1, 4, 4)  # channel c, position i -> 4c + i
    # R = x * g (the default input rules): only the observed base carries relevance
    np.testing.assert_array_equal(observed_relevance(onehot * gain, onehot)[0], [0.0, 5.0, np.nan, 15.0])
    # a rule that gives absent bases relevance too (flat, w^2, z-box): the position's total, as stored
    np.testing.assert_array_equal(observed_relevance(gain, onehot)[0], [24.0, 28.0, np.nan, 36.0])


def test_minus_strand_window_lands_reversed_on_the_genome():
    values = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
    (chrom, starts, ends, merged), = genome_track(["chr1"], [10], ["-"], values, {"chr1": 100})
    assert chrom == "chr1"
    np.testing.assert_array_equal(starts, [10, 11, 12, 13])
    np.testing.assert_array_equal(ends, [11, 12, 13, 14])
    np.testing.assert_array_equal(merged, [4.0, 3.0, 2.0, 1.0])


@pytest.mark.parametrize(
    "combine,expected", [("mean", [1.0, 2.0, -1.0, -4.0, 6.0]), ("max", [1.0, 5.0, 3.0, -4.0, 6.0]), ("absmax", [1.0, 5.0, -5.0, -4.0, 6.0])]
)
def test_overlapping_windows_are_combined(combine, expected):
    # position 0 <- {1}; 1 <- {5, -1}; 2 <- {-5, 3}; 3 <- {-4} (NaN from window 1); 4 <- {6}
    values = np.array([[1.0, 5.0, -5.0], [-1.0, 3.0, np.nan], [-4.0, 6.0, np.nan]])
    out = list(merge_windows(np.array([0, 1, 3]), values, chrom_size=10, combine=combine))
    np.testing.assert_array_equal(np.concatenate([p for p, _ in out]), [0, 1, 2, 3, 4])
    np.testing.assert_allclose(np.concatenate([v for _, v in out]), expected)


def test_absmax_keeps_the_sign_of_the_largest_magnitude():
    values = np.array([[2.0, -0.5], [-3.0, 0.25]])
    out = list(merge_windows(np.array([0, 0]), values, chrom_size=5, combine="absmax"))
    np.testing.assert_allclose(out[0][1], [-3.0, -0.5])
    out = list(merge_windows(np.array([0, 0]), values, chrom_size=5, combine="max"))
    np.testing.assert_allclose(out[0][1], [2.0, 0.25])


def test_positions_outside_the_chromosome_are_dropped():
    values = np.ones((2, 6), dtype=np.float32)
    out = list(merge_windows(np.array([-3, 7]), values, chrom_size=10))
    positions = np.concatenate([p for p, _ in out])
    np.testing.assert_array_equal(positions, [0, 1, 2, 7, 8, 9])


def test_segment_size_does_not_change_the_result():
    rng = np.random.default_rng(0)
    starts = np.sort(rng.integers(-20, 5000, size=300))
    values = rng.standard_normal((300, 50)).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = np.nan
    reference = list(merge_windows(starts, values, 5010, segment=1 << 20))
    small = list(merge_windows(starts, values, 5010, segment=64))
    np.testing.assert_array_equal(np.concatenate([p for p, _ in reference]), np.concatenate([p for p, _ in small]))
    np.testing.assert_allclose(np.concatenate([v for _, v in reference]), np.concatenate([v for _, v in small]), rtol=1e-6)


def test_runs_merge_equal_neighbours_only():
    starts, ends, values = runs(np.array([1, 2, 3, 5, 6]), np.array([0.0, 0.0, 1.0, 1.0, 1.0], dtype=np.float32))
    np.testing.assert_array_equal(starts, [1, 3, 5])
    np.testing.assert_array_equal(ends, [3, 4, 7])
    np.testing.assert_array_equal(values, [0.0, 1.0, 1.0])


def test_files_read_back_with_pybigwig_and_tabix(tmp_path):
    sizes = {"chr1": 50, "chr2": 30}
    values = np.array([[0.5, 0.25, -1.0, 2.0], [1.0, 1.0, 1.0, 1.0], [3.0, 3.0, np.nan, 3.0]], dtype=np.float32)
    intervals = genome_track(["chr2", "chr1", "chr1"], [5, 0, 2], ["+", "+", "-"], values, sizes)
    bedgraph, bigwig = tmp_path / "t.bedGraph.gz", tmp_path / "t.bw"
    written = write_tracks(intervals, sizes, bedgraph, bigwig, 'track type=bedGraph name="x lrp" description="method lrp"')
    # chr1: window 2 (+) puts ones on [0, 4); window 3 (-) covers [2, 6) reversed: 3, N, 3, 3
    assert written == 6 + 4
    with pyBigWig.open(str(bigwig)) as bw:
        assert bw.chroms() == sizes
        np.testing.assert_allclose(bw.values("chr1", 0, 7), [1.0, 1.0, 2.0, 1.0, 3.0, 3.0, np.nan])
        np.testing.assert_allclose(bw.values("chr2", 5, 9), [0.5, 0.25, -1.0, 2.0])
    with gzip.open(bedgraph, "rt") as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith("track type=bedGraph name=")
    rows = [line.split("\t") for line in lines[1:]]
    assert [r[0] for r in rows] == ["chr1"] * 4 + ["chr2"] * 4
    assert rows[:4] == [["chr1", "0", "2", "1"], ["chr1", "2", "3", "2"], ["chr1", "3", "4", "1"], ["chr1", "4", "6", "3"]]
    for previous, current in zip(rows, rows[1:]):
        if previous[0] == current[0]:
            assert int(previous[2]) <= int(current[1])
    with pysam.TabixFile(str(bedgraph)) as tabix:
        assert [line.split("\t")[3] for line in tabix.fetch("chr2", 6, 8)] == ["0.25", "-1"]
        assert list(tabix.contigs) == ["chr1", "chr2"]


def test_a_failure_leaves_no_track_files(tmp_path):
    def broken():
        yield "chr1", np.array([0]), np.array([1]), np.array([1.0], dtype=np.float32)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_tracks(broken(), {"chr1": 10}, tmp_path / "t.bedGraph.gz", tmp_path / "t.bw", "track type=bedGraph")
    assert list(tmp_path.iterdir()) == []


def test_hypothetical_tracks_complement_channels_on_the_minus_strand():
    from seqlrp.analysis.tracks import genome_hypothetical

    # channel c holds 10 c + position: window orientation
    hyp = (10 * np.arange(4)[:, None] + np.arange(3)[None, :]).astype(np.float32)[None].repeat(2, axis=0)
    plus_a = genome_hypothetical(hyp, ["+", "-"], base=0)
    np.testing.assert_array_equal(plus_a[0], [0, 1, 2])  # + window: channel A
    np.testing.assert_array_equal(plus_a[1], [30, 31, 32])  # - window: genome A is a T on the window's strand
    (_, starts, _, values), = genome_track(["chr1"], [5], ["-"], plus_a[1:], {"chr1": 20})
    np.testing.assert_array_equal(starts, [5, 6, 7])
    np.testing.assert_array_equal(values, [32, 31, 30])  # and positions run backwards


def test_track_line_carries_method_composite_and_pruning():
    from seqlrp.analysis.track_headers import track_line

    line = track_line("bound", "plrp", {"composite": "epsilon-gamma", "input_rule": "zbox", "prune": {"p_pos": 0.4, "mode": "mask"}}, "mean")
    assert line.startswith('track type=bedGraph name="bound plrp" description="seqlrp ')
    assert "epsilon-gamma, input rule zbox, PLRP-M p+=0.4 p-=0.2" in line and "overlaps mean" in line


def test_observed_relevance_in_chunks_equals_one_pass():
    rng = np.random.default_rng(3)
    relevance = rng.standard_normal((11, 4, 9)).astype(np.float32)
    onehot = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (11, 9))].transpose(0, 2, 1).copy()
    onehot[4, :, 6] = 0  # an N base
    expected = relevance.sum(axis=1)
    expected[4, 6] = np.nan
    for chunk in (1, 3, 11, 64):
        np.testing.assert_array_equal(observed_relevance(relevance, onehot, chunk=chunk), expected)


@pytest.mark.parametrize("combine", ["mean", "max", "absmax"])
def test_a_pileup_read_in_batches_merges_as_one(combine):
    rng = np.random.default_rng(1)
    starts = np.sort(rng.integers(0, 40, size=200))  # 200 windows over 90 bases: one deep pileup
    values = rng.standard_normal((200, 50))
    values[rng.random(values.shape) < 0.1] = np.nan
    whole = list(merge_windows(starts, values, 100, combine, batch=1000))
    batched = list(merge_windows(starts, values, 100, combine, batch=7))
    np.testing.assert_array_equal(whole[0][0], batched[0][0])
    if combine == "mean":  # the sums add up in another order
        np.testing.assert_allclose(whole[0][1], batched[0][1], rtol=1e-6)
    else:
        np.testing.assert_array_equal(whole[0][1], batched[0][1])


def test_the_track_reads_a_bounded_number_of_windows_at_a_time():
    """Windows come from a lazy store chromosome by chromosome: no read ever asks for more than a batch."""
    from seqlrp.formats.arrays import LazyRows

    rng = np.random.default_rng(2)
    n, length = 9000, 100  # chr2's 6000 windows lie in one 1 Mb segment: more than a batch (4096)
    chroms = np.array(["chr2" if i % 3 else "chr1" for i in range(n)], dtype=object)
    starts = rng.integers(0, 99_000, size=n)
    strands = rng.choice(["+", "-"], size=n)
    values = rng.standard_normal((n, length)).astype(np.float32)
    sizes = []

    def read(local):
        sizes.append(len(values[local]))
        return values[local]

    lazy = LazyRows([(n, read)], (length,), np.float32)
    sizes_seen = {"chr1": 100_000, "chr2": 300_000}
    expected = list(genome_track(chroms, starts, strands, values, sizes_seen))
    got = list(genome_track(chroms, starts, strands, lazy, sizes_seen))
    assert [c for c, *_ in got] == [c for c, *_ in expected]
    for (_, *a), (_, *b) in zip(got, expected):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert sum(sizes) == n and max(sizes) == 4096  # each window read once, at most a batch at a time


def test_hypothetical_tracks_read_the_store_in_genome_orientation(tmp_path):
    """tracks.hypothetical: the A/C/G/T bigWigs give, per genome base, what the base would receive;
    a - strand window reads the complement's channel, reversed."""
    from conftest import store_from_arrays

    from seqlrp.stages.tracks import build_tracks

    rng = np.random.default_rng(7)
    onehot = np.zeros((2, 4, 8), dtype=np.uint8)
    np.put_along_axis(onehot, rng.integers(0, 4, size=(2, 1, 8)), 1, axis=1)
    hyp = np.round(rng.normal(size=(2, 4, 8)), 2).astype(np.float32)  # float16 keeps 2 decimals of these to 1e-3
    header = "chrom\tstart\tend\tstrand\tname\tclass\tsplit\trow\tlogit\trelevance_sum\n"
    rows = "chr1\t10\t18\t+\tw0\tc\ttest\t0\t1\t0\nchr1\t40\t48\t-\tw1\tc\ttest\t1\t1\t0\n"
    store = store_from_arrays(tmp_path / "c.m", onehot, onehot * hyp, hyp, header + rows)
    (tmp_path / "sizes.tsv").write_text("chr1\t100\n")
    names = {"bigwig": tmp_path / "r.bw", "bedgraph": tmp_path / "r.bedGraph.gz",
             "hypothetical": [tmp_path / f"h{b}.bw" for b in "ACGT"]}
    build_tracks(str(store), tmp_path / "onehot.npy", tmp_path / "sizes.tsv", names)
    for base in range(4):
        with pyBigWig.open(str(names["hypothetical"][base])) as bigwig:
            plus = np.array(bigwig.values("chr1", 10, 18))
            minus = np.array(bigwig.values("chr1", 40, 48))
        np.testing.assert_allclose(plus, hyp[0, base], atol=2e-3)
        np.testing.assert_allclose(minus, hyp[1, 3 - base, ::-1], atol=2e-3)
    with pyBigWig.open(str(names["bigwig"])) as bigwig:  # the relevance track: the observed base's, exactly
        np.testing.assert_array_equal(np.array(bigwig.values("chr1", 10, 18), dtype=np.float32),
                                      (onehot[0] * hyp[0]).sum(axis=0))
