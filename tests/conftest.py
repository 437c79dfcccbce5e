"""Shared test helpers: small genomes with known sequence and a Snakemake runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# numba's compile cache (cache=True kernels) goes to a temporary directory, never into src/; set before
# anything imports numba, and inherited by the Snakemake subprocesses
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), f"seqlrp-test-numba-cache-{os.getuid()}"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch
import yaml
from torch import nn

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
BIN = Path(sys.executable).parent
# cores a Snakemake subprocess may use: the machine's share of this pytest worker, so that parallel
# workers never start more threads than there are cores
SUBPROCESS_CORES = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tests use tiny models: one torch thread, so a busy 2-core machine cannot stall OpenMP."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_batchnorm(channels: int) -> nn.BatchNorm1d:
    """A BatchNorm1d with non-trivial running statistics and affine parameters (seed torch first)."""
    bn = nn.BatchNorm1d(channels)
    with torch.no_grad():
        bn.running_mean.normal_(0, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0, 0.2)
    return bn


def grelu_models():
    """gReLU's model zoo (``grelu.model.models``). It imports enformer-pytorch, which imports
    transformers (for its config classes) and polars (for its data helpers): neither is needed to
    build a model, so stand in for them, just for the import, when they are missing."""
    import importlib.util
    import types

    from optional import need_spec

    need_spec("grelu", "enformer_pytorch")  # skip, or fail under SEQLRP_REQUIRE_TEST_DEPS=1
    stubs = {}
    for name in ("transformers", "polars"):
        if importlib.util.find_spec(name) is None and name not in sys.modules:
            stubs[name] = types.ModuleType(name)
    if "transformers" in stubs:
        stubs["transformers"].PretrainedConfig = type("PretrainedConfig", (), {"__init__": lambda self, **kw: None})
        stubs["transformers"].PreTrainedModel = type("PreTrainedModel", (nn.Module,), {})
    sys.modules.update(stubs)
    try:
        import grelu.model.models as models
    finally:
        for name in stubs:
            sys.modules.pop(name, None)
    return models


def random_sequence(length: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(np.array(list("ACGT"))[rng.integers(0, 4, size=length)])


def write_fasta(path: Path, records: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as handle:
        for name, seq in records.items():
            handle.write(f">{name}\n")
            for i in range(0, len(seq), width):
                handle.write(seq[i : i + width] + "\n")
    return path


def write_store(folder: Path, data, model_path: Path, cls: str, method: str, spec, onehot_path: Path,
                **options) -> Path:
    """One attribution store in ``folder`` as the pipeline writes it: ``attribute`` into shard 0,
    then the join; the data set's one-hot saved at ``onehot_path``. Returns ``folder``."""
    import numpy as np

    from seqlrp.attribution.store import SHARD_ARRAYS
    from seqlrp.stages.attribute import AttributeOptions, attribute, join_attributions

    shard = folder / "shards" / "0"
    outputs = {**{key: shard / name for key, name in SHARD_ARRAYS.items()},
               "regions": shard / "regions.tsv", "settings": shard / "settings.json"}
    attribute(model_path, data, cls, method, spec, outputs,
              AttributeOptions(**{"device": "cpu", "progress": False, **options}))
    join_attributions([shard], {"regions": folder / "regions.tsv", "settings": folder / "settings.json"})
    np.save(onehot_path, data.onehot)
    return folder


def store_from_arrays(folder: Path, onehot, relevance, hypothetical, regions_text: str, cls: str = "c",
                      method: str = "m", onehot_path: Path | None = None) -> Path:
    """An attribution store in ``folder`` (one shard) holding given maps: one-hot, relevance and
    hypothetical contributions (n, 4, L) and the ``regions.tsv`` text; the one-hot saved at
    ``onehot_path`` (default ``folder/../onehot.npy``) with rows 0..n-1. Returns ``folder``."""
    import json

    import numpy as np

    from seqlrp.attribution.store import SHARD_ARRAYS, ShardWriter, join_shards

    shard = folder / "shards" / "0"
    shard.mkdir(parents=True)
    with ShardWriter({key: shard / name for key, name in SHARD_ARRAYS.items()}, len(onehot), onehot.shape[2]) as writer:
        writer.write(onehot, relevance, hypothetical)
    (shard / "regions.tsv").write_text(regions_text)
    (shard / "settings.json").write_text(json.dumps({"class": cls, "method": method, "target_index": 0,
                                                     "n_windows": len(onehot), "seq_len": onehot.shape[2]}))
    join_shards([shard], {"regions": folder / "regions.tsv", "settings": folder / "settings.json"})
    np.save(onehot_path or folder.parent / "onehot.npy", np.asarray(onehot, dtype=np.uint8))
    return folder


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def small_genome(tmp_path) -> tuple[Path, dict[str, str]]:
    """A plain FASTA with chr1 (1000 bp), chr2 (600 bp) and chrM (50 bp) of known random sequence."""
    chroms = {"chr1": random_sequence(1000, 1), "chr2": random_sequence(600, 2), "chrM": random_sequence(50, 3)}
    return write_fasta(tmp_path / "genome.fa", chroms), chroms


# The tiny demo: 300 windows of 100 bp, CTCF planted in the positive ones (REST as decoy in the negative),
# which a CNN learns within its first epochs; the later stages on small subsets, one attribution
# method. Built once per session.
TINY_DEMO = {
    "seq_len": 100,
    "demo": {"n_chroms": 8, "chrom_len": 12_000, "gap": 200, "n_per_class": 150, "targets": ["MA0139.2"],
             "decoys": ["MA0138.3"]},
    "motifs": {"leiden_runs": 10, "n_regions": 2},  # region pictures: 2 of the default 10
    # evaluation and diagnostics on a few windows: the stages run; their numbers are tested in process
    "evaluate": {"max_windows": 24, "ism_max_windows": 4, "ig_steps": 4, "p_grid": [0, 0.5]},
    "diagnostics": {"n_windows": 24},
    "seqlets": {"n_null": 100},
    # one method: each more costs ten jobs per run (a pruned method runs through the pipeline in
    # test_foreign_pipeline's module-route test, checked there against relevance by hand)
    "attribute": {"methods": {"lrp": {"composite": "epsilon-plus"}}},
    # the demo's generated VCF (109 rows) in one variants_shard job (two: test_workflow's variant test),
    # a small null, one logo per class
    "report": {"max_variant_logos": 1},
    "variant_effects": {"null_size": 100, "shard_size": 0},
}
TINY_METHODS = list(TINY_DEMO["attribute"]["methods"])
TINY_WINDOWS = 2 * TINY_DEMO["demo"]["n_per_class"]


@pytest.fixture(scope="session")
def tiny_demo_run(tmp_path_factory) -> Path:
    """One complete pipeline run of the tiny demo (``TINY_DEMO``), shared by the workflow tests.

    Built once for the whole session, whatever the number of pytest-xdist workers: the first worker
    to take the file lock runs the pipeline into the base temporary directory they share, the others
    wait for it and reuse the run (a failed build is not retried). Tests that change files work on a
    copy (:func:`copy_run`); the run itself stays as made.
    """
    import fcntl

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # each worker's base temp sits in one directory of the session
    workdir, done, failed = shared / "tiny_demo", shared / "tiny_demo.done", shared / "tiny_demo.failed"
    with open(shared / "tiny_demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists() and not failed.exists():
            result = run_snakemake(workdir, TINY_DEMO)
            (done if result.returncode == 0 else failed).write_text(result.stderr[-3000:])
    assert done.exists(), f"the tiny demo run failed:\n{failed.read_text()}"
    return workdir


def copy_run(run: Path, target: Path) -> Path:
    """A copy of a finished run with file times kept, so Snakemake sees it up to date."""
    shutil.copytree(run, target, symlinks=True)
    return target


def run_snakemake(workdir: Path, config: dict | None = None, *args: str, timeout: int = 600,
                  prefix: list[str] | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the pipeline in ``workdir`` with ``config`` written to ``workdir/config.yaml``.

    ``prefix`` goes before the command (e.g. ``setpriv`` to run as another user); ``env`` adds
    environment variables.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    # arguments (targets, options) before --configfile, which would take a target for a config file
    command = [*(prefix or []), str(BIN / "snakemake"), "-s", str(SNAKEFILE), "--directory", str(workdir), "--cores",
               str(SUBPROCESS_CORES), *args]
    if config is not None:
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        command += ["--configfile", str(workdir / "config.yaml")]
    env = dict(os.environ, **(env or {}), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir)


class _Named(list):
    """A list with named entries, as Snakemake's ``input``/``output``/``log`` of a job."""

    def __init__(self, named: dict):
        super().__init__(str(v) for v in named.values())
        for key, value in named.items():
            setattr(self, key, str(value))
        self._named = {k: str(v) for k, v in named.items()}

    def items(self):
        return self._named.items()


def run_job(main, *, output: dict, log: Path, params: dict | None = None, resources: dict | None = None,
            capsys=None) -> tuple[int, list[str]]:
    """Run ``main(snakemake)`` through :func:`seqlrp.stages.runner.run_stage` in-process, as a rule's
    script does: ``output``, ``params`` and ``resources`` as the job would get them, its log at ``log``.

    Returns the exit status (0, or 1 from the one-line error) and the ``seqlrp: error:`` lines the job
    printed (read from its log, where run_stage writes the same line as on stderr).
    """
    import types

    from seqlrp.stages.runner import run_stage

    job = types.SimpleNamespace(output=_Named(output), log=_Named({"log": log}), input=_Named({}),
                                params=types.SimpleNamespace(**(params or {})), wildcards=types.SimpleNamespace(),
                                resources=types.SimpleNamespace(**(resources or {})), threads=1)
    status = 0
    try:
        run_stage(job, main)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    finally:
        import logging

        logging.shutdown()
        logging.getLogger().handlers.clear()
    lines = [line for line in Path(log).read_text().splitlines() if line.startswith("seqlrp: error:")] \
        if Path(log).exists() else []
    return status, lines


def run_extract_job(workdir: Path, fasta: Path, regions: dict, *, seq_len: int) -> tuple[int, list[str], Path]:
    """Rule extract's job in-process (:func:`run_job`) on ``fasta`` and ``regions`` (class -> BED), with
    the schema's defaults; outputs under ``workdir/results``. Returns the exit status, the error lines
    and the data folder."""
    from seqlrp.formats.config_file import load_config
    from seqlrp.stages.extract import extract

    (workdir / "config.yaml").write_text(yaml.safe_dump({"seq_len": seq_len, "genome": str(fasta),
                                                         "regions": {k: str(v) for k, v in regions.items()}}))
    config = load_config([workdir / "config.yaml"])
    data = workdir / "results" / "data"
    outputs = {"onehot": data / "onehot.npy", "regions": data / "regions.tsv", "info": data / "dataset.json"}
    stage = {"genome": str(fasta), "regions": config["regions"], "sequences": {}, "seq_len": seq_len,
             "seed": config["seed"], "extract": config["extract"], "split": config["split"], "tile": None,
             "classes": list(regions), "index_dir": str(workdir / "results" / "genome_index")}
    status, errors = run_job(lambda smk: extract(stage, dict(smk.output.items()), progress=False), output=outputs,
                             log=workdir / "extract.log")
    return status, errors, data


# The longest chains start first, so that the two pytest-xdist workers end together: the second clean
# pipeline run on one worker, the tiny demo's build (through its lightest user) on the other, then the
# TF-MoDISco discovery (numba compiles) and the other Snakemake runs; the in-process tests fill the gaps.
SLOW_FIRST = ("test_reproducibility.py", "test_browser_files.py::test_browser_files_of_the_tiny_demo",
              "test_motifs.py::test_discovery_end_to_end", "test_foreign_pipeline.py::test_pt2",
              "test_tiling.py::test_tiled_run", "test_odd_inputs_pipeline.py::test_unusual",
              "test_workflow.py::test_sequences_input")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        for k, prefix in enumerate(SLOW_FIRST):
            if item.nodeid.split("/")[-1].startswith(prefix):
                return k
        return len(SLOW_FIRST) + (0 if item.get_closest_marker("workflow") else 1)

    items.sort(key=rank)  # stable: the order within a rank is the files' own
