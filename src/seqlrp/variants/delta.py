"""ΔR: the difference of a variant's two relevance maps, compared base for base through the index map.

Numpy only (the maps' readers need no torch). On reference-window coordinates ``ΔR[j] = R_alt[i] -
R_ref[j]`` where alternative position ``i`` holds the same genome base as reference position ``j``;
a reference base with no counterpart (a deleted one, or one an insertion trims off the window's
edge) has ``ΔR[j] = -R_ref[j]``; alternative positions with no counterpart (inserted bases, the
genome bases a deletion pulls in) keep ``R_alt[i]`` apart (``alt_only``). Their sum is exactly the
sum of the alternative map minus the sum of the reference map.
"""

from __future__ import annotations

import numpy as np


def delta_map(index_map: np.ndarray, r_ref: np.ndarray, r_alt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ΔR aligned through the index map (module docstring).

    Parameters
    ----------
    index_map : (b, L) int64, reference index of each alternative position or -1.
    r_ref, r_alt : (b, L) position relevance (summed over channels) of the two windows.

    Returns
    -------
    delta : (b, L) float64 on reference-window coordinates.
    alt_only : (b, L) float64, ``R_alt`` at alternative positions without a reference base, else 0.
    """
    b, length = r_ref.shape
    delta = -np.asarray(r_ref, dtype=np.float64).copy()
    matched = index_map >= 0
    rows = np.broadcast_to(np.arange(b)[:, None], index_map.shape)
    np.add.at(delta, (rows[matched], index_map[matched]), np.asarray(r_alt, dtype=np.float64)[matched])
    alt_only = np.where(matched, 0.0, np.asarray(r_alt, dtype=np.float64))
    return delta, alt_only


def span_sum(values: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Sum of ``values`` (b, L) over each row's half-open span ``spans`` (b, 2)."""
    positions = np.arange(values.shape[1])
    inside = (positions >= spans[:, :1]) & (positions < spans[:, 1:])
    return np.where(inside, values, 0.0).sum(axis=1, dtype=np.float64)


def explain_change(batch, r_ref: np.ndarray, r_alt: np.ndarray, local_bp: int = 10) -> dict[str, np.ndarray]:
    """The explanation columns of a batch (module docstring), each (b,) float64.

    ``r_ref``/``r_alt`` (b, L): position relevance of the reference and alternative windows.
    ``local_share`` is NaN where ΔR is zero everywhere.
    """
    delta, alt_only = delta_map(batch.index_map, r_ref, r_alt)
    near_ref = batch.ref_span + np.array([-local_bp, local_bp])
    near_alt = batch.alt_span + np.array([-local_bp, local_bp])
    total = np.abs(delta).sum(axis=1) + np.abs(alt_only).sum(axis=1)
    local = span_sum(np.abs(delta), near_ref) + span_sum(np.abs(alt_only), near_alt)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, local / total, np.nan)
    return {
        "relevance_ref": span_sum(np.asarray(r_ref, np.float64), batch.ref_span),
        "relevance_alt": span_sum(np.asarray(r_alt, np.float64), batch.alt_span),
        "delta_relevance_sum": delta.sum(axis=1) + alt_only.sum(axis=1),
        "local_share": share,
    }
