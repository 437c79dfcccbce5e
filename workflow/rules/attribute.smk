# Stage attribute: LRP / pruned LRP relevance of the selected windows, one job per class and method.


rule attribute:
    input:
        model=f"{MODEL_DIR}/model.pt",
        onehot=f"{DATA_DIR}/onehot.npy",
        regions=f"{DATA_DIR}/regions.tsv",
        info=f"{DATA_DIR}/dataset.json",
    output:
        ohe=f"{ATTR_DIR}/{{cls}}.{{method}}/ohe.npz",
        attr=f"{ATTR_DIR}/{{cls}}.{{method}}/attr.npz",
        hyp=f"{ATTR_DIR}/{{cls}}.{{method}}/hyp.npz",
        regions=f"{ATTR_DIR}/{{cls}}.{{method}}/regions.tsv",
        settings=f"{ATTR_DIR}/{{cls}}.{{method}}/settings.json",
    params:
        attribute=config["attribute"],
    wildcard_constraints:
        cls="|".join(re.escape(c) for c in CLASSES),
        method="|".join(re.escape(m) for m in METHODS),
    log:
        f"{LOGS}/attribute/{{cls}}.{{method}}.log",
    benchmark:
        f"{BENCHMARKS}/attribute/{{cls}}.{{method}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/attribute.py"
