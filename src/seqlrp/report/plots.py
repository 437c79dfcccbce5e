"""Figures of the model stage: ROC and precision-recall curves, one line per class (or, for
unlabeled genome-wide tiles, a histogram of the predicted probabilities).

Drawn on a bare :class:`matplotlib.figure.Figure` (Agg canvas), so no GUI backend and no pyplot
global state are involved.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..formats.atomic import atomic_path
from ..models.metrics import auroc, average_precision, precision_recall_curve, roc_curve


def plot_roc_pr(
    labels: np.ndarray,
    probs: np.ndarray,
    splits: np.ndarray,
    classes: Sequence[str],
    path: str | os.PathLike,
    split: str = "test",
) -> str:
    """Write a PNG with ROC (left) and PR (right) curves of ``split``; returns the split drawn.

    labels (N,) class indices, probs (N, K), splits (N,). One-vs-rest per class, scored by the
    class's probability. When ``split`` is empty the figure falls back to valid, then train.
    """
    for name in (split, "valid", "train"):
        if np.any(splits == name):
            split = name
            break
    members = splits == split
    y, p = labels[members], probs[members]
    fig = Figure(figsize=(10, 4.5), dpi=100)
    roc_ax, pr_ax = fig.subplots(1, 2)
    for k, name in enumerate(classes):
        truth = y == k
        if not truth.any() or truth.all():
            continue
        fpr, tpr, _ = roc_curve(truth, p[:, k])
        roc_ax.plot(fpr, tpr, lw=1.5, label=f"{name} (AUROC {auroc(truth, p[:, k]):.3f})")
        precision, recall, _ = precision_recall_curve(truth, p[:, k])
        # start the PR curve at recall 0 with the first threshold's precision, drawn as steps
        pr_ax.step(
            np.concatenate([[0.0], recall]),
            np.concatenate([[precision[0]], precision]),
            where="pre",
            lw=1.5,
            label=f"{name} (AUPRC {average_precision(truth, p[:, k]):.3f}, base {truth.mean():.2f})",
        )
    roc_ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, {split} (n={members.sum()})")
    pr_ax.set(xlabel="recall", ylabel="precision", title=f"precision-recall, {split}", ylim=(0, 1.02))
    for ax in (roc_ax, pr_ax):
        ax.set_xlim(0, 1)
        if ax.get_legend_handles_labels()[0]:  # no curve when the split holds a single class
            ax.legend(loc="lower left" if ax is pr_ax else "lower right", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return split


def plot_unlabeled(probs: np.ndarray, classes: Sequence[str], path: str | os.PathLike) -> None:
    """Write the PNG shown instead of ROC/PR curves when no window has a class: a histogram of each
    class's predicted probability (probs (N, K)) under a note saying why there are no curves."""
    fig = Figure(figsize=(10, 4.5), dpi=100)
    ax = fig.subplots()
    bins = np.linspace(0, 1, 41)
    for k, name in enumerate(classes):
        ax.hist(probs[:, k], bins=bins, histtype="step", lw=1.5, label=name)
    ax.set(xlabel="predicted probability", ylabel="windows", xlim=(0, 1),
           title=f"no labels: {len(probs)} windows carry no class, so there are no ROC/PR curves")
    if len(classes):
        ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
