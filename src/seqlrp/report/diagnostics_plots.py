"""Figure of the artifact checks of one class and method: positional profile, conservation, randomisation.

The curves are those of :class:`seqlrp.analysis.artifact_checks.Diagnosis`; ``rows`` its rows
by diagnostic name (their values and verdicts go into the titles). Drawn on a bare
:class:`matplotlib.figure.Figure` (Agg canvas), written atomically as PNG.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ..analysis.artifact_checks import Row
from ..formats.atomic import atomic_path


def _short(value: float) -> str:
    return f"{value:.3g}"


def plot_diagnostics(path: str | os.PathLike, label: str, profile: np.ndarray, null_profile: np.ndarray,
                     band: tuple[np.ndarray, np.ndarray], border: int, bumps: np.ndarray, logits: np.ndarray,
                     sums: np.ndarray, trained: np.ndarray | None, randomised: np.ndarray | None, similarity: float,
                     rows: Mapping[str, Row]) -> None:
    """PNG: positional profile with the null band (top), conservation scatter and randomisation example (bottom)."""
    fig = Figure(figsize=(11, 7.5), dpi=100)
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1])
    ax = fig.add_subplot(grid[0, :])
    positions = np.arange(profile.size)
    ax.axvspan(-0.5, border - 0.5, color="grey", alpha=0.15, lw=0)
    ax.axvspan(profile.size - border - 0.5, profile.size - 0.5, color="grey", alpha=0.15, lw=0, label=f"border ({border} bp)")
    ax.fill_between(positions, band[0], band[1], color="tab:orange", alpha=0.3, lw=0, label="null band (shuffled)")
    ax.plot(positions, null_profile, color="tab:orange", lw=1, label="null mean |R|")
    ax.plot(positions, profile, color="tab:blue", lw=1.5, label="mean |R|")
    if bumps.size:
        ax.plot(bumps, null_profile[bumps], "x", color="tab:red", ms=5, label="null border bump")
    excess, null_row = rows["border_excess"], rows["null_exceedance"]
    ax.set(xlabel="position in window (bp)", ylabel="mean |relevance|", xlim=(-0.5, profile.size - 0.5),
           title=f"{label}: positional profile — border_excess {_short(excess.value)} ({excess.verdict}), "
                 f"null_exceedance {_short(null_row.value)} ({null_row.verdict})")
    top = np.nanmax(np.concatenate([profile, band[1]])) if profile.size else 0.0
    if np.isfinite(top) and top > 0:
        ax.set_ylim(0, 1.25 * top)  # room for the legend above the curves
    ax.legend(fontsize=8, loc="upper center", ncol=5)
    ax.grid(alpha=0.3)

    ax = fig.add_subplot(grid[1, 0])
    ax.scatter(logits, sums, s=6, alpha=0.6, color="tab:blue", lw=0)
    finite = np.concatenate([logits, sums])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        ax.plot([lo, hi], [lo, hi], color="grey", ls="--", lw=0.8, label="sum R = logit")
        ax.legend(fontsize=8, loc="upper left")
    error, absorbed = rows["conservation_error"], rows["absorbed_share"]
    ax.set(xlabel="explained logit", ylabel="sum of input relevance",
           title=f"conservation error {_short(error.value)} ({error.verdict}), absorbed {_short(absorbed.value)} "
                 f"({absorbed.verdict})")
    ax.grid(alpha=0.3)

    ax = fig.add_subplot(grid[1, 1])
    random_row = rows["randomisation_similarity"]
    if trained is not None and randomised is not None:
        for values, name, colour in ((trained, "trained", "tab:blue"), (randomised, "randomised", "tab:grey")):
            scale = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.0
            ax.plot(np.arange(values.size), values / scale if scale > 0 else values, lw=1, color=colour, label=name)
        ax.legend(fontsize=8, loc="upper right")
    ax.set(xlabel="position in window (bp)", ylabel="observed-base relevance / max |R|",
           title=f"randomisation: rho {_short(similarity)} here, mean {_short(random_row.value)} ({random_row.verdict})")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
