"""Motif matching: TOMTOM (memelite's tomtom-lite) against JASPAR, with Benjamini-Hochberg q-values.

The target database is JASPAR as pyjaspar ships it (offline), by default the CORE collection's
vertebrate matrices, as letter probabilities (4, w) over A, C, G, T (counts / column total).
It is read once per run into an ``.npz`` (:func:`save_database`) that every motif job loads.

For each query, tomtom-lite gives the p-value of its best alignment with every target (both
target strands). q-values are Benjamini-Hochberg adjusted over all targets, per query, as
MEME's TOMTOM reports them. The table keeps each query's ``max_hits`` best targets.

Alignment (memelite's convention, checked in tests): ``offset`` is the target column that
query column 0 faces, in the frame of the target strand given by ``strand`` (``-``: the
target's reverse complement). Negative offsets mean the query starts before the target.

A :class:`~seqlrp.analysis.motifs.Motif` has two queries, its PWM (``{id}``) and its CWM
(``{id}.cwm``): :func:`best_hits` keeps its best hit over both, and :func:`motif_labels` names it
after that hit (``FACTOR(JASPAR ID)``) when the hit is significant.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, SeqlrpError
from ..formats.atomic import atomic_path, atomic_write_text
from .motifs import Motif

TOMTOM_COLUMNS = ("query", "target_id", "target_name", "p_value", "q_value", "offset", "overlap", "strand")


@dataclass(frozen=True)
class MotifDatabase:
    """Target motifs: ``matrices[i]`` (4, w_i) letter probabilities of ``ids[i]`` / ``names[i]``."""

    ids: list[str]
    names: list[str]
    matrices: list[np.ndarray]
    release: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, matrix_id: str) -> int:
        return self.ids.index(matrix_id)


def fetch_jaspar(collection: str = "CORE", tax_group: Sequence[str] | None = ("vertebrates",)) -> MotifDatabase:
    """JASPAR matrices from pyjaspar's bundled database (no network), sorted by matrix ID."""
    from pyjaspar import jaspardb

    database = jaspardb()
    found = database.fetch_motifs(collection=collection, tax_group=list(tax_group) if tax_group else None)
    if not found:
        raise SeqlrpError(f"motifs: no JASPAR matrices in {database.release} for collection {collection!r}, "
                          f"tax_group {list(tax_group or [])}")
    records = []
    for motif in found:
        counts = np.array([motif.counts[base] for base in "ACGT"], dtype=np.float64)
        totals = counts.sum(axis=0, keepdims=True)
        records.append((motif.matrix_id, motif.name, np.divide(counts, totals, out=np.full_like(counts, 0.25), where=totals > 0)))
    records.sort(key=lambda record: record[0])
    return MotifDatabase([r[0] for r in records], [r[1] for r in records], [r[2] for r in records], database.release)


def save_database(database: MotifDatabase, path: str | os.PathLike) -> None:
    """Write the database as one ``.npz``: ``matrix`` (4, total width), ``widths``, ``ids``, ``names``, ``release``."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, matrix=np.concatenate(database.matrices, axis=1),
                 widths=np.array([m.shape[1] for m in database.matrices], dtype=np.int64),
                 ids=np.array(database.ids, dtype=str), names=np.array(database.names, dtype=str),
                 release=np.array(database.release, dtype=str))


def load_database(path: str | os.PathLike) -> MotifDatabase:
    """Read a database written by :func:`save_database`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            matrix, widths = data["matrix"], data["widths"]
            ids, names, release = data["ids"].tolist(), data["names"].tolist(), str(data["release"])
    except (OSError, KeyError, ValueError) as err:
        raise InputError(path, f"not a seqlrp motif database ({err})") from None
    bounds = np.concatenate([[0], np.cumsum(widths)])
    return MotifDatabase(ids, names, [matrix[:, lo:hi].copy() for lo, hi in zip(bounds[:-1], bounds[1:])], release)


def bh_qvalues(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis of ``p_values`` (..., m)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    # q of the k-th smallest p: the minimum of the adjusted values from rank k up
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(ranked)
    np.put_along_axis(q, order, np.minimum(ranked, 1.0), axis=-1)
    return q


@dataclass(frozen=True)
class Hit:
    """One query-target pair of the TOMTOM table (see the module docstring for ``offset``)."""

    query: str
    target_id: str
    target_name: str
    p_value: float
    q_value: float
    offset: int
    overlap: int
    strand: str


def tomtom_hits(queries: Mapping[str, np.ndarray], database: MotifDatabase, max_hits: int = 10,
                threads: int | None = None, keep_q: float = 0.0) -> list[Hit]:
    """Compare every query (4, w) probability matrix with every target.

    Keeps, per query, its ``max_hits`` best targets and every target with q < ``keep_q`` (a motif
    family such as AP-1 has dozens of significant members). Hits are grouped by query in the
    order of ``queries`` and sorted by p-value (ties: target order).
    """
    if not queries:
        return []
    from memelite import tomtom

    names = list(queries)
    matrices = [np.asarray(queries[name], dtype=np.float64) for name in names]
    for name, matrix in zip(names, matrices):
        if matrix.ndim != 2 or matrix.shape[0] != 4 or matrix.shape[1] == 0:
            raise SeqlrpError(f"motifs: query {name} must be a (4, w) matrix with w > 0, got {matrix.shape}")
    import numba

    n_jobs = min(int(threads), numba.config.NUMBA_NUM_THREADS) if threads else -1
    p, _, offsets, overlaps, strands = tomtom(matrices, database.matrices, n_jobs=n_jobs)[:5]
    q = bh_qvalues(p)
    hits = []
    for i, name in enumerate(names):
        order = np.argsort(p[i], kind="stable")
        keep = max(max_hits, int(np.count_nonzero(q[i] < keep_q)))
        for j in order[:keep]:
            hits.append(Hit(name, database.ids[j], database.names[j], float(p[i, j]), float(q[i, j]), int(offsets[i, j]),
                            int(overlaps[i, j]), "+-"[int(strands[i, j])]))
    return hits


def write_tomtom_tsv(path: str | os.PathLike, hits: Sequence[Hit]) -> None:
    """Write ``hits`` as a TSV with a header (:data:`TOMTOM_COLUMNS`), p- and q-values to 6 significant digits."""
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(TOMTOM_COLUMNS)
        for hit in hits:
            writer.writerow([hit.query, hit.target_id, hit.target_name, f"{hit.p_value:.6g}", f"{hit.q_value:.6g}",
                             hit.offset, hit.overlap, hit.strand])


def read_tomtom_tsv(path: str | os.PathLike) -> list[Hit]:
    """Read a table written by :func:`write_tomtom_tsv`."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(header) != TOMTOM_COLUMNS:
            raise InputError(path, f"not a seqlrp TOMTOM table: header must be {'/'.join(TOMTOM_COLUMNS)}", 1)
        return [Hit(r[0], r[1], r[2], float(r[3]), float(r[4]), int(r[5]), int(r[6]), r[7]) for r in reader]


def best_hits(motifs: Sequence[Motif], hits: Sequence[Hit]) -> dict[str, tuple[Hit, str]]:
    """Per motif id, its best hit over the PWM and CWM queries (lowest q, then p, PWM first) and which gave it."""
    best: dict[str, tuple[Hit, str]] = {}
    for motif in motifs:
        candidates = [(hit, "cwm" if hit.query.endswith(".cwm") else "pwm") for hit in hits
                      if hit.query in (motif.identifier, f"{motif.identifier}.cwm")]
        if candidates:
            best[motif.identifier] = min(candidates, key=lambda c: (c[0].q_value, c[0].p_value, c[1] == "cwm"))
    return best


def motif_labels(motifs: Sequence[Motif], significant: Mapping[str, Hit]) -> dict[str, str]:
    """Motif id -> the name its instances and seqlets carry in the BED files: ``FACTOR(JASPAR ID)``
    of its best match when that is in ``significant`` (e.g. ``CTCF(MA0139.2)``), else its short
    name (``pos_0``)."""
    return {m.identifier: f"{significant[m.identifier].target_name}({significant[m.identifier].target_id})"
            if m.identifier in significant else m.short_name for m in motifs}


def warm_numba_cache() -> int:
    """Compile memelite's TOMTOM kernels into numba's on-disk cache (``NUMBA_CACHE_DIR``), once.

    TOMTOM's kernels take about a minute of CPU to compile; a cold cache pays it in the first
    motifs job (and in the tests). ``make venv`` runs this at install, with the cache in the
    venv, so that later processes load the compiled code. Compares one JASPAR matrix with the
    JASPAR CORE vertebrates, as :func:`tomtom_hits` calls TOMTOM (float64 matrices). Returns the
    number of hits (the call's result is not used).
    """
    database = fetch_jaspar("CORE", ["vertebrates"])
    return len(tomtom_hits({"warm-up": database.matrices[0]}, database, max_hits=1))


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--warm-numba-cache"]:
        sys.exit("usage: python -m seqlrp.analysis.tomtom --warm-numba-cache")
    warm_numba_cache()
