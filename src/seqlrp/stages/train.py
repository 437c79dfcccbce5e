"""Stage ``train``: fit a classifier on the extract stage's windows, write its checkpoint and history.

The loop (Adam, class weights, augmentation, early stopping on validation AUROC, seeding) is
:func:`seqlrp.models.training.train_model`; ``import_model`` runs :func:`import_checkpoint` or
:func:`import_foreign_model` instead, for a model brought along.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from collections.abc import Mapping
from typing import Any

from ..formats.atomic import atomic_path, atomic_write_text
from ..models import check_compatible, load_model, save_model
from ..models.device import configure_threads
from ..models.training import TrainOptions, TrainResult, train_model
from ..sequences.dataset import load_extracted

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "train_loss", "valid_loss", "valid_auroc", "valid_auprc", "best")


def write_history(history: list[dict[str, Any]], path: str | os.PathLike) -> None:
    """One row per epoch: epoch, train_loss, valid_loss, valid_auroc, valid_auprc, best (0/1)."""
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(HISTORY_COLUMNS)
        for row in history:
            writer.writerow([f"{row[c]:.6f}" if isinstance(row[c], float) else row[c] for c in HISTORY_COLUMNS])


def train(
    config: Mapping[str, Any],
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    *,
    threads: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Run the stage from a validated config (``seed``, ``model``, ``train`` sections).

    ``inputs``: onehot/regions/info of the extract stage; ``outputs``: model (checkpoint) and
    history (per-epoch TSV).
    """
    configure_threads(threads)
    data = load_extracted(inputs["onehot"], inputs["regions"], inputs["info"])
    model_cfg = config.get("model", {})
    result = train_model(
        data.onehot,
        data.labels,
        data.splits,
        data.classes,
        arch=model_cfg.get("arch", "cnn"),
        hparams=model_cfg.get("hparams") or {},
        options=TrainOptions.from_config(config.get("train", {})),
        seed=config.get("seed", 1),
        progress=progress,
    )
    save_model(result.model, outputs["model"])
    write_history(result.history, outputs["history"])
    log.info("best epoch %d of %d; checkpoint %s", result.best_epoch, len(result.history), outputs["model"])
    return result


def import_checkpoint(checkpoint: str | os.PathLike, info_path: str | os.PathLike, output: str | os.PathLike) -> None:
    """Bring-your-own model: check ``checkpoint`` loads safely and fits the data, then copy it.

    ``info_path`` is the extract stage's ``dataset.json``; the copy at ``output`` is byte-identical.
    """
    with open(info_path, encoding="utf-8") as handle:
        info = json.load(handle)
    model = load_model(checkpoint)
    check_compatible(
        model.seqlrp_info, seq_len=info["seq_len"], classes=info["classes"], alphabet=info.get("alphabet", "ACGT"), path=checkpoint
    )
    with atomic_path(output, suffix=".pt") as tmp:
        shutil.copyfile(checkpoint, tmp)
    log.info("using checkpoint %s (%s, classes %s); training skipped", checkpoint, model.seqlrp_info.arch, ", ".join(info["classes"]))


def import_foreign_model(model_section: Mapping[str, Any], info_path: str | os.PathLike,
                         outputs: Mapping[str, Any]) -> None:
    """Bring-your-own model from outside seqlrp (a ``.pt2``/ONNX ``model.checkpoint`` or ``model.module``):
    check it against the data and write ``outputs["model"]`` as a checkpoint of arch "external"
    (:func:`seqlrp.models.external.import_foreign`), the model file copied to ``outputs["source"]``."""
    from ..models.external import ForeignSpec, import_foreign

    source = outputs.get("source")
    if isinstance(source, (list, tuple)):
        source = source[0] if source else None
    spec = ForeignSpec.from_config(model_section)
    model = import_foreign(spec, info_path, {"model": outputs["model"], "source": source})
    info = model.seqlrp_info
    with open(info_path, encoding="utf-8") as handle:
        data_classes = list(json.load(handle)["classes"])
    named = [c for c in data_classes if c in info.classes]
    log.info("imported %s (%s, seq_len %d): classes %s = output%s task(s) %s; training skipped",
             spec.module or spec.checkpoint, info.hparams["source"]["format"], info.seq_len, ", ".join(info.classes),
             "" if spec.output is None else f" {spec.output!r}", ", ".join(map(str, info.hparams["indices"])))
    if data_classes == list(info.classes):
        log.info("the data's classes are the model's, in the same order")
    elif named:
        others = [c for c in data_classes if c not in info.classes]
        everywhere = [c for c in info.classes if c not in data_classes]
        log.info("region sets named like a model class (%s) are that class's windows%s%s", ", ".join(named),
                 f"; the windows of {', '.join(others)} are negatives in the metrics and explained by no class" if others else "",
                 f"; {', '.join(everywhere)} (no region set of that name) explain(s) every window" if everywhere else "")
    else:
        log.info("no region set (%s) is named like a model class: every window is explained by every class, "
                 "without metrics (as genome-wide tiles)", ", ".join(data_classes))
