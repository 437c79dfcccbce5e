"""Where models run: device choice, CPU thread count and mixed precision.

``"auto"`` picks CUDA when a CUDA device is visible and the CPU otherwise; ``"cuda"`` without a
device is an error rather than a silent fall back, so a GPU job never runs for hours on a CPU.
Mixed precision is bf16 autocast and applies to CUDA only: CPU runs stay in fp32 and are
reproducible to the byte for a given seed and thread count.
"""

from __future__ import annotations

import contextlib
import logging
from typing import ContextManager

import torch

from ..errors import SeqlrpError

DEVICES = ("auto", "cpu", "cuda")
#: The start of the WARNING line a GPU job logs on a node where torch sees no CUDA; the report looks for it.
GPU_FALLBACK = "GPU requested but torch sees no CUDA device"


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


def warn_gpu_fallback(gpus: int, cuda_available: bool | None = None) -> bool:
    """Log one WARNING line when a job asked for ``gpus`` > 0 GPUs but torch sees no CUDA device.

    The job goes on (on the CPU where its device is ``auto``; a ``cuda`` device is refused by
    :func:`~seqlrp.models.device.choose_device`). The line lands in the job's log, where the
    report finds it for its provenance. Returns True when it warned.
    """
    if gpus <= 0:
        return False
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if cuda_available:
        return False
    logging.getLogger(__name__).warning(
        "%s (the job asked for %d GPU(s), config gpu: %d; torch %s%s): it runs on the CPU, many times slower; "
        "install a CUDA build of torch into the environment the jobs use, and check that the node has a GPU",
        GPU_FALLBACK, gpus, gpus, torch.__version__, ", a CPU-only build" if torch.version.cuda is None else "")
    return True
