"""Writing motifs in MEME minimal format (read by TOMTOM, memelite and Biopython)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_write_text


@dataclass(frozen=True)
class MemeMotif:
    """A motif for a MEME file: ``probabilities`` (4, w) over A,C,G,T, columns summing to 1."""

    identifier: str
    name: str
    probabilities: np.ndarray
    n_sites: int = 20


def write_meme(motifs: Iterable[MemeMotif], path: str | os.PathLike, background: np.ndarray | None = None) -> None:
    """Write ``motifs`` as a MEME (version 4) minimal file, atomically.

    ``background`` (4,) gives the A,C,G,T letter frequencies (uniform when omitted).
    """
    freqs = np.full(4, 0.25) if background is None else np.asarray(background, dtype=float)
    with atomic_write_text(path) as handle:
        handle.write("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
        handle.write("Background letter frequencies\n")
        handle.write(" ".join(f"{base} {p:.4f}" for base, p in zip("ACGT", freqs)) + "\n")
        for motif in motifs:
            probabilities = np.asarray(motif.probabilities, dtype=float)
            if probabilities.ndim != 2 or probabilities.shape[0] != 4:
                raise ValueError(f"motif {motif.identifier}: probabilities must be (4, w), got {probabilities.shape}")
            width = probabilities.shape[1]
            handle.write(f"\nMOTIF {motif.identifier} {motif.name}\n")
            handle.write(f"letter-probability matrix: alength= 4 w= {width} nsites= {motif.n_sites} E= 0\n")
            for column in probabilities.T:
                handle.write(" " + "  ".join(f"{p:.6f}" for p in column) + "\n")
