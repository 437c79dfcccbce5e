#!/usr/bin/env python3
"""A stand-in for the SLURM commands that snakemake-executor-plugin-slurm calls.

Installed on PATH under the names sbatch, srun, sacct, squeue, sacctmgr, sshare, sinfo and
scontrol (symlinks to this file). ``sbatch`` appends its arguments as one JSON line to
``$SEQLRP_STANDIN_DIR/sbatch.jsonl``, runs the job at once (its ``--wrap`` command, or the script
it reads on stdin) in its ``-D`` directory with output to its ``--output`` file, so jobs run
locally one after another, and prints the job id; ``sacct``/``squeue`` report each recorded
job as COMPLETED or FAILED by its exit status; ``srun`` drops its options and runs the command.
The account tools name one account. Nothing else of SLURM is imitated.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ.get("SEQLRP_STANDIN_DIR", "."))  # (the jobstep plugin strips SLURM_* from srun)
ACCOUNT = os.environ.get("SEQLRP_STANDIN_ACCOUNT", "lab_account")  # what sacctmgr lists


def option(args: list[str], *names: str) -> str | None:
    """The value of ``--name=value`` or ``--name value`` (or ``-D value``)."""
    for i, arg in enumerate(args):
        for name in names:
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
            if arg == name and i + 1 < len(args):
                return args[i + 1]
    return None


def sbatch(args: list[str]) -> int:
    with open(STATE / "sbatch.jsonl", "a") as log:
        log.write(json.dumps({"args": args}) + "\n")
    job_id = sum(1 for _ in open(STATE / "sbatch.jsonl"))
    wrap = option(args, "--wrap")
    command, script = (["sh", "-c", wrap], None) if wrap is not None else (["sh", "-s"], sys.stdin.read())
    output = Path((option(args, "--output", "-o") or str(STATE / "job%j.out")).replace("%j", str(job_id)))
    output.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SLURM_JOB_ID=str(job_id), SLURM_CPUS_PER_TASK=option(args, "--cpus-per-task") or "1")
    with open(output, "w") as out:
        status = subprocess.run(command, input=script, text=True, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=option(args, "-D", "--chdir")).returncode
    (STATE / f"job{job_id}.status").write_text("COMPLETED" if status == 0 else "FAILED")
    print(job_id)
    return 0


def job_states() -> int:
    for path in sorted(STATE.glob("job*.status")):
        print(f"{path.stem[3:]}|{path.read_text()}")
    return 0


def srun(args: list[str]) -> int:
    while args and args[0].startswith("-"):
        args = args[1:]
    return subprocess.run(args).returncode


def main() -> int:
    name, args = Path(sys.argv[0]).name, sys.argv[1:]
    if name == "sbatch":
        return sbatch(args)
    if name in ("sacct", "squeue"):
        if name == "sacct" and "-nu" in args:  # account lookup
            print(ACCOUNT)
            return 0
        return job_states()
    if name == "srun":
        return srun(args)
    if name in ("sacctmgr", "sshare"):
        print(ACCOUNT)
        return 0
    return 1  # sinfo, scontrol: not available in this stand-in


if __name__ == "__main__":
    sys.exit(main())
