"""The LRP walk: equivalences, conservation, the caller's model untouched, errors, extras."""

from __future__ import annotations

import collections
import copy

import pytest
import torch
from conftest import random_batchnorm
from torch import nn

from seqlrp.lrp import COMPOSITES, LRPResult, UnsupportedLayerError, relevance
from seqlrp.models.layers import Exp


def one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=gen), 4).float().transpose(1, 2)




def basset_like(bias: bool = True, bn: bool = True, length: int = 64) -> nn.Sequential:
    def norm(c):
        return [random_batchnorm(c)] if bn else []

    return nn.Sequential(
        nn.Conv1d(4, 12, 7, padding=3, bias=bias), *norm(12), nn.ReLU(), nn.MaxPool1d(3, stride=2, padding=1),
        nn.Conv1d(12, 10, 5, padding=2, bias=bias), *norm(10), nn.ReLU(), nn.MaxPool1d(4),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(10 * (length // 8), 16, bias=bias), nn.ReLU(),
        nn.Linear(16, 3, bias=bias),
    ).eval()


def gradient_x_input(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, target].sum(), x)
    return grad * x


def test_lrp0_with_folded_batchnorm_is_gradient_times_input():
    torch.manual_seed(0)
    model = basset_like()
    x = one_hot(4, 64)
    expected = gradient_x_input(model, x, 2)
    for exact in (True, False):  # Zennit's folding explains the model up to a factor 1 - 5e-6 per BN
        got = relevance(model, x, 2, composite="epsilon", epsilon=0.0, exact_batchnorm=exact)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * expected.abs().max().item())


@pytest.mark.parametrize("composite", ["epsilon", "epsilon-plus"])
def test_conservation_on_a_bias_free_network(composite):
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv1d(4, 8, 5, padding=2, bias=False), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(8, 8, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool1d(2),
        nn.Flatten(), nn.Linear(8 * 16, 8, bias=False), nn.ReLU(), nn.Linear(8, 2, bias=False),
    ).eval()
    x = one_hot(5, 64, seed=1)
    out = relevance(model, x, 1, composite=composite, epsilon=1e-9, return_layers=True)
    logit = model(x)[:, 1]
    torch.testing.assert_close(out.relevance.sum((1, 2)), logit, rtol=1e-4, atol=1e-6)
    for path, r in out.layers.items():  # every layer conserves too
        torch.testing.assert_close(r.flatten(1).sum(1), logit, rtol=1e-4, atol=1e-6, msg=path)


def test_callers_model_is_left_exactly_as_it_was():
    torch.manual_seed(2)
    model = basset_like()
    model[1].train()  # a mixed train/eval state must survive too
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    grads_flags = [p.requires_grad for p in model.parameters()]
    x = one_hot(3, 64)
    for composite in COMPOSITES:
        relevance(model, x, 0, composite=composite, input_rule="zbox", return_hypothetical=True)
    after = model.state_dict()
    assert state.keys() == after.keys()
    for key, value in state.items():
        assert value.dtype == after[key].dtype and torch.equal(value, after[key]), key
        assert value.numpy().tobytes() == after[key].numpy().tobytes(), key
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == grads_flags
    assert all(p.grad is None for p in model.parameters())
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
        assert not getattr(m, "_backward_pre_hooks", None)


def test_model_in_training_mode_is_explained_as_in_eval_mode():
    torch.manual_seed(3)
    model = basset_like()
    x = one_hot(3, 64)
    expected = relevance(model, x, 1)
    model.train()
    torch.testing.assert_close(relevance(model, x, 1), expected)
    assert model.training


class Cumsum(nn.Module):
    def forward(self, x):
        return x.cumsum(-1)


def test_op_without_a_rule_names_op_module_path_and_source_line():
    model = nn.Sequential(collections.OrderedDict(
        stem=nn.Conv1d(4, 4, 3),
        features=nn.Sequential(nn.ReLU(), nn.Conv1d(4, 4, 3), Cumsum(), nn.Conv1d(4, 4, 3)),
    ))
    with pytest.raises(UnsupportedLayerError, match=r"no rule for op aten\.cumsum\.\w+ at module 'features\.2' \(test_lrp_engine\.py:\d+: return x\.cumsum\(-1\)\).*supported: affine: conv1d"):
        relevance(model, one_hot(1, 16), 0)


@pytest.mark.parametrize("composite", list(COMPOSITES))
@pytest.mark.parametrize("input_rule", [None, "flat", "wsquare", "zbox"])
def test_hypothetical_contributions(composite, input_rule):
    torch.manual_seed(4)
    model = basset_like()
    x = one_hot(3, 64, seed=4)
    out = relevance(model, x, 0, composite=composite, input_rule=input_rule, return_hypothetical=True)
    assert isinstance(out, LRPResult) and out.hypothetical.shape == x.shape
    assert out.layers is None and out.logits.shape == (3, 3)
    if input_rule is None:  # R = x * H exactly, and H is nonzero at absent bases too
        torch.testing.assert_close(out.relevance, x * out.hypothetical)
        assert (out.hypothetical * (1 - x)).abs().sum() > 0
    # for every rule, what the present base would get is the position's total relevance
    torch.testing.assert_close((x * out.hypothetical).sum(1), out.relevance.sum(1), rtol=1e-5, atol=1e-7)


def test_hypothetical_needs_the_input_layer_to_see_the_input():
    model = nn.Sequential(nn.MaxPool1d(2), nn.Flatten(), nn.Linear(4 * 8, 2))
    x = one_hot(2, 16)
    assert relevance(model, x, 0).shape == x.shape
    with pytest.raises(ValueError, match="hypothetical"):
        relevance(model, x, 0, return_hypothetical=True)


def test_targets_layers_and_result_shapes():
    torch.manual_seed(5)
    model = basset_like()
    x = one_hot(4, 64)
    per_sample = relevance(model, x, torch.tensor([0, 1, 2, 0]))
    for i, t in enumerate([0, 1, 2, 0]):
        torch.testing.assert_close(per_sample[i], relevance(model, x[i : i + 1], t)[0])
    out = relevance(model, x, 1, return_layers=True)
    assert out.hypothetical is None
    assert list(out.layers)[0] == "12" and list(out.layers)[-1] == "0"
    assert out.layers["8"].shape == (4, 10, 8)  # input of the Flatten
    torch.testing.assert_close(out.layers["0"], out.relevance)
    with pytest.raises(ValueError, match="target"):
        relevance(model, x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="out of range"):
        relevance(model, x, 3)
    with pytest.raises(ValueError, match="unknown composite"):
        relevance(model, x, 0, composite="nope")


@pytest.mark.parametrize(
    "arch, hparams",
    [
        ("mlp", {"batchnorm": True}),
        ("cnn", {"first_activation": "exp", "head": "gap", "filters": [8, 8], "dense": [8]}),
        ("rescnn", {"filters": 8, "n_dilated": 2}),
    ],
)
def test_project_architectures(arch, hparams):
    from seqlrp.models import build

    torch.manual_seed(6)
    model = build(arch, seq_len=64, n_classes=2, **hparams).eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.load_state_dict(random_batchnorm(m.num_features).state_dict())
    x = one_hot(3, 64)
    for composite in COMPOSITES:
        r = relevance(model, x, 1, composite=composite, return_hypothetical=arch != "rescnn")
        r = r if isinstance(r, torch.Tensor) else r.relevance
        assert r.shape == x.shape and torch.isfinite(r).all()
    if arch == "mlp":  # ReLU network: LRP-0 is gradient x input
        lrp0 = relevance(model, x, 1, composite="epsilon", epsilon=0.0, exact_batchnorm=True)
        torch.testing.assert_close(lrp0, gradient_x_input(model, x, 1), rtol=1e-4, atol=1e-6)


def test_non_float_input_and_exp_activation():
    model = nn.Sequential(nn.Conv1d(4, 4, 3, padding=1), Exp(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(4, 1))
    x = one_hot(2, 16)
    torch.testing.assert_close(relevance(model, x.to(torch.uint8), 0), relevance(model, x, 0))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    torch.manual_seed(7)
    model = basset_like()
    x = one_hot(4, 64)
    for composite in COMPOSITES:
        cpu = relevance(model, x, 0, composite=composite)
        gpu = relevance(copy.deepcopy(model).cuda(), x.cuda(), 0, composite=composite)
        assert gpu.is_cuda
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-3, atol=1e-4 * cpu.abs().max().item())
