"""The HTML report: sections, embedded figures, escaping, optional inputs, provenance, Chromium render."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from optional import need_program
import torch
import yaml

from seqlrp.errors import InputError
from seqlrp.models import annotate, build, save_model
from seqlrp.report.data import fmt, locus, read_tsv, region_pictures
from seqlrp.report.page import NO_EVALUATION, SECTIONS, ReportOptions, build_report
from seqlrp.report.render_check import check, external_references, find_browser, png_size
from seqlrp.stages.report import write_report

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
EVIL_CLASS = "<img src=x onerror=alert(1)>"  # a legal file name, markup if left unescaped
METHODS = ("lrp", "plrp")


def tiny_png(rgb: tuple[int, int, int], width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG of one colour (distinct colours tell the pictures apart in the HTML)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write_tsv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(str(v) for v in row) for row in [header, *rows]) + "\n")
    return path


def write_png(path: Path, rgb: tuple[int, int, int]) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tiny_png(rgb)
    path.write_bytes(data)
    return data


def make_run(root: Path, classes: tuple[str, ...] = ("pos", EVIL_CLASS), evaluation: bool = False) -> Path:
    """A hand-made results directory with every file the report reads (tiny values, tiny PNGs)."""
    results = root / "results"
    torch.manual_seed(0)
    model = build("mlp", seq_len=10, n_classes=2, hidden=[4])
    annotate(model, classes=["pos", "neg"], provenance={"seed": 3, "device": "cpu", "best_epoch": 2, "epochs_run": 3,
                                                        "valid_auroc": 0.75})
    (results / "model").mkdir(parents=True)
    save_model(model, results / "model" / "model.pt")
    write_tsv(results / "model" / "metrics.tsv", ["split", "class", "auroc", "auprc", "accuracy", "n", "n_class"],
              [["test", "pos", "0.912345", "0.8", "0.75", "40", "20"],
               ["test", "<script>alert(1)</script>", "0.5", "NA", "0.5", "40", "20"]])
    write_png(results / "model" / "roc_pr.png", (1, 2, 3))
    write_tsv(results / "model" / "train_log.tsv", ["epoch", "train_loss", "valid_loss", "valid_auroc", "valid_auprc", "best"],
              [[1, 0.7, 0.69, 0.6, 0.6, 1], [2, 0.5, 0.55, 0.75, 0.7, 1], [3, 0.4, 0.6, 0.7, 0.7, 0]])
    (results / "data").mkdir()
    (results / "data" / "dataset.json").write_text(json.dumps(
        {"classes": list(classes), "n_windows": 40, "seq_len": 10, "source": "genome", "split_method": "random",
         "split_counts": {c: {"test": 10, "train": 8, "valid": 2} for c in classes}}))
    for k, cls in enumerate(classes):
        for j, method in enumerate(METHODS):
            label = f"{cls}.{method}"
            attr = results / "attributions" / label
            # rows: logit 1 (rank 3), 5 (rank 1, minus strand), 3 (rank 2)
            write_tsv(attr / "regions.tsv", ["chrom", "start", "end", "strand", "name", "class", "split", "row", "logit",
                                             "relevance_sum"],
                      [["chr1", 100, 110, "+", "w0", cls, "test", 0, "1.0", "0.9"],
                       ["chr1", 200, 210, "-", "w1", cls, "test", 1, "5.0", "4.9"],
                       ["chr2", 300, 310, "+", "w2", cls, "test", 2, "3.0", "2.9"]])
            (attr / "settings.json").write_text(json.dumps({"class": cls, "method": method, "n_windows": 3,
                                                            "selection": "test"}))
            motifs = results / "motifs" / label
            write_tsv(motifs / "motifs.tsv", ["motif", "sign", "n_seqlets", "width", "consensus", "best_id", "best_name",
                                              "p_value", "q_value", "significant", "matched_by"],
                      [[f"{label}.pos_0", "positive", 30, 6, "CCGCGG", "MA0139.2", "CTCF", "1e-9", "2.5e-7", "true", "pwm"]])
            write_tsv(motifs / "tomtom.tsv", ["query", "target_id", "target_name", "p_value", "q_value", "offset",
                                              "overlap", "strand"],
                      [[f"{label}.pos_0", "MA0139.2", "CTCF", "1e-9", "2.5e-7", 0, 6, "+"],
                       [f"{label}.pos_0.cwm", "MA1930.2", "CTCF-like", "1e-5", "0.001", 0, 6, "+"],
                       [f"{label}.pos_0", "MA9999.1", "NOTSIG", "0.1", "0.5", 0, 6, "+"]])
            write_png(motifs / "logos" / "pos_0.png", (10 + k, 20 + j, 30))
            write_png(motifs / "regions" / "01.chr1_200_210.png", (40 + k, 50 + j, 60))
            write_png(motifs / "regions" / "02.chr2_300_310.png", (70 + k, 80 + j, 90))
    write_tsv(results / "evaluation" / "diagnostics.tsv",
              ["class", "method", "diagnostic", "value", "threshold", "verdict", "detail"],
              [[cls, m, "border_excess", "1.25", "1.5", "pass", "mean |R| borders / centre"] for cls in classes
               for m in METHODS]
              + [[cls, "lrp", "null_exceedance", "0.75", "0.5", "warn", "<b>too many</b>"] for cls in classes])
    for cls in classes:
        for m in METHODS:
            write_png(results / "evaluation" / "diagnostics" / f"{cls}.{m}.png", (100, 110, 120))
    if evaluation:
        write_tsv(results / "evaluation" / "summary.tsv",
                  ["class", "method", "family", "composite", "prune_mode", "p", "auroc", "auprc", "rma", "gini", "aopc",
                   "seconds_per_1k", "n_sequences"],
                  [["pos", "lrp", "lrp", "epsilon-plus", "", "", "0.876543", "0.5", "0.61", "0.645", "0.3", "12.5", "3"],
                   ["pos", "saliency", "baseline", "", "", "", "0.7", "0.4", "0.5", "0.4", "0.2", "3.1", "3"]])
        write_png(results / "evaluation" / "sweep.png", (130, 140, 150))
        write_png(results / "evaluation" / "deletion.png", (160, 170, 180))
    return results


def report(results: Path, classes: tuple[str, ...] = ("pos", EVIL_CLASS), evaluation: bool = False, **options) -> str:
    return build_report(results, {"seed": 3, "report": options}, classes, METHODS, evaluation=evaluation,
                        options=ReportOptions.from_config(options), now=NOW)


def section(html: str, anchor: str) -> str:
    """The HTML of one ``<section id=anchor>``."""
    start = html.index(f'<section id="{anchor}">')
    return html[start: html.index("</section>", start)]


def test_report_has_every_section_heading(tmp_path):
    html = report(make_run(tmp_path))
    for number, (anchor, title) in enumerate(SECTIONS, start=1):
        assert f'<section id="{anchor}"><h2>{number}. {title}</h2>' in html
        assert f'<a href="#{anchor}">{title}</a>' in html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "2026-01-02 03:04:05 UTC" in html
    # the header links to the browser page written beside the report (results/browser.html)
    header = html[html.index("<header"):html.index("</header>")]
    assert '<a href="browser.html">the top regions in an interactive genome browser</a>' in header


def test_figures_are_embedded_and_nothing_is_fetched(tmp_path):
    results = make_run(tmp_path)
    html = report(results)
    assert external_references(html) == []
    sources = re.findall(r'<img src="([^"]*)"', html)
    # ROC/PR, training curve, 2 classes x 2 methods x (diagnostics figure, logo, 2 region pictures)
    assert len(sources) == 2 + 4 * 4
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert b64((results / "model" / "roc_pr.png").read_bytes()) in html
    assert b64((results / "motifs" / "pos.plrp" / "logos" / "pos_0.png").read_bytes()) in html


def test_file_contents_are_escaped_never_markup(tmp_path):
    html = report(make_run(tmp_path))
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # metrics.tsv class column, as text
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.lrp" in html  # class name in headings
    assert "&lt;b&gt;too many&lt;/b&gt;" in html  # diagnostics detail column
    assert "<b>too many</b>" not in html


def test_without_truth_the_evaluation_is_a_note_even_with_stale_files(tmp_path):
    results = make_run(tmp_path, evaluation=True)  # files of an earlier run with a truth BED
    evaluation = section(report(results, evaluation=False), "evaluation")
    assert NO_EVALUATION.replace("'", "&#x27;") in evaluation
    assert "0.8765" not in evaluation and "<img" not in evaluation


def test_with_truth_the_evaluation_table_and_figures_are_shown(tmp_path):
    results = make_run(tmp_path, evaluation=True)
    evaluation = section(report(results, evaluation=True), "evaluation")
    assert "0.8765" in evaluation and "12.5" in evaluation  # auroc 0.876543 -> 4 significant digits
    assert '<tr class="configured">' in evaluation  # the configured method "lrp" is highlighted in the full table
    assert b64((results / "evaluation" / "sweep.png").read_bytes()) in evaluation
    assert b64((results / "evaluation" / "deletion.png").read_bytes()) in evaluation
    (results / "evaluation" / "summary.tsv").unlink()
    assert "results/evaluation/summary.tsv does not exist" in section(report(results, evaluation=True), "evaluation")


def test_model_hash_is_the_sha256_of_the_checkpoint(tmp_path):
    results = make_run(tmp_path)
    digest = hashlib.sha256((results / "model" / "model.pt").read_bytes()).hexdigest()
    summary = section(report(results), "summary")
    assert f"<td><code>{digest}</code></td>" in summary
    assert "mlp, 174 parameters, seq_len 10, classes pos, neg" in summary  # (40*4 + 4) + (4*2 + 2)
    assert "kept epoch 2 of 3, seed 3, validation AUROC 0.75" in summary


def test_input_files_are_listed_with_size_and_hash(tmp_path):
    results = make_run(tmp_path)
    small = tmp_path / "peaks.bed"
    small.write_text("chr1\t0\t10\n")
    big = tmp_path / "genome.fa"
    big.write_bytes(b">chr1\n" + b"A" * 2048 + b"\n")
    html = build_report(results, {}, ("pos", EVIL_CLASS), METHODS, evaluation=False,
                        inputs=[str(small), str(big), None, str(tmp_path / "absent.bed")],
                        options=ReportOptions(hash_limit_mb=1 / 1024), now=NOW)
    summary = section(html, "summary")
    assert hashlib.sha256(small.read_bytes()).hexdigest() in summary
    assert hashlib.sha256(big.read_bytes()).hexdigest() not in summary  # 2055 bytes > 1 KiB limit
    assert "not hashed (larger than report.hash_limit_mb, 1.0 KiB)" in summary
    assert "2.0 KiB" in summary and "10 B" in summary and "missing" in summary


def test_tiled_runs_caption_the_probability_histogram_not_a_roc(tmp_path):
    results = make_run(tmp_path)
    assert "ROC and precision-recall curves of the test split" in section(report(results), "classifier")
    write_tsv(results / "model" / "metrics.tsv", ["split", "class", "auroc", "auprc", "accuracy", "n", "n_class"],
              [["tile", "all", "NA", "NA", "NA", "40", "0"]])
    classifier = section(report(results), "classifier")
    assert "Predicted probabilities of the tiles" in classifier and "curves of the test split" not in classifier


def test_missing_metrics_is_an_error_and_writes_nothing(tmp_path):
    results = make_run(tmp_path)
    (results / "model" / "metrics.tsv").unlink()
    out = results / "report.html"
    with pytest.raises(InputError, match=r"metrics\.tsv: required input missing"):
        write_report(out, results, {}, ("pos",), METHODS, evaluation=False)
    assert not out.exists() and not list(results.glob(".report.html*"))


def test_malformed_metrics_names_the_file_and_column(tmp_path):
    results = make_run(tmp_path)
    write_tsv(results / "model" / "metrics.tsv", ["split", "class", "auprc"], [["test", "pos", "0.5"]])
    with pytest.raises(InputError, match=r"metrics\.tsv:1: missing column\(s\) auroc"):
        report(results)
    write_tsv(results / "model" / "metrics.tsv", ["split", "class", "auroc", "auprc"], [["test", "pos", "0.5"]])
    with pytest.raises(InputError, match=r"metrics\.tsv:2: 3 fields, the header has 4"):
        report(results)


def test_missing_optional_inputs_become_notes(tmp_path):
    results = make_run(tmp_path)
    for path in ("model/roc_pr.png", "model/train_log.tsv", "evaluation/diagnostics.tsv", "motifs/pos.lrp/motifs.tsv"):
        (results / path).unlink()
    (results / "motifs" / "pos.plrp" / "logos" / "pos_0.png").write_bytes(b"GIF89a not a png")
    html = report(results)
    assert "No figure: results/model/roc_pr.png does not exist." in html
    assert "No training log: the model was imported" in html
    assert "results/evaluation/diagnostics.tsv does not exist." in section(html, "diagnostics")
    assert "results/motifs/pos.lrp/motifs.tsv does not exist." in section(html, "motifs")
    assert "pos_0.png: not a PNG file (bad signature)" in section(html, "motifs")


def test_diagnostics_show_verdict_badges_and_thresholds(tmp_path):
    diagnostics = section(report(make_run(tmp_path)), "diagnostics")
    assert 'Verdicts: <span class="badge pass">pass</span> 4  <span class="badge warn">warn</span> 2.' in diagnostics
    row = ('<tr><td><code>null_exceedance</code></td><td class="num">0.75</td><td class="num">0.5</td>'
           '<td><span class="badge warn">warn</span></td>')
    assert row in diagnostics
    assert diagnostics.count('<span class="badge warn">warn</span>') == 1 + 2
    assert diagnostics.count('<span class="badge pass">pass</span>') == 1 + 4


def test_motifs_show_best_match_q_value_and_other_significant_matches(tmp_path):
    motifs = section(report(make_run(tmp_path)), "motifs")
    assert "<td>CTCF (MA0139.2)</td><td class=\"num\">2.5e-07</td>" in motifs
    assert "<td>CTCF-like (MA1930.2)</td>" in motifs  # significant CWM-query hit, q 0.001 < 0.05
    assert "NOTSIG" not in motifs  # q 0.5
    assert "3 windows (test) explained by their class logit" in motifs


def test_region_pictures_carry_their_window_coordinates_and_logit(tmp_path):
    results = make_run(tmp_path)
    regions = section(report(results), "regions")
    first = b64((results / "motifs" / "pos.lrp" / "regions" / "01.chr1_200_210.png").read_bytes())
    second = b64((results / "motifs" / "pos.lrp" / "regions" / "02.chr2_300_310.png").read_bytes())
    assert regions.index(first) < regions.index(second)
    row = ('<tr><td class="num">1</td><td>w1</td><td><code>chr1:200-210(-)</code></td>'
           '<td><code>chr1:201-210</code></td><td class="num">5</td></tr>')
    assert row in regions


def test_region_pictures_follow_the_rank_when_coordinates_repeat(tmp_path):
    """Two windows at the same place on both strands: rank k is the k-th highest logit."""
    windows = write_tsv(tmp_path / "regions.tsv", ["chrom", "start", "end", "strand", "name", "logit"],
                        [["chrX", "-5", "5", "+", "a", "2.0"], ["chrX", "-5", "5", "-", "b", "7.0"],
                         ["chrX", "50", "60", "+", "c", "1.0"]])
    pictures = tmp_path / "regions"
    for name in ("01.chrX_-5_5.png", "02.chrX_-5_5.png", "03.chrX_50_60.png", "notes.png"):
        write_png(pictures / name, (0, 0, 0))
    found = region_pictures(pictures, read_tsv(windows))
    assert [(p.rank, p.strand, p.name, p.logit) for p in found] == [(1, "-", "b", 7.0), (2, "+", "a", 2.0),
                                                                   (3, "+", "c", 1.0)]
    assert locus("chrX", -5, 5, "-") == ("chrX:-5-5(-)", "chrX:1-5")
    unknown = region_pictures(pictures, None)
    assert [(p.rank, p.chrom, p.start, p.end, p.strand, p.logit) for p in unknown] == [
        (1, "chrX", -5, 5, None, None), (2, "chrX", -5, 5, None, None), (3, "chrX", 50, 60, None, None)]


def test_picture_caps(tmp_path):
    results = make_run(tmp_path)
    html = report(results, max_regions=1, max_motifs=0)
    assert b64((results / "motifs" / "pos.lrp" / "regions" / "01.chr1_200_210.png").read_bytes()) in html
    assert b64((results / "motifs" / "pos.lrp" / "regions" / "02.chr2_300_310.png").read_bytes()) not in html
    assert "1 more pictures in results/motifs/pos.lrp/regions (report.max_regions = 1)." in html
    assert "1 more logos in results/motifs/pos.lrp/logos (report.max_motifs = 0)." in html
    assert len(re.findall(r"<img ", html)) == 2 + 4 * 2  # ROC, curve; per pair: diagnostics figure, 1 region


def test_file_index_lists_existing_outputs(tmp_path):
    results = make_run(tmp_path)
    (results / "tracks").mkdir()
    (results / "tracks" / "pos.lrp.bw").write_bytes(b"\0" * 3000)
    files = section(report(results), "files")
    assert "<code>results/tracks/pos.lrp.bw</code></td><td class=\"num\">2.9 KiB</td>" in files
    assert "<code>results/motifs/pos.lrp/regions/</code></td><td class=\"num\">2 files</td>" in files
    assert "pos.plrp.bw" not in files  # absent outputs are not listed


def test_number_formatting():
    assert [fmt(t) for t in ("0.123456", "12", "-3", "NA", "", "1.2e-17", "true", "nan")] == [
        "0.1235", "12", "-3", "NA", "", "1.2e-17", "true", "nan"]


def test_options_defaults_match_the_schema():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    properties = schema["properties"]["report"]["properties"]
    assert {k: v["default"] for k, v in properties.items()} == vars(ReportOptions())
    assert ReportOptions.from_config({"max_regions": 3}) == ReportOptions(max_regions=3)


def test_external_reference_check_catches_fetches():
    page = ('<img src="http://example.org/a.png"><a href="#ok">x</a><img src="data:image/png;base64,AAAA">'
            '<a href="other.html">y</a><style>body{background:url(https://f/x.png)}</style><script>1</script>'
            "<link rel=stylesheet href='//cdn/x.css'>")
    found = external_references(page)
    assert found == ['src="http://example.org/a.png"', 'href="other.html"', "href=\"//cdn/x.css\"",
                     "url(https://f/x.png)", "<script> tag", "<link> tag"]
    assert external_references('<a href="#files">files</a><img src="data:image/png;base64,AAAA">') == []
    # the link to the browser page beside the report is followed only when clicked; a fetch of it is not allowed
    assert external_references('<a href="browser.html">browser</a>') == []
    assert external_references('<img src="browser.html">') == ['src="browser.html"']


def test_report_renders_in_headless_chromium(tmp_path):
    need_program("chromium", find_browser())
    results = make_run(tmp_path, evaluation=True)
    out = results / "report.html"
    write_report(out, results, {}, ("pos", EVIL_CLASS), METHODS, evaluation=True)
    screenshot = tmp_path / "report.png"
    assert check(out, screenshot, [anchor for anchor, _ in SECTIONS], width=1000, height=1500) == []
    assert png_size(screenshot) == (1000, 1500)


def test_gpu_jobs_that_ran_on_the_cpu_are_named_in_the_run_section(tmp_path):
    from seqlrp.models.device import GPU_FALLBACK

    results = make_run(tmp_path)
    assert "GPU jobs run on the CPU" not in section(report(results), "summary")
    logs = results / "logs" / "attribute"
    logs.mkdir(parents=True)
    (logs / "pos.lrp.shard0.log").write_text(f"2026-12-06 INFO x: start\n2026-12-06 WARNING y: {GPU_FALLBACK} (...)\n")
    (logs / "pos.lrp.log").write_text("2026-12-06 INFO x: nothing about GPUs\n")
    summary = section(report(results), "summary")
    assert "GPU jobs run on the CPU" in summary
    assert "1 job(s) asked for a GPU, but torch saw no CUDA device on their node: attribute/pos.lrp.shard0" in summary
