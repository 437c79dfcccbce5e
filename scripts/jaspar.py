"""Snakemake script for rule jaspar: the JASPAR matrices (pyjaspar, offline) that motifs are matched against."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.motifs import build_database
from seqlrp.stages.runner import run_stage


def main(smk):
    build_database(dict(smk.params.motifs), smk.output[0])


run_stage(snakemake, main)  # noqa: F821
