"""Snakemake script for rule predict_shard: logits of one shard of the windows."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.predict import predict_shard
from seqlrp.stages.runner import run_stage


def main(smk):
    predict_shard(dict(smk.params.predict), dict(smk.input.items()), smk.output.logits, int(smk.wildcards.shard),
                  smk.params.shard_size, threads=smk.threads)


run_stage(snakemake, main)  # noqa: F821
