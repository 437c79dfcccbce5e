"""ONNX model files, converted to a torch module with onnx2torch (optional: the ``onnx`` extra).

A model exported channels-last (input ``(N, L, 4)``) is wrapped in :class:`ChannelsLast` so that
it takes seqlrp's ``(N, 4, L)``.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from ..checkpoint import CheckpointError
from ._text import _first_line
from .onnx_opsets import conv2d_as_conv1d, converting, inferred_shapes, missing_converters, model_opset

INSTALL_ONNX = "pip install onnx onnx2torch"


class ChannelsLast(nn.Module):
    """Runs ``inner`` on ``(N, L, 4)`` input given ``(N, 4, L)``, for models exported channels-last."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.transpose(1, 2))


@contextmanager
def _torchvision_stub() -> Iterator[None]:
    """Stand-in ``torchvision`` while onnx2torch is imported, when the real one is not installed.

    onnx2torch imports torchvision at import time for two converters (NonMaxSuppression and
    RoiAlign) that DNA models never use, and declares it a dependency, which would pull in a
    CUDA build of torch. The stub lets the other converters load; calling the two raises an
    ImportError. It leaves ``sys.modules`` once onnx2torch is imported, so other code still
    sees that torchvision is missing.
    """
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        yield
        return

    def missing(*args, **kwargs):
        raise ImportError("this ONNX operator needs torchvision, which is not installed")

    stub = types.ModuleType("torchvision", _torchvision_stub.__doc__)
    ops = types.ModuleType("torchvision.ops", "Stand-in torchvision.ops; every function raises ImportError.")
    for name in ("nms", "batched_nms", "box_convert", "roi_align"):
        setattr(ops, name, missing)
    stub.ops = ops
    sys.modules["torchvision"], sys.modules["torchvision.ops"] = stub, ops
    try:
        yield
    finally:
        for name, module in (("torchvision", stub), ("torchvision.ops", ops)):
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _onnx_tools(path: Path):
    """``(onnx, onnx2torch.convert)``, or one line saying what to install."""
    try:
        import onnx

        with _torchvision_stub():
            from onnx2torch import convert
        from .onnx_opsets import register

        register()
    except ImportError as err:
        raise CheckpointError(path, f"reading ONNX models needs the onnx and onnx2torch packages ({_first_line(err)}): "
                                    f"{INSTALL_ONNX} (onnx2torch with --no-deps keeps your torch, see the Makefile)") from None
    return onnx, convert


def _onnx_input_shape(proto) -> list | None:
    """Dimensions of the graph's first input that is not an initializer (None where symbolic)."""
    initializers = {t.name for t in proto.graph.initializer}
    for value in proto.graph.input:
        if value.name in initializers:
            continue
        if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
            return None
        return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in value.type.tensor_type.shape.dim]
    return None


def _is_channels_last(shape: list | None) -> bool:
    """``[N, L, 4]``: last size 4, the middle one not 4 (or symbolic)."""
    return shape is not None and len(shape) == 3 and shape[2] == 4 and shape[1] != 4


def _load_onnx(path: Path) -> tuple[nn.Module, list | None, bool]:
    onnx, convert = _onnx_tools(path)
    try:
        proto = onnx.load(str(path))
    except Exception as err:
        raise CheckpointError(path, f"not a readable ONNX model ({_first_line(err)})") from None
    shape = _onnx_input_shape(proto)
    shapes = inferred_shapes(proto)
    conv2d_as_conv1d(proto, shapes)  # tf2onnx's Conv1D: a 2-d convolution over a height of 1
    missing = missing_converters(proto)
    if missing:
        raise CheckpointError(path, f"ONNX opset {model_opset(proto)}: no converter to torch for {', '.join(missing)}; "
                                    f"export again with an opset up to 20 (torch.onnx.export(..., opset_version=18)), "
                                    f"or give the model as a torch module (model.module)")
    try:
        with converting(shapes):
            module = convert(proto)
    except Exception as err:
        raise CheckpointError(path, f"ONNX opset {model_opset(proto)}: onnx2torch cannot convert this model "
                                    f"({type(err).__name__}: {_first_line(err)}); give the model as a torch module "
                                    f"(model.module) instead") from None
    channels_last = _is_channels_last(shape)
    return (ChannelsLast(module) if channels_last else module), shape, channels_last
