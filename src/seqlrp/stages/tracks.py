"""Stage ``tracks``: one class and method's attributions -> bedGraph.gz (+ .tbi) and bigWig files."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from ..analysis.track_headers import track_line, track_provenance  # noqa: F401  (scripts/tracks.py calls it)
from ..analysis.tracks import chrom_sizes_from_tsv, genome_hypothetical, genome_track, observed_relevance, write_tracks
from ..formats.arrays import open_npz
from ..formats.table import read_regions_tsv

log = logging.getLogger(__name__)


def build_tracks(attr_dir: str, chrom_sizes_path: str, outputs: Mapping[str, str], combine: str = "mean",
                 decimals: int = 6, compress_level: int = 2, threads: int = 2,
                 provenance: Mapping[str, str] | None = None) -> int:
    """Write the observed-base relevance track (and, when ``outputs`` names them, A/C/G/T tracks).

    ``provenance`` (see :func:`seqlrp.analysis.track_headers.track_provenance`) goes into the bedGraph's header
    (:func:`seqlrp.analysis.track_headers.track_line`)."""
    attr_dir = Path(attr_dir)
    settings = json.loads((attr_dir / "settings.json").read_text())
    table = read_regions_tsv(attr_dir / "regions.tsv")
    sizes = chrom_sizes_from_tsv(chrom_sizes_path)
    values = observed_relevance(open_npz(attr_dir / "attr.npz"), open_npz(attr_dir / "ohe.npz"))
    cls, method = settings["class"], settings["method"]
    line = track_line(cls, method, settings, combine, provenance=provenance)
    intervals = genome_track(table.chrom, table.start, table.strand, values, sizes, combine)
    positions = write_tracks(intervals, sizes, outputs["bedgraph"], outputs["bigwig"], line, decimals, compress_level, threads)
    log.info("tracks %s.%s: %d positions from %d windows", cls, method, positions, len(table))
    if "hypothetical" in outputs:
        hypothetical = open_npz(attr_dir / "hyp.npz")
        for base, bigwig in enumerate(outputs["hypothetical"]):
            per_base = genome_hypothetical(hypothetical, table.strand, base)
            intervals = genome_track(table.chrom, table.start, table.strand, per_base, sizes, combine)
            write_tracks(intervals, sizes, None, bigwig, track_line(cls, method, settings, combine, f"hypothetical {'ACGT'[base]}"),
                         decimals, compress_level)
    return positions
