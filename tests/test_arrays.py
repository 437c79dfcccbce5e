import zipfile

import numpy as np
import pytest

from seqlrp.errors import InputError
from seqlrp.formats.arrays import ChunkedArrayWriter, open_npz, save_npz


def test_chunked_npz_loads_with_numpy_and_memory_maps(tmp_path):
    rng = np.random.default_rng(0)
    array = rng.standard_normal((37, 4, 11)).astype(np.float32)
    with ChunkedArrayWriter(tmp_path / "attr.npz", array.shape) as writer:
        for lo in range(0, 37, 10):
            writer.write(array[lo : lo + 10])
    with np.load(tmp_path / "attr.npz") as data:  # what tfmodisco-lite does
        assert list(data.keys()) == ["arr_0"]
        np.testing.assert_array_equal(data["arr_0"], array)
    mapped = open_npz(tmp_path / "attr.npz")
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped[5:9], array[5:9])


def test_failed_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with ChunkedArrayWriter(tmp_path / "attr.npz", (4, 2)) as writer:
            writer.write(np.ones((2, 2)))
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_incomplete_array_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="2 of 4 rows written"):
        with ChunkedArrayWriter(tmp_path / "attr.npz", (4, 2)) as writer:
            writer.write(np.ones((2, 2)))
    assert not (tmp_path / "attr.npz").exists()


def test_compressed_npz_falls_back_to_loading(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.savez_compressed(tmp_path / "c.npz", array)
    np.testing.assert_array_equal(open_npz(tmp_path / "c.npz"), array)
    save_npz(tmp_path / "s.npz", array)
    with zipfile.ZipFile(tmp_path / "s.npz") as archive:
        assert archive.getinfo("arr_0.npy").compress_type == zipfile.ZIP_STORED


def test_truncated_file_is_a_clear_error(tmp_path):
    save_npz(tmp_path / "a.npz", np.ones((100, 4, 10), dtype=np.float32))
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "a.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="a.npz: not an npz .*truncated"):
        open_npz(tmp_path / "a.npz")
