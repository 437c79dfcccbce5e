"""The Snakemake pipeline end to end on tiny configs, in temporary directories."""

import gzip
import hashlib
import json
import subprocess

import numpy as np
import pyBigWig
import pysam
import pytest
from conftest import BIN, REPO, SNAKEFILE, TINY_DEMO, write_fasta

from seqlrp.attribution.store import read_attribution
from seqlrp.formats.table import read_regions_tsv


@pytest.mark.workflow
def test_demo_pipeline_runs_and_is_complete(tiny_demo_run, tmp_path_factory):
    from conftest import copy_run, run_snakemake

    tmp_path = tiny_demo_run
    data = tmp_path / "results" / "data"
    x = np.load(data / "onehot.npy")
    table = read_regions_tsv(data / "regions.tsv")
    info = json.loads((data / "dataset.json").read_text())
    assert x.shape == (120, 4, 100) and len(table) == 120
    assert info["classes"] == ["positive", "negative"]
    assert info["split_method"].startswith("held-out chromosomes")
    assert set(table.split) == {"train", "valid", "test"}
    assert {c for c, s in zip(table.chrom, table.split) if s == "test"} == {"chr8"}
    assert (tmp_path / "results" / "demo" / "truth.bed").stat().st_size > 0
    assert "class positive: regions 60" in (tmp_path / "results" / "logs" / "extract.log").read_text()
    model_sha256 = hashlib.sha256((tmp_path / "results" / "model" / "model.pt").read_bytes()).hexdigest()
    # attribution: every window of each class (attribute.regions: all), by each configured method (lrp, plrp)
    n_windows = {cls: table.cls.count(cls) for cls in ("positive", "negative")}
    for cls in ("positive", "negative"):
        for method in ("lrp", "plrp"):
            folder = tmp_path / "results" / "attributions" / f"{cls}.{method}"
            store = read_attribution(folder, tmp_path / "results" / "data" / "onehot.npy")
            assert store.relevance.shape == (n_windows[cls], 100) and store.hypothetical.shape == (n_windows[cls], 4, 100)
            # the store holds no copy of the one-hot input: 10 bytes per base (+ the table)
            arrays = sum(path.stat().st_size for path in (folder / "shards").rglob("*.npy"))
            assert arrays <= 10 * n_windows[cls] * 100 + 2000
            assert json.loads((folder / "settings.json").read_text())["method"] == method
            # genome-browser files read back with the libraries browsers use
            track = tmp_path / "results" / "tracks" / f"{cls}.{method}"
            with pyBigWig.open(f"{track}.bw") as bigwig:
                assert set(bigwig.chroms()) == {f"chr{i}" for i in range(1, 9)}
                assert bigwig.header()["nBasesCovered"] > 0
            with pysam.TabixFile(f"{track}.bedGraph.gz") as tabix:
                assert "chr8" in tabix.contigs
                assert all(not line.startswith(("track", "#")) for line in tabix.fetch("chr8"))
            with gzip.open(f"{track}.bedGraph.gz", "rt") as handle:
                header = [handle.readline().rstrip("\n") for _ in range(2)]
            # provenance in the header: versions, the model's and the config's SHA-256
            assert header[0].startswith("#seqlrp provenance: seqlrp=") and header[1].startswith("track type=bedGraph")
            provenance = dict(item.split("=", 1) for item in header[0].split(": ", 1)[1].split())
            assert provenance["model_sha256"] == model_sha256 and len(provenance["config_sha256"]) == 64
            assert {"torch", "numpy"} <= set(provenance)
            for line in (tmp_path / "results" / "seqlets" / f"{cls}.{method}.bed").read_text().splitlines()[1:]:
                fields = line.split("\t")
                assert len(fields) == 9 and 0 <= int(fields[4]) <= 1000 and fields[8] in ("255,0,0", "0,0,255")
    rerun = run_snakemake(tmp_path, TINY_DEMO)
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr
    # on demand: the windows TF-MoDISco got, as the npz `modisco motifs -s ohe.npz -a hyp.npz` reads
    # (in a copy: the shared run must keep exactly what `all` makes)
    run = copy_run(tiny_demo_run, tmp_path_factory.mktemp("modisco") / "run")
    modisco = run / "results" / "attributions" / "positive.lrp" / "modisco"
    asked = run_snakemake(run, TINY_DEMO, str(modisco.relative_to(run) / "hyp.npz"))
    assert asked.returncode == 0, asked.stderr[-3000:]
    with np.load(modisco / "ohe.npz") as ohe, np.load(modisco / "hyp.npz") as hyp:
        assert ohe["arr_0"].shape == hyp["arr_0"].shape == (n_windows["positive"], 4, 100)
        assert hyp["arr_0"].dtype == np.float32 and set(np.unique(ohe["arr_0"])) <= {0.0, 1.0}
    assert len((modisco / "regions.tsv").read_text().splitlines()) == n_windows["positive"] + 1


@pytest.mark.workflow
def test_sequences_input_through_the_pipeline(tmp_path):
    from conftest import random_sequence, run_snakemake

    bound = {f"chr1:{1000 * i}-{1000 * i + 150 + i}": random_sequence(150 + i, i).lower() for i in range(12)}
    unbound = {f"bg{i}": random_sequence(90, 100 + i) for i in range(12)}
    config = {
        "seq_len": 120,
        "sequences": {"bound": str(write_fasta(tmp_path / "bound.fa", bound)),
                      "unbound": str(write_fasta(tmp_path / "unbound.fa", unbound))},
    }
    result = run_snakemake(tmp_path / "run", config)
    assert result.returncode == 0, result.stderr[-3000:]
    data = tmp_path / "run" / "results" / "data"
    table = read_regions_tsv(data / "regions.tsv")
    x = np.load(data / "onehot.npy")
    assert x.shape == (24, 4, 120)
    assert table.chrom[:12] == ["chr1"] * 12 and table.chrom[12] == "bg0"
    assert x[12][:, :15].sum() == 0 and x[12][:, 15:105].sum() == 90  # 90 bp centred in 120 bp
    assert "random split" in json.loads((data / "dataset.json").read_text())["split_method"]
    # soft-masked records of uneven length go on through training and prediction
    metrics = (tmp_path / "run" / "results" / "model" / "metrics.tsv").read_text().splitlines()
    assert metrics[0].split("\t")[:4] == ["split", "class", "auroc", "auprc"]
    assert {line.split("\t")[1] for line in metrics[1:]} >= {"bound", "unbound"}


@pytest.mark.workflow
def test_snakemake_lint_is_clean(tmp_path):
    result = subprocess.run(
        [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "--lint", "--configfile", str(REPO / "config" / "config.yaml")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 0
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr
