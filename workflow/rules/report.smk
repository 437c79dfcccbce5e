# Stage report: one self-contained HTML page (figures embedded) about the whole run: provenance,
# classifier metrics, ground-truth evaluation (when a truth BED exists), diagnostics, motifs, top regions,
# variant effects (when the run scores a VCF: `variants`, or the demo's).


rule report:
    input:
        unpack(report_inputs),
    output:
        html=REPORT,
    params:
        config=config,
        classes=CLASSES,
        methods=METHODS,
        evaluation=evaluation_truth() is not None,
        variants=bool(PLAN.variants),
        inputs=report_input_files(),
        config_sha256=CONFIG_SHA256,
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCHMARKS}/report.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/report.py"
