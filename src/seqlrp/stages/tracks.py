"""Stage ``tracks``: one class and method's attributions -> bedGraph.gz (+ .tbi) and bigWig files."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from .. import __version__
from ..analysis.tracks import chrom_sizes_from_tsv, genome_hypothetical, genome_track, observed_relevance, write_tracks
from ..formats.arrays import open_npz
from ..formats.table import read_regions_tsv
from ..provenance import sha256_file, versions
from .attribute import MethodSpec

log = logging.getLogger(__name__)


def track_line(cls: str, method: str, settings: Mapping, combine: str, what: str = "relevance",
               provenance: Mapping[str, str] | None = None) -> str:
    """The bedGraph header: a UCSC ``track`` line (name ``{cls} {method}``) whose description carries
    the method, composite and pruning, preceded, with ``provenance``, by a ``#`` comment line with
    package versions, the model's and the config's SHA-256 (``key=value`` pairs).

    The comment comes first so that ``tabix -H`` (which prints the leading ``#`` lines) shows it;
    UCSC and IGV skip ``#`` lines before the track line, and the index skips both lines
    (re-index with ``tabix -p bed -S 2``; see :class:`seqlrp.formats.bedgraph.BedGraphWriter`)."""
    spec = MethodSpec.from_settings(settings)
    description = f"seqlrp {__version__} {what}: class {cls}, method {method} ({spec.describe()}), overlaps {combine}"
    line = f'track type=bedGraph name="{cls} {method}" description="{description}" visibility=full autoScale=on alwaysZero=on'
    if provenance:
        line = "#seqlrp provenance: " + " ".join(f"{key}={value}" for key, value in provenance.items()) + "\n" + line
    return line


def track_provenance(model_path: str | os.PathLike | None, config_sha256: str | None) -> dict[str, str]:
    """What made a track: seqlrp, torch and numpy versions, model and config SHA-256."""
    found = versions(("torch", "numpy"))
    record = {"seqlrp": __version__, **{name: found.get(name, "absent") for name in ("torch", "numpy")}}
    if model_path is not None:
        record["model_sha256"] = sha256_file(model_path)
    if config_sha256:
        record["config_sha256"] = config_sha256
    return record


def build_tracks(attr_dir: str, chrom_sizes_path: str, outputs: Mapping[str, str], combine: str = "mean",
                 decimals: int = 6, compress_level: int = 2, threads: int = 2,
                 provenance: Mapping[str, str] | None = None) -> int:
    """Write the observed-base relevance track (and, when ``outputs`` names them, A/C/G/T tracks).

    ``provenance`` (see :func:`track_provenance`) goes into the bedGraph's header."""
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
