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
    is_gate,
    is_statistic,
    layer_norm_backward,
    product_backward,
)
from .graph import Dense, Pooled, ratio, sum_to
from .program import UnsupportedLayerError, op_name, where
from .recurrent import gru_backward, lstm_backward

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


class OpFamily:
    """The rule of a family of ops: which ATen ops it takes, what the walk must keep for it, and
    its propagation (:meth:`backward`). A new family is one subclass with :func:`register_family`;
    the planner (:mod:`.canonize`) looks ops up in it and the engine asks it what to keep.

    ``keeps``: ``"nothing"``, ``"inputs"`` or ``"inputs and output"`` (the values the backward walk
    reads); ``routing``: it copies entries, so hypothetical contributions pass it and the layers
    right after the input see the input through it; ``copies_constants``: a value computed from
    constants held by op_rules stays one through it; ``single_input``: with more than one
    input-dependent operand it has no rule.
    """

    name: str = ""
    ops: tuple[str, ...] = ()
    keeps: str = "nothing"
    routing: bool = False
    copies_constants: bool = False
    single_input: bool = False

    def kept(self, node: Node) -> str:
        """What the walk keeps for ``node`` (:attr:`keeps`, or depending on the op)."""
        return self.keeps

    def family_of(self, node: Node, live: list[Node]) -> str:
        """The family that explains ``node``, one of this family's ops, given its input-dependent
        operands ``live``: this one, or another where the op is something else here (a ``mul``
        of two activations is a product). Raises UnsupportedLayerError where no rule fits."""
        if self.single_input and len(live) != 1:
            raise UnsupportedLayerError(f"LRP: {node.target} at {where(node)} with input-dependent parameters has no rule")
        return self.name

    def backward(self, node: Node, env: dict, live: list[Node], r: Any, *, stabilizer: float,
                 aux: dict) -> list[tuple[Node, Any]]:
        """Relevance of each live input of ``node`` from ``r`` at its output."""
        raise NotImplementedError(f"op family {self.name!r} has no backward")


FAMILY_RULES: dict[str, OpFamily] = {}
"""Family name -> its rule (:class:`OpFamily`), filled by :func:`register_family`."""
FAMILIES: dict[str, tuple[str, ...]] = {}
"""Family name -> the ATen ops it takes."""
FAMILY_OF: dict[str, str] = {}
"""ATen op name -> its family's name."""


def register_family(cls: type[OpFamily]) -> type[OpFamily]:
    """Class decorator: the family's rule in :data:`FAMILY_RULES` under its ``name``, its ops in
    :data:`FAMILY_OF` (an op another family has is refused). Register before explaining: a
    model's plans are cached with the families they were made with."""
    if cls.name in FAMILY_RULES:
        raise ValueError(f"op family {cls.name!r} is registered already")
    taken = [op for op in cls.ops if op in FAMILY_OF]
    if taken:
        raise ValueError(f"op family {cls.name!r}: {', '.join(taken)} belong to another family already")
    FAMILY_RULES[cls.name] = cls()
    FAMILIES[cls.name] = tuple(cls.ops)
    FAMILY_OF.update({op: cls.name for op in cls.ops})
    return cls


def unregister_family(name: str) -> None:
    """Remove a family registered with :func:`register_family` (its ops then have no rule)."""
    FAMILY_RULES.pop(name)
    for op in FAMILIES.pop(name):
        FAMILY_OF.pop(op, None)


def supported() -> str:
    """``family: op, op; ...`` for the refusal of an op without a rule."""
    return "; ".join(f"{family}: {', '.join(names)}" for family, names in FAMILIES.items() if names)


class _Through(OpFamily):
    """``R_in = R_out`` (summed over what broadcasting added)."""

    def backward(self, node, env, live, r, *, stabilizer, aux):
        (src,) = live
        if isinstance(r, list):  # a batch-norm op that returns (y, saved statistics...)
            r = r[0]
        return [(src, r if _shape(r) == env[src].shape else sum_to(dense(r), env[src].shape))]


@register_family
class Affine(OpFamily):
    """Conv1d/Linear (and mm/matmul/addmm with a constant weight): the composite's rule, which the
    engine applies itself (:mod:`.propagate`)."""

    name = "affine"
    ops = ("conv1d", "convolution", "linear", "addmm", "mm", "matmul")

    def family_of(self, node, live):
        name = op_name(node)
        x_arg = node.args[1] if name == "addmm" else node.args[0]
        if name in ("matmul", "mm") and (len(live) == 2 or not _is_weight(node.args[1])):
            return "product"  # two activations (attention scores), or a constant that is no 2-d weight
        if len(live) != 1 or not (isinstance(x_arg, Node) and x_arg in live):
            raise UnsupportedLayerError(f"LRP: {node.target} at {where(node)} computes its weights from the input; "
                                        "only layers with constant weights can be explained")
        return self.name


def _is_weight(node) -> bool:
    """Whether a constant operand of matmul is a 2-d weight (a Linear layer written as ``x @ w``)."""
    value = node.meta.get("val", node.meta.get("tensor_meta")) if isinstance(node, Node) else node
    shape = getattr(value, "shape", None)
    return shape is None or len(shape) == 2


@register_family
class BatchNorm(_Through):
    name = "batchnorm"
    ops = ("batch_norm", "native_batch_norm", "_native_batch_norm_legit_no_training")


@register_family
class Pass(_Through):
    name = "pass"
    ops = ("relu", "relu6", "elu", "selu", "celu", "gelu", "softplus", "silu", "mish", "sigmoid", "hardsigmoid",
           "tanh", "hardtanh", "exp", "expm1", "log", "log1p", "leaky_relu", "hardswish", "logsigmoid", "neg",
           "clamp", "clamp_min", "clamp_max", "threshold")
    single_input = True


@register_family
class Identity(_Through):
    name = "identity"
    ops = ("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "native_dropout", "clone",
           "contiguous", "alias", "lift_fresh_copy", "_to_copy", "to", "type_as", "detach", "rms_norm")
    routing = True
    copies_constants = True
    single_input = True


@register_family
class Scale(_Through):
    name = "scale"
    ops = ("mul", "div")
    copies_constants = True
    single_input = True  # a mul/div of two activations is a product (family_of)

    def family_of(self, node, live):
        divisor = node.args[1] if len(node.args) > 1 else None
        if op_name(node) == "div" and isinstance(divisor, Node) and divisor in live:
            return "divide"  # a norm computed from the input: a constant (attention.divide_backward)
        if len(live) != 1 or op_name(node) == "mul" and any(is_gate(n) or is_statistic(n) for n in live):
            return "product"  # two activations, or a gate times a constant: the gate takes nothing
        return self.name


@register_family
class Route(OpFamily):
    """Each output entry's relevance back to the entry it copies (the op's vector-Jacobian product)."""

    name = "route"
    ops = ("view", "_unsafe_view", "reshape", "flatten", "unflatten", "permute", "transpose", "t", "squeeze",
           "unsqueeze", "expand", "expand_as", "view_as", "reshape_as", "movedim", "swapaxes", "cat", "concat",
           "stack", "split", "split_with_sizes", "unsafe_split", "chunk", "tensor_split", "unbind", "slice",
           "select", "index", "index_select", "narrow", "pad", "constant_pad_nd", "flip", "roll", "repeat",
           "repeat_interleave", "upsample_nearest1d", "_upsample_nearest_exact1d", "upsample_linear1d",
           "upsample_nearest2d", "tile")
    keeps = "inputs"
    routing = True
    copies_constants = True

    def backward(self, node, env, live, r, *, stabilizer, aux):
        return [(n, g) for n, g in zip(live, _vjp(node, env, live, dense(r))) if g is not None]


@register_family
class Proportional(OpFamily):
    """``R_i = x_i * dy_j/dx_i * R_j / stab(y_j)``."""

    name = "proportional"
    ops = ("avg_pool1d", "adaptive_avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "mean", "sum", "softmax",
           "_softmax", "_safe_softmax", "conv2d", "conv_transpose1d")
    keeps = "inputs and output"
    single_input = True

    def backward(self, node, env, live, r, *, stabilizer, aux):
        (src,) = live
        s = ratio(dense(r), env[node], stabilizer)
        (g,) = _vjp(node, env, live, s)
        return [(src, env[src] * g)]


@register_family
class Product(OpFamily):
    """Products of two activations (:func:`.attention.product_backward`)."""

    name = "product"
    ops = ("bmm", "einsum")
    keeps = "inputs and output"

    def backward(self, node, env, live, r, *, stabilizer, aux):
        return product_backward(node, env, live, dense(r), _vjp, stabilizer, aux.get(HELD, frozenset()))


@register_family
class Divide(OpFamily):
    """Division by an activation: the divisor is a constant (:func:`.attention.divide_backward`)."""

    name = "divide"

    def backward(self, node, env, live, r, *, stabilizer, aux):
        return divide_backward(node, env, live, dense(r))


@register_family
class LayerNorm(OpFamily):
    name = "layernorm"
    ops = ("layer_norm", "native_layer_norm", "group_norm", "native_group_norm")
    keeps = "inputs and output"
    single_input = True

    def backward(self, node, env, live, r, *, stabilizer, aux):
        (src,) = live
        is_group = op_name(node) in ("group_norm", "native_group_norm")
        return [(src, (group_norm_backward if is_group else layer_norm_backward)(node, env, dense(r), stabilizer))]


@register_family
class Attention(OpFamily):
    name = "attention"
    ops = ("scaled_dot_product_attention",)
    keeps = "inputs and output"
    constant_weights = False

    def backward(self, node, env, live, r, *, stabilizer, aux):
        return attention_backward(node, env, live, dense(r), stabilizer, constant_weights=self.constant_weights)


@register_family
class AttentionConstant(Attention):
    """Attention with its weights held constant (CP-LRP: :data:`.op_rules.CP_LRP`)."""

    name = "attention-constant"
    ops = ()
    constant_weights = True


@register_family
class Recurrent(OpFamily):
    name = "lstm"
    ops = ("lstm", "gru")
    keeps = "inputs and output"

    def backward(self, node, env, live, r, *, stabilizer, aux):
        rule = gru_backward if op_name(node) == "gru" else lstm_backward
        return [(node.args[0], rule(node, env, dense(r), stabilizer))]


@register_family
class Statistic(OpFamily):
    """A normaliser: a constant to the rules, it passes nothing on."""

    name = "statistic"
    ops = ("linalg_vector_norm", "norm", "var", "std", "var_mean", "std_mean", "rsqrt", "sqrt", "reciprocal",
           "pow", "square")

    def backward(self, node, env, live, r, *, stabilizer, aux):
        return []


@register_family
class Sum(OpFamily):
    """add/sub: each operand ``(+-)operand * R / stab(out)``."""

    name = "sum"
    ops = ("add", "sub", "rsub")
    keeps = "inputs and output"

    def backward(self, node, env, live, r, *, stabilizer, aux):
        s = ratio(dense(r), env[node], stabilizer)
        terms = _sum_terms(node, live)
        out = []
        for i, (n, coef) in enumerate(terms):
            if coef not in (1.0, -1.0):
                term = coef * env[n] * s
            else:  # (+-1 * x) * s = +-(x * s) exactly; the last term takes s's memory (s is ours)
                term = s.mul_(env[n]) if i == len(terms) - 1 else env[n] * s
                term = term.neg_() if coef == -1.0 else term
            out.append((n, sum_to(term, env[n].shape)))
        return out


@register_family
class MaxPool(OpFamily):
    """Winner takes all: ``max_pool1d`` keeps its winners (:class:`.graph.Pooled`), the others
    route through their vector-Jacobian product."""

    name = "maxpool"
    ops = ("max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool2d_with_indices", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "amax", "max")

    def kept(self, node):
        return "nothing" if op_name(node) == "max_pool1d" else "inputs"

    def backward(self, node, env, live, r, *, stabilizer, aux):
        if node in aux and not isinstance(r, list):
            (src,) = live
            return [(src, Pooled(dense(r), aux[node], env[src].shape))]
        return [(n, g) for n, g in zip(live, _vjp(node, env, live, dense(r))) if g is not None]


@register_family
class LogSumExp(OpFamily):
    """``R_i = softmax(x)_i * R``."""

    name = "logsumexp"
    ops = ("logsumexp",)
    keeps = "inputs"
    single_input = True

    def backward(self, node, env, live, r, *, stabilizer, aux):
        (src,) = live
        r = dense(r)
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        keep = (node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False))
        x = env[src]
        dims = [d % x.dim() for d in (dims if isinstance(dims, (list, tuple)) else [dims])]
        if not keep:
            for d in sorted(dims):
                r = r.unsqueeze(d)
        weight = (x - torch.logsumexp(x, dims, keepdim=True)).exp()
        return [(src, weight * r)]


def backward(family: str, node: Node, env: dict, live: list[Node], r: Any, *, stabilizer: float,
             aux: dict) -> list[tuple[Node, Any]]:
    """Relevance of each live input of ``node`` by its family's rule (not affine: the engine does those)."""
    return FAMILY_RULES[family].backward(node, env, live, r, stabilizer=stabilizer, aux=aux)


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
