"""The artifact checks of one class and method's relevance maps: the diagnostics with their models run.

:mod:`seqlrp.analysis.diagnostics` reduces arrays to numbers; here they are computed for one
attribution (:class:`seqlrp.attribution.store.Attribution`): the shuffled null and the
randomised model's maps are recomputed with the method's own settings on a seeded subset of
windows, every diagnostic is compared with its threshold, and :func:`diagnose` returns one
:class:`Row` per diagnostic (in :data:`~seqlrp.analysis.diagnostics.DIAGNOSTICS` order) with
the curves behind them (:class:`Diagnosis`, what :func:`seqlrp.report.diagnostics_plots.plot_diagnostics`
draws). ``config`` is the ``diagnostics`` config section.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..attribution.methods import MethodSpec, explain
from ..attribution.store import Attribution
from ..sequences.shuffle import shuffle_onehot
from . import diagnostics as dx
from .tracks import observed_relevance, observed_rows

N_BOOT = 200  # bootstrap resamples of the null's mean profile


@dataclass(frozen=True)
class Row:
    """One line of ``diagnostics.tsv``."""

    cls: str
    method: str
    diagnostic: str
    value: float
    threshold: float
    verdict: str
    detail: str


def method_relevance(model: nn.Module, onehot: np.ndarray, target: int, spec: MethodSpec, device: torch.device,
                     batch_size: int = 128) -> np.ndarray:
    """Relevance (n, 4, L) float32 of one-hot (n, 4, L) for logit ``target`` under ``spec``."""
    chunks = [result.relevance.float().cpu().numpy()
              for _, result in explain(model, onehot, target, spec, device, batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, *onehot.shape[1:]), dtype=np.float32)


def subset(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted rows (min(n, size),) drawn without replacement, seeded."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(n, size), replace=False))


def format_value(value: float) -> str:
    """A number as ``diagnostics.tsv`` writes it: 6 significant digits, ``nan``, ``inf`` or ``-inf``."""
    return f"{value:.6g}" if math.isfinite(value) else ("nan" if math.isnan(value) else str(value))


@dataclass
class Diagnosis:
    """The rows of one class and method and the curves its figure draws.

    ``profile`` and ``null_profile`` (L,) are the mean ``|R|`` per position of the maps and of the
    shuffled null, ``band`` (lower, upper) the null's bootstrap band, ``bumps`` the null's border
    bump positions; ``trained`` and ``randomised`` (L,) the observed-base relevance of the subset's
    window with the largest logit under both models, ``similarity`` their Spearman (None, None and
    NaN for an empty subset).
    """

    rows: list[Row]
    profile: np.ndarray
    null_profile: np.ndarray
    band: tuple[np.ndarray, np.ndarray]
    bumps: np.ndarray
    trained: np.ndarray | None
    randomised: np.ndarray | None
    similarity: float


def diagnose(attr: Attribution, model: nn.Module, random_model: nn.Module, config: Mapping, seed: int,
             device: torch.device) -> Diagnosis:
    """The rows of one class and method (in :data:`~seqlrp.analysis.diagnostics.DIAGNOSTICS` order) and their curves."""
    thresholds, border = config["thresholds"], config["border"]
    batch_size, quantile = config["batch_size"], config["null_quantile"]
    rows = subset(len(attr.relevance), config["n_windows"], seed)
    sample = np.asarray(attr.onehot[rows])

    profile = dx.positional_profile(attr.relevance)
    shuffled = shuffle_onehot(sample, n_shuffles=config["n_shuffles"], seed=seed)
    null = dx.position_relevance(method_relevance(model, shuffled, attr.target, attr.spec, device, batch_size))
    null_profile = np.abs(null).mean(axis=0)
    lower, upper = dx.bootstrap_profile_band(null, quantile, N_BOOT, seed)
    bumps = dx.border_bumps(null_profile, border, thresholds["border_excess"])
    null_border = dx.border_excess(null_profile, border)

    trained = observed_rows(attr.relevance, attr.onehot)[rows]
    randomised = observed_relevance(method_relevance(random_model, sample, attr.target, attr.spec, device, batch_size),
                                    sample)
    similarities = dx.randomisation_similarities(trained, randomised)

    errors = dx.conservation_errors(attr.logits, attr.sums)
    n_positions = dx.count_n_positions(attr.onehot)
    values = {
        "border_excess": dx.border_excess(profile, border),
        "conservation_error": dx.conservation_error(attr.logits, attr.sums),
        "absorbed_share": dx.absorbed_share(attr.logits, attr.sums),
        "randomisation_similarity": float(np.nanmean(similarities)) if np.isfinite(similarities).any() else math.nan,
        "n_relevance_share": dx.n_relevance_share(attr.relevance, attr.onehot),
        "null_exceedance": dx.null_exceedance(profile, upper),
    }
    bump_text = (f"null border bump at {bumps.size} position(s) (positional, not sequence-driven)" if bumps.size
                 else "no border bump in the null")
    details = {
        "border_excess": f"mean |R| in the {border} outer bp of each end / centre over {len(attr.relevance)} windows; "
                         f"the shuffled null's: {format_value(null_border)}",
        "conservation_error": f"median over {errors.size} windows of |sum R - logit| / |logit|; "
                              f"90th percentile {format_value(float(np.quantile(errors, 0.9)) if errors.size else math.nan)}",
        "absorbed_share": "share of the logits' magnitude not reaching the input (biases, epsilon and stabilisers; "
                          "some is expected); negative = added by negative biases",
        "randomisation_similarity": f"mean Spearman of |R| of observed bases, trained vs fully re-initialised model, "
                                    f"{int(np.isfinite(similarities).sum())} windows (seed {seed})",
        "n_relevance_share": f"{n_positions} N position(s) in {len(attr.relevance)} windows" if n_positions
                             else "no N positions in the windows",
        "null_exceedance": f"positions where the profile <= the {quantile} quantile of the mean profile of "
                           f"{len(null)} shuffled windows; {bump_text}",
    }
    result = [Row(attr.cls, attr.method, name, values[name], float(thresholds[name]),
                  dx.verdict(values[name], thresholds[name], name in dx.TWO_SIDED), details[name])
              for name in dx.DIAGNOSTICS]
    example = int(np.argmax(attr.logits[rows])) if rows.size else 0
    return Diagnosis(result, profile, null_profile, (lower, upper), bumps, trained[example] if rows.size else None,
                     randomised[example] if rows.size else None, similarities[example] if rows.size else math.nan)
