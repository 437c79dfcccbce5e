"""Ranking metrics in plain numpy: ROC and precision-recall curves, AUROC, average precision, accuracy.

The curves and areas take ``labels`` (N,) (bool, or 0/1) and ``scores`` (N,) float, higher meaning
"more positive". Tied scores form one threshold, so a block of ties counts as one step of the
curve: ROC draws it as a diagonal segment (half credit for every positive/negative pair in the
block) and average precision gives the block the precision reached after all its members. These
are the conventions of the Mann-Whitney U statistic and of scikit-learn's ``roc_auc_score`` /
``average_precision_score``. A metric that needs both classes returns NaN when one is missing.

:func:`metrics_rows` scores a classifier split by split: one-vs-rest rows per class and a macro
row ``class = all``, the rows of the predict stage's ``metrics.tsv`` (columns :data:`METRIC_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..sequences.split import SPLITS

METRIC_COLUMNS = ("split", "class", "auroc", "auprc", "accuracy", "n", "n_class")


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


def metrics_rows(labels: np.ndarray, probs: np.ndarray, splits: np.ndarray, classes: Sequence[str]) -> list[dict]:
    """Rows of ``metrics.tsv`` (see :mod:`seqlrp.stages.predict`) for labels (N,), probs (N, K), splits (N,)."""
    rows = []
    predicted = probs.argmax(axis=1)
    for split in [s for s in SPLITS if np.any(splits == s)] + sorted(set(splits.tolist()) - set(SPLITS)):
        members = splits == split
        y, p, pred = labels[members], probs[members], predicted[members]
        per_class = []
        for k, name in enumerate(classes):
            truth = y == k
            per_class.append(
                {
                    "split": split,
                    "class": name,
                    "auroc": auroc(truth, p[:, k]),
                    "auprc": average_precision(truth, p[:, k]),
                    "accuracy": accuracy(truth, pred == k),
                    "n": int(members.sum()),
                    "n_class": int(truth.sum()),
                }
            )
        rows += per_class
        aurocs = [r["auroc"] for r in per_class if np.isfinite(r["auroc"])]
        auprcs = [r["auprc"] for r in per_class if np.isfinite(r["auprc"])]
        rows.append(
            {
                "split": split,
                "class": "all",
                "auroc": float(np.mean(aurocs)) if aurocs else float("nan"),
                "auprc": float(np.mean(auprcs)) if auprcs else float("nan"),
                "accuracy": accuracy(y, pred),
                "n": int(members.sum()),
                "n_class": int(members.sum()),
            }
        )
    return rows


def unlabeled_rows(splits: np.ndarray) -> list[dict]:
    """One ``metrics.tsv`` row per split of unlabeled windows (splits (n,)): class ``all``, metrics NA, n_class 0."""
    nan = float("nan")
    return [{"split": split, "class": "all", "auroc": nan, "auprc": nan, "accuracy": nan,
             "n": int((splits == split).sum()), "n_class": 0}
            for split in sorted(dict.fromkeys(splits.tolist()), key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS))]
