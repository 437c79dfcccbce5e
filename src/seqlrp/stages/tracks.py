"""Stage ``tracks``: one class and method's attributions -> bedGraph.gz (+ .tbi) and bigWig files.

The windows are read from the attribution store chromosome by chromosome, in genome order, a
bounded number at a time (:mod:`seqlrp.analysis.tracks`): memory does not grow with their number.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ..analysis.track_headers import track_line, track_provenance  # noqa: F401  (scripts/tracks.py calls it)
from ..analysis.tracks import chrom_sizes_from_tsv, genome_hypothetical, genome_track, observed_rows, write_tracks
from ..attribution.store import read_attribution

log = logging.getLogger(__name__)


def build_tracks(attr_dir: str, onehot_path: str, chrom_sizes_path: str, outputs: Mapping[str, str],
                 combine: str = "mean", decimals: int = 6, compress_level: int = 2, threads: int = 2,
                 provenance: Mapping[str, str] | None = None) -> int:
    """Write the relevance track of the store in ``attr_dir`` over the data set's one-hot
    ``onehot_path`` (and, when ``outputs`` names them, A/C/G/T hypothetical tracks).

    ``provenance`` (see :func:`seqlrp.analysis.track_headers.track_provenance`) goes into the bedGraph's header
    (:func:`seqlrp.analysis.track_headers.track_line`)."""
    store = read_attribution(attr_dir, onehot_path, {"chrom": str, "start": int, "strand": str})
    settings, table = store.settings, store.table
    sizes = chrom_sizes_from_tsv(chrom_sizes_path)
    values = observed_rows(store.relevance, store.onehot)
    cls, method = settings["class"], settings["method"]
    line = track_line(cls, method, settings, combine, provenance=provenance)
    intervals = genome_track(table["chrom"], table["start"], table["strand"], values, sizes, combine)
    positions = write_tracks(intervals, sizes, outputs["bedgraph"], outputs["bigwig"], line, decimals, compress_level, threads)
    log.info("tracks %s.%s: %d positions from %d windows", cls, method, positions, len(store))
    if "hypothetical" in outputs:
        for base, bigwig in enumerate(outputs["hypothetical"]):
            per_base = genome_hypothetical(store.hypothetical, table["strand"], base)
            intervals = genome_track(table["chrom"], table["start"], table["strand"], per_base, sizes, combine)
            write_tracks(intervals, sizes, None, bigwig, track_line(cls, method, settings, combine, f"hypothetical {'ACGT'[base]}"),
                         decimals, compress_level)
    return positions
