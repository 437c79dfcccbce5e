"""Stage ``evaluate``: every attribution method against known motif sites (a truth BED).

For each class whose windows overlap truth sites (demo: planted targets in positive windows,
decoys in negative ones), up to ``max_windows`` such windows are drawn (seeded; from the splits
in ``splits``, in that order of preference, falling back to every split when those hold none)
and explained by their own class logit with

* ``lrp-<composite>`` — the four LRP composites, default input rule;
* the configured ``attribute.methods`` under their own names (family ``plrp`` when pruned);
* ``plrp-p0`` and ``plrp-{lambda,mask}-p{p}`` — PLRP over ``p_grid`` on the settings of the
  first pruned configured method (epsilon-plus when none is pruned), ``p_neg = p / 2``;
  ``plrp-p0`` runs the pruning code with p = 0 and must equal unpruned LRP;
* the ``baselines``: ``saliency`` (|gradient|), ``gradient_x_input``,
  ``integrated_gradients`` (``ig_steps`` midpoint steps from the ``ig_baseline``: zero, or a
  position-shuffled copy), ``ism`` (on the first ``ism_max_windows`` windows only: it costs
  3 x L forward passes per window).

The methods are built and run by :mod:`seqlrp.analysis.ground_truth`; scores and metrics are
those of :mod:`seqlrp.analysis.evaluation`. Outputs (``results/evaluation/``):

* ``summary.tsv`` — one row per (class, method), columns :data:`SUMMARY_COLUMNS`: means over
  sequences of AUROC, AUPRC, RMA, Gini (each over the sequences where it is defined), AOPC of
  the deletion curve, wall seconds per 1,000 windows (attribution only, on the stage's device,
  timed after a warm-up call on up to :data:`~seqlrp.analysis.ground_truth.WARMUP` windows), windows evaluated;
* ``deletion.tsv`` — ``class, method, fraction, mean_logit_drop`` (long format);
* ``sweep.png`` — AUROC, RMA and Gini against p for PLRP-lambda and PLRP-M, LRP as reference;
* ``deletion.png`` — deletion curves per class, a random deletion order as reference.

Deletion replaces the top-ranked positions by the bases of one dinucleotide-shuffled copy of
the same window (seeded, shared by all methods). Everything but ``seconds_per_1k`` is identical
between runs on the CPU.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence


from ..analysis.ground_truth import EvalOptions, evaluate_methods
from ..formats.atomic import atomic_write_text
from ..formats.score_table import score_cell
from ..models.device import choose_device, configure_threads
from ..models.loading import load_model_for
from ..report.evaluation_plots import plot_deletion, plot_sweep
from ..sequences.dataset import ExtractedData, load_extracted

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("class", "method", "family", "composite", "prune_mode", "p", "auroc", "auprc", "rma", "gini",
                   "aopc", "seconds_per_1k", "n_sequences")
DELETION_COLUMNS = ("class", "method", "fraction", "mean_logit_drop")


def evaluate(model_path: str | os.PathLike, data: ExtractedData, truth_path: str | os.PathLike,
             outputs: Mapping[str, str | os.PathLike], options: EvalOptions, threads: int | None = None) -> list[dict]:
    """Evaluate ``options.methods`` against the truth BED; write ``outputs`` (summary, deletion, sweep, deletion_plot)."""
    configure_threads(threads)
    device = choose_device(options.device)
    model, data = load_model_for(model_path, data)  # a foreign model's classes (config/README.md, model.classes)
    model.to(device)
    rows_out, curves, random_curves = evaluate_methods(model, data, truth_path, options, device)
    write_summary(outputs["summary"], rows_out)
    write_deletion(outputs["deletion"], curves)
    composite = next((m.composite for m in options.methods if m.family == "plrp" and m.name.startswith("plrp-")),
                     "epsilon-plus")
    plot_sweep(outputs["sweep"], rows_out, composite)
    plot_deletion(outputs["deletion_plot"], curves, rows_out, random_curves, options.fractions)
    return rows_out


def write_summary(path: str | os.PathLike, rows: Sequence[Mapping]) -> None:
    """``summary.tsv``: :data:`SUMMARY_COLUMNS`, p as given (``0.25``), metrics with 6 decimals, NA when undefined."""
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(SUMMARY_COLUMNS)
        for row in rows:
            p = "" if row["p"] is None else f"{row['p']:g}"
            writer.writerow([p if c == "p" else score_cell(row[c]) for c in SUMMARY_COLUMNS])


def write_deletion(path: str | os.PathLike, curves: Sequence[tuple[str, str, float, float]]) -> None:
    """``deletion.tsv``: one row per class, method and fraction."""
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(DELETION_COLUMNS)
        writer.writerows([cls, method, f"{fraction:g}", score_cell(float(drop))] for cls, method, fraction, drop in curves)


def run(section: Mapping, attribute_methods: Mapping[str, Mapping], seed: int, inputs: Mapping[str, str],
        outputs: Mapping[str, str], threads: int | None = None) -> list[dict]:
    """Stage entry: ``section`` is the ``evaluate`` config; ``inputs`` model, onehot, regions, info, truth."""
    options = EvalOptions.from_config(section, attribute_methods, seed)
    data = load_extracted(inputs["onehot"], inputs["regions"], inputs["info"])
    return evaluate(inputs["model"], data, inputs["truth"], outputs, options, threads)

