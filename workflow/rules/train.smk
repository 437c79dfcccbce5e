# Stage train: fit the classifier (results/model/model.pt + per-epoch train_log.tsv).
# With model.checkpoint (or model.module) set, rule import_model replaces rule train: a seqlrp
# checkpoint is checked to load safely and fit the data (seq_len, classes), then copied to
# results/model/model.pt; a model from outside seqlrp (.pt2, ONNX, or the user's class) is loaded,
# checked (seq_len, output, model.classes) and written there as a checkpoint of arch "external"
# (a .pt2/ONNX file is copied beside it, results/model/external.{pt2,onnx}).

if not MODEL.trained_here:

    rule import_model:
        input:
            unpack(model_inputs),
            info=f"{DATA_DIR}/dataset.json",
        output:
            model=f"{MODEL_DIR}/model.pt",
            source=[FOREIGN_COPY] if FOREIGN_COPY else [],
        params:
            model=config["model"],
            foreign=bool(FOREIGN),
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
            "../../scripts/import_model.py"

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
