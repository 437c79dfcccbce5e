"""A model with its weights re-initialised: the end point of the model randomisation test.

Adebayo et al. (2018) compare relevance maps of a trained model with those of a copy whose
weights are drawn afresh: maps that survive the randomisation do not show what the model
learned. :func:`randomised_copy` works on any :class:`torch.nn.Module` — seqlrp's architectures,
a foreign model's own class, or a ``torch.export`` program's graph module.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


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
