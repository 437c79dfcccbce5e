"""The configuration reference, generated from the config schema, and the check that the tracked
config agrees with the schema's defaults.

The schema (``workflow/schemas/config.schema.yaml``) is the one source of every key's type, default
and description. :func:`render_reference` turns it into Markdown (the docs site's Configuration page
inserts it, ``docs/hooks/config_reference.py``); :func:`default_disagreements` lists where a config
file (meant for ``config/config.yaml``, which Snakemake merges under every run) sets a value other
than the schema's default.

The check's rules:

- a key of the config that the schema does not know is a disagreement;
- a key whose schema has a ``default``: the config's value, with the schema's defaults filled in
  below it (so ``{composite: epsilon-plus, input_rule: null}`` equals ``{composite: epsilon-plus}``),
  must equal the default (``0`` equals ``0.0``; ``true`` is not ``1``);
- a section (a key with ``properties``) that has a default is walked key by key;
- a key **without** a schema default (``genome``, ``tile``, ``model.classes``, ...) must not be in
  the tracked config at all: every run merges that file first, so its value would be a default the
  schema and the reference do not show (for ``tile`` or ``genome`` it would even change the kind of
  run);
- a property whose schema carries ``x-config-differs: "<reason>"`` is expected to differ: it is
  not reported while it differs, and reported when it no longer does (the annotation is stale).
  Only plain ``properties`` paths carry the annotation. JSON Schema and Snakemake's ``validate``
  ignore unknown ``x-`` keywords.

``python -m seqlrp.formats.config_reference`` prints the reference; ``--check config/config.yaml``
prints one line ``file:line: key: config X, schema default Y`` per disagreement and exits 1 when
there is any (2 when a file cannot be read).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from ..errors import SeqlrpError
from .config_file import KeyPath, key_lines, read_yaml_file, schema_path

#: The marker of ``docs/configuration.md`` that the MkDocs hook replaces with the reference.
MARKER = "<!-- config-reference -->"

#: The schema annotation of a property whose tracked config value differs from its default on purpose.
DIFFERS = "x-config-differs"

#: Placeholder of a user-chosen key (``patternProperties``) in a dotted key path.
NAME = "<name>"

NO_DEFAULT = "–"

GENERATED = ("<!-- generated from workflow/schemas/config.schema.yaml by seqlrp.formats.config_reference;"
             " edit the schema, not this text -->")


# --- values as YAML ----------------------------------------------------------------------------


def flow_yaml(value: object) -> str:
    """``value`` as one line of YAML flow style: ``[0, 0.25]``, ``null``, ``{}``, ``epsilon-plus``."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=math.inf, allow_unicode=True)
    text = text.strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    elif text.endswith("..."):
        text = text[: -len("...")].strip()
    return text


def dotted(path: KeyPath) -> str:
    return ".".join(path)


# --- the schema's properties --------------------------------------------------------------------


def properties(node: Mapping) -> list[tuple[str, Mapping]]:
    """The sub-schemas of an object schema ``node``, in schema order, as (key, schema); a
    ``patternProperties`` entry is keyed :data:`NAME`."""
    found = [(str(k), v) for k, v in (node.get("properties") or {}).items() if isinstance(v, Mapping)]
    found += [(NAME, v) for v in (node.get("patternProperties") or {}).values() if isinstance(v, Mapping)]
    return found


def key_paths(schema: Mapping) -> list[KeyPath]:
    """Every key path of the schema (depth first, schema order); user-chosen keys are :data:`NAME`."""
    paths: list[KeyPath] = []

    def walk(node: Mapping, prefix: KeyPath) -> None:
        for key, sub in properties(node):
            paths.append((*prefix, key))
            walk(sub, (*prefix, key))

    walk(schema, ())
    return paths


def _property_schema(node: Mapping, key: str) -> Mapping | None:
    """The schema of ``key`` inside the object schema ``node`` (None: the schema does not allow it)."""
    props = node.get("properties") or {}
    if key in props:
        return props[key]
    for pattern, sub in (node.get("patternProperties") or {}).items():
        if re.search(pattern, key):
            return sub
    extra = node.get("additionalProperties", True)
    if isinstance(extra, Mapping):
        return extra
    return {} if extra is not False else None


def intended_differences(schema: Mapping) -> dict[KeyPath, str]:
    """Key path -> reason, for every property annotated ``x-config-differs: "<reason>"``: the tracked
    config sets another value than the schema's default on purpose."""
    found: dict[KeyPath, str] = {}

    def walk(node: Mapping, prefix: KeyPath) -> None:
        for key, sub in (node.get("properties") or {}).items():
            path = (*prefix, str(key))
            if DIFFERS in sub:
                found[path] = " ".join(str(sub[DIFFERS]).split())
            walk(sub, path)

    walk(schema, ())
    return found


# --- the reference ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line; outside code spans ``|`` escaped and no ``<`` that
    Markdown would read as an HTML tag (Python-Markdown's tables, which MkDocs uses, leave pipes
    inside code spans alone, and an escape there would show)."""
    parts = re.split(r"(`+[^`]*`+)", " ".join(str(text).split()))
    for i in range(0, len(parts), 2):  # even parts lie outside code spans
        parts[i] = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", parts[i]).replace("|", r"\|")
    return "".join(parts)


def _code(text: str) -> str:
    return f"``{text}``" if "`" in text else f"`{text}`"


def _bounds(node: Mapping) -> str:
    lo = ("[", node["minimum"]) if "minimum" in node else ("(", node["exclusiveMinimum"]) if "exclusiveMinimum" in node else None
    hi = ("]", node["maximum"]) if "maximum" in node else (")", node["exclusiveMaximum"]) if "exclusiveMaximum" in node else None
    if lo and hi:
        return f" in {lo[0]}{flow_yaml(lo[1])}, {flow_yaml(hi[1])}{hi[0]}"
    if lo:
        return f" {'≥' if lo[0] == '[' else '>'} {flow_yaml(lo[1])}"
    if hi:
        return f" {'≤' if hi[0] == ']' else '<'} {flow_yaml(hi[1])}"
    return ""


_TYPE_WORDS = {"object": "mapping", "array": "list", "integer": "integer", "number": "number",
               "string": "string", "boolean": "boolean", "null": "null"}


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def type_text(node: Mapping) -> str:
    """The type of a property in words: ``integer ≥ 1``, ``string or null``, ``list of string``,
    ``mapping <name> → string``; an enum lists its values."""
    if "enum" in node:
        return ", ".join(_code(flow_yaml(v)) for v in node["enum"])
    if "oneOf" in node or "anyOf" in node:
        return _or([type_text(alt) for alt in node.get("oneOf") or node.get("anyOf")])
    types = node.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    words = []
    for kind in types:
        word = _TYPE_WORDS.get(kind, kind)
        if kind in ("integer", "number"):
            word += _bounds(node)
        elif kind == "array":
            items = node.get("items")
            word = f"list of {type_text(items)}" if isinstance(items, Mapping) and type_text(items) else "list"
            n_min, n_max = node.get("minItems"), node.get("maxItems")
            if n_min is not None and n_min == n_max:
                word += f" (exactly {n_min})"
            elif n_min:
                word += f" (at least {n_min})"
        elif kind == "object" and "properties" not in node:
            values = node.get("additionalProperties")
            if node.get("patternProperties"):
                word = f"mapping {_code(NAME)} → settings"
            elif isinstance(values, Mapping) and type_text(values):
                word = f"mapping name → {type_text(values)}"
        words.append(word)
    return _or(words) if words else "any"


def _row(path: KeyPath, node: Mapping) -> str:
    default = _code(flow_yaml(node["default"])) if "default" in node else NO_DEFAULT
    meaning = " ".join(str(node.get("description", "")).split())
    if DIFFERS in node:
        meaning += f" (`config/config.yaml` differs on purpose: {' '.join(str(node[DIFFERS]).split())})"
    return f"| {_code(dotted(path))} | {_cell(type_text(node))} | {_cell(default)} | {_cell(meaning)} |"


_HEADER = "| key | type | default | meaning |\n|---|---|---|---|"


def _table_rows(node: Mapping, prefix: KeyPath) -> list[str]:
    rows = []
    for key, sub in properties(node):
        rows.append(_row((*prefix, key), sub))
        rows += _table_rows(sub, (*prefix, key))
    return rows


def render_reference(schema: Mapping, *, heading_level: int = 2) -> str:
    """The configuration reference of ``schema`` (the parsed config schema) as Markdown.

    First the top-level keys that are not sections (``genome``, ``regions``, ``seq_len``, ...) in one
    table, then one section per top-level key with ``properties`` (in schema order): its description
    and a table ``key | type | default | meaning`` of every property below it, nested ones as dotted
    keys (``diagnostics.thresholds.border_excess``; a user-chosen name as ``<name>``). Defaults are
    YAML flow style in code, ``–`` where the schema has none; descriptions are the schema's own.
    Same schema, same text.
    """
    hashes = "#" * heading_level
    out = [GENERATED, ""]
    if schema.get("description"):
        out += [" ".join(str(schema["description"]).split()), ""]
    top = properties(schema)
    scalars = [(key, sub) for key, sub in top if not sub.get("properties")]
    sections = [(key, sub) for key, sub in top if sub.get("properties")]
    if scalars:
        out += [f"{hashes} Top-level keys", "", _HEADER]
        for key, sub in scalars:
            out.append(_row((key,), sub))
            out += _table_rows(sub, (key,))
        out.append("")
    for key, sub in sections:
        out += [f"{hashes} `{key}`", ""]
        description = " ".join(str(sub.get("description", "")).split())
        if sub.get("type") != "object" or sub.get("default") != {}:  # the usual section: a mapping, default {}
            default = f"default {_code(flow_yaml(sub['default']))}" if "default" in sub else "no default"
            description = f"{description} (`{key}`: {type_text(sub)}, {default}.)".strip()
        if description:
            out += [description, ""]
        out += [_HEADER, *_table_rows(sub, (key,)), ""]
    return "\n".join(out).rstrip("\n") + "\n"


# --- the check ----------------------------------------------------------------------------------


def _same(a: object, b: object) -> bool:
    """YAML values equal: numbers by value (``0`` is ``0.0``), booleans only to booleans,
    mappings regardless of key order, lists in order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _filled(value: object, node: Mapping | None) -> object:
    """``value`` with the defaults of ``node`` (its schema) filled in below it, as Snakemake's validate does."""
    if not isinstance(value, Mapping) or not node:
        return value
    out = {}
    for key, sub_value in value.items():
        out[key] = _filled(sub_value, _property_schema(node, str(key)))
    for key, sub in (node.get("properties") or {}).items():
        if key not in out and isinstance(sub, Mapping) and "default" in sub:
            out[key] = _filled(sub["default"], sub)
    return out


def _disagreements(schema: Mapping, config: Mapping) -> list[tuple[KeyPath, str]]:
    """(key path, problem) for every disagreement of ``config`` with ``schema`` (rules: module docstring)."""
    intended = intended_differences(schema)
    found: list[tuple[KeyPath, str]] = []
    differing: set[KeyPath] = set()

    def walk(node: Mapping, value: Mapping, prefix: KeyPath) -> None:
        for key, sub_value in value.items():
            path = (*prefix, str(key))
            sub = _property_schema(node, str(key))
            if sub is None:
                found.append((path, f"config {flow_yaml(sub_value)}, not a key of the schema"))
            elif "default" not in sub:
                found.append((path, (f"config {flow_yaml(sub_value)}, schema default none "
                                     "(a key without default does not belong in the tracked config)")))
            elif sub.get("properties") and isinstance(sub_value, Mapping):
                walk(sub, sub_value, path)
            elif not _same(_filled(sub_value, sub), _filled(sub["default"], sub)):
                differing.add(path)
                if path not in intended:
                    found.append((path, f"config {flow_yaml(sub_value)}, schema default {flow_yaml(sub['default'])}"))

    walk(schema, config or {}, ())
    for path, reason in intended.items():
        if path not in differing:
            value = _lookup(config, path)
            shown = "left out" if value is _ABSENT else flow_yaml(value)
            found.append((path, (f"config {shown}, schema default {flow_yaml(_default_of(schema, path))}, but the "
                                 f"schema's {DIFFERS} says they differ ({reason}); remove the annotation or the value")))
    return found


_ABSENT = object()


def _lookup(config: Mapping, path: KeyPath) -> object:
    value: object = config
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return _ABSENT
        value = value[key]
    return value


def _default_of(schema: Mapping, path: KeyPath) -> object:
    node: Mapping = schema
    for key in path:
        node = (node.get("properties") or {}).get(key, {})
    return node.get("default")


def default_disagreements(schema: Mapping, config: Mapping) -> list[str]:
    """``key.path: config X, schema default Y`` for every key of ``config`` (the tracked
    ``config/config.yaml``, as parsed) that disagrees with ``schema``'s default, minus the intended
    differences (:func:`intended_differences`); also keys the schema lacks, keys the schema gives
    no default, and stale ``x-config-differs`` annotations. Empty when they agree."""
    return [f"{dotted(path)}: {problem}" for path, problem in _disagreements(schema, config)]


def check_file(path: str | os.PathLike, schema: Mapping | None = None) -> list[str]:
    """:func:`default_disagreements` of the config file ``path`` as ``path:line: key: problem`` lines
    (the line of the key, or of its deepest key present in the file). ``schema``: the workflow's."""
    if schema is None:
        schema = read_schema()
    read_yaml_file(path)  # one-line errors for a file that is missing or not YAML
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig")) or {}
    lines = key_lines(path)
    out = []
    for key, problem in _disagreements(schema, config):
        line = next((lines[key[:depth]] for depth in range(len(key), 0, -1) if key[:depth] in lines), None)
        where = os.fspath(path) if line is None else f"{os.fspath(path)}:{line}"
        out.append(f"{where}: {dotted(key)}: {problem}")
    return out


def read_schema(path: str | os.PathLike | None = None) -> dict:
    """The parsed config schema (the workflow's by default)."""
    path = schema_path() if path is None else Path(path)
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise SeqlrpError(f"{path}: cannot read the schema ({err.strerror})") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seqlrp.formats.config_reference",
        description="Print the configuration reference (Markdown) generated from the config schema, "
                    "or check that a config file agrees with the schema's defaults.")
    parser.add_argument("--check", metavar="CONFIG", help="list where CONFIG (config/config.yaml) differs from "
                        "the schema's defaults; exit 1 when it does")
    parser.add_argument("--schema", metavar="SCHEMA", help="the schema (default: the workflow's)")
    parser.add_argument("--heading-level", type=int, default=2, choices=range(1, 6), help="Markdown level of the section headings")
    args = parser.parse_args(argv)
    try:
        schema = read_schema(args.schema)
        if args.check:
            problems = check_file(args.check, schema)
            for line in problems:
                print(line)
            return 1 if problems else 0
        sys.stdout.write(render_reference(schema, heading_level=args.heading_level))
    except SeqlrpError as err:
        print(f"seqlrp: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
