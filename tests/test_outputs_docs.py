"""The outputs page (docs/outputs.md) against what a run writes and what the rules can write.

The page names every output by its full path pattern in backticks, ``results/tracks/{cls}.{method}.bw``:
placeholders (``{cls}``, ``{method}``, ``{shard}``, ``{fasta}``...) stand for one path component's
worth of text, ``{a,b}`` for ``a`` or ``b``. A folder pattern (ending in ``/``) describes the folder;
when the page lists nothing inside it (``logos/``), it covers every file in it. A folder is described
when a pattern names it or a file inside it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import TINY_METHODS

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "outputs.md"
RULES = sorted((ROOT / "workflow" / "rules").glob("*.smk"))

PATTERN = re.compile(r"`(results/[^`\s]*)`")
PLACEHOLDER = re.compile(r"\{([^{}/]*)\}")


def documented_patterns(text: str) -> list[str]:
    """The ``results/...`` path patterns of the page, each once, in page order."""
    return list(dict.fromkeys(PATTERN.findall(text)))


def component_regex(pattern: str, values: dict[str, list[str]]) -> str:
    """A regex for ``pattern`` (no trailing ``/``): literal text escaped, ``{name}`` one of ``values[name]``
    when given, ``{a,b}`` a or b, ``{shard}`` digits, any other placeholder any text without ``/``."""
    out, pos = [], 0
    for match in PLACEHOLDER.finditer(pattern):
        out.append(re.escape(pattern[pos:match.start()]))
        name = match.group(1)
        if name in values:
            out.append("(?:" + "|".join(re.escape(v) for v in values[name]) + ")")
        elif "," in name:
            out.append("(?:" + "|".join(re.escape(v) for v in name.split(",")) + ")")
        elif name == "shard":
            out.append("[0-9]+")
        else:
            out.append("[^/]+")
        pos = match.end()
    out.append(re.escape(pattern[pos:]))
    return "".join(out)


class Described:
    """What the page's patterns describe: files, folders (named, or holding a described path) and
    the contents of the folders it lists nothing inside."""

    def __init__(self, patterns: list[str], values: dict[str, list[str]] | None = None):
        values = values or {}
        files, folders, covering = [], set(), []
        for pattern in patterns:
            parts = pattern.rstrip("/").split("/")
            for k in range(1, len(parts)):  # every folder above the pattern
                folders.add(component_regex("/".join(parts[:k]), values))
            if pattern.endswith("/"):
                folders.add(component_regex(pattern.rstrip("/"), values))
                if not any(other != pattern and other.startswith(pattern) for other in patterns):
                    covering.append(component_regex(pattern.rstrip("/"), values) + "/.+")
            else:
                files.append(component_regex(pattern, values))
        self.files = re.compile("|".join(f"(?:{r})" for r in files + covering))
        self.folders = re.compile("|".join(f"(?:{r})" for r in sorted(folders) + covering))

    def __call__(self, path: str, is_dir: bool) -> bool:
        return bool((self.folders if is_dir else self.files).fullmatch(path))


def undescribed(workdir: Path, text: str, values: dict[str, list[str]] | None = None) -> list[str]:
    """Every file and folder under ``workdir/results`` (as ``results/...``) the page ``text`` does not describe."""
    described = Described(documented_patterns(text), values)
    missing = []
    for path in sorted((workdir / "results").rglob("*")):
        name = path.relative_to(workdir).as_posix()
        if not described(name, path.is_dir()):
            missing.append(name + ("/" if path.is_dir() else ""))
    return missing


def run_values(results: Path) -> dict[str, list[str]]:
    """The classes and methods of a finished run, from its data set and attribution stores."""
    classes = json.loads((results / "data" / "dataset.json").read_text())["classes"]
    methods = sorted({json.loads(p.read_text())["method"] for p in results.glob("attributions/*/settings.json")})
    return {"cls": classes, "method": methods}


# --- in-process: the matching, and the page against the rule files ---------------------------------

FAKE_RUN = ["results/data/onehot.npy", "results/model/roc_pr.png", "results/tracks/a.lrp.bw",
            "results/tracks/a.lrp.hyp_G.bw", "results/logs/predict/shard12.log",
            "results/attributions/a.lrp/shards/3/hyp_n_a.npy", "results/motifs/a.lrp/logos/pos_0.svg",
            "results/motifs/a.lrp/logos/.snakemake_timestamp", "results/genome_index/hg.fa.0123456789.fai",
            "results/evaluation/diagnostics/a.lrp.png", "results/model/external.onnx"]


def make_run(root: Path, paths: list[str]) -> Path:
    for name in paths:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    return root


def test_the_page_describes_a_run_and_misses_what_it_leaves_out(tmp_path):
    text = PAGE.read_text(encoding="utf-8")
    run = make_run(tmp_path, FAKE_RUN)
    assert undescribed(run, text) == []
    # a line taken out of the page leaves its file undescribed; an unknown file or folder is named
    without = "\n".join(line for line in text.splitlines() if "`results/model/roc_pr.png`" not in line)
    assert undescribed(run, without) == ["results/model/roc_pr.png"]
    make_run(tmp_path, ["results/stray/notes.txt", "results/tracks/a.lrp.wig"])
    assert undescribed(run, text) == ["results/stray/", "results/stray/notes.txt", "results/tracks/a.lrp.wig"]
    # a folder's own files are listed: the folder does not cover a file it does not list
    make_run(tmp_path / "b", ["results/attributions/a.lrp/shards/0/extra.npy"])
    assert undescribed(tmp_path / "b", text) == ["results/attributions/a.lrp/shards/0/extra.npy"]
    # run values pin the placeholders: a class the run does not have is not described
    assert undescribed(run, text, {"cls": ["b"], "method": ["lrp"]})[:2] == [
        "results/attributions/a.lrp/", "results/attributions/a.lrp/shards/"]


def test_the_matching_of_placeholders():
    described = Described(["results/x/{cls}.{method}.hyp_{A,C,G,T}.bw", "results/l/shard{shard}.log", "results/f/"])
    assert described("results/x/a b.lrp.hyp_T.bw", False) and not described("results/x/a.lrp.hyp_N.bw", False)
    assert described("results/l/shard10.log", False) and not described("results/l/shardx.log", False)
    assert not described("results/x/a/b.lrp.hyp_A.bw", False)
    assert described("results/x", True) and described("results/f", True) and described("results/f/g/h.png", False)


def literal_fragments(pattern: str) -> list[str]:
    """The literal text of each path component, between placeholders, that says more than punctuation."""
    fragments = []
    for component in pattern.rstrip("/").split("/"):
        fragments += [f for f in PLACEHOLDER.split(component)[::2] if re.search(r"[A-Za-z0-9]", f)]
    return fragments


def test_every_path_on_the_page_is_one_a_rule_writes():
    """A loose check that the page documents no file that no longer exists: the literal parts of every
    pattern (folder names, file names, suffixes) appear in the rule files."""
    rules = "\n".join(path.read_text(encoding="utf-8") for path in RULES)
    patterns = documented_patterns(PAGE.read_text(encoding="utf-8"))
    assert len(patterns) > 60
    unknown = [f"{pattern}: {fragment!r}" for pattern in patterns for fragment in literal_fragments(pattern)
               if fragment not in rules]
    assert not unknown, "paths on docs/outputs.md that no rule writes:\n" + "\n".join(unknown)


def rule_paths() -> list[str]:
    """Every ``f"{CONSTANT}/..."`` path of the rule files (outputs, logs, benchmarks, inputs), with the
    folder constants of common.smk resolved and ``{{x}}`` written ``{x}``."""
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text(encoding="utf-8")
    folders = dict(re.findall(r'^([A-Z_]+) = f"\{RESULTS\}/([^"]+)"', common, re.MULTILINE))
    folders = {name: f"results/{path}" for name, path in folders.items()} | {"RESULTS": "results"}
    paths = []
    for path in RULES:
        for constant, rest in re.findall(r'f"\{([A-Z_]+)\}/([^"]+)"', path.read_text(encoding="utf-8")):
            if constant in folders:
                paths.append(f"{folders[constant]}/{rest}".replace("{{", "{").replace("}}", "}"))
    return sorted(set(paths))


def test_every_path_a_rule_writes_is_on_the_page():
    """The other way round: every path of the rule files matches a pattern of the page, ``{cls}``,
    ``{method}`` and ``{shard}`` as written, any other expression (``{name}``, ``{base}``) any text."""
    patterns = set()
    for pattern in documented_patterns(PAGE.read_text(encoding="utf-8")):  # and the folders they lie in
        parts = pattern.rstrip("/").split("/")
        patterns.update("/".join(parts[:k]) for k in range(1, len(parts) + 1))
    paths = rule_paths()
    assert "results/tracks/{cls}.{method}.bedGraph.gz.tbi" in paths and "results/logs/demo_data.log" in paths
    missing = []
    for path in paths:
        regex, pos = [], 0
        for match in PLACEHOLDER.finditer(path):
            regex.append(re.escape(path[pos:match.start()]))
            name = match.group(1)
            regex.append(re.escape(match.group(0)) if name in ("cls", "method", "shard") else ".+?")
            pos = match.end()
        regex.append(re.escape(path[pos:]))
        if not any(re.fullmatch("".join(regex), pattern) for pattern in patterns):
            missing.append(path)
    assert not missing, "paths the rules write that docs/outputs.md does not list:\n" + "\n".join(missing)


# --- workflow: the tiny demo's real results ----------------------------------------------------------


@pytest.mark.workflow
def test_the_outputs_page_describes_every_file_of_the_tiny_demo(tiny_demo_run):
    results = tiny_demo_run / "results"
    values = run_values(results)
    assert values == {"cls": ["positive", "negative"], "method": TINY_METHODS}
    found = sorted(p.relative_to(tiny_demo_run).as_posix() for p in results.rglob("*"))
    assert len(found) > 150 and "results/igv_session.xml" in found
    missing = undescribed(tiny_demo_run, PAGE.read_text(encoding="utf-8"), values)
    assert not missing, "files and folders of the tiny demo that docs/outputs.md does not describe:\n" + "\n".join(missing)
