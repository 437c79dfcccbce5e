"""Snakemake script for rule variants_shard: score and explain one shard of the VCF's rows."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.runner import run_stage
from seqlrp.stages.variants import score_shard


def main(smk):
    config = dict(smk.params.variant_effects)
    shard, size = int(smk.wildcards.shard), config["shard_size"]
    rows = (shard * size, (shard + 1) * size) if size > 0 else None
    maps = {(cls, method): {key: smk.output[f"map{i}_{key}"] for key in smk.params.map_keys}
            for i, (cls, method) in enumerate(smk.params.pairs)}
    score_shard(config, dict(smk.params.methods), dict(smk.input.items()), dict(smk.output.items()), maps, rows,
                seed=smk.params.seed, threads=smk.threads, index_dir=smk.params.index_dir)


run_stage(snakemake, main)  # noqa: F821
