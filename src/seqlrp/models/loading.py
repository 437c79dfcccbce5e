"""Loading a model from a file, whatever made it: a seqlrp checkpoint, a ``.pt2`` or an ONNX file.

The file's kind is told from its content (:func:`seqlrp.models.files.detect_format`), never from
its name, and no code stored in any file runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..errors import SeqlrpError
from . import files as model_files
from .architectures import build, describe
from .checkpoint import CheckpointError, check_compatible, info_of, read_payload
from .external import data_for, from_checkpoint


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> nn.Module:
    """Load a model saved by seqlrp (or a ``.pt2``/ONNX file), ready to explain.

    The file's kind is told from its content, never from its name, and no code stored in any
    file runs: a seqlrp checkpoint is read with ``torch.load(weights_only=True)``, rebuilt from
    its recorded architecture and its weights loaded strictly.

    Parameters
    ----------
    path : str or os.PathLike
        A seqlrp checkpoint (``save_model``; the pipeline's ``results/model/model.pt``), a
        ``torch.export`` ``.pt2`` or an ONNX file.
    device : str or torch.device, default "cpu"
        Where the model is put.

    Returns
    -------
    torch.nn.Module
        The model in eval mode, mapping one-hot input (N, 4, L), channels A, C, G, T, to its
        outputs, e.g. logits (N, n_classes). A seqlrp checkpoint gives back its
        ``seqlrp_info`` (``ModelInfo``: class names in logit order, ``seq_len``, ...), so
        ``relevance(model, x, target="name")`` works. A checkpoint of a foreign model imported by
        the pipeline (arch ``"external"``) becomes a ``seqlrp.models.external.ExternalModel``
        (scores (N, n_classes) of its named classes). A ``.pt2`` or ONNX file is loaded by
        ``seqlrp.models.files.load_external``: no ``seqlrp_info`` (``seqlrp_source`` instead),
        so targets are output indices.

    Raises
    ------
    CheckpointError
        (one line) for a missing or unreadable file, for pickled code, and for a file whose
        weights do not fit its recorded architecture. TorchScript, whole pickled models and bare
        weights are refused with one line saying how to export the model.
    """
    path = Path(path)
    if path.is_file():
        fmt, detail = model_files.inspect_file(path)
        if fmt in model_files.EXTERNAL:
            return model_files.load_external(path, device=device)
        model_files.refuse_foreign(path, fmt, detail)
    payload = read_payload(path)
    if payload["arch"] == "external":  # a model from outside seqlrp, imported by the pipeline
        return from_checkpoint(path, payload, device=device)
    try:
        model = build(payload["arch"], seq_len=payload["seq_len"], n_classes=len(payload["classes"]), **payload["hparams"])
    except SeqlrpError as err:
        raise CheckpointError(path, f"cannot rebuild the recorded architecture: {err}") from None
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(path, f"weights do not fit architecture {payload['arch']!r}: {first}") from None
    model.seqlrp_info = info_of(payload)
    return model.to(device).eval()


def load_model_for(path: str | os.PathLike, data, *, device: str | torch.device = "cpu"):
    """The model at ``path`` and the extracted data set as that model sees it
    (:func:`~seqlrp.models.external.data_for`: a foreign model's classes), checked to fit each other
    (:func:`~seqlrp.models.checkpoint.check_compatible`). Returns ``(model, data)``."""
    model = load_model(path, device=device)
    info = describe(model)
    data = data_for(data, info)
    check_compatible(info, seq_len=data.seq_len, classes=data.classes, alphabet=data.alphabet, path=path)
    return model, data
