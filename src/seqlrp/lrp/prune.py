"""Pruned LRP (Yanez Sarmiento et al., ECML PKDD 2024, arXiv 2404.14271).

Per sample, at every Conv1d/Linear except the input layer, the relevance the rule sends to the
layer's input is split by sign. On each side the entries are ordered by magnitude and the
smallest are zeroed as long as their cumulative mass stays within ``p * S`` (``S``: that side's
mass; ``p+`` for positive, ``p-`` for negative relevance). Precisely: with the magnitudes
``a_(1) <= ... <= a_(M)`` and ``k`` the number of prefix sums ``a_(1) + ... + a_(i) <= p S``,
every entry strictly below ``a_(k+1)`` is zeroed (ties at the cut are kept, so the pruned mass
never exceeds ``p S``). Then

* ``mode="lambda"`` (PLRP-lambda): the kept entries of each sign are rescaled so the layer keeps
  its positive and its negative mass;
* ``mode="mask"`` (PLRP-M): the layer's rule is applied again as if the pruned inputs were
  absent (their contributions removed from the numerators and denominators), so relevance
  flows only into unpruned neurons, in proportion to their contributions.

The samples are the rows of a layer's relevance wherever the model keeps them: attention layers
work on (L, N, E) and (L * N, E), and :mod:`.samples` says which entries belong to which sample.

``p = 0`` leaves a layer untouched, bit for bit. The cut is found without a full sort: a
per-sample mass histogram over the top bits of the float32 magnitudes locates the bucket that
holds the cut, and only that bucket's entries are sorted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

Fraction = float | Mapping[str, float]

_MIN_BUCKETS, _MAX_BUCKETS = 256, 2048  # per side: the exponent alone .. exponent and 3 mantissa bits
_CHUNK = 1 << 20  # entries per float64 piece of the histogram sums (8 MB)


def _buckets(m: int) -> int:
    """Buckets per side for rows of ``m`` entries: about ``m / 4``, a power of two in
    [256, 2048]. A histogram much larger than the data costs more to clear and sum than the
    sort of the cut bucket it saves (measured on rows of 8,000 to 135,000); the cut is exact
    for any count."""
    return max(_MIN_BUCKETS, min(_MAX_BUCKETS, 1 << max((m // 4).bit_length() - 1, 0)))


@dataclass(frozen=True)
class Prune:
    """Settings of pruned LRP (Yanez Sarmiento et al. 2024), for ``relevance(..., prune=Prune())``.

    Per sample, at every Conv1d/Linear except the input layers, the relevance sent to the layer's
    input is split by sign; on each side the smallest entries are zeroed while their cumulative
    mass stays within ``p * S`` (``S``: that side's mass). ``p = 0`` reproduces LRP exactly.

    Parameters
    ----------
    p_pos : float or dict of str to float, default 0.25
        Fraction in [0, 1] of the positive relevance mass to prune: one number for every layer,
        or a mapping from layer path (``"features.4"``, the Conv1d/Linear whose input relevance
        is pruned) to a number, with ``"*"`` as the default for unlisted layers (0 without it).
    p_neg : float or dict of str to float, optional
        The same for the negative relevance mass; None means ``p_pos / 2``.
    mode : {"lambda", "mask"}, default "lambda"
        ``"lambda"`` (PLRP-lambda): the kept entries of each sign are rescaled so the layer keeps
        its positive and its negative mass. ``"mask"`` (PLRP-M): the layer's rule is applied
        again without the pruned inputs, so relevance flows only into unpruned neurons.

    Raises
    ------
    ValueError
        for a mode other than ``"lambda"`` or ``"mask"``, or a fraction outside [0, 1].

    Examples
    --------
    >>> Prune()                                   # p+ = 0.25, p- = 0.125, PLRP-lambda
    >>> Prune(p_pos=0.5, mode="mask")             # PLRP-M
    >>> Prune(p_pos={"*": 0.25, "7": 0.0})        # no pruning at the layer "7"
    """

    p_pos: Fraction = 0.25
    p_neg: Fraction | None = None
    mode: str = "lambda"

    def __post_init__(self):
        if self.mode not in ("lambda", "mask"):
            raise ValueError(f"Prune mode must be 'lambda' or 'mask', got {self.mode!r}")
        for value in (self.p_pos, self.p_neg):
            values = value.values() if isinstance(value, Mapping) else [value]
            for v in values:
                if v is not None and not 0 <= float(v) <= 1:
                    raise ValueError(f"Prune fractions must lie in [0, 1], got {v!r}")

    def fractions(self, path: str) -> tuple[float, float]:
        """``(p+, p-)`` at the layer ``path``."""
        p_pos = _lookup(self.p_pos, path)
        p_neg = p_pos / 2 if self.p_neg is None else _lookup(self.p_neg, path)
        return p_pos, p_neg


def _lookup(value: Fraction, path: str) -> float:
    if isinstance(value, Mapping):
        return float(value.get(path, value.get("*", 0.0)))
    return float(value)


def cut_sorted(a: Tensor, p: float) -> tuple[Tensor, Tensor, Tensor]:
    """Reference cut by a full sort: per row of ``a`` (N, M) >= 0, the threshold ``t`` (N,)
    (entries ``< t`` are pruned; ``inf`` prunes all), the pruned and the total mass (N,), float64."""
    vals = a.sort(dim=1).values
    cs = vals.double().cumsum(1)
    limit = p * cs[:, -1:]
    k = (cs <= limit).sum(1)
    inf = torch.full((a.shape[0], 1), float("inf"), dtype=vals.dtype, device=a.device)
    t = torch.cat([vals, inf], 1).gather(1, k[:, None]).squeeze(1)
    pruned = torch.where(vals < t[:, None], vals, torch.zeros((), dtype=vals.dtype, device=a.device))
    return t, pruned.double().sum(1), cs[:, -1]


class _Cut(NamedTuple):
    """The cut of :func:`cut` on both sides, and from the histogram path what locates every entry:
    ``key`` (N * M,) int32 is ``2 B row + B side + bucket`` (side 0: sign bit set), ``cut_bucket``
    (N, 2) the bucket holding each side's cut (``>= B``: the side is pruned whole) and ``inside``
    the flat indices of the entries in those buckets (None on the sorted path)."""

    t: Tensor
    pruned: Tensor
    total: Tensor
    key: Tensor | None = None
    cut_bucket: Tensor | None = None
    inside: Tensor | None = None
    buckets: int = 0


def cut(r: Tensor, p_pos: float, p_neg: float) -> tuple[Tensor, Tensor, Tensor]:
    """Both sides of :func:`cut_sorted` at once for ``r`` (N, M) of any sign.

    Returns ``(t, pruned, total)``, each (N, 2) with column 0 for the negative and column 1 for
    the positive side; ``t`` is a magnitude (entries with ``|r| < t`` on that side are pruned).
    float32 uses a mass histogram over the float bits (buckets ordered by magnitude, negative
    side first) and sorts only the entries of the bucket that holds each cut.
    """
    return _cut(r, p_pos, p_neg)[:3]


def _cut(r: Tensor, p_pos: float, p_neg: float) -> _Cut:
    n, m = r.shape
    if r.dtype != torch.float32 or m < 4096:
        sides = [cut_sorted(r.clamp(max=0).neg(), p_neg), cut_sorted(r.clamp(min=0), p_pos)]
        return _Cut(*(torch.stack([neg, pos], 1) for neg, pos in zip(*sides)))
    dev, B = r.device, _buckets(m)
    shift = 32 - B.bit_length()  # float32 bits >> shift: the exponent and log2(B) - 8 mantissa bits
    r = r.contiguous()
    bits = r.view(torch.int32)
    # negative floats: (bits >> shift) + B = |r| bucket in [0, B); positive ones land in [B, 2B)
    key = bits >> shift
    key += (torch.arange(n, dtype=torch.int32, device=dev) * (2 * B) + B)[:, None]
    hist = torch.zeros(n * 2 * B, dtype=torch.float64, device=dev)
    flat_key, flat_r = key.view(-1), r.view(-1)
    # |r| in float64 in pieces through one buffer: a new 32 MB+ tensor per layer is a fresh mmap
    buf = torch.empty(min(_CHUNK, flat_r.numel()), dtype=torch.float64, device=dev)
    for i in range(0, flat_r.numel(), _CHUNK):
        piece = flat_r[i:i + _CHUNK]
        part = buf[:piece.numel()]
        hist.index_add_(0, flat_key[i:i + _CHUNK], part.copy_(piece).abs_())
    cum = hist.view(n, 2, B).cumsum(2)
    total = cum[:, :, -1]
    limit = total * torch.tensor([p_neg, p_pos], dtype=torch.float64, device=dev)
    kb = (cum <= limit[:, :, None]).sum(2)  # buckets pruned whole; bucket kb holds the cut
    below = torch.where(kb > 0, cum.gather(2, (kb - 1).clamp(min=0)[:, :, None]).squeeze(2), 0.0)
    full = kb >= B  # every bucket within the budget: prune the whole side
    seg = torch.arange(2 * n, device=dev).view(n, 2)  # segment id = 2 * row + side
    target = torch.where(full, -1, seg * B + kb).to(torch.int32)
    inside = key == target[:, :1]
    inside |= key == target[:, 1:]
    flat_idx = inside.view(-1).nonzero().squeeze(1)
    keys = key.view(-1).index_select(0, flat_idx).long()
    magbits = (bits.view(-1).index_select(0, flat_idx) & 0x7FFFFFFF).long()
    segs = keys // B
    order = ((segs << 32) | magbits).sort().indices
    segs, magbits = segs[order], magbits[order]
    vals = magbits.to(torch.int32).view(torch.float32)
    counts = torch.bincount(segs, minlength=2 * n)
    starts = counts.cumsum(0) - counts
    # per-segment running sums in a padded table: one global cumsum would lose the tiny values
    # of a segment against the mass of the segments before it
    col = torch.arange(segs.numel(), device=dev) - starts[segs]
    table = torch.zeros(2 * n, int(counts.max()) + 1 if segs.numel() else 1, dtype=torch.float64, device=dev)
    table[segs, col] = vals.double()
    run = table.cumsum(1)
    lim, bel = limit.reshape(-1), below.reshape(-1)
    k_in = (run + bel[:, None] <= lim[:, None]).sum(1)  # padding never fits: the bucket overflows
    inf = torch.full((2 * n,), float("inf"), dtype=torch.float32, device=dev)
    pos = (starts + k_in).clamp(max=max(vals.numel() - 1, 0))
    t = torch.where(full.reshape(-1) | (counts == 0), inf, vals[pos] if vals.numel() else inf)
    # ties at the cut are kept: the pruned part of the bucket ends at the first copy of t
    tkey = (torch.arange(2 * n, device=dev) << 32) | (t.view(torch.int32) & 0x7FFFFFFF).long()
    first = torch.searchsorted((segs << 32) | magbits, tkey)
    taken = (first - starts).clamp(min=0, max=run.shape[1])
    part = torch.where(taken > 0, run.gather(1, (taken - 1).clamp(min=0)[:, None]).squeeze(1), 0.0)
    pruned = torch.where(full.reshape(-1), total.reshape(-1), bel + part)
    return _Cut(t.view(n, 2), pruned.view(n, 2), total, key.view(-1), kb, flat_idx, B)


def _kept_sides(flat: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Boolean masks (like ``flat``, (N, M)) of the kept positive and the kept other entries:
    ``x > 0`` is kept where ``x >= t+``, ``x <= 0`` where ``-x >= t-``, i.e. ``x <= -t-``.
    ``t`` is (N, 2), column 0 negative, column 1 positive."""
    kept_pos = (flat >= t[:, 1:]).logical_and_(flat > 0)
    kept_neg = flat <= t[:, :1].neg()
    return kept_pos, kept_neg


def _per_entry(flat: Tensor, c: _Cut, value: Tensor, overwrite: bool = False) -> Tensor:
    """Per entry of ``flat`` (N, M): ``value`` (N, 2, of ``flat``'s dtype, finite) of its side
    where the cut keeps it, 0 where it prunes it; ``overwrite``: written over ``flat`` where it is
    contiguous (its values are read first), which spares a fresh tensor as large.

    On the histogram path whole buckets decide by a table lookup on ``c.key``, and only the
    entries of the cut buckets are compared with ``t``: the per-entry comparisons and the
    per-row ``torch.where`` cost several times as much on CPU. A bucket above its side's cut
    bucket holds magnitudes above ``t``, one below holds smaller ones; zeros lie in bucket 0,
    which is pruned or the cut bucket, and are never kept (``t > 0``), as on the sorted path.
    """
    if c.key is None:
        kept_pos, kept_neg = _kept_sides(flat, c.t)
        factor = kept_pos * value[:, 1:]
        return factor.add_(kept_neg * value[:, :1])
    n, m = flat.shape
    rows = c.inside // m
    vals = flat.reshape(-1).index_select(0, c.inside)
    above = torch.arange(c.buckets, device=flat.device) > c.cut_bucket[:, :, None]  # (N, 2, B)
    table = (above * value[:, :, None]).view(-1)
    out = flat.view(-1) if overwrite and flat.is_contiguous() else None
    factor = torch.index_select(table, 0, c.key, out=out).view(n, m)
    kept_pos, kept_neg = _kept_sides(vals[:, None], c.t[rows])
    factor.view(-1)[c.inside] = (kept_pos * value[rows, 1:]).add_(kept_neg * value[rows, :1]).squeeze(1)
    return factor


def keep_mask(r: Tensor, p_pos: float, p_neg: float, overwrite: bool = False) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """The entries pruning keeps as 1, the pruned ones as 0 (like ``r``, (N, ...), of its
    dtype), and the pruned and total masses per sample and side ((N, 2) each, column 0
    negative, column 1 positive). ``overwrite``: the mask may take ``r``'s memory (the caller
    gives ``r`` up)."""
    flat = r.reshape(r.shape[0], -1)
    c = _cut(flat, p_pos, p_neg)
    ones = torch.ones(flat.shape[0], 2, dtype=r.dtype, device=r.device)
    return _per_entry(flat, c, ones, overwrite).reshape(r.shape), (c.pruned, c.total)


def prune_lambda(r: Tensor, p_pos: float, p_neg: float) -> Tensor:
    """PLRP-lambda on ``r`` (N, ...): zero the pruned entries, rescale each sign's kept mass."""
    if p_pos <= 0 and p_neg <= 0:
        return r
    flat = r.reshape(r.shape[0], -1)
    c = _cut(flat, p_pos, p_neg)
    kept = c.total - c.pruned
    scale = (c.total / kept.clamp(min=1e-300)).masked_fill_(~(kept > 0), 0.0).to(r.dtype)  # (N, 2): >= 1, or 0
    # a pruned entry becomes x * 0 = -0.0 for x < 0: adding +0.0 makes every pruned entry +0.0;
    # a kept one is |x * scale| >= |x| >= t > 0 and unchanged by it
    return _per_entry(flat, c, scale).mul_(flat).add_(0.0).reshape(r.shape)
