"""Snakemake script for rule report: the self-contained HTML report of the run (results/report.html)."""

from pathlib import Path

import _seqlrp_path  # noqa: F401  (seqlrp from the repository's src/ where it is not installed)

from seqlrp.stages.report import ReportOptions, write_report
from seqlrp.stages.runner import run_stage


def main(smk):
    config = dict(smk.params.config)
    output = smk.output.html
    write_report(output, Path(output).parent, config, list(smk.params.classes), list(smk.params.methods),
                 evaluation=bool(smk.params.evaluation), inputs=list(smk.params.inputs),
                 options=ReportOptions.from_config(config.get("report")), config_sha256=smk.params.config_sha256,
                 variants=bool(smk.params.variants))


run_stage(snakemake, main)  # noqa: F821
