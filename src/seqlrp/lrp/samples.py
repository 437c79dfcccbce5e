"""Where the samples lie in each value of a captured graph, so that pruning is per sample.

PLRP prunes per sample and layer. A batch-first model keeps the samples on dim 0 of every value,
but attention layers move them: ``nn.MultiheadAttention`` works on (L, N, E) and projects its
output from (L * N, E), where row ``l * N + n`` belongs to sample ``n``. The forward pass
follows the samples from the input (N, C, L) through every live op and records for each value
a **sample axis** ``(dim, inner)``: along ``dim`` the index splits as ``(outer, N, inner)``
(row-major), so entry ``i`` of that dim belongs to sample ``(i // inner) % N``.

* ops that keep the row-major order of the entries (view, reshape, flatten, squeeze, ...) keep
  the sample's place in that order, found again in the new shape;
* permutes and transposes move ``dim``; ``stack`` shifts it;
* a ``cat`` along the samples' dim of values that hold them alike keeps the axis (a model that
  stacks both strands of each sequence along the batch: rows ``k N + n`` are still sample ``n``,
  and its layers are cut per sample, both strands together), and so does a ``slice`` of it at
  multiples of ``N * inner``;
* a recurrent op (LSTM, GRU) keeps its input's axis in its output, and its final states
  (layers x directions, N, H) hold the samples on dim 1;
* any other op keeps the axis where its output keeps the samples' dim: same size there and the
  same sizes before it (reductions and selections of later dims, convolutions, linear maps,
  attention) or after it (broadcasting, reductions of earlier dims).

An op that mixes or splits samples (a reshape that cuts the sample index apart, a slice through
it) leaves the axis unknown (None).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from torch import Tensor
from torch.fx import Node

from .program import op_name

Axis = tuple[int, int]  # (dim, inner): index along dim = (outer, N, inner), row-major

# ops whose output lists the input's entries in the same row-major order
_SAME_ORDER = {
    "view", "_unsafe_view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "contiguous", "clone",
    "alias", "detach", "dropout", "_to_copy", "to", "lift_fresh_copy", "view_as",
}
_PERMUTES = {"permute", "transpose", "t", "swapaxes", "swapdims", "movedim"}


def _flat_stride(shape: Sequence[int], axis: Axis) -> int:
    dim, inner = axis
    return inner * math.prod(shape[dim + 1:])


def locate(shape: Sequence[int], stride: int, n: int) -> Axis | None:
    """The axis of a sample index with row-major ``stride`` and ``n`` values in ``shape``, or None
    where it does not lie within one dim."""
    for dim in range(len(shape) - 1, -1, -1):
        below = math.prod(shape[dim + 1:])
        if below <= stride < below * shape[dim]:
            if stride % below:
                return None
            inner = stride // below
            return (dim, inner) if shape[dim] % (inner * n) == 0 else None
    return None


def _permutation(node: Node, ndim: int) -> list[int] | None:
    name, args = op_name(node), node.args
    if name == "permute":
        return [d % ndim for d in args[1]]
    if name == "t" or (name in ("transpose", "swapaxes", "swapdims") and len(args) >= 3):
        a, b = (0, 1) if name == "t" else (args[1] % ndim, args[2] % ndim)
        perm = list(range(ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return perm
    if name == "movedim" and isinstance(args[1], int) and isinstance(args[2], int):
        perm = list(range(ndim))
        perm.insert(args[2] % ndim, perm.pop(args[1] % ndim))
        return perm
    return None


def _kept_dim(shape_in: Sequence[int], shape_out: Sequence[int], dim: int) -> int | None:
    """Where the samples' ``dim`` lands in an op's output: the same index with the same sizes up
    to it, else aligned from the right with the same sizes from it on."""
    if dim < len(shape_out) and tuple(shape_out[:dim + 1]) == tuple(shape_in[:dim + 1]):
        return dim
    shifted = dim + len(shape_out) - len(shape_in)
    if 0 <= shifted < len(shape_out) and tuple(shape_out[shifted:]) == tuple(shape_in[dim:]):
        return shifted
    if 0 <= shifted < len(shape_out) and shape_out[shifted] == shape_in[dim] and len(shape_out) >= len(shape_in):
        return shifted  # broadcast against a larger operand: leading dims added, sizes kept at dim
    return None


_RECURRENT = {"lstm", "gru", "rnn_tanh", "rnn_relu"}


def _arg(node: Node, index: int, name: str, default=None):
    return node.args[index] if len(node.args) > index else node.kwargs.get(name, default)


def _whole_blocks(node: Node, size: int, block: int) -> bool:
    """Whether a ``slice`` of a dim of ``size`` takes whole blocks of ``block`` entries (each block
    one run of the N samples), step 1."""
    start, end, step = _arg(node, 2, "start", 0), _arg(node, 3, "end", None), _arg(node, 4, "step", 1)
    start = 0 if start is None else (start % size if start < 0 else min(start, size))
    end = size if end is None else (end % size if end < 0 else min(end, size))
    return step == 1 and end > start and start % block == 0 and end % block == 0


def follow(node: Node, value, sources: Sequence[tuple[Sequence[int], Axis]], n: int):
    """The sample axis of ``value`` (``node``'s output; a tuple gets a tuple of axes) from the
    shapes and axes of its live inputs (``sources``); None where it is unknown."""
    name = op_name(node)
    if isinstance(value, (tuple, list)):
        if name in _RECURRENT and value and sources:  # (output, final states (layers x directions, N, H)...)
            states = [(1, 1) if isinstance(v, Tensor) and v.dim() == 3 and v.shape[1] == n else None
                      for v in value[1:]]
            return (follow(node, value[0], sources, n), *states)
        return tuple(follow(node, v, sources, n) for v in value)
    if not isinstance(value, Tensor) or not sources:
        return None
    out = tuple(value.shape)
    shape_in, (dim, inner) = sources[0]
    if name in _SAME_ORDER and math.prod(out) == math.prod(shape_in):
        return locate(out, _flat_stride(shape_in, (dim, inner)), n)
    if name in _PERMUTES:
        perm = _permutation(node, len(shape_in))
        return None if perm is None else (perm.index(dim), inner)
    if name == "stack":
        at = _arg(node, 1, "dim", 0) % len(out)
        return (dim + 1 if at <= dim else dim), inner
    if name == "cat" and _arg(node, 1, "dim", 0) % len(out) == dim:
        alike = all(axis == (dim, inner) for _, axis in sources) and len(sources) == len(node.args[0])
        return (dim, inner) if alike and out[dim] % (n * inner) == 0 else None
    if name == "slice" and _arg(node, 1, "dim", 0) % len(shape_in) == dim:
        return (dim, inner) if _whole_blocks(node, shape_in[dim], n * inner) else None
    for shape, axis in sources:  # an op of several live inputs: the first that keeps the samples
        kept = _kept_dim(shape, out, axis[0])
        if kept is not None:
            return kept, axis[1]
    return None


def by_sample(r: Tensor, axis: Axis | None, n: int) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """``r`` as rows (N, M), one per sample, and the map from such rows back to ``r``'s shape.

    Raises ValueError where ``axis`` is None and dim 0 of ``r`` is not the batch.
    """
    if n == 1 or (axis in ((0, 1), None) and r.shape[0] == n):
        return r.reshape(n, -1), lambda rows: rows.reshape(r.shape)
    if axis is None:
        raise ValueError(f"the entries of a relevance shaped {tuple(r.shape)} cannot be told apart by sample (batch of {n})")
    dim, inner = axis
    moved = r.movedim(dim, 0)
    outer = moved.shape[0] // (n * inner)
    rows = moved.reshape(outer, n, inner, -1).transpose(0, 1).reshape(n, -1)

    def back(values: Tensor) -> Tensor:
        return values.reshape(n, outer, inner, -1).transpose(0, 1).reshape(moved.shape).movedim(0, dim)

    return rows, back


class SampleAxes:
    """The sample axis of every live value of one forward pass over a batch of ``n``: the input's
    is (0, 1); :meth:`record` follows each op as the pass computes it."""

    def __init__(self, program_input: Node, n: int):
        self.n = n
        self.axes: dict[Node, object] = {program_input: (0, 1)}

    def record(self, node: Node, env: dict) -> None:
        """The axis of ``env[node]``, just computed from its inputs (still in ``env``)."""
        if op_name(node) == "getitem":
            parent, index = node.args
            found = self.axes.get(parent)
            self.axes[node] = found[index] if isinstance(found, tuple) and isinstance(index, int) else None
            return
        sources = [(tuple(env[src].shape), self.axes[src]) for src in node.all_input_nodes
                   if self.axes.get(src) is not None and isinstance(env.get(src), Tensor)]
        self.axes[node] = follow(node, env[node], sources, self.n)

    def rows(self, r: Tensor, node: Node) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
        """:func:`by_sample` of ``r``, the relevance of ``node``'s value."""
        return by_sample(r, self.axes.get(node), self.n)
