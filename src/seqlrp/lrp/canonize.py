"""Where the rules go on a captured graph: the plan of one explanation, BatchNorm folded.

:func:`plan` reads a :class:`~.program.Program` once per explained output and finds

* the ops on the way from the input to that output (``order``; the rest is never run) and the
  family of each (:mod:`.ops`); an op without a rule raises :class:`UnsupportedLayerError`
  naming the op, its module path and source line, and the supported ops;
* the Conv1d/Linear ops (``affines``) and the **input layers**, those that see the input
  through routing ops only (they get ``input_rule``, are never pruned and give the
  hypothetical contributions);
* the BatchNorms to fold: a BatchNorm whose input is a Conv1d/Linear op that feeds nothing else
  (along the real data flow, not registration order) is folded into it with Zennit's formula
  ``w' = w * g / sqrt(var + eps)``, ``b' = (b - mean) * g / sqrt(var + eps) + beta``; any other
  BatchNorm is applied with its running statistics and passes relevance through (Zennit's
  ``Pass``).

Zennit's merge leaves a folded BatchNorm in place as "identity" (mean 0, var 1, weight 1, bias
0), which still divides by ``sqrt(1 + eps)``. By default (``exact_batchnorm=False``) a folded
BatchNorm keeps that step too: relevance then equals Zennit's to float32 rounding even where
epsilon-LRP is ill-conditioned (ELU/Exp networks), at the price of explaining a function that
differs from the model by a factor ``1/sqrt(1 + eps)`` (5e-6 at PyTorch's default eps) per
BatchNorm. ``exact_batchnorm=True`` folds exactly. Folded parameters are new tensors: nothing
of the caller's model changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.fx import Node

from .graph import Affine
from .op_rules import BUILT_IN, check_builtin, find_key
from .op_rules import key as rules_key
from .ops import CONSTANT_OPS, FAMILY_OF, FAMILY_RULES, op_name, supported
from .program import Program, UnsupportedLayerError, module_path, where

__all__ = ["Plan", "UnsupportedLayerError", "batchnorm_forward", "fold", "logit_of", "make_affine", "plan"]



@dataclass
class Plan:
    """What an explanation of one output of a program needs (see the module docstring)."""

    output: Node
    order: list[Node]
    live: set[Node]
    family: dict[Node, str]
    affines: list[Node]
    paths: dict[Node, str]
    folds: dict[Node, Node]  # batchnorm -> the affine it folds into
    input_layers: set[Node]
    hyp_ok: bool
    layer_inputs: list[tuple[str, Node, Node]] = field(default_factory=list)  # (module path, input, first op)
    user_rules: dict = field(default_factory=dict)  # node -> the op_rules key of its user's OpRule (family "user")
    held: frozenset = frozenset()  # live values op_rules hold constant ("statistic"), and copies of them


def _live_inputs(node: Node, live: set[Node]) -> list[Node]:
    return [n for n in node.all_input_nodes if n in live]


def _family(node: Node, live: set[Node], op_rules=None, chosen_keys: dict | None = None, root=None) -> str:
    """The family of ``node``: the user's rule for its op (``op_rules``: by overload, packet or the
    class of a module around it (``root``: the model), then by the family the op falls in), else
    seqlrp's. ``chosen_keys`` records the ``op_rules`` key that chose each node's rule."""
    name = op_name(node)
    if name == "getitem":
        return "getitem"
    key = find_key(node, op_rules, root, lambda n: _is_layer(n, live))
    if key is None:
        family = _default_family(node, live, name)
        key = family if op_rules and family in op_rules else None
        if key is None:
            return family
    if chosen_keys is not None:
        chosen_keys[node] = key
    chosen = op_rules[key]
    if not isinstance(chosen, str):
        return "user"
    check_builtin(node, chosen, len(_live_inputs(node, live)), name)
    return chosen


def _is_layer(node: Node, live: set[Node]) -> bool:
    """Whether ``node`` is a Conv1d/Linear/BatchNorm layer (the composite's rule applies, not a
    module class's in op_rules): a matmul of two activations is a product, no layer."""
    family = FAMILY_OF.get(op_name(node))
    if family not in ("affine", "batchnorm"):
        return False
    try:
        return FAMILY_RULES[family].family_of(node, _live_inputs(node, live)) == family
    except UnsupportedLayerError:
        return False


def _default_family(node: Node, live: set[Node], name: str) -> str:
    """seqlrp's family for ``node``: its op's family, which may pass it to another given its
    input-dependent operands (:meth:`~.ops.OpFamily.family_of`)."""
    family = FAMILY_OF.get(name)
    if family is None:
        raise UnsupportedLayerError(
            f"LRP: no rule for op {node.target} at {where(node)} (supported: {supported()}); give it one: "
            f"relevance(..., op_rules={{'{node.target}': 'proportional'}}) with a built-in rule "
            f"({', '.join(BUILT_IN)}) or an instance of seqlrp.lrp.OpRule")
    return FAMILY_RULES[family].family_of(node, _live_inputs(node, live))


def _held(order: list[Node], live: set[Node], family: dict[Node, str], op_rules, chosen_keys: dict) -> frozenset:
    """The live values ``op_rules`` make constants (an op given ``"statistic"``, CP-LRP's softmax),
    and what only reshapes or copies them: a product gives them nothing (:mod:`.attention`)."""
    held: set[Node] = set()
    if not op_rules:
        return frozenset()
    for node in order:
        if node not in live:
            continue
        key = chosen_keys.get(node)  # an op's or module's own key (a family's name does not hold)
        if family.get(node) == "statistic" and key is not None and key not in FAMILY_RULES:
            held.add(node)
        elif family.get(node) == "getitem" and node.args[0] in held:  # a piece of a held value (split, chunk)
            held.add(node)
        elif _copies_constants(family.get(node)) and _live_inputs(node, live) and all(
                n in held for n in _live_inputs(node, live)):
            held.add(node)
    return frozenset(held)


def _routing(family: str | None) -> bool:
    """Whether a family only copies entries (hypothetical contributions pass it)."""
    return family in FAMILY_RULES and FAMILY_RULES[family].routing


def _copies_constants(family: str | None) -> bool:
    return family in FAMILY_RULES and FAMILY_RULES[family].copies_constants


def _ancestors(output: Node) -> set[Node]:
    seen, stack = set(), [output]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(node.all_input_nodes)
    return seen


def _is_affine_x(node: Node, src: Node) -> bool:
    """Whether ``src`` is the data input (not the weight) of the affine op ``node``."""
    return (node.args[1] if op_name(node) == "addmm" else node.args[0]) is src


SQUASHING = ("sigmoid", "softmax", "_softmax", "log_softmax", "_log_softmax")
"""Output activations under which the logits are explained (as for gradients, explaining the
probability's logit avoids the sigmoid's saturation)."""


def logit_of(output: Node) -> Node:
    """The node explained for a model output: the logits under a final sigmoid/softmax."""
    while output.op == "call_function" and op_name(output) in SQUASHING:
        output = output.args[0]
    return output


def plan(program: Program, output: Node, op_rules=None) -> Plan:
    """The :class:`Plan` of explaining ``output`` (a node of ``program.graph``; a final
    sigmoid/softmax is looked through, :func:`logit_of`) with the user's ``op_rules``
    (:mod:`.op_rules`, checked), cached."""
    output = logit_of(output)
    cache_key = (output, rules_key(op_rules)) if op_rules else output
    cached = program.analysis.get(cache_key)
    if cached is not None:
        return cached
    needed = _ancestors(output)
    root = program.owner() if callable(program.owner) else None  # the model, to resolve module classes
    live = {program.input}
    order, family, chosen_keys = [], {}, {}
    for node in program.graph.nodes:
        if node not in needed or node.op != "call_function":
            continue
        order.append(node)
        if op_name(node) in CONSTANT_OPS or op_name(node) == "detach":
            continue  # a shape, or a tensor treated as a constant
        if _live_inputs(node, live):
            live.add(node)
            family[node] = _family(node, live, op_rules, chosen_keys, root)
    if output not in live:
        raise ValueError("the explained output does not depend on the model's input")
    users = {n: [u for u in n.users if u in needed] for n in live}
    affines = [n for n in order if family.get(n) == "affine"]
    paths, seen = {}, {}
    for node in affines:
        path = module_path(node) or node.name
        seen[path] = seen.get(path, 0) + 1
        paths[node] = path if seen[path] == 1 else f"{path}#{seen[path]}"
    folds = {}
    for node in order:
        if family.get(node) != "batchnorm":
            continue
        src = node.args[0]
        if family.get(src) == "affine" and len(users[src]) == 1:
            folds[node] = src
    # the input layers: affines reached from the input through routing ops only
    near = {program.input}
    for node in order:
        if _routing(family.get(node)) and all(n in near for n in _live_inputs(node, live)):
            near.add(node)
    input_layers = {n for n in affines if any(_is_affine_x(n, s) for s in _live_inputs(n, live) if s in near)}
    hyp_ok = bool(input_layers) and all(
        u in near or u in input_layers for n in near for u in users.get(n, [])
    )
    if not input_layers and affines:
        input_layers = {affines[0]}
    result = Plan(output, order, live, family, affines, paths, folds, input_layers, hyp_ok)
    result.layer_inputs = _layer_inputs(result, program)
    result.user_rules = {node: key for node, key in chosen_keys.items() if family[node] == "user"}
    result.held = _held(order, live, family, op_rules, chosen_keys)
    program.analysis[cache_key] = result
    return result


def _layer_inputs(p: Plan, program: Program) -> list[tuple[str, Node, Node]]:
    """(module path, the node that feeds the module) from the output down, as ``return_layers``
    reports them: every module on the explained path (an op of the top level: its node name)."""
    found: dict[str, tuple[Node, Node]] = {}
    for node in reversed(p.order):
        if node not in p.live:
            continue
        srcs = _live_inputs(node, p.live)
        if not srcs:
            continue
        stack = node.meta.get("nn_module_stack") or {}
        paths = [v[0] for v in stack.values() if v[0]] or [node.name]
        for path in reversed(paths):
            src = srcs[0]
            src_paths = {v[0] for v in (src.meta.get("nn_module_stack") or {}).values()}
            if path not in found and path not in src_paths:
                found[path] = (src, node)
    return [(path, src, node) for path, (src, node) in found.items()]


# -- building the affine layers of one call ----------------------------------------------------
def _ints(v, n: int = 1) -> list[int]:
    return [int(i) for i in v] if isinstance(v, (list, tuple)) else [int(v)] * n


def make_affine(node: Node, env: dict, path: str) -> Affine:
    """The :class:`~.graph.Affine` of a conv1d/convolution/linear/addmm/mm/matmul op, its
    parameters read from ``env`` (already cast to the input's dtype and device)."""
    name = op_name(node)
    args = list(node.args)

    def arg(i: int, key: str, default=None):
        if len(args) > i:
            return args[i]
        return node.kwargs.get(key, default)

    def value(v):
        return env[v] if isinstance(v, Node) else v

    if name in ("linear", "mm", "matmul", "addmm"):
        if name == "linear":
            weight, bias = value(arg(1, "weight")), value(arg(2, "bias"))
        elif name == "addmm":
            if float(node.kwargs.get("beta", 1)) != 1 or float(node.kwargs.get("alpha", 1)) != 1:
                raise UnsupportedLayerError(f"LRP: addmm with beta/alpha other than 1 at {where(node)}")
            bias, weight = value(args[0]), value(args[2]).t()
        else:
            weight, bias = value(args[1]), None
            if weight.dim() != 2:
                raise UnsupportedLayerError(f"LRP: {node.target} with a {weight.dim()}-d constant at {where(node)}; only a 2-d weight is a Linear layer")
            weight = weight.t()
        if bias is not None and bias.dim() != 1:
            raise UnsupportedLayerError(f"LRP: {node.target} at {where(node)} adds a bias of shape {tuple(bias.shape)}, not one per output")
        return Affine(path, weight=weight, bias=bias, conv=False, kind=nn.Linear)
    weight, bias = value(arg(1, "weight")), value(arg(2, "bias"))
    if name == "convolution":
        stride, padding, dilation = args[3], args[4], args[5]
        if args[6]:
            raise UnsupportedLayerError(f"LRP: transposed convolution at {where(node)} has no rule")
        groups = args[8]
    else:
        stride, padding, dilation, groups = arg(3, "stride", [1]), arg(4, "padding", [0]), arg(5, "dilation", [1]), arg(6, "groups", 1)
    if weight.dim() != 3:
        raise UnsupportedLayerError(f"LRP: {weight.dim() - 2}-d convolution at {where(node)}; only Conv1d has a rule")
    (stride,), (dilation,) = _ints(stride)[:1], _ints(dilation)[:1]
    if isinstance(padding, str):  # "valid" or "same" (stride 1): the odd pad goes on the right
        total = 0 if padding == "valid" else dilation * (weight.shape[-1] - 1)
        pad = (total // 2, total - total // 2)
    else:
        pad = (_ints(padding)[0],) * 2
    return Affine(path, weight=weight, bias=bias, conv=True, stride=stride, pad=pad, dilation=dilation,
                  groups=int(groups), kind=nn.Conv1d)


def _bn_args(node: Node, env: dict) -> tuple[Tensor | None, Tensor | None, Tensor, Tensor, float]:
    """(weight, bias, running mean, running var, eps) of a batch_norm op."""
    args = [None] + [env[a] if isinstance(a, Node) else a for a in node.args[1:]]
    if op_name(node) in ("batch_norm", "native_batch_norm"):  # (..., training, momentum, eps[, cudnn])
        _, weight, bias, mean, var, _, _, eps = args[:8]
    else:  # _native_batch_norm_legit_no_training(input, weight, bias, mean, var, momentum, eps)
        _, weight, bias, mean, var, _, eps = args[:7]
    if mean is None or var is None:
        raise UnsupportedLayerError(
            f"LRP: BatchNorm at {where(node)} has no running statistics (track_running_stats=False); "
            "it cannot be folded or evaluated per sample"
        )
    return weight, bias, mean, var, float(eps)


def fold(affine: Affine, bn: Node, env: dict) -> None:
    """Fold the batch_norm op ``bn`` into ``affine`` (new tensors)."""
    weight, bias, mean, var, eps = _bn_args(bn, env)
    gamma = weight if weight is not None else torch.ones_like(mean)
    beta = bias if bias is not None else torch.zeros_like(mean)
    if mean.numel() != affine.weight.shape[0]:
        raise UnsupportedLayerError(f"LRP: BatchNorm at {where(bn)} has {mean.numel()} channels, its input {affine.weight.shape[0]}")
    scale = gamma / (var + eps) ** 0.5
    index = (slice(None),) + (None,) * (affine.weight.dim() - 1)
    affine.weight = affine.weight * scale[index]
    b = affine.bias if affine.bias is not None else torch.zeros_like(mean)
    affine.bias = (b - mean) * scale + beta


def batchnorm_forward(node: Node, env: dict, x: Tensor, folded: bool, exact: bool):
    """The value of a batch_norm op: with running statistics, or, folded, ``x`` itself
    (``exact``) or Zennit's remaining identity step ``x / sqrt(1 + eps)``."""
    weight, bias, mean, var, eps = _bn_args(node, env)
    if folded:
        if exact:
            y = x
        else:
            zeros, ones = torch.zeros_like(mean), torch.ones_like(mean)
            y = F.batch_norm(x, zeros, ones, ones, zeros, False, 0.0, eps)
    else:
        y = F.batch_norm(x, mean, var, weight, bias, False, 0.0, eps)
    if op_name(node) == "batch_norm":
        return y
    empty = x.new_zeros(0)
    return (y, empty, empty)
