# Stage tracks: relevance per nucleotide in genome coordinates (bedGraph.gz + tabix, bigWig).


rule tracks:
    input:
        unpack(attribution_store),
        chrom_sizes=f"{DATA_DIR}/chrom_sizes.tsv",
        model=f"{MODEL_DIR}/model.pt",
    output:
        bigwig=f"{TRACKS_DIR}/{{cls}}.{{method}}.bw",
        bedgraph=f"{TRACKS_DIR}/{{cls}}.{{method}}.bedGraph.gz",
        tbi=f"{TRACKS_DIR}/{{cls}}.{{method}}.bedGraph.gz.tbi",
        hypothetical=[f"{TRACKS_DIR}/{{cls}}.{{method}}.hyp_{base}.bw" for base in "ACGT"]
        if config["tracks"]["hypothetical"]
        else [],
    params:
        tracks=config["tracks"],
        config_sha256=CONFIG_SHA256,
    wildcard_constraints:
        cls="|".join(re.escape(c) for c in CLASSES),
        method="|".join(re.escape(m) for m in METHODS),
    log:
        f"{LOGS}/tracks/{{cls}}.{{method}}.log",
    benchmark:
        f"{BENCHMARKS}/tracks/{{cls}}.{{method}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/tracks.py"
