"""Composites: which rule each layer type gets, plus the input-layer override.

=================  ==================  =======================
composite          Conv1d              Linear
=================  ==================  =======================
``epsilon``        epsilon             epsilon
``epsilon-plus``   z+                  epsilon
``epsilon-gamma``  gamma (0.25)        epsilon
``alpha2beta1``    alpha=2, beta=1     epsilon
=================  ==================  =======================

These are Zennit's ``EpsilonPlus``, ``EpsilonAlpha2Beta1`` and the layer map of
``EpsilonGammaBox`` (whose first-layer z-box is ``input_rule="zbox"`` here). A custom composite
is a mapping ``{nn.Conv1d: rule, nn.Linear: rule}`` of :class:`~seqlrp.lrp.rules.Rule` objects
or rule names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import nn

from .graph import Affine
from .op_rules import is_module_key
from .rules import Rule, make_rule

LayerMap = Mapping[type, Rule | str]

COMPOSITES: dict[str, Callable[..., dict[type, Rule | str]]] = {
    "epsilon": lambda: {nn.Conv1d: "epsilon", nn.Linear: "epsilon"},
    "epsilon-plus": lambda: {nn.Conv1d: "zplus", nn.Linear: "epsilon"},
    "epsilon-gamma": lambda: {nn.Conv1d: "gamma", nn.Linear: "epsilon"},
    "alpha2beta1": lambda: {nn.Conv1d: "alpha2beta1", nn.Linear: "epsilon"},
}
"""Composite name -> layer map (rule names are resolved with the call's epsilon and gamma)."""


def split_composite(composite: str | Mapping) -> dict:
    """The op rules a composite maps (its string keys: an op family's name, e.g. ``"attention"``, or
    an ATen op, e.g. ``"aten.cumsum"``; its module classes other than Conv1d/Linear; see
    :mod:`.op_rules`): empty for a named composite."""
    if isinstance(composite, str):
        return {}
    return {key: rule for key, rule in composite.items() if isinstance(key, str) or is_module_key(key)}


def assign(
    layers: list[Affine],
    composite: str | LayerMap,
    input_rule: str | Rule | None = None,
    firsts: set[Affine] | None = None,
    *,
    epsilon: float = 1e-6,
    gamma: float = 0.25,
    stabilizer: float = 1e-6,
) -> dict[Affine, Rule]:
    """The rule of every Conv1d/Linear layer (in forward order); the input layers ``firsts``
    (default: the first layer) get ``input_rule``."""
    if isinstance(composite, str):
        try:
            layer_map: LayerMap = COMPOSITES[composite]()
        except KeyError:
            raise ValueError(f"unknown composite {composite!r} (known: {', '.join(COMPOSITES)})") from None
    else:  # the layer types' rules; entries for op families and ops are op rules (split_composite)
        layer_map = {kind: rule for kind, rule in composite.items() if not (isinstance(kind, str) or is_module_key(kind))}
    params = {"epsilon": epsilon, "gamma": gamma, "stabilizer": stabilizer}
    by_kind = {kind: make_rule(rule, **params) for kind, rule in layer_map.items()}
    firsts = set(layers[:1]) if firsts is None else firsts
    rules: dict[Affine, Rule] = {}
    for layer in layers:
        if layer in firsts and input_rule is not None:
            rules[layer] = make_rule(input_rule, **params)
            continue
        rule = next((r for kind, r in by_kind.items() if issubclass(layer.kind, kind)), None)
        if rule is None:
            raise ValueError(f"composite has no rule for {layer.kind.__name__} (layer '{layer.path}')")
        rules[layer] = rule
    return rules
