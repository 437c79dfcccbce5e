"""Snakemake script for rule attribute: relevance of one class's windows with one method."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.attribute import run
from seqlrp.stage import run_stage


def main(smk):
    run(dict(smk.params.attribute), dict(smk.input.items()), dict(smk.output.items()),
        cls=smk.wildcards.cls, method=smk.wildcards.method, threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
