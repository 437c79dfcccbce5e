"""Attribution baselines with LRP's call shape: ``method(model, x, target, ...) -> like x``.

``x`` is one-hot (N, 4, L); ``target`` an int or (N,) tensor of class indices; every method
explains the target *logit*. The model is called as given (put it in ``eval()`` mode: a model
in training mode gives random attributions and a warning) and is not modified; parameter
gradients are never computed.

* :func:`saliency` — ``|d logit / d x|`` (Simonyan et al. 2014), or the signed gradient.
* :func:`gradient_x_input` — ``x * d logit / d x``.
* :func:`integrated_gradients` — ``(x - x0) * mean_k d logit / d x (x0 + a_k (x - x0))`` with
  midpoints ``a_k = (k + 1/2) / n_steps``; baseline ``x0`` all zeros, a position-shuffled copy
  of ``x`` (mononucleotide composition kept), or a tensor.
* :func:`ism` — in-silico mutagenesis: ``S[n, c, t] = logit(x with base c at t) - logit(x)``;
  0 for the reference base, all four bases scored at N (all-zero) positions.
* :func:`deeplift_shap` — tangermeme's DeepLIFT/SHAP (the optional extra ``seqlrp[peers]``):
  ``n_shuffles`` dinucleotide-shuffled references per sequence, the observed base's attribution.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

__all__ = ["deeplift_shap", "gradient_x_input", "integrated_gradients", "ism", "saliency"]


def _targets(target: int | Tensor, n: int, device: torch.device) -> Tensor:
    idx = torch.as_tensor(target, device=device).long().reshape(-1)
    idx = idx.expand(n) if idx.numel() == 1 else idx
    if idx.shape != (n,):
        raise ValueError(f"target must be an int or a tensor of shape ({n},), got shape {tuple(idx.shape)}")
    return idx


def _logit(out: Tensor, idx: Tensor) -> Tensor:
    """The target logits (N,) of a model output (N, K) or (N,)."""
    if out.dim() == 1:
        out = out[:, None]
    return out.gather(1, idx[:, None]).squeeze(1)


def _check_mode(model: nn.Module) -> None:
    if model.training:
        warnings.warn("model is in training mode: dropout and batch statistics make attributions random; "
                      "call model.eval() first", stacklevel=3)


def _gradient(model: nn.Module, x: Tensor, idx: Tensor) -> Tensor:
    """d logit_target / d x, (N, 4, L); only the input gradient is computed."""
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(_logit(model(xg), idx).sum(), xg)
    return grad


def saliency(model: nn.Module, x: Tensor, target: int | Tensor, *, absolute: bool = True) -> Tensor:
    """``|d logit / d x|`` (the signed gradient with ``absolute=False``), shaped like ``x``."""
    _check_mode(model)
    grad = _gradient(model, x, _targets(target, x.shape[0], x.device))
    return grad.abs() if absolute else grad


def gradient_x_input(model: nn.Module, x: Tensor, target: int | Tensor) -> Tensor:
    """``x * d logit / d x``, shaped like ``x``: nonzero only at the bases present."""
    _check_mode(model)
    return x * _gradient(model, x, _targets(target, x.shape[0], x.device))


def shuffled(x: Tensor, seed: int = 0) -> Tensor:
    """``x`` with the positions of each sequence permuted at random (same base composition)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    perm = torch.stack([torch.randperm(x.shape[-1], generator=gen) for _ in range(x.shape[0])]).to(x.device)
    return x.gather(-1, perm[:, None, :].expand_as(x))


def integrated_gradients(
    model: nn.Module,
    x: Tensor,
    target: int | Tensor,
    *,
    baseline: str | Tensor = "zero",
    n_steps: int = 32,
    seed: int = 0,
) -> Tensor:
    """Integrated gradients (Sundararajan et al. 2017) with ``n_steps`` midpoint steps.

    ``baseline``: ``"zero"``, ``"shuffle"`` (:func:`shuffled` with ``seed``) or a tensor like
    ``x``. Completeness: ``result.sum((1, 2)) ~ logit(x) - logit(x0)``, closer with more steps.
    """
    _check_mode(model)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    idx = _targets(target, x.shape[0], x.device)
    if isinstance(baseline, Tensor):
        x0 = baseline.to(x).expand_as(x)
    elif baseline == "zero":
        x0 = torch.zeros_like(x)
    elif baseline == "shuffle":
        x0 = shuffled(x, seed)
    else:
        raise ValueError(f"baseline must be 'zero', 'shuffle' or a tensor, got {baseline!r}")
    delta = x - x0
    total = torch.zeros_like(x)
    for k in range(n_steps):
        total += _gradient(model, x0 + (k + 0.5) / n_steps * delta, idx)
    return delta * total / n_steps


def ism(model: nn.Module, x: Tensor, target: int | Tensor, *, batch_size: int = 1024) -> Tensor:
    """In-silico mutagenesis scores ``logit(mutant) - logit(x)`` per base and position (N, 4, L).

    Each mutant has one position set to one base (one-hot); the reference base scores 0. Mutants
    are evaluated ``batch_size`` at a time under ``torch.no_grad()``.
    """
    _check_mode(model)
    n, c, length = x.shape
    idx = _targets(target, n, x.device)
    scores = torch.zeros_like(x)
    with torch.no_grad():
        ref = _logit(model(x), idx)
        todo = (x != 1).nonzero()  # (M, 3): sample, base, position of every mutation
        for start in range(0, todo.shape[0], batch_size):
            s, b, t = todo[start : start + batch_size].unbind(1)
            mutants = x[s].clone()
            mutants[torch.arange(len(s), device=x.device), :, t] = 0
            mutants[torch.arange(len(s), device=x.device), b, t] = 1
            scores[s, b, t] = _logit(model(mutants), idx[s]) - ref[s]
    return scores


def deeplift_shap(model: nn.Module, x: Tensor, target: int, *, n_shuffles: int = 20, seed: int = 0,
                  batch_size: int = 128, references: Tensor | None = None) -> Tensor:
    """tangermeme's DeepLIFT/SHAP of logit ``target`` for one-hot ``x`` (N, 4, L), observed base only.

    References: ``n_shuffles`` dinucleotide shuffles per sequence drawn by tangermeme with
    ``random_state=seed``, or ``references`` (N, R, 4, L). ``batch_size`` counts
    sequence-reference pairs. seqlrp's :class:`~seqlrp.models.layers.Exp` gets DeepLIFT's rescale
    rule (tangermeme knows only torch's activation modules); ops inside other modules (attention's
    softmax and products) get their gradient, so summation-to-delta may miss, as tangermeme warns.
    Raises ImportError without tangermeme.
    """
    from tangermeme.deep_lift_shap import _nonlinear, deep_lift_shap

    from ..models.layers import Exp

    kwargs = {} if references is None else {"references": references}
    return deep_lift_shap(model, x, target=int(target), n_shuffles=n_shuffles, batch_size=batch_size,
                          additional_nonlinear_ops={Exp: _nonlinear}, device=x.device, random_state=seed,
                          **kwargs)
