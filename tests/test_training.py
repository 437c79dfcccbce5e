"""seqlrp.models.training and seqlrp.stages.train: augmentation, class weights, determinism, learning a planted motif, devices."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from seqlrp.errors import SeqlrpError
from seqlrp.formats.onehot import (
    codes_from_str,
    encode,
    onehot_from_codes,
    reverse_complement_codes,
    reverse_complement_onehot,
)
from seqlrp.formats.table import RegionTable, write_regions_tsv
from seqlrp.models import load_model
from seqlrp.models.device import choose_device
from seqlrp.models.inference import predict_logits, softmax
from seqlrp.models.metrics import auroc
from seqlrp.models.training import (
    TrainOptions,
    class_weights,
    reverse_complement_batch,
    shift_batch,
    train_model,
)
from seqlrp.stages.train import train

MOTIFS = ("GGGGAATTCCCC", "TTGACGTCAA")  # NFKB-like and CREB-like, both easy to learn
SMALL_CNN = {"filters": [16, 16], "kernels": [11, 5], "pools": [4, 2], "dense": [16]}


def planted(n_per_class=150, length=80, motifs=MOTIFS[:1], seed=0):
    """One-hot (N, 4, L), labels (N,), splits (N,), classes: class k < len(motifs) carries motif k
    (random position and strand), the last class is background. Splits 70/15/15 per class."""
    rng = np.random.default_rng(seed)
    n_classes = len(motifs) + 1
    labels = np.repeat(np.arange(n_classes), n_per_class)
    codes = rng.integers(0, 4, size=(labels.size, length)).astype(np.uint8)
    for row, label in enumerate(labels):
        if label < len(motifs):
            site = codes_from_str(motifs[label])
            if rng.random() < 0.5:
                site = reverse_complement_codes(site)
            start = rng.integers(0, length - site.size + 1)
            codes[row, start : start + site.size] = site
    within = np.tile(np.arange(n_per_class), n_classes) / n_per_class
    splits = np.where(within < 0.7, "train", np.where(within < 0.85, "valid", "test")).astype(object)
    classes = [f"motif{k}" for k in range(len(motifs))] + ["background"]
    return onehot_from_codes(codes), labels, splits, classes


def test_reverse_complement_batch():
    x = torch.from_numpy(np.stack([encode("AACGTN"), encode("GATTCA")])).float()
    out = reverse_complement_batch(x, torch.tensor([True, False]))
    assert torch.equal(out[0], torch.from_numpy(encode("NACGTT")).float())
    assert torch.equal(out[1], x[1])
    assert torch.equal(out[0], torch.from_numpy(reverse_complement_onehot(encode("AACGTN")).copy()).float())


def test_shift_batch_fills_with_n():
    x = torch.from_numpy(np.stack([encode("ACGTAC")] * 3)).float()
    out = shift_batch(x, torch.tensor([2, -1, 0]))
    assert torch.equal(out[0], torch.from_numpy(encode("NNACGT")).float())
    assert torch.equal(out[1], torch.from_numpy(encode("CGTACN")).float())
    assert torch.equal(out[2], x[2])


def test_class_weights_balance_the_classes():
    weights = class_weights(np.array([0, 0, 0, 1]), 2, ["a", "b"])
    np.testing.assert_allclose(weights.numpy(), [4 / 6, 2.0])
    with pytest.raises(SeqlrpError, match="no window of class.*c"):
        class_weights(np.array([0, 1]), 3, ["a", "b", "c"])


def test_class_balance_moves_the_prior_to_even():
    # all-N windows and a linear model: only the class prior can be learnt, 9:1 by the plain
    # loss (rare-class probability near 0.1), 1:1 by the balanced one (near 0.5)
    n = 2000
    x = np.zeros((n, 4, 20), dtype=np.uint8)
    y = (np.arange(n) % 10 == 0).astype(np.int64)
    splits = np.where(np.arange(n) < 1500, "train", "valid").astype(object)
    rare = {}
    for balance in (True, False):
        options = TrainOptions(epochs=1, batch_size=20, lr=0.02, class_balance=balance, device="cpu")
        model = train_model(
            x, y, splits, ["common", "rare"], arch="mlp", hparams={"hidden": [], "dropout": 0.0}, options=options, progress=False
        ).model
        rare[balance] = softmax(predict_logits(model, x))[:, 1].mean()
    assert rare[True] > 0.3 and rare[False] < 0.2, rare


def test_options_from_config():
    assert TrainOptions.from_config({"epochs": 3, "max_shift": 0}).epochs == 3
    with pytest.raises(SeqlrpError, match="unknown key.*epoch\\b"):
        TrainOptions.from_config({"epoch": 3})


def test_same_seed_same_weights_other_seed_other_weights():
    x, y, splits, classes = planted(n_per_class=60, length=60)
    options = TrainOptions(epochs=2, batch_size=16, device="cpu")
    runs = [train_model(x, y, splits, classes, hparams=SMALL_CNN, options=options, seed=s, progress=False) for s in (7, 7, 8)]
    first, again, other = (r.model.state_dict() for r in runs)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert runs[0].history == runs[1].history
    assert not all(torch.equal(first[k], other[k]) for k in first if first[k].is_floating_point())
    plain = dataclasses.replace(options, reverse_complement=False, max_shift=0)
    unaugmented = train_model(x, y, splits, classes, hparams=SMALL_CNN, options=plain, seed=7, progress=False).model.state_dict()
    assert not all(torch.equal(first[k], unaugmented[k]) for k in first if first[k].is_floating_point())


def test_learns_a_planted_motif_and_keeps_the_best_epoch():
    x, y, splits, classes = planted()
    options = TrainOptions(epochs=15, batch_size=32, lr=3e-3, patience=4, device="cpu")
    result = train_model(x, y, splits, classes, hparams=SMALL_CNN, options=options, seed=1, progress=False)
    model = result.model
    assert not model.training and model.seqlrp_info.classes == ["motif0", "background"]
    test = splits == "test"
    probs = softmax(predict_logits(model, x[test]))
    assert auroc(y[test] == 0, probs[:, 0]) > 0.9
    # the returned weights are the best epoch's: they reproduce its validation AUROC
    valid = splits == "valid"
    best = result.history[result.best_epoch - 1]
    assert best["valid_auroc"] == max(row["valid_auroc"] for row in result.history)
    logits = predict_logits(model, x[valid])
    assert auroc(y[valid] == 0, softmax(logits)[:, 0]) == pytest.approx(best["valid_auroc"], abs=1e-9)
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y[valid]))
    assert float(loss) == pytest.approx(best["valid_loss"], rel=1e-6)
    assert model.seqlrp_info.provenance["best_epoch"] == result.best_epoch


def test_multiclass_softmax_one_logit_per_class():
    x, y, splits, classes = planted(n_per_class=80, length=60, motifs=MOTIFS)
    options = TrainOptions(epochs=8, batch_size=32, lr=3e-3, device="cpu")
    model = train_model(x, y, splits, classes, hparams=SMALL_CNN, options=options, seed=3, progress=False).model
    probs = softmax(predict_logits(model, x))
    assert probs.shape == (x.shape[0], 3)
    test = splits == "test"
    for k in range(3):
        assert auroc(y[test] == k, probs[test, k]) > 0.8, classes[k]


def test_stage_writes_checkpoint_and_history(tmp_path):
    x, y, splits, classes = planted(n_per_class=40, length=50)
    np.save(tmp_path / "onehot.npy", x)
    table = RegionTable()
    for i, (label, split) in enumerate(zip(y, splits)):
        table.append("chr1", i * 100, i * 100 + 50, "+", f"r{i}", classes[label], split)
    write_regions_tsv(table, tmp_path / "regions.tsv")
    (tmp_path / "dataset.json").write_text(json.dumps({"classes": classes, "seq_len": 50, "alphabet": "ACGT"}))
    inputs = {k: str(tmp_path / f) for k, f in [("onehot", "onehot.npy"), ("regions", "regions.tsv"), ("info", "dataset.json")]}
    outputs = {"model": str(tmp_path / "model" / "model.pt"), "history": str(tmp_path / "model" / "train_log.tsv")}
    config = {"seed": 2, "model": {"arch": "cnn", "hparams": SMALL_CNN}, "train": {"epochs": 3, "patience": 5, "device": "cpu"}}
    result = train(config, inputs, outputs, threads=1, progress=False)
    lines = (tmp_path / "model" / "train_log.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["epoch", "train_loss", "valid_loss", "valid_auroc", "valid_auprc", "best"]
    assert len(lines) == 1 + len(result.history) == 4
    loaded = load_model(outputs["model"])
    assert loaded.seqlrp_info.provenance["seed"] == 2 and loaded.seqlrp_info.classes == classes
    assert np.array_equal(predict_logits(loaded, x), predict_logits(result.model, x))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_requested_without_gpu_is_an_error():
    with pytest.raises(SeqlrpError, match="no CUDA device"):
        choose_device("cuda")
    assert choose_device("auto").type == "cpu"
    with pytest.raises(SeqlrpError, match="device must be one of"):
        choose_device("tpu")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_with_bf16_and_inference_agree_with_cpu():
    x, y, splits, classes = planted()
    options = TrainOptions(epochs=10, batch_size=32, lr=3e-3, device="cuda", mixed_precision=True)
    model = train_model(x, y, splits, classes, hparams=SMALL_CNN, options=options, seed=1, progress=False).model
    assert next(model.parameters()).device.type == "cuda"
    test = splits == "test"
    on_gpu = predict_logits(model, x[test], device="cuda")
    on_cpu = predict_logits(model.cpu(), x[test], device="cpu")
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-3, atol=1e-3)
    assert auroc(y[test] == 0, softmax(on_cpu)[:, 0]) > 0.9


def test_convformer_learns_a_planted_motif_and_is_explained_on_it():
    """The conv + transformer classifier trains like the others, and LRP through its attention puts the
    test windows' relevance on the planted site more than gradient x input does."""
    from seqlrp.attribution.baselines import gradient_x_input
    from seqlrp.lrp import relevance

    x, y, splits, classes = planted(n_per_class=150, length=80)
    options = TrainOptions(epochs=12, batch_size=32, lr=3e-3, patience=4, device="cpu")
    hparams = {"filters": 16, "heads": 2, "pool": 4, "n_layers": 1, "feedforward": 32, "dense": [16]}
    result = train_model(x, y, splits, classes, arch="convformer", hparams=hparams, options=options, seed=1,
                         progress=False)
    model = result.model
    test = splits == "test"
    probs = softmax(predict_logits(model, x[test]))
    assert auroc(y[test] == 0, probs[:, 0]) > 0.9
    rows = np.flatnonzero(test & (y == 0))
    windows = torch.from_numpy(x[rows].astype(np.float32))
    site = np.zeros((len(rows), 80), dtype=bool)
    motif, reverse = codes_from_str(MOTIFS[0]), reverse_complement_codes(codes_from_str(MOTIFS[0]))
    codes = x[rows].argmax(1)
    for i, row in enumerate(codes):
        for s in range(80 - motif.size + 1):
            if (row[s:s + motif.size] == motif).all() or (row[s:s + motif.size] == reverse).all():
                site[i, s:s + motif.size] = True
    def on_site(attr):  # mean over windows of the AUROC of |relevance| per position for the site
        scores = attr.abs().sum(1).detach().numpy()
        return np.mean([auroc(site[i], scores[i]) for i in range(len(rows)) if 0 < site[i].sum() < 80])
    lrp = on_site(relevance(model, windows, 0))
    gxi = on_site(gradient_x_input(model, windows, 0))
    assert lrp > 0.8 and lrp >= gxi
