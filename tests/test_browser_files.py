"""Files for the genome browsers: track lines of the BED outputs, the bedGraph header and its
tabix index (against the re-index command docs/results.md documents), the IGV session."""

import gzip
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pysam
import pytest
from conftest import TINY_METHODS
from optional import need_program

from seqlrp.analysis.motifs import Motif, write_instances_bed
from seqlrp.analysis.seqlets import Seqlet, name_seqlets, write_seqlets_bed
from seqlrp.analysis.tomtom import Hit, motif_labels
from seqlrp.analysis.track_headers import seqlets_track_line, track_line
from seqlrp.attribution.methods import MethodSpec
from seqlrp.formats.bedgraph import BedGraphWriter
from seqlrp.formats.igv import has_item_colours, session_path
from seqlrp.formats.tabix import parse_tbi
from seqlrp.formats.trackline import bed_track_line
from seqlrp.stages.igv_session import TRUTH_COLOR
from seqlrp.stages.igv_session import run as write_igv_session

RESULTS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "results.md"  # where the docs give the reindex commands
# the re-index command docs/results.md documents, and the same settings through pysam
REINDEX = "tabix -f -p bed -S 2"
PLRP = {"composite": "epsilon-plus", "prune": {"p_pos": 0.25, "mode": "lambda"}}


def reindex_with_pysam(path, index):
    """The pysam spelling (docs/results.md) of ``tabix -p bed -S 2``: BED columns, 0-based (UCSC), meta ``#``
    (the default), 2 header lines skipped (``preset="bed"`` would ignore ``line_skip``)."""
    pysam.tabix_index(str(path), seq_col=0, start_col=1, end_col=2, zerobased=True, line_skip=2, force=True,
                      index=str(index))


def track_attributes(line: str) -> dict[str, str]:
    """``key=value`` pairs of a UCSC track line (values unquoted)."""
    words = shlex.split(line)
    assert words[0] == "track", line
    return dict(word.split("=", 1) for word in words[1:])


def assert_bed9_with_track_line(path, name: str) -> list[list[str]]:
    """The file opens with a track line named ``name`` with itemRgb="On"; the rest are BED9 lines."""
    lines = Path(path).read_text().splitlines()
    attributes = track_attributes(lines[0])
    assert attributes["name"] == name and attributes["itemRgb"] == "On" and attributes["description"]
    rows = [line.split("\t") for line in lines[1:]]
    for fields in rows:
        assert len(fields) == 9 and int(fields[1]) < int(fields[2]) and fields[6:8] == fields[1:3]
        assert fields[5] in "+-" and fields[8] in ("255,0,0", "0,0,255")
    return rows


def test_seqlets_bed_opens_with_a_track_line_naming_class_and_method(tmp_path):
    seqlets = [Seqlet(0, 2, 5, 3.0), Seqlet(1, 2, 5, -1.5)]
    line = seqlets_track_line("positive", "plrp", MethodSpec.from_settings(PLRP), 0.05)
    n = write_seqlets_bed(tmp_path / "s.bed", seqlets, ["chr1", "chr2"], np.array([100, 10]), np.array([120, 30]),
                          ["+", "-"], {"chr1": 1000, "chr2": 500}, "positive.plrp.", line)
    rows = assert_bed9_with_track_line(tmp_path / "s.bed", "positive plrp seqlets")
    assert n == 2 and [r[:4] for r in rows] == [["chr1", "102", "105", "positive.plrp.0"], ["chr2", "25", "28", "positive.plrp.1"]]
    description = track_attributes(line)["description"]
    assert "class positive, method plrp" in description and "PLRP-lambda p+=0.25" in description and "FDR 0.05" in description


def test_motif_named_seqlets_skip_the_input_track_lines_and_get_their_own(tmp_path):
    write_seqlets_bed(tmp_path / "s.bed", [Seqlet(0, 0, 20, 2.0), Seqlet(0, 100, 110, -1.0)], ["chr1"], np.array([100]),
                      np.array([300]), ["+"], {"chr1": 1000}, "c.m.", bed_track_line("c m seqlets", "input"))
    (tmp_path / "i.bed").write_text('track name="c m motif instances" itemRgb="On"\n#comment\n'
                                    "chr1\t104\t118\tCTCF(MA0139.2)\t0\t-\t104\t118\t255,0,0\n")
    named = name_seqlets(tmp_path / "s.bed", tmp_path / "i.bed", {}, tmp_path / "out.bed",
                         bed_track_line("c m seqlets by motif", "named"))
    rows = assert_bed9_with_track_line(tmp_path / "out.bed", "c m seqlets by motif")
    assert named == 1 and [r[3] for r in rows] == ["CTCF(MA0139.2)", "c.m.1"]
    # without a track line of its own the copy keeps the input's
    name_seqlets(tmp_path / "s.bed", tmp_path / "i.bed", {}, tmp_path / "kept.bed")
    assert (tmp_path / "kept.bed").read_text().splitlines()[0].startswith('track name="c m seqlets"')


def test_instances_are_bed9_named_after_the_matched_factor(tmp_path):
    pwm = np.full((4, 5), 0.25)
    ctcf = Motif("pos.lrp.pos_0", 1, pwm, np.eye(4, 5), np.zeros((4, 5)), np.array([[0, 2, 7, 0], [1, 3, 8, 1]]))
    other = Motif("pos.lrp.neg_0", -1, pwm, -np.eye(4, 5), np.zeros((4, 5)), np.array([[0, 10, 15, 0]]))
    significant = {"pos.lrp.pos_0": Hit("pos.lrp.pos_0", "MA0139.2", "CTCF", 1e-6, 1e-4, 0, 5, "+")}
    labels = motif_labels([ctcf, other], significant)
    assert labels == {"pos.lrp.pos_0": "CTCF(MA0139.2)", "pos.lrp.neg_0": "neg_0"}
    n = write_instances_bed(tmp_path / "i.bed", [ctcf, other], ["chr1", "chr2"], np.array([100, 200]),
                            np.array([200, 300]), ["+", "-"], labels, bed_track_line("pos lrp motif instances", "x"))
    rows = assert_bed9_with_track_line(tmp_path / "i.bed", "pos lrp motif instances")
    assert n == 3 and [r[:6] + r[8:] for r in rows] == [
        ["chr1", "102", "107", "CTCF(MA0139.2)", "0", "+", "255,0,0"],
        ["chr1", "110", "115", "neg_0", "0", "+", "0,0,255"],
        ["chr2", "292", "297", "CTCF(MA0139.2)", "0", "+", "255,0,0"],
    ]


PROVENANCE = {"seqlrp": "0.1.0", "torch": "2.13.0", "model_sha256": "ab" * 32}


def write_bedgraph(path):
    header = track_line("positive", "lrp", PLRP, "mean", provenance=PROVENANCE)
    with BedGraphWriter(path, header, compress_level=2) as writer:
        writer.add("chr1", np.arange(0, 50_000, 7), np.arange(0, 50_000, 7) + 3, np.linspace(-1, 1, 7143))
        writer.add("chr2", np.array([5, 20]), np.array([10, 30]), np.array([0.5, -0.25]))


def test_bedgraph_header_puts_provenance_first_where_tabix_shows_it(tmp_path):
    path = tmp_path / "t.bedGraph.gz"
    write_bedgraph(path)
    with gzip.open(path, "rt") as handle:
        first, second, third = (handle.readline().rstrip("\n") for _ in range(3))
    assert first == "#seqlrp provenance: seqlrp=0.1.0 torch=2.13.0 model_sha256=" + "ab" * 32
    assert second.startswith('track type=bedGraph name="positive lrp" description="seqlrp ') and third == "chr1\t0\t3\t-1"
    assert parse_tbi(gzip.decompress((tmp_path / "t.bedGraph.gz.tbi").read_bytes()))["header"][-2:] == (ord("#"), 2)
    with pysam.TabixFile(str(path)) as tabix:  # the header lines as ``tabix -H`` prints them
        assert list(tabix.header) == [first]
        assert list(tabix.fetch("chr1", 0, 4)) == ["chr1\t0\t3\t-1"]
        assert all(not line.startswith(("#", "track")) for line in tabix.fetch("chr1"))
        assert list(tabix.fetch("chr2")) == ["chr2\t5\t10\t0.5", "chr2\t20\t30\t-0.25"]


def test_our_index_equals_the_documented_reindex_command(tmp_path):
    path = tmp_path / "t.bedGraph.gz"
    write_bedgraph(path)
    reindex_with_pysam(path, tmp_path / "pysam.tbi")
    ours = parse_tbi(gzip.decompress((tmp_path / "t.bedGraph.gz.tbi").read_bytes()))
    assert ours == parse_tbi(gzip.decompress((tmp_path / "pysam.tbi").read_bytes()))
    with pysam.TabixFile(str(path), index=str(tmp_path / "pysam.tbi")) as theirs:
        assert list(theirs.header)[0].startswith("#seqlrp provenance") and len(list(theirs.fetch("chr1"))) == 7143
    page = " ".join(RESULTS_PAGE.read_text().split())
    assert f"`{REINDEX} file.bedGraph.gz`" in page
    assert "pysam.tabix_index(path, seq_col=0, start_col=1, end_col=2, zerobased=True, line_skip=2, force=True)" in page


def test_the_documented_reindex_command_with_htslibs_tabix(tmp_path):
    need_program("tabix")
    path = tmp_path / "t.bedGraph.gz"
    write_bedgraph(path)
    shutil.copy(path, tmp_path / "copy.bedGraph.gz")
    subprocess.run([*REINDEX.split(), str(tmp_path / "copy.bedGraph.gz")], check=True, capture_output=True)
    ours = parse_tbi(gzip.decompress((tmp_path / "t.bedGraph.gz.tbi").read_bytes()))
    assert ours == parse_tbi(gzip.decompress((tmp_path / "copy.bedGraph.gz.tbi").read_bytes()))
    shown = subprocess.run(["tabix", "-H", str(path)], check=True, capture_output=True, text=True).stdout
    assert shown.startswith("#seqlrp provenance: seqlrp=0.1.0")


def fake_run(root: Path, classes=("positive", "negative"), methods=("lrp", "plrp")) -> dict:
    """The files the session points at, under ``root/results`` (content does not matter)."""
    results = root / "results"
    pairs = [(c, m) for c in classes for m in methods]
    for folder in ("tracks", "seqlets", "data", "demo", f"attributions/{classes[0]}.{methods[0]}"):
        (results / folder).mkdir(parents=True, exist_ok=True)
    bigwigs = [str(results / "tracks" / f"{c}.{m}.bw") for c, m in pairs]
    beds = [str(results / "seqlets" / f"{c}.{m}.bed") for c, m in pairs]
    instances = [str(results / "motifs" / f"{c}.{m}" / "instances.bed") for c, m in pairs]
    for path in [*bigwigs, *beds, results / "demo" / "genome.fa.gz"]:
        Path(path).write_text("x")
    for (c, m), path in zip(pairs, instances):  # as the motifs stage writes them: BED9, red and blue
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(f'track name="{c} {m} motif instances" itemRgb="On"\n'
                              "chr1\t104\t118\tCTCF(MA0139.2)\t0\t-\t104\t118\t255,0,0\n")
    truth = results / "demo" / "truth.bed"  # the demo's: BED6, no colours
    truth.write_text("chr1\t105\t120\tMA0139.2\t0\t+\n")
    (results / "data" / "chrom_sizes.tsv").write_text("chr1\t12000\nchr2\t9000\n")
    regions = results / "attributions" / f"{classes[0]}.{methods[0]}" / "regions.tsv"
    regions.write_text("chrom\tstart\tend\tstrand\tname\tclass\tsplit\trow\tlogit\trelevance_sum\n"
                       "chr1\t100\t200\t+\ta\tpositive\ttest\t0\t1.5\t0.1\n"
                       "chr2\t3000\t3100\t-\tb\tpositive\ttest\t1\t4.25\t0.2\n"
                       "chr1\t500\t600\t+\tc\tpositive\ttest\t2\t-2\t0.3\n")
    return {"results": results, "pairs": pairs, "bigwigs": bigwigs, "beds": beds, "instances": instances,
            "truth": truth, "regions": regions, "chrom_sizes": results / "data" / "chrom_sizes.tsv"}


def parse_session(path: Path):
    root = ET.parse(path).getroot()
    assert root.tag == "Session" and root.get("version") == "8"
    resources = root.findall("./Resources/Resource")
    tracks = root.findall("./Panel/Track")
    return root, resources, tracks


def test_igv_session_opens_genome_and_every_track_autoscaled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the pipeline's paths are relative to its working directory
    run = fake_run(tmp_path)
    session = Path("results/igv_session.xml")
    n = write_igv_session(session, "results/demo/genome.fa.gz", run["pairs"], [str(Path(p).relative_to(tmp_path)) for p in
                          run["bigwigs"]], run["beds"], run["regions"], run["chrom_sizes"])
    root, resources, tracks = parse_session(session)
    assert n == 8 and len(resources) == len(tracks) == 8
    assert root.get("genome") == "demo/genome.fa.gz" and root.get("hasSequenceTrack") == "true"
    assert root.get("locus") == "chr2:3001-3100"  # highest logit, 1-based
    paths = [r.get("path") for r in resources]
    assert paths[:2] == ["tracks/positive.lrp.bw", "seqlets/positive.lrp.bed"]
    for path in [*paths, root.get("genome")]:  # relative to the session's folder, as IGV resolves them
        assert not Path(path).is_absolute() and (session.parent / path).is_file()
    names = [r.get("name") for r in resources]
    assert len(set(names)) == 8 and names[:2] == ["positive lrp relevance", "positive lrp seqlets"]
    assert [t.get("id") for t in tracks] == paths and [t.get("name") for t in tracks] == names
    bigwig_tracks = [t for t in tracks if t.get("id").endswith(".bw")]
    assert len(bigwig_tracks) == 4 and all(t.get("autoScale") == "true" for t in bigwig_tracks)
    assert all(t.get("clazz") == "org.broad.igv.track.FeatureTrack" for t in tracks if t.get("id").endswith(".bed"))


def test_igv_session_points_at_a_genome_outside_results_absolutely(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = fake_run(tmp_path / "work", classes=("bound",), methods=("lrp",))
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "hg.fa").write_text(">chr1\nACGT\n")
    session = run["results"] / "igv_session.xml"
    write_igv_session(session, "ref/hg.fa", run["pairs"], run["bigwigs"], run["beds"], run["regions"], run["chrom_sizes"])
    root, resources, _ = parse_session(session)
    assert root.get("genome") == str(tmp_path / "ref" / "hg.fa")
    assert [r.get("path") for r in resources] == ["tracks/bound.lrp.bw", "seqlets/bound.lrp.bed"]
    assert session_path(tmp_path / "work" / "results2" / "x.bw", run["results"]) == str(tmp_path / "work" / "results2" / "x.bw")


def test_igv_session_without_genome_opens_the_contig_sizes(tmp_path):
    run = fake_run(tmp_path, classes=("bound",), methods=("lrp",))
    run["regions"].write_text(run["regions"].read_text().splitlines()[0] + "\n")  # no windows: the first contig
    session, sizes = run["results"] / "igv_session.xml", run["results"] / "igv_session.chrom.sizes"
    write_igv_session(session, None, run["pairs"], run["bigwigs"], run["beds"], run["regions"], run["chrom_sizes"], sizes)
    root, _, _ = parse_session(session)
    assert root.get("genome") == "igv_session.chrom.sizes" and root.get("hasSequenceTrack") == "false"
    assert root.get("locus") == "chr1" and sizes.read_text() == "chr1\t12000\nchr2\t9000\n"


def test_igv_session_shows_motif_instances_in_their_colours_and_the_truth_in_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = fake_run(tmp_path)
    session = Path("results/igv_session.xml")
    n = write_igv_session(session, "results/demo/genome.fa.gz", run["pairs"], run["bigwigs"], run["beds"],
                          run["regions"], run["chrom_sizes"], instances=run["instances"],
                          truth="results/demo/truth.bed")
    _, resources, tracks = parse_session(session)
    assert n == 13 and len(resources) == len(tracks) == 13
    paths, names = [r.get("path") for r in resources], [r.get("name") for r in resources]
    assert [t.get("id") for t in tracks] == paths and [t.get("name") for t in tracks] == names
    # the truth first, then per class and method: relevance, seqlets, motif instances
    assert paths[:4] == ["demo/truth.bed", "tracks/positive.lrp.bw", "seqlets/positive.lrp.bed",
                         "motifs/positive.lrp/instances.bed"]
    assert names[:4] == ["known sites (truth.bed)", "positive lrp relevance", "positive lrp seqlets",
                         "positive lrp motif instances"]
    assert [p for p in paths if p.endswith("instances.bed")] == [
        f"motifs/{c}.{m}/instances.bed" for c in ("positive", "negative") for m in ("lrp", "plrp")]
    assert len(set(names)) == 13
    for path in paths:  # relative to the session's folder, as IGV resolves them
        assert not Path(path).is_absolute() and (session.parent / path).is_file()
    by_path = {t.get("id"): t for t in tracks}
    truth = by_path["demo/truth.bed"]
    # the demo's truth is BED6: one colour for the track; the instances keep their itemRgb colours
    # (IGV draws an explicit track colour over them)
    assert truth.get("clazz") == "org.broad.igv.track.FeatureTrack" and truth.get("color") == TRUTH_COLOR == "0,150,0"
    instance_tracks = [t for t in tracks if t.get("id").endswith("instances.bed")]
    assert len(instance_tracks) == 4
    assert all(t.get("color") is None and t.get("clazz") == "org.broad.igv.track.FeatureTrack"
               and t.get("displayMode") == "EXPANDED" for t in instance_tracks)
    assert all(t.get("color") is None for t in tracks if t is not truth)


def test_igv_session_without_truth_has_no_truth_track(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = fake_run(tmp_path, classes=("bound",), methods=("lrp",))
    session = run["results"] / "igv_session.xml"
    n = write_igv_session(session, "results/demo/genome.fa.gz", run["pairs"], run["bigwigs"], run["beds"],
                          run["regions"], run["chrom_sizes"], instances=run["instances"])
    _, resources, tracks = parse_session(session)
    assert n == 3 and [r.get("path") for r in resources] == [
        "tracks/bound.lrp.bw", "seqlets/bound.lrp.bed", "motifs/bound.lrp/instances.bed"]
    assert [r.get("name") for r in resources] == ["bound lrp relevance", "bound lrp seqlets", "bound lrp motif instances"]
    assert not any("truth" in (t.get("name") + t.get("id")) or t.get("color") for t in tracks)
    with pytest.raises(ValueError, match="1 class/method pairs, 1 bigWigs, 1 seqlet BEDs, 2 motif instance BEDs"):
        write_igv_session(session, None, run["pairs"], run["bigwigs"], run["beds"], run["regions"],
                          run["chrom_sizes"], instances=run["instances"] * 2)


def test_igv_session_keeps_the_colours_of_a_users_truth_outside_results(tmp_path, monkeypatch):
    """``evaluate.truth`` of a user's run: outside ``results/``, so written absolute; its own itemRgb
    colours are kept (no track colour), a gzip BED is read through its compression."""
    monkeypatch.chdir(tmp_path)
    run = fake_run(tmp_path / "work", classes=("bound",), methods=("lrp",))
    (tmp_path / "known").mkdir()
    truth = tmp_path / "known" / "sites.bed.gz"
    with gzip.open(truth, "wt") as handle:
        handle.write("browser position chr1:1-500\n#sites\ntrack name=sites itemRgb=On\n"
                     "chr1\t10\t20\tCTCF\t0\t+\t10\t20\t0,0,0\n")
    session = run["results"] / "igv_session.xml"
    write_igv_session(session, "ref.fa", run["pairs"], run["bigwigs"], run["beds"], run["regions"], run["chrom_sizes"],
                      instances=run["instances"], truth="known/sites.bed.gz")
    _, resources, tracks = parse_session(session)
    assert resources[0].get("path") == str(truth) and resources[0].get("name") == "known sites (sites.bed.gz)"
    assert tracks[0].get("id") == str(truth) and tracks[0].get("color") is None


def test_has_item_colours_reads_the_first_data_line(tmp_path):
    cases = {"bed9.bed": "track name=x\n#c\n\nchr1\t1\t2\tn\t0\t+\t1\t2\t255,0,0\n",
             "bed6.bed": "chr1\t1\t2\tn\t0\t+\n", "empty.bed": "track name=x\n",
             "zero.bed": "chr1\t1\t2\tn\t0\t+\t1\t2\t0\n", "bed12.bed": "chr1\t1\t2\tn\t0\t+\t1\t2\t0,0,255\t1\t1\t0\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    assert {name: has_item_colours(tmp_path / name) for name in cases} == {
        "bed9.bed": True, "bed6.bed": False, "empty.bed": False, "zero.bed": False, "bed12.bed": True}


@pytest.mark.workflow
def test_browser_files_of_the_tiny_demo(tiny_demo_run):
    results = tiny_demo_run / "results"
    for cls in ("positive", "negative"):
        for method in TINY_METHODS:
            assert_bed9_with_track_line(results / "seqlets" / f"{cls}.{method}.bed", f"{cls} {method} seqlets")
            motifs = results / "motifs" / f"{cls}.{method}"
            assert_bed9_with_track_line(motifs / "seqlets.bed", f"{cls} {method} seqlets by motif")
            instances = assert_bed9_with_track_line(motifs / "instances.bed", f"{cls} {method} motif instances")
            assert not any(row[3].startswith(f"{cls}.{method}.") for row in instances)  # FACTOR(ID) or pos_K
            with pysam.TabixFile(str(results / "tracks" / f"{cls}.{method}.bedGraph.gz")) as tabix:
                assert [line.split(":")[0] for line in tabix.header] == ["#seqlrp provenance"]
    session = results / "igv_session.xml"
    root, resources, tracks = parse_session(session)
    # the demo's truth, its scored variants, then per class and method: relevance, seqlets, motif instances
    assert root.get("genome") == "demo/genome.fa.gz" and len(resources) == len(tracks) == 2 + 2 * len(TINY_METHODS) * 3
    paths = {r.get("name"): r.get("path") for r in resources}
    assert paths["known sites (truth.bed)"] == "demo/truth.bed" and paths["variant effects"] == "variants/variants.bed"
    assert [t.get("color") for t in tracks if t.get("id") == "variants/variants.bed"] == [None]  # its red/blue
    for cls in ("positive", "negative"):
        for method in TINY_METHODS:
            assert paths[f"{cls} {method} motif instances"] == f"motifs/{cls}.{method}/instances.bed"
            assert paths[f"{cls} {method} seqlets"] == f"seqlets/{cls}.{method}.bed"
    # every path IGV opens, resolved as IGV does: against the session file's folder
    for path in [*paths.values(), *(t.get("id") for t in tracks), root.get("genome")]:
        assert not Path(path).is_absolute() and (session.parent / path).is_file(), path
    assert all(t.get("autoScale") == "true" for t in tracks if t.get("id").endswith(".bw"))
    assert {t.get("id"): t.get("color") for t in tracks if t.get("color")} == {"demo/truth.bed": TRUTH_COLOR}
    locus = root.get("locus")
    assert locus.split(":")[0] in {f"chr{i}" for i in range(1, 9)}
