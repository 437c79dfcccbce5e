"""The quick capture route for layer stacks: an ``nn.Sequential`` (nested Sequentials and
:class:`seqlrp.models.layers.Residual` allowed) of standard layers, written out as the graph of ATen ops
``torch.export`` would give, without tracing.

Export costs about 2 s in a fresh process (it imports and runs its tracer); a pipeline job that
explains one shard would pay that before its first batch. A stack of the layers below has one
graph per input shape that follows from its modules alone, so :func:`layered` writes it down
directly: the same ops, arguments, module paths and parameter sources as the exported program,
hence the same plan and the same relevance. Anything else (a custom module, a functional
forward) returns None and goes through :func:`~.capture.capture`'s tracing routes.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn
from torch.utils import _pytree as pytree

from ..models.layers import Exp, Residual
from .program import Program

aten = torch.ops.aten


class _Writer:
    def __init__(self):
        self.graph = torch.fx.Graph()
        self.sources: dict[torch.fx.Node, tuple[str, str]] = {}
        self.input = self.graph.placeholder("input")

    def state(self, path: str, name: str) -> torch.fx.Node:
        node = self.graph.placeholder(f"p_{len(self.sources)}")
        self.sources[node] = ("state", f"{path}.{name}" if path else name)
        return node

    def op(self, target, args: tuple, stack: list[tuple[str, type]]) -> torch.fx.Node:
        node = self.graph.call_function(target, args)
        node.meta["nn_module_stack"] = {f"m{i}": entry for i, entry in enumerate(stack)}
        return node

    def param(self, module: nn.Module, path: str, name: str):
        return None if getattr(module, name, None) is None else self.state(path, name)


def _layer(w: _Writer, module: nn.Module, path: str, x: torch.fx.Node, stack: list) -> torch.fx.Node | None:
    """The node(s) of one layer applied to ``x``; None for a layer this route does not write."""
    here = stack + [(path, type(module))]
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            x = _layer(w, child, f"{path}.{name}" if path else name, x, here if path else stack)
            if x is None:
                return None
        return x
    if isinstance(module, Residual):
        body = _layer(w, module.body, f"{path}.body", x, here)
        if body is None:
            return None
        return w.op(aten.add.Tensor, (x, body), here + [(f"{path}.add", type(module.add))])
    if type(module) is nn.Conv1d and module.padding_mode == "zeros":
        padding = module.padding if isinstance(module.padding, str) else list(module.padding)
        target = aten.conv1d.padding if isinstance(padding, str) else aten.conv1d.default
        return w.op(target, (x, w.state(path, "weight"), w.param(module, path, "bias"), list(module.stride), padding,
                             list(module.dilation), module.groups), here)
    if type(module) is nn.Linear:
        return w.op(aten.linear.default, (x, w.state(path, "weight"), w.param(module, path, "bias")), here)
    if type(module) is nn.BatchNorm1d and module.track_running_stats and module.running_mean is not None:
        return w.op(aten.batch_norm.default, (x, w.param(module, path, "weight"), w.param(module, path, "bias"),
                                              w.state(path, "running_mean"), w.state(path, "running_var"), False,
                                              module.momentum or 0.0, module.eps, True), here)
    simple = {nn.ReLU: (aten.relu.default, ()), Exp: (aten.exp.default, ())}
    if type(module) in simple:
        target, extra = simple[type(module)]
        return w.op(target, (x, *extra), here)
    if type(module) is nn.ELU:
        return w.op(aten.elu.default, (x, module.alpha), here)
    if type(module) is nn.GELU:
        node = w.op(aten.gelu.default, (x,), here)
        node.kwargs = {"approximate": module.approximate}
        return node
    if type(module) is nn.Softplus:
        return w.op(aten.softplus.default, (x, module.beta, module.threshold), here)
    if type(module) is nn.MaxPool1d and not module.return_indices:
        return w.op(aten.max_pool1d.default, (x, [module.kernel_size], [module.stride], [module.padding],
                                               [module.dilation], module.ceil_mode), here)
    if type(module) is nn.AdaptiveAvgPool1d:
        size = module.output_size
        return w.op(aten.adaptive_avg_pool1d.default, (x, list(size) if isinstance(size, (tuple, list)) else [size]), here)
    if type(module) is nn.Flatten:
        return w.op(aten.flatten.using_ints, (x, module.start_dim, module.end_dim), here)
    if type(module) in (nn.Dropout, nn.Identity):
        return w.op(aten.dropout.default, (x, module.p, False), here) if type(module) is nn.Dropout else x
    return None


def layered(model: nn.Module) -> Program | None:
    """The :class:`~.program.Program` of a layer stack (module docstring), or None."""
    if not isinstance(model, nn.Sequential):
        return None
    w = _Writer()
    out = _layer(w, model, "", w.input, [])
    if out is None or out is w.input:
        return None
    w.graph.output((out,))
    spec = pytree.tree_flatten(torch.zeros(0))[1]
    return Program(w.graph, w.input, w.sources, [out], spec, None, {}, owner=weakref.ref(model))

