"""Snakemake script for rule jaspar: the JASPAR matrices (pyjaspar, offline) that motifs are matched against."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stages.motifs import build_database
from seqlrp.stages.runner import run_stage


def main(smk):
    build_database(dict(smk.params.motifs), smk.output[0])


run_stage(snakemake, main)  # noqa: F821
