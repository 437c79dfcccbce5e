"""Snakemake script for rule diagnostics: artifact checks with verdicts for every class and method."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from pathlib import Path

from seqlrp.stages.diagnostics import run
from seqlrp.stages.runner import run_stage


def main(smk):
    attr_dirs = [str(Path(path).parent) for path in smk.input.settings]
    run(dict(smk.params.diagnostics), attr_dirs, smk.input.onehot, smk.input.model, dict(smk.output.items()),
        seed=smk.params.seed, threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
