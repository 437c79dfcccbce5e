"""Variants from a VCF (plain, bgzip or BCF), streamed record by record through htslib (pysam).

:func:`iter_variants` yields one :class:`Variant` per record × ALT allele and never holds the file:
memory does not grow with the number of records. Coordinates are VCF's: ``pos`` is 1-based, the
first base of REF. Policies for odd records (each counted in :class:`VariantCounts`):

- multi-allelic records give one row per ALT, ``allele`` = the ALT's index (1 = first ALT);
- symbolic ALT alleles (``<DEL>``, ``<*>``, breakends with ``[``/``]``, ``*``) and records without
  ALT (``.``) are skipped and counted, with one WARNING at the end;
- contig names that differ from the genome's only by a ``chr`` prefix are mapped, with one WARNING.
  The mapping is decided by the first record: its contig found as is means no mapping for the
  whole file; found only with ``chr`` added or removed means that mapping for the whole file. A
  later record whose (mapped) contig is not in the genome is refused, naming both forms;
- a REF that does not match the genome (N on either side matches anything; soft-masked lower-case
  genome bases count as upper case) is refused by default; ``ref_mismatch="skip"`` skips and counts
  such records (one WARNING at the end) — swapped alleles would flip the sign of every score;
- everything malformed is refused with one :class:`~seqlrp.errors.InputError` ``file:line: problem``:
  no header, fewer than 8 columns, a POS that is not a number, POS 0, POS (or the end of REF) past
  the chromosome end, an unknown contig, REF or ALT letters outside A/C/G/T/N (case-insensitive;
  alleles are given in upper case), a blank line between records (blank lines at the end are ignored).

Line numbers: htslib does not report them, so for plain and bgzip VCF the header lines are counted
once and record ``k`` (1-based) is on line ``header_lines + k`` (VCF has one record per line). BCF
has no lines: there ``line`` is the record number (1-based), and errors say ``record`` instead.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pysam

from ..errors import InputError
from .bgzf import EOF_BLOCK as BGZF_EOF
from .textfiles import GZIP_MAGIC

log = logging.getLogger(__name__)

REF_MISMATCH = ("refuse", "skip")
VCF_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
_BASES = re.compile(r"[ACGTN]+")


@dataclass(frozen=True)
class Variant:
    """One ALT allele of one VCF record.

    ``chrom`` is the genome's name (after any ``chr`` mapping); ``pos`` the VCF POS (1-based, first
    base of ``ref``); ``ref``/``alt`` upper-case A/C/G/T/N as in the file (not normalised);
    ``line`` the 1-based line in a plain or bgzip VCF, or the 1-based record number in a BCF;
    ``allele`` the ALT's index in the record (1 = first ALT).
    """

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    line: int
    allele: int = 1


@dataclass
class VariantCounts:
    """What :func:`iter_variants` did, filled while it runs; read it after the iteration."""

    records: int = 0
    rows: int = 0
    symbolic_skipped: int = 0
    ref_mismatch_skipped: int = 0
    contig_mapping: dict[str, str] | None = None  # file name -> genome name, for mapped contigs

    @property
    def contigs_mapped(self) -> int:
        return len(self.contig_mapping or {})


def is_symbolic(alt: str | None) -> bool:
    """True for ALT alleles that are not a sequence: ``.``/None, ``*``, ``<...>``, breakends."""
    return alt is None or alt in (".", "*") or alt.startswith("<") or "[" in alt or "]" in alt


def _sample(names) -> str:
    names = list(names)
    return ", ".join(names[:6]) + (f", … ({len(names)} in all)" if len(names) > 6 else "")


def _flip_chr(name: str) -> str:
    return name[3:] if name.startswith("chr") else f"chr{name}"


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _open_text(path: Path):
    return gzip.open(path, "rt", errors="replace") if _is_gzip(path) else open(path, errors="replace")


def _header_lines(path: Path) -> int:
    """Number of ``#`` lines at the start of a plain or bgzip VCF."""
    count = 0
    with _open_text(path) as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def _lines_from(path: Path, number: int) -> tuple[str | None, bool]:
    """Line ``number`` (1-based) of a text VCF without its newline (None past the end), and
    whether every line from it to the end is blank. Read only on the error path."""
    with _open_text(path) as handle:
        for index, line in enumerate(handle, 1):
            if index == number:
                text = line.rstrip("\r\n")
                return text, not text.strip() and all(not rest.strip() for rest in handle)
    return None, True


def _parse_problem(path: Path, line: int, err: Exception) -> str | None:
    """Why htslib could not read text line ``line``; None when only blank lines remain."""
    text, blank_to_end = _lines_from(path, line)
    if text is None or blank_to_end:
        return None
    if not text.strip():
        return "blank line between records"
    fields = text.split("\t")
    if len(fields) < len(VCF_COLUMNS):
        return (f"{len(fields)} tab-separated column{'s' if len(fields) != 1 else ''}; a VCF record needs at least "
                f"{len(VCF_COLUMNS)} ({' '.join(VCF_COLUMNS)})")
    if not fields[1].strip().isdigit():
        return f"POS {fields[1]!r} is not a whole number"
    return f"htslib cannot parse this record ({err}): {text[:80]!r}"


class _Quiet:
    """htslib prints warnings to stderr (undeclared contigs, ...); seqlrp reports problems itself."""

    def __enter__(self):
        self._previous = pysam.set_verbosity(0)

    def __exit__(self, *exc):
        pysam.set_verbosity(self._previous)


def _open(path: Path) -> pysam.VariantFile:
    if not path.exists():
        raise InputError(path, "VCF not found")
    if path.is_dir():
        raise InputError(path, "VCF is a directory, expected a file")
    if path.stat().st_size == 0:
        raise InputError(path, "the VCF is empty: no header and no records")
    kind = _compression(path)
    if kind == "gzip":
        raise InputError(path, "compressed with gzip, not bgzip: htslib reads block-gzipped VCFs (recompress: "
                               "zcat FILE | bgzip > FILE.vcf.gz)")
    try:
        with _Quiet():
            return pysam.VariantFile(str(path))
    except (ValueError, OSError, NotImplementedError) as err:
        if kind == "bgzf" and not _has_bgzf_eof(path):
            raise InputError(path, f"truncated: the BGZF end-of-file block is missing ({err})") from None
        if kind is None and _starts_with(path, b"\xef\xbb\xbf"):
            raise InputError(path, "starts with a UTF-8 byte-order mark, which htslib does not read: save the file "
                                   "without one", 1) from None
        raise InputError(path, "no VCF header: a VCF starts with '##fileformat=VCFv4.x' and a '#CHROM POS ID REF "
                               "ALT ...' line (or is a BCF file)", 1) from None


def _compression(path: Path) -> str | None:
    """``"bgzf"`` (bgzip, BCF), ``"gzip"`` (plain gzip) or None (not compressed)."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if head[:2] != GZIP_MAGIC:
        return None
    # BGZF: a gzip member with the FEXTRA flag whose extra field holds the subfield 'BC'
    return "bgzf" if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC" else "gzip"


def _starts_with(path: Path, prefix: bytes) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(prefix)) == prefix


def _has_bgzf_eof(path: Path) -> bool:
    """True when the file ends with BGZF's empty end-of-file block (a complete bgzip file)."""
    size = path.stat().st_size
    if size < len(BGZF_EOF):
        return False
    with open(path, "rb") as handle:
        handle.seek(size - len(BGZF_EOF))
        return handle.read() == BGZF_EOF


def iter_variants(
    path: str | os.PathLike,
    contigs: Mapping[str, int],
    *,
    fetch_ref: Callable[[str, int, int], str] | None = None,
    ref_mismatch: str = "refuse",
    counts: VariantCounts | None = None,
    start_record: int = 1,
    warn: bool = True,
) -> Iterator[Variant]:
    """Yield the variants of ``path`` one record × ALT at a time (see the module docstring).

    Parameters
    ----------
    path : VCF, bgzip VCF or BCF.
    contigs : the genome's contig lengths, name -> bp (``Genome.lengths``).
    fetch_ref : ``fetch_ref(chrom, start, end) -> str``, the genome's bases of [start, end) (0-based,
        half-open, like ``Genome.fetch``); None skips the REF check.
    ref_mismatch : ``"refuse"`` (raise InputError) or ``"skip"`` (count in ``counts``).
    counts : filled while iterating; pass your own to read it afterwards.
    start_record : the first record (1-based) to check and yield; the ones before it are passed over
        unread (a shard of a file an earlier pass checked whole: its rows start there).
    warn : log the skipped records' warnings at the end (off for the passes after the first).
    """
    if ref_mismatch not in REF_MISMATCH:
        raise ValueError(f"ref_mismatch must be one of {REF_MISMATCH}, got {ref_mismatch!r}")
    path = Path(path)
    counts = VariantCounts() if counts is None else counts
    vcf = _open(path)
    finished = False
    try:
        is_bcf = vcf.format == "BCF"
        first_line = 1 if is_bcf else _header_lines(path) + 1
        where = "record" if is_bcf else "line"
        mapping: bool | None = None  # None: not decided; False: names as is; True: chr flipped
        records = iter(vcf)
        number = 0
        while True:
            line = first_line + number
            try:
                with _Quiet():
                    record = next(records)
            except StopIteration:
                break
            except (OSError, ValueError) as err:
                if _compression(path) == "bgzf" and not _has_bgzf_eof(path):
                    raise InputError(path, f"truncated after {where} {line - 1}: the BGZF end-of-file block is "
                                           f"missing ({err})") from None
                if is_bcf:
                    raise InputError(path, f"BCF {where} {line} cannot be read ({err})") from None
                problem = _parse_problem(path, line, err)
                if problem is None:
                    break
                raise InputError(path, problem, line) from None
            number += 1
            counts.records += 1
            if number < start_record:
                continue
            name = record.chrom
            if mapping is None:
                if name in contigs:
                    mapping = False
                elif _flip_chr(name) in contigs:
                    mapping = True
                    counts.contig_mapping = {}
                else:
                    raise InputError(path, f"contig {name!r} is not in the genome (genome has: {_sample(contigs)})",
                                     line)
            chrom = _flip_chr(name) if mapping else name
            if chrom not in contigs:
                hint = ("; the file mixes contig names with and without a 'chr' prefix"
                        if _flip_chr(chrom) in contigs else "")
                raise InputError(path, f"contig {name!r} is not in the genome (genome has: {_sample(contigs)}){hint}",
                                 line)
            if mapping and name not in counts.contig_mapping:
                if not counts.contig_mapping:
                    log.warning("%s: contig names differ from the genome's by a 'chr' prefix; mapping them "
                                "(%r -> %r, ...)", path, name, chrom)
                counts.contig_mapping[name] = chrom
            pos = record.pos
            chrom_len = contigs[chrom]
            if pos < 1:
                raise InputError(path, f"POS {pos}: VCF positions start at 1", line)
            alleles = record.alleles or ()
            ref = (alleles[0] if alleles else "").upper()
            if not _BASES.fullmatch(ref):
                raise InputError(path, f"REF {ref!r} has letters outside A/C/G/T/N", line)
            if pos + len(ref) - 1 > chrom_len:
                raise InputError(path, f"POS {pos} (REF {ref}) runs past the end of {chrom}, which is {chrom_len:,} bp "
                                       "long in the genome: is the VCF from another genome build?", line)
            alts = alleles[1:] or (None,)
            rows = []
            for index, alt in enumerate(alts, 1):
                if is_symbolic(alt):
                    counts.symbolic_skipped += 1
                    continue
                alt = alt.upper()
                if not _BASES.fullmatch(alt):
                    raise InputError(path, f"ALT {alt!r} has letters outside A/C/G/T/N", line)
                rows.append(Variant(chrom, pos, record.id or ".", ref, alt, line, index))
            if fetch_ref is not None and rows:
                genome = fetch_ref(chrom, pos - 1, pos - 1 + len(ref)).upper()
                if not all(a == b or "N" in (a, b) for a, b in zip(ref, genome)):
                    if ref_mismatch == "skip":
                        counts.ref_mismatch_skipped += 1
                        continue
                    raise InputError(path, f"REF {ref} does not match the genome, which has {genome} at {chrom}:{pos}: "
                                           "is the VCF from another genome build? (ref_mismatch 'skip' skips such "
                                           "records)", line)
            for row in rows:
                counts.rows += 1
                yield row
        finished = True
    except GeneratorExit:
        finished = True
        raise
    finally:
        try:
            vcf.close()
        except OSError:  # htslib's close of a damaged file: the error raised above, if any, is the one to show
            if finished:
                raise
        if finished and warn:
            _warn_skipped(path, counts)


def _warn_skipped(path: Path, counts: VariantCounts) -> None:
    if counts.symbolic_skipped:
        log.warning("%s: skipped %d symbolic or missing ALT allele%s (<DEL>, *, ., breakends): only sequence "
                    "alleles are scored", path, counts.symbolic_skipped, "s" if counts.symbolic_skipped != 1 else "")
    if counts.ref_mismatch_skipped:
        log.warning("%s: skipped %d record%s whose REF does not match the genome", path, counts.ref_mismatch_skipped,
                    "s" if counts.ref_mismatch_skipped != 1 else "")
