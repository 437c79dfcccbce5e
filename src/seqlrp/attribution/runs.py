"""A pipeline run's attributions by class and method: ``seqlrp.open_attribution``.

A run's ``results`` folder holds one store per class and method, ``attributions/{class}.{method}/``
(:mod:`.store`), over the data set's one-hot windows, ``data/onehot.npy``. :func:`open_attribution`
finds both from the names and opens the store with its whole regions table; a name that the run does
not have is refused in one line that lists the stores it does have.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import InputError, SeqlrpError
from ..formats.names import name_problem
from .store import SETTINGS, Attribution, read_attribution

ONEHOT = Path("data") / "onehot.npy"
ATTRIBUTIONS = "attributions"
TABLE_COLUMNS = {"chrom": str, "start": int, "end": int, "strand": str, "name": str, "class": str, "split": str}
"""The regions-table columns :func:`open_attribution` reads into ``Attribution.table``."""


def finished_stores(results: str | os.PathLike = "results") -> list[tuple[str, str]]:
    """``(class, method)`` of every finished store under ``results/attributions``, sorted.

    A store counts once its ``settings.json`` (written last, by the join of its shards) names its
    class and method.
    """
    found = []
    folder = Path(results) / ATTRIBUTIONS
    for path in sorted(folder.glob(f"*/{SETTINGS}")) if folder.is_dir() else []:
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        names = (settings.get("class"), settings.get("method")) if isinstance(settings, dict) else (None, None)
        if all(isinstance(name, str) for name in names):
            found.append(names)
    return sorted(set(found))


def _listing(found: list[tuple[str, str]]) -> str:
    classes = sorted({c for c, _ in found})
    methods = sorted({m for _, m in found})
    return (f"it has {', '.join(f'{c}.{m}' for c, m in found)} (classes: {', '.join(classes)}; "
            f"methods: {', '.join(methods)})")


def open_attribution(cls: str, method: str, *, results: str | os.PathLike = "results") -> Attribution:
    """Open the stored attributions of one class and method of a pipeline run.

    Reads ``{results}/attributions/{cls}.{method}/`` over ``{results}/data/onehot.npy`` with
    ``seqlrp.attribution.store.read_attribution``, reading every column of the regions table.
    The arrays are read lazily: index them (``store.relevance[:10]``) or iterate
    ``store.relevance.chunks()`` rather than loading every window at once.

    Parameters
    ----------
    cls : str
        Class name, as in the config (``positive`` in the demo).
    method : str
        Method name, as in the config's ``attribute.methods`` (``lrp``, ``plrp`` in the demo).
    results : str or os.PathLike, default "results"
        The run's results folder.

    Returns
    -------
    Attribution
        The store: ``relevance`` (n, L) float32, ``hypothetical`` (n, 4, L) float32 and
        ``onehot`` (n, 4, L) uint8 as lazy rows; ``rows`` (n,) the windows' rows in
        ``data/onehot.npy``; ``logits`` and ``sums`` (n,); ``table`` the regions table
        (``chrom``, ``start``, ``end``, ``strand``, ``name``, ``class``, ``split``; genome
        coordinates 0-based, half-open). Window position ``i`` is genome base ``start + i`` on a
        ``+`` window and ``end - 1 - i`` on a ``-`` window (``Attribution.genome_positions``).

    Raises
    ------
    seqlrp.errors.SeqlrpError
        for a class or method name that is not one plain path component.
    seqlrp.errors.InputError
        (a ``SeqlrpError``; one line, ``path: problem``) for a missing results folder or store
        (the message lists the stores the run has), a missing ``data/onehot.npy``, or a store
        that does not match its data set.

    Examples
    --------
    >>> store = open_attribution("positive", "lrp", results="results")
    >>> store.relevance.shape                       # (n, L)
    >>> store.table["chrom"][0], store.genome_positions(0)[:3]
    """
    for what, name in (("class", cls), ("method", method)):
        problem = name_problem(name)
        if problem is not None:
            raise SeqlrpError(f"open_attribution: {what} name {name!r} {problem}")
    results = Path(results)
    folder = results / ATTRIBUTIONS / f"{cls}.{method}"
    if not results.is_dir():
        raise InputError(results, "no such results folder: run the pipeline first (make demo), or pass results= "
                                  "the results folder of a run")
    if not (folder / SETTINGS).is_file():
        found = finished_stores(results)
        if not found:
            raise InputError(folder, f"no attribution store: {results / ATTRIBUTIONS} holds no finished store "
                                     "(has the attribute stage run?)")
        state = "is unfinished (no settings.json: its attribute jobs have not all run)" if folder.is_dir() else \
            "no such attribution store"
        raise InputError(folder, f"{state}; {_listing(found)}")
    onehot = results / ONEHOT
    if not onehot.is_file():
        raise InputError(onehot, f"the run's one-hot data set is missing: {folder} reads its windows there "
                                 "(rerun the extract stage)")
    return read_attribution(folder, onehot, TABLE_COLUMNS)
