"""The whole pipeline on models from outside seqlrp (issue 12): a torch.export .pt2 file and the module
route (the user's class + weights), with model.classes naming the outputs; start-up errors in one line.

The runs reuse the tiny demo run's data (conftest ``tiny_demo_run``): the copy keeps its demo data,
one-hot windows and JASPAR matrices, and everything from the model on is made again.
"""

import csv
import json
import shutil

import numpy as np
import pyBigWig
import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_DEMO, TINY_WINDOWS, copy_run, run_snakemake
from optional import need
from torch import nn

from seqlrp.attribution.store import read_attribution
from seqlrp.models import load_model
from seqlrp.models.external import ExternalModel

pytestmark = [pytest.mark.workflow,
              pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")]

L = TINY_DEMO["seq_len"]
ONE_METHOD = {"lrp": {"composite": "epsilon-plus"}}  # fewer jobs; evaluate still runs every method and baseline
PRUNED_METHOD = {"plrp": {"composite": "epsilon-plus", "prune": {"p_pos": 0.25, "mode": "lambda"}}}
# smaller evaluation and diagnostics than the tiny demo's defaults: the stages run, on fewer windows
# (motifs: the stage runs and writes its files, but no metacluster is big enough to cluster: the motif
# search reads only the attribution store, which test_workflow's tiny-demo motif test covers)
LIGHT = {"evaluate": {"max_windows": 16, "ism_max_windows": 4, "ig_steps": 4, "p_grid": [0, 0.5]},
         "motifs": {**TINY_DEMO["motifs"], "min_metacluster": 1_000_000},
         "diagnostics": {"n_windows": 24}, "seqlets": {"n_null": 100}, "report": {"max_variant_logos": 0}}


class Foreign(nn.Module):
    """The tiny demo's trained CNN, rewritten with a functional forward and a residual ``h = h + f(h)``
    (its branch zero, so the logits stay the trained model's)."""

    def __init__(self, trained: nn.Sequential):
        super().__init__()
        cut = next(i for i, layer in enumerate(trained) if isinstance(layer, nn.MaxPool1d)) + 1
        self.stem, self.rest = trained[:cut], trained[cut:]
        width = trained[0].out_channels
        self.branch = nn.Conv1d(width, width, 3, padding=1)
        nn.init.zeros_(self.branch.weight)
        nn.init.zeros_(self.branch.bias)

    def forward(self, x):
        h = self.stem(x)
        h = h + F.relu(self.branch(h))
        return self.rest(h)




ATTENTION_PY = '''
import math

import torch
from torch import nn


class Hybrid(nn.Module):
    """Enformer-style: conv stem, attention pooling, one transformer block whose attention logits get a
    relative-position bias, a GELU written as x * sigmoid(1.702 x); output (N, tasks, 1) like gReLU's."""

    def __init__(self, dim=16, heads=2, tasks=2):
        super().__init__()
        self.stem = nn.Conv1d(4, dim, 9, padding=4)
        self.pool_logits = nn.Conv1d(dim, dim, 1)
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.rel = nn.Linear(1, heads)  # bias of each head from the (constant) distance between positions
        self.out = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim))
        self.ff_out = nn.Linear(2 * dim, dim)
        self.head = nn.Linear(dim, tasks)
        self.heads = heads

    def forward(self, x):
        h = self.stem(x)
        n, c, length = h.shape
        h = h.reshape(n, c, length // 2, 2)
        weights = self.pool_logits(h.reshape(n, c, -1)).reshape(n, c, length // 2, 2).softmax(-1)
        h = (h * weights).sum(-1).transpose(1, 2)  # attention pooling by 2: (N, L/2, C)
        t = self.norm(h)
        q, k, v = self.qkv(t).reshape(n, -1, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        pos = torch.arange(h.shape[1], dtype=h.dtype, device=h.device)
        bias = self.rel((pos[None, :] - pos[:, None]).abs()[..., None] / h.shape[1]).permute(2, 0, 1)
        logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias
        att = (logits.softmax(-1) @ v).transpose(1, 2).reshape(n, -1, c)
        h = h + self.out(att)
        f = self.ff(h)
        h = h + self.ff_out(f * torch.sigmoid(1.702 * f))
        return self.head(h.mean(1))[..., None]
'''


def _fresh_copy(run, target):
    """A copy of the tiny demo run with everything from the model on removed (data, demo and JASPAR kept)."""
    work = copy_run(run, target)
    results = work / "results"
    for name in ("model", "attributions", "tracks", "seqlets", "evaluation", "variants", "logs", "benchmarks"):
        shutil.rmtree(results / name, ignore_errors=True)
    for path in (results / "motifs").iterdir():
        if path.name != "jaspar.npz":
            shutil.rmtree(path)
    for name in ("report.html", "igv_session.xml"):
        (results / name).unlink(missing_ok=True)
    return work


def _table(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("seqlrp: error:")]


def test_pt2_model_through_every_stage(tiny_demo_run, tmp_path):
    trained = load_model(tiny_demo_run / "results" / "model" / "model.pt")
    foreign = Foreign(trained).eval()
    program = torch.export.export(foreign, (torch.zeros(2, 4, L),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, tmp_path / "foreign.pt2")
    work = _fresh_copy(tiny_demo_run, tmp_path / "run")
    config = {**TINY_DEMO, **LIGHT, "attribute": {"methods": ONE_METHOD},
              "model": {"checkpoint": str(tmp_path / "foreign.pt2"), "classes": ["positive", "negative"]}}
    result = run_snakemake(work, config)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "rule train" not in log and "rule extract" not in log and "rule import_model" in log

    results, native = work / "results", tiny_demo_run / "results"
    model = load_model(results / "model" / "model.pt")
    assert isinstance(model, ExternalModel) and model.seqlrp_info.arch == "external"
    assert (results / "model" / "external.pt2").read_bytes() == (tmp_path / "foreign.pt2").read_bytes()
    assert not (results / "model" / "train_log.tsv").exists()
    # the foreign graph predicts and explains what the trained model does
    ours, theirs = _table(native / "model" / "predictions.tsv"), _table(results / "model" / "predictions.tsv")
    for column in ("logit_positive", "logit_negative"):
        assert np.allclose([float(r[column]) for r in theirs], [float(r[column]) for r in ours], atol=1e-4)
    assert _table(results / "model" / "metrics.tsv")[0].keys() == _table(native / "model" / "metrics.tsv")[0].keys()
    for cls in ("positive", "negative"):
        a = read_attribution(results / "attributions" / f"{cls}.lrp", results / "data" / "onehot.npy").relevance[:]
        b = read_attribution(native / "attributions" / f"{cls}.lrp", native / "data" / "onehot.npy").relevance[:]
        assert a.shape == b.shape
        assert np.allclose(a, b, rtol=1e-3, atol=1e-6)
        with pyBigWig.open(str(results / "tracks" / f"{cls}.lrp.bw")) as bigwig:
            assert bigwig.header()["nBasesCovered"] > 0
        assert (results / "seqlets" / f"{cls}.lrp.bed").read_text().startswith("track ")
        assert (results / "motifs" / f"{cls}.lrp" / "motifs.tsv").is_file()
    # evaluate: every LRP composite, the PLRP sweep and the baselines on the foreign model
    methods = {row["method"] for row in _table(results / "evaluation" / "summary.tsv")}
    assert {"lrp", "lrp-alpha2beta1", "plrp-mask-p0.5", "saliency", "gradient_x_input", "integrated_gradients", "ism"} <= methods
    diagnostics = {(r["class"], r["diagnostic"]): r for r in _table(results / "evaluation" / "diagnostics.tsv")}
    randomised = float(diagnostics["positive", "randomisation_similarity"]["value"])
    assert np.isfinite(randomised) and randomised < 0.9  # the re-initialised graph explains differently
    # the variant stage on the foreign graph scores the demo VCF as the trained model does
    ours, theirs = _table(native / "variants" / "scores.tsv"), _table(results / "variants" / "scores.tsv")
    assert [(r["variant"], r["class"]) for r in theirs] == [(r["variant"], r["class"]) for r in ours]
    for column in ("logit_ref", "delta", "relevance_ref"):
        assert np.allclose([float(r[column]) for r in theirs], [float(r[column]) for r in ours], atol=1e-4)
    assert all(r["prob_ref"] == "" for r in theirs)  # a foreign model's outputs need not be logits
    html = (results / "report.html").read_text()
    assert "model source" in html and "pt2: " in html and "No training log: the model was imported" in html
    assert "hyperparameters" not in html
    assert (results / "igv_session.xml").is_file()
    # the browser page of the foreign model's run: its tracks and variants, offline in Chromium
    from browser_session import visit

    with visit(results / "browser.html") as seen:
        names = seen.page.evaluate("window.seqlrpBrowser.tracks.map(t => t.name)")
        assert {"positive lrp relevance", "negative lrp relevance", "positive lrp variant windows (ref | alt)"} <= set(names)
        kinds = seen.page.locator("#regions tbody tr td:first-child").all_inner_texts()
        assert {"top logit", "seqlets", "variant"} <= set(kinds)
        assert seen.problems() == []
    rerun = run_snakemake(work, config, "-n")
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr, rerun.stdout[-2000:]


def test_module_route_picks_one_task_of_a_multi_task_attention_model(tiny_demo_run, tmp_path):
    """A user's own Enformer-style class (attention pooling, a relative-position bias, GELU as x * sigmoid(1.702 x),
    output (N, tasks, 1)) through the module route: one task picked, explained by pruned LRP (PLRP-λ) through
    attention, to the track and the seqlets."""
    safetensors = need("safetensors.torch")
    work = _fresh_copy(tiny_demo_run, tmp_path / "run")
    (work / "hybrid.py").write_text(ATTENTION_PY)
    from seqlrp.models.files import load_module

    torch.manual_seed(4)
    reference = load_module(f"{work / 'hybrid.py'}:Hybrid", {"tasks": 3})
    safetensors.save_file(reference.state_dict(), tmp_path / "weights.safetensors")
    config = {**TINY_DEMO, "attribute": {"methods": PRUNED_METHOD},
              "model": {"module": "hybrid.py:Hybrid", "kwargs": {"tasks": 3},
                        "weights": str(tmp_path / "weights.safetensors"), "classes": {"positive": 2}}}
    targets = ["results/tracks/positive.plrp.bw", "results/seqlets/positive.plrp.bed", "results/model/metrics.tsv"]
    result = run_snakemake(work, config, *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    results = work / "results"
    import_log = (results / "logs" / "import_model.log").read_text()
    assert "region sets named like a model class (positive) are that class's windows" in import_log
    model = load_model(results / "model" / "model.pt")
    assert model.seqlrp_info.classes == ["positive"] and model.seqlrp_info.hparams["indices"] == [2]
    x = torch.from_numpy(np.load(results / "data" / "onehot.npy")[:8].astype(np.float32))
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x)[:, [2], 0], atol=1e-6)
    # positive windows are the class's, negative ones its negatives: AUROC over both, no accuracy for one class
    metrics = {(r["split"], r["class"]): r for r in _table(results / "model" / "metrics.tsv")}
    assert set(c for _, c in metrics) == {"positive", "all"}
    test = metrics["test", "positive"]
    assert test["auroc"] != "NA" and test["accuracy"] == "NA" and int(test["n"]) > int(test["n_class"]) > 0
    settings = json.loads((results / "attributions" / "positive.plrp" / "settings.json").read_text())
    assert settings["n_windows"] == TINY_WINDOWS // 2 and settings["target_index"] == 0  # the positive windows only
    # the attribution table's logit is the class's score: task 2 of the model, not its first output
    store = read_attribution(results / "attributions" / "positive.plrp", results / "data" / "onehot.npy")
    windows = torch.from_numpy(store.onehot[:].astype(np.float32))
    with torch.no_grad():
        expected = reference(windows)[:, 2, 0].numpy()
    logged = [float(r["logit"]) for r in _table(results / "attributions" / "positive.plrp" / "regions.tsv")]
    assert np.allclose(logged, expected, atol=1e-5)
    assert not (results / "attributions" / "negative.plrp").exists()
    # the maps the pipeline wrote are what relevance gives on the user's class, task 2, loaded by hand
    from seqlrp.lrp import Prune, relevance

    plrp = store.relevance[:]
    by_hand = relevance(reference.eval(), windows, 2, prune=Prune(**PRUNED_METHOD["plrp"]["prune"])).numpy().sum(axis=1)
    unpruned = relevance(reference.eval(), windows, 2).numpy().sum(axis=1)
    assert np.isfinite(plrp).all() and np.abs(plrp).sum() > 0 and not np.allclose(plrp, unpruned)
    assert np.allclose(plrp, by_hand, rtol=1e-4, atol=1e-6 * np.abs(by_hand).max())
    assert json.loads((results / "attributions" / "positive.plrp" / "settings.json").read_text())["prune"] == {
        "p_pos": 0.25, "p_neg": None, "mode": "lambda"}  # the schema's default p_neg: p_pos / 2
    seqlets = (results / "seqlets" / "positive.plrp.bed").read_text().splitlines()
    assert seqlets[0].startswith('track name="positive plrp seqlets"') and "PLRP-lambda p+=0.25" in seqlets[0]


# a foreign model's start-up refusals (both routes given, no classes, too many classes, unsafe names,
# weights without a module, a missing file) are the run plan's: tests/test_plan.py
