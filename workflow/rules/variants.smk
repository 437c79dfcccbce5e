# Stage variants: score and explain the variants of `variants` (a VCF), docs/variants.md.
# variants_index (a checkpoint: its row count decides the shards) checks every record; variants_null
# scores the shuffled-context null; one variants_shard job per variant_effects.shard_size rows scores,
# explains and writes the maps of every class and method; rule variants joins them (q-values, scored
# VCF, BED, the maps stores). Paths and input functions: common.smk.

checkpoint variants_index:
    input:
        vcf=PLAN.variants or [],
        genome=PLAN.genome or [],
        info=f"{DATA_DIR}/dataset.json",  # after extract, which builds a missing genome index
    output:
        index=f"{VARIANTS_DIR}/index.json",
    params:
        variant_effects=VARIANT_CONFIG,
        index_dir=f"{RESULTS}/genome_index",
    log:
        f"{LOGS}/variants/index.log",
    benchmark:
        f"{BENCHMARKS}/variants/index.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/variants_index.py"


rule variants_null:
    input:
        model=f"{MODEL_DIR}/model.pt",
        vcf=PLAN.variants or [],
        genome=PLAN.genome or [],
        index=f"{VARIANTS_DIR}/index.json",
    output:
        null=f"{VARIANTS_DIR}/null.npz",
    params:
        variant_effects=VARIANT_CONFIG,
        seed=config["seed"],
        index_dir=f"{RESULTS}/genome_index",
    log:
        f"{LOGS}/variants/null.log",
    benchmark:
        f"{BENCHMARKS}/variants/null.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPUS,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/variants_null.py"


rule variants_shard:
    input:
        unpack(variant_motif_inputs),
        model=f"{MODEL_DIR}/model.pt",
        vcf=PLAN.variants or [],
        genome=PLAN.genome or [],
        index=f"{VARIANTS_DIR}/index.json",
        null=f"{VARIANTS_DIR}/null.npz",
    output:
        scores=f"{VARIANTS_DIR}/shards/{{shard}}/scores.tsv",
        **({"windows": f"{VARIANTS_DIR}/shards/{{shard}}/windows.npy",
            "index_map": f"{VARIANTS_DIR}/shards/{{shard}}/index_map.npy"} if VARIANT_MAPS else {}),
        **{f"map{i}_{key}": f"{VARIANTS_DIR}/maps/{c}.{m}/shards/{{shard}}/{name}"
           for i, (c, m) in enumerate(VARIANT_PAIRS) for key, name in MAP_FILES.items()},
    params:
        variant_effects=VARIANT_CONFIG,
        methods=config["attribute"]["methods"],
        pairs=VARIANT_PAIRS,
        map_keys=list(MAP_FILES),
        seed=config["seed"],
        index_dir=f"{RESULTS}/genome_index",
    wildcard_constraints:
        shard=r"\d+",
    log:
        f"{LOGS}/variants/shard{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/variants/shard{{shard}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPUS,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/variants_shard.py"


rule variants:
    input:
        unpack(variant_shard_files),
        index=f"{VARIANTS_DIR}/index.json",
        chrom_sizes=f"{DATA_DIR}/chrom_sizes.tsv",
    output:
        scores=f"{VARIANTS_DIR}/scores.tsv",
        vcf=f"{VARIANTS_DIR}/scored.vcf.gz",
        tbi=f"{VARIANTS_DIR}/scored.vcf.gz.tbi",
        bed=f"{VARIANTS_DIR}/variants.bed",
        summary=f"{VARIANTS_DIR}/summary.json",
        **{f"map{i}_{key}": f"{VARIANTS_DIR}/maps/{c}.{m}/{MAP_FILES[key]}"
           for i, (c, m) in enumerate(VARIANT_PAIRS) for key in ("regions", "settings")},
    params:
        variant_effects=VARIANT_CONFIG,
        pairs=VARIANT_PAIRS,
        classes=CLASSES,
        methods=METHODS,
    log:
        f"{LOGS}/variants/join.log",
    benchmark:
        f"{BENCHMARKS}/variants/join.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/variants.py"


# how well the scores separate labelled variants (the demo's, or evaluate.variant_truth)

if PLAN.variants and PLAN.variant_truth:

    rule evaluate_variants:
        input:
            scores=f"{RESULTS}/variants/scores.tsv",
            truth=PLAN.variant_truth,
        output:
            f"{EVAL_DIR}/variants.tsv",
        log:
            f"{LOGS}/evaluate_variants.log",
        benchmark:
            f"{BENCHMARKS}/evaluate_variants.tsv"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../../envs/seqlrp.yaml"
        script:
            "../../scripts/evaluate_variants.py"
