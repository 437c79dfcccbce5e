"""Baselines: saliency, gradient x input, integrated gradients and ISM on models with known answers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqlrp.attribution.baselines import gradient_x_input, integrated_gradients, ism, saliency, shuffled


def one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=gen), 4).float().transpose(1, 2)


def linear_model(length: int = 12) -> tuple[nn.Sequential, torch.Tensor]:
    """logit_k = sum_{c,t} W[k, c, t] x[c, t] + b_k: every method has a closed form."""
    torch.manual_seed(0)
    lin = nn.Linear(4 * length, 2)
    return nn.Sequential(nn.Flatten(), lin).eval(), lin.weight.detach().reshape(2, 4, length)


def smooth_cnn() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv1d(4, 8, 5, padding=2), nn.ELU(), nn.Conv1d(8, 4, 3, padding=1), nn.Softplus(),
                         nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(4, 3)).eval()


def test_gradient_methods_on_a_linear_model():
    model, w = linear_model()
    x = one_hot(3, 12)
    torch.testing.assert_close(saliency(model, x, 1), w[1].abs().expand_as(x))
    torch.testing.assert_close(saliency(model, x, 1, absolute=False), w[1].expand_as(x))
    torch.testing.assert_close(gradient_x_input(model, x, 1), x * w[1])
    # integrated gradients of a linear model: (x - x0) * w, for any baseline and step count
    torch.testing.assert_close(integrated_gradients(model, x, 1, n_steps=1), x * w[1])
    x0 = shuffled(x, seed=3)
    torch.testing.assert_close(integrated_gradients(model, x, 1, baseline="shuffle", seed=3, n_steps=2), (x - x0) * w[1])


def test_ism_scores_are_weight_differences_on_a_linear_model():
    model, w = linear_model()
    x = one_hot(2, 12)
    x[1, :, 5] = 0.0  # an N position: all four bases are mutations from it
    scores = ism(model, x, torch.tensor([0, 1]), batch_size=7)
    for n, k in ((0, 0), (1, 1)):
        ref = (w[k] * x[n]).sum(0, keepdim=True)  # the weight of the reference base at each position
        torch.testing.assert_close(scores[n], w[k] - ref, rtol=1e-4, atol=1e-5)
    assert torch.all(scores[x == 1] == 0)
    torch.testing.assert_close(scores[1, :, 5], w[1][:, 5], rtol=1e-4, atol=1e-5)


def test_ism_matches_explicit_mutants_on_a_cnn():
    model = smooth_cnn()
    x = one_hot(2, 10, seed=1)
    scores = ism(model, x, 2, batch_size=16)
    mutant = x[1:2].clone()
    mutant[0, :, 4] = torch.tensor([0.0, 0.0, 0.0, 1.0])
    with torch.no_grad():
        expected = model(mutant)[0, 2] - model(x[1:2])[0, 2]
    torch.testing.assert_close(scores[1, 3, 4], expected)


@pytest.mark.parametrize("baseline", ["zero", "shuffle"])
def test_integrated_gradients_completeness(baseline):
    model = smooth_cnn()
    x = one_hot(3, 20, seed=2)
    x0 = torch.zeros_like(x) if baseline == "zero" else shuffled(x, seed=0)
    attr = integrated_gradients(model, x, 0, baseline=baseline, n_steps=64)
    with torch.no_grad():
        gap = model(x)[:, 0] - model(x0)[:, 0]
    torch.testing.assert_close(attr.sum((1, 2)), gap, rtol=1e-3, atol=1e-4)


def test_baselines_leave_model_alone_and_warn_in_training_mode():
    model = smooth_cnn()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = one_hot(2, 10)
    for method in (saliency, gradient_x_input, integrated_gradients, ism):
        assert method(model, x, 0).shape == x.shape
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert all(p.grad is None for p in model.parameters())
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        gradient_x_input(model, x, 0)
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(model.eval(), x, 0, baseline="noise")
