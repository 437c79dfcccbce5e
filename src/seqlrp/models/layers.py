"""Small explicit modules that seqlrp's architectures use and the LRP engine understands.

They exist so that every operation of a model is a module the LRP engine can see: an
exponential activation (torch has none as a module), the residual sum, whose relevance is
split between the two branches in proportion to their contributions, and the pieces that let a
convolution stack hand its positions to a transformer as tokens.
"""

from __future__ import annotations

import torch
from torch import nn


class Exp(nn.Module):
    """Elementwise exponential activation (Koo & Ploenzke 2021 first-layer activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


class Add(nn.Module):
    """The sum of two tensors of the same shape; LRP splits relevance proportionally at it."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class Residual(nn.Module):
    """``y = x + body(x)`` with ``body`` an ``nn.Sequential`` that keeps the shape (N, C, L).

    The addition is the explicit :class:`Add` module ``self.add``, called as
    ``self.add(x, self.body(x))`` — skip branch first, body branch second.
    """

    def __init__(self, body: nn.Sequential):
        super().__init__()
        self.body = body
        self.add = Add()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add(x, self.body(x))


class Tokens(nn.Module):
    """(N, C, L) channels-first features -> (N, L, C) tokens for a ``batch_first`` transformer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class Channels(nn.Module):
    """(N, L, C) tokens -> (N, C, L) channels-first features (the inverse of :class:`Tokens`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class PositionEmbedding(nn.Module):
    """A learned embedding of each position, added to the tokens (N, L, C): ``x + P[:L]``.

    To LRP it is a constant summand, which absorbs its share of the relevance (the positional
    artifact the diagnostics measure)."""

    def __init__(self, length: int, channels: int):
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(1, length, channels) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.embedding
