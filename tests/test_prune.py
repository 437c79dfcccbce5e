"""Pruned LRP: the cut, PLRP-lambda mass conservation, p = 0 identity, sparsity rising with p."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seqlrp.lrp import Prune, relevance
from seqlrp.lrp.prune import cut, cut_sorted, keep_mask, prune_lambda


def one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=gen), 4).float().transpose(1, 2)


def cnn(bias: bool = True, length: int = 128) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(4, 16, 9, padding=4, bias=bias), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(16, 16, 5, padding=2, bias=bias), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(16, 8, 3, padding=1, bias=bias), nn.ReLU(), nn.MaxPool1d(4),
        nn.Flatten(), nn.Linear(8 * (length // 16), 16, bias=bias), nn.ReLU(), nn.Linear(16, 2, bias=bias),
    ).eval()


def gini(r: torch.Tensor) -> torch.Tensor:
    """Gini index of |r| per sample: sum_k (2k - n - 1) a_(k) / (n sum a), a ascending."""
    a = r.abs().flatten(1).sort(1).values
    n = a.shape[1]
    k = torch.arange(1, n + 1, dtype=a.dtype)
    return ((2 * k - n - 1) * a).sum(1) / (n * a.sum(1))


def test_prune_lambda_by_hand():
    r = torch.tensor([[5.0, 1.0, 2.0, -4.0, -1.0, 0.5]])
    # positive side: 0.5 + 1 = 1.5 <= 0.25 * 8.5 < 3.5, so 0.5 and 1 go; 2 and 5 carry 8.5
    # negative side: the smallest, 1, exceeds 0.125 * 5: nothing goes
    expected = [5 * 8.5 / 7, 0.0, 2 * 8.5 / 7, -4.0, -1.0, 0.0]
    assert prune_lambda(r, 0.25, 0.125)[0].tolist() == pytest.approx(expected)


# rows of 4,100 / 9,000 / 40,000 entries: histograms of 1,024 and 2,048 buckets per side
@pytest.mark.parametrize("seed, m", [(0, 9000), (1, 9000), (2, 9000), (3, 4100), (4, 40000)])
def test_histogram_cut_equals_sorted_cut(seed, m):
    gen = torch.Generator().manual_seed(seed)
    r = torch.randn(6, m, generator=gen) ** 5
    r[torch.rand(6, m, generator=gen) < 0.3] = 0.0
    r[1] = (r[1] * 50).round() / 50  # many ties
    r[2] = 0.0
    r[3, ::2] = -0.0
    r[4] = r[4].abs()  # no negative side
    r[5, :7] = 1e-41  # denormals share the zeros' bucket
    for p_pos, p_neg in ((0.0, 0.0), (0.05, 0.3), (0.25, 0.125), (0.5, 0.9), (1.0, 0.0)):
        t_fast, pruned_fast, total = cut(r, p_pos, p_neg)
        for side, a, p in ((0, r.clamp(max=0).neg(), p_neg), (1, r.clamp(min=0), p_pos)):
            t_ref, pruned_ref, _ = cut_sorted(a, p)
            assert torch.equal(t_fast[:, side], t_ref), (side, p)
            torch.testing.assert_close(pruned_fast[:, side], pruned_ref, rtol=1e-12, atol=1e-12)
            assert (pruned_fast[:, side] <= p * total[:, side] + 1e-12).all()
            # the cut is maximal: pruning the smallest kept value (all its copies) would overflow
            t = t_fast[:, side]
            copies = (a == t[:, None]).sum(1)
            nxt = torch.where(torch.isinf(t), 0.0, t.double() * copies)
            assert ((pruned_fast[:, side] + nxt > p * total[:, side]) | torch.isinf(t)).all()
        # what pruning keeps follows from t alone: a positive entry >= t+, any other with |x| >= t-
        positive = r > 0
        keep = torch.where(positive, r >= t_fast[:, 1:], r.abs() >= t_fast[:, :1])
        assert torch.equal(keep_mask(r, p_pos, p_neg)[0], keep.float())
        kept = total - pruned_fast
        scale = torch.where(kept > 0, total / kept.clamp(min=1e-300), 0.0).float()
        expected = (r * torch.where(positive, scale[:, 1:], scale[:, :1])).masked_fill(~keep, 0.0)
        if p_pos > 0 or p_neg > 0:
            got = prune_lambda(r, p_pos, p_neg)
            assert torch.equal(got.view(torch.int32), expected.view(torch.int32))  # bit for bit, zeros' signs too


def test_prune_lambda_keeps_both_masses_per_sample():
    r = torch.randn(3, 20, 300, generator=torch.Generator().manual_seed(1))
    out = prune_lambda(r, 0.3, 0.15)
    torch.testing.assert_close(out.clamp(min=0).sum((1, 2)), r.clamp(min=0).sum((1, 2)))
    torch.testing.assert_close(out.clamp(max=0).sum((1, 2)), r.clamp(max=0).sum((1, 2)))
    pruned = (out == 0) & (r != 0)
    assert 0.3 < pruned.float().mean() < 0.9
    assert (r.clamp(min=0) * pruned).sum() <= 0.3 * r.clamp(min=0).sum() + 1e-4


@pytest.mark.parametrize("mode", ["lambda", "mask"])
@pytest.mark.parametrize("composite", ["epsilon-plus", "alpha2beta1"])
def test_p_zero_is_plain_lrp_bit_for_bit(mode, composite):
    model, x = cnn(), one_hot(4, 128)
    plain = relevance(model, x, 1, composite=composite)
    assert torch.equal(relevance(model, x, 1, composite=composite, prune=Prune(0.0, mode=mode)), plain)
    assert torch.equal(relevance(model, x, 1, composite=composite, prune=Prune({"nowhere": 0.5}, mode=mode)), plain)


def test_lambda_mode_conserves_relevance_at_every_layer():
    model, x = cnn(bias=False), one_hot(4, 128, seed=2)
    logit = model(x)[:, 1]
    out = relevance(model, x, 1, composite="epsilon", epsilon=1e-9, prune=Prune(0.3), return_layers=True)
    for path, r in out.layers.items():
        torch.testing.assert_close(r.flatten(1).sum(1), logit, rtol=1e-4, atol=1e-6, msg=path)


@pytest.mark.parametrize("mode", ["lambda", "mask"])
def test_sparsity_rises_with_p(mode):
    model, x = cnn(), one_hot(8, 128, seed=3)
    ginis = [gini(relevance(model, x, 0, prune=Prune(p, mode=mode)).sum(1)).mean().item() for p in (0.0, 0.2, 0.5)]
    assert ginis[0] < ginis[1] < ginis[2], ginis


def test_mask_mode_sends_nothing_to_pruned_neurons_and_differs_from_lambda():
    model, x = cnn(), one_hot(4, 128, seed=4)
    plain = relevance(model, x, 0, return_layers=True).layers
    lam = relevance(model, x, 0, prune=Prune(0.4, mode="lambda"), return_layers=True).layers
    mask = relevance(model, x, 0, prune=Prune(0.4, mode="mask"), return_layers=True).layers
    # input of the top Linear ("12"): the same relevance arrives in all modes, so the same
    # neurons are pruned; mask mode moves their share to the kept ones, lambda rescales
    zeros_plain = (plain["12"] == 0).sum()
    assert (mask["12"] == 0).sum() > zeros_plain and torch.equal(mask["12"] == 0, lam["12"] == 0)
    assert not torch.allclose(mask["12"], lam["12"])
    assert not torch.allclose(mask["0"], lam["0"])


def test_per_layer_fractions():
    model, x = cnn(), one_hot(4, 128, seed=5)
    plain = relevance(model, x, 0, return_layers=True).layers
    only = relevance(model, x, 0, prune=Prune({"6": 0.5}, p_neg={"6": 0.0}), return_layers=True).layers
    assert torch.equal(only["7"], plain["7"])  # above the pruned layer: untouched
    assert not torch.equal(only["6"], plain["6"])  # the input relevance of conv "6" is pruned
    assert Prune(0.4).fractions("x") == (0.4, 0.2)
    assert Prune({"a": 0.4, "*": 0.1}, p_neg=0.0).fractions("b") == (0.1, 0.0)
    with pytest.raises(ValueError):
        Prune(1.5)
    with pytest.raises(ValueError):
        Prune(0.2, mode="other")


# --- PLRP by value on a net small enough to work out by hand ---------------------------------

# Flatten -> Linear(4, 5) -> ReLU -> Linear(5, 1), bias-free, float64. With x = (1, 2, 0.5, 1) the
# hidden pre-activations are h = W1 x = (2, 1, 1, 0.5, 2), all positive (ReLU passes them), and the
# logit is z = w2 . h = 4 + 1 + 2 - 0.5 - 2 = 4.5.
W1 = [[1.0, 0.5, 0.0, 0.0], [-1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0], [0.5, -0.5, 1.0, 0.5], [1.0, 1.0, -2.0, 0.0]]
W2 = [[2.0, 1.0, 2.0, -1.0, -1.0]]
X = [1.0, 2.0, 0.5, 1.0]


def tiny_net() -> tuple[nn.Sequential, torch.Tensor]:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 5, bias=False), nn.ReLU(), nn.Linear(5, 1, bias=False)).double()
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor(W1))
        model[3].weight.copy_(torch.tensor(W2))
    return model.eval(), torch.tensor(X, dtype=torch.float64).reshape(1, 4, 1)


def stab(z: np.ndarray, eps: float) -> np.ndarray:
    """The epsilon rule's denominator: z + eps * sign(z), sign(0) = +1."""
    return z + eps * np.where(z >= 0, 1.0, -1.0)


def plrp_by_hand(mode: str, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Hidden and input relevance of :func:`tiny_net` for composite "epsilon", Prune(0.25, 0.25, mode).

    The top Linear is pruned (its input relevance, the hidden layer's); the first Linear reads the
    input and is never pruned."""
    w1, w2, x = np.array(W1), np.array(W2)[0], np.array(X)
    h = w1 @ x
    a = np.maximum(h, 0)
    z = w2 @ a
    hidden = a * w2 * z / stab(z, eps)  # LRP-eps at the top, R_out = z: (4, 1, 2, -0.5, -2) * z / stab(z)
    # positive side {4, 1, 2}, S+ = 7: 1 <= 0.25 * 7 = 1.75 < 1 + 2, so neuron 1 goes;
    # negative side {0.5, 2}, S- = 2.5: 0.5 <= 0.25 * 2.5 = 0.625 < 0.5 + 2, so neuron 3 goes
    keep = np.array([True, False, True, False, True])
    if mode == "lambda":
        # each sign's kept entries rescaled to that sign's whole mass
        pos, neg = hidden.clip(min=0), hidden.clip(max=0)
        scale = np.where(hidden > 0, pos.sum() / pos[keep].sum(), neg.sum() / neg[keep].sum())
        pruned = np.where(keep, hidden * scale, 0.0)
    else:
        # the top rule again over the kept neurons only: z' = sum of their contributions
        z_kept = (keep * a * w2).sum()
        pruned = keep * a * w2 * z / stab(z_kept, eps)
    # the first Linear, plain LRP-eps: R_i = x_i sum_j w1_ji R_j / stab(h_j)
    return pruned, x * (w1.T @ (pruned / stab(h, eps)))


# eps = 0.1 is not a float32 number: the stabiliser once built eps * sign(d) in float32 before
# casting it to d's dtype, which put a float64 run off by ~3e-10 relative; it takes eps in d's dtype
@pytest.mark.parametrize("eps", [0.0, 0.125, 0.1])
@pytest.mark.parametrize("mode", ["lambda", "mask"])
def test_plrp_by_hand_on_a_two_layer_net(mode, eps):
    model, x = tiny_net()
    out = relevance(model, x, 0, composite="epsilon", epsilon=eps, prune=Prune(0.25, 0.25, mode=mode),
                    return_layers=True)
    hidden, expected = plrp_by_hand(mode, eps)
    np.testing.assert_allclose(out.layers["3"][0].numpy(), hidden, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.relevance.flatten().numpy(), expected, rtol=1e-12, atol=1e-12)
    if eps == 0:  # the same numbers written out
        literal = {"lambda": ([14 / 3, 0, 7 / 3, 0, -2.5], [13 / 12, -1 / 6, 43 / 12, 0]),
                   "mask": ([4.5, 0, 2.25, 0, -2.25], [1.125, 0, 3.375, 0])}[mode]
        np.testing.assert_allclose(hidden, literal[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(expected, literal[1], rtol=1e-12, atol=1e-12)


def test_plrp_conservation_lambda_keeps_each_sign_mask_keeps_the_total():
    # LRP-0 on a bias-free net: every rule step conserves, so the identities below are exact.
    # PLRP-lambda restores the pruned layer's positive and negative mass separately (7 and -2.5);
    # PLRP-M re-runs the rule over the kept neurons, which conserves only their sum (z = 4.5):
    # its positive mass shrinks to 6.75 and its negative mass to -2.25.
    model, x = tiny_net()
    logit = model(x)[0, 0].item()
    plain = relevance(model, x, 0, composite="epsilon", epsilon=0.0, return_layers=True).layers["3"][0]
    for mode, pos, neg in (("lambda", 7.0, -2.5), ("mask", 6.75, -2.25)):
        out = relevance(model, x, 0, composite="epsilon", epsilon=0.0, prune=Prune(0.25, 0.25, mode=mode),
                        return_layers=True)
        hidden = out.layers["3"][0]
        assert hidden.clamp(min=0).sum().item() == pytest.approx(pos, abs=1e-12), mode
        assert hidden.clamp(max=0).sum().item() == pytest.approx(neg, abs=1e-12), mode
        assert out.relevance.sum().item() == pytest.approx(logit, abs=1e-12) == pytest.approx(4.5, abs=1e-12)
        assert hidden.sum().item() == pytest.approx(plain.sum().item(), abs=1e-12)
    assert plain.clamp(min=0).sum().item() == pytest.approx(7.0)
    assert plain.clamp(max=0).sum().item() == pytest.approx(-2.5)


# --- input layers are never pruned --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["conv", "linear"])
def test_a_single_layer_model_is_never_pruned(kind):
    torch.manual_seed(1)
    length = 32
    layer = nn.Conv1d(4, 3, length) if kind == "conv" else nn.Linear(4 * length, 3)
    model = nn.Sequential(layer, nn.Flatten()) if kind == "conv" else nn.Sequential(nn.Flatten(), layer)
    model = model.double().eval()
    x = one_hot(3, length, seed=6).double()
    plain = relevance(model, x, 1, composite="epsilon")
    # the input relevance has many distinct values of both signs: pruning it would change it
    assert (plain > 0).sum() > 20 and (plain < 0).sum() > 20
    assert not torch.equal(prune_lambda(plain, 0.9, 0.9), plain)
    for mode in ("lambda", "mask"):
        assert torch.equal(relevance(model, x, 1, composite="epsilon", prune=Prune(0.9, 0.9, mode=mode)), plain), mode


@pytest.mark.parametrize("mode", ["lambda", "mask"])
def test_input_relevance_is_plain_lrp_of_the_pruned_relevance_above(mode):
    model = cnn().double()
    x = one_hot(2, 128, seed=7).double()
    out = relevance(model, x, 0, prune=Prune(0.5, 0.5, mode=mode), return_layers=True)
    above = out.layers["1"]  # relevance at the first conv's output (ReLU "1"'s input): pruned by conv "3"
    plain_above = relevance(model, x, 0, return_layers=True).layers["1"]
    assert ((above == 0) & (plain_above != 0)).sum() > 100  # pruning happened above the first layer
    # the first conv ("0", z+ under epsilon-plus) by hand, unpruned: R = x * W+^T (R_above / (x * W+ + b+ + eps))
    conv = model[0]
    w_pos, b_pos = conv.weight.clamp(min=0), conv.bias.clamp(min=0)
    z = nn.functional.conv1d(x, w_pos, b_pos, padding=4) + 1e-6
    expected = x * nn.functional.conv_transpose1d(above / z, w_pos, padding=4)
    torch.testing.assert_close(out.relevance, expected, rtol=1e-10, atol=1e-12)


def test_plrp_prunes_per_sample_where_attention_moves_the_samples():
    # nn.MultiheadAttention projects its input as (L, N, E) and its output from (L * N, E): each
    # sample's PLRP must be what it is when the sample is explained alone (it was not when dim 0
    # was taken for the samples: positions, then tokens, were pruned as if they were samples)
    from seqlrp.models import build

    torch.manual_seed(0)
    model = build("convformer", seq_len=96, n_classes=2, pool=4).double().eval()
    x = one_hot(3, 96, seed=4).double()
    for prune in (Prune(0.3), Prune(0.3, mode="mask")):
        together = relevance(model, x, 1, prune=prune)
        alone = torch.cat([relevance(model, x[i:i + 1], 1, prune=prune) for i in range(3)])
        assert torch.allclose(together, alone, rtol=1e-9, atol=1e-12 * alone.abs().max())
        assert not torch.allclose(together, relevance(model, x, 1), rtol=1e-3)  # it did prune


def test_by_sample_finds_the_samples_in_flattened_and_split_layouts():
    from seqlrp.lrp.samples import by_sample, locate

    n, length, heads, width = 3, 5, 2, 4
    owner = torch.arange(n, dtype=torch.float64)
    seq_first = owner[None, :, None].expand(length, n, width)  # (L, N, E)
    flat = seq_first.reshape(length * n, width)  # token rows l * N + n
    axis = locate(flat.shape, width, n)
    assert axis == (0, 1)
    rows, back = by_sample(flat, axis, n)
    assert rows.shape == (n, length * width) and all(bool((rows[i] == i).all()) for i in range(n))
    assert torch.equal(back(rows), flat)
    per_head = owner[:, None, None, None].expand(n, heads, length, width).reshape(n * heads, length, width)
    axis = locate(per_head.shape, heads * length * width, n)
    assert axis == (0, heads)
    rows, back = by_sample(per_head, axis, n)
    assert all(bool((rows[i] == i).all()) for i in range(n)) and torch.equal(back(rows * 2), per_head * 2)
    # a sample's entries split across two dims (N = 3 rows of 2 C cut from (L, N, C)): no axis
    assert locate((length * n // 1, 2), 1, n) is None


class _SplitsSamples(nn.Module):
    """(N, 4, L) -> (L * N / 2, 8): every row of the dense layer's input holds two samples."""

    def __init__(self):
        super().__init__()
        self.conv, self.dense, self.out = nn.Conv1d(4, 4, 3, padding=1), nn.Linear(8, 4), nn.Linear(4, 2)

    def forward(self, x):
        t = torch.relu(self.conv(x)).permute(2, 0, 1)  # (L, N, 4)
        rows = t.reshape(-1, 8)
        return self.out(torch.relu(self.dense(rows))).reshape(x.shape[2] // 2, x.shape[0], 2).mean(0)


def test_plrp_refuses_a_layer_whose_input_mixes_samples():
    from seqlrp.lrp import UnsupportedLayerError

    torch.manual_seed(0)
    model, x = _SplitsSamples().eval(), one_hot(4, 16)
    relevance(model, x, 0)  # plain LRP needs no samples
    with pytest.raises(UnsupportedLayerError, match=r"PLRP at layer 'out': .*\(32, 4\) cannot be told apart by sample "
                                                     r"\(batch of 4\).*Prune\(p_pos=\{'out': 0.0"):
        relevance(model, x, 0, prune=Prune(0.3))
    relevance(model, x, 0, prune=Prune({"dense": 0.0, "out": 0.0, "*": 0.3}))


class _FinalStates(nn.Module):
    """A BiLSTM's final states (directions, N, H) to a dense head: with N = 2 the states' first dim
    has the batch's size too."""

    def __init__(self):
        super().__init__()
        self.conv, self.lstm = nn.Conv1d(4, 6, 5, padding=2), nn.LSTM(6, 4, batch_first=True, bidirectional=True)
        self.dense, self.out = nn.Linear(8, 6), nn.Linear(6, 2)

    def forward(self, x):
        _, (h, _) = self.lstm(torch.relu(self.conv(x)).transpose(1, 2))
        return self.out(torch.relu(self.dense(h.transpose(0, 1).reshape(x.shape[0], -1))))


class _BothStrands(nn.Module):
    """Both strands of each sequence stacked along the batch and averaged at the end."""

    def __init__(self):
        super().__init__()
        self.conv, self.dense, self.out = nn.Conv1d(4, 6, 5, padding=2), nn.Linear(6 * 16, 8), nn.Linear(8, 2)

    def forward(self, x):
        n = x.shape[0]
        h = torch.relu(self.dense(torch.relu(self.conv(torch.cat([x, x.flip(1, 2)], 0))).flatten(1)))
        y = self.out(h)
        return (y[:n] + y[n:]) / 2


@pytest.mark.parametrize("model_class", [_FinalStates, _BothStrands])
def test_plrp_per_sample_through_recurrent_states_and_stacked_strands(model_class):
    torch.manual_seed(1)
    model = model_class().double().eval()
    x = one_hot(2, 16, seed=3).double()
    for prune in (Prune(0.4), Prune(0.4, mode="mask")):
        together = relevance(model, x, 1, prune=prune)
        alone = torch.cat([relevance(model, x[i:i + 1], 1, prune=prune) for i in range(2)])
        assert torch.allclose(together, alone, rtol=1e-9, atol=1e-12 * alone.abs().max())
