"""LRP rules for Conv1d/Linear layers: one class per rule, registered by name in one place.

A rule is a small frozen record of its parameters that also says what the engine needs for it
(``reads_input``, ``needs_output``) and propagates relevance itself (``propagate``, whose
arithmetic is in :mod:`seqlrp.lrp.propagate`). A new rule is one class with the :func:`register`
decorator (its names in :data:`RULES`) and a ``propagate`` method: nothing else changes. For a layer ``z_j = sum_i x_i w_ij + b_j`` every rule moves relevance
down as ``R_i = sum_j q_ij / D_j * R_j`` with (``stab(d) = d + eps * sign(d)``, ``sign(0) = +1``):

=========  ===============================================  =========================================
rule       contribution ``q_ij``                            denominator ``D_j``
=========  ===============================================  =========================================
Epsilon    ``x_i w_ij``                                     ``stab_eps(z_j)`` (z with bias; LRP-0 at 0)
ZPlus      ``x+_i w+_ij + x-_i w-_ij``                      ``stab(sum_i q_ij + b+_j)``
AlphaBeta  ``alpha * q+`` minus ``beta * q-``, each share   ``stab(sum q+ + b+)``, ``stab(sum q- + b-)``
           normalised by its own sum (``q- = x+ w- + x- w+``)
Gamma      ``x+ (w + g w+) + x- (w + g w-)`` where z>0,     ``stab(sum_i q_ij + b_j + g b+_j)`` (z>0),
           ``x+ (w + g w-) + x- (w + g w+)`` where z<0      ``stab(sum_i q_ij + b_j + g b-_j)`` (z<0)
Flat       ``1`` (input ignored)                            ``stab(number of inputs of j)``
WSquare    ``w_ij ** 2`` (input ignored)                    ``stab(sum_i w_ij ** 2 + b_j ** 2)``
ZBox       ``x_i w_ij - l_i w+_ij - h_i w-_ij``             ``stab(sum_i q_ij)``
=========  ===============================================  =========================================

These are the definitions of Zennit 0.5 (``x+ = max(x, 0)``, ``w- = min(w, 0)``, ...); neurons
with ``z_j = 0`` pass no relevance under Gamma, as there. ``stab`` uses ``epsilon`` for Epsilon
and ``stabilizer`` (default 1e-6) for every other rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from . import propagate as arithmetic

Bound = float | torch.Tensor
RuleFactory = Callable[[float, float, float], "Rule"]

RULES: dict[str, RuleFactory] = {}
"""Rule names accepted wherever a rule is asked for (``input_rule``, composites), with the
factory ``(epsilon, gamma, stabilizer) -> Rule`` that builds it; filled by :func:`register`."""


def register(**factories: RuleFactory):
    """Class decorator: the rule's names and their factories ``(epsilon, gamma, stabilizer) -> Rule``
    in :data:`RULES` (a new rule is one class with this decorator and its ``propagate``)."""

    def decorate(cls):
        for name, factory in factories.items():
            if name in RULES:
                raise ValueError(f"LRP rule name {name!r} is taken")
            RULES[name] = factory
        return cls

    return decorate


@dataclass(frozen=True)
class Rule:
    """Base class of the Conv1d/Linear rules: parameters, what the engine must keep for the rule,
    and the rule's own propagation.

    Subclasses set ``reads_input`` (relevance is ``x * (...)``: in pruning's mask mode the rule gets
    the masked input) and ``needs_output`` (the rule reads the layer's output ``z``, which the
    forward pass then keeps), and implement :meth:`propagate`.
    """

    reads_input: ClassVar[bool] = False
    needs_output: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def stab(self) -> float:
        return self.stabilizer  # type: ignore[attr-defined]

    def propagate(self, layer, x: torch.Tensor, z: torch.Tensor | None, r, mask=None) -> "arithmetic.Step":
        """Relevance at the input of ``layer`` (:mod:`.propagate`'s arguments and ``Step``)."""
        raise NotImplementedError(f"{type(self).__name__} has no propagate()")


@register(epsilon=lambda epsilon, gamma, stabilizer: Epsilon(epsilon=epsilon),
          zero=lambda epsilon, gamma, stabilizer: Epsilon(epsilon=0.0))
@dataclass(frozen=True)
class Epsilon(Rule):
    """LRP-epsilon; ``epsilon=0`` is LRP-0 (0/0 then gives 0, not NaN)."""

    reads_input: ClassVar[bool] = True
    needs_output: ClassVar[bool] = True
    epsilon: float = 1e-6

    @property
    def stab(self) -> float:
        return self.epsilon

    def propagate(self, layer, x, z, r, mask=None):
        return arithmetic.epsilon(self, layer, x, z, r, mask)


@register(zplus=lambda epsilon, gamma, stabilizer: ZPlus(stabilizer=stabilizer))
@dataclass(frozen=True)
class ZPlus(Rule):
    """LRP-z+: only positive contributions (alpha=1, beta=0 with the positive bias kept)."""

    reads_input: ClassVar[bool] = True
    stabilizer: float = 1e-6

    def propagate(self, layer, x, z, r, mask=None):
        return arithmetic.zplus(self, layer, x, z, r, mask)


@register(alpha2beta1=lambda epsilon, gamma, stabilizer: AlphaBeta(alpha=2.0, beta=1.0, stabilizer=stabilizer),
          alpha1beta0=lambda epsilon, gamma, stabilizer: AlphaBeta(alpha=1.0, beta=0.0, stabilizer=stabilizer))
@dataclass(frozen=True)
class AlphaBeta(Rule):
    """LRP-alpha-beta with ``alpha - beta = 1``, both non-negative."""

    reads_input: ClassVar[bool] = True
    needs_output: ClassVar[bool] = True
    alpha: float = 2.0
    beta: float = 1.0
    stabilizer: float = 1e-6

    def __post_init__(self):
        if self.alpha < 0 or self.beta < 0 or abs(self.alpha - self.beta - 1.0) > 1e-12:
            raise ValueError(f"AlphaBeta needs alpha, beta >= 0 and alpha - beta = 1, got {self.alpha}, {self.beta}")

    def propagate(self, layer, x, z, r, mask=None):
        return arithmetic.alphabeta(self, layer, x, z, r, mask)


@register(gamma=lambda epsilon, gamma, stabilizer: Gamma(gamma=gamma, stabilizer=stabilizer))
@dataclass(frozen=True)
class Gamma(Rule):
    """Generalised LRP-gamma (sign-aware: favours contributions of the output's own sign)."""

    reads_input: ClassVar[bool] = True
    needs_output: ClassVar[bool] = True
    gamma: float = 0.25
    stabilizer: float = 1e-6

    def __post_init__(self):
        if self.gamma < 0:
            raise ValueError(f"Gamma needs gamma >= 0, got {self.gamma}")

    def propagate(self, layer, x, z, r, mask=None):
        return arithmetic.gamma(self, layer, x, z, r, mask)


@register(flat=lambda epsilon, gamma, stabilizer: Flat(stabilizer=stabilizer))
@dataclass(frozen=True)
class Flat(Rule):
    """LRP-flat: every input in a neuron's receptive field gets an equal share (input-layer rule)."""

    stabilizer: float = 1e-6

    def propagate(self, layer, x, z, r, mask=None):
        return arithmetic.flat(self, layer, x, z, r, mask)


@register(wsquare=lambda epsilon, gamma, stabilizer: WSquare(stabilizer=stabilizer))
@dataclass(frozen=True)
class WSquare(Rule):
    """LRP-w^2: shares proportional to squared weights, ignoring the input (input-layer rule)."""

    stabilizer: float = 1e-6

    def propagate(self, layer, x, z, r, mask=None):
        return arithmetic.wsquare(self, layer, x, z, r, mask)


@register(zbox=lambda epsilon, gamma, stabilizer: ZBox(stabilizer=stabilizer))
@dataclass(frozen=True, eq=False)
class ZBox(Rule):
    """LRP-z^B for inputs bounded by ``low <= x <= high`` (numbers or tensors broadcast against
    the layer input, e.g. shape (C, 1) per channel). One-hot DNA lies in [0, 1], the defaults."""

    needs_output: ClassVar[bool] = True
    low: Bound = 0.0
    high: Bound = 1.0
    stabilizer: float = 1e-6

    def propagate(self, layer, x, z, r, mask=None):
        return arithmetic.zbox(self, layer, x, z, r, mask)


def make_rule(rule: str | Rule, *, epsilon: float = 1e-6, gamma: float = 0.25, stabilizer: float = 1e-6) -> Rule:
    """A :class:`Rule` from a name in :data:`RULES` (or the rule itself, returned as is)."""
    if isinstance(rule, Rule):
        return rule
    try:
        return RULES[rule](epsilon, gamma, stabilizer)
    except KeyError:
        raise ValueError(f"unknown LRP rule {rule!r} (known: {', '.join(RULES)})") from None
