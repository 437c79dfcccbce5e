"""Snakemake script for rule import_model: adopt a seqlrp checkpoint, or import a model from outside seqlrp."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.runner import run_stage
from seqlrp.stages.train import import_checkpoint, import_foreign_model


def main(smk):
    if smk.params.foreign:
        import_foreign_model(dict(smk.params.model), smk.input.info, dict(smk.output.items()))
    else:
        import_checkpoint(smk.input.checkpoint, smk.input.info, smk.output.model)


run_stage(snakemake, main)  # noqa: F821
