"""seqlrp.models.inference / metrics, seqlrp.stages.predict: batched inference, the predictions/metrics tables, and the model stages run by Snakemake."""

import csv
import json
import math

import numpy as np
import pytest
import torch

from seqlrp.formats.table import COLUMNS, RegionTable, write_regions_tsv
from seqlrp.models import CheckpointError, annotate, build, save_model
from seqlrp.models.inference import predict_logits, softmax
from seqlrp.models.metrics import METRIC_COLUMNS, metrics_rows
from seqlrp.stages.predict import predict


def random_onehot(n, length, seed=0):
    codes = np.random.default_rng(seed).integers(0, 5, size=(n, length))  # code 4 = N (zero column)
    return (codes[:, None, :] == np.arange(4)[None, :, None]).astype(np.uint8)


def small_model(seq_len=40, classes=("a", "b", "c")):
    torch.manual_seed(0)
    model = build("cnn", seq_len=seq_len, n_classes=len(classes), filters=[8], kernels=[5], pools=[2], dense=[8])
    annotate(model, classes=list(classes))
    return model.eval()


def read_tsv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_batched_inference_matches_one_pass_and_restores_mode(tmp_path):
    model = small_model()
    x = random_onehot(23, 40)
    expected = model(torch.from_numpy(x).float()).detach().numpy()
    np.save(tmp_path / "x.npy", x)
    memmap = np.load(tmp_path / "x.npy", mmap_mode="r")
    for batch_size in (1, 7, 23, 100):
        np.testing.assert_allclose(predict_logits(model, memmap, batch_size=batch_size), expected, rtol=1e-5, atol=1e-6)
    model.train()
    predict_logits(model, x, batch_size=8)
    assert model.training
    assert predict_logits(model, x[:0]).shape == (0, 3)


def test_softmax_is_stable_and_normalised():
    probs = softmax(np.array([[1000.0, 1000.0, -1000.0], [0.0, math.log(3.0), -np.inf]]))
    np.testing.assert_allclose(probs, [[0.5, 0.5, 0.0], [0.25, 0.75, 0.0]])


def test_metrics_rows_by_hand():
    # test split: 4 windows, classes a, b, c; train split: 2 windows, class c absent
    labels = np.array([0, 1, 2, 0, 0, 1])
    probs = np.array(
        [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.1, 0.4], [0.3, 0.6, 0.1], [0.6, 0.4, 0.0], [0.3, 0.7, 0.0]]
    )
    splits = np.array(["test"] * 4 + ["train"] * 2, dtype=object)
    rows = {(r["split"], r["class"]): r for r in metrics_rows(labels, probs, splits, ["a", "b", "c"])}
    assert [key[0] for key in rows] == ["train"] * 4 + ["test"] * 4  # split order train, valid, test
    a = rows["test", "a"]
    # scores of a: positives 0.7, 0.3; negatives 0.1, 0.5 -> pairs won 2 + 1 of 4
    assert a["auroc"] == pytest.approx(0.75)
    # ranking 0.7 (P), 0.5 (N), 0.3 (P), 0.1 (N): AP = 1/2 * 1 + 1/2 * 2/3
    assert a["auprc"] == pytest.approx(0.5 + 1 / 3)
    # argmax a, b, a, b; "is a" is right for rows 0 and 1 (row 2 is c, row 3 is a)
    assert a["accuracy"] == pytest.approx(0.5) and (a["n"], a["n_class"]) == (4, 2)
    assert rows["test", "b"]["auroc"] == pytest.approx(1.0)  # 0.8 above 0.2, 0.1, 0.6
    assert rows["test", "b"]["accuracy"] == pytest.approx(0.75)  # row 3 predicted b, is a
    assert rows["test", "all"]["accuracy"] == pytest.approx(0.5)
    assert rows["test", "all"]["auroc"] == pytest.approx(np.mean([rows["test", k]["auroc"] for k in "abc"]))
    assert math.isnan(rows["train", "c"]["auroc"])  # class absent from the split
    assert rows["train", "all"]["auroc"] == pytest.approx(1.0)  # mean over the classes present


def write_data(tmp_path, classes=("a", "b", "c"), n=30, length=40):
    x = random_onehot(n, length, seed=1)
    np.save(tmp_path / "onehot.npy", x)
    table = RegionTable()
    for i in range(n):
        table.append("chr2", 1000 + i, 1000 + i + length, "+-"[i % 2], f"w{i}", classes[i % len(classes)], ("train", "valid", "test")[i % 3])
    write_regions_tsv(table, tmp_path / "regions.tsv")
    (tmp_path / "dataset.json").write_text(json.dumps({"classes": list(classes), "seq_len": length, "alphabet": "ACGT"}))
    return x, table


def test_stage_writes_predictions_metrics_and_figure(tmp_path):
    x, table = write_data(tmp_path)
    model = small_model()
    save_model(model, tmp_path / "model.pt")
    inputs = {"model": tmp_path / "model.pt", "onehot": tmp_path / "onehot.npy", "regions": tmp_path / "regions.tsv", "info": tmp_path / "dataset.json"}
    outputs = {"predictions": tmp_path / "out" / "predictions.tsv", "metrics": tmp_path / "out" / "metrics.tsv", "figure": tmp_path / "out" / "roc_pr.png"}
    predict({"batch_size": 4, "device": "cpu"}, inputs, outputs, threads=1)

    rows = read_tsv(outputs["predictions"])
    assert list(rows[0]) == [*COLUMNS, "logit_a", "logit_b", "logit_c", "prob_a", "prob_b", "prob_c"]
    assert [r["name"] for r in rows] == table.name and [r["strand"] for r in rows] == table.strand
    logits = np.array([[float(r[f"logit_{c}"]) for c in "abc"] for r in rows])
    np.testing.assert_allclose(logits, model(torch.from_numpy(x).float()).detach().numpy(), rtol=1e-5, atol=1e-5)
    probs = np.array([[float(r[f"prob_{c}"]) for c in "abc"] for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)

    metrics = read_tsv(outputs["metrics"])
    assert tuple(metrics[0]) == METRIC_COLUMNS
    assert [(m["split"], m["class"]) for m in metrics] == [(s, c) for s in ("train", "valid", "test") for c in ("a", "b", "c", "all")]
    assert all(m["n"] == "10" for m in metrics)
    assert outputs["figure"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    other = small_model(classes=("a", "b", "d"))
    save_model(other, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"\[a, b, d\].*\[a, b, c\]"):
        predict({"device": "cpu"}, {**inputs, "model": tmp_path / "other.pt"}, outputs)


@pytest.mark.workflow
def test_pipeline_adopts_a_checkpoint_instead_of_training(tiny_demo_run, tmp_path):
    """The tiny demo's trained model, given back as model.checkpoint: no training, the same bytes and metrics.

    (A checkpoint that does not fit the data is refused at start-up: tests/test_plan.py.)
    """
    import shutil

    from conftest import TINY_DEMO, copy_run, run_snakemake

    model_dir = tiny_demo_run / "results" / "model"
    metrics = read_tsv(model_dir / "metrics.tsv")
    assert {(m["split"], m["class"]) for m in metrics} >= {("test", "positive"), ("test", "negative"), ("test", "all")}
    assert len(read_tsv(model_dir / "train_log.tsv")) >= 1 and (model_dir / "roc_pr.png").stat().st_size > 0
    checkpoint = shutil.copy(model_dir / "model.pt", tmp_path / "model.pt")
    adopted = copy_run(tiny_demo_run, tmp_path / "adopted")
    shutil.rmtree(adopted / "results" / "model")
    targets = [f"results/model/{name}" for name in ("model.pt", "predictions.tsv", "metrics.tsv")]
    run = run_snakemake(adopted, {**TINY_DEMO, "model": {"checkpoint": str(checkpoint)}}, *targets)
    assert run.returncode == 0, run.stderr[-3000:]
    log = run.stdout + run.stderr
    assert "rule train" not in log and "rule import_model" in log and "rule extract" not in log
    assert not (adopted / "results" / "model" / "train_log.tsv").exists()
    assert (adopted / "results" / "model" / "model.pt").read_bytes() == (model_dir / "model.pt").read_bytes()
    assert (adopted / "results" / "model" / "metrics.tsv").read_text() == (model_dir / "metrics.tsv").read_text()
