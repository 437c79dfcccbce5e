"""Variants -> a reference and an alternative window of ``seq_len`` bases, aligned by an index map.

Both windows are codes (L,) uint8 (0..3 = A,C,G,T, 4 = N, :mod:`seqlrp.formats.onehot`). The
reference window is the genome's ``[pos - 1 - L // 2, pos - 1 - L // 2 + L)`` (0-based, half-open),
``pos`` being the variant's VCF POS after left-normalisation: an SNV's base, an indel's anchor base,
sits at index ``L // 2`` (for even and odd L). Positions off a chromosome end are N, padded exactly as
extraction pads (:func:`seqlrp.formats.genome.gather_windows`). The alternative window is the alt
haplotype over the same span:

- SNV/MNP (REF and ALT of equal length): the reference window with the allele substituted;
- deletion (ALT shorter): the same left flank, ALT, then genome bases after REF: the window takes
  extra genome bases on the right so it keeps length L;
- insertion (ALT longer): the haplotype is L + (len(ALT) - len(REF)) long and is trimmed equally
  on both sides; when the surplus is odd the right side loses the extra base.

``index_map[i]`` is the reference-window index holding the same genome base as alt position ``i``,
or -1 when it has none (an inserted base, or a base outside the reference window, such as the
extra bases a deletion brings in). ALT bases are matched to REF bases from the left, which is exact
for normalised indels (anchor base + inserted/deleted bases), and from the right for an indel at
POS 1, whose anchor base follows the inserted or deleted ones (the VCF convention).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..formats.genome import gather_windows
from ..formats.onehot import codes_from_str

Fetch = Callable[[str, int, int], str]
"""``fetch(chrom, start, end) -> str``: genome bases of [start, end), 0-based, half-open, clipped to
the chromosome (``seqlrp.formats.genome.Genome.fetch``)."""


class VariantWindows(NamedTuple):
    """``ref_codes`` (L,) and ``alt_codes`` (L,) uint8; ``ref_start`` the 0-based genome start of the
    reference window; ``index_map`` (L,) int64, reference index of each alt position or -1."""

    ref_codes: np.ndarray
    alt_codes: np.ndarray
    ref_start: int
    index_map: np.ndarray


def normalize(chrom: str, pos: int, ref: str, alt: str, fetch: Fetch) -> tuple[int, str, str]:
    """Left-normalise a variant (vt / ``bcftools norm`` semantics): ``(pos, ref, alt)``, upper case.

    Common trailing bases are trimmed and the alleles extended by the genome base on their left
    while one is empty or both end with the same base; then common leading bases are trimmed while
    both alleles keep at least one base. An indel therefore ends at its left-most equivalent
    position, with one anchor base. At POS 1 an emptied allele takes the base on its right instead
    (the VCF convention). SNVs and ``ref == alt`` are returned as given (upper case).
    """
    ref, alt = ref.upper(), alt.upper()
    if ref == alt or len(ref) == len(alt) == 1:
        return pos, ref, alt
    while True:
        changed = False
        if ref and alt and ref[-1] == alt[-1]:
            ref, alt = ref[:-1], alt[:-1]
            changed = True
        if not ref or not alt:
            if pos <= 1:
                base = fetch(chrom, pos - 1 + len(ref), pos + len(ref)).upper() or "N"
                ref, alt = ref + base, alt + base
                break
            base = fetch(chrom, pos - 2, pos - 1).upper() or "N"
            ref, alt, pos = base + ref, base + alt, pos - 1
            changed = True
        if not changed:
            break
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def genome_codes(fetch: Fetch, chrom: str, start: int, length: int) -> np.ndarray:
    """Codes (length,) uint8 of the genome's [start, start + length); N outside the chromosome."""
    if length <= 0:
        return np.empty(0, dtype=np.uint8)
    lo = max(0, start)
    segment = codes_from_str(fetch(chrom, lo, start + length)) if start + length > lo else np.empty(0, np.uint8)
    return gather_windows(segment, np.array([start - lo]), length)[0].copy()


def variant_windows(variant, seq_len: int, fetch: Fetch) -> VariantWindows:
    """The reference and alternative windows of ``variant`` (anything with ``chrom``, ``pos``
    (1-based), ``ref`` and ``alt``, e.g. :class:`seqlrp.formats.vcf.Variant`), left-normalised first.

    See the module docstring for the layout of both windows and the index map.
    """
    if seq_len <= 0:
        raise ValueError(f"seq_len must be positive, got {seq_len}")
    chrom = variant.chrom
    pos, ref, alt = normalize(chrom, variant.pos, variant.ref, variant.alt, fetch)
    centre = seq_len // 2
    start = pos - 1 - centre
    ref_codes = genome_codes(fetch, chrom, start, seq_len)
    n_ref, n_alt = len(ref), len(alt)
    right_len = max(0, seq_len - centre - min(n_ref, n_alt))
    right_start = pos - 1 + n_ref
    haplotype = np.concatenate([ref_codes[:centre], codes_from_str(alt),
                                genome_codes(fetch, chrom, right_start, right_len)])
    # the genome position of every haplotype base, -1 for inserted ones; ALT bases face REF bases
    # from the left, except for an indel at POS 1, whose anchor base is on the right
    right_anchored = n_ref != n_alt and ref[:1] != alt[:1] and ref[-1:] == alt[-1:]
    facing = np.arange(n_alt) - (n_alt - n_ref if right_anchored else 0)
    genome_pos = np.concatenate([
        np.arange(start, start + centre),
        np.where((facing >= 0) & (facing < n_ref), pos - 1 + facing, -1),
        np.arange(right_start, right_start + right_len),
    ]).astype(np.int64)
    # an insertion's window loses (len(ALT) - len(REF)) // 2 bases on the left (the rest on the right),
    # however long the haplotype (both alleles longer than the right half of the window included)
    offset = (n_alt - n_ref) // 2 if n_alt > n_ref else 0
    haplotype = haplotype[offset : offset + seq_len]
    genome_pos = genome_pos[offset : offset + seq_len]
    index = genome_pos - start
    index_map = np.where((genome_pos >= 0) & (index >= 0) & (index < seq_len), index, -1)
    # a base before the chromosome start has a negative genome position but is still padding that
    # both windows share: keep it aligned when it lies in the left flank
    flank = np.arange(offset, offset + haplotype.size) < centre
    index_map = np.where(flank, np.arange(offset, offset + haplotype.size), index_map)
    return VariantWindows(ref_codes, haplotype.astype(np.uint8), start, index_map.astype(np.int64))
