"""Snakemake script for rule predict: join the shards' logits; predictions, metrics and ROC/PR figure."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stages.predict import gather_predictions
from seqlrp.stages.runner import run_stage


def main(smk):
    inputs = dict(smk.input.items())
    gather_predictions(inputs, list(smk.input.shards), dict(smk.output.items()))


run_stage(snakemake, main)  # noqa: F821
