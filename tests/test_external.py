"""Models from outside seqlrp in the pipeline: rule import_model's checks and checkpoint, load_model of
an "external" checkpoint, the data as such a model sees it, metrics and the randomisation diagnostic."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from optional import need, requires
from torch import nn

from seqlrp.formats.table import RegionTable
from seqlrp.lrp import relevance
from seqlrp.models import CheckpointError, ModelInfo, load_model, read_info
from seqlrp.models.external import ExternalModel, ForeignModelError, ForeignSpec, data_for, import_foreign, open_foreign
from seqlrp.models.randomise import randomised_copy
from seqlrp.sequences.dataset import ExtractedData
from seqlrp.stages.predict import finish_predictions

L = 40
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*(jit|TorchScript-based).*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning"),  # torch's, when an exported program is copied
]
needs_onnx = requires("onnx", "onnx2torch")

# a multi-task model with a residual written in its forward, as the module route imports it
MODEL_PY = '''
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self, filters=6, tasks=3):
        super().__init__()
        self.first = nn.Conv1d(4, filters, 7, padding=3)
        self.body = nn.Conv1d(filters, filters, 3, padding=1)
        self.scale = nn.Parameter(torch_ones(filters))  # a parameter no reset_parameters covers
        self.head = nn.Linear(filters, tasks)

    def forward(self, x):
        h = F.relu(self.first(x))
        h = h + F.relu(self.body(h)) * self.scale[:, None]
        return self.head(h.mean(-1))


def torch_ones(n):
    import torch

    return torch.ones(n)
'''


class Residual(nn.Module):
    """Two tasks; ``x = x + f(x)`` in the forward (no Residual layer)."""

    def __init__(self):
        super().__init__()
        self.first = nn.Conv1d(4, 8, 7, padding=3)
        self.body = nn.Conv1d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        h = F.relu(self.first(x))
        h = h + F.relu(self.body(h))
        return self.head(h.mean(-1))


def onehot(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(0, 4, (n, L), generator=g), 4).float().transpose(1, 2)


@pytest.fixture(scope="module")
def pt2(tmp_path_factory):
    torch.manual_seed(3)
    model = Residual().eval()
    path = tmp_path_factory.mktemp("pt2") / "model.pt2"
    program = torch.export.export(model, (torch.zeros(2, 4, L),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, path)
    return path, model


def dataset_json(path, classes, seq_len=L):
    path.write_text(json.dumps({"classes": classes, "seq_len": seq_len}))
    return path


def test_pt2_is_imported_and_loads_back_as_an_external_model(tmp_path, pt2):
    path, reference = pt2
    info = dataset_json(tmp_path / "dataset.json", ["bound", "unbound"])
    out = tmp_path / "results"
    import_foreign(ForeignSpec(classes=["bound", "unbound"], checkpoint=str(path)), info,
                   {"model": out / "model.pt", "source": out / "external.pt2"})
    assert (out / "external.pt2").read_bytes() == path.read_bytes()
    model = load_model(out / "model.pt")
    assert isinstance(model, ExternalModel) and not model.training
    meta = read_info(out / "model.pt")  # tiled runs read the classes this way
    assert model.seqlrp_info == meta and meta.arch == "external" and meta.classes == ["bound", "unbound"]
    assert meta.seq_len == L and meta.hparams["indices"] == [0, 1] and meta.hparams["source"]["format"] == "pt2"
    assert meta.provenance["source_sha256"] == meta.hparams["source"]["sha256"]
    x = onehot(5)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-6)
    # LRP explains the foreign graph: the same relevance as on the reference module
    assert torch.allclose(relevance(model, x, 1), relevance(reference, x, 1), atol=1e-6)
    # the checkpoint names its copy; a changed or missing copy is refused in one line
    (out / "external.pt2").write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(CheckpointError, match=r"external\.pt2: differs from the model file imported .*rerun rule import_model"):
        load_model(out / "model.pt")
    (out / "external.pt2").unlink()
    with pytest.raises(CheckpointError, match=r"model\.pt: the model file external\.pt2 it names is not beside it"):
        load_model(out / "model.pt")


def test_module_route_checkpoint_holds_the_weights_and_loads_from_anywhere(tmp_path, monkeypatch):
    safetensors = need("safetensors.torch")
    (tmp_path / "net.py").write_text(MODEL_PY)
    monkeypatch.chdir(tmp_path)
    from seqlrp.models.files import load_module

    torch.manual_seed(1)
    reference = load_module("net.py:Net", {"filters": 5})
    with torch.no_grad():
        reference.scale.uniform_(0.5, 1.5)
    safetensors.save_file(reference.state_dict(), tmp_path / "w.safetensors")
    spec = ForeignSpec(classes={"bound": 2}, module="net.py:Net", kwargs={"filters": 5}, weights="w.safetensors")
    before = torch.random.get_rng_state()
    import_foreign(spec, dataset_json(tmp_path / "dataset.json", ["bound", "unbound"]), {"model": tmp_path / "m" / "model.pt"})
    assert torch.equal(torch.random.get_rng_state(), before)  # building the class drew nothing from torch's generator
    (tmp_path / "w.safetensors").unlink()  # the weights live in the checkpoint
    monkeypatch.chdir(tmp_path / "m")  # the class file is recorded with its absolute path
    model = load_model("model.pt")
    assert model.seqlrp_info.classes == ["bound"] and model.seqlrp_info.hparams["indices"] == [2]
    assert model.seqlrp_info.provenance["weights_path"] == "w.safetensors"
    x = onehot(4)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x)[:, [2]], atol=1e-6)
    r = relevance(model, x, 0)
    assert torch.allclose(r, relevance(reference, x, 2), atol=1e-6)
    # the randomisation diagnostic redraws every parameter, reset_parameters or not; the model stays
    state = {k: v.clone() for k, v in model.state_dict().items()}
    a, b = randomised_copy(model, 7), randomised_copy(model, 7)
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name])
        assert torch.equal(a.state_dict()[name], b.state_dict()[name])
        assert not torch.equal(a.state_dict()[name], value), name


def test_randomised_copy_redraws_a_pt2_graphs_parameters(tmp_path, pt2):
    path, _ = pt2
    model = open_foreign(ForeignSpec(classes=["a", "b"], checkpoint=str(path)), L)
    random = randomised_copy(model, 3)
    params = dict(model.named_parameters())
    assert params  # the program's graph module holds them, with no layer classes to reset them
    for name, value in random.named_parameters():
        assert not torch.equal(value, params[name]) and value.std() > 0
    x = onehot(3)
    with torch.no_grad():
        assert not torch.allclose(random(x), model(x))


@needs_onnx
def test_onnx_is_imported_with_a_picked_task(tmp_path):
    torch.manual_seed(2)
    reference = nn.Sequential(nn.Conv1d(4, 6, 5), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(6, 2)).eval()
    torch.onnx.export(reference, (torch.zeros(2, 4, L),), tmp_path / "m.onnx", dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "batch"}})
    out = tmp_path / "results"
    import_foreign(ForeignSpec(classes={"unbound": 1}, checkpoint=str(tmp_path / "m.onnx")),
                   dataset_json(tmp_path / "dataset.json", ["bound", "unbound"]),
                   {"model": out / "model.pt", "source": out / "external.onnx"})
    model = load_model(out / "model.pt")
    x = onehot(3)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x)[:, [1]], atol=1e-5)


TWO_PY = '''
from torch import nn


class TwoOutputs(nn.Module):
    """A profile head (N, 3, L) and a counts head (N, 3), returned in a dict."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 3, 5, padding=2)

    def forward(self, x):
        profile = self.conv(x)
        return {"profile": profile, "counts": profile.sum(-1)}
'''


@pytest.mark.parametrize("spec,data_seq_len,key,pattern", [
    (dict(classes=["a", "b"]), 50, ("seq_len",), r"takes 40-bp windows \(.*model\.pt2 declares\) but the data's windows are 50 bp: set seq_len: 40"),
    (dict(classes=["a", "b"], seq_len=30), 40, ("model", "seq_len"), r"model\.seq_len 30 differs from the input length 40"),
    (dict(classes=["a", "b", "c"]), L, ("model", "classes"), r"model\.classes lists 3 names but the explained output has 2 tasks"),
    (dict(classes={"a": 2}), L, ("model", "classes"), r"'a' -> 2 is not an output index in 0\.\.1"),
    (dict(classes=[]), L, ("model", "classes"), r"needs model\.classes"),
])
def test_foreign_model_checks_name_the_config_key(pt2, spec, data_seq_len, key, pattern):
    path, _ = pt2
    with pytest.raises(ForeignModelError, match=pattern) as caught:
        open_foreign(ForeignSpec(checkpoint=str(path), **spec), data_seq_len)
    assert caught.value.key == key and "\n" not in str(caught.value)


def test_outputs_of_a_dict_model_are_picked_by_model_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "two.py").write_text(TWO_PY)
    with pytest.raises(ForeignModelError, match=r"set model\.output") as caught:
        open_foreign(ForeignSpec(classes=["a", "b", "c"], module="two.py:TwoOutputs"), L)
    assert caught.value.key == ("model", "output")
    with pytest.raises(ForeignModelError, match=r"does not run on one-hot input of shape \(2, 4, 40\)") as caught:
        open_foreign(ForeignSpec(classes=["a"], module="torch.nn:Linear", kwargs={"in_features": 3, "out_features": 1}), L)
    assert caught.value.key == ("model", "module")
    # the profile head (N, 3, L) is explained through its softmax-weighted scalars, one task per track
    for output in ("profile", "counts"):
        model = open_foreign(ForeignSpec(classes={"t1": 1}, module="two.py:TwoOutputs", output=output), L)
        assert model(onehot(2)).shape == (2, 1) and model.seqlrp_info.hparams["output"] == output


def test_the_data_as_a_foreign_model_sees_it():
    table = RegionTable()
    for cls in ["pos", "pos", "neg", "other"]:
        table.append("chr1", 0, L, "+", "r", cls, "test")
    data = ExtractedData(np.zeros((4, 4, L), np.uint8), table, ["pos", "neg", "other"], L)
    ours = ModelInfo("cnn", {}, L, ["pos", "neg", "other"])
    assert data_for(data, ours) is data
    # region sets named like a model class are its windows; the others are labelled, with no model class
    mixed = data_for(data, ModelInfo("external", {}, L, ["neg", "pos", "REST"]))
    assert mixed.classes == ["neg", "pos", "REST"] and mixed.others == ["other"] and mixed.everywhere == ["REST"]
    assert mixed.labels.tolist() == [1, 1, 0, 3] and mixed.labeled.all()
    assert mixed.of_class("pos").tolist() == [True, True, False, False]
    assert mixed.of_class("REST").all()  # a model class no region set is named like explains every window
    # none named like one: every window is explained by every class, as tiles are
    blind = data_for(data, ModelInfo("external", {}, L, ["CTCF"]))
    assert blind.classes == ["CTCF"] and not blind.labeled.any() and blind.of_class("CTCF").all()
    assert data.table.cls == ["pos", "pos", "neg", "other"]  # the data set itself is left as it was


def test_metrics_of_a_one_class_foreign_model_rank_by_its_score(tmp_path):
    table = RegionTable()
    for i, cls in enumerate(["pos"] * 4 + ["neg"] * 4):
        table.append("chr1", i, i + L, "+", f"r{i}", cls, "test")
    data = data_for(ExtractedData(np.zeros((8, 4, L), np.uint8), table, ["pos", "neg"], L),
                    ModelInfo("external", {}, L, ["pos"]))
    logits = np.array([[5.0], [4.0], [3.0], [-1.0], [2.0], [0.0], [-2.0], [-3.0]], dtype=np.float32)
    outputs = {name: tmp_path / name for name in ("predictions", "metrics", "figure")}
    rows = finish_predictions(data, logits, outputs, foreign=True)
    pos = next(r for r in rows if r["class"] == "pos")
    assert pos["auroc"] == pytest.approx(14 / 16) and pos["n_class"] == 4 and np.isnan(pos["accuracy"])
    header, first = (tmp_path / "predictions").read_text().splitlines()[:2]
    assert header.endswith("logit_pos\tprob_pos") and float(first.split("\t")[-1]) == pytest.approx(1 / (1 + np.exp(-5)), rel=1e-5)
