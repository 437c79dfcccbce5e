# Stage browser: results/browser.html, one self-contained page (igv.js and every track inline) that opens
# from file:// with no network: a region list (top logit per class, seqlet-densest windows, strongest
# variants) beside one igv.js browser of the reference slices, relevance as dynseq letters, seqlets,
# motif instances, truth and variants. Input groups: browser_inputs (common.smk).


rule browser:
    input:
        unpack(browser_inputs),
    output:
        html=f"{RESULTS}/browser.html",
    params:
        browser=config["browser"],
        classes=CLASSES,
        pairs=[[cls, method] for cls in CLASSES for method in METHODS],
        index_dir=f"{RESULTS}/genome_index",
        seq_len=SEQ_LEN,
        subtitle=browser_subtitle(),
    log:
        f"{LOGS}/browser.log",
    benchmark:
        f"{BENCHMARKS}/browser.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/browser.py"
