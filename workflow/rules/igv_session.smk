# Stage igv: one IGV desktop session (File > Open Session) with the genome, the truth BED when the run
# has one (demo truth or evaluate.truth), the scored variants' BED when the run has variants, every
# relevance bigWig (autoscaled), seqlets BED and motif instances BED, at the top window of the first class.


rule igv_session:
    input:
        bigwigs=[f"{TRACKS_DIR}/{cls}.{method}.bw" for cls in CLASSES for method in METHODS],
        seqlets=[f"{SEQLETS_DIR}/{cls}.{method}.bed" for cls in CLASSES for method in METHODS],
        instances=[f"{MOTIFS_DIR}/{cls}.{method}/instances.bed" for cls in CLASSES for method in METHODS],
        truth=[evaluation_truth()] if evaluation_truth() else [],
        variants=[f"{RESULTS}/variants/variants.bed"] if PLAN.variants else [],
        regions=f"{ATTR_DIR}/{CLASSES[0]}.{METHODS[0]}/regions.tsv",
        chrom_sizes=f"{DATA_DIR}/chrom_sizes.tsv",
    output:
        session=f"{RESULTS}/igv_session.xml",
        # FASTA-of-sequences input has no genome: the session opens the contig sizes instead
        chrom_sizes=[] if input_genome() else [f"{RESULTS}/igv_session.chrom.sizes"],
    params:
        genome=input_genome(),
        pairs=[[cls, method] for cls in CLASSES for method in METHODS],
    log:
        f"{LOGS}/igv_session.log",
    benchmark:
        f"{BENCHMARKS}/igv_session.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/igv_session.py"
