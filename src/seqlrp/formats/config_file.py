"""Config files as the user wrote them: parse errors and bad keys reported by file and line.

Snakemake merges every config file into one dictionary, which forgets where a key came from.
This module reads the YAML files again to say which file (and which line of it) holds a key,
and gives one line ``file:line: problem`` for a file that is not YAML at all (a broken
indentation, a binary file). Line numbers are 1-based.

As a command, ``python -m seqlrp.formats.config_file FILE [FILE ...]`` checks the files Snakemake would
merge (later files override earlier ones) against the workflow's schema and the start-up checks,
printing one line per problem: ``make check-config CONFIG=my.yaml`` runs it.
"""

from __future__ import annotations

import os
import re
import sys
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m seqlrp.formats.config_file FILE ...``: 0 when the files parse and fit the schema."""
    import jsonschema

    files = list(sys.argv[1:] if argv is None else argv)
    if not files:
        print("usage: python -m seqlrp.formats.config_file CONFIG.yaml [MORE.yaml ...]", file=sys.stderr)
        return 2
    merged: dict = {}
    try:
        for file in files:
            node = read_yaml_file(file)
            data = yaml.safe_load(Path(file).read_text(encoding="utf-8-sig")) if node is not None else {}
            _update(merged, data or {})
    except SeqlrpError as err:
        print(f"seqlrp: error: {err}", file=sys.stderr)
        return 1
    schema_path = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"
    if not schema_path.exists():
        print(f"{', '.join(files)}: parsed (schema {schema_path} not found: run from a repository checkout)")
        return 0
    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(merged), key=lambda e: list(e.absolute_path))
    for error in errors:
        print(f"seqlrp: error: {schema_error_line(error, files)}", file=sys.stderr)
    if not errors:
        print(f"{', '.join(files)}: OK")
    return 1 if errors else 0


def _update(base: dict, new: Mapping) -> None:
    """Merge ``new`` into ``base`` the way Snakemake merges config files (nested mappings merge)."""
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _update(base[key], value)
        else:
            base[key] = value


if __name__ == "__main__":
    sys.exit(main())
