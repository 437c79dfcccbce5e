"""Snakemake script for rules train and import_model: train the classifier, or adopt a checkpoint."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stage import run_stage
from seqlrp.training import import_checkpoint, import_foreign_model, train


def main(smk):
    if smk.rule == "import_model":
        if smk.params.foreign:
            import_foreign_model(dict(smk.params.model), smk.input.info, dict(smk.output.items()))
        else:
            import_checkpoint(smk.input.checkpoint, smk.input.info, smk.output.model)
        return
    config = {"seed": smk.params.seed, "model": dict(smk.params.model), "train": dict(smk.params.train)}
    train(config, dict(smk.input.items()), dict(smk.output.items()), threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
