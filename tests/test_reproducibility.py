"""Same config, same bytes: two clean runs, a sharded run, and a run whose shard job was killed."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import BIN, SNAKEFILE, SUBPROCESS_CORES, TINY_DEMO, copy_run, run_snakemake

from seqlrp.attribution.store import SHARD_FILES, read_attribution

# outputs that record the run rather than the science: logs, timings, the page with its date
NOT_COMPARED = re.compile(r"^results/(logs|benchmarks)/|^results/report\.html$|\.(png|svg)$")
SHARDED = {**TINY_DEMO, "shard_size": 30}  # 120 windows: 4 shards
ATTRIBUTION = "results/attributions/positive.lrp"


def result_files(run: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted((run / "results").rglob("*")):
        name = path.relative_to(run).as_posix()
        if path.is_file() and not NOT_COMPARED.search(name):
            files[name] = path.read_bytes()
    return files


def without_timing(summary: bytes) -> list[list[str]]:
    """The evaluation summary without its seconds_per_1k column (a wall-clock time)."""
    rows = [line.split("\t") for line in summary.decode().splitlines()]
    drop = rows[0].index("seconds_per_1k")
    return [row[:drop] + row[drop + 1 :] for row in rows]


@pytest.mark.workflow
def test_two_clean_runs_give_the_same_bytes(tiny_demo_run, tmp_path):
    second = tmp_path / "second"
    result = run_snakemake(second, TINY_DEMO)
    assert result.returncode == 0, result.stderr[-3000:]
    first_files, second_files = result_files(tiny_demo_run), result_files(second)
    assert first_files.keys() == second_files.keys()
    summary = "results/evaluation/summary.tsv"
    assert without_timing(first_files.pop(summary)) == without_timing(second_files.pop(summary))
    differing = [name for name in first_files if first_files[name] != second_files[name]]
    assert differing == []
    # the comparison covered what matters: tracks, tables, arrays, model
    names = set(first_files)
    for expected in ("results/tracks/positive.plrp.bw", "results/tracks/positive.plrp.bedGraph.gz.tbi",
                     "results/model/predictions.tsv", "results/model/model.pt", f"{ATTRIBUTION}/shards/0/hyp.npy",
                     "results/seqlets/negative.lrp.bed", "results/motifs/positive.lrp/tomtom.tsv",
                     "results/evaluation/diagnostics.tsv"):
        assert expected in names


def shard_jobs(log: str) -> list[int]:
    """Shards of positive.lrp that ran, from Snakemake's job listing."""
    return sorted(int(m) for m in re.findall(r"rule attribute_shard:.*?wildcards: cls=positive, method=lrp, shard=(\d+)",
                                              log, flags=re.S))


@pytest.mark.workflow
def test_a_killed_shard_reruns_alone_and_the_result_is_unchanged(tiny_demo_run, tmp_path):
    # the uninterrupted sharded run
    reference = copy_run(tiny_demo_run, tmp_path / "reference")
    result = run_snakemake(reference, SHARDED, f"{ATTRIBUTION}/settings.json")
    assert result.returncode == 0, result.stderr[-3000:]

    run = copy_run(tiny_demo_run, tmp_path / "killed")
    (run / "config.yaml").write_text(yaml.safe_dump(SHARDED))
    first = run_snakemake(run, SHARDED, *(f"{ATTRIBUTION}/shards/{k}/settings.json" for k in (0, 1)))
    assert first.returncode == 0, first.stderr[-3000:]
    assert shard_jobs(first.stdout + first.stderr) == [0, 1]

    # shard 2's job starts; the whole run is killed as a scheduler or a power cut would
    command = [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "--directory", str(run), "--cores", str(SUBPROCESS_CORES),
               f"{ATTRIBUTION}/shards/2/settings.json", "--configfile", str(run / "config.yaml")]
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    process = subprocess.Popen(command, cwd=run, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    incomplete = run / ".snakemake" / "incomplete"
    deadline = time.monotonic() + 120
    while not (incomplete.is_dir() and any(incomplete.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "the shard job never started"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run / ATTRIBUTION / "shards" / "2" / "relevance.npy").exists()  # nothing half-written looks complete

    assert run_snakemake(run, SHARDED, "--unlock").returncode == 0  # the killed run left its lock
    rerun = run_snakemake(run, SHARDED, f"{ATTRIBUTION}/settings.json")  # the profile sets rerun-incomplete
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert shard_jobs(rerun.stdout + rerun.stderr) == [2, 3]  # shards 0 and 1 are not recomputed
    store_files = ["regions.tsv", "settings.json", *(f"shards/{k}/{name}" for k in range(4) for name in SHARD_FILES)]
    for name in store_files:
        assert (run / ATTRIBUTION / name).read_bytes() == (reference / ATTRIBUTION / name).read_bytes(), name
    # the shards are the store: the later stages read them in place, and no stale temporary is left
    assert not [p.name for p in (run / ATTRIBUTION).rglob(".*.tmp*")]
    # sharding itself changes nothing: the one-job run's store holds the same windows and bytes
    sharded = read_attribution(reference / ATTRIBUTION, reference / "results" / "data" / "onehot.npy")
    single = read_attribution(tiny_demo_run / ATTRIBUTION, tiny_demo_run / "results" / "data" / "onehot.npy")
    assert len(sharded.settings["store"]["shards"]) == 4 and len(single.settings["store"]["shards"]) == 1
    assert (reference / ATTRIBUTION / "regions.tsv").read_bytes() == (tiny_demo_run / ATTRIBUTION / "regions.tsv").read_bytes()
    for part in ("relevance", "hypothetical", "onehot"):
        assert getattr(sharded, part)[:].tobytes() == getattr(single, part)[:].tobytes(), part
    assert np.array_equal(sharded.rows, single.rows)
