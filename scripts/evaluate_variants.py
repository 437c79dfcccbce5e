"""Snakemake script for rule evaluate_variants: AUROCs of variant scores against labelled variants."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.runner import run_stage
from seqlrp.stages.variants import evaluate_variants


def main(smk):
    evaluate_variants(smk.input.scores, smk.input.truth, smk.output[0])


run_stage(snakemake, main)  # noqa: F821
