"""Same config, same bytes: a second clean run of the tiny demo, sharded, with a shard job killed."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import BIN, SNAKEFILE, SUBPROCESS_CORES, TINY_DEMO, TINY_WINDOWS, run_snakemake

from seqlrp.attribution.store import read_attribution

# outputs that record the run rather than the science: logs, timings, the page with its date; and the
# browser page, which shows the variants this run leaves out (its bytes: tests/test_browser_page.py)
NOT_COMPARED = re.compile(r"^results/(logs|benchmarks)/|^results/(report|browser)\.html$|\.(png|svg)$")
# 2 shards; the variant stage left out (its shards' bytes: test_workflow's variant test)
SHARDED = {**TINY_DEMO, "shard_size": -(-TINY_WINDOWS // 2), "demo": {**TINY_DEMO["demo"], "variants": False},
           # the pages are not compared (NOT_COMPARED), and their settings shape nothing else: the lightest
           "report": {"max_regions": 0, "max_motifs": 0, "max_variant_logos": 0}, "browser": {"regions_per_list": 1}}
VARIANT_FILES = re.compile(r"^results/variants/|^results/demo/variants|^results/evaluation/variants\.tsv$")
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


def shard_jobs(log: str) -> list[int]:
    """Shards of positive.lrp that ran, from Snakemake's job listing."""
    return sorted(int(m) for m in re.findall(r"rule attribute_shard:.*?wildcards: cls=positive, method=lrp, shard=(\d+)",
                                              log, flags=re.S))


def kill_while_a_shard_runs(run: Path, target: str) -> None:
    """Start the pipeline for ``target`` and kill the whole run (as a scheduler or a power cut would)
    as soon as a job has started (Snakemake marked its outputs incomplete)."""
    command = [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "--directory", str(run), "--cores", str(SUBPROCESS_CORES),
               target, "--configfile", str(run / "config.yaml")]
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


@pytest.mark.workflow
def test_a_second_clean_run_sharded_and_killed_gives_the_same_bytes(request, tmp_path):
    """Same config, same bytes, whatever happens to the jobs.

    A second clean run of the tiny demo, its windows in 2 shards per class and method (the tiny demo
    run has one), is killed while the second shard's job runs, unlocked and run again. Only the killed
    shard is recomputed (the profile sets rerun-incomplete), and every result
    equals the one-job tiny demo run's byte for byte; only the store's list of shards differs.
    """
    run = tmp_path / "second"
    first = run_snakemake(run, SHARDED, f"{ATTRIBUTION}/shards/0/settings.json")
    assert first.returncode == 0, first.stderr[-3000:]
    assert shard_jobs(first.stdout + first.stderr) == [0]

    kill_while_a_shard_runs(run, f"{ATTRIBUTION}/shards/1/settings.json")
    assert not (run / ATTRIBUTION / "shards" / "1" / "relevance.npy").exists()  # nothing half-written looks complete
    assert run_snakemake(run, SHARDED, "--unlock").returncode == 0  # the killed run left its lock
    rerun = run_snakemake(run, SHARDED)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert shard_jobs(rerun.stdout + rerun.stderr) == [1]  # shard 0 is not recomputed
    assert not [p.name for p in (run / "results").rglob(".*.tmp*")]  # no stale temporary is left

    # the tiny demo run is asked for only now: its build (on another worker) and this run go side by side
    tiny_demo_run = request.getfixturevalue("tiny_demo_run")
    first_files, second_files = result_files(tiny_demo_run), result_files(run)
    first_files = {name: data for name, data in first_files.items() if not VARIANT_FILES.search(name)}
    # the IGV session of a run with variants opens their BED too: one resource and one track line more
    session = "results/igv_session.xml"
    first_files[session] = b"".join(line for line in first_files[session].splitlines(keepends=True)
                                    if b"variants/variants.bed" not in line)
    store = re.compile(r"^results/attributions/[^/]+/(shards/|settings\.json$)")
    assert {n for n in first_files if not store.search(n)} == {n for n in second_files if not store.search(n)}
    summary = "results/evaluation/summary.tsv"
    assert without_timing(first_files.pop(summary)) == without_timing(second_files.pop(summary))
    differing = [name for name in first_files if not store.search(name) and first_files[name] != second_files[name]]
    assert differing == []
    # the comparison covered what matters: tracks, tables, arrays, model
    names = set(first_files)
    for expected in ("results/tracks/positive.lrp.bw", "results/tracks/positive.lrp.bedGraph.gz.tbi",
                     "results/model/predictions.tsv", "results/model/model.pt", f"{ATTRIBUTION}/regions.tsv",
                     "results/seqlets/negative.lrp.bed", "results/motifs/positive.lrp/tomtom.tsv",
                     "results/evaluation/diagnostics.tsv"):
        assert expected in names
    # the shards are the store: 2 pieces holding the one-job store's windows and bytes
    sharded = read_attribution(run / ATTRIBUTION, run / "results" / "data" / "onehot.npy")
    single = read_attribution(tiny_demo_run / ATTRIBUTION, tiny_demo_run / "results" / "data" / "onehot.npy")
    assert len(sharded.settings["store"]["shards"]) == 2 and len(single.settings["store"]["shards"]) == 1
    for part in ("relevance", "hypothetical", "onehot"):
        assert getattr(sharded, part)[:].tobytes() == getattr(single, part)[:].tobytes(), part
    assert np.array_equal(sharded.rows, single.rows)
