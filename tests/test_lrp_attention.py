"""AttnLRP rules on the captured graph: softmax, products of activations, gates, LayerNorm, attention, LSTM.

Formulas are checked by hand on tiny inputs; a functional transformer block against LXT (the AttnLRP
authors' library) where both implement the same rules; an LSTM against the same recurrence written
with plain ops, and for conservation; the field's attention models (gReLU's Enformer, Borzoi and
conv-transformer) end to end, with PLRP.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import grelu_models
from optional import need, need_spec
from torch import nn

from seqlrp.lrp import Prune, relevance

EXACT = dict(composite="epsilon", epsilon=1e-12, stabilizer=1e-12)


def zero_share(model, x, target, **kwargs) -> float:
    """The share of exact zeros in the relevance at every layer's input (PLRP cuts there)."""
    layers = relevance(model, x, target, return_layers=True, **kwargs).layers
    return float(np.mean([(r.abs() <= 1e-12 * r.abs().max()).float().mean().item() for r in layers.values()]))


def one_hot(n: int, length: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).transpose(1, 2).to(dtype)


class Softmaxed(nn.Module):
    """x (N, 4, L) -> linear over channels, softmax over positions, weighted sum: attention pooling."""

    def __init__(self):
        super().__init__()
        self.logit = nn.Linear(4, 1, bias=False)
        self.value = nn.Linear(4, 1, bias=False)

    def forward(self, x):
        h = x.transpose(1, 2)
        weights = torch.softmax(self.logit(h).squeeze(-1), dim=-1)  # (N, L)
        return (weights * self.value(h).squeeze(-1)).sum(-1, keepdim=True)


def test_attention_pooling_by_hand():
    torch.manual_seed(0)
    model = Softmaxed().double().eval()
    x = one_hot(2, 7)
    h = x.transpose(1, 2)
    a, v = model.logit(h).squeeze(-1), model.value(h).squeeze(-1)
    s = torch.softmax(a, -1)
    # the product s * v splits uniformly; the sum passes; softmax: R_a = a (R_s - s sum R_s)
    r_prod = s * v
    r_v, r_s = r_prod / 2, r_prod / 2
    r_a = a * (r_s - s * r_s.sum(-1, keepdim=True))
    # each linear (bias-free) passes its relevance to the input by the epsilon rule, position by position
    w_a, w_v = model.logit.weight[0], model.value.weight[0]
    expected = (h * w_a * (r_a / a).unsqueeze(-1) + h * w_v * (r_v / v).unsqueeze(-1)).transpose(1, 2)
    got = relevance(model, x, 0, **EXACT)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


class Gated(nn.Module):
    """A GLU: value * sigmoid(gate); the gate gets nothing (signal-take-all)."""

    def __init__(self, uniform: bool = False):
        super().__init__()
        self.value = nn.Conv1d(4, 3, 3, padding=1, bias=False)
        self.gate = nn.Conv1d(4, 3, 3, padding=1, bias=False)
        self.uniform = uniform

    def forward(self, x):
        gate = torch.sigmoid(self.gate(x)) if not self.uniform else torch.tanh(self.gate(x))
        return (self.value(x) * gate).sum((1, 2)).unsqueeze(-1)


def test_a_sigmoid_gate_gets_no_relevance_and_other_products_split_uniformly():
    torch.manual_seed(1)
    x = one_hot(2, 12)
    gated = Gated().double().eval()
    # signal-take-all: the relevance of value * gate all goes to value, then to x by the epsilon rule
    value = gated.value(x)
    r_value = value * torch.sigmoid(gated.gate(x))
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(gated.value(xg), xg, r_value / value)
    torch.testing.assert_close(relevance(gated, x, 0, **EXACT), x * g, rtol=1e-9, atol=1e-12)
    # tanh is no gate: half to each operand; both halves come back to x, so the total is kept
    uniform = Gated(uniform=True).double().eval()
    uniform.load_state_dict(gated.state_dict())
    got = relevance(uniform, x, 0, **EXACT)
    torch.testing.assert_close(got.sum((1, 2)), uniform(x)[:, 0], rtol=1e-9, atol=1e-12)


class Normed(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 3, padding=1, bias=False)
        self.kind = kind
        self.norm = {"layer": nn.LayerNorm(6), "group": nn.GroupNorm(2, 6), "rms": nn.RMSNorm(6)}[kind]
        self.head = nn.Linear(6, 1, bias=False)

    def forward(self, x):
        h = self.conv(x)
        h = self.norm(h) if self.kind == "group" else self.norm(h.transpose(1, 2)).transpose(1, 2)
        return self.head(h.mean(-1))


@pytest.mark.parametrize("kind", ["layer", "group", "rms"])
def test_normalisation_treats_the_standard_deviation_as_a_constant(kind):
    """Relevance at the norm's input = input * d(norm with std detached)/d(input)^T (R / y), as LXT computes it."""
    torch.manual_seed(2)
    model = Normed(kind).double().eval()
    with torch.no_grad():
        if kind != "rms":
            model.norm.bias.zero_()  # bias-free: the centring passes all relevance, checked below
        model.norm.weight.uniform_(0.5, 1.5)
    x = one_hot(2, 9)
    result = relevance(model, x, 0, return_layers=True, **EXACT)
    h = model.conv(x).detach().requires_grad_(True)
    if kind == "layer":
        t = h.transpose(1, 2)
        std = (t.var(-1, unbiased=False, keepdim=True) + model.norm.eps).sqrt().detach()
        y = ((t - t.mean(-1, keepdim=True)) / std * model.norm.weight).transpose(1, 2)
    elif kind == "group":
        g = h.reshape(2, 2, -1)
        std = (g.var(-1, unbiased=False, keepdim=True) + model.norm.eps).sqrt().detach()
        y = ((g - g.mean(-1, keepdim=True)) / std).reshape(h.shape) * model.norm.weight[:, None]
    else:
        y = h * 0 + model.norm(h.transpose(1, 2)).transpose(1, 2).detach()  # identity: R_in = R_out
    r_y = y * model.head.weight[0][:, None] / y.shape[-1]  # mean and bias-free head: relevance = contribution
    (grad,) = torch.autograd.grad(y, h, r_y / y)
    expected = h.detach() * grad if kind != "rms" else r_y.detach()
    got = result.layers["conv"] if "conv" in result.layers else None
    assert got is None or got.shape == x.shape  # layers hold relevance at each layer's input
    xg = x.clone().requires_grad_(True)
    (gc,) = torch.autograd.grad(model.conv(xg), xg, expected / model.conv(x))
    torch.testing.assert_close(result.relevance, x * gc, rtol=1e-7, atol=1e-10)
    if kind != "group":  # LayerNorm without bias and RMSNorm conserve: the centring is a bias-free linear map
        torch.testing.assert_close(result.relevance.sum((1, 2)), model(x)[:, 0], rtol=1e-7, atol=1e-10)


def test_division_by_a_norm_of_the_input_is_a_constant():
    class Unit(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 5, 3, padding=1, bias=False)
            self.head = nn.Linear(5, 1, bias=False)

        def forward(self, x):
            h = self.conv(x)
            h = h / h.norm(dim=1, keepdim=True)
            return self.head(h.sum(-1))

    torch.manual_seed(3)
    model = Unit().double().eval()
    x = one_hot(2, 8)
    got = relevance(model, x, 0, **EXACT)
    torch.testing.assert_close(got.sum((1, 2)), model(x)[:, 0], rtol=1e-9, atol=1e-12)


# --- scaled dot-product attention, a transformer block, and LXT --------------------------------------------


class Block(nn.Module):
    """One-hot (N, 4, L) -> embedding -> pre-norm transformer block -> mean -> logit, in functional ops.

    ``lxt`` switches every op with an AttnLRP rule to LXT's explicit functions (relevance by autograd)."""

    def __init__(self, dim: int = 8, heads: int = 2, lxt=None, sdpa: bool = False):
        super().__init__()
        self.embed, self.q, self.k, self.v, self.o = (nn.Linear(4, dim), nn.Linear(dim, dim), nn.Linear(dim, dim),
                                                      nn.Linear(dim, dim), nn.Linear(dim, dim))
        self.ff1, self.ff2, self.head = nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim), nn.Linear(dim, 1)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.heads, self.lxt, self.sdpa = heads, lxt, sdpa

    def linear(self, x, layer):
        return self.lxt.linear_epsilon(x, layer.weight, layer.bias, 1e-12) if self.lxt else layer(x)

    def norm(self, x, layer):
        if self.lxt:
            from lxt.explicit.functional import layer_norm_grad_fn

            return layer_norm_grad_fn.apply(x, layer.weight, layer.bias, layer.eps, 1e-12)
        return layer(x)

    def add(self, a, b):
        return self.lxt.add2(a, b, epsilon=1e-12) if self.lxt else a + b

    def forward(self, x):
        n, _, length = x.shape
        h = self.linear(x.transpose(1, 2), self.embed)  # (N, L, D)
        t = self.norm(h, self.norm1)
        split = lambda z: z.reshape(n, length, self.heads, -1).transpose(1, 2)  # noqa: E731
        q, k, v = (split(self.linear(t, layer)) for layer in (self.q, self.k, self.v))
        scale = 1.0 / math.sqrt(q.shape[-1])
        if self.sdpa and not self.lxt:
            att = F.scaled_dot_product_attention(q, k, v)
        elif self.lxt:
            scores = self.lxt.mul2(self.lxt.matmul(q, k.transpose(-1, -2), epsilon=1e-12),
                                   torch.tensor(scale, dtype=q.dtype))
            att = self.lxt.matmul(self.lxt.softmax(scores, -1), v, epsilon=1e-12)
        else:
            att = torch.softmax((q @ k.transpose(-1, -2)) * scale, -1) @ v
        h = self.add(h, self.linear(att.transpose(1, 2).reshape(n, length, -1), self.o))
        f = self.linear(torch.relu(self.linear(self.norm(h, self.norm2), self.ff1)), self.ff2)
        h = self.add(h, f)
        pooled = self.lxt.mean(h, 1, False, 1e-12) if self.lxt else h.mean(1)
        return self.linear(pooled, self.head)


def test_scaled_dot_product_attention_op_equals_the_same_attention_written_out():
    torch.manual_seed(4)
    written = Block().double().eval()
    fused = Block(sdpa=True).double().eval()
    fused.load_state_dict(written.state_dict())
    x = one_hot(3, 11)
    torch.testing.assert_close(fused(x), written(x))
    torch.testing.assert_close(relevance(fused, x, 0, **EXACT), relevance(written, x, 0, **EXACT), rtol=1e-8,
                               atol=1e-12)


def test_transformer_block_agrees_with_lxt():
    lxt = need("lxt.explicit.functional")
    torch.manual_seed(5)
    ours = Block().double().eval()
    theirs = Block(lxt=lxt).double().eval()
    theirs.load_state_dict(ours.state_dict())
    x = one_hot(3, 13)
    xg = x.clone().requires_grad_(True)
    out = theirs(xg)
    torch.testing.assert_close(out, ours(x))
    out.backward(out.detach())  # LXT: the output relevance is the logit itself
    expected = xg.grad
    got = relevance(ours, x, 0, **EXACT)
    scale = expected.abs().max().item()
    assert (got - expected).abs().max().item() <= 1e-4 * scale
    assert torch.allclose(got, expected, rtol=1e-6, atol=1e-9 * scale)


def test_bias_free_block_loses_relevance_only_at_the_softmax_rule():
    """Per block, read off ``return_layers``: without biases every step conserves except softmax, whose
    rule drops the Taylor term ``sum_i R_i - sum_i x_i (R_i - s_i sum_j R_j)`` (AttnLRP Prop. 3.1)."""
    torch.manual_seed(13)
    model = Block().double().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.LayerNorm)) and module.bias is not None:
                module.bias.zero_()
    x = one_hot(2, 9)
    result = relevance(model, x, 0, return_layers=True, **EXACT)
    logit = model(x)[:, 0]
    total = lambda r: r.sum(tuple(range(1, r.dim())))  # noqa: E731
    torch.testing.assert_close(total(result.layers["head"]), logit, rtol=1e-9, atol=1e-12)  # mean, residuals
    torch.testing.assert_close(total(result.layers["ff1"]), total(result.layers["ff2"]), rtol=1e-9, atol=1e-12)
    # the attention block by hand, from the relevance at the output projection's input
    n, length = x.shape[0], x.shape[-1]
    t = model.norm1(model.embed(x.transpose(1, 2)))
    split = lambda z: z.reshape(n, length, model.heads, -1).transpose(1, 2)  # noqa: E731
    q, k, v = (split(layer(t)) for layer in (model.q, model.k, model.v))
    logits = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    weights = torch.softmax(logits, -1)
    att = weights @ v
    r_att = split(result.layers["o"])
    r_w = 0.5 * weights * ((r_att / att) @ v.transpose(-1, -2))
    r_logits = logits * (r_w - weights * r_w.sum(-1, keepdim=True))
    dropped = total(r_w) - total(r_logits)
    torch.testing.assert_close(logit - total(result.relevance), dropped.detach(), rtol=1e-7, atol=1e-10)


# --- LSTM ------------------------------------------------------------------------------------------------------


def written_out(rnn: nn.Module, h, cell):
    """A multi-layer bidirectional ``rnn`` run with plain ops: layer by layer, both directions through
    ``cell(h, params, reverse)``, ``params`` the direction's weight_ih, weight_hh, bias_ih, bias_hh (None without)."""
    for layer in range(rnn.num_layers):
        outs = []
        for d, suffix in enumerate(("", "_reverse")):
            params = {name: getattr(rnn, f"{name}_l{layer}{suffix}", None)
                      for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            outs.append(cell(h, params, reverse=d == 1))
        h = torch.cat(outs, dim=-1)
    return h


class DanQ(nn.Module):
    """DanQ-style: conv, max-pool, BiLSTM, a dense head on the mean over positions."""

    def __init__(self, bias: bool = True, written_out: bool = False, layers: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 5, padding=2, bias=bias)
        self.lstm = nn.LSTM(6, 4, num_layers=layers, batch_first=True, bidirectional=True, bias=bias)
        self.head = nn.Linear(8, 2, bias=bias)
        self.written_out = written_out

    @staticmethod
    def _cell(x, p, reverse):
        w_ih, w_hh = p["weight_ih"], p["weight_hh"]
        b = None if p["bias_ih"] is None else p["bias_ih"] + p["bias_hh"]
        n, steps, _ = x.shape
        hidden = w_hh.shape[1]
        h = c = x.new_zeros(n, hidden)
        outs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            z = x[:, t] @ w_ih.t() + h @ w_hh.t()
            if b is not None:
                z = z + b
            i, f, g, o = z.split(hidden, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs[t] = h
        return torch.stack(outs, dim=1)

    def forward(self, x):
        h = F.max_pool1d(torch.relu(self.conv(x)), 2).transpose(1, 2)
        if self.written_out:
            h = written_out(self.lstm, h, self._cell)
        else:
            h, _ = self.lstm(h)
        return self.head(h.mean(1))


@pytest.mark.parametrize("layers", [1, 2])
def test_lstm_rule_equals_the_recurrence_written_with_plain_ops(layers):
    torch.manual_seed(6)
    fused = DanQ(layers=layers).double().eval()
    written = DanQ(written_out=True, layers=layers).double().eval()
    written.load_state_dict(fused.state_dict())
    x = one_hot(2, 16)
    torch.testing.assert_close(written(x), fused(x))
    for composite in ("epsilon", "epsilon-plus"):  # tiny stabilisers: the two differ only in where they add them
        kw = dict(composite=composite, epsilon=1e-12, stabilizer=1e-12)
        torch.testing.assert_close(relevance(fused, x, 1, **kw), relevance(written, x, 1, **kw), rtol=1e-7, atol=1e-10)


def test_bias_free_lstm_conserves_relevance():
    torch.manual_seed(7)
    model = DanQ(bias=False).double().eval()
    x = one_hot(3, 20)
    got = relevance(model, x, 0, **EXACT)
    torch.testing.assert_close(got.sum((1, 2)), model(x)[:, 0], rtol=1e-8, atol=1e-12)


class ConvGRU(nn.Module):
    """Conv, then a (bi)GRU, a dense head on the mean over positions; or the same GRU written with plain ops."""

    def __init__(self, bias: bool = True, written_out: bool = False, layers: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 5, padding=2, bias=bias)
        self.gru = nn.GRU(6, 4, num_layers=layers, batch_first=True, bidirectional=True, bias=bias)
        self.head = nn.Linear(8, 2, bias=bias)
        self.written_out = written_out

    @staticmethod
    def _cell(x, p, reverse):
        w_ih, w_hh, b_ih, b_hh = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
        n, steps, _ = x.shape
        h = x.new_zeros(n, w_hh.shape[1])
        outs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            gi, gh = x[:, t] @ w_ih.t(), h @ w_hh.t()
            if b_ih is not None:
                gi, gh = gi + b_ih, gh + b_hh
            (gi_r, gi_z, gi_n), (gh_r, gh_z, gh_n) = gi.chunk(3, -1), gh.chunk(3, -1)
            r, z = torch.sigmoid(gi_r + gh_r), torch.sigmoid(gi_z + gh_z)
            n_t = torch.tanh(gi_n + r * gh_n)
            h = (1 - z) * n_t + z * h
            outs[t] = h
        return torch.stack(outs, dim=1)

    def forward(self, x):
        h = torch.relu(self.conv(x)).transpose(1, 2)
        if self.written_out:
            h = written_out(self.gru, h, self._cell)
        else:
            h, _ = self.gru(h)
        return self.head(h.mean(1))


@pytest.mark.parametrize("layers", [1, 2])
def test_gru_rule_equals_the_recurrence_written_with_plain_ops(layers):
    torch.manual_seed(11)
    fused = ConvGRU(layers=layers).double().eval()
    written = ConvGRU(written_out=True, layers=layers).double().eval()
    written.load_state_dict(fused.state_dict())
    x = one_hot(2, 12)
    torch.testing.assert_close(written(x), fused(x))
    for composite in ("epsilon", "epsilon-plus"):
        kw = dict(composite=composite, epsilon=1e-12, stabilizer=1e-12)
        torch.testing.assert_close(relevance(fused, x, 1, **kw), relevance(written, x, 1, **kw), rtol=1e-7, atol=1e-10)


def test_bias_free_gru_conserves_relevance():
    torch.manual_seed(12)
    model = ConvGRU(bias=False).double().eval()
    x = one_hot(3, 15)
    got = relevance(model, x, 0, **EXACT)
    torch.testing.assert_close(got.sum((1, 2)), model(x)[:, 0], rtol=1e-8, atol=1e-12)


# --- the field's attention models -------------------------------------------------------------------------------


FIELD = {
    "EnformerModel": (dict(n_tasks=2, n_conv=3, channels=384, n_transformers=1, n_heads=4, key_len=8), 1024),
    "BorzoiModel": (dict(n_tasks=2, stem_channels=32, init_channels=32, channels=64, n_conv=3, n_transformers=2,
                         key_len=8, value_len=8, n_heads=2, n_pos_features=8, crop_len=0), 1024),
    "ConvTransformerModel": (dict(n_tasks=2, stem_channels=8, channel_init=8, n_conv=2, n_transformers=2, key_len=8,
                                  value_len=8, n_heads=2, n_pos_features=8), 256),
    "ConvGRUModel": (dict(n_tasks=2, stem_channels=8, channel_init=8, n_conv=2, n_gru=1), 128),
}


@pytest.mark.parametrize("name", sorted(FIELD))
def test_field_attention_and_recurrent_models_are_explained_and_pruned(name):
    models = grelu_models()
    torch.manual_seed(8)
    kwargs, length = FIELD[name]
    model = getattr(models, name)(**kwargs).eval()
    x = one_hot(2, length, dtype=torch.float32)
    result = relevance(model, x, 1, return_layers=True)
    assert result.relevance.shape == x.shape and torch.isfinite(result.relevance).all()
    assert result.relevance.abs().sum() > 0
    assert result.layers  # relevance at every layer's input: per block conservation can be read off
    lrp = result.relevance
    torch.testing.assert_close(relevance(model, x, 1, prune=Prune(0.0)), lrp)
    for mode in ("lambda", "mask"):
        pruned = relevance(model, x, 1, prune=Prune(0.5, mode=mode))
        assert torch.isfinite(pruned).all()
        assert zero_share(model, x, 1, prune=Prune(0.5, mode=mode)) > zero_share(model, x, 1), mode  # sparser


def _config_class():
    class Config:  # stands in for transformers.PretrainedConfig: keeps the keyword arguments
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

    return Config


def _pretrained_class():
    class PreTrainedModel(nn.Module):  # stands in for transformers.PreTrainedModel
        def __init__(self, config, *args, **kwargs):
            super().__init__()
            self.config = config

        @property
        def device(self):
            return next(self.parameters()).device

    return PreTrainedModel


def test_enformer_pytorch_itself_is_explained():
    need_spec("enformer_pytorch")
    stubs = {name: types.ModuleType(name) for name in ("transformers", "polars")
             if importlib.util.find_spec(name) is None and name not in sys.modules}
    if "transformers" in stubs:
        stubs["transformers"].PretrainedConfig = _config_class()
        stubs["transformers"].PreTrainedModel = _pretrained_class()
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.startswith("enformer_pytorch")}
    sys.modules.update(stubs)
    try:
        from enformer_pytorch import Enformer
        torch.manual_seed(9)
        model = Enformer.from_hparams(dim=48, depth=1, heads=2, output_heads=dict(human=3), target_length=4,
                                      num_downsamples=3, dim_divisible_by=8).eval()
    finally:
        for name in stubs:
            sys.modules.pop(name, None)
        for name in [n for n in sys.modules if n.startswith("enformer_pytorch")]:
            sys.modules.pop(name)
        sys.modules.update(saved)

    class Head(nn.Module):  # one score per track: the mean over the target bins
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.transpose(1, 2), head="human").mean(1)

    wrapped = Head(model)
    x = one_hot(1, 256, dtype=torch.float32)
    assert wrapped(x).shape == (1, 3)
    got = relevance(wrapped, x, 2)
    assert got.shape == x.shape and torch.isfinite(got).all() and got.abs().sum() > 0
    assert torch.isfinite(relevance(wrapped, x, 2, prune=Prune(0.5))).all()


def test_convformer_is_explained_and_pruned():
    from seqlrp.models import build

    torch.manual_seed(10)
    model = build("convformer", seq_len=96, n_classes=2, filters=8, heads=2, pool=4, feedforward=16).eval()
    x = one_hot(4, 96, dtype=torch.float32)
    lrp = relevance(model, x, 1)
    assert lrp.shape == x.shape and torch.isfinite(lrp).all() and lrp.abs().sum() > 0
    torch.testing.assert_close(relevance(model, x, 1, prune=Prune(0.0)), lrp)
    for mode in ("lambda", "mask"):
        assert zero_share(model, x, 1, prune=Prune(0.5, mode=mode)) > zero_share(model, x, 1), mode


class _SharedScores(nn.Module):
    """SDPA whose queries and keys (learned, one set for the batch) have fewer batch dims than its
    values: the weights broadcast over the batch (``expand``: the same written out)."""

    def __init__(self, expand: bool):
        super().__init__()
        self.expand = expand
        self.conv, self.values, self.out = nn.Conv1d(4, 8, 3, padding=1), nn.Linear(8, 4), nn.Linear(4, 2)
        self.qk = nn.Parameter(torch.randn(2, 16, 4))

    def forward(self, x):
        v = self.values(torch.relu(self.conv(x)).transpose(1, 2)).unsqueeze(1).expand(-1, 2, -1, -1)
        q = self.qk.expand(x.shape[0], -1, -1, -1) if self.expand else self.qk
        return self.out(nn.functional.scaled_dot_product_attention(q, q, v).mean((1, 2)))


def test_attention_weights_that_broadcast_over_the_values_batch():
    torch.manual_seed(0)
    shared, written_out = _SharedScores(False).double().eval(), _SharedScores(True).double().eval()
    written_out.load_state_dict(shared.state_dict())
    x = nn.functional.one_hot(torch.randint(0, 4, (3, 16)), 4).permute(0, 2, 1).double()
    torch.testing.assert_close(relevance(shared, x, 1), relevance(written_out, x, 1), rtol=1e-10, atol=1e-14)
