"""Snakemake script for rule modisco_inputs: the windows TF-MoDISco gets, as the npz files `modisco motifs` reads."""

from pathlib import Path

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.motifs import write_modisco_inputs
from seqlrp.stages.runner import run_stage


def main(smk):
    write_modisco_inputs(str(Path(smk.input.settings).parent), smk.input.onehot, smk.params.motifs["max_windows"],
                         dict(smk.output.items()))


run_stage(snakemake, main)  # noqa: F821
