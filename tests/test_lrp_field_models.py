"""LRP on models from the field's packages (bpnet-lite's BPNet and ChromBPNet, gReLU's conv
models) and on a DeepSEA-family network: captured and explained as they are, no rewriting.

bpnet-lite and gReLU are test-only dependencies (installed with --no-deps by the Makefile);
skipped without them.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import grelu_models
from optional import need
from torch import nn

from seqlrp.lrp import COMPOSITES, Prune, relevance

bpnet = need("bpnetlite.bpnet")
chrombpnet = need("bpnetlite.chrombpnet")

LRP0 = dict(composite="epsilon", epsilon=0.0, stabilizer=0.0, exact_batchnorm=True)


def one_hot(n: int, length: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(0, 4, (n, length), generator=gen), 4).to(dtype).transpose(1, 2)


def tiny_bpnet(control: int = 0, layers: int = 4) -> nn.Module:
    return bpnet.BPNet(n_filters=16, n_layers=layers, n_control_tracks=control, trimming=20, verbose=False).eval()


def test_bpnet_counts_head_lrp0_is_gradient_times_input():
    torch.manual_seed(0)
    model = tiny_bpnet().double()
    x = one_hot(3, 200, dtype=torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[1][:, 0].sum(), x)
    expected = (grad * x).detach()
    got = relevance(model, x.detach(), 0, output=1, **LRP0)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())


def test_bpnet_profile_head_every_composite_and_pruning():
    torch.manual_seed(1)
    model = tiny_bpnet()
    x = one_hot(2, 200, seed=1)
    for composite in COMPOSITES:
        for strand in (0, 1):
            r = relevance(model, x, strand, output=0, composite=composite)
            assert r.shape == x.shape and torch.isfinite(r).all()
    plain = relevance(model, x, 0, output=0, return_hypothetical=True)
    torch.testing.assert_close(plain.relevance, x * plain.hypothetical)
    assert torch.equal(relevance(model, x, 0, output=0, prune=Prune(0.0)), plain.relevance)
    pruned = relevance(model, x, 0, output=0, prune=Prune(0.3), return_layers=True).layers
    layers = relevance(model, x, 0, output=0, return_layers=True).layers
    assert (pruned["rconvs.2"] == 0).sum() > (layers["rconvs.2"] == 0).sum()


def test_bpnet_with_control_tracks_through_its_control_wrapper():
    torch.manual_seed(2)
    model = bpnet.ControlWrapper(tiny_bpnet(control=2)).eval()
    x = one_hot(2, 200, seed=2)
    for output in (0, 1):
        r = relevance(model, x, 0, output=output)
        assert r.shape == x.shape and torch.isfinite(r).all() and r.abs().sum() > 0


def test_chrombpnet_count_head_splits_between_bias_and_accessibility_models():
    torch.manual_seed(3)
    bias_model, accessibility = tiny_bpnet(layers=2).double(), tiny_bpnet(layers=3).double()
    model = chrombpnet.ChromBPNet(bias_model, accessibility).eval()
    x = one_hot(3, 200, seed=3, dtype=torch.float64)
    r = relevance(model, x, 0, output=1, **LRP0)
    # log(exp(a) + exp(b)): each model gets its share of the counts, softmax(a, b) * y, and
    # explains it as it explains its own count head (LRP is linear in the relevance from above)
    with torch.no_grad():
        a, b = accessibility(x)[1][:, 0], bias_model(x)[1][:, 0]
        y = torch.logsumexp(torch.stack([a, b]), 0)
        share_a, share_b = torch.softmax(torch.stack([a, b]), 0)
    r_a = relevance(accessibility, x, 0, output=1, **LRP0)
    r_b = relevance(bias_model, x, 0, output=1, **LRP0)
    expected = r_a * (share_a * y / a)[:, None, None] + r_b * (share_b * y / b)[:, None, None]
    torch.testing.assert_close(r, expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())
    assert relevance(model, x.float(), 0, output=0, composite="epsilon-plus").shape == x.shape


class DeepSEA(nn.Module):
    """The DeepSEA family (Zhou & Troyanskaya 2015; selene's DeepSEA): conv/ReLU/max-pool/dropout
    blocks, a dense layer and a sigmoid over many tasks, written as Sequentials in a module."""

    def __init__(self, length: int = 200, tasks: int = 5):
        super().__init__()
        self.conv_net = nn.Sequential(
            nn.Conv1d(4, 16, 8), nn.ReLU(inplace=True), nn.MaxPool1d(4, 4), nn.Dropout(0.2),
            nn.Conv1d(16, 24, 8), nn.ReLU(inplace=True), nn.MaxPool1d(4, 4), nn.Dropout(0.2),
            nn.Conv1d(24, 32, 8), nn.ReLU(inplace=True), nn.Dropout(0.5),
        )
        width = ((length - 7) // 4 - 7) // 4 - 7
        self.classifier = nn.Sequential(nn.Linear(32 * width, tasks), nn.ReLU(inplace=True), nn.Linear(tasks, tasks), nn.Sigmoid())
        self.width = width

    def forward(self, x):
        out = self.conv_net(x)
        return self.classifier(out.view(out.size(0), 32 * self.width))


def test_deepsea_family_multi_task_targets():
    torch.manual_seed(4)
    model = DeepSEA().double().eval()
    x = one_hot(4, 200, seed=4, dtype=torch.float64)
    targets = torch.tensor([0, 3, 4, 1])
    r = relevance(model, x, targets, **LRP0)
    # a final sigmoid is looked through: LRP explains the logit under it
    logits = nn.Sequential(*list(model.classifier)[:-1])
    xg = x.clone().requires_grad_(True)
    out = logits(model.conv_net(xg).flatten(1))
    (grad,) = torch.autograd.grad(out.gather(1, targets[:, None]).sum(), xg)
    torch.testing.assert_close(r, grad * x, rtol=1e-9, atol=1e-9 * (grad * x).abs().max().item())


@pytest.mark.parametrize("name", ["ConvModel", "DilatedConvModel", "ConvMLPModel"])
def test_grelu_conv_models_lrp0_is_gradient_times_input(name):
    models = grelu_models()
    torch.manual_seed(5)
    kwargs = {
        "ConvModel": dict(n_tasks=3, stem_channels=8, channel_init=8, n_conv=3, norm=True, residual=True, pool_func="max", pool_size=2),
        "DilatedConvModel": dict(n_tasks=2, channels=8, n_conv=4),
        "ConvMLPModel": dict(n_tasks=2, seq_len=200, stem_channels=8, channel_init=8, n_conv=2),
    }[name]
    model = getattr(models, name)(**kwargs).double().eval()
    for m in model.modules():  # trained-looking BatchNorm statistics
        if isinstance(m, nn.BatchNorm1d):
            with torch.no_grad():
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    x = one_hot(2, 200, seed=5, dtype=torch.float64)
    out = model(x)
    assert out.shape[-1] == 1  # gReLU heads give (N, tasks, 1)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(xg)[:, 1, 0].sum(), xg)
    got = relevance(model, x, 1, **LRP0)
    torch.testing.assert_close(got, grad * x, rtol=1e-9, atol=1e-9 * (grad * x).abs().max().item())
    for composite in COMPOSITES:
        assert torch.isfinite(relevance(model.float(), x.float(), 1, composite=composite)).all()
        model.double()
