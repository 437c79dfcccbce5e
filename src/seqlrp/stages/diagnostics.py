"""Stage ``diagnostics``: artifact checks of every class and method's relevance maps, with verdicts.

For each ``results/attributions/{class}.{method}/`` (its relevance, one-hot input, regions table
with logit and relevance sum, and settings), six diagnostics (:mod:`seqlrp.analysis.diagnostics`) are
computed and compared with the thresholds of the config's ``diagnostics.thresholds``:

===========================  ================================================  =========
diagnostic                   what it measures                                  warn if
===========================  ================================================  =========
border_excess                mean ``|R|`` in the ``border`` outer bp / centre   > 1.5
conservation_error           median ``|sum R - logit| / |logit|``               > 0.2
absorbed_share               share of the logits not reaching the input         ``|x|`` > 0.2
randomisation_similarity     Spearman of ``|R|``, trained vs randomised model   > 0.5
n_relevance_share            share of ``|R|`` on N positions                    > 0.01
null_exceedance              share of positions not above the shuffled null     > 0.5
===========================  ================================================  =========

Randomisation (Adebayo et al. 2018) re-initialises *every* parameter of a copy of the model
(seeded; BatchNorm statistics reset too; a foreign model's parameters that no
``reset_parameters`` covers are redrawn with their own spread, :func:`randomised_copy`): the end
point of the cascading test, where nothing learned is left. The trained maps come from
``attr.npz``; the randomised ones are recomputed with the method's settings (``settings.json``)
on a seeded subset of ``n_windows`` windows. The shuffled null explains ``n_shuffles``
dinucleotide-shuffled copies (:func:`seqlrp.sequences.shuffle.shuffle_onehot`) of the same subset with the
trained model and the same settings.

Outputs: ``diagnostics.tsv`` (columns :data:`COLUMNS`, rows per class, method and
:data:`~seqlrp.analysis.diagnostics.DIAGNOSTICS`) and a directory of figures ``{class}.{method}.png``:
positional profile with the null band and the border shaded, conservation scatter (logit vs
relevance sum), and one window's relevance under the trained and the randomised model.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from tqdm import tqdm

from ..analysis import diagnostics as dx
from ..analysis.tracks import observed_relevance
from ..errors import InputError, SeqlrpError
from ..formats.arrays import open_npz
from ..formats.atomic import atomic_path, atomic_write_text
from ..models import load_model
from ..models.device import choose_device, configure_threads
from ..sequences.shuffle import shuffle_onehot
from .attribute import MethodSpec, explain

log = logging.getLogger(__name__)

COLUMNS = ("class", "method", "diagnostic", "value", "threshold", "verdict", "detail")
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


@dataclass
class Attribution:
    """One attribution directory: relevance and one-hot (n, 4, L) memory maps, logits and sums (n,)."""

    cls: str
    method: str
    spec: MethodSpec
    target: int
    relevance: np.ndarray
    onehot: np.ndarray
    logits: np.ndarray
    sums: np.ndarray


def read_attribution(attr_dir: str | os.PathLike) -> Attribution:
    """Load ``settings.json``, ``regions.tsv`` (logit, relevance_sum), ``attr.npz`` and ``ohe.npz``."""
    attr_dir = Path(attr_dir)
    settings = json.loads((attr_dir / "settings.json").read_text())
    table = attr_dir / "regions.tsv"
    with open(table, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"logit", "relevance_sum"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(table, f"attribution regions table lacks column(s) {', '.join(sorted(missing))}", 1)
        values = [(float(r["logit"]), float(r["relevance_sum"])) for r in reader]
    relevance, onehot = open_npz(attr_dir / "attr.npz"), open_npz(attr_dir / "ohe.npz")
    if relevance.shape != onehot.shape or relevance.shape[0] != len(values):
        raise InputError(attr_dir, f"attr.npz {relevance.shape}, ohe.npz {onehot.shape} and regions.tsv "
                                   f"({len(values)} rows) do not match")
    pairs = np.array(values, dtype=np.float64).reshape(-1, 2)
    return Attribution(settings["class"], settings["method"], MethodSpec.from_settings(settings),
                       int(settings["target_index"]), relevance, onehot, pairs[:, 0], pairs[:, 1])


def randomised_copy(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` with every parameter re-initialised, seeded.

    Modules with ``reset_parameters`` (Conv1d, Linear, BatchNorm, which resets its statistics
    too) draw their own initialisation. Every other floating-point parameter — a foreign model's
    custom ones, or those of a ``torch.export`` program's graph, which keeps no layer classes —
    is drawn from a normal distribution with mean 0 and the tensor's own standard deviation (its
    root mean square when that is 0; an all-zero tensor stays zero). Buffers of modules without
    ``reset_parameters`` stay as they are. torch's global random state is left as it was. The
    copy is in eval mode; pass a CPU model for weights that do not depend on the device.
    """
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        done: set[int] = set()
        for module in clone.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
                done.update(id(p) for p in module.parameters(recurse=False))
        with torch.no_grad():
            for parameter in clone.parameters():
                if id(parameter) in done or not parameter.is_floating_point() or parameter.numel() == 0:
                    continue
                values = parameter.detach().double()
                scale = float(values.std()) if values.numel() > 1 else 0.0
                if not math.isfinite(scale) or scale == 0.0:
                    scale = float(values.pow(2).mean().sqrt())
                if math.isfinite(scale) and scale > 0.0:
                    parameter.normal_(0.0, scale)
                done.add(id(parameter))
    return clone.eval()


def method_relevance(model: nn.Module, onehot: np.ndarray, target: int, spec: MethodSpec, device: torch.device,
                     batch_size: int = 128) -> np.ndarray:
    """Relevance (n, 4, L) float32 of one-hot (n, 4, L) for logit ``target`` under ``spec``."""
    chunks = [result.relevance.float().cpu().numpy()
              for _, result in explain(model, onehot, target, spec, device, batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, *onehot.shape[1:]), dtype=np.float32)


def subset(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted rows (min(n, size),) drawn without replacement, seeded."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(n, size), replace=False))


def _fmt(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else ("nan" if math.isnan(value) else str(value))


def _short(value: float) -> str:
    return f"{value:.3g}"


def diagnose(attr: Attribution, model: nn.Module, random_model: nn.Module, config: Mapping, seed: int,
             device: torch.device, figure: str | os.PathLike | None = None) -> list[Row]:
    """The rows of one class and method (in :data:`~seqlrp.analysis.diagnostics.DIAGNOSTICS` order); draw ``figure``."""
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

    trained = observed_relevance(attr.relevance[rows], sample)
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
                         f"the shuffled null's: {_fmt(null_border)}",
        "conservation_error": f"median over {errors.size} windows of |sum R - logit| / |logit|; "
                              f"90th percentile {_fmt(float(np.quantile(errors, 0.9)) if errors.size else math.nan)}",
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
    if figure is not None:
        example = int(np.argmax(attr.logits[rows])) if rows.size else 0
        plot_diagnostics(figure, f"{attr.cls}.{attr.method}", profile, null_profile, (lower, upper), border, bumps,
                         attr.logits, attr.sums, trained[example] if rows.size else None,
                         randomised[example] if rows.size else None, similarities[example] if rows.size else math.nan,
                         {r.diagnostic: r for r in result})
    return result


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


def write_table(path: str | os.PathLike, rows: Sequence[Row]) -> None:
    """``diagnostics.tsv``: a header (:data:`COLUMNS`) and one line per row."""
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([row.cls, row.method, row.diagnostic, _fmt(row.value), _fmt(row.threshold), row.verdict,
                             row.detail])


def run(config: Mapping, attr_dirs: Sequence[str | os.PathLike], model_path: str | os.PathLike,
        outputs: Mapping[str, str], seed: int, threads: int | None = None) -> list[Row]:
    """Diagnose every attribution directory; write ``outputs["table"]`` and figures under ``outputs["figures"]``.

    ``config`` is the ``diagnostics`` section (device, batch_size, n_windows, n_shuffles, border,
    null_quantile, thresholds).
    """
    configure_threads(threads)
    missing = sorted(set(dx.DIAGNOSTICS) - set(config["thresholds"]))
    if missing:
        raise SeqlrpError(f"diagnostics.thresholds: missing {', '.join(missing)}")
    device = choose_device(config.get("device", "auto"))
    model = load_model(model_path)
    random_model = randomised_copy(model, seed).to(device)  # drawn on the CPU: same weights on any device
    model.to(device)
    figures = Path(outputs["figures"])
    figures.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for attr_dir in tqdm(list(attr_dirs), desc="diagnostics", unit="map"):
        attr = read_attribution(attr_dir)
        found = diagnose(attr, model, random_model, config, seed, device, figures / f"{attr.cls}.{attr.method}.png")
        for row in found:
            log.info("diagnostics %s.%s: %s = %s (threshold %s) %s", row.cls, row.method, row.diagnostic,
                     _fmt(row.value), _fmt(row.threshold), row.verdict.upper())
        rows += found
    write_table(outputs["table"], rows)
    warned = sum(row.verdict == "warn" for row in rows)
    log.info("diagnostics: %d of %d checks warn; see %s", warned, len(rows), outputs["table"])
    return rows
