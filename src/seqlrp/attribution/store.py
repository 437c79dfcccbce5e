"""The files of one attribution directory and reading them back.

``results/attributions/{class}.{method}/`` holds, for the n explained windows of one class and
method (:mod:`seqlrp.stages.attribute` writes them):

* :data:`ARRAYS` — ``ohe.npz``, ``attr.npz``, ``hyp.npz``: one-hot input, relevance and
  hypothetical contributions, each (n, 4, L) float32 as the single member ``arr_0``;
* ``regions.tsv`` — the windows in the same order, with ``row``, ``logit`` and ``relevance_sum``;
* ``settings.json`` — class, method, the :class:`~seqlrp.attribution.methods.MethodSpec` fields,
  ``target_index``, counts.

:func:`read_attribution` opens the relevance and the one-hot input as memory maps.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formats.arrays import open_npz
from .methods import MethodSpec

ARRAYS = ("ohe", "attr", "hyp")


@dataclass
class Attribution:
    """One attribution directory: relevance and one-hot (n, 4, L) memory maps, logits and sums (n,)."""

    cls: str
    method: str
    spec: MethodSpec
    target: int
    relevance: np.ndarray
    onehot: np.ndarray
    logits: np.ndarray
    sums: np.ndarray


def read_attribution(attr_dir: str | os.PathLike) -> Attribution:
    """Load ``settings.json``, ``regions.tsv`` (logit, relevance_sum), ``attr.npz`` and ``ohe.npz``."""
    attr_dir = Path(attr_dir)
    settings = json.loads((attr_dir / "settings.json").read_text())
    table = attr_dir / "regions.tsv"
    with open(table, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"logit", "relevance_sum"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(table, f"attribution regions table lacks column(s) {', '.join(sorted(missing))}", 1)
        values = [(float(r["logit"]), float(r["relevance_sum"])) for r in reader]
    relevance, onehot = open_npz(attr_dir / "attr.npz"), open_npz(attr_dir / "ohe.npz")
    if relevance.shape != onehot.shape or relevance.shape[0] != len(values):
        raise InputError(attr_dir, f"attr.npz {relevance.shape}, ohe.npz {onehot.shape} and regions.tsv "
                                   f"({len(values)} rows) do not match")
    pairs = np.array(values, dtype=np.float64).reshape(-1, 2)
    return Attribution(settings["class"], settings["method"], MethodSpec.from_settings(settings),
                       int(settings["target_index"]), relevance, onehot, pairs[:, 0], pairs[:, 1])
