"""Stage attribute: the right windows, explained by their own class logit, streamed into the store."""

import csv
import json

import numpy as np
import pytest
import torch
from conftest import write_lines

from seqlrp.attribution.methods import MethodSpec
from seqlrp.attribution.store import SHARD_ARRAYS, read_attribution
from seqlrp.errors import InputError, SeqlrpError
from seqlrp.formats.table import RegionTable
from seqlrp.lrp import Prune, relevance
from seqlrp.models import annotate, build, save_model
from seqlrp.sequences.dataset import ExtractedData
from seqlrp.sequences.selection import select_rows
from seqlrp.stages.attribute import AttributeOptions, attribute, join_attributions, run

SEQ_LEN = 40




@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, size=(30, SEQ_LEN))
    onehot = (codes[:, None, :] == np.arange(4)[None, :, None]).astype(np.uint8)
    table = RegionTable()
    for i in range(30):
        table.append(f"chr{1 + i % 3}", 100 * i, 100 * i + SEQ_LEN, "+-"[i % 2], f"w{i}", "ab"[i % 2], ("train", "test", "test", "valid", "test")[i % 5])
    return ExtractedData(onehot, table, ["a", "b"], SEQ_LEN)


@pytest.fixture
def model_path(tmp_path):
    torch.manual_seed(0)
    model = build("cnn", seq_len=SEQ_LEN, n_classes=2, filters=[8], kernels=[5], pools=[2], dense=[8])
    annotate(model, classes=["a", "b"])
    save_model(model.eval(), tmp_path / "model.pt")
    return tmp_path / "model.pt"


def outputs(directory):
    """The files of one shard, as rule attribute_shard names them."""
    return {**{key: directory / "shards" / "0" / name for key, name in SHARD_ARRAYS.items()},
            "regions": directory / "shards" / "0" / "regions.tsv", "settings": directory / "shards" / "0" / "settings.json"}


def open_store(directory, data, tmp_path):
    """Join the one shard and open the store over the data set's one-hot array."""
    join_attributions([directory / "shards" / "0"], {"regions": directory / "regions.tsv",
                                                     "settings": directory / "settings.json"})
    np.save(tmp_path / "onehot.npy", data.onehot)
    return read_attribution(directory, tmp_path / "onehot.npy")


def test_selects_test_split_of_the_class_and_explains_its_own_logit(tmp_path, data, model_path):
    out = outputs(tmp_path / "b.plrp")
    spec = MethodSpec(composite="epsilon-plus", prune={"p_pos": 0.25, "mode": "lambda"})
    n = attribute(model_path, data, "b", "plrp", spec, out, AttributeOptions(selection="test", batch_size=4, progress=False))
    expected_rows = [i for i in range(30) if i % 2 == 1 and i % 5 in (1, 2, 4)]
    assert n == len(expected_rows)
    with open(out["regions"], newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [int(r["row"]) for r in rows] == expected_rows
    assert {r["class"] for r in rows} == {"b"} and {r["split"] for r in rows} == {"test"}
    # what was written equals a direct call on the same windows (class "b" = logit 1)
    from seqlrp.models import load_model

    model = load_model(model_path)
    x = torch.from_numpy(data.onehot[expected_rows].astype(np.float32))
    direct = relevance(model, x, 1, composite="epsilon-plus", prune=Prune(0.25), return_hypothetical=True)
    store = open_store(tmp_path / "b.plrp", data, tmp_path)
    np.testing.assert_allclose(store.relevance[:], direct.relevance.sum(1).numpy(), rtol=1e-5, atol=1e-7)
    hypothetical = direct.hypothetical.numpy()
    largest = np.abs(hypothetical).max(axis=(1, 2), keepdims=True)
    assert np.abs(store.hypothetical[:] - hypothetical).max() > 0  # float16 off the observed base...
    assert (np.abs(store.hypothetical[:] - hypothetical) <= 2.0 ** -11 * largest * 1.01).all()  # ...to its precision
    np.testing.assert_array_equal(store.onehot[:], x.numpy())
    np.testing.assert_array_equal(store.rows, expected_rows)
    np.testing.assert_allclose([float(r["logit"]) for r in rows], direct.logits[:, 1].numpy(), rtol=1e-5)
    np.testing.assert_allclose([float(r["relevance_sum"]) for r in rows], direct.relevance.sum((1, 2)).numpy(), rtol=1e-4, atol=1e-6)
    settings = json.loads(out["settings"].read_text())
    assert settings["prune"] == {"p_pos": 0.25, "mode": "lambda"} and settings["target_index"] == 1


def test_relevance_is_input_times_hypothetical(tmp_path, data, model_path):
    out = outputs(tmp_path / "a.lrp")
    attribute(model_path, data, "a", "lrp", MethodSpec(), out, AttributeOptions(selection="all", progress=False))
    store = open_store(tmp_path / "a.lrp", data, tmp_path)
    assert store.relevance.shape == (15, SEQ_LEN) and store.hypothetical.shape == (15, 4, SEQ_LEN)
    assert (data.onehot[store.rows].sum(axis=1) == 0).any()  # N positions: H of all four bases is stored
    # exactly: the observed base's hypothetical contribution is the stored relevance of the position
    np.testing.assert_array_equal((store.onehot[:] * store.hypothetical[:]).sum(axis=1),
                                  np.where(store.onehot[:].sum(axis=1) > 0, store.relevance[:], 0))


def test_bed_subset_selects_overlapping_windows(tmp_path, data):
    # row i is chr{1 + i % 3}:[100 i, 100 i + 40), class "a" for even i, "b" for odd i
    bed = write_lines(tmp_path / "subset.bed", [
        "chr1\t0\t1",        # row 0 (a)
        "chr1\t339\t341",    # row 3 (b): [300, 340) holds 339
        "chr2\t440\t500",    # row 4 (a) is [400, 440): touching a half-open end is no overlap
        "chr3\t500\t541",    # row 5 (b)
        "chr3\t5000\t6000",  # nothing
    ])
    assert select_rows(data, "b", bed).tolist() == [3, 5]
    assert select_rows(data, "a", bed).tolist() == [0]


def test_errors_are_one_line(tmp_path, data, model_path):
    with pytest.raises(SeqlrpError, match="method 'gradcam' is not configured"):
        run({"methods": {"lrp": {}}}, {}, {}, cls="a", method="gradcam")
    with pytest.raises(SeqlrpError, match=r"attribute.methods.lrp: unknown key\(s\) rule"):
        MethodSpec.from_config("lrp", {"rule": "z"})
    with pytest.raises(InputError, match="no extracted window overlaps"):
        select_rows(data, "a", write_lines(tmp_path / "far.bed", ["chrX\t0\t10"]))


def test_method_spec_reads_prune_defaults_equal_to_prunes_own():
    """MethodSpec describes a pruned method without building a Prune (no torch import for the store
    readers): its copy of Prune's defaults must stay Prune's."""
    import dataclasses

    from seqlrp.attribution.spec import PRUNE_DEFAULTS, MethodSpec
    from seqlrp.lrp import Prune

    assert PRUNE_DEFAULTS == {f.name: f.default for f in dataclasses.fields(Prune)}
    spec = MethodSpec(prune={"mode": "mask"})
    assert spec.describe() == "epsilon-plus, input rule default, PLRP-M p+=0.25 p-=0.125"
    assert spec.pruner() == Prune(mode="mask")
