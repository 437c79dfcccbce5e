"""The variants of the browser page: the strongest per class, their windows and both alleles' relevance.

Variants are ranked as the report ranks them (:func:`seqlrp.report.variants.read_variant_scores`:
smallest p, then largest |Δ|, first method). Each chosen variant is shown on its reference window
(genome coordinates, 0-based, half-open ``[pos - 1 - L // 2, pos - 1 - L // 2 + L)``) beside a
contig of its own holding the alternative window (``variant<k>_alt``, k its ``variant`` index in
``scores.tsv``), so the alternative allele's bases are drawn with their own relevance. With the
variant maps (``variant_effects.maps``), the reference window's relevance goes on the genome and
the alternative window's on that contig.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats.onehot import decode
from .browser_data import PageRegion
from .variants import read_variant_scores, short_allele, variant_name



@dataclass
class VariantView:
    """One variant on the page: its reference window, its alternative window, and per ``(class,
    method)`` the relevance of both (``ref``/``alt`` (L,) float32; absent without maps)."""

    variant: int
    chrom: str
    pos: int
    ref: str
    alt: str
    window_start: int
    alt_sequence: str
    ref_values: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    alt_values: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    @property
    def alt_contig(self) -> str:
        return f"variant{self.variant}_alt"

    def alt_mark(self) -> tuple[int, int]:
        """Where the alternative allele lies in the alternative window (0-based, half-open), laid out
        as :mod:`seqlrp.sequences.variant_windows` lays it (alleles as the VCF writes them)."""
        length = len(self.alt_sequence)
        centre = length // 2
        offset = (len(self.alt) - len(self.ref)) // 2 if len(self.alt) > len(self.ref) else 0
        start = max(0, centre - offset)
        return start, min(length, start + max(1, len(self.alt)))


def _number(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return math.nan
    return value


def top_variants(scores_tsv: str | os.PathLike, maps_dirs: Mapping[tuple[str, str], str | os.PathLike],
                 n: int, seq_len: int) -> tuple[list[PageRegion], list[VariantView]]:
    """The ``n`` strongest variants of each class (region-list rows) and the views of the variants
    they name, in order of first appearance. ``maps_dirs``: ``(class, method)`` -> the variant maps
    store (empty: no maps; the alternative window then comes from the reference window with the
    allele written in, for SNVs and MNPs only)."""
    scores = read_variant_scores(scores_tsv, top=n)
    rows = [(cls, row) for cls, class_scores in scores.classes.items() for row in class_scores.top()]
    chosen = list(dict.fromkeys(int(row["variant"]) for _, row in rows))
    views = _views(rows, chosen, maps_dirs, seq_len)
    regions = []
    for cls, row in rows:
        view = views[int(row["variant"])]
        p_value = _number(row.get("p_value", ""))
        note = f"{short_allele(row['ref'])}>{short_allele(row['alt'])}"
        if math.isfinite(p_value):
            note += f", p {p_value:.3g}"
        if row.get("motif") and row.get("motif_effect"):
            note += f", {row['motif']} {row['motif_effect']}"
        regions.append(PageRegion("variant", variant_name(row), view.chrom, view.window_start,
                                  view.window_start + seq_len, cls, _number(row["delta"]), ".", note, view.alt_contig))
    return regions, [views[v] for v in chosen]


def _views(rows, chosen: Sequence[int], maps_dirs, seq_len: int) -> dict[int, VariantView]:
    first_row = {}
    for _, row in rows:
        first_row.setdefault(int(row["variant"]), row)
    views = {}
    for variant in chosen:
        row = first_row[variant]
        start = int(row["pos"]) - 1 - seq_len // 2
        views[variant] = VariantView(variant, row["chrom"], int(row["pos"]), row["ref"], row["alt"], start, "")
    for pair, store_dir in maps_dirs.items():
        from ..variants.maps import open_variant_maps

        maps = open_variant_maps(Path(store_dir))
        where = {int(v): k for k, v in enumerate(np.asarray(maps.variants)) if int(v) in views}
        for variant, k in where.items():
            view = views[variant]
            view.window_start = int(maps.store.table["start"][2 * k])
            view.alt_sequence = view.alt_sequence or decode(maps.store.onehot[2 * k + 1])
            view.ref_values[pair] = np.asarray(maps.ref(k), dtype=np.float32)
            view.alt_values[pair] = np.asarray(maps.alt(k), dtype=np.float32)
    return views


def fill_alt_sequences(views: Sequence[VariantView], reference: Mapping[tuple[str, int, int], str],
                       seq_len: int) -> None:
    """Give views without maps an alternative window: the reference window with ALT written over
    REF (equal lengths), or the reference window itself (an indel: its layout needs the maps)."""
    for view in views:
        if view.alt_sequence:
            continue
        bases = _window_bases(reference, view.chrom, view.window_start, seq_len)
        at = view.pos - 1 - view.window_start
        if len(view.ref) == len(view.alt) and 0 <= at and at + len(view.alt) <= len(bases):
            bases = bases[:at] + view.alt.upper() + bases[at + len(view.alt):]
        view.alt_sequence = bases


def _window_bases(reference, chrom: str, start: int, length: int) -> str:
    out = ["N"] * length
    for (c, s, e), bases in reference.items():
        if c != chrom:
            continue
        for i in range(max(start, s), min(start + length, e)):
            out[i - start] = bases[i - s]
    return "".join(out)
