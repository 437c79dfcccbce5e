"""A model from outside seqlrp, made to look like one of ours: one score per named class.

:class:`ExternalModel` wraps a user's module (loaded from a ``.pt2``/ONNX file or built from
their own class, :mod:`seqlrp.model_files`) with what the pipeline needs to know and the file
may not say:

* ``output`` — which output of a model returning a tuple or dict (BPNet: ``(profile,
  counts)``) is explained (index or key; None for a model with one output);
* ``indices`` — the task (output channel) of each class, in class order: ``model.classes`` as a
  list names the outputs in order, as a mapping ``name -> index`` picks some tasks of a
  multi-task model;
* ``info`` — a :class:`~seqlrp.models.ModelInfo` with ``arch="external"``, ``seq_len`` and
  the class names, so every stage reads it as it reads a model of ours.

Its forward returns scores (N, n_classes): the selected output's tasks, (N, K, 1) squeezed, a
profile head (N, K, L) reduced to BPNet's softmax-weighted scalar (:mod:`seqlrp.lrp.outputs`).
:func:`seqlrp.lrp.relevance` explains the wrapped module itself at ``output`` (through
:meth:`ExternalModel.lrp_target`), so the wrapper's own reductions never enter the graph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .errors import SeqlrpError
from .lrp.outputs import as_tasks, scores


def select_output(out: Any, output: int | str | None) -> Tensor:
    """The tensor at ``output`` of a model's output (a tensor, tuple, list or dict)."""
    if output is None:
        if isinstance(out, Tensor):
            return out
        if isinstance(out, (tuple, list)) and len(out) == 1 and isinstance(out[0], Tensor):
            return out[0]
        raise SeqlrpError(f"the model returns {_shape_of(out)}: set model.output to the one to explain")
    try:
        chosen = out[output]
    except (KeyError, IndexError, TypeError):
        raise SeqlrpError(f"model.output {output!r} does not exist: the model returns {_shape_of(out)}") from None
    if not isinstance(chosen, Tensor):
        raise SeqlrpError(f"model.output {output!r} is {_shape_of(chosen)}, not one tensor")
    return chosen


def _shape_of(out: Any) -> str:
    if isinstance(out, Tensor):
        return f"one tensor of shape {tuple(out.shape)}"
    if isinstance(out, Mapping):
        return "a dict with keys " + ", ".join(f"{k!r} ({_shape_of(v)})" for k, v in out.items())
    if isinstance(out, (tuple, list)):
        return f"a {type(out).__name__} of " + ", ".join(f"[{i}] {_shape_of(v)}" for i, v in enumerate(out))
    return type(out).__name__


def class_indices(classes: Sequence[str] | Mapping[str, int], n_tasks: int) -> tuple[list[str], list[int]]:
    """Class names and their task indices from ``model.classes`` (a list in output order, or a
    mapping name -> index), checked against the ``n_tasks`` the output has."""
    if isinstance(classes, Mapping):
        names, indices = [str(k) for k in classes], list(classes.values())
        for name, index in zip(names, indices):
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_tasks:
                raise SeqlrpError(f"model.classes: {name!r} -> {index!r} is not an output index in 0..{n_tasks - 1}")
        if len(set(indices)) != len(indices):
            raise SeqlrpError("model.classes: two classes name the same output index")
        return names, indices
    names = [str(c) for c in classes]
    if len(names) != n_tasks:
        raise SeqlrpError(
            f"model.classes lists {len(names)} names but the explained output has {n_tasks} tasks: name every "
            "output in order, or map names to output indices ({name: index}) to pick some"
        )
    return names, list(range(n_tasks))


class ExternalModel(nn.Module):
    """A foreign ``inner`` module seen as a classifier of ``info.classes`` (module docstring)."""

    def __init__(self, inner: nn.Module, *, output: int | str | None, indices: Sequence[int], info: Any):
        super().__init__()
        self.inner = inner
        self.output = output
        self.indices = [int(i) for i in indices]
        self.seqlrp_info = info

    def forward(self, x: Tensor) -> Tensor:
        y = scores(select_output(self.inner(x), self.output))
        if y.dim() == 1:
            y = y[:, None]
        return y[:, self.indices]

    def lrp_target(self, output: int | str | None, target: int | Tensor) -> tuple[nn.Module, int | str | None, Tensor]:
        """What :func:`seqlrp.lrp.relevance` explains for class ``target``: the inner module at
        ``self.output``, task ``indices[target]``."""
        if output is not None:
            raise ValueError("an ExternalModel explains its configured output; call relevance on model.inner for another")
        index = torch.as_tensor(self.indices)
        t = torch.as_tensor(target).long()
        if bool((t < 0).any() or (t >= len(self.indices)).any()):
            raise ValueError(f"target out of range for {len(self.indices)} class(es): {t.reshape(-1).tolist()[:5]}")
        return self.inner, self.output, index.to(t.device)[t]


def n_tasks(inner: nn.Module, output: int | str | None, seq_len: int, device: str | torch.device = "cpu") -> int:
    """How many tasks the selected output of ``inner`` has on input (2, 4, seq_len)."""
    with torch.no_grad():
        out = select_output(inner(torch.zeros(2, 4, seq_len, device=device)), output)
    tasks = as_tasks(out)
    return 1 if tasks.dim() == 1 else int(tasks.shape[1])
