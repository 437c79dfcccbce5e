"""Variants in batches of reference and alternative windows, with the alleles' spans and kinds.

A :class:`VariantBatch` holds ``b`` variants (:class:`seqlrp.formats.vcf.Variant`) as the model
sees them: codes (b, L) of the reference and alternative windows of
:func:`seqlrp.sequences.variant_windows.variant_windows` (the variant's anchor or SNV base at index
``L // 2`` of the reference window ``[pos - 1 - L // 2, pos - 1 - L // 2 + L)``, 0-based,
half-open), the index map between them, and where each allele lies in its own window:

* ``ref_span[k] = (L // 2, L // 2 + len(REF))``, clipped to the window, in the reference window;
* ``alt_span[k]``: the ALT bases in the alternative window; an insertion's window is trimmed by
  ``(len(ALT) - len(REF)) // 2`` bases on the left, so its ALT starts that much before ``L // 2``.

Alleles are left-normalised first (``norm_pos``, ``norm_ref``, ``norm_alt``); the VCF's own
``pos``/``ref``/``alt`` stay in ``variants``. ``kinds`` are ``snv``, ``mnp`` (equal lengths > 1),
``insertion`` or ``deletion`` (ALT longer or shorter after normalisation; a complex change is
named by the way its length goes), the groups the null distribution is matched on
(:mod:`seqlrp.variants.null`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..formats.genome import gather_windows
from ..formats.onehot import codes_from_str
from ..formats.vcf import Variant
from ..sequences.variant_windows import Fetch, genome_codes, normalize, variant_windows

KINDS = ("snv", "mnp", "insertion", "deletion")


def variant_kind(ref: str, alt: str) -> str:
    """``snv``, ``mnp``, ``insertion`` or ``deletion`` of normalised alleles."""
    if len(ref) == len(alt):
        return "snv" if len(ref) == 1 else "mnp"
    return "insertion" if len(alt) > len(ref) else "deletion"


def allele_spans(seq_len: int, ref: str, alt: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(ref_span, alt_span)``: 0-based, half-open index ranges of the normalised alleles in the
    reference and alternative windows of length ``seq_len`` (clipped to the window)."""
    centre = seq_len // 2
    surplus = len(alt) - len(ref)
    offset = surplus // 2 if surplus > 0 else 0
    ref_span = (centre, min(seq_len, centre + len(ref)))
    alt_lo = centre - offset
    alt_span = (max(0, alt_lo), min(seq_len, alt_lo + len(alt)))
    return ref_span, alt_span


@dataclass
class VariantBatch:
    """``b`` variants and their windows (module docstring).

    Attributes
    ----------
    variants : list of Variant
        As read from the VCF (``pos`` 1-based, alleles as in the file, upper case).
    rows : numpy.ndarray, shape (b,), int64
        Each variant's index in the stream of record x ALT rows (0-based).
    norm_pos, norm_ref, norm_alt : list
        The left-normalised POS (1-based) and alleles.
    kinds : list of str
        :data:`KINDS`.
    ref_codes, alt_codes : numpy.ndarray, shape (b, L), uint8
        Window codes, 0..3 = A, C, G, T, 4 = N.
    ref_start : numpy.ndarray, shape (b,), int64
        0-based genome start of each reference window (``pos - 1 - L // 2`` after normalisation).
    index_map : numpy.ndarray, shape (b, L), int64
        Reference-window index of the genome base at each alternative position, -1 for none.
    ref_span, alt_span : numpy.ndarray, shape (b, 2), int64
        The alleles' index ranges, half-open.
    """

    variants: list[Variant]
    rows: np.ndarray
    norm_pos: list[int]
    norm_ref: list[str]
    norm_alt: list[str]
    kinds: list[str]
    ref_codes: np.ndarray
    alt_codes: np.ndarray
    ref_start: np.ndarray
    index_map: np.ndarray
    ref_span: np.ndarray
    alt_span: np.ndarray

    def __len__(self) -> int:
        return len(self.variants)


_SPAN_LIMIT = 4_000_000  # at most this many bases fetched at once for the SNVs of one contig in a batch


def _is_snv(variant: Variant) -> bool:
    return len(variant.ref) == 1 and len(variant.alt) == 1


def _snv_windows(variants: list[Variant], seq_len: int, fetch: Fetch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ref_codes (n, L), alt_codes (n, L), ref_start (n,))`` of SNVs, one genome fetch per contig
    (windows cut with :func:`seqlrp.formats.genome.gather_windows`, N off the contig): the same
    windows :func:`~seqlrp.sequences.variant_windows.variant_windows` cuts, without its per-variant cost."""
    centre = seq_len // 2
    starts = np.array([v.pos - 1 - centre for v in variants], dtype=np.int64)
    ref = np.empty((len(variants), seq_len), dtype=np.uint8)
    chroms = np.array([v.chrom for v in variants], dtype=object)
    for chrom in dict.fromkeys(chroms.tolist()):
        rows = np.flatnonzero(chroms == chrom)
        lo, hi = max(0, int(starts[rows].min())), int(starts[rows].max()) + seq_len
        if hi - lo > _SPAN_LIMIT:  # scattered over a long contig: one fetch per window
            for row in rows.tolist():
                ref[row] = genome_codes(fetch, chrom, int(starts[row]), seq_len)
            continue
        segment = codes_from_str(fetch(chrom, lo, hi)) if hi > lo else np.empty(0, np.uint8)
        ref[rows] = gather_windows(segment, starts[rows] - lo, seq_len)
    alt = ref.copy()
    alt[:, centre] = codes_from_str("".join(v.alt for v in variants))
    return ref, alt, starts


def make_batch(variants: list[Variant], rows: Iterable[int], seq_len: int, fetch: Fetch) -> VariantBatch:
    """The :class:`VariantBatch` of ``variants`` (their stream indices ``rows``) on the genome ``fetch``.

    SNVs are cut together (one fetch per contig); every other variant is normalised and cut by
    :func:`~seqlrp.sequences.variant_windows.variant_windows`."""
    b, centre = len(variants), seq_len // 2
    ref_codes = np.empty((b, seq_len), dtype=np.uint8)
    alt_codes = np.empty((b, seq_len), dtype=np.uint8)
    ref_start = np.empty(b, dtype=np.int64)
    index_map = np.broadcast_to(np.arange(seq_len, dtype=np.int64), (b, seq_len)).copy()
    ref_span = np.tile(np.array([centre, centre + 1], dtype=np.int64), (b, 1))
    alt_span = ref_span.copy()
    norm = [(v.pos, v.ref.upper(), v.alt.upper()) for v in variants]
    snvs = [k for k, v in enumerate(variants) if _is_snv(v)]
    if snvs:
        ref_codes[snvs], alt_codes[snvs], ref_start[snvs] = _snv_windows([variants[k] for k in snvs], seq_len, fetch)
    for k, variant in enumerate(variants):
        if _is_snv(variant):
            continue
        pos, ref, alt = normalize(variant.chrom, variant.pos, variant.ref, variant.alt, fetch)
        norm[k] = (pos, ref, alt)
        windows = variant_windows(Variant(variant.chrom, pos, variant.id, ref, alt, variant.line, variant.allele),
                                  seq_len, fetch)
        ref_codes[k], alt_codes[k], ref_start[k], index_map[k] = (windows.ref_codes, windows.alt_codes,
                                                                  windows.ref_start, windows.index_map)
        ref_span[k], alt_span[k] = allele_spans(seq_len, ref, alt)
    return VariantBatch(
        variants=list(variants), rows=np.asarray(list(rows), dtype=np.int64),
        norm_pos=[n[0] for n in norm], norm_ref=[n[1] for n in norm], norm_alt=[n[2] for n in norm],
        kinds=[variant_kind(ref, alt) for _, ref, alt in norm], ref_codes=ref_codes, alt_codes=alt_codes,
        ref_start=ref_start, index_map=index_map, ref_span=ref_span, alt_span=alt_span)


def batches(variants: Iterable[Variant], seq_len: int, fetch: Fetch, batch_size: int,
            row_range: tuple[int, int] | None = None, first_row: int = 0) -> Iterator[VariantBatch]:
    """Stream ``variants`` as batches of at most ``batch_size``; with ``row_range`` (lo, hi) only the
    stream rows in ``[lo, hi)`` (one shard), stopping after ``hi``. Memory holds one batch.

    Batches end at multiples of ``batch_size`` counted over the whole stream, so a shard whose
    bounds are such multiples batches its rows exactly as a one-shard run does: float32 kernels can
    round differently with another batch composition, and the bytes of ``scores.tsv`` would move.
    ``first_row`` is the stream row of the first variant given (a stream started part-way through,
    :func:`seqlrp.formats.vcf.iter_variants` with ``start_record``)."""
    lo, hi = row_range if row_range is not None else (0, None)
    pending: list[Variant] = []
    pending_rows: list[int] = []
    for row, variant in enumerate(variants, start=first_row):
        if hi is not None and row >= hi:
            break
        if row < lo:
            continue
        pending.append(variant)
        pending_rows.append(row)
        if (row + 1) % batch_size == 0:
            yield make_batch(pending, pending_rows, seq_len, fetch)
            pending, pending_rows = [], []
    if pending:
        yield make_batch(pending, pending_rows, seq_len, fetch)
