"""Artifact diagnostics of relevance maps: pure functions on arrays, no files and no models.

Relevance maps carry artifacts of the model and of the rules that are easy to read as biology
(Landt-Hayen et al. 2023). Each diagnostic here reduces the maps of one class and method to one
number that :func:`verdict` compares with a threshold; :mod:`seqlrp.stages.diagnostics` computes
them for the pipeline and documents the thresholds.

Shapes: relevance and one-hot inputs are (N, 4, L) (windows, A/C/G/T channels, positions);
per-position values are (N, L); profiles are (L,). Positions are 0-based, in window orientation
(a ``-`` window's position 0 is the genome end of the window). An N base is an all-zero one-hot
column.

* **Positional profile**: mean over windows of ``|R|`` per position, where a position's
  relevance is the sum over its four channels. For one-hot inputs and rules of the form
  ``R = x * g`` (epsilon, z+, alpha-beta, gamma) that is the observed base's relevance; summing
  the channels also counts what input rules that ignore the input (flat, w^2, z-box) put at
  absent bases and at N padding, where border artifacts live.
* **border_excess**: profile mean over the ``border`` outer positions at both ends divided by its
  mean over the central positions; 1 for a flat profile.
* **conservation_error**: median over windows of ``|sum(R) - logit| / |logit|``.
* **absorbed_share**: ``sum_n sign(z_n) (z_n - s_n) / sum_n |z_n|`` for logits ``z`` and input
  relevance sums ``s``: the share of the logits' total magnitude that does not reach the input
  (absorbed by biases and stabilisers when positive, added by negative biases when negative).
  Weighting by ``|z|`` keeps windows with a logit near zero from dominating.
* **randomisation_similarity**: mean over windows of the Spearman rank correlation between
  ``|R|`` of the observed bases under the trained and a randomised model (Adebayo et al. 2018).
* **n_relevance_share**: share of the total ``|R|`` that sits on N positions (R per position, or each
  channel's of (N, 4, L) maps).
* **null_exceedance**: share of positions whose real profile does not exceed the upper
  quantile of the bootstrapped mean profile of dinucleotide-shuffled copies.
"""

from __future__ import annotations

import math

import numpy as np

DIAGNOSTICS = (
    "border_excess",
    "conservation_error",
    "absorbed_share",
    "randomisation_similarity",
    "n_relevance_share",
    "null_exceedance",
)
"""Diagnostic names, in the order rows are written."""

TWO_SIDED = frozenset({"absorbed_share"})
"""Diagnostics whose magnitude is compared with the threshold (the sign says which way)."""


def position_relevance(relevance: np.ndarray) -> np.ndarray:
    """Relevance per position (N, L) float64: the sum over the four channels of (N, 4, L)."""
    return np.asarray(relevance, dtype=np.float64).sum(axis=1)


def positional_profile(relevance: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Mean ``|R|`` per position (L,) over the windows of relevance per position (N, L) — or of
    maps (N, 4, L), summed over the channels first; read in chunks (memory maps, lazy rows)."""
    total = np.zeros(relevance.shape[-1], dtype=np.float64)
    for lo in range(0, len(relevance), chunk):
        block = relevance[lo : lo + chunk]
        total += np.abs(position_relevance(block) if np.ndim(block) == 3 else np.asarray(block, np.float64)).sum(axis=0)
    return total / max(len(relevance), 1)


def _border_mask(length: int, border: int) -> np.ndarray:
    """True (L,) at the ``border`` outer positions of both ends."""
    if border < 1:
        raise ValueError(f"border must be at least 1, got {border}")
    mask = np.zeros(length, dtype=bool)
    mask[:border] = True
    mask[max(length - border, 0) :] = True
    return mask


def border_excess(profile: np.ndarray, border: int) -> float:
    """Mean of ``profile`` (L,) over the outer ``border`` positions (both ends) / mean over the rest.

    NaN when no central position is left (L <= 2 * border) or the centre carries no relevance.
    """
    profile = np.asarray(profile, dtype=np.float64)
    edge = _border_mask(profile.size, border)
    if edge.all():
        return math.nan
    centre = profile[~edge].mean()
    return float(profile[edge].mean() / centre) if centre > 0 else math.nan


def border_bumps(profile: np.ndarray, border: int, factor: float) -> np.ndarray:
    """Positions (k,) int among the outer ``border`` ones where ``profile`` exceeds ``factor`` x the central mean."""
    profile = np.asarray(profile, dtype=np.float64)
    edge = _border_mask(profile.size, border)
    if edge.all():
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(edge & (profile > factor * profile[~edge].mean()))


def conservation_errors(logits: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Per window (n,) ``|sum - logit| / |logit|``; inf where the logit is 0 and the sum is not."""
    logits, sums = np.asarray(logits, dtype=np.float64), np.asarray(sums, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.abs(sums - logits) / np.abs(logits)
    errors[(logits == 0) & (sums == 0)] = 0.0
    return errors


def conservation_error(logits: np.ndarray, sums: np.ndarray) -> float:
    """Median of :func:`conservation_errors` (NaN without windows)."""
    errors = conservation_errors(logits, sums)
    return float(np.median(errors)) if errors.size else math.nan


def absorbed_share(logits: np.ndarray, sums: np.ndarray) -> float:
    """``sum sign(z) (z - s) / sum |z|`` over windows (NaN when every logit is 0); see the module docstring."""
    logits, sums = np.asarray(logits, dtype=np.float64), np.asarray(sums, dtype=np.float64)
    scale = np.abs(logits).sum()
    return float((np.sign(logits) * (logits - sums)).sum() / scale) if scale > 0 else math.nan


def n_relevance_share(relevance: np.ndarray, onehot: np.ndarray, chunk: int = 1024) -> float:
    """Share of ``sum |R|`` on N positions (all-zero one-hot columns of (N, 4, L)); ``relevance``
    per position (N, L), or maps (N, 4, L) whose channels count each.

    0 when the maps carry no relevance at all.
    """
    on_n = total = 0.0
    for lo in range(0, len(relevance), chunk):
        r = np.abs(np.asarray(relevance[lo : lo + chunk], dtype=np.float64))
        r = r.sum(axis=1) if r.ndim == 3 else r
        n_mask = np.asarray(onehot[lo : lo + chunk]).sum(axis=1) == 0
        on_n += r[n_mask].sum()
        total += r.sum()
    return on_n / total if total > 0 else 0.0


def count_n_positions(onehot: np.ndarray, chunk: int = 1024) -> int:
    """Number of N positions (all-zero columns) in one-hot (N, 4, L), read in chunks."""
    return int(sum((np.asarray(onehot[lo : lo + chunk]).sum(axis=1) == 0).sum() for lo in range(0, len(onehot), chunk)))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks (L,) float64 of values (L,), 1-based, ties sharing their average rank."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    ends = np.concatenate([starts[1:], [values.size]])
    mean_rank = (starts + ends + 1) / 2.0  # average of the 1-based ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of a (L,) and b (L,) over the positions finite in both.

    NaN when fewer than 2 such positions remain or either side is constant there.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 2:
        return math.nan
    ra, rb = average_ranks(a[keep]), average_ranks(b[keep])
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denominator) if denominator > 0 else math.nan


def randomisation_similarities(trained: np.ndarray, randomised: np.ndarray) -> np.ndarray:
    """Per window (n,): Spearman correlation of ``|trained|`` and ``|randomised|`` (n, L) per-position values.

    NaN entries (N bases, from :func:`seqlrp.analysis.tracks.observed_relevance`) are left out.
    """
    trained, randomised = np.asarray(trained), np.asarray(randomised)
    if trained.shape != randomised.shape:
        raise ValueError(f"trained {trained.shape} and randomised {randomised.shape} maps differ in shape")
    return np.array([spearman(np.abs(a), np.abs(b)) for a, b in zip(trained, randomised)], dtype=np.float64)


def randomisation_similarity(trained: np.ndarray, randomised: np.ndarray) -> float:
    """Mean of :func:`randomisation_similarities` over the windows where it is defined (NaN if none)."""
    values = randomisation_similarities(trained, randomised)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def bootstrap_profile_band(
    values: np.ndarray, quantile: float, n_boot: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Band (lower, upper), each (L,), of the mean ``|values|`` profile of values (m, L).

    The mean profile is recomputed on ``n_boot`` resamples of the m rows (with replacement,
    seeded); ``upper`` is its ``quantile`` and ``lower`` its ``1 - quantile`` per position.
    """
    if not 0.5 <= quantile < 1:
        raise ValueError(f"quantile must be in [0.5, 1), got {quantile}")
    values = np.abs(np.asarray(values, dtype=np.float64))
    rng = np.random.default_rng(seed)
    means = np.empty((n_boot, values.shape[1]), dtype=np.float64)
    for b in range(n_boot):
        means[b] = values[rng.integers(0, len(values), size=len(values))].mean(axis=0)
    return np.quantile(means, 1 - quantile, axis=0), np.quantile(means, quantile, axis=0)


def null_exceedance(real_profile: np.ndarray, null_upper: np.ndarray) -> float:
    """Share of positions (of (L,) profiles) where ``real_profile`` does not exceed ``null_upper``."""
    real_profile, null_upper = np.asarray(real_profile), np.asarray(null_upper)
    if real_profile.shape != null_upper.shape:
        raise ValueError(f"real {real_profile.shape} and null {null_upper.shape} profiles differ in shape")
    return float(np.mean(real_profile <= null_upper)) if real_profile.size else math.nan


def verdict(value: float, threshold: float, two_sided: bool = False) -> str:
    """``warn`` when ``value`` (its magnitude if ``two_sided``) is above ``threshold`` or undefined (NaN), else ``pass``."""
    if not math.isfinite(value):
        return "warn"
    return "warn" if (abs(value) if two_sided else value) > threshold else "pass"
