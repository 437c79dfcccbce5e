"""Genome-wide tiling: whole chromosomes cut into windows, in place of a BED of regions.

On a chromosome of length ``C`` the tiles are ``[s, s + size)`` for ``s = 0, stride, 2 * stride,
...`` while ``s + size <= C``, plus one last tile ``[C - size, C)`` when the stride leaves the tail
uncovered, so every base lies in at least one tile (``stride <= size``). Coordinates are 0-based,
half-open; every tile is on the ``+`` strand and named ``chrom:start-end``. A tile is skipped when
it holds no A/C/G/T at all, or when its share of N bases (N and other IUPAC codes) exceeds
``max_n`` (assembly gaps); a chromosome shorter than ``size`` gives no tile. Both are counted per
chromosome in the log and in ``dataset.json`` (key ``tile``).

Tiles have no class: the regions table gives them class ``""`` and split ``tile``, and
``dataset.json`` lists the classes of the model that will explain them.

Memory is bounded by one chromosome: chromosomes are read one at a time, twice (first to choose
the tiles, then to write them), and the one-hot array is written in chunks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ..errors import InputError, SeqlrpError
from ..formats.atomic import atomic_path, atomic_write_text
from ..formats.genome import Genome
from ..formats.onehot import N_CODE, onehot_from_codes
from ..formats.table import COLUMNS, UNLABELED

log = logging.getLogger(__name__)

SPLIT = "tile"
"""The split of every tile: tiles are neither train, valid nor test data."""


@dataclass(frozen=True)
class TileOptions:
    """How chromosomes are tiled: window ``size``, ``stride`` (default ``size``), ``chroms`` (None = all)
    and ``max_n``, the largest share of N bases a kept tile may hold."""

    size: int
    stride: int | None = None
    chroms: tuple[str, ...] | None = None
    max_n: float = 0.5

    def __post_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise SeqlrpError(f"tile.size must be a positive integer, got {self.size!r}")
        stride = self.size if self.stride is None else self.stride
        if isinstance(stride, bool) or not isinstance(stride, int) or not 1 <= stride <= self.size:
            raise SeqlrpError(f"tile.stride must be an integer from 1 to tile.size ({self.size}), got {stride!r}")
        object.__setattr__(self, "stride", stride)
        if self.chroms is not None:
            object.__setattr__(self, "chroms", tuple(dict.fromkeys(str(c) for c in self.chroms)))
        if not 0 <= self.max_n <= 1:
            raise SeqlrpError(f"tile.max_n must lie in [0, 1], got {self.max_n!r}")

    @classmethod
    def from_config(cls, section: Mapping) -> TileOptions:
        """Options from the config's ``tile`` section; ``size`` must be present (common.smk fills it)."""
        chroms = section.get("chroms")
        return cls(size=section["size"], stride=section.get("stride"), chroms=None if chroms is None else tuple(chroms),
                   max_n=float(section.get("max_n", 0.5)))


def tile_starts(length: int, size: int, stride: int) -> np.ndarray:
    """Starts (n,) int64 of the tiles of a chromosome of ``length`` bases (none when shorter than ``size``)."""
    if length < size:
        return np.empty(0, dtype=np.int64)
    starts = np.arange(0, length - size + 1, stride, dtype=np.int64)
    if starts[-1] != length - size:  # the stride stopped short of the end: one tile flush with it
        starts = np.append(starts, length - size)
    return starts


def n_counts(codes: np.ndarray, starts: np.ndarray, size: int, span: int = 1 << 22) -> np.ndarray:
    """Number of N bases (n,) int64 in each tile ``[starts[i], starts[i] + size)`` of ``codes`` (C,).

    ``starts`` ascending. A prefix sum over about ``span`` bases at a time keeps the temporaries
    small whatever the chromosome's length.
    """
    counts = np.empty(starts.size, dtype=np.int64)
    lo = 0
    while lo < starts.size:
        hi = max(lo + 1, int(np.searchsorted(starts, starts[lo] + span, side="left")))
        part = starts[lo:hi]
        first, last = int(part[0]), int(part[-1]) + size
        prefix = np.zeros(last - first + 1, dtype=np.int64)
        np.cumsum(codes[first:last] == N_CODE, out=prefix[1:])
        counts[lo:hi] = prefix[part - first + size] - prefix[part - first]
        lo = hi
    return counts


@dataclass
class ChromTiles:
    """The kept tile starts (n,) int64 of one chromosome and how many tiles were skipped."""

    chrom: str
    length: int
    starts: np.ndarray
    skipped_n: int


def plan_tiles(genome: Genome, options: TileOptions, progress: bool = True) -> list[ChromTiles]:
    """The tiles of every chosen chromosome, in FASTA order; chromosomes shorter than a tile are absent.

    Raises :class:`InputError` for a name in ``options.chroms`` that the FASTA lacks, and when no
    tile is left at all.
    """
    names = list(genome.lengths)
    if options.chroms is not None:
        missing = [c for c in options.chroms if c not in genome.lengths]
        if missing:
            shown = ", ".join(names[:6]) + (f", … ({len(names)} in all)" if len(names) > 6 else "")
            raise InputError(genome.path, f"tile.chroms names {', '.join(map(repr, missing))}, not in this FASTA "
                                          f"(FASTA has: {shown})")
        chosen = set(options.chroms)
        names = [c for c in names if c in chosen]
    plan = []
    for chrom in tqdm(names, desc="tiles: plan", unit="chrom", disable=not progress):
        length = genome.lengths[chrom]
        starts = tile_starts(length, options.size, options.stride)
        if starts.size == 0:
            log.info("tiles %s: none (%d bp, shorter than tile.size %d)", chrom, length, options.size)
            continue
        n = n_counts(genome.chrom_codes(chrom), starts, options.size)
        keep = (n < options.size) & (n <= options.max_n * options.size)
        plan.append(ChromTiles(chrom, length, starts[keep], int((~keep).sum())))
        log.info("tiles %s: %d of %d kept (%d skipped: all N or more than %g%% N)", chrom, int(keep.sum()), starts.size,
                 starts.size - int(keep.sum()), 100 * options.max_n)
    if not any(p.starts.size for p in plan):
        raise InputError(genome.path, f"no tile of {options.size} bp to explain: the chosen chromosomes are shorter than "
                                      f"tile.size or more than {100 * options.max_n:g}% N throughout")
    return plan


def write_tiles(genome: Genome, plan: Sequence[ChromTiles], size: int, onehot_path: str | os.PathLike,
                regions_path: str | os.PathLike, progress: bool = True) -> int:
    """Write the one-hot tiles (N, 4, size) uint8 ``.npy`` and their regions table; return N.

    Rows follow ``plan`` (chromosome, then start). The array goes out in chunks through plain
    writes after its ``.npy`` header (no memory map, whose written pages would count against
    the job's memory). Both files appear only when complete.
    """
    total = sum(p.starts.size for p in plan)
    chunk = max(1, (32 << 20) // (4 * size))  # about 32 MB of one-hot per write
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": (total, 4, size)}
    with atomic_path(onehot_path, suffix=".npy") as tmp_onehot, open(tmp_onehot, "wb") as out, \
            atomic_write_text(regions_path) as table:
        np.lib.format.write_array_header_1_0(out, header)
        table.write("\t".join(COLUMNS) + "\n")
        with tqdm(total=total, desc="tiles: write", unit="tile", disable=not progress) as bar:
            for tiles in plan:
                windows = np.lib.stride_tricks.sliding_window_view(genome.chrom_codes(tiles.chrom), size)
                for lo in range(0, tiles.starts.size, chunk):
                    starts = tiles.starts[lo : lo + chunk]
                    out.write(onehot_from_codes(windows[starts]).data)
                    table.writelines(f"{tiles.chrom}\t{s}\t{s + size}\t+\t{tiles.chrom}:{s}-{s + size}\t{UNLABELED}\t{SPLIT}\n"
                                     for s in starts.tolist())
                    bar.update(starts.size)
    return total
