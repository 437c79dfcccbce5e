"""Model files from outside seqlrp, by format: which load and which are refused.

``.pt2`` and ONNX files load (:func:`load_external`, through :mod:`~seqlrp.models.files.pt2` and
:mod:`~seqlrp.models.files.onnx_convert`); TorchScript, whole pickled models and bare weights get
one line saying how to export the model instead (:func:`refuse_foreign`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import CheckpointError
from .detect import inspect_file
from .onnx_convert import _load_onnx
from .pt2 import _load_pt2

EXPORT_PT2 = ('torch.export.save(torch.export.export(model.eval(), (torch.zeros(2, 4, L),), '
              'dynamic_shapes=({0: torch.export.Dim("batch")},)), "model.pt2")')
EXPORT_ONNX = ('torch.onnx.export(model.eval(), (torch.zeros(2, 4, L),), "model.onnx", '
               'dynamic_shapes=({0: torch.export.Dim("batch")},))')
EXPORT_HINT = f"export the model instead, to torch.export: {EXPORT_PT2} or to ONNX: {EXPORT_ONNX}"


def refuse_foreign(path: str | os.PathLike, fmt: str, detail: str | None = None) -> None:
    """Raise the one-line :class:`CheckpointError` for a file ``load_model`` does not load; None otherwise.

    Parameters
    ----------
    path : str or os.PathLike
        The model file, for the message.
    fmt : str
        Its format, as :func:`~seqlrp.models.files.inspect_file` names it.
    detail : str, optional
        For ``"pickle"``, the global unpickling would import (the second item
        :func:`~seqlrp.models.files.inspect_file` returns).

    Returns
    -------
    None
        For any other format (``"seqlrp"``, ``"pt2"``, ``"onnx"``, ``"unknown"``).

    Raises
    ------
    CheckpointError
        For ``"torchscript"``, ``"pickle"``, ``"state_dict"`` and ``"safetensors"``, saying how to
        export the model (or load bare weights with :func:`~seqlrp.models.files.load_module`).
    """
    if fmt == "torchscript":
        raise CheckpointError(path, "refused: a TorchScript archive (torch.jit.save), which carries Python code "
                                    f"seqlrp does not run; {EXPORT_HINT}")
    if fmt == "pickle":
        imports = f" (unpickling it would import {detail})" if detail else ""
        raise CheckpointError(path, f"refused: a pickled Python object, as torch.save(model) writes{imports}; "
                                    f"seqlrp never unpickles code from model files; {EXPORT_HINT}")
    if fmt in ("state_dict", "safetensors"):
        kind = "a bare state dict" if fmt == "state_dict" else "safetensors weights"
        raise CheckpointError(path, f"not a seqlrp model checkpoint: {kind} (weights without the model's code); "
                                    "load it with seqlrp.models.files.load_module('file.py:Class', kwargs, weights=...), "
                                    f"or {EXPORT_HINT}")


def load_external(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> nn.Module:
    """The ``.pt2`` or ONNX model at ``path`` as a module taking ``(N, 4, L)``, in eval mode on ``device``.

    The module carries ``seqlrp_source = {"format", "path", "input_shape", "channels_last"}``, where
    ``input_shape`` is the first input's shape as the file declares it (None for symbolic sizes);
    a ``.pt2`` module also carries the checked ``exported_program``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``torch.export.save`` archive or an ONNX file, told apart by content.
    device : str or torch.device, default "cpu"
        Where the module goes.

    Returns
    -------
    nn.Module
        The model, in eval mode on ``device``, with ``seqlrp_source`` set.

    Raises
    ------
    CheckpointError
        One line, for any other kind of file, for a ``.pt2`` archive that holds code or anything
        but data and torch operators, and for a file torch or onnx2torch cannot load.
    """
    path = Path(path)
    fmt, detail = inspect_file(path)
    if fmt == "pt2":
        module, shape, channels_last = _load_pt2(path, device)
    elif fmt == "onnx":
        module, shape, channels_last = _load_onnx(path)
    else:
        refuse_foreign(path, fmt, detail)
        raise CheckpointError(path, f"not a torch.export (.pt2) or ONNX model file (found: {fmt})")
    module = module.to(device).eval()
    module.seqlrp_source = {"format": fmt, "path": str(path), "input_shape": shape, "channels_last": channels_last}
    return module
