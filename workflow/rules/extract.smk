# Stage extract: regions (or FASTA records, or genome-wide tiles) -> one-hot windows, regions table, splits.
# A checkpoint: the number of windows it finds decides how many predict/attribute shards follow.


checkpoint extract:
    input:
        extract_inputs,
    output:
        onehot=f"{DATA_DIR}/onehot.npy",
        regions=f"{DATA_DIR}/regions.tsv",
        chrom_sizes=f"{DATA_DIR}/chrom_sizes.tsv",
        info=f"{DATA_DIR}/dataset.json",
    params:
        genome=input_genome(),
        regions=input_regions(),
        sequences=config.get("sequences") or {},
        seq_len=SEQ_LEN,
        seed=config["seed"],
        extract=config["extract"],
        split=config["split"],
        tile=TILE or {},
        variants_only=VARIANTS_ONLY,
        classes=DATA_CLASSES,
        index_dir=f"{RESULTS}/genome_index",  # a missing or stale .fai/.gzi is rebuilt here, never beside the genome
    log:
        f"{LOGS}/extract.log",
    benchmark:
        f"{BENCHMARKS}/extract.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/extract.py"
