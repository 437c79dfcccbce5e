"""What is explained at a model's output: one score per sample and task.

A model's (selected) output is read as

* (N,) — one score per sample; (N, K) — K tasks (classes); trailing singleton dimensions are
  dropped first, so (N, K, 1) is (N, K);
* (N, K, L) with L > 1 — a **profile** head (BPNet, ChromBPNet: per-position logits of K
  tracks). It is explained through the scalar BPNet practice uses (bpnet-lite's
  ``ProfileWrapper``, Avsec et al. 2021): for track k, with the logits centred,
  ``c = y_k - mean(y_k)``, and softmax weights ``w = softmax(c)`` held constant (detached),
  ``s_k = sum_l w_l c_l``. LRP starts from ``R_l = w_l c_l`` (which sums to ``s_k``).
  bpnet-lite flattens both strands of a stranded profile into one softmax; here each track is
  one task, selected by ``target``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def as_tasks(out: Tensor) -> Tensor:
    """``out`` without trailing singleton dimensions beyond (N, K)."""
    while out.dim() > 2 and out.shape[-1] == 1:
        out = out.squeeze(-1)
    return out


def profile_terms(y: Tensor) -> Tensor:
    """``w * c`` of the profile scalar per position: (N, K, L) -> (N, K, L) (see module docstring)."""
    c = y - y.mean(-1, keepdim=True)
    return torch.softmax(c, -1).detach() * c


def scores(out: Tensor) -> Tensor:
    """One score per sample and task: (N,) or (N, K); a profile (N, K, L) gives its scalars (N, K)."""
    out = as_tasks(out)
    return profile_terms(out).sum(-1) if out.dim() == 3 else out


def initial_relevance(out: Tensor, target: int | Tensor) -> Tensor:
    """Relevance at the output, shaped like ``out``: the target's score (its profile terms for a
    profile head), zero elsewhere. ``target``: int or (N,) tensor of task indices."""
    tasks = as_tasks(out)
    if tasks.dim() == 1:
        return initial_relevance(tasks[:, None], target).reshape(out.shape)
    if tasks.dim() not in (2, 3):
        raise ValueError(
            f"LRP needs a model output of shape (N, n_classes) or a profile (N, tracks, length), got {tuple(out.shape)}"
        )
    n, k = tasks.shape[:2]
    idx = torch.as_tensor(target, device=out.device).long().reshape(-1)
    idx = idx.expand(n) if idx.numel() == 1 else idx
    if idx.shape != (n,):
        raise ValueError(f"target must be an int or a tensor of shape ({n},), got shape {tuple(idx.shape)}")
    if bool((idx < 0).any() or (idx >= k).any()):
        raise ValueError(f"target out of range for {k} output(s): {idx.tolist()[:5]}")
    values = profile_terms(tasks) if tasks.dim() == 3 else tasks
    pick = idx.view(n, 1, *([1] * (tasks.dim() - 2))).expand(n, 1, *tasks.shape[2:])
    return torch.zeros_like(tasks).scatter_(1, pick, values.gather(1, pick)).reshape(out.shape)
