# Stage diagnostics: artifact checks of every class and method's relevance maps (positional
# bias, conservation, model randomisation, relevance on N, shuffled null), each with a verdict.
# Runs with or without a truth BED.


rule diagnostics:
    input:
        model=f"{MODEL_DIR}/model.pt",
        attr=expand(f"{ATTR_DIR}/{{cls}}.{{method}}/attr.npz", cls=CLASSES, method=METHODS),
        ohe=expand(f"{ATTR_DIR}/{{cls}}.{{method}}/ohe.npz", cls=CLASSES, method=METHODS),
        regions=expand(f"{ATTR_DIR}/{{cls}}.{{method}}/regions.tsv", cls=CLASSES, method=METHODS),
        settings=expand(f"{ATTR_DIR}/{{cls}}.{{method}}/settings.json", cls=CLASSES, method=METHODS),
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
