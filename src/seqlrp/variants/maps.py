"""Per-variant relevance maps in the attribution store format, and reading them back with ΔR.

The maps of class ``c`` and method ``m`` are an attribution store (:mod:`seqlrp.attribution.store`)
``results/variants/maps/{c}.{m}/`` with two windows per variant: row ``2k`` the reference window,
row ``2k + 1`` the alternative window of the ``k``-th scored variant (stream order). Its
``regions.tsv`` has the regions-table columns (``chrom``, ``start`` and ``end`` of the reference
window, 0-based, half-open; strand ``+``; ``name`` = ``{variant}:{ref|alt}``; ``class``; ``split``
``variant``), ``row`` (the window's index in the windows array), ``logit`` (the explained score of
that allele) and ``relevance_sum``, then ``variant`` (index in ``scores.tsv``'s ``variant``
column) and ``allele`` (``ref``/``alt``).

The windows themselves are written once per shard, not per class and method:
``results/variants/shards/<k>/windows.npy`` (2m, 4, L) uint8 one-hot (reference and alternative
interleaved as above) and ``index_map.npy`` (m, L) int32 (see
:mod:`seqlrp.sequences.variant_windows`); the store's ``settings.json`` lists them under
``windows`` so :func:`open_variant_maps` finds them.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..attribution.store import (
    SETTINGS,
    Attribution,
    join_shards,
    read_attribution,
    read_settings,
    write_settings,
)
from ..errors import InputError
from ..formats.arrays import ChunkedArrayWriter, LazyRows, open_npy
from ..formats.onehot import onehot_from_codes
from ..formats.table import COLUMNS
from .delta import delta_map

WINDOWS, INDEX_MAP = "windows.npy", "index_map.npy"


def interleave(ref: np.ndarray, alt: np.ndarray) -> np.ndarray:
    """Rows ``ref[0], alt[0], ref[1], alt[1], ...`` of two arrays of equal shape (b, ...)."""
    out = np.empty((2 * len(ref), *ref.shape[1:]), dtype=ref.dtype)
    out[0::2], out[1::2] = ref, alt
    return out


class WindowsWriter:
    """The shard's windows and index maps, batch by batch (``n`` variants of ``length`` bases)."""

    def __init__(self, directory: str | os.PathLike, n: int, length: int):
        directory = Path(directory)
        self._stack = contextlib.ExitStack()  # both files appear, or neither (a failure in one aborts the other)
        try:
            self._windows = self._stack.enter_context(ChunkedArrayWriter(directory / WINDOWS, (2 * n, 4, length),
                                                                         np.uint8))
            self._maps = self._stack.enter_context(ChunkedArrayWriter(directory / INDEX_MAP, (n, length), np.int32))
        except BaseException as err:
            self._stack.__exit__(type(err), err, err.__traceback__)
            raise

    def write(self, batch) -> np.ndarray:
        """Store a :class:`~seqlrp.variants.windows.VariantBatch`; return its one-hot windows (2b, 4, L) uint8."""
        onehot = interleave(onehot_from_codes(batch.ref_codes), onehot_from_codes(batch.alt_codes))
        self._windows.write(onehot)
        self._maps.write(batch.index_map.astype(np.int32))
        return onehot

    def __enter__(self) -> "WindowsWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._stack.__exit__(exc_type, exc, tb)
        return False


class MapTableWriter:
    """The ``regions.tsv`` of one class and method in a shard (module docstring); ``first_row`` is
    the row of the shard's first window among every shard's windows (twice its first variant)."""

    header = [*COLUMNS, "row", "logit", "relevance_sum", "variant", "allele"]

    def __init__(self, handle, cls: str, seq_len: int, first_row: int = 0):
        self._writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        self._writer.writerow(self.header)
        self._cls, self._seq_len, self._row = cls, seq_len, first_row

    def write(self, batch, logit_ref: np.ndarray, logit_alt: np.ndarray, relevance: np.ndarray) -> None:
        """``relevance`` (2b, L) position relevance, interleaved."""
        sums = relevance.sum(axis=1, dtype=np.float64)
        for k, variant in enumerate(batch.variants):
            start = int(batch.ref_start[k])
            for side, logit in (("ref", logit_ref[k]), ("alt", logit_alt[k])):
                index = 2 * k + (side == "alt")
                self._writer.writerow([variant.chrom, start, start + self._seq_len, "+",
                                       f"{int(batch.rows[k])}:{side}", self._cls, "variant", self._row,
                                       f"{logit:.6g}", f"{sums[index]:.6g}", int(batch.rows[k]), side])
                self._row += 1


@dataclass
class VariantMaps:
    """The ref and alt maps of one class and method (:func:`open_variant_maps`).

    ``store`` is the :class:`~seqlrp.attribution.store.Attribution` of 2n windows (row ``2k``: the
    reference window of variant ``k``, ``2k + 1`` its alternative window); ``index_map`` (n, L) int32
    lazily read; ``variants`` (n,) int64 the ``variant`` index of each pair in ``scores.tsv``.
    """

    store: Attribution
    index_map: LazyRows
    variants: np.ndarray

    def __len__(self) -> int:
        return len(self.variants)

    def ref(self, k: int) -> np.ndarray:
        """Position relevance (L,) of variant ``k``'s reference window."""
        return self.store.relevance[2 * k]

    def alt(self, k: int) -> np.ndarray:
        """Position relevance (L,) of variant ``k``'s alternative window."""
        return self.store.relevance[2 * k + 1]

    def delta(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ΔR (L,), alt_only (L,))`` of variant ``k`` on reference coordinates
        (:func:`seqlrp.variants.effects.delta_map`)."""
        rows = self.store.relevance[[2 * k, 2 * k + 1]]
        delta, alt_only = delta_map(np.asarray(self.index_map[k], dtype=np.int64)[None], rows[:1], rows[1:])
        return delta[0], alt_only[0]


def windows_of(settings: Mapping, store_dir: Path) -> list[Path]:
    """The shards' windows folders a variant maps store's settings list (relative to the store)."""
    entries = settings.get("windows")
    if not isinstance(entries, list) or not entries:
        raise InputError(store_dir / SETTINGS, "not a variant maps store (no 'windows' list)")
    folders = []
    for entry in entries:
        parts = Path(str(entry)).parts
        if Path(str(entry)).is_absolute() or not parts:
            raise InputError(store_dir / SETTINGS, f"windows folder {entry!r} is not a relative path")
        folders.append((store_dir / str(entry)).resolve())
    return folders


def open_variant_maps(store_dir: str | os.PathLike) -> VariantMaps:
    """Open ``results/variants/maps/{class}.{method}`` (lazily: nothing but the tables is read)."""
    store_dir = Path(store_dir)
    settings = read_settings(store_dir / SETTINGS)
    folders = windows_of(settings, store_dir)
    windows = [open_npy(folder / WINDOWS, shape=(None, 4, None)) for folder in folders]
    maps = [open_npy(folder / INDEX_MAP, shape=(None, None)) for folder in folders]
    onehot = LazyRows([(len(w), w.__getitem__) for w in windows], windows[0].shape[1:], np.uint8)
    index_map = LazyRows([(len(m), m.__getitem__) for m in maps], maps[0].shape[1:], np.int32)
    store = read_attribution(store_dir, onehot, columns={"chrom": str, "start": int, "end": int, "strand": str,
                                                         "name": str, "variant": int, "allele": str})
    return VariantMaps(store, index_map, store.table["variant"][0::2])


def write_map_settings(path: str | os.PathLike, settings: Mapping, windows_dir: str | os.PathLike) -> None:
    """A shard's ``settings.json`` with the relative path to its windows folder."""
    shard_dir = Path(path).parent
    relative = os.path.relpath(Path(windows_dir), shard_dir).replace(os.sep, "/")
    write_settings(path, {**settings, "windows": [relative]})


def join_variant_maps(shard_dirs: Sequence[str | os.PathLike], outputs: Mapping[str, str | os.PathLike]) -> int:
    """The store of one class and method over its shards (:func:`seqlrp.attribution.store.join_shards`),
    its ``settings.json`` listing every shard's windows folder relative to the store; returns the
    number of windows (twice the number of variants)."""
    n = join_shards(shard_dirs, outputs)
    store_dir = Path(outputs["settings"]).parent
    windows = []
    for shard in shard_dirs:
        for folder in windows_of(read_settings(Path(shard) / SETTINGS), Path(shard)):
            windows.append(os.path.relpath(folder, store_dir.resolve()).replace(os.sep, "/"))
    write_settings(outputs["settings"], {**read_settings(outputs["settings"]), "windows": windows})
    return n

