"""The SLURM profile through the real snakemake-executor-plugin-slurm, with stand-in SLURM commands.

``tests/slurm_standin/slurm.py`` answers as sbatch/srun/sacct/...: it records each sbatch call
and runs the job locally. The test checks what a cluster would be asked for: every job names
memory, time, account and partition; the model rules ask for a GPU when ``gpu: 1``.
"""

import json
import os
import shutil
import subprocess

import pytest
import yaml
from conftest import BIN, REPO, SNAKEFILE, TINY_DEMO, copy_run
from optional import need

need("snakemake_executor_plugin_slurm")

STANDIN = REPO / "tests" / "slurm_standin" / "slurm.py"
SLURM_COMMANDS = ("sbatch", "srun", "sacct", "squeue", "sacctmgr", "sshare", "sinfo", "scontrol")
GPU_RULES = {"train", "predict_shard"}
MODEL_RULES = ("train", "predict_shard", "attribute_shard", "evaluate", "diagnostics")  # sent to the GPU partition


def option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name:
            return args[i + 1]
    return None


def test_profile_names_placeholders_for_account_and_partitions():
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["default-resources"]["slurm_account"].startswith("REPLACE")
    assert {"mem_mb", "runtime"} <= set(profile["default-resources"])
    for rule in MODEL_RULES:
        assert profile["set-resources"][rule]["slurm_partition"] == "REPLACE_WITH_GPU_PARTITION"


@pytest.mark.workflow
def test_jobs_ask_slurm_for_memory_time_and_gpus(tiny_demo_run, tmp_path):
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    for folder in (bin_dir, state):
        folder.mkdir()
    for name in SLURM_COMMANDS:
        (bin_dir / name).symlink_to(STANDIN)
    # the tiny demo's data, its model to train again (2 epochs) on the "cluster", with gpu: 1
    workdir = copy_run(tiny_demo_run, tmp_path / "run")
    shutil.rmtree(workdir / "results" / "model")
    config = {**TINY_DEMO, "gpu": 1, "train": {"epochs": 2}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "--directory", str(workdir),
               "--profile", str(REPO / "profiles" / "slurm"), "--configfile", str(workdir / "config.yaml"),
               # the placeholders replaced as a user would, on the command line (one left is refused)
               "--default-resources", "slurm_account=lab_account", "slurm_partition=cpu_part",
               "--set-resources", *(f"{rule}:slurm_partition=gpu_part" for rule in MODEL_RULES),
               "--latency-wait", "5", "--slurm-init-seconds-before-status-checks", "1",
               "--seconds-between-status-checks", "1", "--jobs", "2", "results/model/predictions.tsv"]
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
               SEQLRP_STANDIN_DIR=str(state), HOME=str(tmp_path))
    env.pop("SLURM_JOB_ID", None)
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "results" / "model" / "predictions.tsv").stat().st_size > 0

    calls = [json.loads(line)["args"] for line in (state / "sbatch.jsonl").read_text().splitlines()]
    # the plugin's comment: rule_<name>, with _wildcards_<values> for rules with wildcards
    by_rule = {option(args, "--comment").removeprefix("rule_").split("_wildcards_")[0]: args for args in calls}
    assert set(by_rule) == {"train", "predict_shard", "predict"}  # the demo's data were there already
    for rule, args in by_rule.items():
        assert int(option(args, "--mem")) >= 1000, rule
        assert int(option(args, "-t")) > 0, rule
        assert option(args, "-A") == "lab_account", rule
        if rule in GPU_RULES:
            assert option(args, "--gpus") == "1", rule
            assert option(args, "-p") == "gpu_part", rule
        else:
            assert option(args, "--gpus") is None, rule
            assert option(args, "-p") == "cpu_part", rule
