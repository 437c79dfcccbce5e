"""Ranking metrics in plain numpy: ROC and precision-recall curves, AUROC, average precision.

All functions take ``labels`` (N,) (bool, or 0/1) and ``scores`` (N,) float, higher meaning
"more positive". Tied scores form one threshold, so a block of ties counts as one step of the
curve: ROC draws it as a diagonal segment (half credit for every positive/negative pair in the
block) and average precision gives the block the precision reached after all its members. These
are the conventions of the Mann-Whitney U statistic and of scikit-learn's ``roc_auc_score`` /
``average_precision_score``. A metric that needs both classes returns NaN when one is missing.
"""

from __future__ import annotations

import numpy as np


def _check(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.ndim != 1 or labels.shape != scores.shape:
        raise ValueError(f"labels and scores must be 1-D of one length, got shapes {labels.shape} and {scores.shape}")
    if labels.dtype != bool:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("labels must be boolean or 0/1")
        labels = labels.astype(bool)
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite (found NaN or inf)")
    return labels, scores


def _threshold_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives (T,) at each distinct threshold, scores descending (T,)."""
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    sorted_labels = labels[order]
    # the last index of every block of equal scores: one threshold per distinct score
    last = np.flatnonzero(np.diff(sorted_scores) != 0)
    last = np.append(last, sorted_scores.size - 1) if sorted_scores.size else last
    tps = np.cumsum(sorted_labels)[last].astype(np.float64)
    fps = (last + 1) - tps
    return tps, fps, sorted_scores[last]


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates (T+1,) from (0, 0), and the thresholds (T,) descending.

    Point ``k + 1`` is the classifier "positive when score >= thresholds[k]". Rates are NaN when
    the corresponding class is absent.
    """
    labels, scores = _check(labels, scores)
    tps, fps, thresholds = _threshold_counts(labels, scores)
    n_pos, n_neg = labels.sum(), labels.size - labels.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.concatenate([[0.0], tps / n_pos])
        fpr = np.concatenate([[0.0], fps / n_neg])
    return fpr, tpr, thresholds


def auroc(labels, scores) -> float:
    """Area under the ROC curve (trapezoids; ties count one half); NaN without both classes."""
    labels, scores = _check(labels, scores)
    if labels.all() or not labels.any():
        return float("nan")
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def precision_recall_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision (T,), recall (T,) and thresholds (T,), thresholds descending (recall rising).

    Recall is NaN when there is no positive.
    """
    labels, scores = _check(labels, scores)
    tps, fps, thresholds = _threshold_counts(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tps / (tps + fps)
        recall = tps / labels.sum()
    return precision, recall, thresholds


def average_precision(labels, scores) -> float:
    """Average precision: sum over thresholds of (recall gain) x precision; NaN without positives.

    This is the step-wise area under the precision-recall curve (no interpolation), the usual
    meaning of AUPRC.
    """
    labels, scores = _check(labels, scores)
    if not labels.any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(labels, scores)
    gains = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(gains * precision))


def accuracy(labels, predicted) -> float:
    """Share of equal entries of two (N,) arrays; NaN for N = 0."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels and predictions differ in shape: {labels.shape} vs {predicted.shape}")
    return float(np.mean(labels == predicted)) if labels.size else float("nan")
