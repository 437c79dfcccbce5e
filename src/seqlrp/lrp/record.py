"""The last capture route: run the model once on a real example and record the ATen ops it calls.

``torch.export`` and ``torch.fx`` trace with stand-in tensors, so a forward that computes shapes
as tensors and branches on them — what onnx2torch makes of an ONNX ``Shape -> Gather -> Concat
-> Reshape`` chain, the usual export of ``x.view(x.size(0), -1)`` with a dynamic batch — cannot
be captured by either. :func:`record` runs the forward on a real input of the explained shape
under a ``TorchDispatchMode`` and writes every op into an fx graph, with data flow followed by
tensor identity:

* a tensor derived from the input is **live**, one derived from parameters or buffers (and
  constants) only is **weight-derived**: both are recorded as ops, so weights are read from the
  live model at every call as on the export routes;
* a tensor derived from neither — shapes turned into tensors, index tensors, ``torch.zeros``
  made in forward — is a **constant**: its value (for this input shape) is stored, the ops that
  made it are not recorded, and Python branches on it were taken as they are for every input
  of this shape;
* a Python value read out of a live tensor (``.item()``, ``bool(x.sum() > 0)``) would bake one
  input's branch into the graph: the recording is refused.

Module paths and source lines are recorded as ``torch.export`` records them (``nn_module_stack``,
``stack_trace``), so rules, pruning paths and error messages work the same.
"""

from __future__ import annotations

import operator
import traceback
import weakref

import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from .program import EvalMode, Program, UnsupportedLayerError, example_input

_READS_VALUE = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.item.default}
_SKIPPED_FRAMES = ("torch/utils/_python_dispatch.py", "torch/_ops.py", "seqlrp/lrp/record.py")


class _Recorder(TorchDispatchMode):
    def __init__(self, graph: torch.fx.Graph, sources: dict[int, tuple[str, str]]):
        super().__init__()
        self.graph = graph
        self.sources = sources  # id(parameter or buffer) -> ("state", fqn)
        self.node_of: dict[int, torch.fx.Node] = {}
        self.kind: dict[torch.fx.Node, str] = {}  # "live" | "weight"
        self.keep: list[Tensor] = []  # recorded tensors stay alive, so their ids stay theirs
        self.placeholders: dict[torch.fx.Node, tuple[str, str]] = {}
        self.constants: dict[str, Tensor] = {}
        self.modules: list[str] = []  # current module path stack (from forward hooks)
        self.module_types: list[type] = []

    # -- the graph's inputs ----------------------------------------------------------------
    def track(self, t: Tensor, node: torch.fx.Node, kind: str) -> None:
        self.node_of[id(t)] = node
        self.kind[node] = kind
        self.keep.append(t)

    def node(self, t: Tensor) -> tuple[torch.fx.Node, str]:
        """The node of a tensor argument, and whether it is live, weight-derived or constant."""
        node = self.node_of.get(id(t))
        if node is not None:
            return node, self.kind[node]
        source = self.sources.get(id(t))
        if source is not None:
            node = self.graph.placeholder(f"w_{len(self.placeholders)}")
            self.placeholders[node] = source
            self.track(t, node, "weight")
            return node, "weight"
        name = f"c_{len(self.constants)}"
        self.constants[name] = t.detach().clone()
        node = self.graph.placeholder(name)
        self.placeholders[node] = ("constant", name)
        self.track(t, node, "constant")
        return node, "constant"

    # -- ops -----------------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        flat, spec = pytree.tree_flatten((args, kwargs))
        kinds = []
        for a in flat:
            if isinstance(a, Tensor) and id(a) in self.node_of:
                kinds.append(self.kind[self.node_of[id(a)]])
            elif isinstance(a, Tensor) and id(a) in self.sources:
                kinds.append("weight")
        if func in _READS_VALUE and "live" in kinds:
            raise UnsupportedLayerError(
                f"LRP: the forward reads a Python value out of a tensor computed from the input ({func}) at "
                f"{self._where()}: its branches would hold for this one input only, so it cannot be captured"
            )
        if not kinds:
            return out  # constants only: the result is a constant, made when it is used
        kind = "live" if "live" in kinds else "weight"
        nodes = [self.node(a)[0] if isinstance(a, Tensor) else a for a in flat]
        n_args, n_kwargs = pytree.tree_unflatten(nodes, spec)
        node = self.graph.call_function(func, tuple(n_args), dict(n_kwargs))
        self._meta(node)
        if isinstance(out, Tensor):
            self.track(out, node, kind)
        elif isinstance(out, (tuple, list)):
            for i, item in enumerate(out):
                if isinstance(item, Tensor):
                    part = self.graph.call_function(operator.getitem, (node, i))
                    part.meta.update(node.meta)
                    self.track(item, part, kind)
        return out

    def _where(self) -> str:
        path = self.modules[-1] if self.modules else ""
        return f"module '{path}'" if path else "the model's forward"

    def _meta(self, node: torch.fx.Node) -> None:
        stack = [f for f in traceback.extract_stack()[:-2] if not any(s in f.filename for s in _SKIPPED_FRAMES)]
        node.meta["stack_trace"] = "".join(f'File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}\n' for f in stack[-8:])
        node.meta["nn_module_stack"] = {
            f"m{i}": (path, kind) for i, (path, kind) in enumerate(zip(self.modules, self.module_types)) if path
        }


def record(model: nn.Module, x: Tensor) -> Program:
    """The :class:`~.program.Program` of ``model`` run on ``x`` (a real input of the explained
    shape), recorded op by op (module docstring). The model runs as in ``eval()`` mode."""

    graph = torch.fx.Graph()
    fqn = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        fqn.setdefault(id(p), ("state", name))
    for name, b in model.named_buffers(remove_duplicate=False):
        fqn.setdefault(id(b), ("state", name))
    recorder = _Recorder(graph, fqn)
    example = example_input(model, x)
    graph_input = graph.placeholder("input")
    recorder.track(example, graph_input, "live")
    paths = {id(m): name for name, m in model.named_modules(remove_duplicate=False)}

    def enter(module, args):
        recorder.modules.append(paths.get(id(module), ""))
        recorder.module_types.append(type(module))

    def leave(module, args, out):
        recorder.modules.pop()
        recorder.module_types.pop()

    hooks = [nn.modules.module.register_module_forward_pre_hook(enter),
             nn.modules.module.register_module_forward_hook(leave)]
    try:
        with EvalMode(model), torch.no_grad(), recorder:
            out = model(example)
    except UnsupportedLayerError:
        raise
    except Exception as err:
        raise UnsupportedLayerError(f"LRP: running the model to record its ops failed: {type(err).__name__}: {err}") from None
    finally:
        for hook in hooks:
            hook.remove()
    flat, spec = pytree.tree_flatten(out)
    outputs = []
    for item in flat:
        if not isinstance(item, Tensor) or recorder.kind.get(recorder.node_of.get(id(item))) != "live":
            raise UnsupportedLayerError("LRP: a model output does not depend on the input (or is not a tensor)")
        outputs.append(recorder.node_of[id(item)])
    graph.output(tuple(outputs))
    # placeholders first, as fx expects them
    for node in list(graph.nodes):
        if node.op == "placeholder" and node is not graph_input:
            graph_input.prepend(node)
    return Program(graph, graph_input, recorder.placeholders, outputs, spec, None, recorder.constants,
                   owner=weakref.ref(model))

