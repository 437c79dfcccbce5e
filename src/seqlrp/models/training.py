"""The training loop: fit a classifier on the train split, early-stopped on validation AUROC.

Adam on softmax cross-entropy over one logit per class (binary data sets too: two logits), class
weights inversely proportional to the class sizes (``class_balance``), and two augmentations
drawn per window and per epoch: reverse complement with probability 1/2 and a shift of up to
``max_shift`` bases (vacated positions become N, i.e. zero columns). After every epoch the model
scores the valid split; the weights of the epoch with the best macro one-vs-rest AUROC are kept,
and training stops after ``patience`` epochs without improvement.

Reproducibility: ``torch.manual_seed(seed)`` before building the model (initialisation, dropout)
and one seeded ``torch.Generator`` for shuffling and augmentation, drawn on the CPU so that CPU
and CUDA runs see the same batches. On the CPU two runs with one config and thread count give
the same checkpoint bytes; CUDA runs use bf16 autocast (``mixed_precision``) and are not
bitwise reproducible.
"""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .. import __version__
from ..errors import SeqlrpError
from .architectures import annotate, build
from .device import autocast, choose_device
from .inference import predict_logits, softmax
from .metrics import auroc, average_precision

log = logging.getLogger(__name__)

EVAL_BATCH_SIZE = 512


@dataclass(frozen=True)
class TrainOptions:
    """The config's ``train`` section (see workflow/schemas/config.schema.yaml)."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 5
    reverse_complement: bool = True
    max_shift: int = 3
    class_balance: bool = True
    device: str = "auto"
    mixed_precision: bool = True

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> TrainOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise SeqlrpError(f"train: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        options = cls(**section)
        if options.epochs < 1 or options.batch_size < 2 or options.patience < 1 or options.max_shift < 0 or options.lr <= 0:
            raise SeqlrpError(f"train: need epochs >= 1, batch_size >= 2, patience >= 1, max_shift >= 0, lr > 0; got {section}")
        return options


@dataclass
class TrainResult:
    """The trained model (best epoch's weights, eval mode) and one history row per epoch."""

    model: nn.Module
    history: list[dict[str, Any]]
    best_epoch: int


def reverse_complement_batch(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Reverse complement the rows of x (B, 4, L) where flip (B,) is true (ACGT: flip both axes)."""
    return torch.where(flip[:, None, None], x.flip(1, 2), x)


def shift_batch(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Shift every row of x (B, 4, L) right by shifts (B,) bases (left if negative), N-filled."""
    pad = int(shifts.abs().max()) if shifts.numel() else 0
    if pad == 0:
        return x
    length = x.shape[-1]
    padded = nn.functional.pad(x, (pad, pad))
    index = torch.arange(length, device=x.device)[None, :] + pad - shifts[:, None]
    return padded.gather(2, index[:, None, :].expand(-1, x.shape[1], -1))


def class_weights(labels: np.ndarray, n_classes: int, classes: Sequence[str]) -> torch.Tensor:
    """Weights (K,) float32 = N / (K * count_k), so every class carries the same total weight."""
    counts = np.bincount(labels, minlength=n_classes)
    missing = [classes[k] for k in range(n_classes) if counts[k] == 0]
    if missing:
        raise SeqlrpError(f"train split has no window of class(es) {', '.join(missing)}")
    return torch.tensor(labels.size / (n_classes * counts), dtype=torch.float32)


def _score(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """Macro one-vs-rest AUROC and AUPRC over the classes present (NaN if none qualifies)."""
    aurocs, auprcs = [], []
    for k in range(probs.shape[1]):
        truth = labels == k
        if truth.any() and not truth.all():
            aurocs.append(auroc(truth, probs[:, k]))
            auprcs.append(average_precision(truth, probs[:, k]))
    return (float(np.mean(aurocs)), float(np.mean(auprcs))) if aurocs else (float("nan"), float("nan"))


def train_model(
    onehot: np.ndarray,
    labels: np.ndarray,
    splits: np.ndarray,
    classes: Sequence[str],
    *,
    arch: str = "cnn",
    hparams: Mapping[str, Any] | None = None,
    options: TrainOptions = TrainOptions(),
    seed: int = 1,
    progress: bool = True,
) -> TrainResult:
    """Train on rows with split ``train``, early-stop on rows with split ``valid``.

    onehot (N, 4, L) uint8 or float, labels (N,) int class indices into ``classes``, splits (N,)
    split names. Runs on ``options.device``; returns the best epoch's model in eval mode with
    ``seqlrp_info`` naming the classes and the provenance (seed, versions, training summary).
    """
    device = choose_device(options.device)
    classes = list(classes)
    n_classes, seq_len = len(classes), int(onehot.shape[-1])
    if n_classes < 2:
        raise SeqlrpError(f"a classifier needs at least two classes, got {n_classes} ({', '.join(map(repr, classes))}): "
                          "with one class every window has the same label and the loss is 0 from the start")
    labels, splits = np.asarray(labels, dtype=np.int64), np.asarray(splits, dtype=object)
    train_rows, valid_rows = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "valid")
    if train_rows.size < 2:
        raise SeqlrpError(f"train split has {train_rows.size} window(s); need at least 2")
    if valid_rows.size == 0:
        raise SeqlrpError("valid split is empty; early stopping needs validation windows (see the split section)")

    torch.manual_seed(seed)
    model = build(arch, seq_len=seq_len, n_classes=n_classes, **dict(hparams or {})).to(device)
    generator = torch.Generator().manual_seed(seed)
    x_train = torch.from_numpy(np.ascontiguousarray(onehot[train_rows])).to(device)
    y_train = torch.from_numpy(labels[train_rows]).to(device)
    x_valid, y_valid = np.ascontiguousarray(onehot[valid_rows]), labels[valid_rows]
    weights = class_weights(labels[train_rows], n_classes, classes).to(device) if options.class_balance else None
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    log.info(
        "training %s (%d parameters) on %s: %d train / %d valid windows, classes %s",
        arch, sum(p.numel() for p in model.parameters()), device, train_rows.size, valid_rows.size, ", ".join(classes),
    )

    history: list[dict[str, Any]] = []
    best_score, best_epoch, best_state, stale = -np.inf, 0, None, 0
    bar = tqdm(range(1, options.epochs + 1), desc="train", unit="epoch", disable=not progress)
    for epoch in bar:
        started = time.perf_counter()
        model.train()
        order = torch.randperm(train_rows.size, generator=generator)
        total, seen = torch.zeros((), device=device), 0
        for lo in range(0, order.numel(), options.batch_size):
            index = order[lo : lo + options.batch_size]
            if index.numel() < 2:  # BatchNorm cannot normalise a batch of one
                continue
            flip = torch.rand(index.numel(), generator=generator) < 0.5
            shifts = torch.randint(-options.max_shift, options.max_shift + 1, (index.numel(),), generator=generator)
            index = index.to(device)
            batch = x_train[index].float()
            if options.reverse_complement:
                batch = reverse_complement_batch(batch, flip.to(device))
            if options.max_shift:
                batch = shift_batch(batch, shifts.to(device))
            with autocast(device, options.mixed_precision):
                logits = model(batch)
            loss = loss_fn(logits.float(), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * index.numel()
            seen += index.numel()

        logits = predict_logits(
            model, x_valid, batch_size=EVAL_BATCH_SIZE, device=device, mixed_precision=options.mixed_precision
        )
        if not np.isfinite(logits).all():
            raise SeqlrpError(f"training diverged in epoch {epoch}: non-finite validation logits; lower train.lr")
        valid_loss = float(nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y_valid)))
        valid_auroc, valid_auprc = _score(y_valid, softmax(logits))
        # AUROC is undefined when valid holds one class only: fall back to the loss
        score = valid_auroc if np.isfinite(valid_auroc) else -valid_loss
        improved = best_state is None or score > best_score  # a NaN score never counts as better
        if improved:
            best_score, best_epoch, stale = score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        row = {
            "epoch": epoch,
            "train_loss": float(total) / max(seen, 1),
            "valid_loss": valid_loss,
            "valid_auroc": valid_auroc,
            "valid_auprc": valid_auprc,
            "best": int(improved),
        }
        history.append(row)
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", auroc=f"{valid_auroc:.3f}")
        log.info(
            "epoch %d/%d: train loss %.4f, valid loss %.4f, valid AUROC %.4f, AUPRC %.4f%s [%.1f s]",
            epoch, options.epochs, row["train_loss"], valid_loss, valid_auroc, valid_auprc,
            " (best)" if improved else "", time.perf_counter() - started,
        )
        if stale >= options.patience:
            log.info("early stop: no valid AUROC gain for %d epochs; keeping epoch %d", stale, best_epoch)
            break
    bar.close()

    model.load_state_dict(best_state)
    model.eval()
    best = history[best_epoch - 1]
    annotate(
        model,
        classes=classes,
        provenance={
            "seed": int(seed),
            "seqlrp": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "device": device.type,
            "train": dataclasses.asdict(options),
            "best_epoch": best_epoch,
            "epochs_run": len(history),
            "valid_auroc": best["valid_auroc"],
            "valid_auprc": best["valid_auprc"],
        },
    )
    return TrainResult(model, history, best_epoch)
