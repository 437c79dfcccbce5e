"""A variant's effect on the model and its explanation: scores of both alleles, relevance maps, ΔR.

For a batch of reference and alternative windows (:class:`~seqlrp.variants.windows.VariantBatch`):

* :class:`Predictor` gives the class scores (b, K) of both alleles, the scores the attributions
  explain (a seqlrp model's logits; a foreign model's selected outputs, a profile head reduced to
  BPNet's scalar), optionally averaged over the forward and reverse-complement windows, and the raw
  outputs a profile model's logFC and JSD are read from (:mod:`seqlrp.variants.profile`);
* :func:`allele_maps` explains one class on both alleles with one attribution method: relevance
  (2b, 4, L) and hypothetical contributions, reference windows first;
* :func:`explain_change` reads a variant's explanation off the two maps: ``relevance_ref`` (the
  REF bases' relevance in the reference map), ``relevance_alt`` (the ALT bases' in the alternative
  map), ``delta_relevance_sum`` (sum of the alternative map minus sum of the reference map, to set
  beside ``delta``; the difference is what bias terms and stabilisers absorb), and ``local_share``
  (the share of |ΔR| within ``local_bp`` of the alleles).

ΔR is compared base for base through the index map (:func:`seqlrp.variants.delta.delta_map`): on reference-window
coordinates ``ΔR[j] = R_alt[i] - R_ref[j]`` where alternative position ``i`` holds the same genome
base as reference position ``j``; a reference base with no counterpart (a deleted one, or one an
insertion trims off the window's edge) has ``ΔR[j] = -R_ref[j]``; alternative positions with no
counterpart (inserted bases, the genome bases a deletion pulls in) keep ``R_alt[i]`` apart
(``alt_only``). Their sum is exactly ``delta_relevance_sum``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..attribution.spec import MethodSpec
from ..formats.onehot import onehot_from_codes
from ..lrp import relevance
from ..models.external import ExternalModel, select_output
from ..models.inference import softmax
from .delta import delta_map, explain_change, span_sum  # noqa: F401  (re-exported: the scorer's explanation columns)

PROBABILITIES = ("softmax", "sigmoid", "none")


def flip_strand(x: torch.Tensor) -> torch.Tensor:
    """The reverse complement of one-hot (n, 4, L), channels A, C, G, T: both axes flipped."""
    return x.flip(1).flip(2)


def as_input(codes: np.ndarray, device: torch.device) -> torch.Tensor:
    """Codes (n, L) -> one-hot float32 (n, 4, L) on ``device`` (N: all channels 0)."""
    return torch.from_numpy(onehot_from_codes(codes).astype(np.float32)).to(device)


def probabilities(scores: np.ndarray, kind: str) -> np.ndarray | None:
    """Class probabilities (n, K) float64 of class scores under the model's head, or None (``none``):
    ``softmax`` over the classes (a single class: its sigmoid), ``sigmoid`` per class."""
    if kind == "none":
        return None
    if kind not in PROBABILITIES:
        raise ValueError(f"probability must be one of {PROBABILITIES}, got {kind!r}")
    scores = np.asarray(scores, dtype=np.float64)
    if kind == "sigmoid":  # per class: the softmax of one column is its sigmoid
        return np.concatenate([softmax(scores[:, [k]]) for k in range(scores.shape[1])], axis=1)
    return softmax(scores)  # predictions.tsv's probabilities (a single class: its sigmoid)


class Predictor:
    """Class scores and raw outputs of one-hot windows, on ``device``, without gradients.

    Parameters
    ----------
    model : torch.nn.Module
        A seqlrp model (class logits) or an :class:`~seqlrp.models.external.ExternalModel`.
    device : torch.device
    reverse_complement : bool
        Average the forward and the reverse-complement window's outputs (a profile mapped back to
        the forward strand first).
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, reverse_complement: bool = False):
        self.model, self.device, self.reverse_complement = model.eval(), device, reverse_complement
        self.external = isinstance(model, ExternalModel)

    def _once(self, x: torch.Tensor):
        if self.external:
            raw = self.model.inner(x)
            return self.model.class_scores(select_output(raw, self.model.output)), raw
        return self.model(x), None

    def __call__(self, x: torch.Tensor) -> tuple[np.ndarray, object]:
        """``(scores (n, K) float64, raw)`` of one-hot ``x`` (n, 4, L); ``raw`` is a foreign model's
        own output (detached, on the CPU) or None."""
        with torch.inference_mode():
            scores, raw = self._once(x)
            if self.reverse_complement:
                from .profile import average_raw, reverse_complement_raw

                rc_scores, rc_raw = self._once(flip_strand(x))
                scores = (scores + rc_scores) / 2
                if raw is not None:
                    raw = average_raw(raw, reverse_complement_raw(rc_raw))
        return scores.double().cpu().numpy(), _to_cpu(raw)


def _to_cpu(raw):
    if raw is None or isinstance(raw, torch.Tensor):
        return None if raw is None else raw.detach().float().cpu()
    if isinstance(raw, dict):
        return {key: _to_cpu(value) for key, value in raw.items()}
    if isinstance(raw, (tuple, list)):
        return type(raw)(_to_cpu(value) for value in raw)
    return raw


def allele_maps(model: torch.nn.Module, ref_x: torch.Tensor, alt_x: torch.Tensor, target: int, spec: MethodSpec,
                reverse_complement: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Relevance and hypothetical contributions (2b, 4, L) float32 of class ``target``: the reference
    windows (rows 0..b-1) then the alternative ones, with the same rules and pruning; with
    ``reverse_complement`` the mean of the forward map and the reverse-complement window's map
    mapped back to forward positions and channels."""
    x = torch.cat([ref_x, alt_x])

    def run(inputs: torch.Tensor):
        result = relevance(model, inputs, target, composite=spec.composite, input_rule=spec.input_rule,
                           prune=spec.pruner(), epsilon=spec.epsilon, gamma=spec.gamma, op_rules=spec.op_rules,
                           return_hypothetical=True)
        return result.relevance.detach().float(), result.hypothetical.detach().float()

    rel, hyp = run(x)
    if reverse_complement:
        rc_rel, rc_hyp = run(flip_strand(x))
        rel, hyp = (rel + flip_strand(rc_rel)) / 2, (hyp + flip_strand(rc_hyp)) / 2
    return rel.cpu().numpy(), hyp.cpu().numpy()
