import gzip

import numpy as np
import pysam
import pytest

from seqlrp.formats.tabix import META_BIN, TabixIndexBuilder, parse_tbi, reg2bin


def test_reg2bin_known_bins():
    starts = np.array([0, 16383, 16383, 131072, 0, 200_000_000])
    ends = np.array([1, 16384, 16385, 131073, 1 << 29, 200_000_001])
    # level 5 (16 kb) bins start at 4681, level 4 (128 kb) at 585; the whole range is bin 0
    assert reg2bin(starts, ends).tolist() == [4681, 4681, 585, 4681 + 8, 0, 4681 + 200_000_000 // 16384]


def one_block(offsets):
    """Virtual offsets when the whole text sits in the first BGZF block."""
    return np.asarray(offsets, dtype=np.uint64)


def test_lines_in_one_block_collapse_into_one_chunk_and_the_linear_index_fills_gaps():
    builder = TabixIndexBuilder(line_skip=1)
    # line i spans bytes offsets[i]:offsets[i+1]; windows (16 kb): 0, 1, 2-3, then 6 after a gap
    builder.add("chr1", np.array([0, 20000, 40000]), np.array([10, 20010, 60000]), np.array([30, 50, 75, 110]))
    builder.add("chr1", np.array([100000]), np.array([100001]), np.array([110, 140]))
    index = parse_tbi(builder.to_bytes(one_block))
    assert index["header"] == (0x10000, 1, 2, 3, ord("#"), 1)
    assert index["names"] == ["chr1"]
    (ref,) = index["references"]
    # bins 4681, 4682, 4687 (16 kb) are small: they move into 585 (128 kb, holds [40000, 60000)),
    # whose chunks all sit in block 0 and merge into one
    assert ref["bins"] == {585: [(30, 140)], META_BIN: [(30, 140), (4, 0)]}
    assert ref["linear"] == [30, 50, 75, 75, 110, 110, 110]


def test_chunks_far_apart_in_the_compressed_file_stay_separate():
    def spread(offsets):  # every 100 uncompressed bytes land 70,000 compressed bytes further
        offsets = np.asarray(offsets, dtype=np.uint64)
        return ((offsets // np.uint64(100) * np.uint64(70_000)) << np.uint64(16)) | (offsets % np.uint64(100))

    builder = TabixIndexBuilder()
    builder.add("chrA", np.array([0, 1, 20000]), np.array([1, 2, 20001]), np.array([0, 150, 250, 380]))
    builder.add("chrB", np.array([5]), np.array([6]), np.array([380, 420]))
    index = parse_tbi(builder.to_bytes(spread))
    a, b = index["references"]

    def v(offset):
        return int(spread([offset])[0])

    # bin 4681 spans compressed blocks 0..2 (>= 64 KiB): it stays, as does 4682 (its parent 585 does not exist)
    assert a["bins"] == {4681: [(v(0), v(250))], 4682: [(v(250), v(380))], META_BIN: [(v(0), v(380)), (3, 0)]}
    assert a["linear"] == [v(0), v(250)]
    assert b["bins"] == {4681: [(v(380), v(420))], META_BIN: [(v(380), v(420)), (1, 0)]}
    assert index["names"] == ["chrA", "chrB"] and index["n_no_coor"] == 0


@pytest.mark.parametrize(
    "second,problem",
    [
        (("chr1", [5], [6]), "sorted"),
        (("chr1", [9], [12]), "overlap"),
        (("chr0", [0], [5]), None),
        (("chr1", [20], [2**29 + 1]), "beyond"),
        (("chr\t1", [0], [1]), "tab"),
        (("#chr", [0], [1]), "skips"),
    ],
)
def test_check_refuses_what_tabix_cannot_index(second, problem):
    builder = TabixIndexBuilder()
    builder.add("chr1", np.array([8]), np.array([10]), np.array([0, 10]))
    chrom, starts, ends = second
    if problem is None:  # a new chromosome may start anywhere; the old one may not come back
        builder.check(chrom, np.array(starts), np.array(ends))
        builder.add(chrom, np.array(starts), np.array(ends), np.array([10, 20]))
        with pytest.raises(ValueError, match="come together"):
            builder.check("chr1", np.array([50]), np.array([60]))
        return
    with pytest.raises(ValueError, match=problem):
        builder.check(chrom, np.array(starts), np.array(ends))


def test_parse_tbi_reads_pysams_index(tmp_path):
    path = tmp_path / "p.bed.gz"
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write(b"#comment\nchrX\t5\t9\tx\nchrY\t0\t1\ty\n")
    pysam.tabix_index(str(path), force=True, seq_col=0, start_col=1, end_col=2, zerobased=True)
    index = parse_tbi(gzip.decompress((tmp_path / "p.bed.gz.tbi").read_bytes()))
    assert index["header"] == (0x10000, 1, 2, 3, ord("#"), 0)
    assert index["names"] == ["chrX", "chrY"]
    assert [sorted(ref["bins"]) for ref in index["references"]] == [[4681, META_BIN], [4681, META_BIN]]
    assert index["references"][0]["bins"][META_BIN][1] == (1, 0)


def test_the_index_keeps_no_view_of_the_callers_arrays():
    """A chromosome written in many calls (one per 1 Mb segment of a track) must not pin each
    call's offsets array: the index holds its chunks and linear index only."""
    import tracemalloc

    builder = TabixIndexBuilder()
    tracemalloc.start()
    for k in range(20):  # each call opens a new 16 kb bin, where a chunk end used to be a view
        starts = np.arange(k * 131072, k * 131072 + 100_000, dtype=np.int64)
        offsets = np.arange(starts.size + 1, dtype=np.int64) * 25 + k * 2_500_000
        builder.add("chr1", starts, starts + 1, offsets)
        del starts, offsets
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert held < 1_000_000  # the 20 offsets arrays are 16 MB
