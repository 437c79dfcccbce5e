"""Snakemake script for rule variants_null: the same changes scored in dinucleotide-shuffled contexts."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.runner import run_stage
from seqlrp.stages.variants import build_null


def main(smk):
    build_null(dict(smk.params.variant_effects), dict(smk.input.items()), smk.output.null, seed=smk.params.seed,
               threads=smk.threads, index_dir=smk.params.index_dir)


run_stage(snakemake, main)  # noqa: F821
