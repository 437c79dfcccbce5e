"""Layer-wise Relevance Propagation for one-hot sequence models, exact and fast.

>>> from seqlrp.lrp import relevance, Prune
>>> x = seqlrp.one_hot(["ACGT" * 50, "GATTACA" * 28 + "ACGT"])        # (N, 4, L), channels A, C, G, T
>>> r = relevance(model, x, target=0)                                  # (N, 4, L), epsilon-plus
>>> r = relevance(model, x, target="positive")                         # a class name of the model
>>> r = relevance(model, x, 0, composite="alpha2beta1", input_rule="zbox")
>>> r = relevance(model, x, 0, prune=Prune(0.25))                      # pruned LRP (PLRP-lambda)
>>> res = relevance(model, x, 0, return_hypothetical=True)             # LRPResult

Modules: :mod:`.rules` (rules as data), :mod:`.composites` (layer type -> rule),
:mod:`.canonize` (model -> nodes, BatchNorm folded on copies), :mod:`.op_rules` (rules users
give ops: ``relevance(..., op_rules=...)``, :class:`OpRule`), :mod:`.graph` (nodes and the
parameter-free layers' relevance), :mod:`.propagate` (one function per rule), :mod:`.prune`
(pruned LRP), :mod:`.engine` (the walk; the input and target checks: :class:`InputLayoutError`,
:class:`TargetError`). Baselines with the same call shape live in
:mod:`seqlrp.attribution.baselines`.
"""

from .canonize import UnsupportedLayerError
from .composites import COMPOSITES
from .engine import InputLayoutError, LRPResult, TargetError, relevance
from .op_rules import ATTN_LRP, CP_LRP, OpRule
from .prune import Prune
from .rules import RULES, AlphaBeta, Epsilon, Flat, Gamma, Rule, WSquare, ZBox, ZPlus, make_rule

__all__ = [
    "ATTN_LRP",
    "CP_LRP",
    "COMPOSITES",
    "RULES",
    "AlphaBeta",
    "Epsilon",
    "Flat",
    "Gamma",
    "InputLayoutError",
    "LRPResult",
    "OpRule",
    "Prune",
    "Rule",
    "TargetError",
    "UnsupportedLayerError",
    "WSquare",
    "ZBox",
    "ZPlus",
    "make_rule",
    "relevance",
]
