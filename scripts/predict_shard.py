"""Snakemake script for rule predict_shard: logits of one shard of the windows."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

from seqlrp.stages.predict import predict_shard
from seqlrp.stages.runner import run_stage


def main(smk):
    predict_shard(dict(smk.params.predict), dict(smk.input.items()), smk.output.logits, int(smk.wildcards.shard),
                  smk.params.shard_size, threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
