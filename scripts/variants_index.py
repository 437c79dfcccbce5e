"""Snakemake script for checkpoint variants_index: check every record of the VCF and count what will be scored."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.runner import run_stage
from seqlrp.stages.variants import index_variants


def main(smk):
    index_variants(dict(smk.params.variant_effects), smk.input.genome, smk.input.vcf, smk.output.index,
                   index_dir=smk.params.index_dir)


run_stage(snakemake, main)  # noqa: F821
