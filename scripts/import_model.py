"""Snakemake script for rule import_model: adopt a seqlrp checkpoint, or import a model from outside seqlrp."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stages.runner import run_stage
from seqlrp.stages.train import import_checkpoint, import_foreign_model


def main(smk):
    if smk.params.foreign:
        import_foreign_model(dict(smk.params.model), smk.input.info, dict(smk.output.items()))
    else:
        import_checkpoint(smk.input.checkpoint, smk.input.info, smk.output.model)


run_stage(snakemake, main)  # noqa: F821
