# Stage diagnostics: artifact checks of every class and method's relevance maps (positional
# bias, conservation, model randomisation, relevance on N, shuffled null), each with a verdict.
# Runs with or without a truth BED.


rule diagnostics:
    input:
        unpack(all_attribution_stores),
        model=f"{MODEL_DIR}/model.pt",
    output:
        table=f"{EVAL_DIR}/diagnostics.tsv",
        figures=directory(f"{EVAL_DIR}/diagnostics"),
    params:
        diagnostics=config["diagnostics"],
        seed=config["seed"],
    log:
        f"{LOGS}/diagnostics.log",
    benchmark:
        f"{BENCHMARKS}/diagnostics.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPUS,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/diagnostics.py"
