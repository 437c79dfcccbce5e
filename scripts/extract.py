"""Snakemake script for rule extract: one-hot windows, regions table and splits."""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "src"))  # noqa: F821

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
        "classes": list(smk.params.classes),
        "index_dir": smk.params.index_dir,
    }
    extract(config, dict(smk.output.items()), progress=True)


run_stage(snakemake, main)  # noqa: F821
