"""Model files from outside seqlrp, told apart by content and loaded without running code from them.

:func:`detect_format` reads a file's first bytes (and, for archives, their member list) and names it:

* ``"seqlrp"``: seqlrp's own checkpoint (:mod:`seqlrp.models.checkpoint`);
* ``"pt2"``: a ``torch.export.save`` archive, a graph of tensor operators plus weights;
* ``"onnx"``: an ONNX model, converted to a torch module with onnx2torch;
* ``"torchscript"`` (``torch.jit.save``) and ``"pickle"`` (``torch.save(model)`` of a whole model):
  refused, both carry Python code (TorchScript source, pickled classes) that loading would run;
* ``"state_dict"`` / ``"safetensors"``: weights only, for :func:`load_module`;
* ``"unknown"``: anything else.

Three ways a model gets in:

1. :func:`seqlrp.models.load_model` loads a seqlrp checkpoint, or dispatches to :func:`load_external`
   for ``.pt2`` and ONNX files, and refuses the rest with one line.
2. :func:`load_external` returns a module that takes ``(N, 4, L)`` one-hot input and carries
   ``seqlrp_source`` (format, path, declared input shape, channels-last flag).
3. :func:`load_module` imports the user's own class (``package.module:Class`` or
   ``path/to/file.py:Class``) and fills it with weights read as plain tensors.

Why ``.pt2`` files are checked before torch reads them. In torch 2.13 ``torch.export.save`` writes a
zip whose members all lie under one folder (named after the file)::

    <stem>/archive_format                      b"pt2"
    <stem>/archive_version                     b"0"
    <stem>/byteorder, <stem>/.data/version, <stem>/.data/serialization_id
    <stem>/models/model.json                   the graph, as JSON
    <stem>/data/weights/model_weights_config.json   weight name -> member, dtype, shape, use_pickle
    <stem>/data/weights/weight_0 ...           raw tensor bytes
    <stem>/data/constants/model_constants_config.json
    <stem>/data/sample_inputs/model.pt         torch.save((args, kwargs)) of the example input

``torch.export.load`` reads the sample inputs (and the legacy ``data/weights/model.pt``) with
``torch.load(weights_only=True)`` but falls back to ``weights_only=False`` when that fails, loads
``use_pickle`` weights and constants with ``weights_only=False`` outright, ``pickle.loads`` opaque
constants and loads AOTInductor shared libraries; in the JSON, node targets are any callable reached
from ``torch.``, shape expressions go through ``sympy.sympify`` (``eval``), and ``guards_code`` is
Python source that ``ExportedProgram.module()`` compiles and runs. So a tampered archive runs its
payload on load or on the first call. :func:`load_external` therefore reads the archive into memory
once, opens the zip itself, and refuses it unless every pickled member loads with
``torch.load(weights_only=True)``, no member holds native code or opaque objects, every node target
is a torch operator, every shape expression is plain arithmetic on symbols and numbers and there is
no guard code; only then does torch load the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import json
import math
import operator
import os
import pickle
import pickletools
import re
import sys
import tokenize
import types
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
from torch import nn

from .checkpoint import _GLOBAL, CheckpointError

FORMATS = ("seqlrp", "pt2", "onnx", "torchscript", "pickle", "state_dict", "safetensors", "unknown")
EXTERNAL = ("pt2", "onnx")

EXPORT_PT2 = ('torch.export.save(torch.export.export(model.eval(), (torch.zeros(2, 4, L),), '
              'dynamic_shapes=({0: torch.export.Dim("batch")},)), "model.pt2")')
EXPORT_ONNX = ('torch.onnx.export(model.eval(), (torch.zeros(2, 4, L),), "model.onnx", dynamo=False, '
               'input_names=["x"], dynamic_axes={"x": {0: "batch"}})')
EXPORT_HINT = f"export the model instead, to torch.export: {EXPORT_PT2} or to ONNX: {EXPORT_ONNX}"
INSTALL_ONNX = "pip install onnx onnx2torch"

_TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle of torch.save's legacy (non-zip) format
_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
# ModelProto field number -> protobuf wire type (0 varint, 2 length-delimited)
_ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_SAFETENSORS_MAX_HEADER = 100_000_000


class ChannelsLast(nn.Module):
    """Runs ``inner`` on ``(N, L, 4)`` input given ``(N, 4, L)``, for models exported channels-last."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.transpose(1, 2))


class ExportedModule(nn.Module):
    """Runs a ``torch.export`` program as an ordinary module.

    The program's own module (``ExportedProgram.module()``) refuses ``train()``/``eval()``; its
    graph is fixed at export, so here they only set the flag. A program exported with a fixed batch
    size (no ``dynamic_shapes``) gets its input in chunks of that size, the last one padded.
    """

    def __init__(self, program: nn.Module, batch: int | None):
        super().__init__()
        self.program = program
        self.batch = batch

    def train(self, mode: bool = True) -> ExportedModule:
        self.training = mode
        return self

    def forward(self, x: torch.Tensor) -> Any:
        if self.batch is None or x.shape[0] == self.batch:
            return self.program(x)
        outputs = []
        for start in range(0, x.shape[0], self.batch):
            chunk = x[start:start + self.batch]
            n = chunk.shape[0]
            if n < self.batch:
                chunk = torch.cat([chunk, chunk.new_zeros((self.batch - n, *chunk.shape[1:]))])
            outputs.append(_first_rows(self.program(chunk), n))
        return _concat(outputs)


def _first_rows(output: Any, n: int) -> Any:
    """The first ``n`` rows of every tensor in ``output`` (a tensor, or a tuple / list / dict of them)."""
    if isinstance(output, torch.Tensor):
        return output[:n]
    if isinstance(output, (tuple, list)):
        return type(output)(_first_rows(o, n) for o in output)
    if isinstance(output, dict):
        return {k: _first_rows(v, n) for k, v in output.items()}
    return output


def _concat(outputs: list) -> Any:
    """The per-chunk outputs joined along the batch, keeping their structure."""
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(outputs)
    if isinstance(first, (tuple, list)):
        return type(first)(_concat(list(parts)) for parts in zip(*outputs))
    if isinstance(first, dict):
        return {k: _concat([o[k] for o in outputs]) for k in first}
    return first


# ---------------------------------------------------------------- detection


def detect_format(path: str | os.PathLike) -> str:
    """The kind of model file at ``path``, one of :data:`FORMATS`, from its content alone.

    Nothing is unpickled beyond ``torch.load(weights_only=True)`` of dict-shaped torch files.
    """
    return _inspect(Path(path))[0]


def _inspect(path: Path) -> tuple[str, str | None]:
    """``(format, detail)``; detail names the class a pickle would import, where one applies."""
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


# ---------------------------------------------------------------- refusals


def refuse_foreign(path: str | os.PathLike, fmt: str, detail: str | None = None) -> None:
    """Raise the one-line :class:`CheckpointError` for a file ``load_model`` does not load; None otherwise."""
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


# ---------------------------------------------------------------- .pt2 and ONNX


def load_external(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> nn.Module:
    """The ``.pt2`` or ONNX model at ``path`` as a module taking ``(N, 4, L)``, in eval mode on ``device``.

    The module carries ``seqlrp_source = {"format", "path", "input_shape", "channels_last"}``, where
    ``input_shape`` is the first input's shape as the file declares it (None for symbolic sizes);
    a ``.pt2`` module also carries the checked ``exported_program``.
    """
    path = Path(path)
    fmt, detail = _inspect(path)
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


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _load_pt2(path: Path, device: str | torch.device) -> tuple[nn.Module, list | None, bool]:
    """Check the archive's bytes, then let torch load those same bytes (no second read of the file)."""
    data = path.read_bytes()
    _check_pt2(path, data)
    try:
        program = torch.export.load(io.BytesIO(data))
        if torch.device(device) != torch.device("cpu"):
            from torch.export.passes import move_to_device_pass

            program = move_to_device_pass(program, torch.device(device))
        shape = _program_input_shape(program)
        # check_guards=False: the guard function is Python source generated and exec'd at this call
        module = ExportedModule(program.module(check_guards=False), shape[0] if shape and isinstance(shape[0], int) else None)
    except CheckpointError:
        raise
    except Exception as err:
        raise CheckpointError(path, f"not a loadable torch.export program ({_first_line(err)})") from None
    module.exported_program = program
    return module, shape, False


def _program_input_shape(program) -> list | None:
    """The shape of the program's first user input; None for sizes left symbolic (dynamic)."""
    from torch.export.graph_signature import InputKind

    names = [s.arg.name for s in program.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]
    for node in program.graph.nodes:
        if node.op == "placeholder" and names and node.name == names[0]:
            value = node.meta.get("val")
            if isinstance(value, torch.Tensor):
                return [d if isinstance(d, int) else None for d in value.shape]
    return None


def _check_pt2(path: Path, data: bytes) -> None:
    """Raise :class:`CheckpointError` unless the pt2 archive in ``data`` holds only data and torch ops."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except zipfile.BadZipFile as err:
        raise CheckpointError(path, f"not a readable torch.export archive ({_first_line(err)})") from None
    if not names or "/" not in names[0]:
        raise CheckpointError(path, "not a torch.export archive (its members lie in no folder)")
    if len(set(names)) != len(names):
        raise CheckpointError(path, "refused: the archive lists a member twice")
    prefix = names[0].split("/", 1)[0] + "/"
    outside = [n for n in names if not n.startswith(prefix)]
    if outside:
        raise CheckpointError(path, f"refused: archive member {outside[0]} lies outside the archive folder {prefix}")
    members = {n[len(prefix):]: n for n in names}
    version = _read(path, archive, members, "archive_version")
    if version.strip() != b"0":
        raise CheckpointError(path, f"torch.export archive version {version.strip().decode(errors='replace')!r}; this torch reads '0'")
    raw, pickled = _payload_members(path, archive, members)
    for rel, name in members.items():
        if rel.startswith("data/aotinductor/"):
            raise CheckpointError(path, f"refused: archive member {name} holds compiled native code (AOTInductor), which seqlrp does not load")
        if rel.rsplit("/", 1)[-1].startswith(("custom_obj_", "opaque_obj_")):
            raise CheckpointError(path, f"refused: archive member {name} holds pickled code (an opaque or TorchScript object); "
                                        "seqlrp never unpickles code from model files")
        if rel.startswith("models/") and rel.endswith(".json"):
            _check_program_json(path, name, archive.read(name))
        elif rel in pickled or not (rel in raw or rel.endswith(".json") or _is_plain_text_member(rel)):
            _check_plain_pickle(path, name, archive.read(name))


def _read(path: Path, archive: zipfile.ZipFile, members: dict[str, str], rel: str) -> bytes:
    if rel not in members:
        raise CheckpointError(path, f"not a torch.export archive (no member {rel})")
    return archive.read(members[rel])


def _is_plain_text_member(rel: str) -> bool:
    """Members torch reads as strings (or not at all), never unpickles."""
    return rel in ("archive_format", "archive_version", "byteorder", "version", ".data/version",
                   ".data/serialization_id", ".format_version", ".storage_alignment") or rel.startswith("extra/")


def _payload_members(path: Path, archive: zipfile.ZipFile, members: dict[str, str]) -> tuple[set[str], set[str]]:
    """Members the weights/constants configs name: (raw tensor bytes, pickled with use_pickle)."""
    raw: set[str] = set()
    pickled: set[str] = set()
    for rel in list(members):
        match = re.fullmatch(r"data/(weights|constants)/(.+)_\1_config\.json", rel)
        if not match:
            continue
        try:
            config = json.loads(archive.read(members[rel])).get("config", {})
            entries = [(meta["path_name"], bool(meta.get("use_pickle"))) for meta in config.values()]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CheckpointError(path, f"archive member {members[rel]} is not a readable torch.export payload config") from None
        for name, use_pickle in entries:
            member = f"data/{match.group(1)}/{name}"
            if member not in members:
                raise CheckpointError(path, f"archive member {members[rel]} names a member that is not there: {member}")
            (pickled if use_pickle else raw).add(member)
    return raw, pickled


def _check_plain_pickle(path: Path, name: str, blob: bytes) -> None:
    """The member must load with ``torch.load(weights_only=True)``, so torch never falls back to full pickle."""
    if not blob:
        return
    try:
        torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = _GLOBAL.search(str(err))
        what = f" (found {found.group(1)})" if found else ""
        raise CheckpointError(path, f"refused: archive member {name} holds pickled code{what}, not plain weights or data; "
                                    "seqlrp never unpickles code from model files") from None
    except Exception as err:
        raise CheckpointError(path, f"refused: archive member {name} is not a readable tensor or data pickle ({_first_line(err)})") from None


def _check_program_json(path: Path, name: str, blob: bytes) -> None:
    """Refuse a program whose JSON would make torch run code: guard source, non-op targets, odd expressions."""
    try:
        program = json.loads(blob)
        signature = program["graph_module"]["signature"]
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(path, f"archive member {name} is not a readable torch.export program") from None
    if program.get("guards_code"):
        raise CheckpointError(path, f"refused: archive member {name} holds guard code (Python source torch would run); "
                                    "seqlrp does not run code from model files")
    _check_inputs(path, name, signature.get("input_specs", []))
    for item in _dicts(program):
        if isinstance(item.get("target"), str) and "inputs" in item:  # a graph node (subgraphs included)
            _check_target(path, name, item["target"])
        if isinstance(item.get("expr_str"), str):
            _check_expression(path, name, item["expr_str"])


def _dicts(value: Any) -> Iterator[dict]:
    """Every dict nested in ``value`` (JSON data), ``value`` included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
            yield item
        elif isinstance(item, list):
            stack.extend(item)


def _check_inputs(path: Path, name: str, specs: list) -> None:
    """One tensor input; no custom objects or constant inputs (their values end up in generated code)."""
    users = 0
    for spec in specs:
        kind = next(iter(spec), None) if isinstance(spec, dict) else None
        if kind in ("custom_obj", "constant_input"):
            raise CheckpointError(path, f"refused: archive member {name} declares a {kind} input; "
                                        "seqlrp runs programs on one (N, 4, L) tensor")
        if kind == "user_input":
            users += 1
            if "as_tensor" not in spec[kind].get("arg", {}):
                raise CheckpointError(path, f"the program in {name} takes a non-tensor input; seqlrp runs programs on one (N, 4, L) tensor")
    if users != 1:
        raise CheckpointError(path, f"the program in {name} takes {users} inputs; seqlrp runs programs on one (N, 4, L) tensor")


def _sym_ops() -> set:
    """The plain-Python symbolic-shape operators torch's deserializer accepts as node targets."""
    try:
        from torch._export.serde.serialize import _SYM_OPS

        return set(_SYM_OPS)
    except ImportError:
        return set()


def _resolve_target(target: str) -> Any:
    """The object torch's deserializer makes of ``target`` (``deserialize_operator``); strings stay strings."""
    for prefix, module in (("_operator", operator), ("torch", torch), ("math", math)):
        if target.startswith(prefix):
            value = module
            for part in target.split(".")[1:]:
                if not hasattr(value, part):
                    return target
                value = getattr(value, part)
            return value
    return target


def _check_target(path: Path, name: str, target: str) -> None:
    """Node targets must be torch operators: the deserializer accepts any callable reachable from ``torch.``."""
    if target.startswith("torch.ops.aten.from_file"):  # maps (and may create) a file on disk
        raise CheckpointError(path, f"refused: archive member {name} calls {target}, which opens files")
    resolved = _resolve_target(target) if not target.startswith("#") else None
    ops = (torch._ops.OpOverload, torch._ops.OpOverloadPacket, torch._ops.HigherOrderOperator)
    if isinstance(resolved, str) or isinstance(resolved, ops):
        return  # unresolved strings are refused by torch itself ("unsupported target")
    try:
        if resolved in _sym_ops():
            return
    except TypeError:  # unhashable
        pass
    raise CheckpointError(path, f"refused: archive member {name} calls {target}, which is not a torch operator; "
                                "seqlrp does not run code from model files")


_EXPRESSION_NAMES = {
    # sympy's srepr of integers, symbols and arithmetic, relations and logic
    "Symbol", "Integer", "Rational", "Float", "Add", "Mul", "Pow", "Mod", "Max", "Min", "Abs", "floor", "ceiling",
    "sqrt", "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "Equality", "Unequality", "StrictLessThan", "StrictGreaterThan",
    "LessThan", "GreaterThan", "And", "Or", "Not", "Piecewise", "ITE", "oo", "zoo", "nan", "true", "false",
    "Infinity", "NegativeInfinity", "One", "Zero", "NegativeOne", "Half", "True", "False", "None",
    # assumptions and options passed as keywords
    "positive", "negative", "integer", "nonnegative", "nonpositive", "real", "finite", "zero", "nonzero",
    "even", "odd", "rational", "commutative", "precision", "evaluate",
    # torch.utils._sympy.functions, as torch's deserializer lists them
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv", "LShift",
    "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv", "IsNonOverlappingAndDenseIndicator",
    "TruncToFloat", "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat", "Identity",
}
_EXPRESSION_OPS = {"(", ")", ",", "+", "-", "*", "/", "//", "%", "**", "=", "<", ">", "<=", ">=", "==", "!=", "&", "|", "~"}
_SYMBOL = re.compile(r"[a-z]+[0-9]+")
_STRING_CONTENT = re.compile(r"[A-Za-z0-9_.+\-]*")


def _check_expression(path: Path, name: str, text: str) -> None:
    """A shape expression must be calls, numbers and symbol names only: torch hands it to ``sympy.sympify`` (eval)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        tokens = None
    for token in tokens or []:
        kind, value = token.type, token.string
        if kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER) or kind == tokenize.NUMBER:
            continue
        if kind == tokenize.NAME and (value in _EXPRESSION_NAMES or _SYMBOL.fullmatch(value)):
            continue
        if kind == tokenize.OP and value in _EXPRESSION_OPS:
            continue
        if kind == tokenize.STRING and value[0] in "'\"" and value[-1] == value[0] and _STRING_CONTENT.fullmatch(value[1:-1]):
            continue
        break
    else:
        if tokens:
            return
    raise CheckpointError(path, f"refused: archive member {name} holds a shape expression that is not plain arithmetic "
                                f"({text[:60]!r}); torch would evaluate it as Python")


# ---------------------------------------------------------------- ONNX


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
    try:
        module = convert(proto)
    except Exception as err:
        raise CheckpointError(path, f"onnx2torch cannot convert this ONNX model ({type(err).__name__}: {_first_line(err)})") from None
    channels_last = _is_channels_last(shape)
    return (ChannelsLast(module) if channels_last else module), shape, channels_last


# ---------------------------------------------------------------- the user's own class


def load_module(spec: str, kwargs: Mapping[str, Any] | None = None, weights: str | os.PathLike | None = None,
                *, device: str | torch.device = "cpu") -> nn.Module:
    """``Class(**kwargs)`` named by ``spec``, with ``weights`` loaded strictly, in eval mode on ``device``.

    ``spec`` is ``"package.module:Class"`` (imported) or ``"path/to/file.py:Class"`` (the file,
    relative to the current directory, is run as a module, its folder first on ``sys.path`` while
    it runs). This runs the user's own code, named in their config; the weights never run code:
    a state dict ``.pt`` is read with ``torch.load(weights_only=True)`` (a bare state dict, or one
    under "state_dict" / "model_state_dict"), a ``.safetensors`` file with safetensors.
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
