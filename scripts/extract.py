"""Snakemake script for rule extract: one-hot windows, regions table and splits."""

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.extract import extract
from seqlrp.stages.runner import run_stage


def main(smk):
    config = {
        "genome": smk.params.genome,
        "regions": dict(smk.params.regions),
        "sequences": dict(smk.params.sequences),
        "seq_len": smk.params.seq_len,
        "seed": smk.params.seed,
        "extract": dict(smk.params.extract),
        "split": dict(smk.params.split),
        "tile": dict(smk.params.tile) if smk.params.tile else None,
        "variants_only": bool(smk.params.variants_only),
        "classes": list(smk.params.classes),
        "index_dir": smk.params.index_dir,
    }
    extract(config, dict(smk.output.items()), progress=True)


run_stage(snakemake, main)  # noqa: F821
