# Stage attribute: LRP / pruned LRP relevance of the selected windows, one job per class, method
# and shard of the data set's rows (shard_size), each writing its shard of the attribution store;
# one job per class and method writes the store's table and settings (the list of shards). The
# later stages read the shards' arrays in place: nothing is copied.


rule attribute_shard:
    input:
        model=f"{MODEL_DIR}/model.pt",
        onehot=f"{DATA_DIR}/onehot.npy",
        regions=f"{DATA_DIR}/regions.tsv",
        info=f"{DATA_DIR}/dataset.json",
    output:
        **{key: f"{ATTR_DIR}/{{cls}}.{{method}}/shards/{{shard}}/{name}" for key, name in SHARD_ARRAYS.items()},
        regions=f"{ATTR_DIR}/{{cls}}.{{method}}/shards/{{shard}}/regions.tsv",
        settings=f"{ATTR_DIR}/{{cls}}.{{method}}/shards/{{shard}}/settings.json",
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
        mem_mb=1000,
        runtime=30,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/attribute.py"
