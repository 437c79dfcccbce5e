"""The LRP walk: one forward pass that keeps each layer's input, one backward walk of rules.

No autograd and no hooks: :func:`relevance` builds node copies of the model's layers
(:mod:`.canonize`), runs them forward under ``torch.no_grad()`` and sends the target logit back
down with explicit tensor operations.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from .canonize import affines, build
from .composites import LayerMap, assign
from .graph import Affine, Dense, Elementwise, Identity, Node, Reshape, Residual, ratio
from .propagate import propagate
from .prune import Prune, keep_mask, prune_lambda
from .rules import AlphaBeta, Epsilon, Gamma, Rule, ZBox


class LRPResult(NamedTuple):
    """What :func:`relevance` returns when asked for more than the relevance.

    ``relevance``: like ``x`` (N, 4, L). ``hypothetical``: like ``x`` or None: what each base
    would receive if it were the base at that position (see :func:`relevance`). ``layers``:
    {module path: relevance at that module's input} or None (a BatchNorm folded with
    ``exact_batchnorm=True`` has no entry; pruned layers show the pruned relevance).
    ``logits``: the model output (N, n_classes).
    """

    relevance: Tensor
    hypothetical: Tensor | None
    layers: dict[str, Tensor] | None
    logits: Tensor


_NEEDS_OUTPUT = (Epsilon, Gamma, AlphaBeta, ZBox)  # rules that read the layer's output z


class _Walk:
    """State of one backward walk."""

    def __init__(self, rules: dict[Affine, Rule], prune: Prune | None, first: Affine | None, layers: bool):
        self.rules, self.prune, self.first = rules, prune, first
        self.layers: dict[str, Tensor] | None = {} if layers else None
        self.hyp: tuple[Tensor | None, Tensor | None] | None = None
        self.hyp_ok = True


def _forward(nodes: list[Node], x: Tensor, tape: list, rules: dict[Affine, Rule]) -> Tensor:
    for node in nodes:
        if isinstance(node, Residual):
            sub: list = []
            y = _forward(node.body, x, sub, rules)
            out = x + y
            tape.append((node, (x, y, out, sub)))
        elif isinstance(node, Affine):
            out, _ = node.forward(x)
            tape.append((node, (x, out if isinstance(rules[node], _NEEDS_OUTPUT) else None)))
        else:
            out, saved = node.forward(x)
            tape.append((node, saved))
        x = out
    return x


def _affine_backward(node: Affine, saved, r: Tensor, walk: _Walk) -> Tensor:
    x, z = saved
    rule = walk.rules[node]
    step = propagate(rule, node, x, z, r)
    if node is walk.first:
        walk.hyp = (step.coef, step.const)
        return step.relevance
    if walk.prune is None:
        return step.relevance
    p_pos, p_neg = walk.prune.fractions(node.path)
    if p_pos <= 0 and p_neg <= 0:
        return step.relevance
    if walk.prune.mode == "lambda":
        return prune_lambda(step.relevance, p_pos, p_neg)
    keep, _ = keep_mask(step.relevance, p_pos, p_neg)
    return propagate(rule, node, x, z, r, mask=keep.to(x.dtype)).relevance


def _backward(tape: list, r: Tensor | Dense, walk: _Walk) -> Tensor:
    """Relevance at the input of the taped nodes; ``Pooled`` relevance from a max-pool stays
    sparse through pass-through nodes down to the Conv1d that needs it."""
    for node, saved in reversed(tape):
        had_hyp = walk.hyp is not None
        if isinstance(r, Dense) and not isinstance(node, (Affine, Elementwise, Identity)):
            r = r.dense()
        if isinstance(node, Residual):
            x, y, out, sub = saved
            s = ratio(r, out, node.stabilizer)
            r = x * s + _backward(sub, y * s, walk)
            if walk.hyp is not None:  # the input layer sits in a residual body
                walk.hyp_ok = False
        elif isinstance(node, Affine):
            r = _affine_backward(node, saved, r, walk)
        else:
            r = node.backward(r, saved)
        if had_hyp:  # a layer between the input and the input layer
            if isinstance(node, Reshape):
                walk.hyp = tuple(None if t is None else t.reshape(saved) for t in walk.hyp)
            elif not (isinstance(node, Identity) and node.fn is None):
                walk.hyp_ok = False
        if walk.layers is not None:
            walk.layers[node.path] = r.dense() if isinstance(r, Dense) else r
    return r.dense() if isinstance(r, Dense) else r


def _initial(out: Tensor, target: int | Tensor) -> Tensor:
    """Relevance at the output: the target logit, zero elsewhere; ``out`` (N, K) or (N,)."""
    if out.dim() == 1:
        return _initial(out[:, None], target).reshape(out.shape)
    if out.dim() != 2:
        raise ValueError(f"LRP needs a model output of shape (N, n_classes), got {tuple(out.shape)}")
    n, k = out.shape
    idx = torch.as_tensor(target, device=out.device).long().reshape(-1)
    idx = idx.expand(n) if idx.numel() == 1 else idx
    if idx.shape != (n,):
        raise ValueError(f"target must be an int or a tensor of shape ({n},), got shape {tuple(idx.shape)}")
    if bool((idx < 0).any() or (idx >= k).any()):
        raise ValueError(f"target out of range for {k} output(s): {idx.tolist()[:5]}")
    idx = idx[:, None]
    return torch.zeros_like(out).scatter_(1, idx, out.gather(1, idx))


def relevance(
    model: nn.Module,
    x: Tensor,
    target: int | Tensor,
    *,
    composite: str | LayerMap = "epsilon-plus",
    input_rule: str | Rule | None = None,
    prune: Prune | None = None,
    epsilon: float = 1e-6,
    gamma: float = 0.25,
    stabilizer: float = 1e-6,
    exact_batchnorm: bool = False,
    return_hypothetical: bool = False,
    return_layers: bool = False,
) -> Tensor | LRPResult:
    """LRP relevance of the logit ``target`` for one-hot input ``x`` (N, 4, L).

    ``model``: an ``nn.Sequential`` (nested Sequential and :class:`seqlrp.layers.Residual`
    allowed) of supported layers, or one such layer; evaluated as in ``eval()`` mode (BatchNorm
    running statistics, no dropout) whatever its mode; it is not modified. ``target``: int or
    (N,) tensor of class indices; the initial relevance is that logit. ``composite``: a name in
    :data:`~seqlrp.lrp.COMPOSITES` or a mapping ``{nn.Conv1d: rule, nn.Linear: rule}``.
    ``input_rule``: rule (name in :data:`~seqlrp.lrp.RULES`, e.g. ``"flat"``, ``"wsquare"``,
    ``"zbox"``) for the first Conv1d/Linear. ``prune``: :class:`~seqlrp.lrp.Prune` for pruned LRP.
    ``epsilon``: of the epsilon rule; ``gamma``: of the gamma rule; ``stabilizer``: of every
    other denominator (z+, alpha-beta, gamma, flat, w^2, z-box, average pooling, residual sum).
    ``exact_batchnorm``: fold BatchNorm exactly; by default it is folded as Zennit does, keeping
    a factor ``1/sqrt(1 + eps)`` per BatchNorm (see :mod:`seqlrp.lrp.canonize`).
    The computation runs on ``x``'s device in ``x``'s dtype (parameters are cast copies).

    Returns the relevance, shaped like ``x``; with ``return_hypothetical`` or ``return_layers``
    an :class:`LRPResult`. The **hypothetical contribution** ``H[n, c, t]`` is the total
    relevance position ``t`` would receive if base ``c`` were there (``x[n, :, t]`` one-hot at
    ``c``), all relevance arriving from above held fixed. For rules of the form
    ``R = x * g`` (epsilon, z+, alpha-beta, gamma) it is ``g``, the vector the input is
    multiplied by, so ``relevance == x * H`` for one-hot ``x``; for z-box it is ``g`` plus the
    position's bound terms, and for flat and w^2, which ignore the input, it is the position's
    relevance for every base. In all cases ``(x * H).sum(1) == relevance.sum(1)`` for one-hot
    ``x``. It needs the input layer to see ``x`` directly (Flatten/Dropout in between are fine).
    """
    if not x.is_floating_point():
        x = x.float()
    nodes = build(model, x, stabilizer=stabilizer, exact_batchnorm=exact_batchnorm)
    rules = assign(nodes, composite, input_rule, epsilon=epsilon, gamma=gamma, stabilizer=stabilizer)
    found = affines(nodes)
    if not found:
        raise ValueError("LRP needs at least one Conv1d or Linear layer in the model")
    walk = _Walk(rules, prune, found[0], return_layers)
    with torch.no_grad():
        tape: list = []
        out = _forward(nodes, x, tape, rules)
        r = _backward(tape, _initial(out, target), walk)
    r = r.reshape(x.shape)
    if not (return_hypothetical or return_layers):
        return r
    hyp = None
    if return_hypothetical:
        if walk.hyp is None or not walk.hyp_ok:
            raise ValueError(
                "hypothetical contributions need the first Conv1d/Linear to see the input directly "
                "(only Flatten, Dropout or Identity may stand before it)"
            )
        coef, const = walk.hyp
        hyp = torch.zeros_like(x) if coef is None else coef.reshape(x.shape).clone()
        if const is not None:
            hyp += const.reshape(x.shape).sum(1, keepdim=True)
    return LRPResult(r, hyp, walk.layers, out)
