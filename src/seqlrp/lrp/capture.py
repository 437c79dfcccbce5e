"""Capture a model's forward as a graph of ATen ops, once per model and input shape.

:func:`capture` turns any ``nn.Module`` whose forward ``torch.export`` can trace (an fx
``GraphModule`` such as onnx2torch returns, a loaded ``ExportedProgram``'s ``.module()``, ...),
or an ``ExportedProgram`` itself, into a :class:`Program`: the export's fx graph, which of its
placeholders is the input, and where each parameter, buffer and constant is read from at run
time. Where export fails (e.g. a forward that renormalises its own weights in place), the model
is traced with ``torch.fx.symbolic_trace``, code whose result nothing uses is dropped, and the
traced module is exported instead; where that fails too (shapes computed as tensors and
branched on, as in onnx2torch's reshapes), the ops are recorded from one real run
(:mod:`.record`).

A plain stack of standard layers (seqlrp's own models) is written out without tracing
(:mod:`.layered`): the same graph, without export's ~2 s start in a fresh process.

Parameters are *not* copied at capture: :meth:`Program.tensors` reads them from the live model
at every call, so a model whose weights change (training, the randomisation diagnostic) is
explained with its current weights. The graph is specialised to the input shape (N, C, L) it
was captured with, so captures are cached per model and shape; the model is captured as in
``eval()`` mode (its modes are restored afterwards) and nothing of it is changed.
"""

from __future__ import annotations

import os
import re
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind
from torch.utils import _pytree as pytree

from ..errors import SeqlrpError


class UnsupportedLayerError(SeqlrpError, TypeError):
    """A model contains an op the LRP engine has no rule for (or cannot be captured); the
    message names the op, where it is in the model and what is supported."""


_TORCH_DIR = os.path.dirname(torch.__file__)
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in \S+\n\s*(.*)')
_CACHE_SHAPES = 8  # captures kept per model (one per input shape)


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


def _program(ep: ExportedProgram, owner: nn.Module | None) -> Program:
    sig = ep.graph_signature
    by_name = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    sources, inputs = {}, []
    for spec in sig.input_specs:
        node = by_name[spec.arg.name]
        if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER):
            sources[node] = ("state", spec.target)
        elif spec.kind == InputKind.CONSTANT_TENSOR:
            sources[node] = ("constant", spec.target)
        elif spec.kind == InputKind.USER_INPUT:
            inputs.append(node)
        else:
            raise UnsupportedLayerError(f"LRP: the captured model has an input of kind {spec.kind.name}, which seqlrp cannot explain")
    if len(inputs) != 1:
        raise UnsupportedLayerError(
            f"LRP: the model's forward takes {len(inputs)} tensor inputs; seqlrp explains models of one one-hot input (N, 4, L)"
        )
    out_node = next(n for n in ep.graph.nodes if n.op == "output")
    flat = list(out_node.args[0])
    user = [node for node, spec in zip(flat, sig.output_specs) if spec.kind == OutputKind.USER_OUTPUT]
    state = None if owner is not None else dict(ep.state_dict)
    return Program(ep.graph, inputs[0], sources, user, ep.call_spec.out_spec, state, dict(ep.constants),
                   owner=None if owner is None else weakref.ref(owner))


class _EvalMode:
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


def _example(model: nn.Module, x: Tensor) -> Tensor:
    first = next(iter(model.parameters()), None)
    if first is None:
        first = next(iter(model.buffers()), None)
    device = x.device if first is None else first.device
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    return torch.zeros(x.shape, dtype=dtype, device=device)


def _traced(model: nn.Module) -> nn.Module:
    """``model`` through ``torch.fx.symbolic_trace`` with unused code (in-place weight updates
    whose result the forward never reads) dropped; submodules are shared, not copied."""
    traced = torch.fx.symbolic_trace(model)
    traced.graph.eliminate_dead_code()
    traced.recompile()
    return traced


def _export(model: nn.Module, x: Tensor) -> Program:
    """The model's program: exported, else traced by fx and exported, else recorded op by op
    on a real input (:mod:`.record`)."""
    from .record import record

    example = _example(model, x)
    with _EvalMode(model), torch.no_grad():
        try:
            return _program(torch.export.export(model, (example,)), model)
        except Exception as first:  # export refuses what symbolic tracing may still capture
            try:
                return _program(torch.export.export(_traced(model), (example,)), model)
            except Exception:
                pass
            try:
                return record(model, x)
            except UnsupportedLayerError as err:
                if "reads a Python value" in str(err):
                    raise
                last = err
            except Exception as err:
                last = err
            reason = str(first).strip().splitlines()[0] if str(first).strip() else type(first).__name__
            raise UnsupportedLayerError(
                f"LRP: cannot capture the forward of {type(model).__name__} as a graph (torch.export, torch.fx "
                f"and recording all failed; export said: {reason[:300]}; recording said: {str(last)[:300]})"
            ) from None


_captures: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def capture(model: nn.Module | ExportedProgram, x: Tensor) -> Program:
    """The :class:`Program` of ``model`` for inputs shaped like ``x``, cached per model and shape."""
    key = (tuple(x.shape),)
    try:
        cache = _captures.setdefault(model, OrderedDict())
    except TypeError:  # not weak-referenceable: capture without caching
        cache = OrderedDict()
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    if isinstance(model, ExportedProgram):
        program = _program(model, None)
    elif isinstance(model, nn.Module):
        from .layered import layered

        program = layered(model) or _export(model, x)
    else:
        raise TypeError(f"LRP needs an nn.Module or a torch.export ExportedProgram, got {type(model).__name__}")
    cache[key] = program
    while len(cache) > _CACHE_SHAPES:
        cache.popitem(last=False)
    return program
