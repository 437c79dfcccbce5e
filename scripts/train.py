"""Snakemake script for rule train: fit the classifier on the train split."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.runner import run_stage
from seqlrp.stages.train import train


def main(smk):
    config = {"seed": smk.params.seed, "model": dict(smk.params.model), "train": dict(smk.params.train)}
    train(config, dict(smk.input.items()), dict(smk.output.items()), threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
