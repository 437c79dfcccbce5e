"""Snakemake script for rule seqlets: FDR-calibrated seqlets of one class and method (BED9)."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from pathlib import Path

from seqlrp.stages.runner import run_stage
from seqlrp.stages.seqlets import run


def main(smk):
    run(dict(smk.params.seqlets), str(Path(smk.input.settings).parent), smk.input.onehot, smk.input.model,
        smk.input.chrom_sizes, dict(smk.output.items()), seed=smk.params.seed, device=smk.params.device,
        threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
