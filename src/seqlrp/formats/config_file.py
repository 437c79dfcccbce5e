"""Config files as the user wrote them: parse errors and bad keys reported by file and line.

Snakemake merges every config file into one dictionary, which forgets where a key came from.
This module reads the YAML files again to say which file (and which line of it) holds a key,
and gives one line ``file:line: problem`` for a file that is not YAML at all (a broken
indentation, a binary file). Line numbers are 1-based.

``make check-config CONFIG=my.yaml`` checks files with :mod:`seqlrp.stages.plan`, which reads them
through this module.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from ..errors import InputError, SeqlrpError

KeyPath = tuple[str, ...]


def read_yaml_file(path: str | os.PathLike) -> yaml.Node | None:
    """The YAML node tree of ``path`` (None for an empty file).

    Raises :class:`InputError` naming the file and line for a file that is missing, not text
    (NUL bytes, not UTF-8) or not YAML, and for a top level that is not a mapping.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "config file not found") from None
    except IsADirectoryError:
        raise InputError(path, "config file is a directory, expected a YAML file") from None
    if b"\0" in raw:
        raise InputError(path, "config file is not text (it holds NUL bytes: a binary file?); give a YAML file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(path, f"config file is not UTF-8 text (byte 0x{raw[err.start]:02x}); save it as UTF-8", line) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        context = err.context
        if context and err.context_mark and err.problem_mark and err.context_mark.line != err.problem_mark.line:
            context += f" (from line {err.context_mark.line + 1})"
        problem = ", ".join(str(part) for part in (context, err.problem) if part)
        raise InputError(path, f"not valid YAML: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as err:
        raise InputError(path, f"not valid YAML: {err}") from None
    if node is not None and not isinstance(node, yaml.MappingNode):
        raise InputError(path, "the config must be a mapping of keys to values (key: value lines)", node.start_mark.line + 1)
    return node


def key_lines(path: str | os.PathLike) -> dict[KeyPath, int]:
    """Line (1-based) of every key of the file, by its path of keys, e.g. ``("model", "hparams")``."""
    lines: dict[KeyPath, int] = {}

    def walk(node: yaml.Node, prefix: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (*prefix, str(key_node.value))
                lines[key] = key_node.start_mark.line + 1
                walk(value_node, key)

    root = read_yaml_file(path)
    if root is not None:
        walk(root, ())
    return lines


def locate(key_path: Sequence[object], files: Sequence[str | os.PathLike]) -> tuple[str, int | None] | None:
    """The file (and line) whose value of ``key_path`` is in force: the last of ``files`` holding it.

    ``files`` are in merge order (later override earlier). The deepest existing prefix of
    ``key_path`` counts, so a bad entry inside a list is located at its key. Files that cannot
    be read are skipped (they were reported already). None when no file holds the key.
    """
    wanted = tuple(str(key) for key in key_path)
    best: tuple[str, int | None] | None = None
    best_depth = -1
    for file in files:
        try:
            lines = key_lines(file)
        except SeqlrpError:
            continue
        for depth in range(len(wanted), 0, -1):
            if wanted[:depth] in lines:
                if depth >= best_depth:
                    best, best_depth = (os.fspath(file), lines[wanted[:depth]]), depth
                break
    if best is None and not wanted and files:
        return os.fspath(files[-1]), None
    return best


def where(key_path: Sequence[object], files: Sequence[str | os.PathLike]) -> str:
    """``file:line`` (or ``file``, or ``config``) of a key, for the start of an error line."""
    found = locate(key_path, files)
    if found is None:
        return "config"
    file, line = found
    return file if line is None else f"{file}:{line}"


def schema_error_line(error, files: Sequence[str | os.PathLike]) -> str:
    """One line ``file:line: key.path: problem`` for a jsonschema ``ValidationError``.

    For an unexpected key (``additionalProperties``) the line is that key's own line.
    """
    path = list(getattr(error, "absolute_path", []))
    located = path
    if getattr(error, "validator", None) == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = set(error.schema.get("properties", {}))
        patterns = [re.compile(pattern) for pattern in error.schema.get("patternProperties", {})]
        extra = [key for key in error.instance
                 if key not in allowed and not any(p.search(str(key)) for p in patterns)]
        if extra:
            located = [*path, extra[0]]
    key = ".".join(str(part) for part in path) or "top level"
    return f"{where(located, files)}: {key}: {getattr(error, 'message', error)}"


def merge_config(base: dict, new: Mapping) -> None:
    """Merge ``new`` into ``base`` the way Snakemake merges config files (nested mappings merge)."""
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_config(base[key], value)
        else:
            base[key] = value


#: The tracked config every run merges first (relative to the run directory, as Snakemake reads it).
DEFAULT_CONFIG = "config/config.yaml"


def schema_path() -> Path:
    """The workflow's config schema in this checkout."""
    return Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


def read_config(files: Sequence[str | os.PathLike]) -> dict:
    """``files`` merged in order, as written (no defaults filled in)."""
    merged: dict = {}
    for file in files:
        node = read_yaml_file(file)
        data = yaml.safe_load(Path(file).read_text(encoding="utf-8-sig")) if node is not None else {}
        merge_config(merged, data or {})
    return merged


def user_settings(files: Sequence[str | os.PathLike], overrides: Mapping | None = None) -> dict:
    """What the user set: ``files`` other than the tracked :data:`DEFAULT_CONFIG`, merged in order,
    and ``overrides`` (Snakemake's ``--config``) on top."""
    merged = read_config([f for f in files if os.path.abspath(f) != os.path.abspath(DEFAULT_CONFIG)])
    merge_config(merged, dict(overrides or {}))
    return merged


def load_config(files: Sequence[str | os.PathLike], overrides: Mapping | None = None) -> dict:
    """The config Snakemake would hold: ``files`` merged in order, ``overrides`` on top, validated
    against the workflow's schema with its defaults filled in.

    Raises :class:`~seqlrp.errors.SeqlrpError` with one line for a file that is not YAML and for
    the first schema violation (``file:line: key: problem``).
    """
    import jsonschema

    merged = read_config(files)
    merge_config(merged, dict(overrides or {}))
    schema = yaml.safe_load(schema_path().read_text(encoding="utf-8"))
    validator = _filling_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(merged), key=lambda e: list(e.absolute_path))
    if errors:
        raise SeqlrpError(schema_error_line(errors[0], [os.fspath(f) for f in files]))
    return merged


def _filling_defaults(validator_class):
    """``validator_class`` extended to fill the ``default`` of absent properties, as Snakemake's validate."""
    import copy

    import jsonschema

    check_properties = validator_class.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": fill_defaults})
