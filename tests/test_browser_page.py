"""The offline browser page (results/browser.html): what it holds, and what Chromium makes of it."""

import base64
import csv
import gzip
import io
import json
import re
import tarfile

import numpy as np
import pyBigWig
import pytest
from browser_session import visit
from conftest import TINY_DEMO, random_sequence, write_fasta, write_lines

from seqlrp.report.browser import BrowserInputs, write_browser
from seqlrp.report.browser_data import Slices, dataset_reference, float32_text, igv_names
from seqlrp.report.browser_page import script_json
from seqlrp.report.igv_bundle import IGV_VERSION, IgvBundle, IgvNotInstalled, check_integrity, install, load

PER_LIST = TINY_DEMO.get("browser", {}).get("regions_per_list", 25)
LETTER_COLOURS = {"A": (0, 200, 0), "C": (0, 0, 200), "G": (209, 113, 5), "T": (255, 0, 0)}  # igv.js's


def page_json(path) -> dict:
    """The JSON document a page embeds."""
    text = path.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="seqlrp-data">(.*?)</script>', text, re.S)
    return json.loads(found[1])


def data_uri_text(uri: str) -> str:
    head, _, body = uri.partition(",")
    assert head == "data:application/gzip;base64"
    return gzip.decompress(base64.b64decode(body)).decode("utf-8")


def reference_slices(data: dict) -> dict[str, list[tuple[int, str]]]:
    """igv contig -> [(0-based start, bases)] of the page's FASTA (``>name:from-to @len=N`` headers)."""
    slices: dict[str, list[tuple[int, str]]] = {}
    name = None
    for line in data_uri_text(data["reference"]["fastaURL"]).splitlines():
        if line.startswith(">"):
            contig, span = line[1:].split()[0].split(":")
            name, start = contig, int(span.split("-")[0]) - 1
            slices.setdefault(name, []).append([start, ""])
        else:
            slices[name][-1][1] += line
    return {contig: [tuple(piece) for piece in pieces] for contig, pieces in slices.items()}


def bedgraph_values(uri: str) -> dict[tuple[str, int], float]:
    values = {}
    for line in data_uri_text(uri).splitlines():
        chrom, start, end, value = line.split("\t")
        assert int(end) == int(start) + 1
        values[(chrom, int(start))] = float(value)
    return values


def track(data: dict, name: str) -> dict:
    return next(t for t in data["tracks"] if t["name"] == name)


# ---- pieces, in process --------------------------------------------------------------------------


def test_script_json_keeps_markup_out_of_the_script_element():
    hostile = {"name": 'x</script><script>alert(1)</script><!--', "q": '"><img src=x onerror=alert(2)>&amp;',
               "line": "a\u2028b"}
    text = script_json(hostile)
    assert not set("<>&") & set(text) and "\u2028" not in text
    assert json.loads(text) == hostile


def test_contig_names_igv_cannot_parse_or_would_merge_are_renamed_uniquely():
    names = igv_names(["chr1:100-200", "chr1", "chr1_100-200", "a b<c>", "HLA-A*01:01"])
    assert names["chr1"] == "chr1" and names["chr1_100-200"] == "chr1_100-200"  # real names first
    assert names["chr1:100-200"] == "chr1_100-200_2"
    assert names["a b<c>"] == "a_b_c_" and names["HLA-A*01:01"] == "HLA-A_01_01"
    # igv.js takes 1 and chr1, M and chrMT, Abc and abc for one contig: each gets its own name
    merged = igv_names(["chr1", "1", "chrM", "MT", "Abc", "abc"])
    assert merged == {"chr1": "chr1", "1": "1_2", "chrM": "chrM", "MT": "MT_2", "Abc": "Abc", "abc": "abc_2"}
    assert igv_names(["variant3_alt"], reserved={"Variant3_alt"}) == {"variant3_alt": "variant3_alt_2"}


def test_slices_merge_overlapping_regions_and_clip_to_the_contig():
    slices = Slices.of([("c", 50, 80), ("c", 10, 30), ("c", 25, 40), ("c", -5, 3), ("d", 90, 130)], {"c": 100, "d": 120})
    assert slices.intervals == {"c": [(0, 3), (10, 40), (50, 80)], "d": [(90, 120)]}
    assert slices.overlaps("c", 39, 45) and not slices.overlaps("c", 40, 50) and slices.overlaps("c", 79, 200)
    assert not slices.overlaps("c", 3, 10) and not slices.overlaps("e", 0, 10)
    assert slices.n_bases == 3 + 30 + 30 + 30


def test_a_track_scale_is_symmetric_and_not_set_by_a_few_extreme_bases():
    from seqlrp.report.browser_data import scale_of

    assert scale_of([np.linspace(-0.1, 0.0937, 1000), np.array([50.0, np.nan])]) == 0.1
    assert 0.004 < scale_of([np.array([0.0, 0.0, 0.0, 0.004321])]) <= 0.0044  # mostly zero: not zero
    assert scale_of([np.array([np.nan])]) == scale_of([]) == 1.0


def test_values_are_written_as_the_same_float32():
    values = np.array([0.1, -1e-8, 3.4028235e38, 12345.678, 1 / 3], dtype=np.float32)
    assert np.array_equal(np.array([float(t) for t in float32_text(values)], dtype=np.float32), values)


def test_records_are_shown_on_the_forward_strand_of_their_contig():
    """A FASTA-of-sequences run has no genome: the page rebuilds each window from the data set,
    a minus-strand window reverse-complemented back to the contig's forward strand."""
    onehot = np.zeros((2, 4, 6), dtype=np.uint8)
    for row, text in enumerate(["ACGTAC", "TTGCAN"]):
        for i, base in enumerate(text):
            if base in "ACGT":
                onehot[row, "ACGT".index(base), i] = 1
    # window 1 read on the minus strand: its forward-strand bases are revcomp("TTGCAN") = "NTGCAA"
    windows = [("chr1:1-9", 0, 6, "+"), ("chr1:1-9", 4, 10, "-")]
    reference = dataset_reference(onehot, windows, Slices.of([(c, s, e) for c, s, e, _ in windows], {"chr1:1-9": 10}))
    # base 4-5 is covered by both: the first window's call wins; base 5 is N in window 2 anyway
    assert reference == {("chr1:1-9", 0, 10): "ACGTACGCAA"}


def test_igv_js_is_checked_against_the_registry_hash(tmp_path):
    with pytest.raises(ValueError, match="SHA-512"):
        check_integrity(b"not igv")
    fake = io.BytesIO()
    with tarfile.open(fileobj=fake, mode="w:gz") as archive:
        info = tarfile.TarInfo("package/dist/igv.min.js")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"//"))
    (tmp_path / "igv.tgz").write_bytes(fake.getvalue())
    with pytest.raises(ValueError, match="does not have the SHA-512"):
        install(tmp_path / "igv.tgz", tmp_path / "bundle")
    assert not (tmp_path / "bundle" / "igv.min.js").exists()
    with pytest.raises(IgvNotInstalled, match=r"igv.js 3\.\d+\.\d+ is not installed; run `make venv`"):
        load(tmp_path / "bundle")
    # another igv.js in the folder is refused, not embedded under the pinned version's name
    for name, text in (("igv.min.js", "//"), ("LICENSE", "MIT"), ("package.json", '{"version": "2.15.0"}')):
        (tmp_path / "bundle" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "bundle" / name).write_text(text)
    with pytest.raises(IgvNotInstalled, match=r"igv.js 2\.15\.0 is installed there, the page needs 3\.8\.10"):
        load(tmp_path / "bundle")


def test_the_rule_without_igv_js_fails_in_one_line_naming_the_command(tmp_path, monkeypatch):
    from seqlrp.errors import SeqlrpError
    from seqlrp.stages.browser import run

    monkeypatch.setenv("SEQLRP_IGV_DIR", str(tmp_path / "nothing here"))
    inputs = _hostile_run(tmp_path, {**HOSTILE, "contig": "chr2", "cls": "c"})
    with pytest.raises(SeqlrpError, match=r"igv\.min\.js: igv\.js 3\.8\.10 is not installed; run `make venv` or "
                                          r"`python -m seqlrp\.report\.igv_bundle install`") as raised:
        run(tmp_path / "browser.html", {"regions_per_list": 5, "max_megabytes": 50}, inputs, title="t", subtitle="")
    assert "\n" not in str(raised.value) and not (tmp_path / "browser.html").exists()
    with pytest.raises(SeqlrpError, match="even with one region per list, over browser.max_megabytes"):
        monkeypatch.delenv("SEQLRP_IGV_DIR")
        run(tmp_path / "browser.html", {"regions_per_list": 5, "max_megabytes": 0.5}, inputs, title="t", subtitle="")
    assert not list(tmp_path.glob("*browser.html*"))


def test_installed_igv_js_is_the_pinned_version():
    from seqlrp.report.igv_bundle import bundle_dir

    bundle = load()
    assert bundle.version == IGV_VERSION and "MIT License" in bundle.license
    assert json.loads((bundle_dir() / "package.json").read_text())["version"] == IGV_VERSION
    assert bundle.script.startswith("!function(") and ").igv=" in bundle.script[:400]
    assert not re.search(r"</script|<!--", bundle.script, re.I)


def write_tsv(path, rows):
    """A table as seqlrp writes its tables (csv.writer: a field holding a quote is quoted)."""
    with open(path, "w", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows(rows)
    return path


def _hostile_run(tmp_path, names):
    """A small run's files (genome, a bigWig, windows, seqlets, truth, a variant table) whose names
    are ``names``; returns the BrowserInputs."""
    records = {"chr1": random_sequence(400, 1), names["contig"]: random_sequence(300, 2)}
    genome = write_fasta(tmp_path / "genome.fa", records)
    sizes = write_lines(tmp_path / "chrom_sizes.tsv", ["chr1\t400", f"{names['contig']}\t300"])
    windows = write_tsv(tmp_path / "regions.tsv", [
        ["chrom", "start", "end", "strand", "name", "class", "split", "row", "logit", "relevance_sum"],
        ["chr1", 100, 200, "+", names["window"], names["cls"], "test", 0, 2.5, 1],
        [names["contig"], 50, 150, "-", "plain", names["cls"], "test", 1, 1.5, 1]])
    bigwig = tmp_path / "relevance.bw"
    handle = pyBigWig.open(str(bigwig), "w")
    handle.addHeader([("chr1", 400), (names["contig"], 300)])
    rng = np.random.default_rng(0)
    handle.addEntries("chr1", 100, values=rng.normal(0, 0.1, 100).tolist(), span=1, step=1)
    handle.addEntries(names["contig"], 50, values=rng.normal(0, 0.1, 100).tolist(), span=1, step=1)
    handle.close()
    seqlets = write_lines(tmp_path / "seqlets.bed", [f"chr1\t120\t140\t{names['seqlet']}\t500\t+\t120\t140\t255,0,0"])
    truth = write_lines(tmp_path / "truth.bed", [f"chr1\t125\t135\t{names['motif']}\t0\t+"])
    columns = ["chrom", "pos", "id", "ref", "alt", "variant", "kind", "class", "method", "delta", "p_value"]
    records = list(records.values())
    variants = write_tsv(tmp_path / "scores.tsv", [
        columns, ["chr1", 151, names["variant"], records[0][150], "A", 0, "snv", names["cls"], "lrp", -0.5, 0.01],
        [names["contig"], 101, "second", records[1][100], "C", 1, "snv", names["cls"], "lrp", 0.25, 0.02]])
    pair = (names["cls"], "lrp")
    return BrowserInputs(pairs=[pair], chrom_sizes=sizes, seq_len=100, windows={names["cls"]: windows},
                         bigwigs={pair: bigwig}, seqlets={pair: seqlets}, truth=truth, variant_scores=variants,
                         genome=genome, genome_index=tmp_path / "index")


HOSTILE = {"contig": "x<y>&z:1", "window": '"><img src=x onerror="window.__pwned=1">',
           "cls": "c</script><script>window.__pwned=2</script><!--", "seqlet": "<svg onload=window.__pwned=3>",
           "motif": "<img src=x onerror=window.__pwned=4>", "variant": "rs1</script><script>window.__pwned=5</script>"}


def test_a_page_is_the_same_bytes_each_time_and_shows_fewer_regions_rather_than_grow_past_its_limit(tmp_path, caplog):
    inputs = _hostile_run(tmp_path, {**HOSTILE, "contig": "chr2", "cls": "c"})
    bundle = IgvBundle("0", "/* igv */", "MIT")
    shown = write_browser(tmp_path / "big.html", inputs, bundle, per_list=8, max_megabytes=50)
    assert shown["per_list"] == 8 and shown["regions"] == 5  # 2 windows, 1 seqlet window, 2 variants
    small = write_browser(tmp_path / "small.html", inputs, bundle, per_list=8, max_megabytes=shown["bytes"] / 1e6 - 1e-3)
    assert small["per_list"] == 1 and small["regions"] == 3 and small["bytes"] < shown["bytes"]
    # the same bytes from another process, whatever its hash seed
    import subprocess
    import sys

    code = ("import pickle, sys; from seqlrp.report.browser import write_browser; "
            "from seqlrp.report.igv_bundle import IgvBundle; inputs = pickle.load(open(sys.argv[1], 'rb')); "
            "write_browser(sys.argv[2], inputs, IgvBundle('0', '/* igv */', 'MIT'), per_list=8, max_megabytes=50)")
    import pickle

    (tmp_path / "inputs.pickle").write_bytes(pickle.dumps(inputs))
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "inputs.pickle"), str(tmp_path / "other.html")],
                   check=True, env={**__import__("os").environ, "PYTHONHASHSEED": "12345"})
    assert (tmp_path / "other.html").read_bytes() == (tmp_path / "big.html").read_bytes()
    assert "over browser.max_megabytes" in caplog.text
    again = write_browser(tmp_path / "again.html", inputs, bundle, per_list=8, max_megabytes=50)
    assert again == shown and (tmp_path / "again.html").read_bytes() == (tmp_path / "big.html").read_bytes()
    with pytest.raises(ValueError, match="even with one region per list"):
        write_browser(tmp_path / "tiny.html", inputs, bundle, per_list=8, max_megabytes=1e-3)
    assert not (tmp_path / "tiny.html").exists()


# ---- the tiny demo's page -------------------------------------------------------------------------


def _top(table, cls, n):
    rows = list(csv.DictReader(open(table), delimiter="\t"))
    order = sorted(range(len(rows)), key=lambda i: (-float(rows[i]["logit"]), i))[:n]
    return [rows[i] for i in order]


@pytest.mark.workflow
def test_the_demo_page_holds_the_run_files_at_the_chosen_regions(tiny_demo_run):
    results = tiny_demo_run / "results"
    data = page_json(results / "browser.html")
    regions = data["regions"]
    classes, methods = ["positive", "negative"], list(TINY_DEMO["attribute"]["methods"])
    # the region list: the top windows by logit of each class, as regions.tsv ranks them
    for cls in classes:
        expected = _top(results / "attributions" / f"{cls}.{methods[0]}" / "regions.tsv", cls, PER_LIST)
        listed = [r for r in regions if r["kind"] == "top logit" and r["cls"] == cls]
        assert [r["name"] for r in listed] == [row["name"] for row in expected]
        assert [r["locus"] for r in listed] == [f"{row['chrom']}:{int(row['start']) + 1}-{row['end']}" for row in expected]
        assert np.allclose([r["score"] for r in listed], [float(row["logit"]) for row in expected])
    assert any(r["kind"] == "seqlets" for r in regions) and any(r["kind"] == "variant" for r in regions)
    # the reference slices are the genome's bases; a minus-strand window shows the forward strand
    import pyfaidx

    genome = pyfaidx.Fasta(str(results / "demo" / "genome.fa.gz"))
    slices = reference_slices(data)
    for contig, pieces in slices.items():
        if contig.startswith("variant"):
            continue
        for start, bases in pieces:
            assert bases == str(genome[contig][start:start + len(bases)]).upper()
    # every listed window lies inside a slice; a minus-strand one shows the forward strand of the
    # genome, the reverse complement of what the model read (the data set's row of that window)
    from seqlrp.formats.table import read_regions_tsv

    def slice_bases(chrom, start, end):
        piece = next((s, b) for s, b in slices[chrom] if s <= start and s + len(b) >= end)
        return piece[1][start - piece[0]:end - piece[0]]

    for region in regions:
        chrom, span = region["locus"].split(" ")[0].split(":")
        start, end = int(span.split("-")[0]) - 1, int(span.split("-")[1])
        assert len(slice_bases(chrom, start, end)) == end - start
    table = read_regions_tsv(results / "data" / "regions.tsv")
    onehot = np.load(results / "data" / "onehot.npy", mmap_mode="r")
    minus = [r for r in regions if r["position"].endswith("(-)")]
    assert minus
    for region in minus:
        row = table.name.index(region["name"])
        chrom, start, end = table.chrom[row], table.start[row], table.end[row]
        read = "".join("ACGT"[i] if onehot[row][:, j].any() else "N" for j, i in enumerate(onehot[row].argmax(0)))
        assert slice_bases(chrom, start, end) == read[::-1].translate(str.maketrans("ACGTN", "TGCAN"))
    # relevance: the bigWig's value at every base of every slice, in genome orientation
    for cls in classes:
        for method in methods:
            shown = bedgraph_values(track(data, f"{cls} {method} relevance")["url"])
            with pyBigWig.open(str(results / "tracks" / f"{cls}.{method}.bw")) as bigwig:
                for contig, pieces in slices.items():
                    if contig.startswith("variant"):
                        continue
                    for start, bases in pieces:
                        expected = np.array(bigwig.values(contig, start, start + len(bases)), dtype=np.float32)
                        got = np.array([shown.get((contig, start + i), np.nan) for i in range(len(bases))], np.float32)
                        assert np.array_equal(np.isnan(got), np.isnan(expected))
                        assert np.array_equal(got[~np.isnan(got)], expected[~np.isnan(expected)])
            scale = track(data, f"{cls} {method} relevance")
            assert scale["graphType"] == "dynseq" and -scale["min"] == scale["max"] >= np.quantile(np.abs(list(shown.values())), 0.995)
            # seqlet BED lines overlapping the slices, as the BED has them
            seqlets = data_uri_text(track(data, f"{cls} {method} seqlets")["url"]).splitlines()
            bed = (results / "seqlets" / f"{cls}.{method}.bed").read_text().splitlines()[1:]
            assert set(seqlets) <= set(bed) and (seqlets or cls == "negative")
    # variants: each listed variant has its alternative window as a contig, and ref | alt relevance
    from seqlrp.variants import open_variant_maps

    maps = open_variant_maps(results / "variants" / "maps" / f"positive.{methods[0]}")
    variant_rows = [r for r in regions if r["kind"] == "variant"]
    from seqlrp.report.variants import read_variant_scores, variant_name

    ranked = read_variant_scores(results / "variants" / "scores.tsv", top=PER_LIST)  # as the report ranks them
    assert [(r["cls"], r["name"]) for r in variant_rows] == [
        (cls, variant_name(row)) for cls, scores in ranked.classes.items() for row in scores.top()]
    shown = bedgraph_values(track(data, f"positive {methods[0]} variant windows (ref | alt)")["url"])
    for row in variant_rows[:3]:
        alt_contig = row["locus"].split(" ")[1]
        k = list(maps.variants).index(int(alt_contig[len("variant"):-len("_alt")]))
        alt = np.array([shown[(alt_contig, i)] for i in range(100)], dtype=np.float32)
        assert np.array_equal(alt, np.asarray(maps.alt(k), dtype=np.float32))


@pytest.mark.workflow
def test_the_demo_page_works_offline_in_headless_chromium(tiny_demo_run, tmp_path):
    """No network, no console or page error, no igv.js alert; letters drawn in the relevance track;
    every class x method track named; clicking a region moves the locus; a screenshot."""
    page_path = tiny_demo_run / "results" / "browser.html"
    data = page_json(page_path)
    with visit(page_path) as seen:
        page = seen.page
        assert page.evaluate("document.body.dataset.ready") == "true"
        names = page.evaluate("window.seqlrpBrowser.tracks.map(t => t.name)")
        for cls in ("positive", "negative"):
            for method in TINY_DEMO["attribute"]["methods"]:
                for kind in ("relevance", "seqlets", "motif instances", "variant windows (ref | alt)"):
                    assert f"{cls} {method} {kind}" in names
        page.wait_for_function("window.seqlrpBrowser.trackViews.every(v => v.viewports.every(p => !p.loading))")
        colours = page.evaluate("""(name) => {
            const view = window.seqlrpBrowser.trackViews.find(v => v.track.name === name);
            const canvas = view.viewports[0].canvas;
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            const seen = {};
            for (let i = 0; i < pixels.length; i += 4) {
                if (pixels[i + 3] > 0) { const key = pixels[i] + ',' + pixels[i + 1] + ',' + pixels[i + 2]; seen[key] = (seen[key] || 0) + 1; }
            }
            return seen;
        }""", "positive lrp relevance")
        drawn = {base for base, rgb in LETTER_COLOURS.items() if colours.get(",".join(map(str, rgb)), 0) > 20}
        assert drawn == set("ACGT"), colours  # the dynseq letters, in igv.js's four base colours
        assert page.locator(".igv-ui-alert-dialog-container").evaluate_all(
            "els => els.filter(e => getComputedStyle(e).display !== 'none').length") == 0
        # clicking the relevance track opens igv.js's popup, written as text by the page
        box = page.evaluate("""() => {
            const view = window.seqlrpBrowser.trackViews.find(v => v.track.name === 'positive lrp relevance');
            const r = view.viewports[0].viewportElement.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2];
        }""")
        page.mouse.click(*box)
        popup = page.locator(".igv-ui-popover").filter(has_text="Value")
        popup.wait_for(state="visible", timeout=5_000)
        text = popup.inner_text()
        assert re.search(r"Value:\s+-?\d", text) and "&nbsp" not in text and "<" not in text, text
        page.keyboard.press("Escape")
        before = page.evaluate("window.seqlrpBrowser.currentLoci()")
        target = next(i for i, r in enumerate(data["regions"]) if r["kind"] == "variant")
        page.locator(f"#regions tbody tr[data-index='{target}']").click()
        page.wait_for_function("(n) => window.seqlrpBrowser.currentLoci().length === n", arg=2)
        after = page.evaluate("window.seqlrpBrowser.currentLoci()")
        ref_locus, alt_contig = data["regions"][target]["locus"].split(" ")
        assert after != before and after[0] == ref_locus and after[1].startswith(alt_contig + ":")
        # the list: searching hides rows, a title sorts
        page.fill("#regions-search", "negative")
        visible = page.locator("#regions tbody tr:visible").count()
        assert 0 < visible < len(data["regions"])
        page.fill("#regions-search", "")
        page.locator("#regions th", has_text="score").click()  # scores: largest first
        scores = [float(s) for s in page.locator("#regions tbody tr td:nth-child(5)").all_inner_texts()]
        assert scores == sorted(scores, reverse=True)
        screenshot = tmp_path / "browser.png"
        page.screenshot(path=str(screenshot))
        assert screenshot.stat().st_size > 20_000
        assert seen.problems() == []


def test_a_run_with_nothing_to_show_gets_a_page_that_says_so(tmp_path):
    inputs = _hostile_run(tmp_path, {**HOSTILE, "contig": "chr2", "cls": "c"})
    write_tsv(inputs.windows["c"], [["chrom", "start", "end", "strand", "name", "class", "split", "row", "logit",
                                      "relevance_sum"]])
    empty = BrowserInputs(pairs=inputs.pairs, chrom_sizes=inputs.chrom_sizes, seq_len=100, windows=inputs.windows,
                          bigwigs=inputs.bigwigs, genome=inputs.genome, genome_index=inputs.genome_index)
    shown = write_browser(tmp_path / "empty.html", empty, load(), per_list=5, max_megabytes=50)
    assert shown["regions"] == 0 and shown["bases"] == 0
    with visit(tmp_path / "empty.html") as seen:
        assert seen.page.evaluate("document.body.dataset.ready") == "empty"
        assert "no regions to show" in seen.page.locator("#browser-error").inner_text()
        assert seen.problems() == []


def test_names_from_users_files_show_as_text_and_run_nothing(tmp_path):
    inputs = _hostile_run(tmp_path, HOSTILE)
    page_path = tmp_path / "browser.html"
    write_browser(page_path, inputs, load(), per_list=5, max_megabytes=50)
    text = page_path.read_text()
    for name in HOSTILE.values():
        assert name not in text  # nowhere raw: escaped in the HTML and in the JSON
    with visit(page_path) as seen:
        page = seen.page
        assert page.evaluate("document.body.dataset.ready") == "true"
        listed = page.locator("#regions tbody").inner_text()
        for key in ("window", "cls", "variant"):
            assert HOSTILE[key] in listed  # shown, as text
        assert "chr1:101-200" in listed  # the variant's reference window (POS 151, 100 bp)
        labels = page.evaluate("window.seqlrpBrowser.trackViews.map(v => v.track.name)")
        assert "known sites (truth.bed)" in labels
        label_text = page.locator(".igv-track-label").all_inner_texts()
        assert f"{HOSTILE['cls']} lrp relevance" in label_text
        # a clicked feature's popup: the page writes igv.js's fields as text
        popup = page.evaluate("""(names) => {
            const b = window.seqlrpBrowser;
            const html = b.fireEvent('trackclick', [b.tracks[0], names.map(n => ({name: n, value: n}))]);
            const box = document.createElement('div');
            box.innerHTML = html;
            document.body.appendChild(box);
            return box.textContent;
        }""", list(HOSTILE.values()))
        for name in HOSTILE.values():
            assert name in popup
        for key in ("window", "cls", "variant"):  # and clicking the rows runs nothing either
            page.locator("#regions tbody tr", has_text=HOSTILE[key]).first.click()
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned") is None
        # the variant on the renamed contig: its band and its alternative window are there
        roi = [f"{f['chr']} {f['name']}" for f in page_json(page_path)["roi"][0]["features"]]
        assert page.evaluate("window.seqlrpBrowser.roiManager.roiSets.length") == 1
        second = random_sequence(300, 2)[100]
        assert f"x_y__z_1 x_y__z_1:101 {second}>C" in roi and f"chr1 chr1:151 {random_sequence(400, 1)[150]}>A" in roi
        assert seen.problems() == []
        # and the page's policy refuses what igv.js might fetch (its BLAT search goes to igv.org)
        assert page.evaluate("fetch('https://igv.org/services/blat').then(() => 'fetched', () => 'refused')") == "refused"
        assert seen.refused == []  # refused by the page itself, before any request
        assert any("Content Security Policy" in text for _, text in seen.console)
