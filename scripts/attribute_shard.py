"""Snakemake script for rule attribute_shard: relevance of one class's windows in one shard of rows."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.attribute import run
from seqlrp.stages.runner import run_stage


def main(smk):
    shard, size = int(smk.wildcards.shard), smk.params.shard_size
    rows = (shard * size, (shard + 1) * size) if size > 0 else None
    run(dict(smk.params.attribute), dict(smk.input.items()), dict(smk.output.items()),
        cls=smk.wildcards.cls, method=smk.wildcards.method, threads=smk.threads, row_range=rows)


run_stage(snakemake, main)  # noqa: F821
