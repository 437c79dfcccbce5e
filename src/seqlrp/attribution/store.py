"""The attribution store of one class and method: written shard by shard, read in place.

``results/attributions/{class}.{method}/`` holds, for the n explained windows of one class and
method (:mod:`seqlrp.stages.attribute` writes it):

* ``regions.tsv`` — the windows in order: the regions-table columns, ``row`` (index in
  ``results/data``), ``logit`` and ``relevance_sum``;
* ``settings.json`` — class, method, the :class:`~seqlrp.attribution.methods.MethodSpec` fields,
  ``target_index``, counts, and ``store``: the layout version and the shards in order, each
  ``{"dir": "shards/<k>", "n_windows": m}``;
* ``shards/<k>/`` — one attribute job's windows (:data:`SHARD_ARRAYS`, plus that shard's own
  ``regions.tsv`` and ``settings.json``). Later stages read the shards where they lie: nothing
  is copied into one file.

Per window of length L a shard keeps 10 bytes per base (10 kB per 1 kb window; the one-hot input
is not copied, it is ``results/data/onehot.npy`` at the table's ``row``):

* ``relevance.npy`` (m, L) float32 — the relevance of each position, summed over A, C, G, T.
  For input rules of the form ``R = x * g`` (the default) only the observed base carries
  relevance, so this is the observed base's relevance; N positions keep what the rule gave them.
* ``hyp.npy`` (m, 3, L) float16 and ``hyp_scale.npy`` (m,) float32 — the hypothetical
  contributions H of the three bases *not* observed at each position, in A, C, G, T order (at
  an N position C, G, T), divided by the window's scale: a power of two that puts the window's
  largest value in [2^14, 2^15), so float16 neither overflows nor loses small windows to
  subnormals (relative error <= 2^-11 of the window's largest value).
* ``hyp_n_sites.npy`` (k, 2) int64 and ``hyp_n_a.npy`` (k,) float32 — (window, position) of each
  N position, sorted, and H of A there: the one value an N position has no slot for.

H at the observed base is not stored: it is the position's relevance, by the identity
``(x * H).sum(1) == R.sum(1)`` for one-hot ``x`` (:func:`seqlrp.lrp.relevance`). So
:func:`read_attribution` gives back ``relevance`` (n, L) and ``hypothetical`` (n, 4, L) float32
exactly at the observed bases and to float16 precision elsewhere, both read lazily
(:class:`~seqlrp.formats.arrays.LazyRows`): memory holds only what a caller indexes.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, SeqlrpError
from ..formats.arrays import ChunkedArrayWriter, LazyRows, open_npy
from ..formats.atomic import atomic_write_text
from .spec import MethodSpec

LAYOUT_VERSION = 2
SHARD_ARRAYS = {
    "relevance": "relevance.npy",
    "hyp": "hyp.npy",
    "hyp_scale": "hyp_scale.npy",
    "hyp_n_sites": "hyp_n_sites.npy",
    "hyp_n_a": "hyp_n_a.npy",
}
TABLE, SETTINGS = "regions.tsv", "settings.json"
SHARD_FILES = (*SHARD_ARRAYS.values(), TABLE, SETTINGS)

OLD_LAYOUT = ("ohe.npz", "attr.npz", "hyp.npz")  # what seqlrp wrote before the store; no longer read
log = logging.getLogger(__name__)

_OTHERS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]], dtype=np.int64)  # channels other than c, in order
_TOP_EXPONENT = 15  # float16 holds < 2^16: the largest |H| of a window is scaled into [2^14, 2^15)


def observed_bases(onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed channel (b, L) int64 of one-hot (b, 4, L), 0 at N positions, and the N mask (b, L)."""
    x = np.asarray(onehot)
    return np.argmax(x, axis=1), x.sum(axis=1) == 0


def window_scales(values: np.ndarray) -> np.ndarray:
    """Per-window power of two (b,) float32 that puts max |values[i]| of (b, ...) into [2^14, 2^15)."""
    flat = np.abs(np.asarray(values, dtype=np.float32).reshape(len(values), -1))
    flat = np.where(np.isfinite(flat), flat, 0)
    largest = flat.max(axis=1, initial=0.0)
    exponent = np.frexp(largest)[1].astype(np.int64) - _TOP_EXPONENT
    exponent = np.where(largest > 0, np.clip(exponent, -140, 113), 0)
    return np.ldexp(np.float32(1.0), exponent.astype(np.int32)).astype(np.float32)


def pack_hypothetical(hypothetical: np.ndarray, onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split H (b, 4, L) into what a shard stores: ``hyp`` (b, 3, L) float16, ``scale`` (b,),
    ``n_sites`` (k, 2) (window, position) and ``n_a`` (k,) (see the module docstring)."""
    hypothetical = np.asarray(hypothetical, dtype=np.float32)
    observed, is_n = observed_bases(onehot)
    others = np.transpose(_OTHERS[observed], (0, 2, 1))  # (b, 3, L)
    alternatives = np.take_along_axis(hypothetical, others, axis=1)
    scale = window_scales(alternatives)
    packed = (alternatives / scale[:, None, None]).astype(np.float16)
    sites = np.argwhere(is_n).astype(np.int64).reshape(-1, 2)
    return packed, scale, sites, hypothetical[sites[:, 0], 0, sites[:, 1]].astype(np.float32)


def unpack_hypothetical(packed: np.ndarray, scale: np.ndarray, relevance: np.ndarray, onehot: np.ndarray,
                        n_sites: np.ndarray, n_a: np.ndarray) -> np.ndarray:
    """H (b, 4, L) float32 back from :func:`pack_hypothetical`'s parts and the position relevance (b, L);
    ``n_sites`` rows index the b windows given."""
    observed, is_n = observed_bases(onehot)
    out = np.empty((len(packed), 4, packed.shape[-1]), dtype=np.float32)
    values = np.asarray(packed, dtype=np.float32) * np.asarray(scale, dtype=np.float32)[:, None, None]
    np.put_along_axis(out, np.transpose(_OTHERS[observed], (0, 2, 1)), values, axis=1)
    np.put_along_axis(out, observed[:, None, :], np.asarray(relevance, dtype=np.float32)[:, None, :], axis=1)
    out[n_sites[:, 0], 0, n_sites[:, 1]] = n_a
    return out


class ShardWriter:
    """Write one shard's arrays batch by batch (:data:`SHARD_ARRAYS` under ``paths``' keys).

    ``n`` windows of ``length`` bases; :meth:`write` takes the one-hot input (b, 4, L), relevance
    (b, 4, L) and hypothetical contributions (b, 4, L) of the next b windows. Use as a context
    manager: on an exception no array appears.
    """

    def __init__(self, paths: Mapping[str, str | os.PathLike], n: int, length: int):
        self._paths = {key: Path(paths[key]) for key in SHARD_ARRAYS}
        self._stack = contextlib.ExitStack()
        try:
            self._relevance = self._stack.enter_context(ChunkedArrayWriter(self._paths["relevance"], (n, length)))
            self._hyp = self._stack.enter_context(ChunkedArrayWriter(self._paths["hyp"], (n, 3, length), np.float16))
            self._scale = self._stack.enter_context(ChunkedArrayWriter(self._paths["hyp_scale"], (n,)))
        except BaseException as err:  # e.g. a full disk at the second file: the first goes too
            self._stack.__exit__(type(err), err, err.__traceback__)
            raise
        self._sites: list[np.ndarray] = []
        self._n_a: list[np.ndarray] = []
        self._n, self._done = n, 0

    def write(self, onehot: np.ndarray, relevance: np.ndarray, hypothetical: np.ndarray) -> np.ndarray:
        """Store the next windows; return their position relevance (b, L) float32."""
        position = np.asarray(relevance, dtype=np.float32).sum(axis=1, dtype=np.float32)
        packed, scale, sites, n_a = pack_hypothetical(hypothetical, onehot)
        self._relevance.write(position)
        self._hyp.write(packed)
        self._scale.write(scale)
        self._sites.append(sites + np.array([self._done, 0]))
        self._n_a.append(n_a)
        self._done += len(position)
        return position

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            try:
                if self._done != self._n:
                    raise ValueError(f"{self._paths['relevance'].parent}: {self._done} of {self._n} rows written")
                sites = np.concatenate(self._sites) if self._sites else np.zeros((0, 2), np.int64)
                n_a = np.concatenate(self._n_a) if self._n_a else np.zeros(0, np.float32)
                for key, array in (("hyp_n_sites", sites), ("hyp_n_a", n_a)):
                    writer = self._stack.enter_context(ChunkedArrayWriter(self._paths[key], array.shape, array.dtype))
                    writer.write(array)
            except BaseException as err:
                self._stack.__exit__(type(err), err, err.__traceback__)
                raise
        self._stack.__exit__(exc_type, exc, tb)
        return False


def write_settings(path: str | os.PathLike, settings: Mapping) -> None:
    with atomic_write_text(path) as handle:
        json.dump(settings, handle, indent=2, sort_keys=True)
        handle.write("\n")


def read_settings(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(path, f"unreadable attribution settings ({err}); delete it and rerun") from None


def join_shards(shard_dirs: Iterable[str | os.PathLike], outputs: Mapping[str, str | os.PathLike]) -> int:
    """Write the store's ``regions`` and ``settings`` (``outputs``) over ``shard_dirs``, in order;
    return the number of windows. The arrays stay where they are; each shard's arrays are checked
    against its table (lengths only: the headers are read, not the data)."""
    shard_dirs = [Path(d) for d in shard_dirs]
    if not shard_dirs:
        raise SeqlrpError("attribute: no shards to join")
    store_dir = Path(outputs["settings"]).parent
    settings = [read_settings(d / SETTINGS) for d in shard_dirs]
    entries = []
    for shard, shard_settings in zip(shard_dirs, settings):
        if not isinstance(shard_settings.get("n_windows"), int) or not isinstance(shard_settings.get("seq_len"), int):
            raise InputError(shard / SETTINGS, "lacks n_windows or seq_len (an older seqlrp's shard): delete the "
                                               "shard and rerun")
        n = int(shard_settings["n_windows"])
        _open_shard(shard, n, int(shard_settings["seq_len"]))
        entries.append({"dir": os.path.relpath(shard, store_dir).replace(os.sep, "/"), "n_windows": n})
    with atomic_write_text(outputs["regions"]) as out:
        for i, shard in enumerate(shard_dirs):
            with open(shard / TABLE, encoding="utf-8") as handle:
                header = handle.readline()
                if i == 0:
                    out.write(header)
                out.writelines(handle)
    stale = [store_dir / name for name in OLD_LAYOUT if (store_dir / name).is_file()]
    if stale:
        size = sum(path.stat().st_size for path in stale) / 1e9
        log.warning("attribute: %s (%.2f GB) from an older seqlrp are no longer read; delete them to free the space",
                    ", ".join(str(path) for path in stale), size)
    merged = {**settings[0], "n_windows": sum(e["n_windows"] for e in entries),
              "store": {"version": LAYOUT_VERSION, "shards": entries}}
    write_settings(outputs["settings"], merged)
    return merged["n_windows"]


def read_table_columns(path: str | os.PathLike, columns: Mapping[str, type], chunk: int = 65536,
                       rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Columns of an attribution ``regions.tsv`` as arrays: ``{name: int | float | str}`` (int64,
    float64, or object arrays of shared strings), of every window or only of ``rows`` (unique
    0-based window indices, returned in that order); parsed ``chunk`` rows at a time, so the
    Python objects of a parse never outnumber a chunk."""
    path = Path(path)
    wanted = None if rows is None else {int(r): i for i, r in enumerate(rows)}
    order: list[int] = []
    types = {int: np.int64, float: np.float64, str: object}
    seen: dict[str, str] = {}  # one object per distinct string: chromosome and strand columns repeat
    kinds = {name: (lambda text: seen.setdefault(text, text)) if kind is str else kind for name, kind in columns.items()}
    parts: dict[str, list[np.ndarray]] = {name: [] for name in columns}
    values: dict[str, list] = {name: [] for name in columns}

    def flush() -> None:
        for name, kind in columns.items():
            parts[name].append(np.array(values[name], dtype=types[kind]))
            values[name].clear()

    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, [])
        missing = sorted(set(columns) - set(header))
        if missing:
            raise InputError(path, f"attribution regions table lacks column(s) {', '.join(missing)}", 1)
        where = {name: header.index(name) for name in columns}
        for line_no, row in enumerate(reader, start=2):
            if wanted is not None:
                if line_no - 2 not in wanted:
                    continue
                order.append(wanted[line_no - 2])
            try:
                for name, kind in kinds.items():
                    values[name].append(kind(row[where[name]]))
            except (IndexError, ValueError):
                raise InputError(path, f"malformed row (columns {', '.join(columns)})", line_no) from None
            if len(values[next(iter(columns))]) == chunk:
                flush()
    flush()
    table = {name: np.concatenate(parts[name]) for name in columns}
    if wanted is None:
        return table
    if len(order) != len(wanted):
        raise InputError(path, f"{len(wanted) - len(order)} of the windows asked for are not in the table")
    placed = np.argsort(np.array(order, dtype=np.int64), kind="stable")
    return {name: column[placed] for name, column in table.items()}


@dataclass
class Attribution:
    """One class and method's store, opened (see the module docstring).

    Row ``k`` of every array and of ``table`` is the ``k``-th explained window; position ``i``
    along the last axis is base ``i`` of the window as the model saw it (0-based, 5'->3' on the
    window's strand). Arrays read lazily (``seqlrp.formats.arrays.LazyRows``): index them
    (``relevance[k]``, ``relevance[:100]``, ``relevance[mask]``) or iterate ``.chunks()``;
    memory holds only what is indexed.

    Attributes
    ----------
    directory : pathlib.Path
        The store's folder, ``results/attributions/{cls}.{method}``.
    cls : str
        The explained class.
    method : str
        The method's name in the config.
    spec : MethodSpec
        The method's settings (composite, input rule, pruning).
    target : int
        The explained output index (the class's index among the model's classes).
    settings : dict
        The store's ``settings.json``.
    table : dict of str to numpy.ndarray, each shape (n,)
        The columns of ``regions.tsv`` that were read: always ``row``, ``logit`` and
        ``relevance_sum``; with ``seqlrp.open_attribution`` also ``chrom``, ``start``, ``end``
        (genome coordinates of the window, 0-based, half-open, ``end - start == L``; a window
        padded with N at a chromosome end keeps its true coordinates), ``strand`` (``-``: the
        one-hot row is the reverse complement of the genome window), ``name``, ``class`` and
        ``split``.
    rows : numpy.ndarray, shape (n,), int64
        Each window's row in the data set's ``onehot.npy`` (and ``results/data/regions.tsv``).
    logits : numpy.ndarray, shape (n,), float64
        The explained logit of each window.
    sums : numpy.ndarray, shape (n,), float64
        The summed relevance of each window.
    relevance : LazyRows, shape (n, L), float32
        The relevance of each position, summed over A, C, G, T (for the default rules only the
        observed base carries relevance).
    hypothetical : LazyRows, shape (n, 4, L), float32
        The hypothetical contributions: ``hypothetical[k, c, i]`` is the relevance position ``i``
        would receive were base ``c`` there (exact at the observed base, float16 precision
        elsewhere); ``(onehot * hypothetical).sum(1) == relevance`` at every A, C, G, T position.
    onehot : LazyRows, shape (n, 4, L), uint8
        The windows' one-hot input, channels A, C, G, T (rows ``rows`` of ``onehot.npy``).
    """

    directory: Path
    cls: str
    method: str
    spec: MethodSpec
    target: int
    settings: dict
    table: dict[str, np.ndarray]
    rows: np.ndarray
    logits: np.ndarray
    sums: np.ndarray
    relevance: LazyRows
    hypothetical: LazyRows
    onehot: LazyRows

    def __len__(self) -> int:
        return len(self.rows)

    def genome_positions(self, window: int) -> np.ndarray:
        """The genome coordinate of every position of one window.

        Parameters
        ----------
        window : int
            The window's index ``k`` in this store (a row of ``relevance``), not its data-set row.

        Returns
        -------
        numpy.ndarray, shape (L,), int64
            0-based genome coordinate of window position ``i`` on chromosome
            ``table["chrom"][window]``: ``start + i`` on a ``+`` window, ``end - 1 - i`` on a ``-``
            window (its one-hot row is the reverse complement). Positions of N padding past a
            chromosome end lie outside ``[0, chromosome length)``.

        Raises
        ------
        KeyError
            when the table was read without ``start``, ``end`` and ``strand``
            (``seqlrp.open_attribution`` reads them).
        """
        missing = [c for c in ("start", "end", "strand") if c not in self.table]
        if missing:
            raise KeyError(f"the store was opened without the table column(s) {', '.join(missing)}: open it with "
                           "seqlrp.open_attribution, or read_attribution(..., columns={'start': int, 'end': int, "
                           "'strand': str})")
        length = self.relevance.shape[1]
        offsets = np.arange(length, dtype=np.int64)
        if self.table["strand"][window] == "-":
            return int(self.table["end"][window]) - 1 - offsets
        return int(self.table["start"][window]) + offsets


def read_attribution(attr_dir: str | os.PathLike, onehot_path: str | os.PathLike,
                     columns: Mapping[str, type] | None = None) -> Attribution:
    """Open the attribution store in ``attr_dir`` over the data set's one-hot array.

    Nothing is loaded but the regions table's columns: the arrays are read where they lie, shard
    by shard, when indexed. ``seqlrp.open_attribution(cls, method)`` finds both paths of a run.

    Parameters
    ----------
    attr_dir : str or os.PathLike
        The store, ``results/attributions/{class}.{method}``.
    onehot_path : str or os.PathLike or array-like
        The data set's one-hot array, ``results/data/onehot.npy``, shape (N, 4, L), or the array
        itself (a memory map or :class:`~seqlrp.formats.arrays.LazyRows`).
    columns : dict of str to type, optional
        Columns of the store's ``regions.tsv`` beyond ``row``, ``logit`` and ``relevance_sum``
        to read into ``table`` in the same pass, with their types, e.g.
        ``{"chrom": str, "start": int, "strand": str}`` (``start``/``end``: genome coordinates,
        0-based, half-open).

    Returns
    -------
    Attribution
        ``relevance`` (n, L) and ``hypothetical`` (n, 4, L) float32, ``onehot`` (n, 4, L) uint8,
        lazy; ``rows``, ``logits``, ``sums`` (n,); ``table`` (see ``Attribution``).

    Raises
    ------
    seqlrp.errors.InputError
        (one line, ``path: problem``) for a missing or unreadable file, a store written by an
        older seqlrp, a table or shard that does not match the store's settings, or rows outside
        the one-hot array (the data set changed since the store was written).
    """
    attr_dir = Path(attr_dir)
    settings = read_settings(attr_dir / SETTINGS)
    store = settings.get("store")
    if not isinstance(store, Mapping) or store.get("version") != LAYOUT_VERSION:
        raise InputError(attr_dir / SETTINGS, "written by an older seqlrp (ohe/attr/hyp.npz): rerun the attribute "
                                              f"stage (delete {attr_dir}) to get the sharded store")
    table = read_table_columns(attr_dir / TABLE, {**(columns or {}), "row": int, "logit": float, "relevance_sum": float})
    rows = table["row"]
    # a path, or an array-like (N, 4, L) such as LazyRows over shards (the variant maps' windows)
    onehot_all = onehot_path if hasattr(onehot_path, "shape") else open_npy(onehot_path, shape=(None, 4, None))
    length = onehot_all.shape[2]
    if rows.size and (rows.min() < 0 or rows.max() >= len(onehot_all)):
        raise InputError(attr_dir / TABLE, f"rows outside the data set's {len(onehot_all)} windows ({onehot_path}): "
                                           "the data set changed since; rerun the attribute stage")
    onehot = LazyRows.of(onehot_all, rows)
    shards, offset = [], 0
    for entry in store["shards"]:
        parts = Path(str(entry["dir"])).parts
        if Path(str(entry["dir"])).is_absolute() or ".." in parts or not parts:
            raise InputError(attr_dir / SETTINGS, f"shard {entry['dir']!r} is not a folder inside {attr_dir}")
        shard_dir = attr_dir / entry["dir"]
        n = int(entry["n_windows"])
        shards.append((n, _open_shard(shard_dir, n, length), offset))
        offset += n
    if offset != len(rows):
        raise InputError(attr_dir / TABLE, f"{len(rows)} windows, but the shards in {SETTINGS} hold {offset}; "
                                           "rerun the attribute stage")
    relevance = LazyRows([(n, arrays["relevance"].__getitem__) for n, arrays, _ in shards], (length,), np.float32)

    def hypothetical_of(arrays: dict, start: int):
        def read(local):  # a slice or sorted unique rows of the shard (LazyRows)
            local_rows = np.arange(local.start, local.stop) if isinstance(local, slice) else local
            sites, n_a = arrays["hyp_n_sites"], arrays["hyp_n_a"]
            pick, renumber = _sites_of(sites[:, 0], local_rows)
            return unpack_hypothetical(arrays["hyp"][local], arrays["hyp_scale"][local], arrays["relevance"][local],
                                       onehot[start + local_rows], np.column_stack([renumber, sites[pick, 1]]), n_a[pick])
        return read

    hypothetical = LazyRows([(n, hypothetical_of(arrays, start)) for n, arrays, start in shards], (4, length),
                            np.float32)
    return Attribution(attr_dir, settings["class"], settings["method"], MethodSpec.from_settings(settings),
                       int(settings["target_index"]), settings, table, rows, table["logit"], table["relevance_sum"],
                       relevance, hypothetical, onehot)


def _sites_of(windows: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The N sites of ``rows`` (sorted, unique) among sites whose window column ``windows`` is
    sorted: their indices, and for each the position of its window in ``rows``."""
    lo, hi = np.searchsorted(windows, rows, side="left"), np.searchsorted(windows, rows, side="right")
    counts = hi - lo
    first = np.cumsum(counts) - counts
    pick = np.repeat(lo, counts) + np.arange(int(counts.sum())) - np.repeat(first, counts)
    return pick.astype(np.int64), np.repeat(np.arange(rows.size), counts)


def _open_shard(shard_dir: Path, n: int, length: int) -> dict[str, np.ndarray]:
    """The arrays of one shard (:class:`~seqlrp.formats.arrays.NpyRows`), their shapes checked against ``n``
    windows of ``length``."""
    shapes = {"relevance": ((n, length), np.float32), "hyp": ((n, 3, length), np.float16),
              "hyp_scale": ((n,), np.float32), "hyp_n_sites": ((None, 2), np.int64), "hyp_n_a": ((None,), np.float32)}
    arrays = {key: open_npy(shard_dir / SHARD_ARRAYS[key], *shapes[key]) for key in SHARD_ARRAYS}
    if len(arrays["hyp_n_sites"]) != len(arrays["hyp_n_a"]):
        raise InputError(shard_dir / SHARD_ARRAYS["hyp_n_a"], f"{len(arrays['hyp_n_a'])} values for "
                                                              f"{len(arrays['hyp_n_sites'])} N positions; rerun the shard")
    arrays["hyp_n_sites"] = np.asarray(arrays["hyp_n_sites"])
    arrays["hyp_n_a"] = np.asarray(arrays["hyp_n_a"])
    return arrays
