"""Relevance rules of the graph's ops (everything but Conv1d/Linear, whose rules live in
:mod:`.propagate`), keyed by the ATen op name.

Every op of a captured forward (:mod:`.capture`) that lies on the way from the input to the
explained output falls in one family; the family says how relevance ``R`` at the op's output
moves to its inputs (``stab``: the stabiliser, sign-aware as in :func:`.graph.stabilize`):

=============  =============================================================================
family         rule
=============  =============================================================================
affine         conv1d (any padding, stride, dilation, groups), linear, addmm/mm/matmul with a
               constant weight: the composite's rule (:mod:`.propagate`), BatchNorm folded in
batchnorm      folded into the Conv1d/Linear that produces its input when that op feeds
               nothing else; otherwise applied with running statistics, relevance passed
pass           element-wise activations and other monotone maps (relu, elu, gelu, softplus,
               silu, sigmoid, tanh, exp, log, leaky_relu, ...): ``R_in = R_out``
identity       dropout (evaluation), clone, contiguous, alias, dtype casts: ``R_in = R_out``
scale          multiplying or dividing by a constant: ``R_in = R_out`` (summed over broadcast)
route          view, reshape, flatten, permute, transpose, (un)squeeze, expand, cat, stack,
               split, chunk, unbind, slice, select, index, narrow, pad, flip, roll, repeat:
               each output entry's relevance goes back to the entry it copies
proportional   average pools, mean and sum over dimensions:
               ``R_i = x_i * d(y_j)/d(x_i) * R_j / stab(y_j)``
sum            add/sub of two tensors (the residual rule): each operand gets
               ``(+-)operand * R / stab(out)``; a constant operand (bias, offset) absorbs its
               share
maxpool        max-pool (1d, 2d, adaptive), amax, max over a dim: the winner takes all
logsumexp      ``R_i = softmax(x)_i * R``: each input gets its share of the summed exponentials
               (ChromBPNet's count head, ``logsumexp`` of the bias and accessibility counts,
               gives each model the fraction of the predicted counts it makes)
=============  =============================================================================

A tensor behind ``detach()`` is a constant (as for gradients): BPNet's softmax weights. Ops that
depend on the input only through a constant shape (``sym_size``) are constants too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.fx import Node
from torch.fx.node import map_arg

from .attention import (
    attention_backward,
    divide_backward,
    group_norm_backward,
    layer_norm_backward,
    product_backward,
)
from .graph import Dense, Pooled, ratio, sum_to
from .program import op_name
from .recurrent import gru_backward, lstm_backward

FAMILIES: dict[str, tuple[str, ...]] = {
    "affine": ("conv1d", "convolution", "linear", "addmm", "mm", "matmul"),
    "batchnorm": ("batch_norm", "native_batch_norm", "_native_batch_norm_legit_no_training"),
    "pass": (
        "relu", "relu6", "elu", "selu", "celu", "gelu", "softplus", "silu", "mish", "sigmoid", "hardsigmoid",
        "tanh", "hardtanh", "exp", "expm1", "log", "log1p", "leaky_relu", "hardswish", "logsigmoid", "neg",
        "clamp", "clamp_min", "clamp_max", "threshold",
    ),
    "identity": (
        "dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "native_dropout", "clone",
        "contiguous", "alias", "lift_fresh_copy", "_to_copy", "to", "type_as", "detach", "rms_norm",
    ),
    "scale": ("mul", "div"),
    "route": (
        "view", "_unsafe_view", "reshape", "flatten", "unflatten", "permute", "transpose", "t", "squeeze",
        "unsqueeze", "expand", "expand_as", "view_as", "reshape_as", "movedim", "swapaxes", "cat", "concat",
        "stack", "split", "split_with_sizes", "unsafe_split", "chunk", "tensor_split", "unbind", "slice",
        "select", "index", "index_select", "narrow", "pad", "constant_pad_nd", "flip", "roll", "repeat",
        "repeat_interleave", "upsample_nearest1d", "_upsample_nearest_exact1d", "upsample_linear1d", "upsample_nearest2d",
        "tile",
    ),
    "proportional": (
        "avg_pool1d", "adaptive_avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "mean", "sum", "softmax", "_softmax",
        "_safe_softmax", "conv2d", "conv_transpose1d",
    ),
    "product": ("bmm", "einsum"),
    "divide": (),
    "layernorm": ("layer_norm", "native_layer_norm", "group_norm", "native_group_norm"),
    "attention": ("scaled_dot_product_attention",),
    "lstm": ("lstm", "gru"),
    "statistic": ("linalg_vector_norm", "norm", "var", "std", "var_mean", "std_mean", "rsqrt", "sqrt", "reciprocal",
                  "pow", "square"),
    "sum": ("add", "sub", "rsub"),
    "maxpool": (
        "max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool2d_with_indices", "adaptive_max_pool1d",
        "adaptive_max_pool2d", "amax", "max",
    ),
    "logsumexp": ("logsumexp",),
}
FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names}
SUPPORTED = "; ".join(f"{family}: {', '.join(names)}" for family, names in FAMILIES.items())
HELD = "held constant"
"""Key of ``aux`` (:func:`backward`): the live values the rules hold constant (CP-LRP's attention weights)."""
CONSTANT_OPS = ("sym_size", "sym_numel", "sym_stride", "size", "_assert_tensor_metadata", "_assert_scalar", "zeros_like",
                "ones_like", "empty_like", "full_like", "new_zeros", "new_ones", "new_empty", "new_full")
"""Ops whose result is not a tensor on the way to the output: never given relevance."""


def functional(node: Node) -> Callable:
    """The callable that computes ``node`` without mutating its inputs."""
    target = node.target
    packet = getattr(target, "_overloadpacket", None)
    if packet is not None and packet.__name__ != op_name(node):
        base = getattr(torch.ops.aten, op_name(node))
        return getattr(base, target._overloadname, base.default)
    return target


def call(node: Node, env: dict, override: dict | None = None) -> Any:
    """Run ``node`` on the values in ``env`` (``override``: other values for some inputs)."""
    def look(n: Node):
        return override[n] if override is not None and n in override else env[n]

    return functional(node)(*map_arg(node.args, look), **map_arg(node.kwargs, look))


def _flat_tensors(value: Any) -> list[Tensor]:
    return [v for v in (value if isinstance(value, (tuple, list)) else [value]) if isinstance(v, Tensor)]


def _vjp(node: Node, env: dict, live: Sequence[Node], r: Any) -> list[Tensor | None]:
    """``J^T r`` of the op at ``node`` for each live input (``r`` like the op's output; a list
    for ops that return several tensors, None entries meaning zero)."""
    with torch.enable_grad():
        leaves = {n: env[n].detach().requires_grad_(True) for n in live}
        out = call(node, env, leaves)
        outs = _flat_tensors(out)
        rs = r if isinstance(r, (tuple, list)) else [r]
        pairs = [(o, g) for o, g in zip(outs, rs) if g is not None and o.is_floating_point()]
        if not pairs:
            return [None] * len(live)
        grads = torch.autograd.grad([o for o, _ in pairs], list(leaves.values()), [g for _, g in pairs], allow_unused=True)
    return list(grads)


def _shape(r: Any) -> torch.Size:
    """The full shape of a relevance (a :class:`.graph.Pooled` holder stands for its full tensor)."""
    return r.shape if isinstance(r, Pooled) else r.values.shape if isinstance(r, Dense) else r.shape


def dense(r: Any) -> Any:
    if isinstance(r, Dense):
        return r.dense()
    if isinstance(r, list):
        return [dense(v) for v in r]
    return r


def backward(family: str, node: Node, env: dict, live: list[Node], r: Any, *, stabilizer: float,
             aux: dict) -> list[tuple[Node, Any]]:
    """Relevance of each live input of ``node`` (not affine/batchnorm: the engine does those)."""
    if family in ("pass", "identity", "batchnorm", "scale"):
        (src,) = live
        if isinstance(r, list):  # a batch-norm op that returns (y, saved statistics...)
            r = r[0]
        return [(src, r if _shape(r) == env[src].shape else sum_to(dense(r), env[src].shape))]
    if family == "maxpool" and node in aux and not isinstance(r, list):
        (src,) = live
        return [(src, Pooled(dense(r), aux[node], env[src].shape))]
    r = dense(r)
    if family in ("route", "maxpool"):
        return [(n, g) for n, g in zip(live, _vjp(node, env, live, r)) if g is not None]
    if family == "proportional":
        (src,) = live
        s = ratio(r, env[node], stabilizer)
        (g,) = _vjp(node, env, live, s)
        return [(src, env[src] * g)]
    if family == "sum":
        s = ratio(r, env[node], stabilizer)
        return [(n, sum_to(coef * env[n] * s, env[n].shape)) for n, coef in _sum_terms(node, live)]
    if family == "product":
        return product_backward(node, env, live, r, _vjp, stabilizer, aux.get(HELD, frozenset()))
    if family == "statistic":
        return []  # a normaliser: a constant to the rules, it passes nothing on
    if family == "divide":
        return divide_backward(node, env, live, r)
    if family == "layernorm":
        (src,) = live
        is_group = op_name(node) in ("group_norm", "native_group_norm")
        rel = (group_norm_backward if is_group else layer_norm_backward)(node, env, r, stabilizer)
        return [(src, rel)]
    if family in ("attention", "attention-constant"):
        return attention_backward(node, env, live, r, stabilizer, constant_weights=family == "attention-constant")
    if family == "lstm":
        rule = gru_backward if op_name(node) == "gru" else lstm_backward
        return [(node.args[0], rule(node, env, r, stabilizer))]
    if family == "logsumexp":
        (src,) = live
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        keep = (node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False))
        x = env[src]
        dims = [d % x.dim() for d in (dims if isinstance(dims, (list, tuple)) else [dims])]
        if not keep:
            for d in sorted(dims):
                r = r.unsqueeze(d)
        weight = (x - torch.logsumexp(x, dims, keepdim=True)).exp()
        return [(src, weight * r)]
    raise AssertionError(family)


def _sum_terms(node: Node, live: list[Node]) -> list[tuple[Node, float]]:
    """(operand, coefficient) of ``out = sum coefficient * operand`` for add/sub/rsub."""
    name = op_name(node)
    alpha = float(node.kwargs.get("alpha", node.args[2] if len(node.args) > 2 else 1))
    first, second = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
    coefs = {"add": (1.0, alpha), "sub": (1.0, -alpha), "rsub": (-alpha, 1.0)}[name]
    terms = []
    for operand, coef in zip((first, second), coefs):
        if isinstance(operand, Node) and operand in live:
            terms.append((operand, coef))
    if first is second and terms:  # x + x
        terms = [(terms[0][0], sum(coefs))]
    return terms


def maxpool1d_with_winners(node: Node, env: dict) -> tuple[Tensor, Tensor]:
    """``aten.max_pool1d`` computed with the winners' indices (for :class:`.graph.Pooled`)."""
    args = list(map_arg(node.args, lambda n: env[n]))
    kwargs = dict(map_arg(node.kwargs, lambda n: env[n]))
    names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
    params = dict(zip(names, args))
    params.update(kwargs)
    if params.get("stride") in ([], ()):
        params["stride"] = None
    y, idx = F.max_pool1d(params.pop("input"), return_indices=True, **params)
    return y, idx
