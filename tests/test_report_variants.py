"""The report's variant section, on the outputs of the real variant stage (demo genome, demo VCF, a random CNN)."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from test_report import EVIL_CLASS, METHODS, NOW, make_run, section

from seqlrp.analysis.tomtom import MotifDatabase, fetch_jaspar, save_database
from seqlrp.models import annotate, build, save_model
from seqlrp.report.page import SECTIONS, VARIANTS_SECTION, ReportOptions, build_report
from seqlrp.report.render_check import external_references
from seqlrp.report.variants import (
    MAX_LOGO_FIGURES,
    TOP_LOGOS,
    TOP_ROWS,
    read_variant_scores,
)
from seqlrp.stages import variants as stage
from seqlrp.stages.demo_data import make_demo, make_variants
from seqlrp.stages.variants import evaluate_variants
from seqlrp.stages.report import write_report

SEQ_LEN = 200
TARGETS = ["MA0139.2", "MA0080.7", "MA0099.4"]
DEMO = dict(n_chroms=2, chrom_len=60_000, gc=0.41, gap=500, n_per_class=20, margin=5, targets=TARGETS,
            decoys=["MA0105.4", "MA0138.3"], instances=[1, 3], decoy_instances=[0, 2])
CLASSES = ("positive", EVIL_CLASS)  # "positive" is the demo truth's class: the AUROCs have positives
HOSTILE_ID = "<script>alert({})</script>"
HOSTILE_MOTIFS = ["<b>CTCF</b>", "<i>SPI1</i>", "<u>FOS::JUN</u>"]
SHARD_FILES = {"relevance": "relevance.npy", "hyp": "hyp.npy", "hyp_scale": "hyp_scale.npy",
               "hyp_n_sites": "hyp_n_sites.npy", "hyp_n_a": "hyp_n_a.npy", "regions": "regions.tsv",
               "settings": "settings.json"}
VARIANT_CONFIG = {"ref_mismatch": "skip", "null_size": 50, "motifs": "jaspar", "motif_p": 1e-3, "batch_size": 64,
                  "device": "cpu", "maps": True, "explain": True, "local_bp": 10}


def hostile_vcf(source: Path, out: Path) -> Path:
    """The demo VCF with every record's ID replaced by markup (unique per record)."""
    with gzip.open(source, "rt") as handle:
        lines = handle.read().splitlines()
    k = 0
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            fields = line.split("\t")
            fields[2] = HOSTILE_ID.format(k)
            lines[i] = "\t".join(fields)
            k += 1
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="module")
def variant_run(tmp_path_factory) -> Path:
    """``results/`` with the variant stage's outputs, made by the rules' functions: index, null, one
    shard, the join (scores.tsv, maps, summary.json, scored VCF, BED) and evaluation/variants.tsv."""
    root = tmp_path_factory.mktemp("variant_report")
    demo = root / "demo"
    make_demo(DEMO, SEQ_LEN, 7, demo)
    make_variants(demo, SEQ_LEN, 3, demo / "variants.vcf.gz", demo / "variants_truth.tsv")
    vcf = hostile_vcf(demo / "variants.vcf.gz", root / "variants.vcf")
    results = root / "results"
    torch.manual_seed(0)
    model = build("cnn", seq_len=SEQ_LEN, n_classes=2)
    annotate(model, classes=list(CLASSES))
    (results / "model").mkdir(parents=True)
    save_model(model, results / "model" / "model.pt")
    jaspar = fetch_jaspar("CORE", ["vertebrates"])
    save_database(MotifDatabase(TARGETS, HOSTILE_MOTIFS, [jaspar.matrices[jaspar.index(i)] for i in TARGETS],
                                jaspar.release), root / "jaspar.npz")
    variants = results / "variants"
    index = stage.index_variants(VARIANT_CONFIG, str(demo / "genome.fa.gz"), str(vcf), variants / "index.json")
    inputs = {"model": str(results / "model" / "model.pt"), "genome": str(demo / "genome.fa.gz"), "vcf": str(vcf),
              "index": str(variants / "index.json"), "null": str(variants / "null.npz"),
              "database": str(root / "jaspar.npz")}
    stage.build_null(VARIANT_CONFIG, inputs, variants / "null.npz", seed=1)
    shard = variants / "shards" / "0"
    pairs = [(cls, "lrp") for cls in CLASSES]
    maps = {(c, m): {key: str(variants / "maps" / f"{c}.{m}" / "shards" / "0" / name) for key, name in SHARD_FILES.items()}
            for c, m in pairs}
    outputs = {"scores": str(shard / "scores.tsv"), "windows": str(shard / "windows.npy"),
               "index_map": str(shard / "index_map.npy")}
    stage.score_shard(VARIANT_CONFIG, {"lrp": {}}, inputs, outputs, maps, None, seed=1, progress=False)
    (results / "data").mkdir()
    with open(f"{demo / 'genome.fa.gz'}.fai", encoding="utf-8") as handle:
        (results / "data" / "chrom_sizes.tsv").write_text("".join("\t".join(line.split("\t")[:2]) + "\n"
                                                                  for line in handle))
    joins = {(c, m): ([str(variants / "maps" / f"{c}.{m}" / "shards" / "0")],
                      {"regions": str(variants / "maps" / f"{c}.{m}" / "regions.tsv"),
                       "settings": str(variants / "maps" / f"{c}.{m}" / "settings.json")}) for c, m in pairs}
    summary = stage.join_variants(
        VARIANT_CONFIG, {"scores": [outputs["scores"]], "index": str(variants / "index.json"),
                         "chrom_sizes": str(results / "data" / "chrom_sizes.tsv")},
        {"scores": str(variants / "scores.tsv"), "vcf": str(variants / "scored.vcf.gz"),
         "bed": str(variants / "variants.bed"), "summary": str(variants / "summary.json")},
        joins, list(CLASSES), ["lrp"])
    assert summary["rows"] == index["rows"]
    evaluate_variants(variants / "scores.tsv", demo / "variants_truth.tsv", results / "evaluation" / "variants.tsv")
    return results


def run_with_variants(tmp_path: Path, variant_run: Path) -> Path:
    """test_report's hand-made run plus the variant stage's outputs."""
    results = make_run(tmp_path)
    shutil.copytree(variant_run / "variants", results / "variants")
    shutil.copy(variant_run / "evaluation" / "variants.tsv", results / "evaluation" / "variants.tsv")
    return results


def report(results: Path, **kwargs) -> str:
    return build_report(results, {"seed": 3}, ("pos", EVIL_CLASS), METHODS, evaluation=False,
                        options=ReportOptions(), now=NOW, **kwargs)


def images(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', html)


@pytest.fixture(scope="module")
def scored_html(tmp_path_factory, variant_run) -> str:
    """The report of a run with variants (drawn once: the logos take about a second each)."""
    return report(run_with_variants(tmp_path_factory.mktemp("scored"), variant_run), variants=True)


def test_variant_section_counts_scatter_table_logos(scored_html, variant_run):
    html = scored_html
    sections = [*SECTIONS[:-1], VARIANTS_SECTION, SECTIONS[-1]]
    for number, (anchor, title) in enumerate(sections, start=1):
        assert f'<section id="{anchor}"><h2>{number}. {title}</h2>' in html
        assert f'<a href="#{anchor}">{title}</a>' in html
    part = section(html, "variants")
    summary = json.loads((variant_run / "variants" / "summary.json").read_text())
    assert summary["symbolic_skipped"] == 1 and summary["records"] > 50  # the demo's odd records
    for label, value in (("records read", summary["records"]), ("rows scored (record × ALT)", summary["scored"]),
                         ("skipped: symbolic ALT", 1), ("skipped: REF mismatch", 0)):
        assert f"<td><b>{label}</b></td><td>{value}</td>" in part
    assert "none (VCF contigs named as in the genome)" in part
    # one scatter and TOP_LOGOS logos per class, all embedded
    sources = images(part)
    assert len(sources) == 1 + min(TOP_LOGOS * len(CLASSES), MAX_LOGO_FIGURES)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "Δ against −log10 p" in part
    assert part.count("<figure>") == len(sources)
    # the table: TOP_ROWS per class, strongest first
    table = part[part.index("<th>rank</th>"):]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == TOP_ROWS * len(CLASSES)  # body rows (the slice starts inside the header row)
    scores = read_variant_scores(variant_run / "variants" / "scores.tsv")
    best = scores.classes["positive"].top()[0]
    assert f"<code>{best['chrom']}:{best['pos']}</code>" in table
    # logos name their store and variant pair
    assert "variants/maps/positive.lrp, pair" in part
    # labelled variants: the AUROC table
    assert "Labelled variants" in part and "break_vs_control" in part and "create_vs_control" in part
    assert external_references(html) == []
    files = section(html, "files")
    assert "results/variants/scores.tsv" in files and "results/evaluation/variants.tsv" in files


def test_strings_from_the_variant_files_are_escaped(scored_html):
    html = scored_html
    part = section(html, "variants")
    assert "<script" not in html
    assert re.search(r"&lt;script&gt;alert\(\d+\)&lt;/script&gt;", part)
    for motif in HOSTILE_MOTIFS:
        assert motif not in html
    assert any(f"&lt;{tag}&gt;" in part for tag in ("b", "i", "u"))  # a motif cell is shown, escaped
    assert "class &lt;img src=x onerror=alert(1)&gt;" in part
    # every <img> is an embedded figure: the class name never became a tag
    assert html.count("<img ") == len(images(html)) == html.count('<img src="data:image/png;base64,')


def test_section_absent_without_variants(tmp_path, variant_run):
    plain = make_run(tmp_path / "plain")
    html = report(plain)  # no variant outputs: no section (auto-detected)
    assert 'id="variants"' not in html and 'href="#variants"' not in html
    assert f'<section id="files"><h2>{len(SECTIONS)}. Output files</h2>' in html
    assert "results/variants" not in html
    scored = run_with_variants(tmp_path / "scored", variant_run)
    shutil.rmtree(scored / "variants" / "maps")  # no logos: quicker
    assert 'id="variants"' not in report(scored, variants=False)  # a run without `variants`: stale files ignored
    assert 'id="variants"' in report(scored)  # auto-detected from summary.json
    out = tmp_path / "report.html"
    write_report(out, plain, {"seed": 3}, ("pos", EVIL_CLASS), METHODS, evaluation=False, variants=False)
    assert 'id="variants"' not in out.read_text()


def test_without_maps_no_logos_and_a_note(tmp_path, variant_run):
    results = run_with_variants(tmp_path, variant_run)
    shutil.rmtree(results / "variants" / "maps")
    (results / "evaluation" / "variants.tsv").unlink()
    part = section(report(results, variants=True), "variants")
    assert len(images(part)) == 1  # the scatter only
    assert "no logos are drawn" in part
    assert "Labelled variants" not in part


def test_missing_scores_is_a_note(tmp_path, variant_run):
    results = run_with_variants(tmp_path, variant_run)
    (results / "variants" / "scores.tsv").unlink()
    part = section(report(results, variants=True), "variants")
    assert "variants/scores.tsv does not exist" in part and "records read" in part
    assert images(part) == []


def test_top_rows_rank_by_p_then_size_of_delta_first_method_only(tmp_path):
    header = ["chrom", "pos", "id", "ref", "alt", "variant", "kind", "class", "method", "delta", "p_value"]
    rows = [["chr1", 10 + v, f"v{v}", "A", "C", v, "snv", cls, method, delta, p]
            for v, (delta, p) in enumerate([(0.1, 0.5), (-2.0, 0.5), (0.3, 0.01), (5.0, ""), (-0.2, 0.01)])
            for cls in ("a", "b") for method in ("lrp", "plrp")]
    rows.append(["chr1", 99, "x", "A", "C", 9, "snv", "a", "plrp", 100.0, 0.0001])  # not the first method
    path = tmp_path / "scores.tsv"
    path.write_text("\n".join("\t".join(str(c) for c in r) for r in [header, *rows]) + "\n")
    scores = read_variant_scores(path, top=4)
    assert scores.method == "lrp" and list(scores.classes) == ["a", "b"]
    assert [r["id"] for r in scores.classes["a"].top()] == ["v2", "v4", "v1", "v0"]
    assert len(scores.classes["a"].delta) == 5
