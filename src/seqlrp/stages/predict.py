"""Stage ``predict``: batched inference (:mod:`seqlrp.models.inference`), per-window predictions and per-split
metrics (:mod:`seqlrp.models.metrics`).

Outputs:

* ``predictions.tsv`` — the regions table columns (chrom, start, end, strand, name, class,
  split), then ``logit_{class}`` for every class, then ``prob_{class}`` (softmax; the sigmoid for
  a model with one class);
* ``metrics.tsv`` — columns ``split, class, auroc, auprc, accuracy, n, n_class``: one-vs-rest per
  class (score = the class's probability; for a model from outside seqlrp, whose outputs need not
  be exclusive classes, the class's own score ``logit_{class}``; accuracy of "predicted class ==
  this class" against "true class == this class", NA for a model of one class), plus a row
  ``class = all`` per split with the macro means of AUROC/AUPRC and the multi-class accuracy.
  Windows of a data class the model has no output for (:func:`seqlrp.models.external.data_for`) are
  negatives of every class. ``n`` counts the split's windows, ``n_class`` those
  of the row's class. Missing values (a class absent from a split) read ``NA``. Windows without a
  class (genome-wide tiles, split ``tile``) get no metrics: one row per such split, class ``all``,
  metrics ``NA``, ``n_class`` 0;
* ``roc_pr.png`` — ROC and precision-recall curves (see :mod:`seqlrp.report.plots`); without any
  labeled window, a histogram of the predicted probabilities with a note instead.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError, SeqlrpError
from ..formats.atomic import atomic_path, atomic_write_text
from ..formats.score_table import score_cell, write_score_table
from ..formats.table import COLUMNS, RegionTable
from ..models import read_info
from ..models.device import choose_device, configure_threads
from ..models.external import data_for
from ..models.inference import predict_logits, softmax
from ..models.loading import load_model_for
from ..models.metrics import METRIC_COLUMNS, metrics_rows, unlabeled_rows
from ..report.plots import plot_roc_pr, plot_unlabeled
from ..sequences.dataset import ExtractedData, load_extracted

log = logging.getLogger(__name__)


def write_metrics(rows: list[dict], path: str | os.PathLike) -> None:
    """Write :func:`seqlrp.models.metrics.metrics_rows` output as a TSV with a header line."""
    write_score_table(path, METRIC_COLUMNS, rows)


def write_predictions(
    table: RegionTable, classes: Sequence[str], logits: np.ndarray, probs: np.ndarray, path: str | os.PathLike
) -> None:
    """Regions table columns, then ``logit_{class}`` and ``prob_{class}`` (N rows)."""
    header = [*COLUMNS, *(f"logit_{c}" for c in classes), *(f"prob_{c}" for c in classes)]
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        for row, lg, pr in zip(table.rows(), logits.tolist(), probs.tolist()):
            writer.writerow([*row, *(f"{v:.6g}" for v in lg), *(f"{v:.6g}" for v in pr)])


def predict(
    section: Mapping, inputs: Mapping[str, str], outputs: Mapping[str, str], *, threads: int | None = None
) -> list[dict]:
    """Run the stage in one job: ``inputs`` model/onehot/regions/info, ``outputs``
    predictions/metrics/figure. ``section`` is the config's ``predict`` section (``batch_size``,
    ``device``, ``mixed_precision``). Returns the metrics rows.
    """
    data = load_extracted(inputs["onehot"], inputs["regions"], inputs["info"])
    logits = shard_logits(section, inputs["model"], data, 0, len(data.table), threads=threads)
    info = read_info(inputs["model"])
    return finish_predictions(data_for(data, info), logits, outputs, foreign=info.arch == "external")


def shard_logits(section: Mapping, model_path: str | os.PathLike, data: ExtractedData, lo: int, hi: int, *,
                 threads: int | None = None) -> np.ndarray:
    """Logits (hi - lo, n_classes) float32 of windows ``[lo, hi)`` of ``data`` (one shard)."""
    configure_threads(threads)
    device = choose_device(section.get("device", "auto"))
    model, data = load_model_for(model_path, data, device=device)
    hi = min(hi, len(data.table))
    log.info("predicting windows %d-%d of %d on %s (batch size %d)", lo, hi, len(data.table), device,
             section.get("batch_size", 512))
    return predict_logits(model, data.onehot[lo:hi], batch_size=section.get("batch_size", 512), device=device,
                          mixed_precision=section.get("mixed_precision", False))


def predict_shard(section: Mapping, inputs: Mapping[str, str], output: str | os.PathLike, shard: int, shard_size: int,
                  *, threads: int | None = None) -> int:
    """Write the logits of shard ``shard`` (windows ``[shard * shard_size, (shard + 1) * shard_size)``;
    ``shard_size`` 0 = all) to ``output`` (.npy, (n, n_classes) float32); return n."""
    lo, hi = (0, np.iinfo(np.int64).max) if shard_size <= 0 else (shard * shard_size, (shard + 1) * shard_size)
    data = load_extracted(inputs["onehot"], inputs["regions"], inputs["info"])
    logits = shard_logits(section, inputs["model"], data, lo, hi, threads=threads)
    with atomic_path(output, suffix=".npy") as tmp:
        np.save(tmp, logits)
    return len(logits)


def gather_predictions(inputs: Mapping[str, str], shards: Sequence[str | os.PathLike], outputs: Mapping[str, str]) -> list[dict]:
    """Join the shards' logits (in shard order) into predictions, metrics and the figure.

    ``inputs["model"]``, when given, is the checkpoint (its classes: read without loading it).
    """
    data = load_extracted(inputs["onehot"], inputs["regions"], inputs["info"])
    foreign = False
    if inputs.get("model"):
        info = read_info(inputs["model"])
        data, foreign = data_for(data, info), info.arch == "external"
    parts = []
    for path in shards:
        try:
            parts.append(np.load(path))
        except (ValueError, OSError, EOFError) as err:
            raise InputError(path, f"not a readable logits array ({err}); delete it and rerun") from None
    logits = np.concatenate(parts) if parts else np.empty((0, len(data.classes)), dtype=np.float32)
    if logits.shape != (len(data.table), len(data.classes)):
        raise SeqlrpError(f"predict: the shards hold logits of shape {logits.shape}, the data set needs "
                          f"{(len(data.table), len(data.classes))}; rerun the predict_shard jobs")
    return finish_predictions(data, logits, outputs, foreign=foreign)


def finish_predictions(data: ExtractedData, logits: np.ndarray, outputs: Mapping[str, str], *,
                       foreign: bool = False) -> list[dict]:
    """Predictions, metrics and the ROC/PR figure of ``data`` from its logits (N, K).

    ``foreign``: the model is from outside seqlrp; its windows are ranked by their scores (logits)."""
    probs = softmax(logits)
    scored = logits.astype(np.float64) if foreign else probs
    labels, splits, labeled = data.labels, data.splits, data.labeled
    write_predictions(data.table, data.classes, logits, probs, outputs["predictions"])
    rows = metrics_rows(labels[labeled], scored[labeled], splits[labeled], data.classes) if labeled.any() else []
    if len(data.classes) == 1:  # nothing to choose between: no accuracy
        for row in rows:
            row["accuracy"] = float("nan")
    rows += unlabeled_rows(splits[~labeled])
    write_metrics(rows, outputs["metrics"])
    if labeled.any():
        plot_roc_pr(labels[labeled], scored[labeled], splits[labeled], data.classes, outputs["figure"])
    else:
        log.info("no window has a class (genome-wide tiles, or no region set named like a model class): no metrics, "
                 "the figure shows the predicted probabilities")
        plot_unlabeled(probs, data.classes, outputs["figure"])
    for row in rows:
        if row["class"] == "all":
            log.info(
                "%s: AUROC %s, AUPRC %s, accuracy %s (n %d)",
                row["split"], score_cell(row["auroc"]), score_cell(row["auprc"]), score_cell(row["accuracy"]), row["n"],
            )
    return rows
