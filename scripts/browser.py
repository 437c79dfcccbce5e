"""Snakemake script for rule browser: results/browser.html, the offline igv.js page of the run's top regions."""

import os

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.report.browser import BrowserInputs
from seqlrp.stages.browser import paired, run
from seqlrp.stages.runner import run_stage


def main(smk):
    pairs = [tuple(pair) for pair in smk.params.pairs]
    named = dict(smk.input.items())
    first_of = lambda key: named[key][0] if named.get(key) else None  # noqa: E731
    maps = paired(pairs, [os.path.dirname(path) for path in named.get("maps", [])]) if named.get("maps") else {}
    inputs = BrowserInputs(
        pairs=pairs, chrom_sizes=smk.input.chrom_sizes, seq_len=int(smk.params.seq_len),
        windows=dict(zip(smk.params.classes, named.get("windows", []))),
        bigwigs=paired(pairs, named.get("bigwigs", [])), seqlets=paired(pairs, named.get("seqlets", [])),
        instances=paired(pairs, named.get("instances", [])), truth=first_of("truth"),
        variant_scores=first_of("variant_scores"), variant_bed=first_of("variant_bed"), variant_maps=maps,
        genome=first_of("genome"), genome_index=smk.params.index_dir,
        dataset_onehot=first_of("onehot"), dataset_regions=first_of("dataset_regions"))
    run(smk.output.html, smk.params.browser, inputs, title="seqlrp relevance browser", subtitle=smk.params.subtitle)


run_stage(snakemake, main)  # noqa: F821
