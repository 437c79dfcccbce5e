"""Planted motifs for the synthetic demo genome: JASPAR matrices, sampled instances, random chromosomes.

A :class:`PlantedMotif` holds a JASPAR position frequency matrix as probabilities (4, w) over
A,C,G,T (pseudocounts added); :func:`sample_instance` draws one sequence of codes from it,
column by column. Chromosomes are codes (length,) drawn i.i.d. at a GC content, with an N gap at
both ends and a soft-mask flag (length,) for low-complexity repeats written in and
interspersed-repeat stand-ins; instances are placed at non-overlapping offsets in a window.
Everything draws from the caller's ``numpy`` generator, so a seed fixes the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SeqlrpError
from ..formats.onehot import N_CODE

_LOW_COMPLEXITY_UNITS = ("A", "T", "CA", "TG", "AT", "GGAA", "TTAGGG", "CAG")


@dataclass(frozen=True)
class PlantedMotif:
    """A JASPAR matrix to plant: ``probabilities`` (4, w) over A,C,G,T, columns summing to 1."""

    matrix_id: str
    name: str
    probabilities: np.ndarray

    @property
    def width(self) -> int:
        return self.probabilities.shape[1]


def load_jaspar_motifs(matrix_ids: Sequence[str], pseudocount: float = 0.5) -> list[PlantedMotif]:
    """Fetch matrices from the JASPAR database that pyjaspar ships (offline), as probabilities."""
    from pyjaspar import jaspardb

    database = jaspardb()
    motifs = []
    for matrix_id in matrix_ids:
        motif = database.fetch_motif_by_id(matrix_id)
        if motif is None:
            raise SeqlrpError(f"demo: JASPAR matrix {matrix_id!r} is not in {database.release}")
        counts = np.array([motif.counts[base] for base in "ACGT"], dtype=np.float64) + pseudocount
        motifs.append(PlantedMotif(motif.matrix_id, motif.name, counts / counts.sum(axis=0, keepdims=True)))
    return motifs


def sample_instance(motif: PlantedMotif, rng: np.random.Generator) -> np.ndarray:
    """One sequence (w,) of codes drawn column by column from the motif's probabilities."""
    cumulative = np.cumsum(motif.probabilities, axis=0)
    draws = rng.random(motif.width)
    return np.minimum((draws[np.newaxis, :] > cumulative).sum(axis=0), 3).astype(np.uint8)


def random_chromosome(length: int, gc: float, gap: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Codes (length,) and a soft-mask flag (length,) for one chromosome."""
    at = (1.0 - gc) / 2
    codes = rng.choice(4, size=length, p=[at, gc / 2, gc / 2, at]).astype(np.uint8)
    codes[:gap] = N_CODE
    codes[length - gap :] = N_CODE
    masked = np.zeros(length, dtype=bool)
    # interspersed-repeat stand-ins: lowercase the sequence already there (about 8 % of it)
    for _ in range(length // 12_000):
        lo = int(rng.integers(gap, length - gap - 2_000))
        masked[lo : lo + int(rng.integers(100, 2_000))] = True
    # low-complexity repeats, written in and soft-masked
    for _ in range(length // 25_000):
        unit = np.frombuffer(_LOW_COMPLEXITY_UNITS[rng.integers(len(_LOW_COMPLEXITY_UNITS))].encode(), dtype=np.uint8)
        span = int(rng.integers(30, 300))
        lo = int(rng.integers(gap, length - gap - span))
        unit_codes = np.searchsorted(np.frombuffer(b"ACGT", dtype=np.uint8), unit).astype(np.uint8)
        codes[lo : lo + span] = np.resize(unit_codes, span)
        masked[lo : lo + span] = True
    return codes, masked


def place_instances(
    window_len: int, widths: Sequence[int], margin: int, rng: np.random.Generator, tries: int = 200
) -> list[int] | None:
    """Non-overlapping offsets for motifs of the given widths inside a window, or None."""
    for _ in range(tries):
        offsets, taken = [], np.zeros(window_len, dtype=bool)
        for width in widths:
            lo, hi = margin, window_len - margin - width
            if hi < lo:
                return None
            offset = int(rng.integers(lo, hi + 1))
            if taken[offset : offset + width].any():
                break
            taken[max(0, offset - 1) : offset + width + 1] = True
            offsets.append(offset)
        else:
            return offsets
    return None
