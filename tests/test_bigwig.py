import itertools
import struct
import zlib

import numpy as np
import pyBigWig
import pytest

from seqlrp.formats.bigwig import BigWigWriter

# the on-disk zoom record of the bigWig format, for reading levels back without the writer's code
ZOOM_RECORD = np.dtype([("chrom", "<u4"), ("start", "<u4"), ("end", "<u4"), ("count", "<u4"),
                        ("min", "<f4"), ("max", "<f4"), ("sum", "<f4"), ("sumsq", "<f4")])


def zoom_levels(path) -> list[tuple[int, np.ndarray]]:
    """(reduction, records) of every zoom level, parsed from the file's bytes."""
    raw = path.read_bytes()
    (n_levels,) = struct.unpack_from("<H", raw, 6)
    levels = []
    for k in range(n_levels):
        reduction, _, data_offset, index_offset = struct.unpack_from("<IIQQ", raw, 64 + 24 * k)
        (count,) = struct.unpack_from("<I", raw, data_offset)
        position, blocks = data_offset + 4, []
        while position < index_offset:  # consecutive zlib streams
            inflater = zlib.decompressobj()
            blocks.append(inflater.decompress(raw[position:index_offset]))
            position = index_offset - len(inflater.unused_data)
        records = np.frombuffer(b"".join(blocks), dtype=ZOOM_RECORD)
        assert records.size == count
        levels.append((reduction, records))
    return levels


def find_chrom(raw: bytes, name: str) -> tuple[int, int] | None:
    """(id, size) of ``name`` through the chromosome B+ tree, searched as UCSC does: following
    child offsets to the last child whose first key is not above the name."""
    (offset,) = struct.unpack_from("<Q", raw, 8)
    _, _, key_size, _, _, _ = struct.unpack_from("<IIIIQQ", raw, offset)
    key = name.encode().ljust(key_size, b"\0")
    node = offset + 32
    while True:
        is_leaf, _, count = struct.unpack_from("<BBH", raw, node)
        items = [raw[node + 4 + i * (key_size + 8) : node + 4 + (i + 1) * (key_size + 8)] for i in range(count)]
        if is_leaf:
            found = [item[key_size:] for item in items if item[:key_size] == key]
            return struct.unpack("<II", found[0]) if found else None
        below = [item for item in items if item[:key_size] <= key]
        if not below:
            return None
        (node,) = struct.unpack("<Q", below[-1][key_size:])


def write(path, sizes, chunks, **options):
    with BigWigWriter(path, sizes, **options) as writer:
        for chrom, starts, ends, values in chunks:
            writer.add(chrom, np.asarray(starts), np.asarray(ends), np.asarray(values))
    return path


def per_base(starts, ends, values, size):
    """Dense (size,) float64 track, NaN where no interval is."""
    track = np.full(size, np.nan)
    for s, e, v in zip(starts, ends, values):
        track[s:e] = v
    return track


SIZES = {"chr1": 5000, "chrEmpty": 1000, "chr2": 3000}
RNG = np.random.default_rng(7)
PER_BASE = RNG.standard_normal(300).astype(np.float32)
CHR1 = (np.concatenate([np.arange(100, 400), [1000, 1500, 4990]]),  # 300 single bases, then bedGraph-like
        np.concatenate([np.arange(101, 401), [1500, 1510, 5000]]),  # the last one ends the chromosome
        np.concatenate([PER_BASE, np.float32([2.0, -1.0, 7.0])]))
CHR2 = (np.array([0, 1, 2, 10, 2000]), np.array([1, 2, 3, 20, 3000]), np.float32([0.5, 0.25, -0.5, 3.0, 1.25]))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("bw") / "small.bw"
    return write(path, SIZES, [("chr1", *CHR1), ("chr2", *CHR2)])


def test_pybigwig_reads_back_chromosomes_values_and_intervals(small):
    with pyBigWig.open(str(small)) as bw:
        assert bw.chroms() == SIZES  # all chromosomes, in the given order, the empty one too
        for chrom, data in (("chr1", CHR1), ("chr2", CHR2)):
            expected = per_base(*data, SIZES[chrom])
            np.testing.assert_array_equal(bw.values(chrom, 0, SIZES[chrom], numpy=True), expected.astype(np.float32))
        assert np.isnan(bw.values("chr1", 400, 1000, numpy=True)).all()  # the gap has no value
        assert bw.intervals("chrEmpty") is None
        assert np.isnan(bw.values("chrEmpty", 0, 1000, numpy=True)).all()
        assert bw.intervals("chr1", 4980, 5000) == ((4990, 5000, 7.0),)
        assert bw.intervals("chr1", 1000, 2000) == ((1000, 1500, 2.0), (1500, 1510, -1.0))
        # 300 contiguous single bases go fixed-step: one interval per base, value kept as float32
        assert bw.intervals("chr1", 100, 103) == tuple((100 + i, 101 + i, float(PER_BASE[i])) for i in range(3))
        assert bw.intervals("chr2") == tuple(zip(*(a.tolist() for a in CHR2)))
        assert bw.stats("chr2", 0, 3000, type="coverage", exact=True)[0] == pytest.approx((3 + 10 + 1000) / 3000)


def test_header_summary_and_end_magic(small):
    raw = small.read_bytes()
    magic, version, n_levels = struct.unpack_from("<IHH", raw)
    assert (magic, version) == (0x888FFC26, 4) and raw[-4:] == raw[:4]
    field_count, defined, autosql, summary_offset, buffer_size = struct.unpack_from("<HHQQI", raw, 32)
    assert (field_count, defined, autosql) == (0, 0, 0) and buffer_size >= 32768
    bases, low, high, total, squares = struct.unpack_from("<Qdddd", raw, summary_offset)
    values = np.concatenate([per_base(*CHR1, 5000), per_base(*CHR2, 3000)])
    values = values[~np.isnan(values)]
    assert bases == values.size == 300 + 510 + 10 + 3 + 10 + 1000
    assert (low, high) == (values.min(), values.max())
    assert total == pytest.approx(values.sum()) and squares == pytest.approx((values**2).sum())
    with pyBigWig.open(str(small)) as bw:
        assert bw.header()["nLevels"] == n_levels >= 1
        assert bw.header()["nBasesCovered"] == bases


def test_zoom_levels_hold_per_bin_statistics(tmp_path):
    # 100 kb fully covered: bins of 64, 256, ... bases; stop after the level with one record
    values = (np.arange(100_000) % 1000 - 500).astype(np.float32) / 7
    path = write(tmp_path / "z.bw", {"chrZ": 100_000}, [("chrZ", np.arange(100_000), np.arange(1, 100_001), values)])
    levels = zoom_levels(path)
    assert [reduction for reduction, _ in levels] == [64 * 4**k for k in range(7)]  # 64 .. 262144
    assert [records.size for _, records in levels] == [1563, 391, 98, 25, 7, 2, 1]
    _, records = levels[1]
    bins = np.arange(0, 100_000, 256)
    np.testing.assert_array_equal(records["start"], bins)
    np.testing.assert_array_equal(records["end"], np.minimum(bins + 256, 100_000))
    np.testing.assert_array_equal(records["count"], records["end"] - records["start"])
    v64 = values.astype(np.float64)
    np.testing.assert_allclose(records["sum"], np.add.reduceat(v64, bins), rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(records["sumsq"], np.add.reduceat(v64**2, bins), rtol=1e-6)
    np.testing.assert_array_equal(records["min"], np.minimum.reduceat(values, bins))
    np.testing.assert_array_equal(records["max"], np.maximum.reduceat(values, bins))
    with pyBigWig.open(str(path)) as bw:
        # a 1024-base query reads the 256-base level (libBigWig: reduction <= query / 2)
        for start in (0, 2048, 98_304):
            window = v64[start : start + 1024]
            assert bw.stats("chrZ", start, start + 1024, type="mean")[0] == pytest.approx(window.mean(), abs=1e-5)
            assert bw.stats("chrZ", start, start + 1024, type="min")[0] == pytest.approx(window.min())
            assert bw.stats("chrZ", start, start + 1024, type="max")[0] == pytest.approx(window.max())


def test_levels_that_repeat_the_one_below_are_left_out(tmp_path):
    # 50 single bases 5 kb apart: one record each at the 64 .. 4096 levels (kept once), then fewer
    positions = np.arange(50) * 5000
    path = write(tmp_path / "p.bw", {"chrP": 250_000}, [("chrP", positions, positions + 1, np.ones(50))])
    levels = zoom_levels(path)
    assert [(reduction, records.size) for reduction, records in levels] == [(64, 50), (16384, 15), (65536, 4), (262144, 1)]
    with pyBigWig.open(str(path)) as bw:
        assert bw.stats("chrP", 0, 250_000, type="coverage")[0] == pytest.approx(50 / 250_000)


def test_zoom_statistics_skip_gaps_and_match_exact_answers(tmp_path):
    # every 5th base missing and a 3 kb hole: means over covered bases only, coverage below 1
    positions = np.arange(20_000)
    positions = positions[(positions % 5 != 0) & ((positions < 8000) | (positions >= 11_000))]
    values = np.sin(positions / 300).astype(np.float32)
    path = write(tmp_path / "g.bw", {"chrG": 20_000}, [("chrG", positions, positions + 1, values)])
    dense = per_base(positions, positions + 1, values, 20_000)
    with pyBigWig.open(str(path)) as bw:
        for start in range(0, 20_000, 1024):  # aligned to the 256-base level: whole records only
            end = min(start + 1024, 20_000)
            window = dense[start:end]
            covered = np.isfinite(window)
            for kind, expected in (("mean", np.nanmean(window) if covered.any() else None),
                                   ("coverage", covered.mean() if covered.any() else None)):
                (zoomed,) = bw.stats("chrG", start, end, type=kind, exact=False)
                (exact,) = bw.stats("chrG", start, end, type=kind, exact=True)
                if expected is None:
                    assert zoomed is None and exact is None
                else:
                    assert zoomed == pytest.approx(expected, abs=1e-6) and exact == pytest.approx(expected, abs=1e-6)


def test_intervals_longer_than_a_bin_are_split_across_bins(tmp_path):
    # 100 intervals of 50 bases: first zoom 10 x 50 -> 512 bases, and [500, 550) straddles 512
    starts = np.arange(0, 5000, 50)
    values = np.arange(100, dtype=np.float32)
    path = write(tmp_path / "b.bw", {"chrB": 6000}, [("chrB", starts, starts + 50, values)])
    reduction, records = zoom_levels(path)[0]
    assert reduction == 512
    dense = per_base(starts, starts + 50, values, 5000)
    bins = np.arange(0, 5000, 512)
    np.testing.assert_array_equal(records["count"], np.minimum(bins + 512, 5000) - bins)
    np.testing.assert_allclose(records["sum"], np.add.reduceat(dense, bins), rtol=1e-6)
    assert (records["min"][1], records["max"][0]) == (10.0, 10.0)  # interval 10 = [500, 550) is in both
    with pyBigWig.open(str(path)) as bw:
        assert bw.intervals("chrB", 500, 551) == ((500, 550, 10.0), (550, 600, 11.0))
        assert bw.stats("chrB", 512, 1536, type="mean")[0] == pytest.approx(dense[512:1536].mean())


def test_chunking_into_calls_does_not_change_zoom_records_or_values(tmp_path):
    positions = np.concatenate([np.arange(0, 3000), np.arange(3100, 9000)])
    values = RNG.standard_normal(positions.size).astype(np.float32)
    data = (positions, positions + 1, values)
    whole = write(tmp_path / "whole.bw", {"c": 9000, "d": 100}, [("c", *data), ("d", [5], [6], [1.0])])
    cuts = [0, 70, 100, 101, 2990, 5000, positions.size]  # splits inside zoom bins and sections
    chunks = [("c", *(a[lo:hi] for a in data)) for lo, hi in itertools.pairwise(cuts)]
    pieces = write(tmp_path / "pieces.bw", {"c": 9000, "d": 100}, [*chunks, ("d", [5], [6], [1.0])])
    for (r1, z1), (r2, z2) in zip(zoom_levels(whole), zoom_levels(pieces), strict=True):
        assert r1 == r2
        np.testing.assert_array_equal(z1[["chrom", "start", "end", "count", "min", "max"]],
                                      z2[["chrom", "start", "end", "count", "min", "max"]])
        np.testing.assert_allclose(z1["sum"], z2["sum"], rtol=1e-5, atol=1e-4)
    with pyBigWig.open(str(whole)) as a, pyBigWig.open(str(pieces)) as b:
        np.testing.assert_array_equal(a.values("c", 0, 9000, numpy=True), b.values("c", 0, 9000, numpy=True))


def test_threads_and_repeats_give_identical_bytes(tmp_path):
    rng = np.random.default_rng(3)
    chunks = []
    for chrom in ("a", "b"):
        for origin in range(0, 400_000, 100_000):
            keep = (rng.random(100_000) < 0.9) | (np.arange(100_000) < 60_000)  # long, then short stretches
            positions = origin + np.flatnonzero(keep)
            chunks.append((chrom, positions, positions + 1, rng.standard_normal(positions.size).astype(np.float32)))
    sizes = {"a": 400_000, "b": 400_000}
    one = write(tmp_path / "one.bw", sizes, chunks, threads=1).read_bytes()
    assert write(tmp_path / "again.bw", sizes, chunks, threads=1).read_bytes() == one
    assert write(tmp_path / "three.bw", sizes, chunks, threads=3).read_bytes() == one


def test_many_chromosomes_and_sections_need_deeper_trees(tmp_path):
    # 600 chromosomes: a B+ tree of two levels; 300 stretches of 64 bases: an R-tree of two levels
    sizes = {"x": 30_000, **{f"scaffold{i}": 10 + i for i in range(599)}}
    positions = (np.arange(0, 30_000, 100)[:, None] + np.arange(64)).ravel()
    values = (positions % 1000).astype(np.float32)
    path = write(tmp_path / "m.bw", sizes, [("x", positions, positions + 1, values),
                                             ("scaffold598", [0], [10], [2.5])])
    with pyBigWig.open(str(path)) as bw:
        assert bw.chroms() == sizes and list(bw.chroms()) == list(sizes)
        np.testing.assert_array_equal(bw.values("x", 0, 30_000, numpy=True),
                                      per_base(positions, positions + 1, values, 30_000).astype(np.float32))
        assert bw.intervals("x", 29_963, 29_965) == ((29_963, 29_964, 963.0),)
        assert bw.intervals("scaffold598") == ((0, 10, 2.5),)
        assert bw.intervals("scaffold597") is None
    raw = path.read_bytes()
    assert [find_chrom(raw, name) for name in sizes] == [(i, size) for i, size in enumerate(sizes.values())]
    assert find_chrom(raw, "scaffold") is None and find_chrom(raw, "y") is None


def test_no_data_gives_a_readable_file_without_zoom_levels(tmp_path):
    path = write(tmp_path / "e.bw", {"chr1": 100, "chr2": 50}, [("chr1", [], [], [])])
    with pyBigWig.open(str(path)) as bw:
        assert bw.chroms() == {"chr1": 100, "chr2": 50}
        assert bw.header()["nLevels"] == 0 and bw.header()["nBasesCovered"] == 0
        assert bw.intervals("chr1") is None
        assert np.isnan(bw.values("chr2", 0, 50, numpy=True)).all()


def test_stored_sections_read_back(tmp_path):
    path = write(tmp_path / "s.bw", SIZES, [("chr1", *CHR1)], compress_level=0, zoom_levels=2)
    with pyBigWig.open(str(path)) as bw:
        np.testing.assert_array_equal(bw.values("chr1", 0, 5000, numpy=True), per_base(*CHR1, 5000).astype(np.float32))
        assert bw.header()["nLevels"] <= 2


@pytest.mark.parametrize("calls,message", [
    ([("chrX", [0], [1], [1.0])], "unknown chromosome 'chrX'"),
    ([("chr1", [5, 3], [6, 4], [1.0, 1.0])], "sorted"),
    ([("chr1", [5, 8], [10, 12], [1.0, 1.0])], "overlap"),
    ([("chr1", [4990], [5001], [1.0])], "past the chromosome end"),
    ([("chr1", [0, 1], [1, 2], [1.0, np.nan])], "not a finite"),
    ([("chr1", [0], [1], [np.inf])], "not a finite"),
    ([("chr1", [0], [1], [1e39])], "not a finite"),  # overflows float32
    ([("chr1", [7], [7], [1.0])], "empty or reversed"),
    ([("chr1", [-1], [3], [1.0])], "starts before 0"),
    ([("chr1", [0, 1], [1, 2], [1.0])], "one length"),
    ([("chr1", [0.0], [1.0], [1.0])], "integer"),
    ([("chr2", [0], [1], [1.0]), ("chr1", [0], [1], [1.0])], "chrom_sizes order"),
    ([("chr1", [0], [10], [1.0]), ("chr1", [5], [20], [1.0])], "starts before 10"),
])
def test_bad_input_raises(tmp_path, calls, message):
    with pytest.raises(ValueError, match=message):
        write(tmp_path / "bad.bw", SIZES, calls)


def test_a_failed_add_leaves_the_writer_usable(tmp_path):
    path = tmp_path / "ok.bw"
    with BigWigWriter(path, {"chr1": 100}) as writer:
        writer.add("chr1", np.array([0]), np.array([10]), np.array([1.0]))
        with pytest.raises(ValueError):
            writer.add("chr1", np.array([5]), np.array([20]), np.array([2.0]))
        writer.add("chr1", np.array([10]), np.array([20]), np.array([2.0]))
    with pyBigWig.open(str(path)) as bw:
        assert bw.intervals("chr1") == ((0, 10, 1.0), (10, 20, 2.0))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="at least one chromosome"):
        BigWigWriter("never.bw", {})
    with pytest.raises(ValueError, match="size"):
        BigWigWriter("never.bw", {"chr1": 1 << 32})
