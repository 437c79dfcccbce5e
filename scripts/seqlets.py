"""Snakemake script for rule seqlets: FDR-calibrated seqlets of one class and method (BED9)."""

from pathlib import Path

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.runner import run_stage
from seqlrp.stages.seqlets import run


def main(smk):
    run(dict(smk.params.seqlets), str(Path(smk.input.settings).parent), smk.input.onehot, smk.input.model,
        smk.input.chrom_sizes, dict(smk.output.items()), seed=smk.params.seed, device=smk.params.device,
        threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
