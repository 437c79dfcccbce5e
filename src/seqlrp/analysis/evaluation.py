"""Ground-truth metrics of attribution maps: pure functions on arrays, one value per sequence.

Conventions. Windows are scored in *window orientation*: position ``i`` of a ``-`` strand
window is genome base ``end - 1 - i`` (the one-hot row is the reverse complement). Genome
coordinates are 0-based, half-open. A *score* is one number per position (n, L), higher meaning
"more evidence for the explained class":

* contribution maps (LRP, PLRP, gradient x input, integrated gradients) and saliency: the
  attribution of the observed base, ``sum_c onehot * attr`` (Koo & Ploenzke 2021), **signed**:
  positive relevance is evidence for the explained logit, negative relevance evidence against
  it, so a planted motif of the class should score high and "important against" positions low;
* in-silico mutagenesis: the effect of the observed base, ``-mean`` of the three
  alternative-base deltas ``logit(mutant) - logit(x)`` (:func:`ism_scores`);
* N positions (all-zero one-hot columns) score 0.

Every metric returns one value per sequence (n,), NaN where it is undefined (AUROC without
truth or without background positions, RMA without positive score, Gini of an all-zero map);
:func:`mean_finite` averages the defined ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from ..formats.regions import Region
from ..models.metrics import auroc, average_precision


def intervals_by_chrom(regions: Iterable[Region]) -> dict[str, np.ndarray]:
    """Chromosome -> merged, sorted intervals (k, 2) int64 (0-based, half-open) of ``regions``."""
    grouped: dict[str, list[tuple[int, int]]] = {}
    for region in regions:
        grouped.setdefault(region.chrom, []).append((region.start, region.end))
    return {chrom: _merge(np.asarray(spans, dtype=np.int64)) for chrom, spans in grouped.items()}


def _merge(spans: np.ndarray) -> np.ndarray:
    """Union of intervals (k, 2) as sorted, disjoint, non-touching intervals."""
    if spans.size == 0:
        return spans.reshape(0, 2)
    spans = spans[np.lexsort((spans[:, 1], spans[:, 0]))]
    reach = np.maximum.accumulate(spans[:, 1])
    # a new block starts where an interval begins after everything before it has ended
    new = np.concatenate([[True], spans[1:, 0] > reach[:-1]])
    block = np.cumsum(new) - 1
    ends = np.full(int(block[-1]) + 1, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(ends, block, spans[:, 1])
    return np.stack([spans[new, 0], ends], axis=1)


def truth_mask(
    chroms: Sequence[str],
    starts: Sequence[int],
    strands: Sequence[str],
    length: int,
    truth_intervals: Mapping[str, np.ndarray],
) -> np.ndarray:
    """Mask (n, L) bool of window positions inside a truth interval, in window orientation.

    Window ``k`` covers genome bases ``starts[k] ... starts[k] + length - 1`` of ``chroms[k]``;
    for ``strands[k] == "-"`` its position ``i`` is base ``starts[k] + length - 1 - i``.
    ``truth_intervals``: chromosome -> intervals (m, 2), 0-based half-open, in any order and
    possibly overlapping. Computed per chromosome with one binary search per position.
    """
    chroms = np.asarray(chroms, dtype=object)
    starts = np.asarray(starts, dtype=np.int64)
    minus = np.asarray(strands, dtype=object) == "-"
    mask = np.zeros((chroms.size, length), dtype=bool)
    offsets = np.arange(length, dtype=np.int64)
    for chrom, spans in truth_intervals.items():
        rows = np.flatnonzero(chroms == chrom)
        if rows.size == 0:
            continue
        merged = _merge(np.asarray(spans, dtype=np.int64).reshape(-1, 2))
        genome = starts[rows, None] + np.where(minus[rows, None], length - 1 - offsets, offsets)
        index = np.searchsorted(merged[:, 0], genome, side="right") - 1  # last interval starting at or before
        mask[rows] = (index >= 0) & (genome < merged[np.maximum(index, 0), 1])
    return mask


def observed_scores(attr: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Signed score (n, L) float64 of the observed base, ``sum_c onehot * attr``; 0 at N positions.

    ``attr`` and ``onehot`` (n, 4, L). The values of :func:`seqlrp.analysis.tracks.observed_relevance`,
    with 0 instead of NaN at N (all-zero) columns.
    """
    onehot = np.asarray(onehot)
    return (np.asarray(attr, dtype=np.float64) * onehot).sum(axis=1)


def ism_scores(deltas: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Observed-base effect (n, L) float64 of in-silico mutagenesis; 0 at N positions.

    ``deltas`` (n, 4, L): ``logit(x with base c at t) - logit(x)``, 0 at the observed base (see
    :func:`seqlrp.attribution.baselines.ism`). The score is ``-mean`` of the three alternative deltas: high
    where every substitution lowers the logit, i.e. where the observed base matters for it.
    """
    onehot = np.asarray(onehot)
    deltas = np.asarray(deltas, dtype=np.float64)
    observed = onehot.sum(axis=1) == 1
    alternatives = (deltas * (1 - onehot)).sum(axis=1)
    return np.where(observed, -alternatives / 3.0, 0.0)


def per_sequence_auroc(mask: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC (n,) of ``scores`` (n, L) against ``mask`` (n, L) per sequence; NaN without both classes."""
    return np.array([auroc(m, s) for m, s in zip(mask, scores)], dtype=np.float64)


def per_sequence_auprc(mask: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision (n,) of ``scores`` against ``mask`` per sequence; NaN without truth positions."""
    return np.array([average_precision(m, s) for m, s in zip(mask, scores)], dtype=np.float64)


def relevance_mass_accuracy(mask: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Relevance Mass Accuracy (n,) (Arras et al. 2022): positive score inside the truth / all positive score.

    NaN for a sequence without positive score.
    """
    positive = np.clip(np.asarray(scores, dtype=np.float64), 0.0, None)
    total = positive.sum(axis=1)
    inside = (positive * np.asarray(mask, dtype=bool)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def gini(values: np.ndarray) -> np.ndarray:
    """Gini index (n,) of ``|values|`` (n, L) per row (Hurley & Rickard 2009); NaN for an all-zero row.

    With ``a`` sorted ascending: ``G = sum_k (2k - L - 1) a_k / (L sum a)``, k = 1..L. A uniform
    row gives 0, a row with one nonzero entry ``(L - 1) / L``; scale-invariant.
    """
    a = np.sort(np.abs(np.asarray(values, dtype=np.float64)), axis=1)
    length = a.shape[1]
    weights = 2.0 * np.arange(1, length + 1) - length - 1
    total = a.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (a @ weights) / (length * total), np.nan)


def deletion_ranks(scores: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Rank (n, L) int64 of every position, 0 = highest score; ties by position; invalid (N) positions last."""
    scores = np.asarray(scores, dtype=np.float64)
    keyed = scores if valid is None else np.where(valid, scores, -np.inf)
    order = np.argsort(-keyed, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :].repeat(scores.shape[0], 0), axis=1)
    return ranks


def deletion_counts(fractions: Sequence[float], n_valid: np.ndarray) -> np.ndarray:
    """Positions replaced (F, n) int64: ``fraction x valid positions``, rounded half up."""
    fractions = np.asarray(fractions, dtype=np.float64)
    return np.floor(fractions[:, None] * np.asarray(n_valid, dtype=np.float64)[None, :] + 0.5).astype(np.int64)


def deletion_drops(
    logit: Callable[[np.ndarray], np.ndarray],
    onehot: np.ndarray,
    replacement: np.ndarray,
    scores: np.ndarray,
    fractions: Sequence[float],
    reference: np.ndarray | None = None,
) -> np.ndarray:
    """Logit drops (n, F): ``logit(x) - logit(x_f)`` with the top ``f`` of positions replaced.

    ``onehot`` (n, 4, L) and ``replacement`` (n, 4, L) (e.g. a dinucleotide-shuffled copy of
    each sequence); ``scores`` (n, L). For each fraction ``f`` the ``round(f x V)`` positions of
    highest score (``V`` = non-N positions of the sequence, ties broken by position) take the
    replacement's bases. ``logit`` maps a batch (m, 4, L) float32 to the explained logit (m,).
    ``reference``: ``logit(onehot)`` (n,) when already known. All altered copies go through
    ``logit`` in one call; ``f`` with no replaced position scores exactly 0.
    """
    onehot = np.asarray(onehot)
    valid = onehot.sum(axis=1) > 0
    ranks = deletion_ranks(scores, valid)
    counts = deletion_counts(fractions, valid.sum(axis=1))
    n = onehot.shape[0]
    drops = np.zeros((n, counts.shape[0]), dtype=np.float64)
    altered, where = [], []
    for j, k in enumerate(counts):
        if not k.any():
            continue
        replace = ranks < k[:, None]
        altered.append(np.where(replace[:, None, :], replacement, onehot))
        where.append(j)
    if not altered:
        return drops
    if reference is None:
        reference = logit(np.asarray(onehot, dtype=np.float32))
    reference = np.asarray(reference, dtype=np.float64)
    changed = np.asarray(logit(np.concatenate(altered).astype(np.float32)), dtype=np.float64).reshape(len(where), n)
    drops[:, where] = reference[:, None] - changed.T
    return drops


def aopc(drops: np.ndarray, fractions: Sequence[float]) -> float:
    """Area over the perturbation curve (Samek et al. 2017) of the mean drop over sequences,
    ``drops`` (n, F) at the deleted shares ``fractions`` (F,) ascending: the trapezoid area under
    the mean-drop curve divided by the span of ``fractions`` — Samek's mean over deletion steps
    in the limit of small uniform steps, so an uneven grid (finer at the start) weighs each share
    of the sequence equally."""
    drops = np.asarray(drops, dtype=np.float64)
    fractions = np.asarray(fractions, dtype=np.float64)
    if not drops.size:
        return float("nan")
    curve = drops.mean(axis=0)
    if fractions.size < 2:
        return float(curve.mean())
    area = float(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(fractions)))
    return area / float(fractions[-1] - fractions[0])


def mean_finite(values: np.ndarray) -> float:
    """Mean of the finite entries; NaN when there is none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")
