"""Snakemake script for rule motifs: TF-MoDISco motifs of one class and method, TOMTOM vs JASPAR, logos."""

from pathlib import Path

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.motifs import run
from seqlrp.stages.runner import run_stage


def main(smk):
    inputs = dict(smk.input.items())
    run(dict(smk.params.motifs), str(Path(inputs["settings"]).parent), inputs["onehot"], inputs["database"],
        dict(smk.output.items()), truth_path=inputs.get("truth"), threads=smk.threads, seqlets_path=inputs["seqlets"])


run_stage(snakemake, main)  # noqa: F821
