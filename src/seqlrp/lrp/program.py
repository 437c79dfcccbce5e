"""The captured program every capture route produces, and what the routes and the planner share.

A :class:`Program` is an fx graph of ATen ops with its input placeholder, its outputs and where
each parameter, buffer and constant is read from at run time; :func:`where`, :func:`source_line`
and :func:`module_path` say where an op of it came from in the user's model.
"""

from __future__ import annotations

import operator
import os
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree

from ..errors import SeqlrpError


class UnsupportedLayerError(SeqlrpError, TypeError):
    """A model contains an op the LRP engine has no rule for (or cannot be captured); the
    message names the op, where it is in the model and what is supported."""


_TORCH_DIR = os.path.dirname(torch.__file__)
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in \S+\n\s*(.*)')


@dataclass
class Program:
    """A captured forward: ``graph`` (fx, ATen ops), ``input`` (its input placeholder),
    ``sources`` {placeholder: ("state" | "constant", key)}, ``outputs`` (the user outputs, in
    the model's output structure ``out_spec``), and what tensors come from (``owner``: the
    model, or None for an ExportedProgram that holds its own ``state``)."""

    graph: torch.fx.Graph
    input: torch.fx.Node
    sources: dict[torch.fx.Node, tuple[str, str]]
    outputs: list[torch.fx.Node]
    out_spec: Any
    state: dict[str, Tensor] | None
    constants: dict[str, Any]
    owner: Any = None
    analysis: dict = field(default_factory=dict)  # filled once by the engine (see engine._analyse)

    def tensors(self) -> dict[torch.fx.Node, Any]:
        """The current value of every parameter, buffer and constant placeholder."""
        if self.state is None:
            model = self.owner()
            if model is None:
                raise RuntimeError("the captured model no longer exists")
            state = dict(model.named_parameters(remove_duplicate=False))
            state.update(model.named_buffers(remove_duplicate=False))
        else:
            state = self.state
        values = {}
        for node, (kind, key) in self.sources.items():
            values[node] = state[key] if kind == "state" else self.constants[key]
        return values

    def select(self, output: int | str | None) -> torch.fx.Node:
        """The output node the model returns at ``output`` (index or key; None for a model
        with one output)."""
        tree = pytree.tree_unflatten(self.outputs, self.out_spec)
        if output is None:
            if isinstance(tree, torch.fx.Node):
                return tree
            if isinstance(tree, (tuple, list)) and len(tree) == 1 and isinstance(tree[0], torch.fx.Node):
                return tree[0]
            raise ValueError(f"the model returns {_describe(tree)}: choose one with output= (an index or key)")
        try:
            chosen = tree[output]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"output={output!r} does not exist: the model returns {_describe(tree)}") from None
        if not isinstance(chosen, torch.fx.Node):
            raise ValueError(f"output={output!r} is {_describe(chosen)}, not one tensor")
        return chosen


def _describe(tree: Any) -> str:
    if isinstance(tree, torch.fx.Node):
        return "one tensor"
    if isinstance(tree, dict):
        return f"a dict with keys {', '.join(map(repr, tree))}"
    if isinstance(tree, (tuple, list)):
        return f"a {type(tree).__name__} of {len(tree)}"
    return type(tree).__name__


def where(node: torch.fx.Node) -> str:
    """Where an op sits in the model: its module path and the source line it comes from."""
    stack = node.meta.get("nn_module_stack") or {}
    path = next(reversed(stack.values()))[0] if stack else ""
    line = source_line(node)
    place = f"module '{path}'" if path else "the model's forward"
    return f"{place} ({line})" if line else place


def source_line(node: torch.fx.Node) -> str:
    """``file:line: code`` of the innermost frame outside torch that made ``node``, or ''."""
    frames = _FRAME.findall(node.meta.get("stack_trace") or "")
    outside = [f for f in frames if not f[0].startswith(_TORCH_DIR)]
    if not (outside or frames):
        return ""
    file, line, code = (outside or frames)[-1]
    return f"{os.path.basename(file)}:{line}: {code.strip()}"


def module_path(node: torch.fx.Node) -> str:
    """The innermost module the op belongs to ('' for the top level)."""
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack.values()))[0] if stack else ""


class EvalMode:
    """Every submodule's ``training`` flag set to False for the block, restored after (set on the
    flags directly: an exported program's ``.module()`` refuses ``eval()``)."""

    def __init__(self, model: nn.Module):
        self.modules = list(model.modules())

    def __enter__(self):
        self.flags = [m.training for m in self.modules]
        for m in self.modules:
            m.training = False

    def __exit__(self, *exc):
        for m, flag in zip(self.modules, self.flags):
            m.training = flag


def example_input(model: nn.Module, x: Tensor) -> Tensor:
    """Zeros shaped like ``x`` on the model's device, in its floating dtype (what capture traces with)."""
    first = next(iter(model.parameters()), None)
    if first is None:
        first = next(iter(model.buffers()), None)
    device = x.device if first is None else first.device
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    return torch.zeros(x.shape, dtype=dtype, device=device)


def op_name(node: torch.fx.Node) -> str:
    """The ATen op name of a call (``relu`` for ``aten.relu_.default``; in-place variants are
    named, and run, as their functional counterparts), ``getitem`` for tuple indexing."""
    if node.target is operator.getitem:
        return "getitem"
    packet = getattr(node.target, "_overloadpacket", None)
    name = packet.__name__ if packet is not None else getattr(node.target, "__name__", str(node.target))
    if name.endswith("_") and not name.endswith("__") and not name.startswith("_"):
        return name[:-1]
    return name
