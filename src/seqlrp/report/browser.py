"""The offline browser page of a run (``results/browser.html``): the regions chosen, the data cut to them.

:func:`page_data` gathers a run's files (:class:`BrowserInputs`) into the page's JSON: the region
list, the reference slices, and the igv.js tracks as gzip data URIs (:mod:`.browser_data`,
:mod:`.browser_variants`); :func:`write_browser` renders it with igv.js inline
(:mod:`.browser_page`) and keeps the page under a size limit by showing fewer regions.

Region lists, each of at most ``per_list`` regions: the windows of highest logit per class (from the
first method's ``regions.tsv``), the windows holding the most seqlets (every class and method), and
the strongest variants per class. Tracks, in order: the truth BED, the variants BED, then per class
and method the relevance (dynseq letters, one symmetric scale per track), the seqlets and the motif
instances, then per class and method both alleles' relevance in the variant windows.
"""

from __future__ import annotations

import base64
import gzip
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats.atomic import atomic_write_text
from .browser_data import (
    PageRegion,
    Slices,
    bedgraph_text,
    bigwig_values,
    dataset_reference,
    genome_reference,
    igv_names,
    scale_of,
    seqlet_dense_windows,
    sliced_bed,
    top_logit_windows,
)
from .browser_page import render_page
from .data import locus
from .browser_variants import VariantView, fill_alt_sequences, top_variants
from .htmlkit import esc
from .igv_bundle import IgvBundle

log = logging.getLogger(__name__)

TRUTH_COLOR = "rgb(0,150,0)"
ROI_COLOR = "rgba(245,194,17,0.35)"
RELEVANCE_HEIGHT = 70
BED_HEIGHT = 35


@dataclass
class BrowserInputs:
    """A run's files the page reads (paths as a run writes them under ``results/``).

    ``pairs`` are the ``(class, method)`` pairs in track order, and every per-pair mapping is keyed by
    them; a pair missing from a mapping has no such track. ``windows``: class -> the first method's
    attribution ``regions.tsv`` (0-based, half-open windows with their ``logit``); ``bigwigs``,
    ``seqlets``, ``instances``: the tracks, seqlet BEDs and motif instance BEDs; ``truth``: a BED of
    known sites; ``variant_scores``, ``variant_bed``, ``variant_maps``: ``variants/scores.tsv``,
    ``variants/variants.bed`` and the maps stores ``variants/maps/{class}.{method}``; ``genome``:
    the FASTA the reference bases come from, or, for a run without one, ``dataset_onehot`` (N, 4, L)
    and ``dataset_regions`` (the data set's ``regions.tsv``).
    """

    pairs: Sequence[tuple[str, str]]
    chrom_sizes: str | os.PathLike
    seq_len: int
    windows: Mapping[str, str | os.PathLike] = field(default_factory=dict)  # class -> regions.tsv
    bigwigs: Mapping[tuple[str, str], str | os.PathLike] = field(default_factory=dict)
    seqlets: Mapping[tuple[str, str], str | os.PathLike] = field(default_factory=dict)
    instances: Mapping[tuple[str, str], str | os.PathLike] = field(default_factory=dict)
    truth: str | os.PathLike | None = None
    variant_scores: str | os.PathLike | None = None
    variant_bed: str | os.PathLike | None = None
    variant_maps: Mapping[tuple[str, str], str | os.PathLike] = field(default_factory=dict)
    genome: str | os.PathLike | None = None
    genome_index: str | os.PathLike | None = None  # where a missing genome index is built (extract's)
    # a run without a genome (FASTA-of-sequences): the data set's onehot.npy and its regions.tsv
    dataset_onehot: str | os.PathLike | None = None
    dataset_regions: str | os.PathLike | None = None


def gzip_data_uri(text: str) -> str:
    """``data:application/gzip;base64,...`` of ``text`` (gzip without a time stamp: same bytes each run)."""
    return "data:application/gzip;base64," + base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode()


def choose_regions(inputs: BrowserInputs, per_list: int) -> tuple[list[PageRegion], list[VariantView]]:
    """The region list: top logit per class, seqlet-densest windows, strongest variants per class."""
    regions: list[PageRegion] = []
    for cls, table in inputs.windows.items():
        regions += top_logit_windows(table, cls, per_list)
    if inputs.windows and inputs.seqlets:
        regions += seqlet_dense_windows(next(iter(inputs.windows.values())), list(inputs.seqlets.values()), per_list)
    views: list[VariantView] = []
    if inputs.variant_scores is not None:
        variant_regions, views = top_variants(inputs.variant_scores, inputs.variant_maps, per_list, inputs.seq_len)
        regions += variant_regions
    return regions, views


def _reference(inputs: BrowserInputs, slices: Slices) -> dict[tuple[str, int, int], str]:
    if inputs.genome is not None:
        from ..formats.genome import Genome

        with Genome(inputs.genome, index_dir=inputs.genome_index) as genome:
            return genome_reference(genome.fetch, slices)
    from ..formats.arrays import open_npy
    from ..formats.table import read_regions_tsv

    table = read_regions_tsv(inputs.dataset_regions)
    windows = list(zip(table.chrom, table.start, table.end, table.strand))
    return dataset_reference(open_npy(inputs.dataset_onehot, shape=(None, 4, None)), windows, slices)


def _fasta(reference, names, sizes, views: Sequence[VariantView], alt_names) -> str:
    lines = []
    for (chrom, start, end), bases in reference.items():
        lines.append(f">{names[chrom]}:{start + 1}-{end} @len={sizes[chrom]}\n{bases}\n")
    for view in views:  # a slice header too: igv.js 3.8 keeps the previous header's @len for a plain one
        length = len(view.alt_sequence)
        lines.append(f">{alt_names[view.alt_contig]}:1-{length} @len={length}\n{view.alt_sequence}\n")
    return "".join(lines)


def _relevance_track(name: str, text: str, scale: float) -> dict:
    return {"name": esc(name), "type": "wig", "format": "bedgraph", "url": gzip_data_uri(text),
            "graphType": "dynseq", "autoscale": False, "min": -scale, "max": scale, "height": RELEVANCE_HEIGHT,
            "color": "rgb(60,60,60)", "altColor": "rgb(60,60,60)"}


def _bed_track(name: str, text: str, color: str | None = None) -> dict:
    track = {"name": esc(name), "type": "annotation", "format": "bed", "url": gzip_data_uri(text),
             "displayMode": "EXPANDED", "height": BED_HEIGHT}
    if color:
        track["color"] = color
    return track


def _tracks(inputs: BrowserInputs, slices: Slices, sizes: Mapping[str, int], names, views,
            alt_names) -> list[dict]:
    """The igv.js tracks: truth, variants, relevance per pair, variant windows per pair, then seqlets
    and motif instances per pair."""
    tracks = []
    if inputs.truth is not None:
        from ..formats.igv import has_item_colours

        color = None if has_item_colours(inputs.truth) else TRUTH_COLOR
        tracks.append(_bed_track(f"known sites ({os.path.basename(inputs.truth)})",
                                 sliced_bed([inputs.truth], slices, names), color))
    if inputs.variant_bed is not None:
        tracks.append(_bed_track("variant effects", sliced_bed([inputs.variant_bed], slices, names)))
    for cls, method in inputs.pairs:
        if (cls, method) in inputs.bigwigs:
            values = bigwig_values(inputs.bigwigs[cls, method], slices)
            text = bedgraph_text((names[chrom], start, v) for (chrom, start, _), v in values.items())
            tracks.append(_relevance_track(f"{cls} {method} relevance", text, scale_of(values.values())))
    tracks += _variant_tracks(inputs.pairs, views, sizes, names, alt_names)
    for cls, method in inputs.pairs:
        if (cls, method) in inputs.seqlets:
            tracks.append(_bed_track(f"{cls} {method} seqlets", sliced_bed([inputs.seqlets[cls, method]], slices, names)))
        if (cls, method) in inputs.instances:
            tracks.append(_bed_track(f"{cls} {method} motif instances",
                                     sliced_bed([inputs.instances[cls, method]], slices, names)))
    return tracks


def _variant_tracks(pairs, views: Sequence[VariantView], sizes: Mapping[str, int], names, alt_names) -> list[dict]:
    """Per class and method, both alleles' relevance in the variant windows: the reference window on
    the genome, the alternative window on the variant's own contig, one scale."""
    tracks = []
    for pair in pairs:
        shown = [view for view in views if pair in view.ref_values]
        if not shown:
            continue
        pieces, taken = [], {}
        for view in shown:  # the stronger variant keeps a base two reference windows share
            ref = view.ref_values[pair].copy()
            positions = range(view.window_start, view.window_start + ref.size)
            seen = taken.setdefault(view.chrom, set())
            ref[[p in seen or not 0 <= p < sizes[view.chrom] for p in positions]] = np.nan
            seen.update(positions)
            pieces.append((names[view.chrom], view.window_start, ref))
            pieces.append((alt_names[view.alt_contig], 0, view.alt_values[pair]))
        tracks.append(_relevance_track(f"{pair[0]} {pair[1]} variant windows (ref | alt)", bedgraph_text(pieces),
                                       scale_of([piece[2] for piece in pieces])))
    return tracks


def _roi(views: Sequence[VariantView], names, alt_names) -> list[dict]:
    if not views:
        return []
    features = []
    for view in views:
        # igv.js shows a band's name as HTML in some places and as text in others: build it from parts
        # that read the same either way (an igv.js contig name, a number, alleles of A, C, G, T, N)
        label = f"{names[view.chrom]}:{view.pos} {_allele(view.ref)}>{_allele(view.alt)}"
        features.append({"chr": names[view.chrom], "start": view.pos - 1, "end": view.pos - 1 + max(1, len(view.ref)),
                         "name": label})
        start, end = view.alt_mark()
        features.append({"chr": alt_names[view.alt_contig], "start": start, "end": end, "name": label})
    return [{"name": "variants", "color": ROI_COLOR, "features": features}]


def _allele(allele: str, limit: int = 12) -> str:
    bases = re.sub(r"[^ACGTN]", "N", allele.upper())
    return bases if len(bases) <= limit else f"{bases[:limit]}...{len(bases)}bp"


def _position(region: PageRegion) -> str:
    """The region's 1-based locus as the report writes it, with its strand when it has one."""
    strand = f" ({region.strand})" if region.strand in ("+", "-") else ""
    return locus(region.chrom, region.start, region.end, region.strand)[1] + strand


class PageTooLarge(ValueError):
    """Even one region per list makes a page larger than ``browser.max_megabytes``."""


def trim_regions(regions: Sequence[PageRegion], views: Sequence[VariantView],
                 per_list: int) -> tuple[list[PageRegion], list[VariantView]]:
    """The first ``per_list`` regions of each list (kind and class), and the variants they still name."""
    kept, counts = [], {}
    for region in regions:
        key = (region.kind, region.cls)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] <= per_list:
            kept.append(region)
    named = {region.alt_contig for region in kept}
    return kept, [view for view in views if view.alt_contig in named]


def page_data(inputs: BrowserInputs, per_list: int,
              chosen: tuple[Sequence[PageRegion], Sequence[VariantView]] | None = None) -> dict:
    """The page's JSON (see :func:`seqlrp.report.browser_page.render_page`) for ``per_list`` regions
    per list; ``chosen``: the regions and variants of :func:`choose_regions` for at least as many
    (then cut to ``per_list``, nothing read again)."""
    from ..analysis.tracks import chrom_sizes_from_tsv

    sizes = chrom_sizes_from_tsv(inputs.chrom_sizes)
    regions, views = chosen if chosen is not None else choose_regions(inputs, per_list)
    unknown = sorted({r.chrom for r in regions if r.chrom not in sizes})
    if unknown:
        log.warning("%s: no size for contig(s) %s; their regions are left out", inputs.chrom_sizes, ", ".join(unknown[:5]))
    regions, views = trim_regions([r for r in regions if r.chrom in sizes], views, per_list)
    slices = Slices.of(((r.chrom, r.start, r.end) for r in regions), sizes)
    names = igv_names(sizes)
    alt_names = igv_names([view.alt_contig for view in views], reserved=names.values())
    reference = _reference(inputs, slices)
    fill_alt_sequences(views, reference, inputs.seq_len)
    order = {chrom: i for i, chrom in enumerate(sizes)}
    entries = []
    for region in regions:
        locus = f"{names[region.chrom]}:{max(0, region.start) + 1}-{min(sizes[region.chrom], region.end)}"
        if region.alt_contig is not None:
            locus += f" {alt_names[region.alt_contig]}"
        score = region.score if np.isfinite(region.score) else None
        entries.append({"kind": region.kind, "name": region.name, "position": _position(region),
                        "order": order[region.chrom] * 2.0**40 + region.start,
                        "cls": region.cls, "score": score, "note": region.note, "locus": locus})
    data = {"reference": None, "locus": "", "tracks": [], "roi": [], "regions": entries,
            "note": "" if entries else "no regions to show: the run has no windows, seqlets or variants", "bases": 0}
    if entries:
        data.update(reference={"id": "seqlrp", "name": "seqlrp run", "indexed": False,
                               "fastaURL": gzip_data_uri(_fasta(reference, names, sizes, views, alt_names))},
                    locus=entries[0]["locus"], tracks=_tracks(inputs, slices, sizes, names, views, alt_names),
                    roi=_roi(views, names, alt_names), bases=slices.n_bases + sum(len(v.alt_sequence) for v in views))
    return data


def write_browser(path: str | os.PathLike, inputs: BrowserInputs, bundle: IgvBundle, *, per_list: int,
                  max_megabytes: float, title: str = "seqlrp relevance browser", subtitle: str = "") -> dict:
    """Write a browser page of a run's files atomically.

    Parameters
    ----------
    path
        The page to write (``results/browser.html``); nothing is left there on an error.
    inputs
        The run's files (:class:`BrowserInputs`).
    bundle
        igv.js and its licence (:func:`seqlrp.report.igv_bundle.load`).
    per_list
        Regions per list: top logit per class, seqlet-densest windows, strongest variants per class.
    max_megabytes
        The largest page; a larger one is built again with half as many regions per list (a warning
        is logged) until it fits.
    title, subtitle
        The page's heading (text, escaped).

    Returns
    -------
    dict
        ``regions`` (rows of the region list), ``bases`` (reference bases in the page), ``bytes``
        (the page's size) and ``per_list`` (regions per list after any halving).

    Raises
    ------
    PageTooLarge
        When even one region per list passes ``max_megabytes``.
    """
    limit = max_megabytes * 1e6
    n = per_list
    chosen = choose_regions(inputs, per_list)
    while True:
        data = page_data(inputs, n, chosen)
        page = render_page(title, subtitle, data, bundle)
        size = len(page.encode("utf-8"))
        if size <= limit or n <= 1:
            break
        log.warning("%s: %.1f MB with %d regions per list, over browser.max_megabytes %.0f; trying %d",
                    path, size / 1e6, n, max_megabytes, n // 2)
        n //= 2
    if size > limit:
        raise PageTooLarge(f"{path}: {size / 1e6:.1f} MB even with one region per list, over browser.max_megabytes "
                         f"{max_megabytes:g}: raise it")
    with atomic_write_text(Path(path)) as handle:
        handle.write(page)
    return {"regions": len(data["regions"]), "bases": data["bases"], "bytes": size, "per_list": n}
