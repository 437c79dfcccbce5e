# Stage demo_data: the planted-motif demo genome, used when the config names no input data.


rule demo_data:
    output:
        genome=f"{DEMO_DIR}/genome.fa.gz",
        fai=f"{DEMO_DIR}/genome.fa.gz.fai",
        gzi=f"{DEMO_DIR}/genome.fa.gz.gzi",
        positive=f"{DEMO_DIR}/positive.narrowPeak",
        negative=f"{DEMO_DIR}/negative.bed",
        truth=f"{DEMO_DIR}/truth.bed",
        motifs=f"{DEMO_DIR}/motifs.tsv",
    params:
        demo=config["demo"],
        seq_len=SEQ_LEN,
        seed=config["seed"],
    log:
        f"{LOGS}/demo_data.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/demo_data.py"


rule demo_variants:
    input:
        genome=f"{DEMO_DIR}/genome.fa.gz",
        truth=f"{DEMO_DIR}/truth.bed",
        motifs=f"{DEMO_DIR}/motifs.tsv",
        positive=f"{DEMO_DIR}/positive.narrowPeak",
        negative=f"{DEMO_DIR}/negative.bed",
    output:
        vcf=f"{DEMO_DIR}/variants.vcf.gz",
        tbi=f"{DEMO_DIR}/variants.vcf.gz.tbi",
        truth=f"{DEMO_DIR}/variants_truth.tsv",
    params:
        seq_len=SEQ_LEN,
        seed=config["seed"],
    log:
        f"{LOGS}/demo_variants.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/demo_variants.py"
