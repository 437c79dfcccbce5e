# Stage motifs: TF-MoDISco (tfmodisco-lite) on one-hot input and hypothetical contributions,
# TOMTOM (memelite) against JASPAR, logomaker logos of motifs and of the top windows.


# JASPAR matrices from pyjaspar's bundled database, read once per run for every motifs job.
rule jaspar:
    output:
        f"{MOTIFS_DIR}/jaspar.npz",
    params:
        motifs=config["motifs"],
    log:
        f"{LOGS}/motifs/jaspar.log",
    benchmark:
        f"{BENCHMARKS}/motifs/jaspar.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/jaspar.py"


rule motifs:
    input:
        unpack(motif_truth),
        unpack(attribution_store),
        database=f"{MOTIFS_DIR}/jaspar.npz",
        seqlets=f"{SEQLETS_DIR}/{{cls}}.{{method}}.bed",
    output:
        meme=f"{MOTIFS_DIR}/{{cls}}.{{method}}/motifs.meme",
        npz=f"{MOTIFS_DIR}/{{cls}}.{{method}}/motifs.npz",
        tomtom=f"{MOTIFS_DIR}/{{cls}}.{{method}}/tomtom.tsv",
        summary=f"{MOTIFS_DIR}/{{cls}}.{{method}}/motifs.tsv",
        instances=f"{MOTIFS_DIR}/{{cls}}.{{method}}/instances.bed",
        seqlets=f"{MOTIFS_DIR}/{{cls}}.{{method}}/seqlets.bed",
        logos=directory(f"{MOTIFS_DIR}/{{cls}}.{{method}}/logos"),
        regions=directory(f"{MOTIFS_DIR}/{{cls}}.{{method}}/regions"),
    params:
        motifs=config["motifs"],
    wildcard_constraints:
        cls="|".join(re.escape(c) for c in CLASSES),
        method="|".join(re.escape(m) for m in METHODS),
    log:
        f"{LOGS}/motifs/{{cls}}.{{method}}.log",
    benchmark:
        f"{BENCHMARKS}/motifs/{{cls}}.{{method}}.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/motifs.py"


# On demand only (not part of `all`): the windows the motifs stage gives TF-MoDISco, as the npz
# files `modisco motifs -s ohe.npz -a hyp.npz` reads (float32, at most motifs.max_windows).
rule modisco_inputs:
    input:
        unpack(attribution_store),
    output:
        ohe=f"{ATTR_DIR}/{{cls}}.{{method}}/modisco/ohe.npz",
        hyp=f"{ATTR_DIR}/{{cls}}.{{method}}/modisco/hyp.npz",
        regions=f"{ATTR_DIR}/{{cls}}.{{method}}/modisco/regions.tsv",
    params:
        motifs=config["motifs"],
    wildcard_constraints:
        cls="|".join(re.escape(c) for c in CLASSES),
        method="|".join(re.escape(m) for m in METHODS),
    log:
        f"{LOGS}/motifs/{{cls}}.{{method}}.modisco_inputs.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/modisco_inputs.py"
