"""Windows: regions or FASTA records -> codes (N, L) uint8 of ``seq_len`` bases and their regions table.

Every region becomes one window of ``seq_len`` bases centred on its summit (narrowPeak column
10, when present and ``centre == "summit"``) or on its midpoint ``(start + end) // 2``; the window
is ``[centre - seq_len // 2, centre - seq_len // 2 + seq_len)``, 0-based and half-open. ``-``
strand regions are reverse complemented. Windows running past a chromosome end are padded with
N (all-zero columns) or dropped (``out_of_bounds``). N and IUPAC codes encode as zero columns.
Codes are 0..3 = A,C,G,T and 4 = N (:mod:`seqlrp.formats.onehot`); an extraction that would not
fit in memory is refused before anything is allocated (:func:`check_memory`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..errors import InputError, SeqlrpError
from ..formats.genome import Genome, gather_windows
from ..formats.onehot import codes_from_str, reverse_complement_codes
from ..formats.records import read_records
from ..formats.regions import read_regions
from ..formats.table import RegionTable

CENTRES = ("summit", "midpoint")
OUT_OF_BOUNDS = ("pad", "drop")
# a record shorter than seq_len is padded with N; past this factor the windows are mostly padding
MAX_PADDING_FACTOR = 2
# one-hot rows converted at a time when writing onehot.npy
ONEHOT_CHUNK_BYTES = 64 << 20
# share of the machine's memory extraction may plan to use
MEMORY_SHARE = 0.8


def physical_memory() -> int:
    """Bytes of memory of this machine (0 when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_memory(n_windows: int, seq_len: int, longest: int, available: int | None = None) -> None:
    """Refuse, before allocating, an extraction that cannot fit in memory.

    Extraction holds the codes (n_windows, seq_len) uint8, one chromosome's codes with seq_len of
    N padding on both sides (``longest`` + 2 seq_len bytes) and a 64 MiB one-hot chunk.
    ``available`` defaults to :func:`physical_memory`; 0 skips the check.
    """
    available = physical_memory() if available is None else available
    needed = n_windows * seq_len + longest + 2 * seq_len + ONEHOT_CHUNK_BYTES
    if available and needed > MEMORY_SHARE * available:
        raise SeqlrpError(
            f"extracting {n_windows:,} windows of seq_len {seq_len:,} needs about {needed / 2**30:.1f} GiB of memory, "
            f"more than {MEMORY_SHARE:.0%} of this machine's {available / 2**30:.1f} GiB: lower seq_len or split the regions"
        )


@dataclass(frozen=True)
class ExtractOptions:
    """How regions become windows. ``seq_len`` > 0; see the module docstring for the rest."""

    seq_len: int
    centre: str = "summit"
    out_of_bounds: str = "pad"

    def __post_init__(self):
        if not isinstance(self.seq_len, int) or self.seq_len <= 0:
            raise SeqlrpError(f"seq_len must be a positive integer, got {self.seq_len!r}")
        if self.centre not in CENTRES:
            raise SeqlrpError(f"centre must be one of {CENTRES}, got {self.centre!r}")
        if self.out_of_bounds not in OUT_OF_BOUNDS:
            raise SeqlrpError(f"out_of_bounds must be one of {OUT_OF_BOUNDS}, got {self.out_of_bounds!r}")

    def window_start(self, centre: int) -> int:
        return centre - self.seq_len // 2


@dataclass
class Dataset:
    """Extracted windows: codes (N, L) uint8 (0..3 = A,C,G,T, 4 = N), their table, contig sizes."""

    codes: np.ndarray
    table: RegionTable
    classes: list[str]
    chrom_sizes: dict[str, int]
    info: dict = field(default_factory=dict)


def _chrom_mismatch_message(chrom: str, genome: Genome, region_chroms: set[str]) -> str:
    def sample(names):
        names = sorted(names)
        return ", ".join(names[:6]) + (f", … ({len(names)} in all)" if len(names) > 6 else "")

    message = (
        f"chromosome {chrom!r} is not in the genome FASTA {genome.path.name} "
        f"(regions use: {sample(region_chroms)}; FASTA has: {sample(genome.lengths)})"
    )
    flipped = chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"
    if flipped in genome.lengths:
        message += f"; hint: the names differ by a 'chr' prefix ({chrom!r} vs {flipped!r})"
    return message


def windows_from_regions(
    genome: Genome, class_files: Mapping[str, str | os.PathLike], options: ExtractOptions
) -> tuple[RegionTable, dict[str, dict[str, int]]]:
    """Windows for every region of every class file, in class order, then file order.

    Returns the table (split column empty) and per-class counts ``{"regions", "padded",
    "dropped"}``. Raises :class:`InputError` for a chromosome missing from the genome and for a
    class left without any usable window.
    """
    table = RegionTable()
    counts: dict[str, dict[str, int]] = {}
    length = options.seq_len
    for cls, path in class_files.items():
        regions = read_regions(path)
        region_chroms = {r.chrom for r in regions}
        tally = Counter(regions=len(regions), padded=0, dropped=0)
        for region in regions:
            chrom_len = genome.lengths.get(region.chrom)
            if chrom_len is None:
                raise InputError(path, _chrom_mismatch_message(region.chrom, genome, region_chroms), region.line)
            if region.end > chrom_len:
                raise InputError(
                    path,
                    f"region {region.chrom}:{region.start}-{region.end} ends past the end of {region.chrom}, which is "
                    f"{chrom_len:,} bp long in {genome.path.name}: are the regions from another genome build?",
                    region.line,
                )
            start = options.window_start(region.centre(options.centre == "summit"))
            if start < 0 or start + length > chrom_len:
                if options.out_of_bounds == "drop":
                    tally["dropped"] += 1
                    continue
                tally["padded"] += 1
            strand = "-" if region.strand == "-" else "+"
            table.append(region.chrom, start, start + length, strand, region.name, cls)
        if tally["regions"] == tally["dropped"]:
            raise InputError(
                path,
                f"class {cls!r} has no usable region: all {tally['regions']} windows of {length} bp run past a "
                "chromosome end and extract.out_of_bounds is 'drop'",
            )
        counts[cls] = dict(tally)
    return table, counts


def codes_from_genome(genome: Genome, table: RegionTable, length: int, progress: bool = True) -> np.ndarray:
    """Codes (N, length) uint8 of every window of ``table``, reverse complemented on ``-``."""
    codes = np.empty((len(table), length), dtype=np.uint8)
    chroms = np.asarray(table.chrom, dtype=object)
    starts = np.asarray(table.start, dtype=np.int64)
    minus = np.asarray(table.strand, dtype=object) == "-"
    for chrom in tqdm(list(dict.fromkeys(table.chrom)), desc="extract", unit="chrom", disable=not progress):
        rows = np.flatnonzero(chroms == chrom)
        codes[rows] = genome.window_codes(chrom, starts[rows], length)
    codes[minus] = reverse_complement_codes(codes[minus])
    return codes


def dataset_from_genome(
    genome_path: str | os.PathLike, class_files: Mapping[str, str | os.PathLike], options: ExtractOptions, progress: bool = True,
    index_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Extract the windows of BED/narrowPeak regions (one file per class) from a genome FASTA.

    A missing or stale FASTA index is rebuilt into ``index_dir`` (see :class:`seqlrp.formats.genome.Genome`).
    """
    if not class_files:
        raise SeqlrpError("no classes: 'regions' must map at least one class name to a BED/narrowPeak file")
    with Genome(genome_path, index_dir=index_dir) as genome:
        longest = max(genome.lengths, key=genome.lengths.get)
        if options.seq_len > genome.lengths[longest]:
            raise SeqlrpError(
                f"seq_len {options.seq_len:,} is longer than the longest chromosome of {genome.path.name} "
                f"({longest}, {genome.lengths[longest]:,} bp): every window would be mostly N padding"
            )
        table, counts = windows_from_regions(genome, class_files, options)
        check_memory(len(table), options.seq_len, genome.lengths[longest])
        codes = codes_from_genome(genome, table, options.seq_len, progress)
        sizes = dict(genome.lengths)
    return Dataset(codes, table, list(class_files), sizes, {"source": "genome", "genome": str(genome_path), "counts": counts})


def dataset_from_records(
    class_fastas: Mapping[str, str | os.PathLike], options: ExtractOptions
) -> Dataset:
    """Windows from FASTA records (one file per class), centre-cropped or N-padded to ``seq_len``.

    A record with coordinates ``chrom:start-end`` yields the genome window centred on the
    interval's midpoint, exactly like a BED region; records without coordinates are their own
    contigs. Contig sizes are the record lengths, or the largest end seen for a genome contig.
    """
    if not class_fastas:
        raise SeqlrpError("no classes: 'sequences' must map at least one class name to a FASTA file")
    length = options.seq_len
    table = RegionTable()
    rows: list[np.ndarray] = []
    sizes: dict[str, int] = {}
    counts: dict[str, dict[str, int]] = {}
    records = {cls: read_records(path) for cls, path in class_fastas.items()}
    longest = max((len(r.sequence) for recs in records.values() for r in recs), default=0)
    if length > MAX_PADDING_FACTOR * longest:
        raise SeqlrpError(
            f"seq_len {length:,} is more than {MAX_PADDING_FACTOR}x the longest sequence ({longest:,} bp) of "
            f"{', '.join(map(str, class_fastas.values()))}: every window would be mostly N padding"
        )
    check_memory(sum(map(len, records.values())), length, longest)
    for cls, path in class_fastas.items():
        tally = Counter(regions=0, padded=0, dropped=0, cropped=0)
        for record in records[cls]:
            tally["regions"] += 1
            start = options.window_start((record.start + record.end) // 2)
            end = start + length
            if start < record.start or end > record.end:
                if options.out_of_bounds == "drop":
                    tally["dropped"] += 1
                    continue
                tally["padded"] += 1
            elif record.end - record.start > length:
                tally["cropped"] += 1
            # offset of the window's first base in the record, which reads 5'->3' on its strand
            offset = start - record.start if record.strand == "+" else record.end - end
            rows.append(gather_windows(codes_from_str(record.sequence), np.array([offset]), length)[0])
            table.append(record.chrom, start, end, record.strand, record.name, cls)
            sizes[record.chrom] = max(sizes.get(record.chrom, 0), record.end)
        if tally["regions"] == tally["dropped"]:
            raise InputError(
                path,
                f"class {cls!r} has no usable region: all {tally['regions']} records are shorter than "
                f"seq_len {length} and extract.out_of_bounds is 'drop'",
            )
        counts[cls] = dict(tally)
    codes = np.stack(rows) if rows else np.empty((0, length), dtype=np.uint8)
    return Dataset(codes, table, list(class_fastas), sizes, {"source": "sequences", "counts": counts})
