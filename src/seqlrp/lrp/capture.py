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

import weakref
from collections import OrderedDict

import torch
from torch import Tensor, nn
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind

from .program import EvalMode, Program, UnsupportedLayerError, example_input

_CACHE_SHAPES = 8  # captures kept per model (one per input shape)


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

    example = example_input(model, x)
    with EvalMode(model), torch.no_grad():
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
