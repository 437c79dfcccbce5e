"""Rules a user supplies for ATen ops: ``relevance(..., op_rules={op: rule})``.

``op`` is the op as a refusal prints it: an overload (``"aten.cumsum.default"``) or its packet
(``"aten.cumsum"``, every overload), a module class (``MyGate``: every op the forward of a module of
that class, or of a subclass, runs, its Conv1d/Linear/BatchNorm layers excepted, which keep the
composite's rules), or an op family's name (``"attention"``: every op of the family). An
overload's entry wins over its packet's, a packet's over a module class's (the innermost module
first), a module class's over a family's. A composite given as a mapping may hold such entries
beside its layer types (``{nn.Conv1d: "zplus", nn.Linear: "epsilon", "attention": "attention-constant",
MyGate: "pass"}``). ``rule`` is one of
the built-in op rules by name (:data:`BUILT_IN`, the families of :mod:`.ops`), or an instance of
:class:`OpRule` whose :meth:`OpRule.relevance` the walk calls at that op. A user's entry also
replaces seqlrp's own rule for an op that has one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn
from torch.fx import Node


BUILT_IN = ("pass", "identity", "scale", "route", "proportional", "sum", "maxpool", "logsumexp", "statistic",
            "attention", "attention-constant")
"""The built-in op rules a user may name (:mod:`.ops`): ``pass`` and ``identity`` (relevance goes
through unchanged), ``scale`` (through, summed over broadcast), ``route`` (back to the entries each
output copies), ``proportional`` (``R_i = x_i * dy_j/dx_i * R_j / y_j``: LRP-0 of a linear map),
``sum`` (each operand its share of the total), ``maxpool`` (winner takes all), ``logsumexp``
(softmax shares), ``statistic`` (a constant: nothing passes, and a product gives it nothing),
``attention`` (``scaled_dot_product_attention`` by AttnLRP) and ``attention-constant`` (the same with
the attention weights held constant: all of it to the values, CP-LRP)."""

ATTN_LRP: dict = {}
"""AttnLRP (Achtibat et al., ICML 2024), seqlrp's default: softmax by its Taylor rule (Prop. 3.1),
products split uniformly, the LayerNorm scale constant, gates signal-take-all. ``op_rules=ATTN_LRP``
is the same as no ``op_rules``."""

_SOFTMAX = ("aten._softmax", "aten.softmax", "aten._safe_softmax")
CP_LRP: dict = {**{op: "statistic" for op in _SOFTMAX}, "aten.scaled_dot_product_attention": "attention-constant"}
"""CP-LRP (Ali et al., ICML 2022, conservative propagation): the attention weights (every softmax)
are constants, so a product of weights and values gives the values all of it, and nothing flows
into the attention logits; with the LayerNorm scale and the gates constant as in AttnLRP, a
bias-free attention model then conserves relevance."""

READY = {"attn-lrp": ATTN_LRP, "cp-lrp": CP_LRP}
"""The ready maps by the names the pipeline takes (``attribute.methods.<name>.op_rules``)."""


class OpRule:
    """Base class of a user's rule for one op.

    Subclass it and implement :meth:`relevance`; give an instance in ``op_rules``::

        class CumsumRule(OpRule):
            def relevance(self, inputs, output, R):
                x = inputs[0]                       # the op's first positional argument
                share = R / output                  # (stabilise where output can be 0)
                return [x * share.flip(-1).cumsum(-1).flip(-1), None]   # nothing for `dim`

        relevance(model, x, 0, op_rules={"aten.cumsum.default": CumsumRule()})
    """

    def relevance(self, inputs: Sequence[Any], output: Tensor, R: Tensor) -> Sequence[Tensor | None]:
        """Relevance of each positional argument of the op.

        Parameters
        ----------
        inputs
            The op's positional arguments as the forward pass recorded them: tensors (the values
            of this batch) or Python values (dims, sizes, flags).
        output
            The op's output.
        R
            The relevance at the output, shaped like ``output``.

        Returns
        -------
        sequence
            One entry per positional argument: a tensor shaped like that argument, or None where
            it gets no relevance (a Python value, a constant tensor).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement relevance(inputs, output, R)")


OpRules = Mapping["str | type[nn.Module]", "str | OpRule"]


def is_module_key(key: Any) -> bool:
    """Whether an ``op_rules`` key is a module class (not a Conv1d/Linear layer type, which a
    composite maps to a layer rule)."""
    return isinstance(key, type) and issubclass(key, nn.Module) and not issubclass(key, (nn.Conv1d, nn.Linear))


def check(op_rules: OpRules | str | None) -> dict:
    """``op_rules`` checked: string keys naming ATen ops, rules built-in names or :class:`OpRule` s;
    a ready map's name (:data:`READY`) stands for the map."""
    if isinstance(op_rules, str):
        if op_rules not in READY:
            raise ValueError(f"op_rules: unknown map {op_rules!r} (ready: {', '.join(READY)})")
        op_rules = READY[op_rules]
    if not op_rules:
        return {}
    checked: dict[str, str | OpRule] = {}
    from .ops import FAMILY_RULES

    for op, rule in op_rules.items():
        usable = [f for f, family in FAMILY_RULES.items() if family.ops and f not in ("affine", "batchnorm")]
        if isinstance(op, type) and issubclass(op, (nn.Conv1d, nn.Linear)):
            raise ValueError(f"op_rules: {op.__name__} is a layer type; its rule belongs in the composite "
                             f"(composite={{nn.Conv1d: ..., nn.Linear: ...}})")
        if not is_module_key(op) and not (isinstance(op, str) and (op.startswith("aten.") or op in usable)):
            raise ValueError(f"op_rules: {op!r} is neither an ATen op as a refusal names it (e.g. 'aten.cumsum.default' "
                             f"or 'aten.cumsum'), a module class, nor an op family ({', '.join(usable)})")
        if isinstance(rule, str):
            if rule not in BUILT_IN:
                raise ValueError(f"op_rules[{op!r}]: unknown rule {rule!r} (built-in: {', '.join(BUILT_IN)}; or an "
                                 f"instance of seqlrp.lrp.OpRule)")
        elif not isinstance(rule, OpRule):
            raise ValueError(f"op_rules[{op!r}]: {rule!r} is neither a built-in rule's name nor a seqlrp.lrp.OpRule")
        checked[op] = rule
    return checked


def key(op_rules: Mapping[str, str | OpRule]) -> tuple:
    """A hashable key of a rule table for the plan cache: which ops get which built-in rule and which
    get a user's rule (of which class); the instances themselves are looked up at every call."""
    def name(op) -> str:
        return op if isinstance(op, str) else f"module {op.__module__}.{op.__qualname__} {id(op)}"

    return tuple(sorted((name(op), rule if isinstance(rule, str) else f"OpRule {type(rule).__qualname__}")
                        for op, rule in op_rules.items()))


def _enclosing_types(node: Node, root: nn.Module | None) -> list[tuple[type | None, str | None]]:
    """The modules whose forward ran ``node``'s op, innermost first, each as (class, recorded
    class name): the class where the capture recorded it or ``root`` (the model) resolves its
    path, the name where the capture recorded a name (an export: ``"pkg.mod.Class"``)."""
    found = []
    for path, kind in reversed(list((node.meta.get("nn_module_stack") or {}).values())):
        if isinstance(kind, type):
            found.append((kind, None))
            continue
        resolved = None
        if root is not None:
            try:
                resolved = type(root.get_submodule(path))
            except (AttributeError, TypeError, ValueError):
                pass
        found.append((resolved, kind if isinstance(kind, str) else None))
    return found


def _is_instance_of(kind: type | None, name: str | None, cls: type) -> bool:
    if kind is not None and issubclass(kind, cls):
        return True
    return name is not None and name in (f"{cls.__module__}.{cls.__qualname__}", cls.__qualname__)


def find_key(node: Node, op_rules: Mapping | None, root: nn.Module | None, is_layer) -> str | type | None:
    """The ``op_rules`` key naming ``node``'s op: its overload, else its packet, else the class of
    the innermost module around it that has one (``root``: the model, to resolve modules the
    capture names by path; ``is_layer(node)``: whether the op is a Conv1d/Linear/BatchNorm layer,
    whose rule is the composite's); None without one."""
    if not op_rules:
        return None
    overload = str(node.target)
    if overload in op_rules:
        return overload
    packet = getattr(node.target, "_overloadpacket", None)
    if packet is not None and str(packet) in op_rules:
        return str(packet)
    classes = [key for key in op_rules if is_module_key(key)]
    if classes:
        if is_layer(node):
            return None
        for kind, name in _enclosing_types(node, root):
            for cls in classes:
                if _is_instance_of(kind, name, cls):
                    return cls
    return None


# built-in rules that are right for some ops only: the ATen op names they take
_ONLY_FOR = {"sum": ("add", "sub", "rsub"), "attention": ("scaled_dot_product_attention",),
             "attention-constant": ("scaled_dot_product_attention",), "logsumexp": ("logsumexp",)}


def check_builtin(node: Node, rule: str, n_live: int, name: str) -> None:
    """Refuse a built-in rule given to an op it cannot handle (one line, naming the op)."""
    from .ops import FAMILY_RULES
    from .program import UnsupportedLayerError, where

    allowed = _ONLY_FOR.get(rule)
    if allowed is not None and name not in allowed:
        raise UnsupportedLayerError(f"op_rules: the {rule!r} rule is for {', '.join(allowed)}, not {node.target} "
                                    f"at {where(node)}")
    if FAMILY_RULES[rule].single_input and n_live != 1:
        raise UnsupportedLayerError(f"op_rules: the {rule!r} rule takes one input-dependent operand; {node.target} "
                                    f"at {where(node)} has {n_live}: give it an OpRule")


def user_backward(rule: OpRule, node: Node, env: dict, live: Sequence[Node], r: Tensor) -> list[tuple[Node, Tensor]]:
    """Call ``rule`` at ``node`` and check what it returns: one entry per positional argument (for
    a list argument, such as ``cat``'s, a list with one entry per element), each live argument's
    shaped like it."""
    from torch.fx.node import map_arg

    args = node.args
    inputs = list(map_arg(args, lambda n: env[n]))
    found = rule.relevance(inputs, env[node], r)
    name = type(rule).__name__
    if not isinstance(found, (list, tuple)) or len(found) != len(args):
        raise ValueError(f"op_rules: {name}.relevance at {node.target} returned "
                         f"{len(found) if isinstance(found, (list, tuple)) else type(found).__name__} entries for its "
                         f"{len(args)} positional arguments")
    out = []
    for arg, rel in zip(args, found):
        if isinstance(arg, (list, tuple)):  # e.g. cat's tensors: one entry per element
            if rel is None:
                continue
            if not isinstance(rel, (list, tuple)) or len(rel) != len(arg):
                raise ValueError(f"op_rules: {name}.relevance at {node.target} returned {type(rel).__name__} for a "
                                 f"list of {len(arg)} arguments: give a list with one entry each")
            pairs = zip(arg, rel)
        else:
            pairs = [(arg, rel)]
        for item, value in pairs:
            if value is None or not (isinstance(item, Node) and item in live):
                continue
            if not isinstance(value, Tensor) or value.shape != env[item].shape:
                raise ValueError(f"op_rules: {name}.relevance at {node.target} returned "
                                 f"{tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__} for an "
                                 f"argument of shape {tuple(env[item].shape)}")
            out.append((item, value))
    return out
