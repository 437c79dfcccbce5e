import gzip

import numpy as np
import pysam

from seqlrp.bgzf import BLOCK_INPUT, EOF_BLOCK, BgzfWriter


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
