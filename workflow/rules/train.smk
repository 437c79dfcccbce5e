# Stage train: fit the classifier (results/model/model.pt + per-epoch train_log.tsv).
# With model.checkpoint set, rule import_model replaces rule train: it checks that the checkpoint
# loads safely and fits the data (seq_len, classes), then copies it to results/model/model.pt.

if MODEL_CHECKPOINT:

    rule import_model:
        input:
            checkpoint=MODEL_CHECKPOINT,
            info=f"{DATA_DIR}/dataset.json",
        output:
            model=f"{MODEL_DIR}/model.pt",
        log:
            f"{LOGS}/import_model.log",
        benchmark:
            f"{BENCHMARKS}/import_model.tsv"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=10,
        conda:
            "../../envs/seqlrp.yaml"
        script:
            "../../scripts/train.py"

else:

    rule train:
        input:
            onehot=f"{DATA_DIR}/onehot.npy",
            regions=f"{DATA_DIR}/regions.tsv",
            info=f"{DATA_DIR}/dataset.json",
        output:
            model=f"{MODEL_DIR}/model.pt",
            history=f"{MODEL_DIR}/train_log.tsv",
        params:
            seed=config["seed"],
            model=config["model"],
            train=config["train"],
        log:
            f"{LOGS}/train.log",
        benchmark:
            f"{BENCHMARKS}/train.tsv"
        threads: 2
        resources:
            mem_mb=8000,
            runtime=240,
            gpu=GPUS,
        conda:
            "../../envs/seqlrp.yaml"
        script:
            "../../scripts/train.py"
