"""Layer-wise Relevance Propagation for one-hot sequence models, exact and fast.

>>> from seqlrp.lrp import relevance, Prune
>>> r = relevance(model, x, target=0)                                  # (N, 4, L), epsilon-plus
>>> r = relevance(model, x, 0, composite="alpha2beta1", input_rule="zbox")
>>> r = relevance(model, x, 0, prune=Prune(0.25))                      # pruned LRP (PLRP-lambda)
>>> res = relevance(model, x, 0, return_hypothetical=True)             # LRPResult

Modules: :mod:`.rules` (rules as data), :mod:`.composites` (layer type -> rule),
:mod:`.canonize` (model -> nodes, BatchNorm folded on copies), :mod:`.graph` (nodes and the
parameter-free layers' relevance), :mod:`.propagate` (one function per rule), :mod:`.prune`
(pruned LRP), :mod:`.engine` (the walk). Baselines with the same call shape live in
:mod:`seqlrp.attribution.baselines`.
"""

from .canonize import UnsupportedLayerError
from .composites import COMPOSITES
from .engine import LRPResult, relevance
from .prune import Prune
from .rules import RULES, AlphaBeta, Epsilon, Flat, Gamma, Rule, WSquare, ZBox, ZPlus, make_rule

__all__ = [
    "COMPOSITES",
    "RULES",
    "AlphaBeta",
    "Epsilon",
    "Flat",
    "Gamma",
    "LRPResult",
    "Prune",
    "Rule",
    "UnsupportedLayerError",
    "WSquare",
    "ZBox",
    "ZPlus",
    "make_rule",
    "relevance",
]
