"""Snakemake script for rule igv_session: one IGV session opening the genome, every bigWig and seqlets BED."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stages.igv_session import run
from seqlrp.stages.runner import run_stage


def main(smk):
    chrom_sizes_out = smk.output.chrom_sizes[0] if smk.output.chrom_sizes else None
    run(smk.output.session, smk.params.genome, smk.params.pairs, list(smk.input.bigwigs), list(smk.input.seqlets),
        smk.input.regions, smk.input.chrom_sizes, chrom_sizes_out)


run_stage(snakemake, main)  # noqa: F821
