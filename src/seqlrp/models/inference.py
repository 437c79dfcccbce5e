"""Batched inference: one-hot windows (N, 4, L) -> logits (N, K) float32 on the host, and their softmax.

Windows go to the device one batch at a time (the input may be a read-only memmap larger than
device memory); ``K`` is the model's number of classes. :func:`softmax` turns logits into
probabilities (N, K) float64, the sigmoid for a model of one class.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import SeqlrpError
from .architectures import describe
from .device import autocast


def predict_logits(
    model: nn.Module,
    onehot: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 512,
    device: torch.device | str = "cpu",
    mixed_precision: bool = False,
) -> np.ndarray:
    """Logits (N, n_classes) float32 of one-hot windows (N, 4, L) (uint8 or float, memmap ok).

    Batches of ``batch_size`` move to ``device`` one at a time, so the input may be larger than
    device memory. ``mixed_precision`` runs bf16 autocast on CUDA. The model's train/eval mode
    is restored afterwards.
    """
    if batch_size < 1:
        raise SeqlrpError(f"batch_size must be positive, got {batch_size}")
    device = torch.device(device)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with torch.inference_mode(), autocast(device, mixed_precision):
            for lo in range(0, len(onehot), batch_size):
                batch = onehot[lo : lo + batch_size]
                if not isinstance(batch, torch.Tensor):  # a copy: memmaps are read-only
                    batch = torch.from_numpy(np.array(batch))
                chunks.append(model(batch.to(device).float()).float().cpu())
    finally:
        model.train(was_training)
    if not chunks:
        return np.empty((0, describe(model).n_classes), dtype=np.float32)
    return torch.cat(chunks).numpy()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (N, K) -> (N, K) float64, computed stably; the sigmoid for K = 1."""
    if logits.ndim == 2 and logits.shape[1] == 1:
        return 0.5 * (1.0 + np.tanh(0.5 * logits.astype(np.float64)))
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
