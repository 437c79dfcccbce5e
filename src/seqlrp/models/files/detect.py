"""Which kind of model file a file is, told from its content alone (never its name, never running it).

:func:`inspect_file` reads a file's first bytes (and, for archives, their member list and the
opcodes of their main pickle) and names its format, one of :data:`FORMATS`:

* ``"seqlrp"``: seqlrp's own checkpoint (:mod:`seqlrp.models.checkpoint`);
* ``"pt2"``: a ``torch.export.save`` archive, a graph of tensor operators plus weights;
* ``"onnx"``: an ONNX model, converted to a torch module with onnx2torch;
* ``"torchscript"`` (``torch.jit.save``) and ``"pickle"`` (``torch.save(model)`` of a whole model):
  refused, both carry Python code (TorchScript source, pickled classes) that loading would run;
* ``"state_dict"`` / ``"safetensors"``: weights only, for :func:`seqlrp.models.files.load_module`;
* ``"unknown"``: anything else.

Nothing is unpickled beyond ``torch.load(weights_only=True)`` of dict-shaped torch files.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from ..checkpoint import _GLOBAL, CheckpointError

FORMATS = ("seqlrp", "pt2", "onnx", "torchscript", "pickle", "state_dict", "safetensors", "unknown")
EXTERNAL = ("pt2", "onnx")

_TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle of torch.save's legacy (non-zip) format
_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
# ModelProto field number -> protobuf wire type (0 varint, 2 length-delimited)
_ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_SAFETENSORS_MAX_HEADER = 100_000_000


def detect_format(path: str | os.PathLike) -> str:
    """The kind of model file at ``path``, from its content alone.

    Nothing is unpickled beyond ``torch.load(weights_only=True)`` of dict-shaped torch files.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    CheckpointError
        When there is no file at ``path``.
    """
    return inspect_file(path)[0]


def inspect_file(path: str | os.PathLike) -> tuple[str, str | None]:
    """The kind of model file at ``path`` and, for a pickle, the class unpickling it would import.

    Like :func:`detect_format`, from the content alone: nothing is unpickled beyond
    ``torch.load(weights_only=True)`` of dict-shaped torch files.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    format : str
        One of :data:`FORMATS`.
    detail : str or None
        For ``"pickle"``, the global (``module.Class``) the pickle would import, where one is
        found; None otherwise.

    Raises
    ------
    CheckpointError
        When there is no file at ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such model file")
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(b"PK\x03\x04"):
        return _zip_format(path)
    if _is_safetensors(path, head):
        return "safetensors", None
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return _raw_pickle_format(path)
    if _is_onnx(path):
        return "onnx", None
    return "unknown", None


def _zip_format(path: Path) -> tuple[str, str | None]:
    """pt2, TorchScript or a ``torch.save`` zip, told apart by the members under the archive folder."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not names or "/" not in names[0]:
                return "unknown", None
            prefix = names[0].split("/", 1)[0] + "/"  # torch's reader keys records by the first entry's folder
            members = {n[len(prefix):] for n in names if n.startswith(prefix)}
            if "archive_format" in members and archive.read(prefix + "archive_format").strip() == b"pt2":
                return "pt2", None
            if "constants.pkl" in members or any(m.startswith("code/") for m in members):
                return "torchscript", None
            if "data.pkl" not in members:
                return "unknown", None
            facts = _pickle_facts(io.BytesIO(archive.read(prefix + "data.pkl")))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return "unknown", None
    return _classify(path, facts, mmap=True)


def _raw_pickle_format(path: Path) -> tuple[str, str | None]:
    """A plain pickle, or torch.save's legacy format (magic number, protocol, sys info, then the object)."""
    try:
        with path.open("rb") as f:
            facts = _pickle_facts(f)
            if facts.root == "scalar" and facts.first == _TORCH_MAGIC:
                for _ in range(2):
                    _pickle_facts(f)
                facts = _pickle_facts(f)
    except (ValueError, EOFError, OSError):
        return "unknown", None
    return _classify(path, facts, mmap=False)


@dataclass
class _PickleFacts:
    root: str  # "dict", "list", "tuple", "object" (built by calling a global), "scalar"
    root_global: str | None
    first: Any  # argument of the first opcode (the magic number of torch's legacy format)
    seqlrp: bool  # holds the string pair "format", "seqlrp-model"


def _pickle_facts(stream) -> _PickleFacts:
    """What one pickle read from ``stream`` would build, from its opcodes alone (nothing is unpickled)."""
    root, root_global, first, seqlrp = None, None, None, False
    recent: list[Any] = []  # values pushed lately: strings, or None for anything else
    memo: dict[int, Any] = {}
    for op, arg, _ in pickletools.genops(stream):
        name = op.name
        if name in ("PROTO", "FRAME"):
            continue
        if first is None:
            first = arg
        if name in _PUT_OPS or name == "MEMOIZE":
            memo[arg if name in _PUT_OPS else len(memo)] = recent[-1] if recent else None
            continue
        value = arg if name in _STRING_OPS else memo.get(arg) if name in _GET_OPS else None
        glob = None
        if name in ("GLOBAL", "INST"):
            glob = str(arg).replace(" ", ".")
        elif name == "STACK_GLOBAL":
            glob = ".".join(str(v) for v in recent[-2:]) if len(recent) >= 2 else "?"
        if root is None:
            if name in ("EMPTY_DICT", "DICT"):
                root = "dict"
            elif name in ("EMPTY_LIST", "LIST"):
                root = "list"
            elif name.startswith("TUPLE") or name == "EMPTY_TUPLE":
                root = "tuple"
            elif glob:
                root, root_global = "object", glob
        if value == "seqlrp-model" and recent and recent[-1] == "format":
            seqlrp = True
        recent = (recent + [value])[-2:]
    return _PickleFacts(root or "scalar", root_global, first, seqlrp)


def _allowed_globals() -> set[str]:
    """The globals torch's weights-only unpickler accepts (private torch API; a small fallback)."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        return set(_get_allowed_globals())
    except (ImportError, AttributeError):
        return {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter"}


def _classify(path: Path, facts: _PickleFacts, mmap: bool) -> tuple[str, str | None]:
    """seqlrp / state_dict / pickle / unknown for a torch.save file whose main pickle gave ``facts``."""
    if facts.root == "object" and facts.root_global not in _allowed_globals():
        return "pickle", facts.root_global  # a whole object, e.g. torch.save(model): never unpickled
    if facts.seqlrp:
        return "seqlrp", None  # checkpoint.load_model does its own checks, with its own messages
    if facts.root not in ("dict", "object"):
        return "unknown", None
    try:
        value = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        found = _GLOBAL.search(str(err))
        return "pickle", found.group(1) if found else None
    except Exception:  # torch raises RuntimeError, KeyError... for damaged files
        return "unknown", None
    return ("state_dict" if _state_dict_of(value) is not None else "unknown"), None


def _state_dict_of(value: Any) -> dict[str, torch.Tensor] | None:
    """``{name: tensor}`` from a bare state dict or one under "state_dict" / "model_state_dict"; else None."""
    if isinstance(value, Mapping):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(value.get(key), Mapping):
                value = value[key]
                break
        if value and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()):
            return dict(value)
    return None


def _is_safetensors(path: Path, head: bytes) -> bool:
    """An 8-byte little-endian header length followed by that many bytes of a JSON object."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    size = int.from_bytes(head[:8], "little")
    if size > min(path.stat().st_size - 8, _SAFETENSORS_MAX_HEADER):
        return False
    with path.open("rb") as f:
        f.seek(8)
        try:
            return isinstance(json.loads(f.read(size)), dict)
        except ValueError:
            return False


def _varint(f) -> int | None:
    """One protobuf varint from ``f``; None at end of file or past 10 bytes."""
    value = 0
    for shift in range(0, 70, 7):
        byte = f.read(1)
        if not byte:
            return None
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
    return None


def _is_onnx(path: Path) -> bool:
    """The file parses, field by field to its last byte, as an ONNX ModelProto with a graph."""
    size = path.stat().st_size
    seen = set()
    with path.open("rb") as f:
        while f.tell() < size:
            key = _varint(f)
            if key is None or _ONNX_FIELDS.get(key >> 3) != key & 7:
                return False
            value = _varint(f)
            if value is None:
                return False
            if key & 7 == 2:
                if f.tell() + value > size:
                    return False
                f.seek(value, os.SEEK_CUR)
            seen.add(key >> 3)
    return {1, 7} <= seen

