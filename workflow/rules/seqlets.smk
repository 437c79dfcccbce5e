# Stage seqlets: stretches of high relevance, thresholds calibrated on dinucleotide-shuffled copies.


rule seqlets:
    input:
        unpack(attribution_store),
        model=f"{MODEL_DIR}/model.pt",
        chrom_sizes=f"{DATA_DIR}/chrom_sizes.tsv",
    output:
        bed=f"{SEQLETS_DIR}/{{cls}}.{{method}}.bed",
        summary=f"{SEQLETS_DIR}/{{cls}}.{{method}}.json",
    params:
        seqlets=config["seqlets"],
        seed=config["seed"],
        device=config["attribute"]["device"],
    wildcard_constraints:
        cls="|".join(re.escape(c) for c in CLASSES),
        method="|".join(re.escape(m) for m in METHODS),
    log:
        f"{LOGS}/seqlets/{{cls}}.{{method}}.log",
    benchmark:
        f"{BENCHMARKS}/seqlets/{{cls}}.{{method}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/seqlets.py"
