"""AttnLRP rules (Achtibat et al., ICML 2024) for the ops of attention models, on the captured graph.

Each function takes the relevance ``r`` at an op's output (shaped like it) and the op's values,
and returns the relevance of its live (input-dependent) operands, shaped like them:

* **products of two activations** — ``matmul``/``bmm``/``einsum`` (AttnLRP Prop. 3.3: the
  epsilon rule on each product term, then a uniform split between the operands:
  ``R_a = a * d(y)/d(a)^T (R / (2 stab(y)))``, the same for ``b``) and element-wise ``mul``
  (Prop. 3.2: ``R_a = R_b = R / 2``). A *gate* — an operand made by ``sigmoid`` or
  ``hardsigmoid`` — gets nothing and the signal takes all (signal-take-all, Arras et al. 2017,
  the LSTM convention): a gate says how much passes, not what, and a uniform split would send
  half of every GELU/GLU/LSTM product back through the gate's logits. A gate times a constant
  (a GRU's reset gate times the bias at the first step) gives the gate nothing either: the
  constant absorbs the relevance;
* **softmax** — in :mod:`.ops` as a *proportional* op: ``R_i = x_i (R_i - s_i sum_j R_j)``
  (Prop. 3.1, the Taylor decomposition at ``x`` with the bias term dropped);
* **LayerNorm / GroupNorm** — the standard deviation is a constant (Prop. 3.4, the identity
  rule on ``1/std``), the centring ``x - mean`` is linear and gets the epsilon rule, the
  element-wise affine ``weight``/``bias`` follows (the bias absorbs its share), as LXT does;
  **RMSNorm** is the identity (:mod:`.ops`);
* **division by an activation** (a norm computed from the input) — the divisor is a constant:
  the relevance goes to the numerator; likewise a product with a *statistic* of an activation
  (``x * rsqrt(mean(x^2) + eps)``, an RMSNorm written out) gives the statistic nothing, and the
  statistic ops themselves (norms, variances) absorb whatever reaches them;
* **scaled dot-product attention** (``aten.scaled_dot_product_attention``) — written out as
  ``softmax(q k^T * scale + mask) v``, each step with the rules above; an additive float mask
  (ALiBi, relative-position bias) absorbs its share of the logits, masked-out (``-inf``)
  positions get none.

Shapes follow the op: attention is (..., L, E) for ``q``, (..., S, E) for ``k``, (..., S, Ev) for ``v``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.fx import Node

from .graph import ratio, sum_to
from .program import UnsupportedLayerError, op_name, where

GATE_OPS = ("sigmoid", "hardsigmoid")
_LOOK_THROUGH = ("view", "_unsafe_view", "reshape", "expand", "unsqueeze", "squeeze", "permute", "transpose",
                 "clone", "contiguous", "alias", "_to_copy", "to", "detach", "dropout")


def is_gate(node: Node) -> bool:
    """Whether ``node`` is the output of a sigmoid (possibly reshaped or copied on the way)."""
    while isinstance(node, Node) and node.op == "call_function":
        name = op_name(node)
        if name in GATE_OPS:
            return True
        if name == "rsub" and not isinstance(node.args[1], Node):  # 1 - gate (a GRU's update gate)
            node = node.args[0]
            continue
        if name not in _LOOK_THROUGH:
            return False
        node = node.args[0]
    return False


STATISTIC_OPS = ("linalg_vector_norm", "norm", "var", "std", "var_mean", "std_mean")
_STATISTIC_STEPS = ("add", "sub", "mul", "div", "rsqrt", "sqrt", "reciprocal", "pow", "clamp", "clamp_min", "mean",
                    "sum", "square", "abs") + _LOOK_THROUGH


def is_statistic(node: Node) -> bool:
    """Whether ``node`` is a statistic of an activation (a norm, a variance, ``rsqrt(mean(x^2) + eps)``):
    a normaliser, which the rules treat as a constant."""
    for _ in range(8):
        if not (isinstance(node, Node) and node.op == "call_function"):
            return False
        name = op_name(node)
        if name in STATISTIC_OPS or name == "mean" and op_name(node.args[0]) in ("pow", "square"):
            return True
        if name not in _STATISTIC_STEPS:
            return False
        node = node.args[0]
    return False


def signal_weights(live: Sequence[Node], constant_operand: bool = False,
                   held: frozenset[Node] = frozenset()) -> dict[Node, float]:
    """The share of a product's relevance each live operand gets: uniform over the operands that
    are neither gates nor statistics nor ``held`` constant (CP-LRP's attention weights). When every
    live operand is one, a constant operand (the signal, e.g. a bias at a recurrence's first step)
    absorbs it all; with no constant, the gates share it uniformly."""
    signals = [n for n in live if not (is_gate(n) or is_statistic(n) or n in held)]
    if not signals and constant_operand:
        return {}
    signals = signals or list(live)
    return {n: 1.0 / len(signals) for n in signals}


def product_backward(node: Node, env: dict, live: list[Node], r: Tensor, vjp, stabilizer: float,
                     held: frozenset[Node] = frozenset()) -> list:
    """Relevance of the live operands of ``mul``/``matmul``/``mm``/``bmm``/``einsum`` (module docstring).

    ``vjp(node, env, live, s)`` gives ``J^T s`` for each live operand (:func:`seqlrp.lrp.ops._vjp`);
    ``held``: live values held constant (CP-LRP), which get nothing.
    """
    operands = [a for a in node.args if isinstance(a, Node)]
    weights = signal_weights(live, constant_operand=len(set(operands)) > len(live), held=held)
    if op_name(node) == "mul":  # a * db/db... : every term of an element-wise product is the output itself
        return [(n, sum_to(w * r, env[n].shape)) for n, w in weights.items()]
    s = ratio(r, env[node], stabilizer)
    grads = vjp(node, env, live, s)
    return [(n, weights[n] * env[n] * g) for n, g in zip(live, grads) if n in weights and g is not None]


def divide_backward(node: Node, env: dict, live: list[Node], r: Tensor) -> list:
    """``a / b`` with ``b`` computed from the input: ``b`` is a constant, ``a`` takes the relevance."""
    numerator = node.args[0]
    if isinstance(numerator, Node) and numerator in live:
        return [(numerator, sum_to(r, env[numerator].shape))]
    return []  # a constant divided by an activation: nothing input-dependent carries relevance on


def _norm_backward(x: Tensor, y: Tensor, r: Tensor, weight: Tensor | None, dims: tuple[int, ...], std: Tensor,
                   stabilizer: float) -> Tensor:
    """``x * J^T (r / stab(y))`` of ``y = (x - mean) / std * weight + bias`` with ``std`` constant."""
    g = ratio(r, y, stabilizer)
    if weight is not None:
        g = g * weight
    g = g / std
    return x * (g - g.mean(dims, keepdim=True))


def layer_norm_backward(node: Node, env: dict, r: Any, stabilizer: float) -> Tensor:
    """Relevance of the input of ``layer_norm``/``native_layer_norm`` (module docstring)."""
    args = list(node.args)
    x = env[args[0]]
    shape = args[1]
    weight = env[args[2]] if len(args) > 2 and isinstance(args[2], Node) else None
    eps = args[4] if len(args) > 4 else node.kwargs.get("eps", 1e-5)
    y = env[node][0] if isinstance(env[node], (tuple, list)) else env[node]
    r = r[0] if isinstance(r, (tuple, list)) else r
    dims = tuple(range(x.dim() - len(shape), x.dim()))
    std = (x.var(dims, unbiased=False, keepdim=True) + eps).sqrt()
    return _norm_backward(x, y, r, weight, dims, std, stabilizer)


def group_norm_backward(node: Node, env: dict, r: Any, stabilizer: float) -> Tensor:
    """Relevance of the input (N, C, *) of ``group_norm``/``native_group_norm`` (module docstring)."""
    args = list(node.args)
    x = env[args[0]]
    if op_name(node) == "native_group_norm":  # (input, weight, bias, N, C, HxW, group, eps)
        weight, groups, eps = args[1], args[6], args[7]
    else:  # (input, num_groups, weight, bias, eps, cudnn_enabled)
        groups = args[1]
        weight = args[2] if len(args) > 2 else node.kwargs.get("weight")
        eps = args[4] if len(args) > 4 else node.kwargs.get("eps", 1e-5)
    weight = env[weight] if isinstance(weight, Node) else None
    y = env[node][0] if isinstance(env[node], (tuple, list)) else env[node]
    r = r[0] if isinstance(r, (tuple, list)) else r
    n, c = x.shape[:2]
    shape = (n, groups, -1)
    xg = x.reshape(shape)
    std = (xg.var(-1, unbiased=False, keepdim=True) + eps).sqrt()
    g = ratio(r, y, stabilizer)
    if weight is not None:
        g = g * weight.reshape((1, c) + (1,) * (x.dim() - 2))
    g = g.reshape(shape) / std
    return (xg * (g - g.mean(-1, keepdim=True))).reshape(x.shape)


def _matmul_split(a: Tensor, b: Tensor, y: Tensor, r: Tensor, share_a: float, share_b: float,
                  stabilizer: float, spare: Tensor | None = None) -> tuple[Tensor | None, Tensor | None]:
    """Relevance of ``a`` and ``b`` in ``y = a @ b`` (epsilon on each term, then the shares; None for
    an operand whose share is 0). The shares are 1 or 1/2, so scaling last is exact. ``spare``: a
    dead tensor shaped like ``y`` that may hold ``r / stab(y)``."""
    s = ratio(r, y, stabilizer, spare if spare is not None and spare.shape == y.shape else None)
    # the products land in place on the new J^T s (shaped like a * it, as its batch dimensions
    # cover a's): a fresh tensor per pass costs more than the pass on attention-sized tensors
    r_a = _share((s @ b.transpose(-2, -1)).mul_(a), share_a) if share_a else None
    r_b = _share((a.transpose(-2, -1) @ s).mul_(b), share_b) if share_b else None
    return r_a, r_b


def _share(t: Tensor, share: float) -> Tensor:
    return t if share == 1.0 else t.mul_(share)


def attention_backward(node: Node, env: dict, live: list[Node], r: Tensor, stabilizer: float,
                       constant_weights: bool = False) -> list:
    """Relevance of ``q``, ``k``, ``v`` in ``scaled_dot_product_attention`` (module docstring);
    ``constant_weights`` (CP-LRP): the attention weights are constants, ``v`` takes all."""
    args = list(node.args)
    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
    params = dict(zip(names, args))
    params.update(node.kwargs)
    if params.get("enable_gqa"):
        raise UnsupportedLayerError(f"LRP: grouped-query attention (enable_gqa) at {where(node)} has no rule yet")
    q_node, k_node, v_node = params["query"], params["key"], params["value"]
    q, k, v = env[q_node], env[k_node], env[v_node]
    scale = params.get("scale") or 1.0 / math.sqrt(q.shape[-1])
    qk = q @ k.transpose(-2, -1)
    content = qk * scale
    logits = content
    mask = params.get("attn_mask")
    mask = env[mask] if isinstance(mask, Node) else mask
    blocked = None  # positions no query may attend to (None: none)
    if params.get("is_causal"):
        blocked = torch.ones(content.shape[-2:], dtype=torch.bool, device=q.device).triu(1).expand_as(content)
    if mask is not None and mask.dtype == torch.bool:
        blocked = ~mask if blocked is None else blocked | ~mask
    elif mask is not None:
        logits = content + mask
    if blocked is not None:
        logits = logits.masked_fill(blocked, float("-inf"))
    weights = torch.softmax(logits, -1)
    is_live = {n: isinstance(n, Node) and n in live for n in (q_node, k_node, v_node)}
    # out = weights @ v: both activations when v is live (the weights always depend on q, k)
    if constant_weights:
        _, r_v = _matmul_split(weights, v, env[node], r, 0.0, 1.0, stabilizer)
        return [(v_node, r_v)] if is_live[v_node] else []
    n_av = 1 + is_live[v_node]
    r_w, r_v = _matmul_split(weights, v, env[node], r, 1.0 / n_av, 1.0 / n_av, stabilizer)
    # softmax (Prop. 3.1); masked positions carry no logit and no relevance
    finite = logits if blocked is None else logits.masked_fill(blocked, 0.0)
    # r_w and weights are ours and done with after this (weights in place where it has r_w's shape:
    # a v with more batch dims than q and k broadcasts r_w larger)
    spread = r_w.sum(-1, keepdim=True)
    spread = weights.mul_(spread) if weights.shape == r_w.shape else weights * spread
    r_logits = r_w.sub_(spread).mul_(finite)
    # logits = content + mask: the additive mask is a constant and absorbs its share
    if mask is None or mask.dtype == torch.bool:
        r_content = r_logits
    else:
        r_content = ratio(r_logits, logits if blocked is None else logits.masked_fill(blocked, 1.0),
                          stabilizer) * content
    # content = scale * q @ k^T: the scale passes relevance unchanged
    n_qk = is_live[q_node] + is_live[k_node]
    # content (and the logits made from it) is no longer needed: its memory takes r_content / stab(qk)
    r_q, r_kt = _matmul_split(q, k.transpose(-2, -1), qk, r_content, 1.0 / max(n_qk, 1), 1.0 / max(n_qk, 1),
                              stabilizer, spare=content)
    found = {q_node: r_q, k_node: r_kt.transpose(-2, -1), v_node: r_v}
    out: dict[Node, Tensor] = {}
    for n, rel in found.items():
        if is_live[n]:
            out[n] = out[n] + rel if n in out else rel  # self-attention on one tensor: q, k, v the same node
    return list(out.items())
