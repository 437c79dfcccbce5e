"""Snakemake script for rule predict: batched inference, predictions, metrics and ROC/PR figure."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.predict import predict
from seqlrp.stage import run_stage


def main(smk):
    predict(dict(smk.params.predict), dict(smk.input.items()), dict(smk.output.items()), threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
