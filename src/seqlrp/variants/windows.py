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

from ..formats.vcf import Variant
from ..sequences.variant_windows import Fetch, normalize, variant_windows

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


def make_batch(variants: list[Variant], rows: Iterable[int], seq_len: int, fetch: Fetch) -> VariantBatch:
    """The :class:`VariantBatch` of ``variants`` (their stream indices ``rows``) on the genome ``fetch``."""
    columns: dict[str, list] = {key: [] for key in ("pos", "ref", "alt", "kind", "ref_codes", "alt_codes", "start",
                                                    "index_map", "ref_span", "alt_span")}
    for variant in variants:
        pos, ref, alt = normalize(variant.chrom, variant.pos, variant.ref, variant.alt, fetch)
        windows = variant_windows(Variant(variant.chrom, pos, variant.id, ref, alt, variant.line, variant.allele),
                                  seq_len, fetch)
        ref_span, alt_span = allele_spans(seq_len, ref, alt)
        for key, value in (("pos", pos), ("ref", ref), ("alt", alt), ("kind", variant_kind(ref, alt)),
                           ("ref_codes", windows.ref_codes), ("alt_codes", windows.alt_codes),
                           ("start", windows.ref_start), ("index_map", windows.index_map),
                           ("ref_span", ref_span), ("alt_span", alt_span)):
            columns[key].append(value)
    empty = (0, seq_len)
    return VariantBatch(
        variants=list(variants),
        rows=np.asarray(list(rows), dtype=np.int64),
        norm_pos=columns["pos"], norm_ref=columns["ref"], norm_alt=columns["alt"], kinds=columns["kind"],
        ref_codes=np.stack(columns["ref_codes"]) if variants else np.zeros(empty, np.uint8),
        alt_codes=np.stack(columns["alt_codes"]) if variants else np.zeros(empty, np.uint8),
        ref_start=np.asarray(columns["start"], dtype=np.int64),
        index_map=np.stack(columns["index_map"]) if variants else np.zeros(empty, np.int64),
        ref_span=np.asarray(columns["ref_span"], dtype=np.int64).reshape(-1, 2),
        alt_span=np.asarray(columns["alt_span"], dtype=np.int64).reshape(-1, 2),
    )


def batches(variants: Iterable[Variant], seq_len: int, fetch: Fetch, batch_size: int,
            row_range: tuple[int, int] | None = None) -> Iterator[VariantBatch]:
    """Stream ``variants`` as batches of at most ``batch_size``; with ``row_range`` (lo, hi) only the
    stream rows in ``[lo, hi)`` (one shard), stopping after ``hi``. Memory holds one batch.

    Batches end at multiples of ``batch_size`` counted over the whole stream, so a shard whose
    bounds are such multiples batches its rows exactly as a one-shard run does: float32 kernels can
    round differently with another batch composition, and the bytes of ``scores.tsv`` would move."""
    lo, hi = row_range if row_range is not None else (0, None)
    pending: list[Variant] = []
    pending_rows: list[int] = []
    for row, variant in enumerate(variants):
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
