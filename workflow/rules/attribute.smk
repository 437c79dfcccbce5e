# Stage attribute: LRP / pruned LRP relevance of the selected windows, one job per class, method
# and shard of the data set's rows (shard_size); one job per class and method joins the shards
# into the files the later stages read.


rule attribute_shard:
    input:
        model=f"{MODEL_DIR}/model.pt",
        onehot=f"{DATA_DIR}/onehot.npy",
        regions=f"{DATA_DIR}/regions.tsv",
        info=f"{DATA_DIR}/dataset.json",
    output:
        ohe=temp(f"{ATTR_DIR}/{{cls}}.{{method}}/shards/{{shard}}/ohe.npz"),
        attr=temp(f"{ATTR_DIR}/{{cls}}.{{method}}/shards/{{shard}}/attr.npz"),
        hyp=temp(f"{ATTR_DIR}/{{cls}}.{{method}}/shards/{{shard}}/hyp.npz"),
        regions=temp(f"{ATTR_DIR}/{{cls}}.{{method}}/shards/{{shard}}/regions.tsv"),
        settings=temp(f"{ATTR_DIR}/{{cls}}.{{method}}/shards/{{shard}}/settings.json"),
    params:
        attribute=config["attribute"],
        shard_size=SHARD_SIZE,
    wildcard_constraints:
        cls="|".join(re.escape(c) for c in CLASSES),
        method="|".join(re.escape(m) for m in METHODS),
        shard=r"\d+",
    log:
        f"{LOGS}/attribute/{{cls}}.{{method}}.shard{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/attribute/{{cls}}.{{method}}.shard{{shard}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPUS,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/attribute_shard.py"


rule attribute:
    input:
        shards=attribute_shards,
    output:
        ohe=f"{ATTR_DIR}/{{cls}}.{{method}}/ohe.npz",
        attr=f"{ATTR_DIR}/{{cls}}.{{method}}/attr.npz",
        hyp=f"{ATTR_DIR}/{{cls}}.{{method}}/hyp.npz",
        regions=f"{ATTR_DIR}/{{cls}}.{{method}}/regions.tsv",
        settings=f"{ATTR_DIR}/{{cls}}.{{method}}/settings.json",
    wildcard_constraints:
        cls="|".join(re.escape(c) for c in CLASSES),
        method="|".join(re.escape(m) for m in METHODS),
    log:
        f"{LOGS}/attribute/{{cls}}.{{method}}.log",
    benchmark:
        f"{BENCHMARKS}/attribute/{{cls}}.{{method}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/attribute.py"
