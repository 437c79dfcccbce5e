"""Snakemake script for rule attribute: join one class and method's shards into the attribution files."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stages.attribute import gather_attributions
from seqlrp.stages.runner import run_stage


def main(smk):
    shard_dirs = sorted({os.path.dirname(path) for path in smk.input.shards}, key=lambda d: int(os.path.basename(d)))
    gather_attributions(shard_dirs, dict(smk.output.items()))


run_stage(snakemake, main)  # noqa: F821
