"""Snakemake script for rule predict: join the shards' logits; predictions, metrics and ROC/PR figure."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.predict import gather_predictions
from seqlrp.stages.runner import run_stage


def main(smk):
    inputs = dict(smk.input.items())
    gather_predictions(inputs, list(smk.input.shards), dict(smk.output.items()))


run_stage(snakemake, main)  # noqa: F821
