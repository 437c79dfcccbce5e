"""Where models run: device choice, CPU thread count and mixed precision.

``"auto"`` picks CUDA when a CUDA device is visible and the CPU otherwise; ``"cuda"`` without a
device is an error rather than a silent fall back, so a GPU job never runs for hours on a CPU.
Mixed precision is bf16 autocast and applies to CUDA only: CPU runs stay in fp32 and are
reproducible to the byte for a given seed and thread count.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

from ..errors import SeqlrpError

DEVICES = ("auto", "cpu", "cuda")


def choose_device(name: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` for ``name`` (``auto`` | ``cpu`` | ``cuda`` | ``cuda:K``)."""
    if isinstance(name, torch.device):
        name = str(name)
    base = name.split(":", 1)[0]
    if base not in DEVICES or (base != "cuda" and ":" in name):
        raise SeqlrpError(f"device must be one of auto, cpu, cuda (or cuda:K), got {name!r}")
    if base == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise SeqlrpError(f"device {name!r} requested but torch sees no CUDA device (torch {torch.__version__})")
    return torch.device(name)


def configure_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads for torch's intra-op parallelism (Snakemake's ``threads:``)."""
    if threads is not None and threads > 0:
        torch.set_num_threads(int(threads))


def autocast(device: torch.device, enabled: bool = True) -> ContextManager:
    """bf16 autocast on CUDA when ``enabled``; a no-op context on the CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
