"""The configuration reference is generated from the schema, and the tracked config agrees with it.

The schema is the one source of every key's type, default and description: the docs' Configuration
page inserts ``render_reference`` (``docs/hooks/config_reference.py``), and ``config/config.yaml``
states the schema's defaults except where the schema says ``x-config-differs``.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqlrp.formats.config_file import key_lines
from seqlrp.formats.config_reference import (
    DIFFERS, MARKER, check_file, default_disagreements, dotted, flow_yaml, intended_differences, key_paths,
    properties, read_schema, render_reference, type_text,
)

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "config.yaml"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
DOC = REPO / "docs" / "configuration.md"
HOOK = REPO / "docs" / "hooks" / "config_reference.py"

# what a property's schema may hold: a keyword misread from a flow mapping (an unquoted comma in
# `{description: a, b}` ends the description and makes `b` a key) is caught here
KEYWORDS = {"type", "description", "default", "enum", "items", "properties", "patternProperties",
            "additionalProperties", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
            "minItems", "maxItems", "uniqueItems", "minProperties", "oneOf", "pattern", DIFFERS}


@pytest.fixture(scope="module")
def schema():
    return read_schema(SCHEMA)


def node_of(schema, path):
    node = schema
    for key in path:
        node = dict(properties(node))[key]
    return node


def planted(tmp_path, old, new):
    """A copy of the tracked config with the line ``old`` replaced by ``new``; (path, its line number)."""
    lines = CONFIG.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(old))
    lines[index] = lines[index].replace(old, new, 1)
    path = tmp_path / "config.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path, index + 1


# --- the tracked config and the schema ------------------------------------------------------------


def test_tracked_config_agrees_with_the_schema_defaults(schema):
    assert check_file(CONFIG, schema) == []
    assert default_disagreements(schema, yaml.safe_load(CONFIG.read_text(encoding="utf-8"))) == []


def test_intended_differences_are_annotated_and_real(schema):
    intended = intended_differences(schema)
    assert set(intended) == {("motifs", "leiden_runs")}
    assert "demo" in intended[("motifs", "leiden_runs")]
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert config["motifs"]["leiden_runs"] == 10 != node_of(schema, ("motifs", "leiden_runs"))["default"] == 50


def test_check_names_a_planted_difference_by_file_and_line(tmp_path, schema):
    path, line = planted(tmp_path, "seed: 1 ", "seed: 2 ")
    assert check_file(path, schema) == [f"{path}:{line}: seed: config 2, schema default 1"]
    path, line = planted(tmp_path, "  decimals: 6 ", "  decimals: 5 ")
    assert check_file(path, schema) == [f"{path}:{line}: tracks.decimals: config 5, schema default 6"]
    path, line = planted(tmp_path, "  splits: [test]", "  splits: [valid, test]")
    assert check_file(path, schema) == [f"{path}:{line}: evaluate.splits: config [valid, test], schema default [test]"]


def test_check_catches_unknown_keys_keys_without_default_and_stale_annotations(tmp_path, schema):
    path, line = planted(tmp_path, "seed: 1 ", "seeds: 1 ")
    assert check_file(path, schema) == [f"{path}:{line}: seeds: config 1, not a key of the schema"]
    path, line = planted(tmp_path, "  hparams: {}", "  kwargs: {}")  # model.kwargs has no default
    [found] = check_file(path, schema)
    assert found.startswith(f"{path}:{line}: model.kwargs: config {{}}, schema default none")
    path, line = planted(tmp_path, "  leiden_runs: 10", "  leiden_runs: 50")
    [found] = check_file(path, schema)
    assert found.startswith(f"{path}:{line}: motifs.leiden_runs: config 50, schema default 50, but the schema's "
                            f"{DIFFERS} says they differ")
    path, line = planted(tmp_path, "  leiden_runs: 10", "  # leiden_runs: 10")  # left out: takes the default
    [found] = check_file(path, schema)
    assert found.startswith(f"{path}:{key_lines(path)[('motifs',)]}: motifs.leiden_runs: config left out")


def test_check_compares_values_with_their_defaults_filled_in(schema):
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    methods = config["attribute"]["methods"]
    assert methods["lrp"] == {"composite": "epsilon-plus", "input_rule": None}  # default {composite: epsilon-plus}
    methods["lrp"]["epsilon"] = 1e-6
    assert default_disagreements(schema, config) == []
    methods["lrp"]["composite"] = "epsilon"
    [found] = default_disagreements(schema, config)
    assert found.startswith("attribute.methods: config {lrp: {composite: epsilon, ")
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["train"]["weight_decay"] = 0  # 0 is 0.0
    assert default_disagreements(schema, config) == []
    config["train"]["reverse_complement"] = 1  # but 1 is not true
    assert default_disagreements(schema, config) == ["train.reverse_complement: config 1, schema default true"]


def test_schema_properties_hold_only_keywords_and_descriptions(schema):
    for path in key_paths(schema):
        node = node_of(schema, path)
        assert set(node) <= KEYWORDS, (dotted(path), set(node) - KEYWORDS)
        assert str(node.get("description", "")).strip(), f"{dotted(path)} has no description"


# --- the reference ------------------------------------------------------------------------------


def test_reference_covers_every_key_and_default(schema):
    text = render_reference(schema)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    keys = [row.split(" | ")[0][3:-1] for row in rows]
    sections = {key for key, sub in properties(schema) if sub.get("properties")}  # a heading each
    assert sorted(keys) == sorted(dotted(p) for p in key_paths(schema) if p[0] not in sections or len(p) > 1)
    for key in sections:
        assert f"## `{key}`\n" in text
    for path in [p for p in key_paths(schema) if dotted(p) in keys]:
        node = node_of(schema, path)
        row = next(r for r in rows if r.startswith(f"| `{dotted(path)}` |"))
        cells = re.split(r"(?<!\\) \| ", row.strip("| "))
        assert len(cells) == 4, row
        assert cells[2] == (f"`{flow_yaml(node['default'])}`" if "default" in node else "–"), row
        bare = lambda s: s.replace("\\|", "|").replace("&lt;", "<")  # the table's escapes undone
        assert " ".join(str(node["description"]).split()) in bare(row), row
    assert render_reference(schema) == text  # deterministic


def test_reference_layout(schema):
    text = render_reference(schema)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    sections = [key for key, sub in properties(schema) if sub.get("properties")]
    assert headings == ["## Top-level keys", *(f"## `{key}`" for key in sections)]
    top = text.split("## `")[0]
    for key in ("genome", "regions", "sequences", "seq_len", "seed", "shard_size", "gpu"):
        assert f"| `{key}` |" in top
    assert "| `diagnostics.thresholds.border_excess` | number ≥ 0 | `1.5` |" in text
    assert "| `evaluate.p_grid` | list of number in [0, 1] | `[0, 0.1, 0.25, 0.4, 0.5]` |" in text
    assert "| `model.checkpoint` | string or null | `null` |" in text
    assert "| `extract.centre` | `summit`, `midpoint` | `summit` |" in text
    assert "(`config/config.yaml` differs on purpose: it sets 10" in text
    assert "### `tile`" in render_reference(schema, heading_level=3)


def test_type_words_and_escaping():
    toy = {"type": "object", "properties": {
        "a": {"type": ["integer", "null"], "exclusiveMinimum": 0, "default": None, "description": "x | y <b>"},
        "s": {"type": "object", "default": {}, "properties": {
            "t": {"type": "array", "items": {"enum": ["p", "q"]}, "default": ["p"], "description": "`a|b`"}}},
        "m": {"type": "object", "patternProperties": {"^x$": {"type": "object", "description": "one",
                                                              "properties": {"k": {"type": "boolean"}}}}},
    }}
    text = render_reference(toy)
    assert r"| `a` | integer > 0 or null | `null` | x \| y &lt;b> |" in text
    assert "| `s.t` | list of `p`, `q` | `[p]` | `a|b` |" in text  # Python-Markdown keeps code spans whole
    assert "| `m.<name>.k` | boolean | – |  |" in text
    assert type_text({"type": "object", "additionalProperties": {"type": "string"}}) == "mapping name → string"
    assert flow_yaml({}) == "{}" and flow_yaml(None) == "null" and flow_yaml([0, 0.25]) == "[0, 0.25]"


# --- the docs -----------------------------------------------------------------------------------


def load_hook():
    spec = importlib.util.spec_from_file_location("config_reference_hook", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hook_replaces_the_marker(schema):
    hook = load_hook()
    page = DOC.read_text(encoding="utf-8")
    assert page.count(MARKER) == 1
    out = hook.on_page_markdown(page, page=None, config=None, files=None)
    assert MARKER not in out
    assert render_reference(schema, heading_level=3).rstrip("\n") in out
    assert out.startswith(page.split(MARKER)[0])
    assert hook.on_page_markdown("# Other page\n", page=None, config=None, files=None) == "# Other page\n"


def test_reference_headings_do_not_clash_with_the_guide(schema):
    page = DOC.read_text(encoding="utf-8")
    out = load_hook().on_page_markdown(page, page=None, config=None, files=None)
    slugs = [re.sub(r"[^\w\- ]", "", line.lstrip("#").strip()).strip().lower().replace(" ", "-")
             for line in out.splitlines() if line.startswith("#")]
    assert len(slugs) == len(set(slugs)), slugs


def test_config_readme_is_short_and_points_to_the_reference():
    readme = REPO / "config" / "README.md"
    assert readme.stat().st_size <= 8000
    assert "docs/configuration.md" in readme.read_text(encoding="utf-8")
    assert "make check-config" in readme.read_text(encoding="utf-8")


# --- the command line ---------------------------------------------------------------------------


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "seqlrp.formats.config_reference", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_cli_exit_codes(tmp_path, schema):
    done = run_cli()
    assert done.returncode == 0 and done.stdout == render_reference(schema)
    done = run_cli("--check", "config/config.yaml")
    assert (done.returncode, done.stdout) == (0, "")
    path, line = planted(tmp_path, "seq_len: 200 ", "seq_len: 500 ")
    done = run_cli("--check", str(path))
    assert (done.returncode, done.stdout) == (1, f"{path}:{line}: seq_len: config 500, schema default 200\n")
    done = run_cli("--check", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2 and "config file not found" in done.stderr
