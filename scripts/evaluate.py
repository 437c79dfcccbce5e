"""Snakemake script for rule evaluate: attribution methods against a truth BED (AUROC, AUPRC, RMA, Gini, AOPC, time)."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.evaluate import run
from seqlrp.stages.runner import run_stage


def main(smk):
    run(dict(smk.params.evaluate), dict(smk.params.methods), smk.params.seed, dict(smk.input.items()),
        dict(smk.output.items()), threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
