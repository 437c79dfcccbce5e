"""Random access to a genome FASTA (plain or bgzip-compressed) through pysam/htslib.

pysam is used here because htslib reads bgzip-compressed FASTA directly; a plain-gzip FASTA
cannot be indexed and is refused with a hint to recompress it with ``bgzip``. The ``.fai``/
``.gzi`` index beside the genome is used only when it fits the file; a missing or stale one is
rebuilt into a directory of seqlrp's, and a truncated bgzip file is refused
(:mod:`seqlrp.formats.fasta_index`).
"""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

import numpy as np
import pysam

from ..errors import InputError
from .fasta_index import locate_index
from .onehot import N_CODE, codes_from_bytes
from .textfiles import GZIP_MAGIC, UTF8_BOM


def _gzip_kind(path: Path) -> str | None:
    """``"bgzf"``, ``"gzip"`` (plain gzip, not BGZF) or None (not compressed), from the first bytes.

    BGZF carries a 'BC' extra subfield in every block.
    """
    with open(path, "rb") as handle:
        header = handle.read(18)
    if header[:2] != GZIP_MAGIC:
        return None
    has_extra = len(header) >= 4 and header[3] & 0x04
    return "bgzf" if has_extra and header[12:14] == b"BC" else "gzip"


def _starts_with_bom(path: Path, compressed: bool) -> bool:
    """True when the (decompressed) file begins with a UTF-8 byte order mark (False when the first
    block cannot be read: the truncation check names that problem)."""
    try:
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as handle:
            return handle.read(len(UTF8_BOM)) == UTF8_BOM
    except (OSError, EOFError):
        return False


class Genome:
    """A genome FASTA opened for random access.

    Coordinates are 0-based, half-open. ``window_codes`` pads with N outside the chromosome.
    """

    def __init__(self, path: str | os.PathLike, index_dir: str | os.PathLike | None = None):
        """Open ``path``; a missing or stale index is rebuilt into ``index_dir``.

        With ``index_dir`` None a temporary directory is used instead, removed by :meth:`close`.
        Nothing is ever written beside the genome.
        """
        self.path = Path(path)
        self._scratch: tempfile.TemporaryDirectory | None = None
        if not self.path.exists():
            raise InputError(self.path, "genome FASTA not found")
        if self.path.is_dir():
            raise InputError(self.path, "genome FASTA is a directory, expected a file")
        kind = _gzip_kind(self.path)
        if kind == "gzip":
            raise InputError(
                self.path,
                "plain-gzip FASTA cannot be indexed for random access; recompress it with bgzip "
                f"(gunzip -c {self.path.name} | bgzip > {self.path.stem}.bgz) or decompress it",
            )
        if _starts_with_bom(self.path, compressed=kind == "bgzf"):
            raise InputError(
                self.path,
                "the FASTA starts with a UTF-8 byte order mark (added by some Windows editors), which htslib cannot "
                "index; remove it, e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' on the uncompressed file",
                1,
            )
        if index_dir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="seqlrp-index-")
            index_dir = self._scratch.name
        try:
            index = locate_index(self.path, Path(index_dir), bgzip=kind == "bgzf")
            self._fasta = pysam.FastaFile(str(self.path), filepath_index=str(index.fai),
                                          filepath_index_compressed=None if index.gzi is None else str(index.gzi))
        except (OSError, ValueError) as err:
            self._cleanup()
            raise InputError(self.path, f"cannot open or index FASTA ({err})") from None
        except BaseException:
            self._cleanup()
            raise
        self.lengths: dict[str, int] = dict(zip(self._fasta.references, self._fasta.lengths))
        if not self.lengths:
            self.close()
            raise InputError(self.path, "FASTA has no sequences")
        self._cached_chrom: str | None = None
        self._cached_codes: np.ndarray | None = None

    def _cleanup(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def close(self) -> None:
        self._fasta.close()
        self._cleanup()

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
