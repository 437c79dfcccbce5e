"""The Python quick start works as written: the README's example (between ``<!-- quickstart -->`` and
``<!-- /quickstart -->``) and every ``python`` block of ``docs/python.md``, run in order in one
namespace, in a directory holding what they read — a demo-like run: ``results/model/model.pt`` (a tiny
seqlrp CNN of classes positive and negative, seq_len 200), ``results/attributions/positive.lrp/`` and
``results/data/onehot.npy``, and a variant run: ``results/demo/genome.fa.gz``, ``variants.vcf.gz`` and
``results/variants/`` (:func:`add_variants`)."""

from __future__ import annotations

import linecache
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, write_store

from seqlrp.attribution.spec import MethodSpec
from seqlrp.formats.onehot import onehot_from_codes
from seqlrp.formats.table import RegionTable
from seqlrp.models import annotate, build, save_model
from seqlrp.sequences.dataset import ExtractedData

SEQ_LEN = 200
CLASSES = ["positive", "negative"]
# (chrom, start, strand, class) of the run's windows: both strands in the explained class
WINDOWS = [("chr1", 1000, "+", "positive"), ("chr1", 5000, "-", "positive"), ("chr2", 300, "+", "positive"),
           ("chr2", 2200, "-", "positive"), ("chr1", 8000, "+", "negative"), ("chr2", 4000, "-", "negative")]
README_MARKERS = ("<!-- quickstart -->", "<!-- /quickstart -->")
PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
# a comment saying that relevance adds up to (or equals) the logit, without naming what biases absorb
CONSERVATION_CLAIM = re.compile(r"#[^\n]*(adds? up to|sums? to|equals?) the logit(?![^\n]*(bias|absorb|less|minus))")


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build("cnn", seq_len=SEQ_LEN, n_classes=len(CLASSES), filters=[8, 8], kernels=[9, 5], dense=[8])
    annotate(model, classes=CLASSES)
    return model.eval()


def make_run(root: Path) -> Path:
    """A demo-like run under ``root/results`` (see the module docstring); returns ``root``."""
    results = root / "results"
    (results / "model").mkdir(parents=True)
    (results / "data").mkdir()
    model_path = results / "model" / "model.pt"
    save_model(tiny_model(), model_path)
    codes = np.random.default_rng(0).integers(0, 4, size=(len(WINDOWS), SEQ_LEN)).astype(np.uint8)
    codes[1, :5] = 4  # N bases in a '-' window
    table = RegionTable()
    for i, (chrom, start, strand, cls) in enumerate(WINDOWS):
        table.append(chrom, start, start + SEQ_LEN, strand, f"w{i}", cls, "test")
    data = ExtractedData(onehot_from_codes(codes), table, CLASSES, SEQ_LEN)
    write_store(results / "attributions" / "positive.lrp", data, model_path, "positive", "lrp", MethodSpec(),
                results / "data" / "onehot.npy", batch_size=4)
    add_variants(results, model_path)
    return root


def add_variants(results: Path, model_path: Path) -> None:
    """``results/demo/genome.fa.gz`` and ``variants.vcf.gz`` (bgzip), and the variant stage's outputs
    of them (``results/variants/``, one shard, maps of positive.lrp), made by the stage's functions."""
    import pysam

    from seqlrp.attribution.store import SHARD_ARRAYS
    from seqlrp.stages.variants import build_null, index_variants, join_variants, score_shard

    demo, out = results / "demo", results / "variants"
    (out / "shards" / "0").mkdir(parents=True)
    demo.mkdir()
    rng = np.random.default_rng(1)
    chrom = "".join("ACGT"[i] for i in rng.integers(0, 4, 3000))
    (demo / "genome.fa").write_text(f">chr1\n{chrom}\n")
    pysam.tabix_compress(str(demo / "genome.fa"), str(demo / "genome.fa.gz"))
    records = [(pos, chrom[pos - 1], "ACGT"[("ACGT".index(chrom[pos - 1]) + 1) % 4]) for pos in (150, 900, 2950)]
    records.append((1500, chrom[1499:1502], chrom[1499]))  # a 2-bp deletion
    (demo / "variants.vcf").write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n"
                                       "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                                       + "".join(f"chr1\t{p}\tv{i}\t{r}\t{a}\t.\t.\t.\n"
                                                 for i, (p, r, a) in enumerate(records)))
    pysam.tabix_compress(str(demo / "variants.vcf"), str(demo / "variants.vcf.gz"))
    config = {"null_size": 20, "motifs": "none", "batch_size": 8}
    inputs = {"model": str(model_path), "vcf": str(demo / "variants.vcf.gz"), "genome": str(demo / "genome.fa.gz"),
              "index": str(out / "index.json"), "null": str(out / "null.npz")}
    index_variants(config, inputs["genome"], inputs["vcf"], inputs["index"])
    build_null(config, inputs, inputs["null"], seed=1)
    store = out / "maps" / "positive.lrp"
    shard = store / "shards" / "0"
    paths = {**{key: shard / name for key, name in SHARD_ARRAYS.items()}, "regions": shard / "regions.tsv",
             "settings": shard / "settings.json"}
    shard.mkdir(parents=True)
    score_shard(config, {"lrp": {}}, inputs, {"scores": out / "shards" / "0" / "scores.tsv",
                                            "windows": out / "shards" / "0" / "windows.npy",
                                            "index_map": out / "shards" / "0" / "index_map.npy"},
                {("positive", "lrp"): paths}, None, progress=False)
    (results / "data" / "chrom_sizes.tsv").write_text("chr1\t3000\n")
    join_variants(config, {"scores": [out / "shards" / "0" / "scores.tsv"], "index": inputs["index"],
                           "chrom_sizes": str(results / "data" / "chrom_sizes.tsv")},
                  {"scores": out / "scores.tsv", "vcf": out / "scored.vcf.gz", "bed": out / "variants.bed",
                   "summary": out / "summary.json"},
                  {("positive", "lrp"): ([shard], {"regions": store / "regions.tsv", "settings": store / "settings.json"})},
                  CLASSES, ["lrp"])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("quickstart"))


def python_blocks(text: str) -> list[str]:
    return [block for block in PYTHON_BLOCK.findall(text)]


def run_blocks(blocks: list[str], source: str) -> dict:
    namespace: dict = {"__name__": "__quickstart__"}
    for i, block in enumerate(blocks):
        name = f"<{source}, python block {i + 1}>"
        linecache.cache[name] = (len(block), None, block.splitlines(keepends=True), name)  # tracebacks show the line
        exec(compile(block, name, "exec"), namespace)
    return namespace


def readme_example() -> str | None:
    """The README's quick start code, or None while the README has no quick start markers."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    begin, end = README_MARKERS
    if begin not in text:
        return None
    assert end in text[text.index(begin):], f"README.md has {begin} but no {end} after it"
    section = text[text.index(begin) + len(begin): text.index(end, text.index(begin))]
    blocks = python_blocks(section)
    assert blocks, f"README.md: no ```python block between {begin} and {end}"
    return "\n".join(blocks)


def test_block_extraction_finds_python_blocks_only():
    text = "intro\n```python\na = 1\n```\n```sh\nmake demo\n```\n```python\nb = a + 1\n```\n"
    assert python_blocks(text) == ["a = 1\n", "b = a + 1\n"]
    assert run_blocks(python_blocks(text), "t")["b"] == 2
    assert CONSERVATION_CLAIM.search("R = 1  # relevance adds up to the logit")
    assert not CONSERVATION_CLAIM.search("R = 1  # relevance adds up to the logit, less what the biases absorb")


@pytest.fixture(scope="module")
def readme_run(run_dir):
    """The README's example, run once in the demo-like run: ``(code, namespace)``."""
    code = readme_example()
    if code is None:
        pytest.skip(f"README.md has no {README_MARKERS[0]} ... {README_MARKERS[1]} section yet")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(run_dir)
        return code, run_blocks([code], "README.md quick start")


def test_readme_quick_start_runs_as_written(readme_run):
    _, ns = readme_run
    x, R = ns.get("x"), ns.get("R")
    if isinstance(x, torch.Tensor) and isinstance(R, torch.Tensor):
        assert R.shape == x.shape and x.shape[1] == 4 and torch.isfinite(R).all()


def test_readme_says_relevance_adds_up_to_the_logit_only_where_it_does(readme_run):
    """A comment claiming conservation is checked: with biases (every seqlrp architecture has them,
    and BatchNorm shifts), the relevance reaching the bases is the logit less what the biases absorbed."""
    code, ns = readme_run
    if not CONSERVATION_CLAIM.search(code):
        return
    model, x, R = ns.get("model"), ns.get("x"), ns.get("R")
    target = re.search(r"relevance\([^\n]*target=[\"']([^\"']+)[\"']", code)
    assert model is not None and R is not None and target, "the example claims conservation of R but has no R"
    with torch.no_grad():
        logit = model(x)[:, model.seqlrp_info.classes.index(target.group(1))]
    torch.testing.assert_close(R.sum(dim=(1, 2)), logit, rtol=1e-4, atol=1e-5,
                               msg=lambda m: "README.md quick start: a comment says the relevance adds up to the "
                                             "logit, but biases absorb part of it in this model (a seqlrp cnn): "
                                             "reword the comment (e.g. 'the logit, less what the biases "
                                             f"absorbed')\n{m}")


def test_docs_python_page_runs_block_by_block(run_dir, monkeypatch):
    page = REPO / "docs" / "python.md"
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    assert len(blocks) >= 6, "docs/python.md lost its python blocks"
    monkeypatch.chdir(run_dir)
    ns = run_blocks(blocks, "docs/python.md")
    # the page's claims, checked here as well as by its own asserts
    x, R, store = ns["x"], ns["R"], ns["store"]
    assert tuple(x.shape) == (2, 4, SEQ_LEN) and R.shape == x.shape
    assert len(store) == sum(cls == "positive" for *_, cls in WINDOWS)
    assert store.relevance.shape == (len(store), SEQ_LEN)
    table, delta_r, alt_only = ns["table"], ns["delta_r"], ns["alt_only"]
    assert len(table) == 4 * len(CLASSES) and set(table["method"]) == {"lrp"}  # 4 variants x 2 classes x 1 method
    first = table[(table["variant"] == int(ns["maps"].variants[0])) & (table["class"] == "positive")]
    assert np.isclose(delta_r.sum() + alt_only.sum(), first["delta_relevance_sum"].iloc[0], rtol=1e-3, atol=1e-6)
    own, logits = ns["r_own"], ns["logits_own"]
    torch.testing.assert_close(own.sum(dim=(1, 2)), logits, rtol=1e-4, atol=1e-5)  # bias-free: conservation
