"""seqlrp.models and seqlrp.models.checkpoint: architectures, save/load, refusal of unsafe or unfit files."""

import io
import json

import pytest
import torch
from torch import nn

from seqlrp.errors import SeqlrpError
from seqlrp.models import ARCHS, CheckpointError, annotate, build, check_compatible, describe, load_model, save_model
from seqlrp.models.layers import Add, Channels, Exp, PositionEmbedding, Residual, Tokens
from seqlrp.stages.train import import_checkpoint

# every module type the LRP engine will support; containers are checked through their children
SUPPORTED = (
    nn.Conv1d, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.ELU, nn.GELU, nn.Softplus, Exp, nn.MaxPool1d,
    nn.AvgPool1d, nn.AdaptiveAvgPool1d, nn.Dropout, nn.Flatten, Residual, Add, nn.Sequential,
    # convformer: the transformer layers and what hands positions to them as tokens
    nn.TransformerEncoderLayer, nn.MultiheadAttention, nn.modules.linear.NonDynamicallyQuantizableLinear,
    nn.LayerNorm, Tokens, Channels, PositionEmbedding,
)

VARIANTS = [
    ("mlp", {}),
    ("mlp", {"hidden": [32, 16], "batchnorm": True, "activation": "gelu"}),
    ("cnn", {}),
    ("cnn", {"head": "flatten", "first_activation": "relu", "filters": [8, 8, 8], "kernels": [9, 4, 3], "pools": [2, 1, 3]}),
    ("cnn", {"head": "gap", "dense": [], "activation": "elu", "batchnorm": False}),
    ("rescnn", {}),
    ("rescnn", {"filters": 8, "n_dilated": 2, "activation": "softplus", "batchnorm": False, "dropout": 0.1}),
    ("convformer", {}),
    ("convformer", {"filters": 12, "heads": 3, "pool": 4, "n_layers": 1, "feedforward": 16, "dense": [],
                    "first_activation": "relu"}),
]


def trained_like(model: nn.Module) -> nn.Module:
    """Give BatchNorm layers non-trivial running statistics, as after training."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval()


@pytest.mark.parametrize("arch,hparams", VARIANTS)
@pytest.mark.parametrize("seq_len", [200, 203])
def test_output_shape_and_supported_layers(arch, hparams, seq_len):
    torch.manual_seed(0)
    model = build(arch, seq_len=seq_len, n_classes=3, **hparams)
    assert isinstance(model, nn.Sequential)
    assert all(isinstance(m, SUPPORTED) for m in model.modules()), [type(m) for m in model.modules() if not isinstance(m, SUPPORTED)]
    out = model.eval()(torch.rand(5, 4, seq_len))
    assert out.shape == (5, 3)
    assert torch.isfinite(out).all()
    info = describe(model)
    assert (info.arch, info.seq_len, info.n_classes) == (arch, seq_len, 3)


def test_every_arch_is_covered():
    assert {arch for arch, _ in VARIANTS} == set(ARCHS) == {"mlp", "cnn", "rescnn", "convformer"}


def test_default_cnn_and_rescnn_structure():
    cnn = build("cnn", seq_len=200, n_classes=2)
    assert isinstance(cnn[2], Exp)  # first activation after conv + BatchNorm
    assert sum(isinstance(m, nn.MaxPool1d) for m in cnn) == 2
    res = build("rescnn", seq_len=200, n_classes=2, n_dilated=3)
    blocks = [m for m in res if isinstance(m, Residual)]
    assert [b.body[0].dilation[0] for b in blocks] == [1, 2, 4]
    assert isinstance(res[-1], nn.Linear) and isinstance(res[-3], nn.AdaptiveAvgPool1d)


def test_bad_hyperparameters_are_one_line_errors():
    with pytest.raises(SeqlrpError, match="unknown key.*filtres"):
        build("cnn", seq_len=200, n_classes=2, filtres=[8])
    with pytest.raises(SeqlrpError, match="one entry per conv block"):
        build("cnn", seq_len=200, n_classes=2, filters=[8, 8], kernels=[5], pools=[2])
    with pytest.raises(SeqlrpError, match="too short"):
        build("cnn", seq_len=10, n_classes=2, filters=[4, 4], kernels=[3, 3], pools=[4, 4])
    with pytest.raises(SeqlrpError, match="must be one of"):
        build("cnn", seq_len=200, n_classes=2, first_activation="tanh")
    with pytest.raises(SeqlrpError, match="odd"):
        build("rescnn", seq_len=200, n_classes=2, kernel=4)
    with pytest.raises(SeqlrpError, match="arch"):
        build("transformer", seq_len=200, n_classes=2)
    with pytest.raises(SeqlrpError, match=r"filters \(10\) must be a multiple of heads \(4\)"):
        build("convformer", seq_len=200, n_classes=2, filters=10)
    with pytest.raises(SeqlrpError, match="shorter than the pool"):
        build("convformer", seq_len=6, n_classes=2)


@pytest.mark.parametrize("arch,hparams", [VARIANTS[1], VARIANTS[3], VARIANTS[6], VARIANTS[8]])
def test_save_load_round_trip(tmp_path, arch, hparams):
    torch.manual_seed(1)
    model = trained_like(build(arch, seq_len=64, n_classes=2, **hparams))
    annotate(model, classes=["bound", "unbound"], provenance={"seed": 1, "torch": torch.__version__})
    save_model(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert not loaded.training
    x = torch.rand(6, 4, 64)
    assert torch.equal(model(x), loaded(x))
    info = describe(loaded)
    assert info.classes == ["bound", "unbound"] and info.seq_len == 64 and info.alphabet == "ACGT"
    assert info.provenance == {"seed": 1, "torch": str(torch.__version__)}
    assert info.hparams == describe(model).hparams


def test_checkpoint_holds_only_plain_data_and_its_bytes_depend_on_content_only(tmp_path):
    model = build("cnn", seq_len=64, n_classes=2, filters=[4], kernels=[5], pools=[2])
    save_model(model, tmp_path / "a.pt")
    save_model(model, tmp_path / "b_other_name.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b_other_name.pt").read_bytes()
    payload = torch.load(tmp_path / "a.pt", weights_only=True)

    def walk(value):
        if isinstance(value, dict):
            assert all(type(k) is str for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert type(value) in (str, int, float, bool, torch.Tensor), type(value)

    walk(payload)
    assert set(payload) >= {"arch", "hparams", "state_dict", "seq_len", "classes", "alphabet", "provenance"}


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: proof that code in a pickle would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    model = build("mlp", seq_len=16, n_classes=2)
    buffer = io.BytesIO()
    save_model(model, tmp_path / "good.pt")
    payload = torch.load(tmp_path / "good.pt", weights_only=True)
    payload["provenance"]["note"] = _Payload(marker)  # an otherwise valid checkpoint with a payload
    torch.save(payload, tmp_path / "evil.pt")

    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "evil.pt")
    message = str(caught.value)
    assert "\n" not in message and "evil.pt" in message and "refused" in message and "open" in message
    assert isinstance(caught.value, SeqlrpError)
    assert not marker.exists()
    # the same file is live when loaded unsafely: the test above really guards something
    torch.save(payload, buffer)
    buffer.seek(0)
    torch.load(buffer, weights_only=False)
    assert marker.exists()


def test_unreadable_and_foreign_files_are_refused(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_model(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a seqlrp model checkpoint"):
        load_model(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_model(tmp_path / "missing.pt")
    # weights that do not fit the recorded architecture
    save_model(build("cnn", seq_len=64, n_classes=2, filters=[4], kernels=[5], pools=[2]), tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["hparams"]["filters"] = [6]
    torch.save(payload, tmp_path / "tampered.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(tmp_path / "tampered.pt")


def test_save_refuses_models_not_built_by_seqlrp(tmp_path):
    with pytest.raises(SeqlrpError, match="not made by"):
        save_model(nn.Sequential(nn.Flatten(), nn.Linear(8, 2)), tmp_path / "x.pt")


def test_mismatch_messages_show_both_values(tmp_path):
    model = build("mlp", seq_len=200, n_classes=2)
    annotate(model, classes=["bound", "unbound"])
    with pytest.raises(CheckpointError, match="model seq_len 200 does not match the data's seq_len 500"):
        check_compatible(describe(model), seq_len=500, classes=["bound", "unbound"])
    with pytest.raises(CheckpointError, match=r"\[bound, unbound\].*\[ctcf, rest, other\]"):
        check_compatible(describe(model), seq_len=200, classes=["ctcf", "rest", "other"])
    with pytest.raises(CheckpointError, match="different order"):
        check_compatible(describe(model), seq_len=200, classes=["unbound", "bound"])

    # the bring-your-own-model path of the pipeline checks the same and writes nothing
    save_model(model, tmp_path / "mine.pt")
    info = tmp_path / "dataset.json"
    info.write_text(json.dumps({"seq_len": 200, "classes": ["a", "b"], "alphabet": "ACGT"}))
    with pytest.raises(CheckpointError, match=r"mine.pt: model classes \[bound, unbound\].*\[a, b\]"):
        import_checkpoint(tmp_path / "mine.pt", info, tmp_path / "out" / "model.pt")
    assert not (tmp_path / "out" / "model.pt").exists()
    info.write_text(json.dumps({"seq_len": 200, "classes": ["bound", "unbound"], "alphabet": "ACGT"}))
    import_checkpoint(tmp_path / "mine.pt", info, tmp_path / "out" / "model.pt")
    assert (tmp_path / "out" / "model.pt").read_bytes() == (tmp_path / "mine.pt").read_bytes()
