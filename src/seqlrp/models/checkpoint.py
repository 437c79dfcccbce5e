"""Model checkpoints: one file, plain data only, read without unpickling code.

A checkpoint is ``torch.save`` of one dict::

    {"format": "seqlrp-model", "version": 1, "arch": str, "hparams": dict, "seq_len": int,
     "classes": [str, ...], "alphabet": "ACGT", "provenance": dict, "state_dict": {name: Tensor}}

holding nothing but tensors, str, int, float, bool, list and dict. :func:`read_payload` reads it
with ``torch.load(weights_only=True)``, whose unpickler refuses every other global before
calling it, so a file carrying pickled code is rejected and none of it runs;
:func:`seqlrp.models.loading.load_model` then rebuilds the model from ``arch`` + ``hparams``
and loads its weights strictly.

Files are written through a temporary file and a rename, from an in-memory buffer, so the bytes
depend on the content only (torch names the archive's records after the file name otherwise).
"""

from __future__ import annotations

import io
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch

from ..errors import InputError
from ..formats.atomic import atomic_path
from .architectures import ModelInfo, describe

if TYPE_CHECKING:
    from torch import nn

FORMAT = "seqlrp-model"
VERSION = 1
_GLOBAL = re.compile(r"GLOBAL (\S+)")


class CheckpointError(InputError):
    """A checkpoint that cannot or must not be used: ``path: problem`` (``problem`` without a path)."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        super().__init__(path, problem)
        if path is None:
            self.args = (problem,)


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain data (tuples become lists); TypeError for anything else."""
    for kind in (bool, str, int, float):  # subclasses (torch's version string, numpy scalars) become plain
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: checkpoint dict keys must be strings")
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(f"{where}: {type(value).__name__} is not plain data (str, int, float, bool, list, dict)")


def save_model(model: nn.Module, path: str | os.PathLike) -> None:
    """Write a seqlrp model and its ``seqlrp_info`` to one checkpoint file.

    The file holds plain data only (architecture, hyperparameters, ``seq_len``, class names,
    alphabet, provenance and the state dict), so ``load_model`` reads it with
    ``torch.load(weights_only=True)`` and no code from it ever runs. Weights are stored as CPU
    tensors, so the file loads on any machine. The file is written through a temporary file and
    a rename (a failure leaves no partial file), and the same model gives the same bytes.

    Parameters
    ----------
    model : torch.nn.Module
        A model made by ``seqlrp.models.build`` (or loaded by ``load_model``), carrying its
        ``seqlrp_info``; name its classes first with ``seqlrp.models.annotate(model,
        classes=[...])``.
    path : str or os.PathLike
        The checkpoint to write (conventionally ``.pt``).

    Raises
    ------
    seqlrp.errors.SeqlrpError
        for a model without ``seqlrp_info`` (not made by seqlrp).
    TypeError
        for hyperparameters or provenance that are not plain data.
    """
    info = describe(model)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "arch": info.arch,
        "hparams": _plain(info.hparams, "hparams"),
        "seq_len": int(info.seq_len),
        "classes": [str(c) for c in info.classes],
        "alphabet": str(info.alphabet),
        "provenance": _plain(info.provenance, "provenance"),
        "state_dict": {name: t.detach().to("cpu", copy=True).contiguous() for name, t in model.state_dict().items()},
    }
    write_payload(payload, path)


def write_payload(payload: dict, path: str | os.PathLike) -> None:
    """Write a checkpoint ``payload`` (the dict above) to ``path``, atomically and byte-reproducibly."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_path(path, suffix=".pt") as tmp:
        tmp.write_bytes(buffer.getvalue())


def read_payload(path: Path, mmap: bool = False) -> dict:
    """The checked payload dict; ``mmap`` maps the tensors from the file instead of reading them."""
    if not path.is_file():
        raise CheckpointError(path, "no such checkpoint file")
    try:
        # torch maps only its zip format; anything else is read (and refused) the ordinary way
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap and zipfile.is_zipfile(path))
    except pickle.UnpicklingError as err:
        text = str(err)
        # the weights-only unpickler names the global (class, function) it refused to import
        if "GLOBAL" in text or "allowlist" in text:
            found = _GLOBAL.search(text)
            what = f" (found {found.group(1)})" if found else ""
            raise CheckpointError(
                path,
                f"refused: the file holds pickled Python objects beyond tensors and plain data{what}; "
                "seqlrp loads checkpoints with torch.load(weights_only=True) and never runs code from them",
            ) from None
        reason = text.split("WeightsUnpickler error:")[-1].strip().splitlines()[0] if text.strip() else "unpickling failed"
        raise CheckpointError(path, f"not a readable PyTorch checkpoint ({reason})") from None
    except Exception as err:  # torch raises RuntimeError, KeyError, EOFError... for non-checkpoints
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(path, f"not a readable PyTorch checkpoint ({first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(path, f"not a seqlrp model checkpoint (no 'format': {FORMAT!r} entry); save models with seqlrp.models.save_model")
    version = payload.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(path, f"checkpoint format version {version!r} is newer than this seqlrp reads ({VERSION})")
    expected = {
        "arch": str, "hparams": dict, "seq_len": int, "classes": list, "alphabet": str, "provenance": dict, "state_dict": dict
    }
    for key, kind in expected.items():
        if not isinstance(payload.get(key), kind):
            raise CheckpointError(path, f"checkpoint entry {key!r} is missing or not a {kind.__name__}")
    if not all(isinstance(t, torch.Tensor) for t in payload["state_dict"].values()):
        raise CheckpointError(path, "checkpoint state_dict holds something other than tensors")
    return payload


def read_info(path: str | os.PathLike) -> ModelInfo:
    """What a seqlrp checkpoint holds, cheaply: architecture, input length, class names.

    The weights are memory-mapped, not read, and no model is built: fit for start-up checks such
    as the class names a tiled run takes from its checkpoint.

    Parameters
    ----------
    path : str or os.PathLike
        A checkpoint written by ``save_model`` (or by the pipeline, ``results/model/model.pt``).

    Returns
    -------
    ModelInfo
        ``arch``, ``hparams``, ``seq_len`` (the input length L of (N, 4, L)), ``classes`` (the
        class names in logit order: ``classes[k]`` is output ``k``), ``alphabet`` (``"ACGT"``,
        the channel order) and ``provenance``.

    Raises
    ------
    CheckpointError
        (one line) for a missing or unreadable file, pickled code, or a file that is not a seqlrp
        checkpoint; as ``load_model``.
    """
    return info_of(read_payload(Path(path), mmap=True))


def info_of(payload: dict) -> ModelInfo:
    """The :class:`~seqlrp.models.ModelInfo` recorded in a checked payload."""
    return ModelInfo(arch=payload["arch"], hparams=payload["hparams"], seq_len=payload["seq_len"],
                     classes=[str(c) for c in payload["classes"]], alphabet=payload["alphabet"],
                     provenance=payload["provenance"])


def check_compatible(
    info: ModelInfo, *, seq_len: int, classes: Sequence[str], alphabet: str = "ACGT", path: str | os.PathLike | None = None
) -> None:
    """Raise :class:`CheckpointError` unless the model fits data of ``seq_len`` and ``classes``.

    Classes must match in name and order: logit ``k`` is the score of ``classes[k]``.
    """
    if info.seq_len != seq_len:
        raise CheckpointError(path, f"model seq_len {info.seq_len} does not match the data's seq_len {seq_len}")
    if list(info.classes) != list(classes):
        hint = " (same names, different order; order the config's class keys like the model's)" if sorted(info.classes) == sorted(classes) else ""
        raise CheckpointError(
            path, f"model classes [{', '.join(info.classes)}] do not match the data's classes [{', '.join(classes)}]{hint}"
        )
    if info.alphabet != alphabet:
        raise CheckpointError(path, f"model alphabet {info.alphabet!r} does not match the data's alphabet {alphabet!r}")
