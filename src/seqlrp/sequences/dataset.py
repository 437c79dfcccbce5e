"""Read the extract stage's outputs back: one-hot (N, 4, L), regions table, classes and splits."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import ALPHABET
from ..errors import InputError
from ..formats.table import UNLABELED, RegionTable, read_regions_tsv


@dataclass
class ExtractedData:
    """Windows of one data set; row ``i`` of ``onehot`` is row ``i`` of ``table``.

    ``onehot`` (N, 4, L) uint8 (a read-only memory map when loaded from disk). Seen through a model
    from outside seqlrp (:func:`seqlrp.models.external.data_for`): ``others``, classes of the data that
    the model has no output for, whose windows are labelled, but with none of ``classes``; and
    ``everywhere``, classes of the model that no class of the data is named like, which explain
    every window.
    """

    onehot: np.ndarray
    table: RegionTable
    classes: list[str]
    seq_len: int
    alphabet: str = ALPHABET
    others: list[str] = field(default_factory=list)
    everywhere: list[str] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        """Class index (N,) int64, in the order of ``classes``; -1 for unlabeled windows; windows of
        ``others`` get ``len(classes)`` and up (no class of the model: a negative for every class)."""
        return self.table.labels([*self.classes, *self.others])

    @property
    def labeled(self) -> np.ndarray:
        """Mask (N,) bool of the windows that have a class (genome-wide tiles have none)."""
        return np.asarray(self.table.cls, dtype=object) != UNLABELED

    def of_class(self, cls: str) -> np.ndarray:
        """Mask (N,) of the windows of class ``cls``; unlabeled windows (tiles) count for every class,
        and every window for a class in ``everywhere``."""
        if cls in self.everywhere:
            return np.ones(len(self.table), dtype=bool)
        return (np.asarray(self.table.cls, dtype=object) == cls) | ~self.labeled

    @property
    def splits(self) -> np.ndarray:
        """Split name (N,) object: ``train``, ``valid`` or ``test``; ``tile`` for genome-wide tiles."""
        return np.asarray(self.table.split, dtype=object)


def load_extracted(
    onehot_path: str | os.PathLike, regions_path: str | os.PathLike, info_path: str | os.PathLike
) -> ExtractedData:
    """Load ``onehot.npy``, ``regions.tsv`` and ``dataset.json`` and check they agree."""
    with open(info_path, encoding="utf-8") as handle:
        info = json.load(handle)
    classes, seq_len = info.get("classes"), info.get("seq_len")
    if not isinstance(classes, list) or not classes or not isinstance(seq_len, int):
        raise InputError(info_path, "dataset summary lacks 'classes' (list) or 'seq_len' (int); rerun the extract stage")
    try:
        onehot = np.load(onehot_path, mmap_mode="r")
    except (ValueError, EOFError, OSError) as err:
        raise InputError(onehot_path, f"not a readable .npy array ({err}); the file may be truncated or corrupted: "
                                      "delete it and rerun") from None
    if onehot.ndim != 3 or onehot.shape[1] != 4 or onehot.shape[2] != seq_len:
        raise InputError(onehot_path, f"expected one-hot of shape (N, 4, {seq_len}), found {onehot.shape}")
    table = read_regions_tsv(regions_path)
    if len(table) != onehot.shape[0]:
        raise InputError(regions_path, f"{len(table)} rows but the one-hot array {Path(onehot_path).name} has {onehot.shape[0]}")
    unknown = sorted(set(table.cls) - set(classes) - {UNLABELED})
    if unknown:
        raise InputError(regions_path, f"class(es) {', '.join(unknown)} not among the data set's classes {', '.join(classes)}")
    return ExtractedData(onehot, table, list(classes), seq_len, info.get("alphabet", ALPHABET))
