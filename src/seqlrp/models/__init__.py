"""Models: seqlrp's architectures and everything that builds, stores, loads, trains and runs one.

The public API (:func:`build`, :func:`save_model`, :func:`load_model`, ...) is re-exported here;
the modules below are:

* :mod:`~seqlrp.models.architectures` — ``build(arch, ...)``, :class:`ModelInfo`, the defaults;
* :mod:`~seqlrp.models.layers` — the small modules the architectures use (``Exp``, ``Add``, ``Residual``);
* :mod:`~seqlrp.models.checkpoint` — seqlrp's one-file checkpoint format (plain data, no code);
* :mod:`~seqlrp.models.files` — ``.pt2``/ONNX files and the user's own class, loaded safely;
* :mod:`~seqlrp.models.external` — a foreign model made to look like ours (one score per class);
* :mod:`~seqlrp.models.outputs` — a model's output as tasks (N, K), BPNet's profile scalar;
* :mod:`~seqlrp.models.loading` — ``load_model``, whatever the file;
* :mod:`~seqlrp.models.device`, :mod:`~seqlrp.models.training`, :mod:`~seqlrp.models.inference` —
  where models run, the training loop, batched inference;
* :mod:`~seqlrp.models.metrics` — how well a classifier ranks: ROC/PR curves, AUROC, AUPRC, per-split rows;
* :mod:`~seqlrp.models.randomise` — a copy with every weight re-drawn (the randomisation test).
"""

from .architectures import ARCH_DEFAULTS, ARCHS, ModelInfo, annotate, build, check_architecture, describe
from .checkpoint import CheckpointError, check_compatible, read_info, save_model
from .loading import load_model

__all__ = [
    "ARCHS",
    "ARCH_DEFAULTS",
    "CheckpointError",
    "ModelInfo",
    "annotate",
    "build",
    "check_architecture",
    "check_compatible",
    "describe",
    "load_model",
    "read_info",
    "save_model",
]
