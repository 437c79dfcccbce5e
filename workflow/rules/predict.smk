# Stage predict: batched inference over shards of the windows (one job per shard, on the GPU when
# configured), then one job joins them: predictions, per-split metrics, ROC/PR figure.


rule predict_shard:
    input:
        model=f"{MODEL_DIR}/model.pt",
        onehot=f"{DATA_DIR}/onehot.npy",
        regions=f"{DATA_DIR}/regions.tsv",
        info=f"{DATA_DIR}/dataset.json",
    output:
        logits=temp(f"{MODEL_DIR}/shards/logits.{{shard}}.npy"),
    params:
        predict=config["predict"],
        shard_size=SHARD_SIZE,
    wildcard_constraints:
        shard=r"\d+",
    log:
        f"{LOGS}/predict/shard{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/predict/shard{{shard}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPUS,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/predict_shard.py"


rule predict:
    input:
        shards=predict_shards,
        model=f"{MODEL_DIR}/model.pt",
        onehot=f"{DATA_DIR}/onehot.npy",
        regions=f"{DATA_DIR}/regions.tsv",
        info=f"{DATA_DIR}/dataset.json",
    output:
        predictions=f"{MODEL_DIR}/predictions.tsv",
        metrics=f"{MODEL_DIR}/metrics.tsv",
        figure=f"{MODEL_DIR}/roc_pr.png",
    log:
        f"{LOGS}/predict.log",
    benchmark:
        f"{BENCHMARKS}/predict.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/seqlrp.yaml"
    script:
        "../../scripts/predict.py"
