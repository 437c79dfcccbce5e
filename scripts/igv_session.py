"""Snakemake script for rule igv_session: one IGV session opening the genome, the truth BED, every bigWig,
seqlets BED and motif instances BED."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.igv_session import run
from seqlrp.stages.runner import run_stage


def main(smk):
    chrom_sizes_out = smk.output.chrom_sizes[0] if smk.output.chrom_sizes else None
    truth = smk.input.truth[0] if smk.input.truth else None
    run(smk.output.session, smk.params.genome, smk.params.pairs, list(smk.input.bigwigs), list(smk.input.seqlets),
        smk.input.regions, smk.input.chrom_sizes, chrom_sizes_out, instances=list(smk.input.instances), truth=truth,
        variants=smk.input.variants[0] if smk.input.variants else None)


run_stage(snakemake, main)  # noqa: F821
