"""Snakemake script for rule evaluate: attribution methods against a truth BED (AUROC, AUPRC, RMA, Gini, AOPC, time)."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stages.evaluate import run
from seqlrp.stages.runner import run_stage


def main(smk):
    run(dict(smk.params.evaluate), dict(smk.params.methods), smk.params.seed, dict(smk.input.items()),
        dict(smk.output.items()), threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
