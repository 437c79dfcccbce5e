"""Snakemake script for rule train: fit the classifier on the train split."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stages.runner import run_stage
from seqlrp.stages.train import train


def main(smk):
    config = {"seed": smk.params.seed, "model": dict(smk.params.model), "train": dict(smk.params.train)}
    train(config, dict(smk.input.items()), dict(smk.output.items()), threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
