"""Models shared by the benchmarks (no dependency on the field's packages).

:class:`BPNetSize` is bpnet-lite's ``BPNet`` (bpnetlite/bpnet.py, no control tracks) written out:
a wide first convolution, dilated residual layers ``X = X + relu(conv_i(X))`` added in
``forward`` (a functional add, not a module), then a profile head and a counts head.
"""

from __future__ import annotations

import torch
from torch import nn

BPNET_LENGTH = 2114  # input bp; the output window is 1000 bp


class BPNetSize(nn.Module):
    """bpnet-lite's BPNet without control tracks: returns ``(profile (N, 2, 1000), counts (N, 1))``.

    ``iconv`` 4 -> ``n_filters``, kernel 21 (padding 10), ReLU; ``n_layers`` residual layers
    ``X = X + relu(rconvs[i](X))``, kernel 3, dilation = padding = 2**(i + 1) (2, 4, ..., 256, as
    bpnet-lite); profile: ``fconv`` n_filters -> 2, kernel 75 (padding 37), trimmed by
    ``trimming = 47 + sum(2**i, i = 1..n_layers)`` (557: 2,114 bp in, 1,000 out) on each side;
    counts: the mean of ``X`` over the trimmed window widened by 37 on each side, then ``linear``
    n_filters -> 1. The ReLUs are modules (as in bpnet-lite), which DeepLIFT implementations that
    hook modules (tangermeme) need.
    """

    def __init__(self, n_filters: int = 64, n_layers: int = 8, n_outputs: int = 2):
        super().__init__()
        self.n_layers = n_layers
        self.trimming = 47 + sum(2**i for i in range(1, n_layers + 1))
        self.iconv = nn.Conv1d(4, n_filters, kernel_size=21, padding=10)
        self.irelu = nn.ReLU()
        self.rconvs = nn.ModuleList(
            nn.Conv1d(n_filters, n_filters, kernel_size=3, padding=2**i, dilation=2**i) for i in range(1, n_layers + 1)
        )
        self.rrelus = nn.ModuleList(nn.ReLU() for _ in range(n_layers))
        self.fconv = nn.Conv1d(n_filters, n_outputs, kernel_size=75, padding=37)
        self.linear = nn.Linear(n_filters, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        start, end = self.trimming, x.shape[2] - self.trimming
        x = self.irelu(self.iconv(x))
        for i in range(self.n_layers):
            x = x + self.rrelus[i](self.rconvs[i](x))
        profile = self.fconv(x)[:, :, start:end]
        counts = self.linear(torch.mean(x[:, :, max(start - 37, 0) : end + 37], dim=2)).reshape(x.shape[0], 1)
        return profile, counts


class Counts(nn.Module):
    """The counts head of a BPNet-style model alone, ``(N, 1)``: for attribution tools that take one
    ``(N, tasks)`` output (tangermeme, Zennit); bpnet-lite's ``CountWrapper``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[1]


def bpnet_size(seed: int = 0) -> BPNetSize:
    """The BPNet-size model (64 filters, 8 residual layers) with random weights drawn with
    ``seed``, in eval mode: weights N(0, 2 / fan_in) (He), biases N(0, 0.05^2)."""
    gen = torch.Generator().manual_seed(seed)
    model = BPNetSize()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.05)
    return model.eval()
