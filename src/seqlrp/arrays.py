"""Large (N, 4, L) arrays on disk: written in chunks, stored as npz that tfmodisco-lite reads.

An attribution array can outgrow memory (100,000 windows x 4 x 1 kb in float32 is 1.6 GB), so
it is written chunk by chunk through a memory-mapped ``.npy`` and then packed, uncompressed, as
the single member ``arr_0.npy`` of an ``.npz`` — the layout ``np.savez`` produces and that
``modisco motifs -s ohe.npz -a hyp.npz`` loads as is. Because the member is stored, not
deflated, :func:`open_npz` can memory-map it in place: later stages read slices without loading
the whole array.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import InputError

MEMBER = "arr_0.npy"


class ChunkedArrayWriter:
    """Write an array of known shape in row chunks; ``close()`` packs it into ``path`` (.npz).

    Use as a context manager: on an exception nothing appears at ``path``.
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, ...], dtype=np.float32):
        self.path = Path(path)
        self._atomic = atomic_path(self.path, suffix=".npz")
        self._tmp_npz = self._atomic.__enter__()
        self._tmp_npy = self._tmp_npz.with_suffix(".npy")
        self._array = np.lib.format.open_memmap(self._tmp_npy, mode="w+", dtype=dtype, shape=shape)
        self._filled = 0

    def write(self, rows: np.ndarray) -> None:
        """Append rows (n, ...) after those already written."""
        end = self._filled + rows.shape[0]
        if end > self._array.shape[0]:
            raise ValueError(f"{self.path}: writing rows up to {end} into an array of {self._array.shape[0]}")
        self._array[self._filled : end] = rows
        self._filled = end

    def close(self) -> None:
        if self._filled != self._array.shape[0]:
            raise ValueError(f"{self.path}: {self._filled} of {self._array.shape[0]} rows written")
        self._array.flush()
        del self._array
        with zipfile.ZipFile(self._tmp_npz, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            archive.write(self._tmp_npy, arcname=MEMBER)
        self._tmp_npy.unlink()
        self._atomic.__exit__(None, None, None)

    def abort(self, exc: BaseException) -> None:
        if hasattr(self, "_array"):
            del self._array
        self._tmp_npy.unlink(missing_ok=True)
        self._atomic.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> "ChunkedArrayWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            self.close()
        else:
            self.abort(exc)
        return False


def save_npz(path: str | os.PathLike, array: np.ndarray, chunk: int = 4096) -> None:
    """Write ``array`` as an uncompressed single-member npz (see module docstring)."""
    with ChunkedArrayWriter(path, array.shape, array.dtype) as writer:
        for lo in range(0, array.shape[0], chunk):
            writer.write(array[lo : lo + chunk])


def open_npz(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """The ``arr_0`` array of an npz; memory-mapped read-only when the member is stored."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "array file not found")
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(MEMBER)
            stored = info.compress_type == zipfile.ZIP_STORED
    except (zipfile.BadZipFile, KeyError) as err:
        raise InputError(path, f"not an npz with member {MEMBER} ({err}); the file may be truncated") from None
    if not (mmap and stored):
        with np.load(path) as data:
            return data["arr_0"]
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        local_header = handle.read(30)
        name_length = int.from_bytes(local_header[26:28], "little")
        extra_length = int.from_bytes(local_header[28:30], "little")
        data_offset = info.header_offset + 30 + name_length + extra_length
        handle.seek(data_offset)
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        array_offset = handle.tell()
    return np.memmap(path, dtype=dtype, mode="r", offset=array_offset, shape=shape, order="F" if fortran else "C")

