"""Score and explain batches of variants: :class:`VariantScorer`.

One :meth:`VariantScorer.score` call takes a :class:`~seqlrp.variants.windows.VariantBatch` and
gives a :class:`ScoredBatch`: both alleles' class scores (and probabilities, and a profile model's
logFC and JSD), ``delta`` per class, the empirical ``p_value`` against the shuffled-context null
(:mod:`seqlrp.variants.null`), the motif the variant breaks or creates
(:mod:`seqlrp.variants.motif_change`), and for every class and attribution method the relevance
maps of both alleles with the explanation columns of :func:`seqlrp.variants.effects.explain_change`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from ..attribution.spec import MethodSpec
from ..models.external import ExternalModel
from .effects import Predictor, allele_maps, as_input, explain_change, probabilities
from .null import empirical_p
from .windows import VariantBatch


@dataclass(frozen=True)
class VariantOptions:
    """How variants are scored (config section ``variants``, docs/variants.md).

    ``probability``: ``auto`` (softmax over the classes for a seqlrp model, none for a foreign one),
    ``softmax``, ``sigmoid`` or ``none``. ``local_bp``: the half-width of "local" in
    ``local_share``. ``null_size``: shuffled-context variants per kind. ``maps``: keep the relevance
    maps (the attribution stores); False computes the explanation columns only.
    """

    reverse_complement: bool = False
    probability: str = "auto"
    local_bp: int = 10
    batch_size: int = 64
    null_size: int = 1000
    seed: int = 1
    maps: bool = True
    explain: bool = True


@dataclass
class Explanation:
    """One class and method on a batch: the columns of ``explain_change`` (each (b,)) and, when maps
    are kept, relevance and hypothetical contributions (2b, 4, L), reference windows first."""

    columns: dict[str, np.ndarray]
    relevance: np.ndarray | None = None
    hypothetical: np.ndarray | None = None


@dataclass
class ScoredBatch:
    """The scores of a batch (b variants, K classes)."""

    batch: VariantBatch
    logit_ref: np.ndarray  # (b, K)
    logit_alt: np.ndarray  # (b, K)
    prob_ref: np.ndarray | None  # (b, K)
    prob_alt: np.ndarray | None
    profile: dict[str, np.ndarray] | None  # "logfc", "jsd": (b,)
    p_value: np.ndarray  # (b, K)
    explanations: dict[tuple[int, str], Explanation] = field(default_factory=dict)
    motifs: list | None = None  # MotifChange or None per variant

    @property
    def delta(self) -> np.ndarray:
        return self.logit_alt - self.logit_ref


def resolve_probability(model: torch.nn.Module, probability: str) -> str:
    """``auto`` -> ``softmax`` for a seqlrp model (trained with softmax cross-entropy), ``none`` for a
    foreign one (its outputs need not be logits); other values as given."""
    if probability == "auto":
        return "none" if isinstance(model, ExternalModel) else "softmax"
    return probability


class VariantScorer:
    """Scores and explanations of variant batches with one model.

    Parameters
    ----------
    model : torch.nn.Module
        A seqlrp model or an :class:`~seqlrp.models.external.ExternalModel`, on ``device``.
    methods : dict of str to MethodSpec
        The attribution methods (name -> settings), applied with the same rules to both alleles.
    device : torch.device
    options : VariantOptions
    motif_scanner : seqlrp.variants.motif_change.MotifScanner, optional
    """

    def __init__(self, model: torch.nn.Module, methods: Mapping[str, MethodSpec], device: torch.device,
                 options: VariantOptions, motif_scanner=None):
        self.model, self.methods, self.device, self.options = model, dict(methods), device, options
        self.predict = Predictor(model, device, options.reverse_complement)
        self.probability = resolve_probability(model, options.probability)
        self.motif_scanner = motif_scanner

    def delta(self, batch: VariantBatch) -> np.ndarray:
        """``delta`` (b, K) only: what the null needs."""
        ref, _ = self.predict(as_input(batch.ref_codes, self.device))
        alt, _ = self.predict(as_input(batch.alt_codes, self.device))
        return alt - ref

    def score(self, batch: VariantBatch, null: Mapping[str, np.ndarray], classes: list[int] | None = None) -> ScoredBatch:
        """Everything about ``batch``; ``classes`` the class indices explained (default: all)."""
        ref_x, alt_x = as_input(batch.ref_codes, self.device), as_input(batch.alt_codes, self.device)
        logit_ref, raw_ref = self.predict(ref_x)
        logit_alt, raw_alt = self.predict(alt_x)
        profile = None
        if raw_ref is not None:
            from .profile import profile_effects

            profile = profile_effects(raw_ref, raw_alt)
        scored = ScoredBatch(batch, logit_ref, logit_alt, probabilities(logit_ref, self.probability),
                             probabilities(logit_alt, self.probability), profile,
                             empirical_p(logit_alt - logit_ref, batch.kinds, null))
        if self.motif_scanner is not None:
            scored.motifs = self.motif_scanner.changes(batch.ref_codes, batch.alt_codes, batch.ref_span, batch.alt_span)
        if not self.options.explain:
            return scored
        b = len(batch)
        for target in range(logit_ref.shape[1]) if classes is None else classes:
            for name, spec in self.methods.items():
                rel, hyp = allele_maps(self.model, ref_x, alt_x, target, spec, self.options.reverse_complement)
                position = rel.sum(axis=1)
                columns = explain_change(batch, position[:b], position[b:], self.options.local_bp)
                keep = self.options.maps
                scored.explanations[(target, name)] = Explanation(columns, rel if keep else None, hyp if keep else None)
        return scored
