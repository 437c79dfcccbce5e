"""Figures of the ground-truth evaluation: metrics against the PLRP share p, deletion curves.

``rows`` are the rows of ``summary.tsv`` (dicts with class, method, prune_mode, p, metrics,
n_sequences, aopc); ``curves`` the rows of ``deletion.tsv`` as (class, method, fraction, drop).
Drawn on a bare :class:`matplotlib.figure.Figure` (Agg canvas), written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..formats.atomic import atomic_path


def _class_names(rows: Sequence[Mapping]) -> list[str]:
    return list(dict.fromkeys(r["class"] for r in rows))


def plot_sweep(path: str | os.PathLike, rows: Sequence[Mapping], composite: str) -> None:
    """AUROC, RMA and Gini (columns) against p (rows: classes); PLRP-lambda and PLRP-M lines, and
    unpruned LRP with the sweep's ``composite`` dashed."""
    classes = _class_names(rows) or ["(no class)"]
    metrics = (("auroc", "AUROC"), ("rma", "relevance mass accuracy"), ("gini", "Gini index of |R|"))
    fig = Figure(figsize=(12, 3.4 * len(classes)), dpi=100)
    axes = np.atleast_2d(fig.subplots(len(classes), 3, squeeze=False))
    for i, cls in enumerate(classes):
        of_class = {r["method"]: r for r in rows if r["class"] == cls}
        for j, (key, label) in enumerate(metrics):
            ax = axes[i, j]
            for mode, colour, marker in (("lambda", "tab:blue", "o"), ("mask", "tab:orange", "s")):
                points = sorted((r["p"], r[key]) for r in of_class.values()
                                if r["method"].startswith("plrp-") and r["prune_mode"] in (mode, ""))
                if points:
                    ax.plot(*zip(*points), color=colour, marker=marker, lw=1.5,
                            label=f"PLRP-{'λ' if mode == 'lambda' else 'M'}")
            reference = of_class.get(f"lrp-{composite}")
            if reference is not None and np.isfinite(reference[key]):
                ax.axhline(reference[key], color="grey", ls="--", lw=1, label=f"LRP {composite}")
            ax.set(xlabel="pruned share p (p⁻ = p/2)", ylabel=label, title=f"{cls}: {label}")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")


def plot_deletion(path: str | os.PathLike, curves: Sequence[tuple[str, str, float, float]], rows: Sequence[Mapping],
                  random_curves: Mapping[str, np.ndarray], fractions: Sequence[float]) -> None:
    """Mean logit drop against the replaced fraction, one panel per class; PLRP sweep lines in grey."""
    classes = _class_names(rows) or ["(no class)"]
    fig = Figure(figsize=(6.5 * len(classes), 4.8), dpi=100)
    axes = fig.subplots(1, len(classes), squeeze=False)[0]
    family = {(r["class"], r["method"]): r for r in rows}
    for ax, cls in zip(axes, classes):
        methods = list(dict.fromkeys(m for c, m, _, _ in curves if c == cls))
        colours = iter(f"C{k % 10}" for k in range(len(methods)))
        swept = False
        largest = max((r["n_sequences"] for r in rows if r["class"] == cls), default=0)
        for method in methods:
            xs, ys = zip(*[(f, d) for c, m, f, d in curves if c == cls and m == method])
            if method.startswith("plrp-"):
                ax.plot(xs, ys, color="lightgrey", lw=0.8, zorder=1, label=None if swept else "PLRP sweep")
                swept = True
                continue
            row = family[(cls, method)]
            subset = f", n={row['n_sequences']}" if row["n_sequences"] < largest else ""
            ax.plot(xs, ys, color=next(colours), lw=1.5, marker=".", zorder=2,
                    label=f"{method} (AOPC {row['aopc']:.3g}{subset})")
        if cls in random_curves:
            ax.plot(fractions, random_curves[cls], color="black", ls=":", lw=1.2, label="random order")
        ax.set(xlabel="share of positions replaced (most relevant first)", ylabel="mean logit drop",
               title=f"deletion, {cls}")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
