"""Snakemake script for rule motifs: TF-MoDISco motifs of one class and method, TOMTOM vs JASPAR, logos."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from pathlib import Path

from seqlrp.stages.motifs import run
from seqlrp.stages.runner import run_stage


def main(smk):
    inputs = dict(smk.input.items())
    run(dict(smk.params.motifs), str(Path(inputs["settings"]).parent), inputs["onehot"], inputs["database"],
        dict(smk.output.items()), truth_path=inputs.get("truth"), threads=smk.threads, seqlets_path=inputs["seqlets"])


run_stage(snakemake, main)  # noqa: F821
