"""Snakemake script for rule demo_data: writes the planted-motif demo data set."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from pathlib import Path

from seqlrp.stages.demo_data import make_demo
from seqlrp.stages.runner import run_stage


def main(smk):
    make_demo(smk.params.demo, smk.params.seq_len, smk.params.seed, Path(smk.output.genome).parent)


run_stage(snakemake, main)  # noqa: F821
