"""The package layout: imports run one way (stages -> library layers -> formats), with no circle,
and every Snakemake rule runs ``scripts/<rule>.py``, which imports seqlrp through ``scripts/_seqlrp_path.py``
and calls the stage module named as its rule file."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "seqlrp"

# lower rank = lower layer; a module may import its own layer and the layers below it
LAYERS = {"errors": 0, "provenance": 0, "formats": 1, "sequences": 2, "models": 3, "lrp": 4,
          "attribution": 5, "analysis": 6, "variants": 7, "report": 8, "stages": 9}


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
    assert top_level == ["__init__.py", "errors.py", "provenance.py"]


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


def test_a_package_inside_a_layer_is_walked_module_by_module():
    """``models/files/`` is a package: its modules sit in the models layer, its relative imports
    resolve to its own modules (so a circle through the package is seen), and detection is its
    bottom: the loaders import ``detect``, never the other way round, and only ``foreign`` picks a loader;
    ``onnx_opsets`` (converters for newer ONNX operator versions) serves ``onnx_convert`` alone."""
    package = "seqlrp.models.files"
    inside = {n for n in MODULES if n.startswith(package + ".")}
    assert {f"{package}.{m}" for m in ("detect", "pt2", "onnx_convert", "foreign", "module_route")} <= inside
    assert {layer(n) for n in inside} == {"models"}
    assert GRAPH[package] >= {f"{package}.detect", f"{package}.foreign", f"{package}.module_route"}

    def siblings(name):
        return {d.rpartition(".")[2] for d in GRAPH[name] if d.startswith(package + ".")} - {"_text"}

    assert siblings(f"{package}.detect") == set()
    assert siblings(f"{package}.pt2") == siblings(f"{package}.onnx_opsets") == set()
    assert siblings(f"{package}.onnx_convert") == {"onnx_opsets"}
    assert siblings(f"{package}.module_route") == {"detect"}
    assert siblings(f"{package}.foreign") == {"detect", "pt2", "onnx_convert"}
    assert not [n for n in inside if package in GRAPH[n]], "a module of the package imports the package itself"


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
        helper = re.search(r"^import _seqlrp_path\b", source, re.M)
        first = re.search(r"^from seqlrp\b", source, re.M)
        assert helper and first and helper.start() < first.start(), \
            f"scripts/{script.group(1)}.py must import _seqlrp_path before seqlrp"
        assert "sys.path" not in source, f"scripts/{script.group(1)}.py sets sys.path itself; _seqlrp_path does that"


def test_the_scripts_helper_puts_the_repositorys_src_first_where_seqlrp_is_not_installed(tmp_path):
    """Snakemake appends the real scripts folder to ``sys.path`` (the script itself runs from a copy
    under ``.snakemake/scripts/``); the helper then finds ``src/`` from its own path."""
    import subprocess
    import sys

    probe = ("import sys; sys.modules['seqlrp'] = None; sys.path.append(sys.argv[1]); "
             "import _seqlrp_path, os; print(os.path.realpath(sys.path[0]))")
    done = subprocess.run([sys.executable, "-c", probe, str(ROOT / "scripts")], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str((ROOT / "src").resolve())
    probe = "import sys; n = len(sys.path); sys.path.append(sys.argv[1]); import _seqlrp_path; print(len(sys.path) - n)"
    done = subprocess.run([sys.executable, "-c", probe, str(ROOT / "scripts")], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.stdout.strip() == "1", done.stderr  # seqlrp importable: only the appended folder, no src/


def test_stages_that_only_read_the_store_import_no_torch():
    """Tracks, motifs, the report, the IGV session and the variant stage's index and join read arrays
    and tables: their jobs start without importing torch (a second and more per job, on every run)."""
    import subprocess
    import sys

    code = ("import sys, seqlrp.stages.tracks, seqlrp.stages.motifs, seqlrp.stages.report, "
            "seqlrp.stages.igv_session, seqlrp.stages.runner, seqlrp.stages.variants, seqlrp.variants.maps; "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
