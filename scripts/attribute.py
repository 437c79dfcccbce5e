"""Snakemake script for rule attribute: the store of one class and method over its shards (tables only; the arrays stay in the shards)."""

import os

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.attribute import join_attributions
from seqlrp.stages.runner import run_stage


def main(smk):
    shard_dirs = sorted({os.path.dirname(path) for path in smk.input.shards}, key=lambda d: int(os.path.basename(d)))
    join_attributions(shard_dirs, dict(smk.output.items()))


run_stage(snakemake, main)  # noqa: F821
