"""Model files from outside seqlrp, told apart by content and loaded without running code from them.

:func:`detect_format` (and :func:`inspect_file`) read a file's first bytes (and, for archives, their
member list) and name it, one of :data:`FORMATS`: ``"seqlrp"``, ``"pt2"``, ``"onnx"``,
``"torchscript"``, ``"pickle"``, ``"state_dict"``, ``"safetensors"`` or ``"unknown"``.

Three ways a model gets in:

1. :func:`seqlrp.models.load_model` loads a seqlrp checkpoint, or dispatches to :func:`load_external`
   for ``.pt2`` and ONNX files, and refuses the rest with one line (:func:`refuse_foreign`).
2. :func:`load_external` returns a module that takes ``(N, 4, L)`` one-hot input and carries
   ``seqlrp_source`` (format, path, declared input shape, channels-last flag).
3. :func:`load_module` imports the user's own class (``package.module:Class`` or
   ``path/to/file.py:Class``) and fills it with weights read as plain tensors.

The public API is re-exported here; the modules, one concern each, are:

* :mod:`~seqlrp.models.files.detect` — a file's format, from its content alone;
* :mod:`~seqlrp.models.files.pt2` — ``torch.export`` archives, checked before torch reads them
  (``torch.export.load`` falls back to an unsafe unpickler), and :class:`ExportedModule`;
* :mod:`~seqlrp.models.files.onnx_convert` — ONNX files through onnx2torch, and :class:`ChannelsLast`;
* :mod:`~seqlrp.models.files.foreign` — :func:`load_external` and :func:`refuse_foreign`, by format;
* :mod:`~seqlrp.models.files.module_route` — :func:`load_module`: the user's class and weights.
"""

from .detect import EXTERNAL, FORMATS, detect_format, inspect_file
from .foreign import EXPORT_HINT, EXPORT_ONNX, EXPORT_PT2, load_external, refuse_foreign
from .module_route import load_module
from .onnx_convert import INSTALL_ONNX, ChannelsLast
from .pt2 import ExportedModule

__all__ = [
    "EXPORT_HINT", "EXPORT_ONNX", "EXPORT_PT2", "EXTERNAL", "FORMATS", "INSTALL_ONNX", "ChannelsLast", "ExportedModule",
    "detect_format", "inspect_file", "load_external", "load_module", "refuse_foreign",
]
