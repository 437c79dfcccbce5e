"""Snakemake script for rule tracks: bedGraph.gz (+ .tbi) and bigWig of one class and method."""

from pathlib import Path

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

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
