"""The Snakemake pipeline end to end on tiny configs, in temporary directories."""

import base64
import gzip
import hashlib
import json
import re
import shutil
import subprocess

import numpy as np
import pyBigWig
import pysam
import pytest
from conftest import (
    BIN,
    REPO,
    SNAKEFILE,
    TINY_DEMO,
    TINY_METHODS,
    TINY_WINDOWS,
    write_fasta,
)

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
    assert x.shape == (TINY_WINDOWS, 4, 100) and len(table) == TINY_WINDOWS
    assert info["classes"] == ["positive", "negative"]
    assert info["split_method"].startswith("held-out chromosomes")
    assert set(table.split) == {"train", "valid", "test"}
    assert {c for c, s in zip(table.chrom, table.split) if s == "test"} == {"chr8"}
    assert (tmp_path / "results" / "demo" / "truth.bed").stat().st_size > 0
    assert f"class positive: regions {TINY_WINDOWS // 2}" in (tmp_path / "results" / "logs" / "extract.log").read_text()
    model_sha256 = hashlib.sha256((tmp_path / "results" / "model" / "model.pt").read_bytes()).hexdigest()
    # attribution: every window of each class (attribute.regions: all), by each configured method
    n_windows = {cls: table.cls.count(cls) for cls in ("positive", "negative")}
    for cls in ("positive", "negative"):
        for method in TINY_METHODS:
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
            seqlet_lines = (tmp_path / "results" / "seqlets" / f"{cls}.{method}.bed").read_text().splitlines()[1:]
            assert seqlet_lines or cls == "negative"  # the positive class's planted CTCF sites give seqlets
            for line in seqlet_lines:
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
    # through training, prediction, one class's attribution, track and seqlets (the demo run covers the rest)
    targets = ["results/model/metrics.tsv", "results/tracks/bound.lrp.bw", "results/seqlets/bound.lrp.bed"]
    result = run_snakemake(tmp_path / "run", {**config, "attribute": {"methods": {"lrp": {"composite": "epsilon-plus"}}}},
                           *targets)
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
    # the records' own coordinates (chr1:1000-1150 headers) place the track on the genome
    with pyBigWig.open(str(tmp_path / "run" / "results" / "tracks" / "bound.lrp.bw")) as bigwig:
        assert set(bigwig.chroms()) >= {"chr1"} and bigwig.intervals("chr1")[0][0] >= 0
    assert (tmp_path / "run" / "results" / "seqlets" / "bound.lrp.bed").read_text().startswith("track ")
    # the browser page of a run without a genome: the records' own bases, opened offline in Chromium
    from browser_session import visit

    from seqlrp.report.browser import BrowserInputs
    from seqlrp.stages.browser import run as write_page

    results = tmp_path / "run" / "results"
    pair = ("bound", "lrp")
    inputs = BrowserInputs(pairs=[pair], chrom_sizes=results / "data" / "chrom_sizes.tsv", seq_len=120,
                           windows={"bound": results / "attributions" / "bound.lrp" / "regions.tsv"},
                           bigwigs={pair: results / "tracks" / "bound.lrp.bw"},
                           seqlets={pair: results / "seqlets" / "bound.lrp.bed"},
                           dataset_onehot=data / "onehot.npy", dataset_regions=data / "regions.tsv")
    shown = write_page(results / "browser.html", {"regions_per_list": 5, "max_megabytes": 50}, inputs,
                       title="t", subtitle="s")
    assert shown["per_list"] == 5 and shown["regions"] >= 5
    page = (results / "browser.html").read_text()
    fasta = gzip.decompress(base64.b64decode(re.search(r'"fastaURL":"data:application/gzip;base64,([^"]+)"',
                                                       page)[1])).decode()
    lines = fasta.splitlines()
    assert len(lines) >= 10
    for header, bases in zip(lines[0::2], lines[1::2]):
        name, span = header[1:].split()[0].split(":")
        start = int(span.split("-")[0]) - 1
        if name == "chr1":  # the window of record chr1:{1000 i}-{1000 i + 150 + i}, at its genome place
            i = start // 1000
            assert bases == bound[f"chr1:{1000 * i}-{1000 * i + 150 + i}"][start - 1000 * i:][:len(bases)].upper()
        else:  # a record without coordinates is its own contig, the window clipped to it
            assert start == 0 and bases == unbound[name].upper()
    with visit(results / "browser.html") as seen:
        assert seen.page.evaluate("document.body.dataset.ready") == "true"
        assert "bound lrp relevance" in seen.page.evaluate("window.seqlrpBrowser.tracks.map(t => t.name)")
        assert seen.problems() == []


@pytest.mark.workflow
def test_snakemake_lint_is_clean(tmp_path):
    result = subprocess.run(
        [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "--lint", "--configfile", str(REPO / "config" / "config.yaml")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 0
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


# ------------------------------------------------------------------------------ dry runs and profiles


def _dry_run_configs(tmp_path):
    """Example configs of each input and model route, with the small files they name."""
    import torch
    from conftest import random_sequence, write_lines

    from seqlrp.models import annotate, build, save_model

    chroms = {f"chr{i}": random_sequence(3000, i) for i in (1, 2, 3)}
    genome = write_fasta(tmp_path / "genome.fa", chroms)
    beds = {name: str(write_lines(tmp_path / f"{name}.bed", [f"chr{c}\t{300 * k + 40 * j}\t{300 * k + 40 * j + 60}"
                                                                 for c in (1, 2, 3) for k in range(4)]))
            for j, name in enumerate(("bound", "unbound"))}
    records = {name: str(write_fasta(tmp_path / f"{name}.fa", {f"r{i}": random_sequence(80, 50 * j + i) for i in range(6)}))
               for j, name in enumerate(("bound", "unbound"))}
    model = build("cnn", seq_len=80, n_classes=2, filters=[4], kernels=[5], pools=[2], dense=[])
    annotate(model, classes=["bound", "unbound"])
    save_model(model, tmp_path / "model.pt")
    torch.manual_seed(0)
    foreign = torch.nn.Sequential(torch.nn.Conv1d(4, 4, 5, padding=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool1d(1),
                                  torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
    torch.export.save(torch.export.export(foreign, (torch.zeros(2, 4, 80),)), tmp_path / "foreign.pt2")
    return {
        "regions": ({"genome": str(genome), "regions": beds, "seq_len": 80}, {"train", "extract", "tracks"}),
        "sequences": ({"sequences": records, "seq_len": 80}, {"train", "extract", "motifs"}),
        "checkpoint": ({"genome": str(genome), "regions": beds, "model": {"checkpoint": str(tmp_path / "model.pt")}},
                       {"import_model", "predict", "report"}),
        "pt2": ({"genome": str(genome), "regions": beds, "model": {"checkpoint": str(tmp_path / "foreign.pt2"),
                                                                   "classes": ["bound", "unbound"]}},
                {"import_model", "attribute", "diagnostics"}),
        "tile": ({"genome": str(genome), "tile": {"chroms": ["chr1"]}, "model": {"checkpoint": str(tmp_path / "model.pt")}},
                 {"import_model", "extract", "tracks"}),
    }


@pytest.mark.workflow
@pytest.mark.parametrize("route", ["regions", "sequences", "pt2", "tile"])  # a seqlrp checkpoint: test_predict
def test_dry_run_matrix(tmp_path, route):
    """Each input and model route plans its jobs in a dry run, under the workflow profile."""
    from conftest import run_snakemake

    config, rules = _dry_run_configs(tmp_path)[route]
    result = run_snakemake(tmp_path / "run", config, "-n")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    planned = set(re_rules(output))
    assert rules <= planned, planned
    assert ("train" in planned) == (route in ("regions", "sequences"))
    # profiles/default, next to the Snakefile, is in force (rerun-incomplete among its settings)
    assert f"workflow specific profile {REPO / 'profiles' / 'default'}" in output
    assert not (tmp_path / "run" / "results").exists()


def re_rules(output: str) -> list[str]:
    import re

    return re.findall(r"^rule (\w+):", output, flags=re.M) + re.findall(r"^checkpoint (\w+):", output, flags=re.M)


@pytest.mark.workflow
@pytest.mark.parametrize("problem", ["plan", "schema"])
def test_dry_run_refuses_a_start_up_problem_in_one_line(tmp_path, problem):
    """A refusal of the run plan, and of the schema, reaches the user through Snakemake as one line
    naming the user's config file and line, exit 1, nothing written."""
    from conftest import run_snakemake

    config, _ = _dry_run_configs(tmp_path)["regions"]
    if problem == "plan":
        config["regions"] = {"../escaped": config["regions"]["bound"], "b": config["regions"]["unbound"]}
        expected = "class name '../escaped' contains a path separator"
    else:
        config["extract"] = {"padding": "N"}
        expected = "extract: Additional properties are not allowed ('padding' was unexpected)"
    result = run_snakemake(tmp_path / "run", config, "-n")
    errors = [line for line in result.stderr.splitlines() if line.startswith("seqlrp: error:")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr[-2000:]
    assert errors[0].startswith(f"seqlrp: error: {tmp_path / 'run' / 'config.yaml'}:")
    assert expected in errors[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "results").exists() and not (tmp_path / "escaped").exists()


@pytest.mark.workflow
def test_slurm_profile_with_its_placeholders_is_refused(tmp_path):
    from conftest import run_snakemake

    result = run_snakemake(tmp_path / "run", {"seq_len": 100}, "-n", "--profile", str(REPO / "profiles" / "slurm"))
    errors = [line for line in result.stderr.splitlines() if line.startswith("seqlrp: error:")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr[-2000:]
    assert "slurm_account=REPLACE_WITH_ACCOUNT is a placeholder" in errors[0]


# ------------------------------------------------------------------------------ the science of the demo


@pytest.mark.workflow
@pytest.mark.parametrize("method", TINY_DEMO["attribute"]["methods"])
def test_tiny_demo_finds_its_planted_motifs(tiny_demo_run, method):
    """The positive class's relevance sits on the planted motif sites of truth.bed: per-window AUROC of
    the observed bases' relevance well above the same maps scored against shuffled sites, and the
    seqlets of the positive class fall on truth sites far more often than windows of their size would
    by chance."""
    from seqlrp.analysis.evaluation import per_sequence_auroc, truth_mask
    from seqlrp.formats.regions import read_regions

    results = tiny_demo_run / "results"
    truth = read_regions(results / "demo" / "truth.bed")
    targets = {r.name for r in truth} & set(TINY_DEMO["demo"]["targets"])
    spans: dict[str, list] = {}
    for region in truth:
        if region.name in targets:
            spans.setdefault(region.chrom, []).append((region.start, region.end))
    intervals = {chrom: np.array(v) for chrom, v in spans.items()}
    store = read_attribution(results / "attributions" / f"positive.{method}", results / "data" / "onehot.npy")
    table = read_regions_tsv(results / "attributions" / f"positive.{method}" / "regions.tsv")
    length = store.relevance.shape[1]
    mask = truth_mask(table.chrom, table.start, table.strand, length, intervals)
    relevance = np.asarray(store.relevance[:], dtype=np.float64)
    has_site = mask.any(axis=1)
    assert has_site.sum() >= 0.9 * len(mask)  # every positive window carries a target instance
    observed = np.nanmean(per_sequence_auroc(mask[has_site], relevance[has_site]))
    rng = np.random.default_rng(0)
    shuffled = np.nanmean([np.nanmean(per_sequence_auroc(rng.permuted(mask[has_site], axis=1), relevance[has_site]))
                           for _ in range(5)])
    assert abs(shuffled - 0.5) < 0.05 and observed > shuffled + 0.15, (observed, shuffled)
    # seqlets of positive relevance (red): their share on a truth site against intervals of the same
    # widths placed at random in the same windows
    lines = (results / "seqlets" / f"positive.{method}.bed").read_text().splitlines()[1:]
    seqlets = [(f[0], int(f[1]), int(f[2])) for f in (line.split("\t") for line in lines) if f[8] == "255,0,0"]
    assert len(seqlets) >= 10

    def on_site(chrom, start, end):
        return any(a < end and start < b for a, b in spans.get(chrom, ()))

    observed_share = np.mean([on_site(*seqlet) for seqlet in seqlets])
    rows = rng.integers(0, len(table), size=2000)
    widths = rng.choice([end - start for _, start, end in seqlets], size=2000)
    offsets = rng.integers(0, length - widths + 1)
    chance = np.mean([on_site(table.chrom[r], table.start[r] + o, table.start[r] + o + w)
                      for r, o, w in zip(rows, offsets, widths)])
    assert observed_share > chance + 0.2, (observed_share, chance)


@pytest.mark.workflow
def test_tiny_demo_scores_and_explains_its_variants(tiny_demo_run, tmp_path_factory):
    """Rule variants on the demo's generated VCF: every row scored and explained, motif-breaking
    variants told from controls, the browser files readable by htslib, and a deleted shard rerun alone."""
    from conftest import run_snakemake

    from seqlrp.variants import open_variant_maps
    from seqlrp.variants.tables import read_scores

    results = tiny_demo_run / "results"
    summary = json.loads((results / "variants" / "summary.json").read_text())
    truth = (results / "demo" / "variants_truth.tsv").read_text().splitlines()[1:]
    assert summary["symbolic_skipped"] == 1 and summary["rows"] == len(truth) - 1  # the <DEL> is not scored
    rows = list(read_scores(results / "variants" / "scores.tsv"))
    assert len(rows) == summary["rows"] * 2 * len(TINY_METHODS)
    multi = [r for r in rows if r["id"] == "demo_odd_multiallelic" and r["class"] == "positive"]
    assert len(multi) == 2 and multi[0]["pos"] == multi[1]["pos"] and multi[0]["alt"] != multi[1]["alt"]
    # explained: the relevance maps' difference accounts for delta, up to what biases absorb
    delta = np.array([float(r["delta"]) for r in rows])
    explained = np.array([float(r["delta_relevance_sum"]) for r in rows])
    assert np.corrcoef(delta, explained)[0, 1] > 0.9
    evaluation = {(r["class"], r["comparison"], r["score"]): r for r in read_scores(results / "evaluation" / "variants.tsv")}
    assert float(evaluation["positive", "break_vs_control", "relevance_ref"]["auroc"]) > 0.8
    assert float(evaluation["positive", "create_vs_control", "delta"]["auroc"]) > 0.8
    # one shard (shard_size 0), joined; the maps of both alleles of every variant
    assert sorted(p.name for p in (results / "variants" / "shards").iterdir()) == ["0"]
    maps = open_variant_maps(results / "variants" / "maps" / f"positive.{TINY_METHODS[0]}")
    assert len(maps) == summary["rows"] and maps.store.relevance.shape == (2 * summary["rows"], 100)
    first = next(r for r in rows if r["variant"] == str(int(maps.variants[3])) and r["class"] == "positive")
    delta_r, alt_only = maps.delta(3)
    assert np.isclose(delta_r.sum() + alt_only.sum(), float(first["delta_relevance_sum"]), rtol=1e-4, atol=1e-5)
    # the scored VCF and the BED open in the tools browsers use
    with pysam.VariantFile(str(results / "variants" / "scored.vcf.gz")) as vcf:
        records = list(vcf.fetch("chr1"))
        assert records and all(len(r.info["SEQLRP_DELTA"]) == 2 for r in records)
    bed = (results / "variants" / "variants.bed").read_text().splitlines()
    assert bed[0].startswith("track ") and all(len(line.split("\t")) == 9 for line in bed[1:])
    # the report's section: counts, the scatter and one variant's ref, alt and ΔR logos per class
    html = (results / "report.html").read_text()
    section = html[html.index("Variant effects"):]
    assert f"{summary['rows']}" in section and section.count("data:image/png;base64,") >= 3
    # genome + variants + the trained model, no regions: only the variant stage runs, here in two
    # shards (the tiny demo has one), with the same bytes: shard bounds are multiples of batch_size
    scores = (results / "variants" / "scores.tsv").read_bytes()
    alone = tmp_path_factory.mktemp("variants-only")
    config = {**{k: v for k, v in TINY_DEMO.items() if k not in ("demo", "seq_len")},
              "genome": str(results / "demo" / "genome.fa.gz"), "variants": str(results / "demo" / "variants.vcf.gz"),
              "model": {"checkpoint": str(results / "model" / "model.pt")},
              "variant_effects": {**TINY_DEMO["variant_effects"], "shard_size": 64}}
    (alone / "results" / "motifs").mkdir(parents=True)  # the JASPAR matrices as read before (no second pyjaspar read)
    shutil.copy2(results / "motifs" / "jaspar.npz", alone / "results" / "motifs" / "jaspar.npz")
    only = run_snakemake(alone, config)
    assert only.returncode == 0, only.stderr[-3000:]
    made = {p.name for p in (alone / "results").iterdir()}
    assert "variants" in made and made <= {"data", "model", "motifs", "variants", "genome_index", "logs", "benchmarks",
                                           "browser.html"}
    # its browser page: the strongest variants alone, each allele's relevance in the variant windows
    page = (alone / "results" / "browser.html").read_text()
    data = json.loads(re.search(r'id="seqlrp-data">(.*?)</script>', page, re.S)[1])
    assert data["regions"] and {r["kind"] for r in data["regions"]} == {"variant"}
    assert [t["name"] for t in data["tracks"]] == ["variant effects"] + [
        f"{c} {m} variant windows (ref | alt)" for c in ("positive", "negative") for m in TINY_METHODS]
    assert sorted(p.name for p in (alone / "results" / "variants" / "shards").iterdir()) == ["0", "1"]
    assert (alone / "results" / "variants" / "scores.tsv").read_bytes() == scores
    # a killed shard job (its output gone, the join not made) is made again alone, and the joined
    # table comes back byte for byte
    (alone / "results" / "variants" / "shards" / "1" / "scores.tsv").unlink()
    (alone / "results" / "variants" / "scores.tsv").unlink()
    again = run_snakemake(alone, config)
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert "variants_shard" in log and "wildcards: shard=1" in log and "shard=0" not in log
    assert (alone / "results" / "variants" / "scores.tsv").read_bytes() == scores
    # (a VCF refused at rule variants_index: tests/test_variants.py, in-process, file:line and nothing written)
