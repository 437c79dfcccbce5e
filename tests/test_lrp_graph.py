"""The graph engine on models as people write them: functional forwards, residual adds, slicing,
padding, concatenation, several outputs, channels-last input, fx and exported programs.

The oracle needs no peer: on ReLU networks in float64, LRP-epsilon with epsilon and the
stabiliser at 0 and BatchNorm folded exactly is gradient x input, through every op family that
passes, routes or splits relevance in proportion to contributions.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import random_batchnorm
from optional import need_spec
from torch import nn

from seqlrp.lrp import COMPOSITES, Prune, UnsupportedLayerError, relevance
from seqlrp.lrp.capture import _captures
from seqlrp.models.layers import Residual


def one_hot(n: int, length: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(0, 4, (n, length), generator=gen), 4).to(dtype).transpose(1, 2)


def gradient_x_input(model: nn.Module, x: torch.Tensor, target: int, pick=lambda out: out) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(pick(model(x))[:, target].sum(), x)
    return grad * x


LRP0 = dict(composite="epsilon", epsilon=0.0, stabilizer=0.0, exact_batchnorm=True)


class FunctionalResNet(nn.Module):
    """A residual CNN written the way people write them: F.pad, ``x = x + f(x)``, a grouped
    dilated conv, slices, a channel concatenation and a mean over positions."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv1d(4, 8, 5)
        self.bn = random_batchnorm(8)
        self.dilated = nn.Conv1d(8, 8, 3, padding=2, dilation=2, groups=2)
        self.side = nn.Conv1d(8, 4, 3, padding=1, stride=1)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        h = F.relu(self.bn(self.stem(F.pad(x, (2, 2)))))
        h = h + F.relu(self.dilated(h))
        g = F.relu(self.side(h))
        h = torch.cat([h[:, :, 4:-4], g[:, :, 4:-4]], dim=1)
        return self.head(h.mean(-1))


class FunctionalBasset(nn.Module):
    """Basset with F.relu, F.max_pool1d and ``view`` in forward."""

    def __init__(self, length: int = 64):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv1d(4, 12, 7, padding=3), random_batchnorm(12)
        self.conv2, self.bn2 = nn.Conv1d(12, 10, 5, padding=2), random_batchnorm(10)
        self.fc1, self.fc2 = nn.Linear(10 * (length // 8), 16), nn.Linear(16, 3)

    def forward(self, x):
        x = F.max_pool1d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool1d(F.relu(self.bn2(self.conv2(x))), 4)
        x = x.view(x.size(0), -1)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.3, self.training))


class ChannelsLastCNN(nn.Module):
    """Takes (N, L, 4), as Keras models do; ``permute`` to channels-first inside."""

    def __init__(self):
        super().__init__()
        self.conv, self.lin = nn.Conv1d(4, 6, 5, padding=2), nn.Linear(6, 2)

    def forward(self, x):
        return self.lin(F.relu(self.conv(x.permute(0, 2, 1))).amax(-1))


class TwoHeads(nn.Module):
    """BPNet's shape of output: a profile (N, 2, L') and counts (N, 1)."""

    def __init__(self, as_dict: bool = False):
        super().__init__()
        self.as_dict = as_dict
        self.body = nn.Conv1d(4, 8, 9, padding=4, bias=False)
        self.profile = nn.Conv1d(8, 2, 5, bias=False)
        self.counts = nn.Linear(8, 1, bias=False)

    def forward(self, x):
        h = F.relu(self.body(x))
        profile, counts = self.profile(h)[:, :, 10:-10], self.counts(h.mean(-1))
        return {"profile": profile, "counts": counts} if self.as_dict else (profile, counts)


class Transposed(nn.Module):
    """(N, 4, L) in, (N, L, 4) to the wrapped channels-last model."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.transpose(1, 2))


def double(model: nn.Module) -> nn.Module:
    return model.double().eval()


@pytest.mark.parametrize("make", [FunctionalResNet, FunctionalBasset, lambda: Transposed(ChannelsLastCNN())],
                         ids=["resnet", "basset", "channels-last"])
def test_lrp0_is_gradient_times_input_through_functional_ops(make):
    torch.manual_seed(0)
    model = double(make())
    x = one_hot(4, 64, dtype=torch.float64)
    for target in range(2):
        expected = gradient_x_input(model, x, target)
        got = relevance(model, x, target, **LRP0)
        assert got.dtype == torch.float64 and got.shape == x.shape
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())


def _functional_twin(seq: nn.Sequential) -> nn.Module:
    """The same layers (shared weights) called from a forward with functional ops between them."""

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = seq

        def forward(self, x):
            c1, bn1, _, _, c2, bn2, _, _, _, _, fc1, _, fc2 = self.layers
            x = F.max_pool1d(torch.relu(bn1(c1(x))), 3, stride=2, padding=1)
            x = F.max_pool1d(F.relu(bn2(c2(x))), 4)
            return fc2(F.relu(fc1(torch.flatten(x, 1))))

    return Twin().eval()


@pytest.mark.parametrize("composite", list(COMPOSITES))
def test_captured_functional_forward_equals_the_sequential_path(composite):
    from test_lrp_engine import basset_like

    torch.manual_seed(1)
    seq = basset_like()
    twin = _functional_twin(seq)
    x = one_hot(3, 64, seed=1)
    torch.testing.assert_close(twin(x), seq(x))
    for input_rule in (None, "zbox"):
        for prune in (None, Prune(0.3), Prune(0.3, mode="mask")):
            kw = dict(composite=composite, input_rule=input_rule, prune=prune)
            a, b = relevance(seq, x, 1, **kw), relevance(twin, x, 1, **kw)
            torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-6 * a.abs().max().item())
    hyp_a = relevance(seq, x, 2, composite=composite, return_hypothetical=True).hypothetical
    hyp_b = relevance(twin, x, 2, composite=composite, return_hypothetical=True).hypothetical
    torch.testing.assert_close(hyp_b, hyp_a, rtol=1e-6, atol=1e-6 * hyp_a.abs().max().item())


def test_fx_graph_module_and_exported_program_give_the_same_relevance():
    torch.manual_seed(2)
    model = FunctionalResNet().eval()
    x = one_hot(3, 64, seed=2)
    expected = relevance(model, x, 0)
    traced = torch.fx.symbolic_trace(model)
    program = torch.export.export(model, (x,))
    for other in (traced, program, program.module()):
        torch.testing.assert_close(relevance(other, x, 0), expected)


class Renormalising(nn.Module):
    """A forward that renormalises its first conv's filters in place (max-norm constraint, as
    some DeepSEA-family code does): torch.export refuses it, fx traces it."""

    def __init__(self):
        super().__init__()
        self.conv, self.lin = nn.Conv1d(4, 8, 5, padding=2, bias=False), nn.Linear(8, 2, bias=False)

    def forward(self, x):
        with torch.no_grad():
            self.conv.weight.data = torch.renorm(self.conv.weight.data, 2, 0, 0.1)
        return self.lin(F.relu(self.conv(x)).mean(-1))


def test_fx_fallback_explains_without_running_the_weight_update():
    torch.manual_seed(3)
    model = Renormalising().eval()
    before = model.conv.weight.detach().clone()
    x = one_hot(3, 32, seed=3, dtype=torch.float64)
    r = relevance(model.double(), x, 1, **LRP0)
    assert torch.equal(model.conv.weight.detach().float(), before.float())  # the in-place update never ran
    plain = nn.Sequential(model.conv, nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), model.lin)
    torch.testing.assert_close(r, relevance(plain, x, 1, **LRP0))


class ShapeTensors(nn.Module):
    """Shapes as tensors and a branch on them, as onnx2torch writes an ONNX Shape -> Gather ->
    Reshape chain: neither torch.export nor torch.fx can trace it; the recording route can."""

    def __init__(self, length: int = 32):
        super().__init__()
        self.conv, self.bn = nn.Conv1d(4, 6, 5, padding=2), random_batchnorm(6)
        self.lin = nn.Linear(6 * length, 2)

    def forward(self, x):
        h = F.relu(self.bn(self.conv(x)))
        shape = torch.cat([torch.tensor(h.shape)[:1], torch.tensor([-1])])
        if torch.any(shape == 0):
            shape = torch.tensor(h.shape)
        return self.lin(torch.reshape(h, torch.Size(shape)))


def test_recorded_forward_with_shape_tensors_is_explained_exactly():
    torch.manual_seed(10)
    model = double(ShapeTensors())
    with pytest.raises(Exception):
        torch.export.export(model, (torch.zeros(2, 4, 32, dtype=torch.float64),))
    x = one_hot(3, 32, seed=10, dtype=torch.float64)
    expected = gradient_x_input(model, x, 1)
    torch.testing.assert_close(relevance(model, x, 1, **LRP0), expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())
    plain = nn.Sequential(model.conv, model.bn, nn.ReLU(), nn.Flatten(), model.lin)
    for composite in COMPOSITES:
        torch.testing.assert_close(relevance(model, x, 0, composite=composite, return_hypothetical=True).hypothetical,
                                   relevance(plain, x, 0, composite=composite, return_hypothetical=True).hypothetical)
    with torch.no_grad():  # recorded weights are read at every call too
        model.lin.weight.neg_()
        model.lin.bias.neg_()
    torch.testing.assert_close(relevance(model, x, 1, **LRP0), -expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())


@pytest.mark.parametrize("as_dict", [False, True])
def test_outputs_are_chosen_with_output(as_dict):
    torch.manual_seed(4)
    model = double(TwoHeads(as_dict))
    x = one_hot(3, 64, seed=4, dtype=torch.float64)
    counts, profile = ("counts", "profile") if as_dict else (1, 0)
    with pytest.raises(ValueError, match="choose one with output="):
        relevance(model, x, 0)
    with pytest.raises(ValueError, match="does not exist"):
        relevance(model, x, 0, output="nope" if as_dict else 5)
    # counts (N, 1) works like (N,): LRP-0 is gradient x input
    expected = gradient_x_input(model, x, 0, pick=lambda out: out[counts])
    torch.testing.assert_close(relevance(model, x, 0, output=counts, **LRP0), expected, rtol=1e-9, atol=1e-12)
    # the profile is explained through BPNet's scalar: the sum of softmax-weighted centred logits
    y = model(x)[profile]
    for track in range(2):
        c = y[:, track] - y[:, track].mean(-1, keepdim=True)
        scalar = (torch.softmax(c, -1) * c).sum(-1)
        res = relevance(model, x, track, output=profile, **LRP0, return_layers=True)
        torch.testing.assert_close(res.relevance.sum((1, 2)), scalar, rtol=1e-9, atol=1e-12)  # bias-free: conserved
        assert res.logits.shape == y.shape


def test_channels_last_model_relevance_comes_back_channels_first():
    torch.manual_seed(5)
    inner = ChannelsLastCNN().eval()
    model = Transposed(inner)
    x = one_hot(2, 40, seed=5)
    res = relevance(model, x, 1, return_hypothetical=True)  # hypothetical contributions pass the transpose
    assert res.relevance.shape == x.shape == res.hypothetical.shape
    torch.testing.assert_close(res.relevance, x * res.hypothetical)
    plain = nn.Sequential(inner.conv, nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(), inner.lin)
    torch.testing.assert_close(res.relevance, relevance(plain, x, 1))


class TwoTowers(nn.Module):
    """ChromBPNet's count head on two towers that see different halves of the sequence:
    ``log(exp(a) + exp(b))``, or ``logsumexp`` of the stacked counts."""

    def __init__(self, lse: bool):
        super().__init__()
        self.lse = lse
        self.a, self.b = nn.Conv1d(4, 1, 5, bias=False), nn.Conv1d(4, 1, 5, bias=False)

    def forward(self, x):
        a, b = F.relu(self.a(x[:, :, :20])).mean(-1), F.relu(self.b(x[:, :, 20:])).mean(-1)
        if self.lse:
            return torch.logsumexp(torch.stack([a, b]), dim=0)
        return torch.log(torch.exp(a) + torch.exp(b))


@pytest.mark.parametrize("lse", [True, False])
def test_count_head_gives_each_tower_its_share_of_the_counts(lse):
    torch.manual_seed(6)
    model = double(TwoTowers(lse))
    with torch.no_grad():
        model.a.weight.abs_()
        model.b.weight.abs_()
    x = one_hot(3, 40, seed=6, dtype=torch.float64)
    r = relevance(model, x, 0, **LRP0)
    with torch.no_grad():
        a, b = F.relu(model.a(x[:, :, :20])).mean(-1), F.relu(model.b(x[:, :, 20:])).mean(-1)
        y = torch.logsumexp(torch.stack([a, b]), 0)
        share = torch.softmax(torch.stack([a, b]), 0)
    torch.testing.assert_close(r[:, :, :20].sum((1, 2)), (share[0] * y)[:, 0])
    torch.testing.assert_close(r[:, :, 20:].sum((1, 2)), (share[1] * y)[:, 0])


def test_capture_is_cached_per_model_and_shape_and_the_model_is_untouched():
    torch.manual_seed(7)
    model = FunctionalResNet()
    model.bn.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = one_hot(4, 64, seed=7)
    first = relevance(model, x, 0)
    assert len(_captures[model]) == 1
    with torch.no_grad():  # weights are read at every call, not frozen at capture
        model.head.weight.mul_(2)
        model.head.bias.mul_(2)
    torch.testing.assert_close(relevance(model, x, 0), 2 * first, rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        model.head.weight.div_(2)
        model.head.bias.div_(2)
    relevance(model, x[:2], 0)
    assert len(_captures[model]) == 2
    assert model.bn.training and model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_return_layers_on_a_functional_residual_network():
    torch.manual_seed(8)
    seq = nn.Sequential(nn.Conv1d(4, 8, 5, padding=2, bias=False), nn.ReLU(),
                        Residual(nn.Sequential(nn.Conv1d(8, 8, 3, padding=1, bias=False), nn.ReLU())),
                        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 2, bias=False)).eval()
    x = one_hot(3, 32, seed=8)
    out = relevance(seq, x, 1, composite="epsilon", epsilon=1e-9, stabilizer=1e-9, return_layers=True)
    assert list(out.layers)[0] == "5" and list(out.layers)[-1] == "0"
    logit = seq(x)[:, 1]
    for path in ("5", "4", "3", "2", "2.add", "1", "0"):  # cuts of the network conserve the logit
        torch.testing.assert_close(out.layers[path].flatten(1).sum(1), logit, rtol=1e-4, atol=1e-6, msg=path)


def test_models_that_cannot_be_captured_or_take_two_inputs_are_refused():
    class DataDependent(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 2, 3)

        def forward(self, x):
            y = self.conv(x)
            return y.mean(-1) if float(y.sum()) > 0 else -y.mean(-1)

    with pytest.raises(UnsupportedLayerError, match=r"reads a Python value out of a tensor computed from the input .* at the model's forward"):
        relevance(DataDependent(), one_hot(1, 16), 0)

    class TwoInputs(nn.Module):
        def forward(self, x, y):
            return (x + y).sum(-1)

    with pytest.raises(UnsupportedLayerError, match="cannot capture|2 tensor inputs"):
        relevance(TwoInputs(), one_hot(1, 16), 0)


@pytest.mark.parametrize("arch", ["cnn", "rescnn"])
def test_model_files_from_outside_are_explained_like_the_model(arch, tmp_path):
    """A .pt2 and an ONNX round trip (onnx2torch) of the same model give its relevance (ONNX
    folds BatchNorm into the convs itself: equal to float32 rounding of the fold)."""
    from seqlrp.models import build, load_model

    torch.manual_seed(9)
    model = build(arch, seq_len=64, n_classes=2, **({"filters": [8, 8], "dense": [8]} if arch == "cnn" else {"filters": 8, "n_dilated": 2}))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.load_state_dict(random_batchnorm(m.num_features).state_dict())
    model.eval()
    x = one_hot(3, 64, seed=9)
    expected = relevance(model, x, 1)
    batch = torch.export.Dim("batch")
    torch.export.save(torch.export.export(model, (x,), dynamic_shapes=({0: batch},)), tmp_path / "m.pt2")
    torch.testing.assert_close(relevance(load_model(tmp_path / "m.pt2"), x, 1), expected)
    need_spec("onnx2torch", "onnx")
    torch.onnx.export(model, (x,), tmp_path / "m.onnx", dynamo=False, opset_version=17, input_names=["x"],
                      dynamic_axes={"x": {0: "batch"}})
    got = relevance(load_model(tmp_path / "m.onnx"), x, 1)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


@pytest.mark.parametrize("arch", ["rescnn", "convformer"])
def test_onnx_files_of_the_default_exporter_are_explained_like_the_model(arch, tmp_path):
    """``torch.onnx.export`` as PyTorch documents it today (the dynamo-based exporter, opset 20:
    Reshape 19 with allowzero, ReduceMean 18, Shape 19, Gelu 20, ...) converts and explains (a plain
    CNN through it: test_model_files' export lines)."""
    import onnx

    from seqlrp.models import build, load_model

    need_spec("onnx2torch", "onnx", "onnxscript")
    torch.manual_seed(9)
    sizes = {"rescnn": {"filters": 8, "n_dilated": 2}, "convformer": {}}[arch]
    model = build(arch, seq_len=64, n_classes=2, **sizes).eval()
    x = one_hot(3, 64, seed=9)
    expected = relevance(model, x, 1)
    torch.onnx.export(model, (x,), tmp_path / "m.onnx", dynamic_shapes=({0: torch.export.Dim("batch")},))
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert next(o.version for o in proto.opset_import if o.domain == "") >= 18
    got = relevance(load_model(tmp_path / "m.onnx"), x, 1)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-3 * expected.abs().max().item())


@pytest.mark.parametrize("arch", ["cnn", "rescnn", "mlp"])
def test_layer_stacks_written_out_equal_their_export(arch):
    """seqlrp's Sequential models skip tracing (:mod:`seqlrp.lrp.layered`); the graph written out
    gives what the exported graph of the same layers gives, layer records included."""
    from seqlrp.lrp.layered import layered
    from seqlrp.models import build

    torch.manual_seed(11)
    model = build(arch, seq_len=64, n_classes=3, **({"batchnorm": True} if arch == "mlp" else {})).eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.load_state_dict(random_batchnorm(m.num_features).state_dict())
    assert layered(model) is not None and layered(FunctionalResNet()) is None
    exported = torch.fx.symbolic_trace(model)  # a GraphModule: captured by torch.export
    assert layered(exported) is None
    x = one_hot(3, 64, seed=11)
    for composite in COMPOSITES:
        a = relevance(model, x, 2, composite=composite, prune=Prune(0.3), return_layers=True)
        b = relevance(exported, x, 2, composite=composite, prune=Prune(0.3), return_layers=True)
        assert torch.equal(a.relevance, b.relevance)
        assert list(a.layers) == list(b.layers)
