"""The package layout: imports run one way (stages -> library layers -> formats), with no circle,
and every Snakemake rule runs ``scripts/<rule>.py``, which calls the stage module named as its rule file."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "seqlrp"

# lower rank = lower layer; a module may import its own layer and the layers below it
LAYERS = {"errors": 0, "provenance": 0, "_moved": 0, "formats": 1, "sequences": 2, "models": 3, "lrp": 4,
          "attribution": 5, "analysis": 6, "report": 7, "stages": 8}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def imported_modules(name: str) -> set[str]:
    """Every seqlrp module ``name`` imports, at module level or inside functions, resolved to modules."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("seqlrp"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("seqlrp"):
                continue
            for alias in node.names:  # "from . import files" names a module; "from .x import f" a name in x
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    found.discard(name)
    return found


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the package root (version, alphabet)


GRAPH = {name: imported_modules(name) for name in MODULES}


def test_every_module_sits_in_a_named_layer():
    assert not [n for n in MODULES if layer(n) is not None and layer(n) not in LAYERS]
    top_level = sorted(p.name for p in SRC.glob("*.py"))
    assert top_level == ["__init__.py", "_moved.py", "errors.py", "provenance.py"]


def test_imports_only_go_down_the_layers():
    upward = [f"{a} imports {b}" for a, deps in GRAPH.items() for b in deps
              if layer(a) and layer(b) and LAYERS[layer(b)] > LAYERS[layer(a)]]
    assert not upward, "\n".join(upward)


def test_no_module_outside_the_stages_imports_a_stage():
    assert not [a for a, deps in GRAPH.items() if layer(a) != "stages" and any(layer(b) == "stages" for b in deps)]


def test_no_import_circle():
    """A depth-first walk that meets a module still on its path has found a circle."""
    state, circles = {}, []

    def visit(name, path):
        state[name] = "open"
        for dep in sorted(GRAPH.get(name, ())):
            if state.get(dep) == "open":
                circles.append(" -> ".join(path[path.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, path + [dep])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert not circles, "\n".join(circles)


RULE = re.compile(r"^\s*(?:rule|checkpoint)\s+(\w+)\s*:", re.M)
SCRIPT = re.compile(r"script:\s*\n\s*\"\.\./\.\./scripts/(\w+)\.py\"")


@pytest.mark.parametrize("rules_file", sorted((ROOT / "workflow" / "rules").glob("*.smk")), ids=lambda p: p.name)
def test_each_rule_runs_the_script_named_after_it_which_calls_its_stage(rules_file):
    text = rules_file.read_text(encoding="utf-8")
    blocks = re.split(r"(?m)^(?=\s*(?:rule|checkpoint)\s+\w+\s*:)", text)
    for block in blocks:
        rule = RULE.search(block)
        script = SCRIPT.search(block)
        if not rule or not script:
            continue
        assert script.group(1) == rule.group(1), f"rule {rule.group(1)} runs scripts/{script.group(1)}.py"
        source = (ROOT / "scripts" / f"{script.group(1)}.py").read_text(encoding="utf-8")
        stages = set(re.findall(r"from seqlrp\.stages\.(\w+) import", source)) - {"runner"}
        assert stages == {rules_file.stem}, f"scripts/{script.group(1)}.py calls seqlrp.stages.{stages}"
        assert (SRC / "stages" / f"{rules_file.stem}.py").is_file()


def test_old_module_paths_import_the_moved_module_with_a_warning():
    import importlib
    import sys

    from seqlrp._moved import MOVED

    for old, new in MOVED.items():
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match=f"{re.escape(old)} moved to {re.escape(new)}"):
            module = importlib.import_module(old)
        assert module is importlib.import_module(new), old
        assert new in MODULES, f"{old} aliases {new}, which does not exist"
    from seqlrp.bigwig import BigWigWriter  # the form a user's script has

    from seqlrp.formats.bigwig import BigWigWriter as moved

    assert BigWigWriter is moved


def test_an_old_module_path_still_runs_with_python_m(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "bad.yaml"
    config.write_text("seq_len: [\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "seqlrp.config_file", str(config)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "moved to seqlrp.formats.config_file" in done.stderr
    assert f"{config}:" in done.stderr  # the new module's own one-line error
