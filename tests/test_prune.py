"""Pruned LRP: the cut, PLRP-lambda mass conservation, p = 0 identity, sparsity rising with p."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqlrp.lrp import Prune, relevance
from seqlrp.lrp.prune import cut, cut_sorted, prune_lambda


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


@pytest.mark.parametrize("seed", range(3))
def test_histogram_cut_equals_sorted_cut(seed):
    gen = torch.Generator().manual_seed(seed)
    r = torch.randn(6, 9000, generator=gen) ** 5
    r[torch.rand(6, 9000, generator=gen) < 0.3] = 0.0
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
