"""Snakemake script for rule demo_variants: the demo's VCF and the labels of its variants."""

from pathlib import Path

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.demo_data import make_variants
from seqlrp.stages.runner import run_stage


def main(smk):
    make_variants(Path(smk.input.genome).parent, smk.params.seq_len, smk.params.seed, smk.output.vcf,
                  smk.output.truth)


run_stage(snakemake, main)  # noqa: F821
