"""The documentation: the site builds with warnings as errors, the README stays a landing page whose
links resolve, and the docs give one figure for how long ``make test`` (and ``make demo``) takes.

The site (``mkdocs.yml``, ``docs/``) is built as ``make docs`` builds it, ``mkdocs build --strict``:
a broken link or anchor, a page left out of the nav, an API reference that does not resolve or a
failing build hook is a failure here. MkDocs and its plugins are optional test dependencies
(``tests/optional.py``): missing, the build test skips, or fails under ``SEQLRP_REQUIRE_TEST_DEPS=1``
(``make test``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optional import need

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: The landing page's limit (the issue asked for about 10 kB; everything else belongs in docs/).
README_MAX_BYTES = 12_000


def doc_pages() -> list[Path]:
    """The Markdown pages of the site (``docs/*.md``)."""
    return sorted(DOCS.glob("*.md"))


def read_mkdocs_config() -> dict:
    """``mkdocs.yml`` as plain data; MkDocs' own tags (``!relative``, ``!ENV``) read as None."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)


def nav_files(nav) -> list[str]:
    """Every Markdown file the nav names, in order (nested sections included)."""
    found: list[str] = []
    for entry in nav:
        if isinstance(entry, str):
            found.append(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                found.extend(nav_files(value) if isinstance(value, list) else [value])
    return [f for f in found if isinstance(f, str) and f.endswith(".md")]


def built_page(site: Path, page: str) -> Path:
    """Where MkDocs (directory URLs) writes ``page``: ``index.md`` -> ``index.html``, ``x.md`` -> ``x/index.html``."""
    stem = page[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return site / f"{stem}.html"
    return site / stem / "index.html"


def without_code(markdown: str) -> str:
    """``markdown`` without fenced code blocks and inline code, where a ``[x](y)`` is no link."""
    markdown = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", markdown)


LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def relative_links(markdown: str) -> list[str]:
    """The targets of the Markdown links and images of ``markdown`` that point into the repository
    (not ``http(s):``, ``mailto:`` or a bare ``#anchor``)."""
    targets = LINK.findall(without_code(markdown))
    return [t for t in targets if not re.match(r"^([a-z][a-z0-9+.-]*:|#)", t, flags=re.I)]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, inline code marks and punctuation dropped,
    spaces as hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The GitHub anchors of the headings of the Markdown file ``path``."""
    text = without_code_blocks(path.read_text(encoding="utf-8"))
    return {github_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M)}


def without_code_blocks(markdown: str) -> str:
    return re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", markdown, flags=re.S | re.M)


# --- (a) the site builds, strictly ------------------------------------------------------------


def test_docs_site_builds_strictly(tmp_path):
    need("mkdocs")
    need("material")
    need("mkdocstrings")
    need("mkdocstrings_handlers.python")
    need("pymdownx")
    config = read_mkdocs_config()
    pages = nav_files(config["nav"])
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2.0, not a warning of ours
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    missing = [page for page in pages if not built_page(site, page).is_file()]
    assert not missing, f"nav pages missing from the built site: {missing}"
    # every page of docs/ is in the nav (MkDocs' omitted_files check is a warning, so --strict fails too)
    assert sorted(p.name for p in doc_pages()) == sorted(pages)


def test_nav_has_the_pages_in_order():
    names = nav_files(read_mkdocs_config()["nav"])
    assert names[0] == "index.md"
    for page in ("running.md", "results.md", "outputs.md", "configuration.md", "own-model.md", "lrp.md",
                 "cluster.md", "evaluation.md", "benchmarks.md", "python.md", "api.md", "contributing.md",
                 "changelog.md"):
        assert page in names, page
    assert names[-1] == "changelog.md"


# --- (b) the README is a landing page, and links resolve ------------------------------------------


def test_readme_is_a_landing_page():
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes (limit {README_MAX_BYTES:,}): move the detail into a page of docs/ and link it")
    text = README.read_text(encoding="utf-8")
    for marker in ("<!-- quickstart -->", "<!-- /quickstart -->", "make demo", "make test"):
        assert marker in text, marker
    assert text.count("](docs/images/") == 1, "one figure, from docs/images/"


@pytest.mark.parametrize("source", [README, *doc_pages()], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(source):
    broken = []
    for target in relative_links(source.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0]
        if path and not (source.parent / path).exists():
            broken.append(target)
    assert not broken, f"{source.relative_to(ROOT)} links to files that do not exist: {broken}"


def test_readme_anchors_exist():
    """The README is read on GitHub: its links into a Markdown file name a heading that file has."""
    broken = []
    for target in relative_links(README.read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        if anchor and path.endswith(".md") and anchor not in anchors(ROOT / path):
            broken.append(target)
    assert not broken, f"README.md links to anchors that do not exist: {broken}"


def test_link_helpers():
    text = "See [a](docs/a.md#x), ![fig](docs/images/f.png), [web](https://x.org), [top](#t), `[no](code.md)`\n" \
           "```\n[no](fenced.md)\n```\n"
    assert relative_links(text) == ["docs/a.md#x", "docs/images/f.png"]
    assert github_slug("5. Results go to `./results`: one data set per run directory") == \
        "5-results-go-to-results-one-data-set-per-run-directory"
    assert github_slug("LRP or PLRP?") == "lrp-or-plrp"


# --- (c) one figure for how long make test (and make demo) take ---------------------------------------

DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(?:min\b|minutes?\b)")
#: Words before a figure that make it a limit ("keep it under 20 minutes"), not a duration.
LIMIT = re.compile(r"(under|below|at most|within|<|≤)\s*~?\s*$")


def durations(text: str, command: str) -> list[str]:
    """The first duration in minutes said of ``command`` each time it is named: looked for in the
    rest of its sentence or table row, up to the next ``make`` command; limits are not durations."""
    found = []
    for match in re.finditer(re.escape(command) + r"(?![\w-])", text):
        rest = text[match.end():]
        stop = min((i for i in (rest.find("\n|"), rest.find("\n\n"), rest.find(". "), rest.find("make "))
                    if i >= 0), default=len(rest))
        for figure in DURATION.finditer(rest[:stop]):
            if not LIMIT.search(rest[max(0, figure.start() - 12):figure.start()]):
                found.append(figure.group(1))
                break
    return found


def documentation_texts() -> dict[str, str]:
    """README, CONTRIBUTING (the site's Contributing page includes it) and the pages of docs/."""
    files = [README, ROOT / "CONTRIBUTING.md", *doc_pages()]
    return {f.relative_to(ROOT).as_posix(): f.read_text(encoding="utf-8") for f in files}


@pytest.mark.parametrize("command", ["make test", "make demo"])
def test_one_duration_per_command(command):
    said = {(name, figure) for name, text in documentation_texts().items() for figure in durations(text, command)}
    figures = {figure for _, figure in said}
    assert len(figures) == 1, f"`{command}` should take one documented time, found {sorted(said)}"


def test_durations_reads_sentences_and_rows():
    text = ("From a clean clone, `make demo` takes about 8.5 minutes (install) and `make test` about 15 minutes.\n\n"
            "| everything | `make test` | ~16 min (building `.venv` adds ~2) |\n| fast | `make test-fast` | ~1.5 min |\n")
    assert durations(text, "make demo") == ["8.5"]
    assert durations(text, "make test") == ["15", "16"]
    assert durations("`make test` on a clean clone; keep it under 20 minutes on 2 cores", "make test") == []
