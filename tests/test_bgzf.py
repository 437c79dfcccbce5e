import gzip
import zlib

import numpy as np
import pysam
import pytest

from seqlrp.formats.bgzf import BLOCK_INPUT, EOF_BLOCK, BgzfWriter, compress_block


def test_htslib_and_gzip_read_it_back_and_tabix_indexes_it(tmp_path):
    rng = np.random.default_rng(0)
    lines = [f"chr{1 + i // 40000}\t{i}\t{i + 1}\t{v:.5f}\n" for i, v in enumerate(rng.standard_normal(100_000))]
    text = "".join(lines).encode()
    path = tmp_path / "t.bedGraph.gz"
    with BgzfWriter(path, level=6, threads=2) as writer:
        for i in range(0, len(text), 100_003):  # odd chunk sizes cross block boundaries
            writer.write(text[i : i + 100_003])
    assert path.read_bytes().endswith(EOF_BLOCK)
    assert gzip.decompress(path.read_bytes()) == text
    with pysam.BGZFile(str(path), "rb") as handle:
        assert handle.read() == text
    pysam.tabix_index(str(path), force=True, seq_col=0, start_col=1, end_col=2, zerobased=True)
    with pysam.TabixFile(str(path)) as tabix:
        assert [line.split("\t")[1] for line in tabix.fetch("chr2", 40010, 40013)] == ["40010", "40011", "40012"]


def test_block_layout_follows_the_specification(tmp_path):
    path = tmp_path / "x.gz"
    data = bytes(range(256)) * 600  # 153,600 bytes: three blocks
    with BgzfWriter(path, level=1, threads=3) as writer:
        writer.write(data)
    raw = path.read_bytes()
    offset, sizes = 0, []
    while offset < len(raw):
        assert raw[offset : offset + 4] == b"\x1f\x8b\x08\x04" and raw[offset + 12 : offset + 14] == b"BC"
        block_size = int.from_bytes(raw[offset + 16 : offset + 18], "little") + 1
        sizes.append(int.from_bytes(raw[offset + block_size - 4 : offset + block_size], "little"))
        offset += block_size
    assert sizes == [BLOCK_INPUT, BLOCK_INPUT, len(data) - 2 * BLOCK_INPUT, 0]


def test_incompressible_data_is_stored(tmp_path):
    data = np.random.default_rng(1).bytes(3 * BLOCK_INPUT)
    with BgzfWriter(tmp_path / "r.gz", level=9) as writer:
        writer.write(data)
    assert gzip.decompress((tmp_path / "r.gz").read_bytes()) == data


@pytest.mark.parametrize("level", [0, 1, 2, 3, 6, 9])
def test_every_level_gives_bgzf_that_htslib_and_gzip_read(tmp_path, level):
    text = "".join(f"chr1\t{i}\t{i + 1}\t{i % 7 - 3}\n" for i in range(20_000)).encode()
    path = tmp_path / f"l{level}.gz"
    with BgzfWriter(path, level=level) as writer:
        writer.write(np.frombuffer(text, dtype=np.uint8))  # any bytes-like object
    assert gzip.decompress(path.read_bytes()) == text
    with pysam.BGZFile(str(path), "rb") as handle:
        assert handle.read() == text


def test_higher_levels_compress_more():
    text = "".join(f"chr1\t{i}\t{i + 1}\t{(i * 7919) % 1000 / 1000:.3f}\n" for i in range(3000)).encode()[:BLOCK_INPUT]
    sizes = [len(compress_block(text, level)) for level in (0, 1, 3, 9)]
    assert sizes[0] > len(text) > sizes[1] >= sizes[2] > sizes[3]


def test_virtual_offsets_point_where_htslib_reads_the_byte(tmp_path):
    data = bytes(np.random.default_rng(3).integers(65, 91, size=3 * BLOCK_INPUT + 500, dtype=np.uint8))
    path = tmp_path / "v.gz"
    writer = BgzfWriter(path, level=1)
    for i in range(0, len(data), 7_777):  # small writes fill a block across calls
        writer.write(data[i : i + 7_777])
    writer.close()
    raw = path.read_bytes()
    first_block = int.from_bytes(raw[16:18], "little") + 1
    positions = np.array([0, 10, BLOCK_INPUT - 1, BLOCK_INPUT, 2 * BLOCK_INPUT + 3, len(data) - 1, len(data)])
    offsets = writer.virtual_offsets(positions)
    assert offsets[1] == 10
    assert offsets[3] == first_block << 16  # a block's end is the next block's start
    assert offsets[-1] == (len(raw) - len(EOF_BLOCK)) << 16  # the end of the data: the EOF block
    with pysam.BGZFile(str(path), "rb") as handle:
        for position, offset in zip(positions[:-1].tolist(), offsets[:-1].tolist()):
            handle.seek(offset)
            assert handle.read(5) == data[position : position + 5]


def test_a_level_outside_0_to_9_is_refused(tmp_path):
    with pytest.raises(ValueError, match="0..9"):
        BgzfWriter(tmp_path / "x.gz", level=11)


def test_isal_off_gives_zlibs_deflate_at_levels_1_to_3():
    data = b"".join(b"chr1\t%d\t%d\t0.%d\n" % (i, i + 1, i % 97) for i in range(2000))
    for level in (1, 3):
        zlib_block = compress_block(data, level, isal=False)
        assert zlib_block[18:-8] == zlib.compress(data, level, -15)  # header 18 bytes, CRC + size 8
        isal_block = compress_block(data, level)
        assert isal_block[18:-8] != zlib_block[18:-8]
        assert gzip.decompress(isal_block) == gzip.decompress(zlib_block) == data
