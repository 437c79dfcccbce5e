"""Snakemake script for rule demo_data: writes the planted-motif demo data set."""

from pathlib import Path

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.demo_data import make_demo
from seqlrp.stages.runner import run_stage


def main(smk):
    make_demo(smk.params.demo, smk.params.seq_len, smk.params.seed, Path(smk.output.genome).parent)


run_stage(snakemake, main)  # noqa: F821
