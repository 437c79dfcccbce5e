"""Snakemake script for rule tracks: bedGraph.gz (+ .tbi) and bigWig of one class and method."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from pathlib import Path

from seqlrp.stages.runner import run_stage
from seqlrp.stages.tracks import build_tracks, track_provenance


def main(smk):
    outputs = {"bigwig": smk.output.bigwig, "bedgraph": smk.output.bedgraph}
    if smk.output.hypothetical:
        outputs["hypothetical"] = list(smk.output.hypothetical)
    cfg = smk.params.tracks
    provenance = track_provenance(smk.input.model, smk.params.config_sha256)
    build_tracks(str(Path(smk.input.settings).parent), smk.input.onehot, smk.input.chrom_sizes, outputs,
                 cfg["combine"], cfg["decimals"], cfg["compress_level"], smk.threads, provenance)


run_stage(snakemake, main)  # noqa: F821
