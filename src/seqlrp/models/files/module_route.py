"""The module route: the user's own ``nn.Module`` class, built from their config and filled with weights.

This runs the user's own code, named in their config (``package.module:Class`` or
``path/to/file.py:Class``); the weights never run code: they are read as plain tensors
(``torch.load(weights_only=True)`` of a state dict, or safetensors).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import pickle
import sys
import types
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..checkpoint import _GLOBAL, CheckpointError
from ._text import _first_line
from .detect import _state_dict_of, detect_format


def load_module(spec: str, kwargs: Mapping[str, Any] | None = None, weights: str | os.PathLike | None = None,
                *, device: str | torch.device = "cpu") -> nn.Module:
    """``Class(**kwargs)`` named by ``spec``, with ``weights`` loaded strictly, in eval mode on ``device``.

    ``spec`` is ``"package.module:Class"`` (imported) or ``"path/to/file.py:Class"`` (the file,
    relative to the current directory, is run as a module, its folder first on ``sys.path`` while
    it runs). This runs the user's own code, named in their config; the weights never run code:
    a state dict ``.pt`` is read with ``torch.load(weights_only=True)`` (a bare state dict, or one
    under "state_dict" / "model_state_dict"), a ``.safetensors`` file with safetensors.

    Parameters
    ----------
    spec : str
        ``"package.module:Class"`` or ``"path/to/file.py:Class"``; the class must be an
        ``nn.Module`` subclass.
    kwargs : Mapping, optional
        Keyword arguments for the class (none when None).
    weights : str or os.PathLike, optional
        A state dict (``.pt``) or ``.safetensors`` file whose keys must match the model's, both
        ways; None leaves the weights as the class initialises them.
    device : str or torch.device, default "cpu"
        Where the model goes.

    Returns
    -------
    nn.Module
        The model, in eval mode on ``device``.

    Raises
    ------
    CheckpointError
        One line, when the class cannot be imported or built, or the weights cannot be read
        safely or do not fit it.
    """
    cls, where = _import_class(spec)
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping):
        raise CheckpointError(where, f"the keyword arguments for {cls.__name__} must be a mapping, not {type(kwargs).__name__}")
    try:
        model = cls(**kwargs)
    except Exception as err:
        raise CheckpointError(where, f"{cls.__name__}(**{dict(kwargs)!r}) failed: {type(err).__name__}: {_first_line(err)}") from None
    if weights is not None:
        _fill(model, Path(weights), cls.__name__)
    return model.to(device).eval()


def _import_class(spec: Any) -> tuple[type, str]:
    """The nn.Module subclass named by ``spec`` and the file or module name to put in messages."""
    target, _, attr = spec.rpartition(":") if isinstance(spec, str) else ("", "", "")
    if not target or not attr:
        raise CheckpointError(None, f"model class {spec!r}: expected 'package.module:Class' or 'path/to/file.py:Class'")
    if target.endswith(".py") or "/" in target or os.sep in target:
        module = _import_file(Path(target))
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as err:
            raise CheckpointError(target, f"no such module ({_first_line(err)})") from None
        except Exception as err:
            raise CheckpointError(target, f"importing it failed: {type(err).__name__}: {_first_line(err)}") from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise CheckpointError(target, f"defines no {attr!r}")
        value = getattr(value, part)
    if not (isinstance(value, type) and issubclass(value, nn.Module)):
        raise CheckpointError(target, f"{attr} is not an nn.Module subclass (it is a {type(value).__name__})")
    return value, target


def _import_file(file: Path) -> types.ModuleType:
    """Run ``file`` as a fresh module, registered under a name made from its absolute path."""
    if not file.is_file():
        raise CheckpointError(file, "no such Python file")
    name = "seqlrp_user_" + hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and the like look their module up while it runs
    folder = str(file.resolve().parent)
    sys.path.insert(0, folder)  # sibling helper files import as when the file is run as a script
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        where = f" (line {err.lineno})" if isinstance(err, SyntaxError) and err.lineno else ""
        raise CheckpointError(file, f"importing it failed: {type(err).__name__}: {_first_line(err)}{where}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    """``{name: tensor}`` from a safetensors file or a torch state dict, never unpickling code."""
    if not path.is_file():
        raise CheckpointError(path, "no such weights file")
    if detect_format(path) == "safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise CheckpointError(path, "reading .safetensors weights needs the safetensors package: pip install safetensors") from None
        try:
            return load_file(str(path), device="cpu")
        except Exception as err:
            raise CheckpointError(path, f"not a readable safetensors file ({_first_line(err)})") from None
    try:
        value = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as err:
        found = _GLOBAL.search(str(err))
        what = f" (found {found.group(1)})" if found else ""
        raise CheckpointError(path, f"refused: the weights file holds pickled Python objects beyond tensors and plain data{what}; "
                                    "seqlrp reads weights with torch.load(weights_only=True) and never runs code from them") from None
    except Exception as err:
        raise CheckpointError(path, f"neither a safetensors file nor a readable PyTorch state dict ({_first_line(err)})") from None
    state = _state_dict_of(value)
    if state is None:
        raise CheckpointError(path, "not a state dict: expected {name: tensor}, or a dict with a 'state_dict' or 'model_state_dict' entry")
    return state


def _few(names: list[str], k: int = 3) -> str:
    more = f" (+{len(names) - k} more)" if len(names) > k else ""
    return ", ".join(names[:k]) + more


def _fill(model: nn.Module, path: Path, class_name: str) -> None:
    """Load the weights at ``path`` into ``model``; every key must match, both ways."""
    state = _read_weights(path)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes that differ
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else _first_line(err)
        raise CheckpointError(path, f"weights do not fit {class_name}: {detail}") from None
    problems = []
    if result.missing_keys:
        problems.append(f"missing keys {_few(result.missing_keys)}")
    if result.unexpected_keys:
        problems.append(f"unexpected keys {_few(result.unexpected_keys)}")
    if problems:
        raise CheckpointError(path, f"weights do not fit {class_name}: {'; '.join(problems)}")
