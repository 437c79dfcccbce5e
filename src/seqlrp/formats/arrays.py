"""Large arrays on disk, written in chunks: plain ``.npy`` files, or npz that tfmodisco-lite reads.

An attribution array can outgrow memory (100,000 windows x 4 x 1 kb in float32 is 1.6 GB), so
it is streamed chunk by chunk, uncompressed, either into a ``.npy`` file (the attribution store,
:mod:`seqlrp.attribution.store`) or into the single member ``arr_0.npy`` of an ``.npz`` — the
layout ``np.savez`` produces and that ``modisco motifs -s ohe.npz -a hyp.npz`` loads as is.
Both are uncompressed, so later stages read slices in place without loading the whole array:
:func:`open_npz` memory-maps an npz member, :func:`open_npy` reads the rows asked for
(:class:`NpyRows`, plain reads that keep no pages in the process). Writes are plain sequential writes (no
memory map), so a full disk is an ordinary error rather than a crash, and an npz member carries
a fixed timestamp, so the same array gives the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from .atomic import atomic_path

MEMBER = "arr_0.npy"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp: outputs do not depend on the clock


class ChunkedArrayWriter:
    """Write an array of known shape in row chunks into ``path``: a ``.npy`` file when the name
    ends so, else an ``.npz`` with one stored member.

    Use as a context manager: on an exception nothing appears at ``path``.
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, ...], dtype=np.float32):
        self.path = Path(path)
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        plain = self.path.suffix == ".npy"
        self._atomic = atomic_path(self.path, suffix=self.path.suffix if plain else ".npz")
        tmp = self._atomic.__enter__()
        try:
            if plain:
                self._archive = None
                self._member = open(tmp, "wb")
            else:
                self._archive = zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
                info = zipfile.ZipInfo(MEMBER, date_time=_EPOCH)
                info.external_attr = 0o644 << 16
                self._member = self._archive.open(info, "w", force_zip64=True)
            header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
            np.lib.format.write_array_header_1_0(self._member, header)
        except BaseException as err:
            self.abort(err)
            raise
        self._filled = 0

    def write(self, rows: np.ndarray) -> None:
        """Append rows (n, ...) after those already written."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        end = self._filled + rows.shape[0]
        if end > self.shape[0] or rows.shape[1:] != self.shape[1:]:
            raise ValueError(f"{self.path}: rows of shape {rows.shape} up to row {end} do not fit an array of shape {self.shape}")
        if rows.size:
            self._member.write(memoryview(rows).cast("B"))
        self._filled = end

    def close(self) -> None:
        if self._filled != self.shape[0]:
            raise ValueError(f"{self.path}: {self._filled} of {self.shape[0]} rows written")
        try:
            self._member.close()
            if self._archive is not None:
                self._archive.close()
        except BaseException as err:
            self.abort(err)
            raise
        self._atomic.__exit__(None, None, None)

    def abort(self, exc: BaseException) -> None:
        for handle in (getattr(self, "_member", None), getattr(self, "_archive", None)):
            if handle is not None:
                with contextlib.suppress(Exception):  # the first error is the one to report
                    handle.close()
        try:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException as translated:  # a full disk becomes OutputError: report that
            if translated is not exc:
                raise translated from exc

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
        raise InputError(path, f"not an npz with member {MEMBER} ({err}); the file is truncated or corrupted: delete it and rerun") from None
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
    try:
        return np.memmap(path, dtype=dtype, mode="r", offset=array_offset, shape=shape, order="F" if fortran else "C")
    except ValueError as err:
        raise InputError(path, f"array data shorter than its header says ({err}); the file is truncated: delete it and rerun") from None



def open_npy(path: str | os.PathLike, shape: tuple[int | None, ...] | None = None, dtype=None) -> "NpyRows":
    """The rows of a ``.npy`` file, read on indexing (:class:`NpyRows`); ``shape`` (None = any
    length on that axis) and ``dtype``, when given, are checked. A missing, truncated or
    mismatched file is an :class:`~seqlrp.errors.InputError` naming it."""
    array = NpyRows(path)
    if dtype is not None and array.dtype != np.dtype(dtype):
        raise InputError(path, f"array of type {array.dtype}, expected {np.dtype(dtype)}")
    if shape is not None and (array.ndim != len(shape)
                              or any(want is not None and want != got for want, got in zip(shape, array.shape))):
        expected = "(" + ", ".join("n" if want is None else str(want) for want in shape) + ")"
        raise InputError(path, f"array of shape {array.shape}, expected {expected}")
    return array


class NpyRows:
    """A C-order ``.npy`` file whose rows are read with plain reads, not a memory map.

    A memory map keeps every page it touched in the process (its resident set grows with the
    file as a stream reads it: 4 GB for a chromosome's relevance and one-hot); reads into fresh
    arrays leave the kernel's page cache to the kernel. Indexing takes an int, a slice (step 1),
    a 1-d integer array (any order) or a mask; each contiguous run of rows is read in one call.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "array file not found")
        try:
            with open(self.path, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read_header(handle)
                self._offset = handle.tell()
            if fortran or dtype.hasobject:
                raise ValueError("not a C-order array of numbers")
            size = self.path.stat().st_size
            self.shape, self.dtype = tuple(shape), np.dtype(dtype)
            self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
            expected = self._offset + (self.shape[0] if self.shape else 1) * self._row_bytes
            if size < expected:
                raise ValueError(f"{size} bytes, the header needs {expected}")
        except (ValueError, EOFError, OSError) as err:
            raise InputError(self.path, f"not a readable .npy array ({err}); the file is truncated or corrupted: "
                                        "delete it and rerun") from None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            lo, hi, step = key.indices(len(self))
            if step != 1:
                raise IndexError("rows of a .npy file are read by slices of step 1")
            return self._read([(lo, max(lo, hi))])
        index = row_index(key, len(self))
        if isinstance(key, (int, np.integer)):
            return self._read([(int(index[0]), int(index[0]) + 1)])[0]
        if index.size == 0:
            return self._read([])
        unique, inverse = np.unique(index, return_inverse=True)
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        firsts, lasts = unique[np.r_[0, breaks]], unique[np.r_[breaks - 1, unique.size - 1]]
        out = self._read(list(zip(firsts.tolist(), (lasts + 1).tolist())))
        return out if np.array_equal(unique, index) else out[inverse.ravel()]

    def _read(self, runs: list[tuple[int, int]]) -> np.ndarray:
        total = sum(hi - lo for lo, hi in runs)
        out = np.empty((total, *self.shape[1:]), dtype=self.dtype)
        if total == 0 or self._row_bytes == 0:
            return out
        view = memoryview(out.reshape(-1).view(np.uint8))
        with open(self.path, "rb", buffering=0) as handle:
            filled = 0
            for lo, hi in runs:
                handle.seek(self._offset + lo * self._row_bytes)
                end = filled + (hi - lo) * self._row_bytes
                while filled < end:  # one read returns at most ~2 GB
                    got = handle.readinto(view[filled:end])
                    if not got:
                        raise InputError(self.path, "shorter than its header says; the file is truncated: "
                                                    "delete it and rerun")
                    filled += got
        return out


def row_index(key, n: int) -> np.ndarray:
    """Rows (k,) int64 in ``[0, n)`` that ``key`` picks of ``n``: an int (k = 1), a slice, a 1-d
    integer array (negative counts from the end) or a boolean mask of length ``n``; IndexError
    for anything else or a row out of range."""
    if isinstance(key, (int, np.integer)):
        index = int(key) + n if key < 0 else int(key)
        if not 0 <= index < n:
            raise IndexError(f"row {key} out of range for {n} rows")
        return np.array([index], dtype=np.int64)
    if isinstance(key, slice):
        return np.arange(*key.indices(n), dtype=np.int64)
    index = np.asarray(key)
    if index.ndim > 1 or not (index.dtype == bool or np.issubdtype(index.dtype, np.integer) or index.size == 0):
        raise IndexError(f"rows are indexed by an int, a slice, a 1-d integer array or a mask, not {index.dtype} "
                         f"of shape {index.shape}")
    if index.dtype == bool:
        if index.shape != (n,):
            raise IndexError(f"boolean index of shape {index.shape} for {n} rows")
        return np.flatnonzero(index).astype(np.int64)
    index = index.astype(np.int64, copy=False).ravel()
    index = np.where(index < 0, index + n, index)
    if index.size and (index.min() < 0 or index.max() >= n):
        raise IndexError(f"row index out of range for {n} rows")
    return index


class LazyRows:
    """Rows of an (n, *row_shape) array kept in parts (shards, or rows of a memory map), read on indexing.

    ``parts`` are ``(length, read)`` in order; ``read(local)`` returns the rows ``local`` of that
    part (a slice when they are contiguous, else sorted unique int64 indices) as an array
    (rows, *row_shape). Indexing takes an
    int, a slice, an index array (any order, repeats allowed) or a boolean mask, optionally
    followed by more indices for the row axes (``rows[i, :, 5:9]``); only the rows asked for are
    read. ``len``, ``shape`` and ``dtype`` are those of the whole array.
    """

    def __init__(self, parts: list[tuple[int, object]], row_shape: tuple[int, ...], dtype):
        self._readers = [read for _, read in parts]
        self._offsets = np.concatenate([[0], np.cumsum([int(n) for n, _ in parts], dtype=np.int64)]).astype(np.int64)
        self.row_shape, self.dtype = tuple(row_shape), np.dtype(dtype)

    @classmethod
    def of(cls, array: np.ndarray, rows: np.ndarray | None = None) -> "LazyRows":
        """Rows ``rows`` (all when None) of ``array`` (e.g. a memory map), read when indexed."""
        if rows is None:
            return cls([(len(array), array.__getitem__)], array.shape[1:], array.dtype)
        rows = np.asarray(rows, dtype=np.int64)
        return cls([(len(rows), lambda local: array[rows[local]])], array.shape[1:], array.dtype)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.row_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    def __getitem__(self, key):
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if any(np.ndim(item) > 0 for item in rest):
            raise IndexError("the row axes take ints and slices only (an index array there would broadcast with the rows)")
        out = self.read(row_index(key, len(self)))
        if isinstance(key, (int, np.integer)):
            return out[(0, *rest)]
        return out[(slice(None), *rest)] if rest else out

    def read(self, index: np.ndarray) -> np.ndarray:
        """Rows ``index`` (k,) int64, valid and non-negative, as an array (k, *row_shape)."""
        unique, inverse = np.unique(index, return_inverse=True)
        out = np.empty((unique.size, *self.row_shape), dtype=self.dtype)
        part = np.searchsorted(self._offsets, unique, side="right") - 1
        bounds = np.searchsorted(part, np.arange(len(self._readers) + 1))
        for k, read in enumerate(self._readers):
            lo, hi = bounds[k], bounds[k + 1]
            if lo == hi:
                continue
            local = unique[lo:hi] - self._offsets[k]
            contiguous = local[-1] - local[0] + 1 == local.size
            out[lo:hi] = read(slice(int(local[0]), int(local[-1]) + 1) if contiguous else local)
        return out if unique.size == index.size and np.array_equal(unique, index) else out[inverse.ravel()]

    def chunks(self, size: int = 4096):
        """``(lo, rows)`` for consecutive chunks of at most ``size`` rows, in order."""
        for lo in range(0, len(self), size):
            yield lo, self[lo : lo + size]
