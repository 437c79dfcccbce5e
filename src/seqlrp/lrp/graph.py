"""The pieces the rules work on: :class:`Affine` layers and relevance holders.

:class:`Affine` is one Conv1d or Linear op of a captured graph with its own parameters
(BatchNorm folded in, :mod:`~seqlrp.lrp.canonize`), propagated by the rules of
:mod:`~seqlrp.lrp.propagate`. Relevance is a plain tensor, or below a max-pool a
:class:`Pooled` holder that keeps only the winners until the Conv1d below needs them.

Shapes: Conv1d sees (N, C, L); Linear sees (..., features); relevance always has the shape of
the tensor it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def stabilize(d: Tensor, eps: float, out: Tensor | None = None) -> Tensor:
    """``d + eps * sign(d)`` with ``sign(0) = +1`` (Zennit's stabiliser; ``-0.0`` counts as 0), in
    one new tensor of ``d``'s dtype, ``eps`` taken in that dtype.

    Written as in-place passes over one buffer: ``(d >= 0)`` as 1/0, minus 1/2, times ``2 eps``
    gives ``+-eps`` rounded once to ``d``'s dtype (as ``torch.where(d >= 0, eps, -eps)`` gave it,
    float16 and bfloat16 included), then ``+ d``. ``torch.where`` with scalars and a fresh boolean
    mask cost about ten times as much on CPU, in a step every rule runs.
    ``out``: a dead tensor shaped like ``d`` to write into instead of a new one.
    """
    den = torch.empty_like(d) if out is None else out
    torch.ge(d, 0, out=den)
    return den.sub_(0.5).mul_(2 * eps).add_(d)


def ratio(r: Tensor, d: Tensor, eps: float, out: Tensor | None = None) -> Tensor:
    """``r / stabilize(d, eps)``; with ``eps == 0`` a zero denominator gives 0 instead of NaN/inf.
    ``out``: as for :func:`stabilize`."""
    den = stabilize(d, eps, out)
    s = torch.div(r, den, out=den) if den.shape == r.shape else r / den
    if eps == 0:
        s.masked_fill_(d == 0, 0.0)  # s is a new tensor, shaped like r and d broadcast
    return s


def sum_to(t: Tensor, shape: torch.Size) -> Tensor:
    """``t`` summed over the dimensions broadcasting added or expanded to reach ``t.shape``."""
    return t if t.shape == shape else t.sum_to_size(shape)


class Dense:
    """Relevance held as a plain tensor; ``take``/``put`` are identities (see :class:`Pooled`)."""

    def __init__(self, values: Tensor):
        self.values = values

    def take(self, t: Tensor) -> Tensor:
        return t

    def put(self, v: Tensor) -> Tensor:
        return v

    def dense(self) -> Tensor:
        return self.values

    def where(self, mask: Tensor) -> tuple[Tensor, ...]:
        """Full-size indices (sample, channel[, position]) of the entries flagged by ``mask``
        (shaped like ``values``)."""
        return mask.nonzero().unbind(1)

    def put2(self, v1: Tensor, v2: Tensor, dim: int) -> Tensor:
        """``put(v1)`` and ``put(v2)`` concatenated along ``dim`` (the channel axis)."""
        return torch.cat([v1, v2], dim)


class Pooled(Dense):
    """Relevance below a max-pool: zero except at the winners, held as ``values`` (N, C, L_out)
    at indices ``idx`` into the last axis of a tensor of ``shape`` (N, C, L).

    Rules work on the winners only: ``take(t)`` reads a full-size tensor there, ``put(v)``
    scatters per-winner values back to full size (summing where pooling windows overlap).
    """

    def __init__(self, values: Tensor, idx: Tensor, shape: torch.Size):
        super().__init__(values)
        self.idx, self.shape = idx, shape

    def take(self, t: Tensor) -> Tensor:
        return t.gather(-1, self.idx)

    def put(self, v: Tensor) -> Tensor:
        return v.new_zeros(self.shape).scatter_add_(-1, self.idx, v)

    def dense(self) -> Tensor:
        return self.put(self.values)

    def where(self, mask: Tensor) -> tuple[Tensor, ...]:
        n, c, t = mask.nonzero().unbind(1)
        return n, c, self.idx[n, c, t]

    def put2(self, v1: Tensor, v2: Tensor, dim: int) -> Tensor:
        if dim % v1.dim() != 1:
            return torch.cat([self.put(v1), self.put(v2)], dim)
        n, c = self.shape[0], self.shape[1]
        out = v1.new_zeros((n, 2 * c) + tuple(self.shape[2:]))
        out[:, :c].scatter_add_(-1, self.idx, v1)
        out[:, c:].scatter_add_(-1, self.idx, v2)
        return out


@dataclass(eq=False)
class Node:
    """Base node: ``path`` is the module's name in the model (``features.3``)."""

    path: str

    def forward(self, x: Tensor) -> tuple[Tensor, Any]:
        raise NotImplementedError

    def backward(self, r: Tensor, saved: Any) -> Tensor:
        raise NotImplementedError


@dataclass(eq=False)
class Affine(Node):
    """Conv1d or Linear with its own (possibly BatchNorm-folded) weight and bias.

    ``weight``: Conv1d (C_out, C_in / groups, K), Linear (out, in); ``bias``: (C_out,) or None.
    ``pad`` is the (left, right) zero padding of a Conv1d; ``conv`` is False for Linear.
    Modified weights (w+, w-, w^2, ...) are made once per node and cached in ``_mods``.
    """

    weight: Tensor = None  # type: ignore[assignment]
    bias: Tensor | None = None
    conv: bool = True
    stride: int = 1
    pad: tuple[int, int] = (0, 0)
    dilation: int = 1
    groups: int = 1
    kind: type = torch.nn.Conv1d
    _mods: dict = field(default_factory=dict, repr=False)

    # -- the layer's linear map and its transpose -------------------------------------------
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The layer itself, (N, C_in, L) -> (N, C_out, L_out); saves its input for the rules."""
        return self.apply(x, self.weight, self.bias), x

    def apply(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """The layer's map with other parameters: ``apply(x, *mod("pos"))`` is z+ = x w+ + b+."""
        if not self.conv:
            return F.linear(x, weight, bias)
        left, right = self.pad
        if left != right:
            return F.conv1d(F.pad(x, (left, right)), weight, bias, self.stride, 0, self.dilation, self.groups)
        return F.conv1d(x, weight, bias, self.stride, left, self.dilation, self.groups)

    def apply_at(self, x: Tensor, weight: Tensor, bias: Tensor | None, at: tuple[Tensor, ...]) -> Tensor:
        """The layer's map with ``weight``/``bias`` at a few output entries ``at`` = (sample,
        channel[, position]) index tensors, each term summed directly: (M,)."""
        if not self.conv:
            if x.dim() != 2:
                return self.apply(x, weight, bias)[at]
            n, j = at
            out = (x[n] * weight[j]).sum(1)
            return out if bias is None else out + bias[j]
        n, j, t = at
        left, right = self.pad
        xp = F.pad(x, (left, right))
        c_in, k = weight.shape[1], weight.shape[2]
        per_group = weight.shape[0] // self.groups
        taps = torch.arange(k, device=x.device) * self.dilation
        out = torch.empty(n.numel(), dtype=x.dtype, device=x.device)
        step = max(1, (1 << 24) // (c_in * k))  # bounded memory for the gathered windows
        for i in range(0, n.numel(), step):
            nn_, jj, tt = n[i : i + step], j[i : i + step], t[i : i + step]
            ch = (jj // per_group)[:, None] * c_in + torch.arange(c_in, device=x.device)
            window = xp[nn_[:, None, None], ch[:, :, None], (tt[:, None] * self.stride + taps)[:, None, :]]
            out[i : i + step] = (window * weight[jj]).sum((1, 2))
        return out if bias is None else out + bias[j]

    def transpose(self, s: Tensor, weight: Tensor, input_shape: torch.Size) -> Tensor:
        """``weight^T s``: the input-gradient of the layer for output gradient ``s`` (N, C_out, L_out)."""
        if not self.conv:
            return s.matmul(weight)
        left, right = self.pad
        sym = left if left == right else 0
        shape = list(input_shape)
        shape[-1] += 0 if left == right else left + right
        dummy = s.new_empty(1).expand(shape)
        g = torch.ops.aten.convolution_backward(
            s, dummy, weight, None, [self.stride], [sym], [self.dilation], False, [0], self.groups, (True, False, False)
        )[0]
        return g if left == right else g[..., left : left + input_shape[-1]]

    def bias_view(self, bias: Tensor | None = None) -> Tensor:
        """``bias`` (default: the layer's) shaped to broadcast against the output."""
        b = self.bias if bias is None else bias
        return b[:, None] if self.conv else b

    # -- modified parameters -----------------------------------------------------------------
    def mod(self, key: Any) -> tuple[Tensor, Tensor | None]:
        """Modified (weight, bias), cached: ``"pos"`` (w+, b+), ``"neg"`` (w-, b-), ``"sq"``
        (w^2, b^2), ``"ones"`` (1, None), ``("gamma", g, +1/-1)`` (w + g w+/-, None)."""
        if key not in self._mods:
            w, b = self.weight, self.bias
            if key == "pos":
                val = (w.clamp(min=0), None if b is None else b.clamp(min=0))
            elif key == "neg":
                val = (w.clamp(max=0), None if b is None else b.clamp(max=0))
            elif key == "sq":
                val = (w * w, None if b is None else b * b)
            elif key == "ones":
                val = (torch.ones_like(w), None)
            elif isinstance(key, tuple) and key[0] == "gamma":
                part = self.mod("pos" if key[2] > 0 else "neg")[0]
                val = (w + key[1] * part, None)
            elif isinstance(key, tuple) and key[0] == "stack":
                val = (torch.cat([self.mod(k)[0] for k in key[1:]], 0), None)
            else:
                raise KeyError(key)
            self._mods[key] = val
        return self._mods[key]

    def transpose_stacked(self, s2: Tensor, k1: Any, k2: Any, input_shape: torch.Size) -> Tensor:
        """``W1^T s1 + W2^T s2`` for modified weights ``k1``, ``k2`` and ``s2 = [s1, s2]``
        concatenated along the output channels: one call with stacked weights."""
        if self.groups != 1:
            c = s2.shape[1 if self.conv else -1] // 2
            s_1, s_2 = (s2[:, :c], s2[:, c:]) if self.conv else (s2[..., :c], s2[..., c:])
            return self.transpose(s_1, self.mod(k1)[0], input_shape) + self.transpose(s_2, self.mod(k2)[0], input_shape)
        return self.transpose(s2, self.mod(("stack", k1, k2))[0], input_shape)
