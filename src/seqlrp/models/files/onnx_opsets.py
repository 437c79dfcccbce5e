"""Converters for the ONNX operator versions that today's exporters write and onnx2torch 1.5 lacks.

``torch.onnx.export`` with its default exporter (torch >= 2.9, the dynamo-based one) writes opset
18-20 files, and tf2onnx writes opset 13-18. onnx2torch knows most operators only up to opset 13-17,
so such a file fails with "Converter is not implemented (... Reshape, version=19)". ONNX raises an
operator's version whenever its *type list* grows (float8, int4, ...) as well as when its meaning
changes. This module registers the missing versions in onnx2torch's registry, once per process
(:func:`register`), in two ways:

* where the newer version only accepts more element types (listed in :data:`TYPE_ONLY`, checked
  against the ONNX operator changelog), the newest older converter is reused as it is;
* where the meaning changed, a converter of its own: ``Reshape`` with ``allowzero=1`` (19, 21, 23:
  the exporter always sets it; a 0 in the shape is then a size-0 axis, as in ``torch.reshape``),
  the ``Reduce*`` operators of opset 18 (the axes come as an input, not an attribute), ``Split`` 18
  (``num_outputs``), ``Pad`` 18+ (without its new ``axes`` input) and ``Gelu`` 20 (new).

:func:`missing_converters` names what is still missing in a model, so that a refusal can list
every operator at once with its version and the model's opset.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

TYPE_ONLY: dict[str, tuple[int, ...]] = {
    "Constant": (19, 21, 23, 24), "Identity": (19, 21, 23, 24), "Cast": (19, 21, 23, 24),
    "Shape": (19, 21, 23, 24), "Squeeze": (23, 24), "Unsqueeze": (21, 23, 24), "Flatten": (21, 23, 24),
    "Transpose": (21, 23, 24), "Equal": (19,), "MaxPool": (22,), "Conv": (22,), "ConvTranspose": (22,),
    "GlobalAveragePool": (22,), "Dropout": (22,), "Softplus": (22,), "Softsign": (22,), "Elu": (22,),
    "Selu": (22,), "HardSigmoid": (22,), "InstanceNormalization": (22,), "ConstantOfShape": (20, 21, 23, 24),
    "Where": (), "Less": (), "Greater": (), "Sin": (22,), "Cos": (22,),
}
"""Operator -> the versions that only widened its types: converted like the newest older version."""

REDUCE_OPS = ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
              "ReduceProd", "ReduceSumSquare")
_registered = False
_RANKS: dict[str, int] = {}  # tensor name -> rank, of the model being converted (inferred_ranks)


def inferred_shapes(proto) -> dict[str, list[int | None]]:
    """The dimensions (None where symbolic) of every tensor of ``proto`` that ONNX's shape
    inference can tell; empty when it cannot run."""
    import onnx

    try:
        graph = onnx.shape_inference.infer_shapes(proto).graph
    except Exception:
        return {}
    return {info.name: [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]
            for info in (*graph.value_info, *graph.input, *graph.output) if info.type.tensor_type.HasField("shape")}


def converting(shapes: dict[str, list[int | None]]):
    """Context for converting a model whose tensors have ``shapes`` (:func:`inferred_shapes`): the
    converters see their ranks."""
    import contextlib

    @contextlib.contextmanager
    def scope():
        _RANKS.clear()
        _RANKS.update({name: len(dims) for name, dims in shapes.items()})
        try:
            yield
        finally:
            _RANKS.clear()

    return scope()


class ReshapeAllowZero(nn.Module):
    """ONNX ``Reshape`` with ``allowzero=1``: the shape as given (-1 inferred, 0 a size-0 axis)."""

    def forward(self, x: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        return torch.reshape(x, torch.Size(shape.tolist()))


class Gelu(nn.Module):
    """ONNX ``Gelu`` (opset 20): ``approximate`` ``none`` or ``tanh``."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate=self.approximate)


class SplitEqual(nn.Module):
    """ONNX ``Split`` (opset 18) with ``num_outputs``: pieces of ``ceil(size / n)``, the last smaller."""

    def __init__(self, axis: int, n: int):
        super().__init__()
        self.axis, self.n = axis, n

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(x, math.ceil(x.shape[self.axis] / self.n), dim=self.axis)


def register() -> None:
    """Add the converters of this module to onnx2torch's registry (once; onnx2torch imported)."""
    global _registered
    if _registered:
        return
    from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription, add_converter
    from onnx2torch.utils.common import OperationConverterResult, get_const_value, onnx_mapping_from_node

    def known(op: str, version: int) -> bool:
        return OperationDescription("", op, version) in _CONVERTER_REGISTRY

    def older(op: str, version: int):
        versions = [d.version for d in _CONVERTER_REGISTRY if d.domain == "" and d.operation_type == op
                    and d.version < version]
        return _CONVERTER_REGISTRY[OperationDescription("", op, max(versions))] if versions else None

    for op, versions in TYPE_ONLY.items():
        for version in versions:
            base = older(op, version)
            if base is not None and not known(op, version):
                add_converter(op, version)(base)

    def add(op: str, version: int):
        """Register unless onnx2torch has a converter of its own for it (a newer onnx2torch)."""
        return add_converter(op, version) if not known(op, version) else (lambda converter: converter)

    reshape_base = older("Reshape", 19)
    own_14 = OperationDescription("", "Reshape", 14)
    if own_14 in _CONVERTER_REGISTRY:  # onnx2torch's Reshape 14 refuses allowzero=1: take that case over
        def _reshape_14(node, graph, base=_CONVERTER_REGISTRY[own_14]):
            if node.attributes.get("allowzero", 0) != 1:
                return base(node, graph)
            return OperationConverterResult(torch_module=ReshapeAllowZero(), onnx_mapping=onnx_mapping_from_node(node))

        _CONVERTER_REGISTRY[own_14] = _reshape_14
    for version in (19, 21, 23, 24):
        @add("Reshape", version)
        def _reshape(node, graph, base=reshape_base):
            if node.attributes.get("allowzero", 0) != 1:
                return base(node, graph)
            return OperationConverterResult(torch_module=ReshapeAllowZero(), onnx_mapping=onnx_mapping_from_node(node))

    from onnx2torch.node_converters.identity import OnnxCopyIdentity
    from onnx2torch.node_converters.reduce import OnnxReduceStaticAxes
    from onnx2torch.utils.common import OnnxMapping

    def reduction(op_type: str, axes, keepdims: int, rank: int | None):
        # onnx2torch reduces the sorted axes one after another: mixed signs with keepdims=0 would
        # reduce the wrong dimensions, so the axes are made non-negative where the rank is known
        if axes and rank is not None:
            axes = sorted(a % rank for a in axes)
        return OnnxReduceStaticAxes(op_type, axes, keepdims)

    for op in REDUCE_OPS:
        for version in (18, 20) if op in ("ReduceMax", "ReduceMin") else (18,):
            @add(op, version)
            def _reduce(node, graph):
                # opset 18 gives the axes as an input (a constant here), opset 13 as an attribute
                axes = None
                if len(node.input_values) > 1 and node.input_values[1]:
                    axes = [int(a) for a in get_const_value(node.input_values[1], graph).reshape(-1).tolist()]
                mapping = OnnxMapping(inputs=node.input_values[:1], outputs=node.output_values)
                if not axes and node.attributes.get("noop_with_empty_axes", 0) == 1:
                    return OperationConverterResult(torch_module=OnnxCopyIdentity(), onnx_mapping=mapping)
                rank = _RANKS.get(node.input_values[0])
                if axes and min(axes) < 0 and rank is None:
                    raise NotImplementedError(f"{node.operation_type} version 18 with negative axes on an input of "
                                              f"unknown rank")
                module = reduction(node.operation_type, axes or None, node.attributes.get("keepdims", 1), rank)
                return OperationConverterResult(torch_module=module, onnx_mapping=mapping)

    split_base = older("Split", 18)

    @add("Split", 18)
    def _split(node, graph):
        n = node.attributes.get("num_outputs")
        if n is None or (len(node.input_values) > 1 and node.input_values[1]):
            return split_base(node, graph)
        return OperationConverterResult(torch_module=SplitEqual(node.attributes.get("axis", 0), int(n)),
                                        onnx_mapping=onnx_mapping_from_node(node))

    pad_base = older("Pad", 18)
    for version in (18, 19, 21, 23, 24):
        @add("Pad", version)
        def _pad(node, graph, version=version):
            if len(node.input_values) > 3 and node.input_values[3]:
                raise NotImplementedError(f"Pad version {version} with its 'axes' input")
            if node.attributes.get("mode", "constant") == "wrap":
                raise NotImplementedError(f"Pad version {version} in mode 'wrap'")
            return pad_base(node, graph)

    @add("Gelu", 20)
    def _gelu(node, graph):
        return OperationConverterResult(torch_module=Gelu(node.attributes.get("approximate", "none")),
                                        onnx_mapping=onnx_mapping_from_node(node))

    _registered = True


def model_opset(proto) -> int:
    """The version of the default ONNX domain a model imports."""
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def missing_converters(proto) -> list[str]:
    """``"Op (version V)"`` for every operator of ``proto``'s graph that no converter handles."""
    from onnx import defs
    from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription

    opset = model_opset(proto)
    missing = []
    for op, domain in _operators(proto.graph.node):
        try:
            version = defs.get_schema(op, max_inclusive_version=opset, domain=domain).since_version
        except Exception:  # an operator ONNX does not define at this opset: onnx2torch says so itself
            continue
        if OperationDescription(domain, op, version) not in _CONVERTER_REGISTRY:
            missing.append(f"{op} (version {version})")
    return missing


def _operators(nodes: Iterable) -> list[tuple[str, str]]:
    return sorted({(node.op_type, node.domain) for node in nodes})


def conv2d_as_conv1d(proto, shapes: dict[str, list[int | None]]) -> int:
    """Rewrite, in place, every 2-d ``Conv`` that is a 1-d convolution in disguise into a 1-d one.

    TensorFlow computes ``Conv1D`` as a 2-d convolution over an input given a height of 1 (its
    ``ExpandDims``), and tf2onnx writes it so: ``Unsqueeze -> Conv (kernel 1 x k) -> Squeeze``.
    seqlrp's rules are for 1-d convolutions, so each such ``Conv`` (a constant weight of kernel
    height 1, height stride/dilation 1 and no height padding, on an input whose inferred height
    is 1) becomes ``Squeeze(height) -> Conv (1-d, the same weights) -> Unsqueeze(height)``: the
    same numbers. ``shapes``: :func:`inferred_shapes` of ``proto`` (the rewrite keeps every tensor
    name it had). Returns how many were rewritten.
    """
    graph = proto.graph
    weights = {t.name: t for t in graph.initializer}
    opset = model_opset(proto)
    rewritten, nodes = 0, []
    for node in graph.node:
        replacement = _conv1d_nodes(node, weights, shapes, opset, rewritten, graph)
        if replacement is None:
            nodes.append(node)
        else:
            nodes.extend(replacement)
            rewritten += 1
    if rewritten:
        del graph.node[:]
        graph.node.extend(nodes)
    return rewritten


def _conv1d_nodes(node, weights, shapes, opset, k, graph):
    """The three nodes replacing a 2-d ``Conv`` of kernel height 1 on a height-1 input, or None
    (new initializers go into ``graph``)."""
    import numpy as np
    from onnx import helper, numpy_helper

    if node.op_type != "Conv" or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
        return None
    weight = weights.get(node.input[1])
    shape = shapes.get(node.input[0])
    if weight is None or shape is None or len(shape) != 4 or shape[2] != 1:
        return None
    w = numpy_helper.to_array(weight)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    strides, dilations = list(attrs.get("strides", [1, 1])), list(attrs.get("dilations", [1, 1]))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    if auto_pad in (b"VALID", "VALID"):
        pads = [0, 0, 0, 0]
    elif auto_pad not in (b"NOTSET", "NOTSET"):
        return None
    if w.ndim != 4 or w.shape[2] != 1 or strides[0] != 1 or dilations[0] != 1 or pads[0] != 0 or pads[2] != 0:
        return None
    name = f"{node.name or node.output[0]}_as_conv1d_{k}"
    w1 = numpy_helper.from_array(np.ascontiguousarray(w[:, :, 0, :]), f"{name}_weight")
    graph.initializer.append(w1)
    squeezed, convolved = f"{name}_in", f"{name}_out"
    if opset >= 13:
        axes = numpy_helper.from_array(np.array([2], dtype=np.int64), f"{name}_axes")
        graph.initializer.append(axes)
        squeeze = helper.make_node("Squeeze", [node.input[0], axes.name], [squeezed], name=f"{name}_squeeze")
        unsqueeze = helper.make_node("Unsqueeze", [convolved, axes.name], list(node.output), name=f"{name}_unsqueeze")
    else:
        squeeze = helper.make_node("Squeeze", [node.input[0]], [squeezed], axes=[2], name=f"{name}_squeeze")
        unsqueeze = helper.make_node("Unsqueeze", [convolved], list(node.output), axes=[2], name=f"{name}_unsqueeze")
    inputs = [squeezed, w1.name, *node.input[2:]]
    conv = helper.make_node("Conv", inputs, [convolved], name=f"{name}_conv", kernel_shape=[int(w.shape[3])],
                            strides=[int(strides[1])], dilations=[int(dilations[1])], pads=[int(pads[1]), int(pads[3])],
                            group=int(attrs.get("group", 1)))
    return [squeeze, conv, unsqueeze]
