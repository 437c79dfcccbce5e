"""Snakemake script for rule variants: join the shards (q-values, scored VCF, BED, the maps stores)."""

import os

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.runner import run_stage
from seqlrp.stages.variants import join_variants


def main(smk):
    maps = {}
    for i, (cls, method) in enumerate(smk.params.pairs):
        prefix = f"{os.path.dirname(smk.output[f'map{i}_settings'])}/shards/"
        shard_dirs = sorted({os.path.dirname(p) for p in smk.input.maps if p.startswith(prefix)},
                            key=lambda d: int(os.path.basename(d)))
        maps[(cls, method)] = (shard_dirs, {"regions": smk.output[f"map{i}_regions"],
                                            "settings": smk.output[f"map{i}_settings"]})
    scores = sorted(smk.input.scores, key=lambda p: int(os.path.basename(os.path.dirname(p))))
    join_variants(dict(smk.params.variant_effects), {"scores": scores, "index": smk.input.index,
                  "chrom_sizes": smk.input.chrom_sizes}, dict(smk.output.items()), maps,
                  smk.params.classes, smk.params.methods)


run_stage(snakemake, main)  # noqa: F821
