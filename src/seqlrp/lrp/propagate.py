"""Relevance through one Conv1d/Linear layer: the arithmetic of the rules of :mod:`.rules`.

Each rule class's ``propagate`` method calls one function here.

Every function has the signature ``fn(rule, layer, x, z, r, mask) -> Step`` with

* ``layer``: the :class:`~seqlrp.lrp.graph.Affine` node;
* ``x``: its input (N, C_in, L) or (N, in); ``z``: its output ``layer(x)`` or None (then it is
  recomputed when needed); ``r``: the relevance of the output, shaped like ``z``, as a
  :class:`~seqlrp.lrp.graph.Dense` or (below a max-pool) :class:`~seqlrp.lrp.graph.Pooled`
  holder, so the elementwise work happens at the pooling winners only;
* ``mask``: None, or a {0, 1} tensor like ``x`` (pruned LRP, mask mode): the rule then acts as if
  the masked inputs were absent. For rules that read the input, the caller passes ``x * mask``;
  rules that replace the input (flat, w^2, z-box) multiply their stand-in by ``mask``.

and returns ``Step(relevance, coef, const)`` where ``relevance = x+ * coef + (x- terms) + const``:
``coef`` is what a unit input would receive (the hypothetical contribution at the input layer)
and ``const`` the input-independent part (flat, w^2, z-box), or None.

Cost (N samples; "conv" = one forward or transposed convolution of the layer): epsilon 1
transposed; z+ and gamma 1 forward + 1 transposed on non-negative inputs (gamma: +1 transposed
if relevance reaches negative outputs); alpha-beta 1 forward + 1 transposed with stacked weights
(twice the output channels). Inputs with negative entries double these.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .graph import Affine, Dense, ratio

# the rule classes (.rules) call these functions with themselves as ``rule`` (a frozen dataclass of
# the rule's parameters); this module does not import .rules, which imports it

_CANCEL = 1e-2
"""alpha-beta: below ``|x w- + b-| < _CANCEL * (x w+ + b+)`` the subtraction ``z - (x w+ + b+)``
could lose more than ~1e-5 of its value to float32 rounding, so it is recomputed directly."""


class Step(NamedTuple):
    relevance: Tensor
    coef: Tensor | None
    const: Tensor | None


def _nonneg(x: Tensor) -> bool:
    return bool(x.min() >= 0) if x.numel() else True


def _output(layer: Affine, x: Tensor, z: Tensor | None) -> Tensor:
    return layer.apply(x, layer.weight, layer.bias) if z is None else z


def _bias(layer: Affine, bias: Tensor | None, t: Tensor) -> Tensor:
    """``t + bias`` (per output channel), or ``t`` for no bias."""
    return t if bias is None else t + layer.bias_view(bias)


def _shifted(layer: Affine, bias: Tensor | None, shift: float) -> Tensor:
    """``bias + shift`` as a bias vector: a constant added inside the layer's own map, which
    turns ``stab(d) = d + eps`` of a denominator known to be >= 0 into no extra pass."""
    out = layer.weight.shape[0]
    shifted = torch.full((out,), shift, dtype=layer.weight.dtype, device=layer.weight.device)
    return shifted if bias is None else shifted + bias


def _over(r: Tensor, d: Tensor, eps: float) -> Tensor:
    """``r / d`` for a denominator ``d >= 0`` that already holds ``+eps``; 0/0 gives 0 at eps = 0."""
    return r / d if eps > 0 else ratio(r, d, 0.0)


def epsilon(rule, layer: Affine, x: Tensor, z, r: Dense, mask=None) -> Step:
    """``R_i = x_i * sum_j w_ij * R_j / stab(z_j)``."""
    s = r.put(ratio(r.values, r.take(_output(layer, x, z)), rule.epsilon))
    g = layer.transpose(s, layer.weight, x.shape)
    return Step(x * g, g, None)


def zplus(rule, layer: Affine, x: Tensor, z, r: Dense, mask=None) -> Step:
    """``R_i = (x+_i w+_ij + x-_i w-_ij) / stab(sum_i (...) + b+_j) * R_j``."""
    wp, bp = layer.mod("pos")
    if _nonneg(x):  # x w+ + b+ >= 0, so stab() adds +eps: folded into the bias
        eps = rule.stabilizer
        s = r.put(_over(r.values, r.take(layer.apply(x, wp, _shifted(layer, bp, eps))), eps))
        g = layer.transpose(s, wp, x.shape)
        return Step(x * g, g, None)
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    wn = layer.mod("neg")[0]
    s = r.put(ratio(r.values, r.take(layer.apply(xp, wp, bp) + layer.apply(xn, wn)), rule.stabilizer))
    g = layer.transpose(s, wp, x.shape)
    return Step(xp * g + xn * layer.transpose(s, wn, x.shape), g, None)


def alphabeta(rule, layer: Affine, x: Tensor, z, r: Dense, mask=None) -> Step:
    """``R_i = alpha * q+_ij / stab(sum q+ + b+) * R_j - beta * q-_ij / stab(sum q- + b-) * R_j``."""
    (wp, bp), (wn, bn) = layer.mod("pos"), layer.mod("neg")
    a, b, eps = rule.alpha, rule.beta, rule.stabilizer
    dim = 1 if layer.conv else -1
    if _nonneg(x):
        p = r.take(layer.apply(x, wp, _shifted(layer, bp, eps)))  # x w+ + b+ + eps (>= eps)
        sp = _over(r.values, p, eps).mul_(a)
        if b == 0:
            g = layer.transpose(r.put(sp), wp, x.shape)
            return Step(x * g, g, None)
        # x w- + b- = z - (x w+ + b+) since b = b+ + b-: no second forward pass. Where that
        # difference cancels (|x w- + b-| << x w+, e.g. a filter matching its motif) it is
        # recomputed term by term at those entries only.
        neg = (r.take(_output(layer, x, z)) - p).add_(eps)
        risky = (neg.abs() < _CANCEL * p) & (r.values != 0)
        if bool(risky.any()):
            neg[risky] = layer.apply_at(x, wn, bn, r.where(risky))
        sn = ratio(r.values, neg, eps).mul_(-b)
        g = layer.transpose_stacked(r.put2(sp, sn, dim), "pos", "neg", x.shape)
        return Step(x * g, g, None)
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    sp = ratio(r.values, r.take(layer.apply(xp, wp, bp) + layer.apply(xn, wn)), eps).mul_(a)
    sn = ratio(r.values, r.take(layer.apply(xp, wn, bn) + layer.apply(xn, wp)), eps).mul_(-b)
    s2 = r.put2(sp, sn, dim)
    g = layer.transpose_stacked(s2, "pos", "neg", x.shape)
    gn = layer.transpose_stacked(s2, "neg", "pos", x.shape)
    return Step(xp * g + xn * gn, g, None)


def gamma(rule, layer: Affine, x: Tensor, z, r: Dense, mask=None) -> Step:
    """Zennit's generalised gamma: for z_j > 0 the weights ``w + gamma w+`` act on x+ and
    ``w + gamma w-`` on x-, over ``stab(z_j + gamma (x+ w+ + x- w- + b+)_j)``; for z_j < 0 the
    roles of w+ and w- swap (and b- replaces b+); z_j = 0 passes nothing."""
    gm, eps = rule.gamma, rule.stabilizer
    dim = 1 if layer.conv else -1
    zv = r.take(_output(layer, x, z))
    nonneg = _nonneg(x)
    (wp, bp), (wn, bn) = layer.mod("pos"), layer.mod("neg")
    zero = torch.zeros((), dtype=zv.dtype, device=zv.device)
    kp, kn = ("gamma", gm, 1), ("gamma", gm, -1)
    if nonneg:
        # same = x w+ + b+ + eps / gamma: then z + gamma * same is the z > 0 denominator, stabilised
        shift = eps / gm if gm > 0 else 0.0
        same = r.take(layer.apply(x, wp, _shifted(layer, bp, shift)))
        den = zv + gm * same if gm > 0 else zv + eps
        sp = torch.where(zv > 0, r.values / den, zero)
        if not bool(((zv < 0) & (r.values != 0)).any()):
            g = layer.transpose(r.put(sp), layer.mod(kp)[0], x.shape)
            return Step(x * g, g, None)
        # x w- + b- = z - (x w+ + b+) = z - same + eps / gamma
        sn = torch.where(zv < 0, ratio(r.values, zv + gm * (zv - same + shift), eps), zero)
        g = layer.transpose_stacked(r.put2(sp, sn, dim), kp, kn, x.shape)
        return Step(x * g, g, None)
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    same = r.take(layer.apply(xp, wp) + layer.apply(xn, wn))  # x+ w+ + x- w-
    other = (zv if layer.bias is None else zv - layer.bias_view()) - same  # x+ w- + x- w+
    sp = torch.where(zv > 0, ratio(r.values, zv + gm * _bias(layer, bp, same), eps), zero)
    sn = torch.where(zv < 0, ratio(r.values, zv + gm * _bias(layer, bn, other), eps), zero)
    s2 = r.put2(sp, sn, dim)
    g = layer.transpose_stacked(s2, kp, kn, x.shape)
    gn = layer.transpose_stacked(s2, kn, kp, x.shape)
    return Step(xp * g + xn * gn, g, None)


def _input_free(key: str):
    def rule_fn(rule, layer: Affine, x: Tensor, z, r: Dense, mask=None) -> Step:
        ones = torch.ones_like(x) if mask is None else mask.to(x.dtype)
        w, b = layer.mod(key)
        s = r.put(ratio(r.values, r.take(layer.apply(ones, w, b)), rule.stabilizer))
        rel = layer.transpose(s, w, x.shape)
        if mask is not None:
            rel = rel * ones
        return Step(rel, None, rel)

    return rule_fn


flat = _input_free("ones")
flat.__doc__ = "``R_i = sum_j R_j / stab(#inputs of j)`` over the receptive field (bias ignored)."
wsquare = _input_free("sq")
wsquare.__doc__ = "``R_i = sum_j w_ij^2 / stab(sum_i w_ij^2 + b_j^2) * R_j``."


def zbox(rule, layer: Affine, x: Tensor, z, r: Dense, mask=None) -> Step:
    """``R_i = sum_j (x_i w_ij - l_i w+_ij - h_i w-_ij) / stab(z_j - z^l_j - z^h_j) * R_j``."""
    (wp, bp), (wn, bn) = layer.mod("pos"), layer.mod("neg")
    low = torch.as_tensor(rule.low, dtype=x.dtype, device=x.device).expand(x.shape)
    high = torch.as_tensor(rule.high, dtype=x.dtype, device=x.device).expand(x.shape)
    if mask is not None:
        x, z, low, high = x * mask, None, low * mask, high * mask
    den = _output(layer, x, z) - layer.apply(low, wp, bp) - layer.apply(high, wn, bn)
    s = r.put(ratio(r.values, r.take(den), rule.stabilizer))
    g = layer.transpose(s, layer.weight, x.shape)
    const = -(low * layer.transpose(s, wp, x.shape)) - high * layer.transpose(s, wn, x.shape)
    return Step(x * g + const, g, const)


def propagate(
    rule, layer: Affine, x: Tensor, z: Tensor | None, r: Tensor | Dense, mask: Tensor | None = None
) -> Step:
    """Apply ``rule`` at ``layer`` (see the module docstring for the arguments): the rule object's
    own ``propagate``; in mask mode, a rule that reads the input (``rule.reads_input``) gets the
    masked input instead of the mask, written over ``mask`` where it is shaped like ``x`` (the
    mask is the caller's to give up)."""
    if not isinstance(r, Dense):
        r = Dense(r)
    if mask is not None and rule.reads_input:
        masked = mask.mul_(x) if mask.shape == x.shape and mask.dtype == x.dtype else x * mask
        return rule.propagate(layer, masked, None, r, None)
    return rule.propagate(layer, x, z, r, mask)
