"""Snakemake script for rule attribute: the store of one class and method over its shards (tables only; the arrays stay in the shards)."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stages.attribute import join_attributions
from seqlrp.stages.runner import run_stage


def main(smk):
    shard_dirs = sorted({os.path.dirname(path) for path in smk.input.shards}, key=lambda d: int(os.path.basename(d)))
    join_attributions(shard_dirs, dict(smk.output.items()))


run_stage(snakemake, main)  # noqa: F821
