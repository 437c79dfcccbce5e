"""``.pt2`` archives (``torch.export.save``): checked byte by byte, then loaded by torch.

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
payload on load or on the first call. :func:`seqlrp.models.files.load_external` (through
:func:`_load_pt2` here) therefore reads the archive into memory once, opens the zip itself, and
refuses it unless every pickled member loads with ``torch.load(weights_only=True)``, no member holds
native code or opaque objects, every node target is a torch operator, every shape expression is
plain arithmetic on symbols and numbers and there is no guard code; only then does torch load the
same bytes.
"""

from __future__ import annotations

import io
import json
import math
import operator
import pickle
import re
import tokenize
import zipfile
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from ..checkpoint import _GLOBAL, CheckpointError
from ._text import _first_line


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
