"""Random access to a genome FASTA (plain or bgzip-compressed) through pysam/htslib.

pysam is used here because htslib reads bgzip-compressed FASTA directly and builds the
``.fai``/``.gzi`` index when it is missing; a plain-gzip FASTA cannot be indexed and is refused
with a hint to recompress it with ``bgzip``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pysam

from .errors import InputError
from .onehot import N_CODE, codes_from_bytes
from .textfiles import GZIP_MAGIC

def _is_plain_gzip(path: Path) -> bool:
    """True for a gzip file that is not BGZF (BGZF carries a 'BC' extra subfield in every block)."""
    with open(path, "rb") as handle:
        header = handle.read(18)
    if header[:2] != GZIP_MAGIC:
        return False
    has_extra = len(header) >= 4 and header[3] & 0x04
    return not (has_extra and header[12:14] == b"BC")


class Genome:
    """A genome FASTA opened for random access.

    Coordinates are 0-based, half-open. ``window_codes`` pads with N outside the chromosome.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "genome FASTA not found")
        if self.path.is_dir():
            raise InputError(self.path, "genome FASTA is a directory, expected a file")
        if _is_plain_gzip(self.path):
            raise InputError(
                self.path,
                "plain-gzip FASTA cannot be indexed for random access; recompress it with bgzip "
                f"(gunzip -c {self.path.name} | bgzip > {self.path.stem}.bgz) or decompress it",
            )
        try:
            self._fasta = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as err:
            raise InputError(self.path, f"cannot open or index FASTA ({err})") from None
        self.lengths: dict[str, int] = dict(zip(self._fasta.references, self._fasta.lengths))
        if not self.lengths:
            raise InputError(self.path, "FASTA has no sequences")
        self._cached_chrom: str | None = None
        self._cached_codes: np.ndarray | None = None

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> "Genome":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of [start, end) on ``chrom`` as stored (case kept); clipped to the chromosome."""
        return self._fasta.fetch(chrom, max(0, start), min(self.lengths[chrom], end))

    def chrom_codes(self, chrom: str) -> np.ndarray:
        """Codes (chrom_len,) uint8 of a whole chromosome; the last one asked for stays cached."""
        if chrom != self._cached_chrom:
            self._cached_codes = codes_from_bytes(self._fasta.fetch(chrom).encode("ascii"))
            self._cached_chrom = chrom
        return self._cached_codes

    def window_codes(self, chrom: str, starts: np.ndarray, length: int) -> np.ndarray:
        """Codes (n, length) uint8 of the windows [starts[i], starts[i] + length) on ``chrom``.

        Positions outside [0, chrom_len) are N (code 4). Few windows on a long chromosome are
        fetched one by one; many are cut from the whole chromosome read once.
        """
        starts = np.asarray(starts, dtype=np.int64)
        chrom_len = self.lengths[chrom]
        if starts.size * length * 8 >= chrom_len:
            return gather_windows(self.chrom_codes(chrom), starts, length)
        out = np.full((starts.size, length), N_CODE, dtype=np.uint8)
        for row, start in enumerate(starts.tolist()):
            lo, hi = max(0, start), min(chrom_len, start + length)
            if hi > lo:
                out[row, lo - start : hi - start] = codes_from_bytes(self.fetch(chrom, lo, hi).encode("ascii"))
        return out


def gather_windows(codes: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Cut windows (n, length) out of one sequence's codes (C,); positions outside [0, C) are N.

    The sequence is padded with ``length`` N on both sides and read through a sliding-window
    view, so each window is one contiguous row copy. A window lying wholly outside the
    sequence is all N (its start is clipped onto the padding).
    """
    padded = np.full(codes.size + 2 * length, N_CODE, dtype=np.uint8)
    padded[length : length + codes.size] = codes
    rows = np.clip(np.asarray(starts, dtype=np.int64) + length, 0, codes.size + length)
    return np.lib.stride_tricks.sliding_window_view(padded, length)[rows]
