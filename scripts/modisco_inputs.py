"""Snakemake script for rule modisco_inputs: the windows TF-MoDISco gets, as the npz files `modisco motifs` reads."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from pathlib import Path

from seqlrp.stages.motifs import write_modisco_inputs
from seqlrp.stages.runner import run_stage


def main(smk):
    write_modisco_inputs(str(Path(smk.input.settings).parent), smk.input.onehot, smk.params.motifs["max_windows"],
                         dict(smk.output.items()))


run_stage(snakemake, main)  # noqa: F821
