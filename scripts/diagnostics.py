"""Snakemake script for rule diagnostics: artifact checks with verdicts for every class and method."""

from pathlib import Path

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.diagnostics import run
from seqlrp.stages.runner import run_stage


def main(smk):
    attr_dirs = [str(Path(path).parent) for path in smk.input.settings]
    run(dict(smk.params.diagnostics), attr_dirs, smk.input.onehot, smk.input.model, dict(smk.output.items()),
        seed=smk.params.seed, threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
