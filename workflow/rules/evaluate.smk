# Stage evaluate: every attribution method (LRP composites, the PLRP sweep, the configured
# methods, gradient baselines, ISM) against known motif sites. Defined only when a truth BED
# exists: the demo's, or evaluate.truth for user data.


if evaluation_truth():

    rule evaluate:
        input:
            model=f"{MODEL_DIR}/model.pt",
            onehot=f"{DATA_DIR}/onehot.npy",
            regions=f"{DATA_DIR}/regions.tsv",
            info=f"{DATA_DIR}/dataset.json",
            truth=evaluation_truth(),
        output:
            summary=f"{EVAL_DIR}/summary.tsv",
            deletion=f"{EVAL_DIR}/deletion.tsv",
            sweep=f"{EVAL_DIR}/sweep.png",
            deletion_plot=f"{EVAL_DIR}/deletion.png",
        params:
            evaluate=config["evaluate"],
            methods=config["attribute"]["methods"],
            seed=config["seed"],
        log:
            f"{LOGS}/evaluate.log",
        benchmark:
            f"{BENCHMARKS}/evaluate.tsv"
        threads: 2
        resources:
            mem_mb=4000,
            runtime=60,
            gpu=GPUS,
        conda:
            "../../envs/seqlrp.yaml"
        script:
            "../../scripts/evaluate.py"

