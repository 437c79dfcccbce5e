# Stage predict: batched inference on every window; predictions, per-split metrics, ROC/PR figure.


rule predict:
    input:
        model=f"{MODEL_DIR}/model.pt",
        onehot=f"{DATA_DIR}/onehot.npy",
        regions=f"{DATA_DIR}/regions.tsv",
        info=f"{DATA_DIR}/dataset.json",
    output:
        predictions=f"{MODEL_DIR}/predictions.tsv",
        metrics=f"{MODEL_DIR}/metrics.tsv",
        figure=f"{MODEL_DIR}/roc_pr.png",
    params:
        predict=config["predict"],
    log:
        f"{LOGS}/predict.log",
    benchmark:
        f"{BENCHMARKS}/predict.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/predict.py"
