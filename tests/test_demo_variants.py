"""Demo variants: every record is valid and where its truth label says; the variant AUROCs are right."""

import csv
import itertools
import math
from pathlib import Path

import numpy as np
import pysam
import pytest

from seqlrp.analysis.variant_evaluation import (
    VARIANT_EVALUATION_COLUMNS,
    variant_aurocs,
    write_variant_evaluation,
)
from seqlrp.formats.genome import Genome
from seqlrp.formats.regions import read_regions
from seqlrp.formats.vcf import VariantCounts, iter_variants
from seqlrp.sequences.demo_variants import (
    NAMED_ID,
    TRUTH_COLUMNS,
    consensus,
    information_content,
    make_demo_variants,
)
from seqlrp.sequences.planted import load_jaspar_motifs
from seqlrp.sequences.variant_windows import normalize
from seqlrp.stages.demo_data import make_demo

TARGETS = ["MA0139.2", "MA0080.7", "MA0099.4"]
SMALL = dict(n_chroms=2, chrom_len=60_000, gc=0.41, gap=500, n_per_class=20, margin=5,
             targets=TARGETS, decoys=["MA0105.4", "MA0138.3"], instances=[1, 3], decoy_instances=[0, 2])
SEQ_LEN = 200
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def build(out: Path, seed: int = 3, demo_seed: int = 7, config=SMALL, seq_len=SEQ_LEN) -> dict:
    if not (out / "genome.fa.gz").exists():
        make_demo(config, seq_len, seed=demo_seed, out_dir=out)
    return make_demo_variants(out / "genome.fa.gz", out / "truth.bed", out / "motifs.tsv", seq_len, seed,
                              out / "variants.vcf.gz", out / "variants_truth.tsv")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_variants")
    counts = build(out)
    return out, counts


def read_truth(path):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        assert tuple(reader.fieldnames) == TRUTH_COLUMNS
        return list(reader)


def records(path):
    with pysam.VariantFile(str(path)) as vcf:
        return [(r.chrom, r.pos, r.id, r.ref, r.alts, dict(r.info)) for r in vcf]


def sites(out):
    return [r for r in read_regions(out / "truth.bed")]


def windows(out):
    return read_regions(out / "positive.narrowPeak") + read_regions(out / "negative.bed")


def distance(lo, hi, start, end):
    """Bases between [lo, hi) and [start, end) (0 when they overlap)."""
    return max(0, start - hi, lo - end)


def test_counts_and_labels(demo):
    out, counts = demo
    truth = read_truth(out / "variants_truth.tsv")
    target_sites = [s for s in sites(out) if s.name in TARGETS]
    # two target instances go to the odd indels; an instance whose planted base already is the
    # least probable one is passed over
    assert min(40, len(target_sites) - 2) - 3 <= counts["break"] <= min(40, len(target_sites) - 2)
    assert counts["create"] == 20 and counts["control"] == 40
    assert counts["odd"] == 9 and counts["symbolic"] == 1
    assert counts["records"] == counts["break"] + counts["create"] + counts["control"] + counts["odd"]
    assert counts["rows"] == len(truth) == counts["records"] + 1  # the multi-allelic record has two rows
    by_label = {label: sum(row["label"] == label for row in truth) for label in ("break", "create", "control")}
    assert by_label == {k: counts[k] for k in by_label}
    assert all(row["class"] == "positive" for row in truth if row["label"] in ("break", "create"))
    assert all(row["class"] == "" and row["motif"] == "" for row in truth if row["label"] == "control")


def test_every_ref_matches_the_genome_and_positions_are_unique(demo):
    out, _ = demo
    fasta = pysam.FastaFile(str(out / "genome.fa.gz"))
    rows = records(out / "variants.vcf.gz")
    for chrom, pos, _id, ref, alts, _info in rows:
        assert fasta.fetch(chrom, pos - 1, pos - 1 + len(ref)).upper() == ref.upper()
        assert "N" not in ref.upper()
        assert all(alt.upper() != ref.upper() for alt in alts)
    keys = [(chrom, pos) for chrom, pos, *_ in rows]
    assert len(set(keys)) == len(keys)
    order = {name: i for i, name in enumerate(fasta.references)}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1]))
    # no two records overlap
    spans = sorted((order[c], p, p + len(ref)) for c, p, _i, ref, *_ in rows)
    assert all(a[0] != b[0] or a[2] <= b[1] for a, b in itertools.pairwise(spans))


def test_breaks_sit_at_the_most_informative_column_of_a_target_instance(demo):
    out, counts = demo
    motifs = {m.matrix_id: m for m in load_jaspar_motifs(TARGETS)}
    planted = {}
    for site in sites(out):
        for position in range(site.start, site.end):
            planted[(site.chrom, position)] = site
    breaks = [row for row in read_truth(out / "variants_truth.tsv") if row["label"] == "break"]
    assert len(breaks) == counts["break"] > 0
    strands = set()
    for row in breaks:
        site = planted[(row["chrom"], int(row["pos"]) - 1)]
        assert site.name == row["motif"] and site.name in TARGETS
        probabilities = motifs[site.name].probabilities
        column = int(np.argmax(information_content(probabilities)))
        expected = site.start + column if site.strand == "+" else site.end - 1 - column
        assert int(row["pos"]) - 1 == expected
        least = "ACGT"[int(np.argmin(probabilities[:, column]))]
        assert row["alt"] == (least if site.strand == "+" else least.translate(COMPLEMENT))
        assert row["alt"] != row["ref"]
        strands.add(site.strand)
    assert strands == {"+", "-"}


def test_creates_and_controls_sit_in_plain_background(demo):
    out, _ = demo
    consensuses = {m.matrix_id: consensus(m) for m in load_jaspar_motifs(TARGETS)}
    avoid = [(s.chrom, s.start, s.end) for s in sites(out)] + [(w.chrom, w.start, w.end) for w in windows(out)]
    avoid += [(w.chrom, w.centre() - SEQ_LEN // 2, w.centre() + SEQ_LEN // 2) for w in windows(out)]
    truth = read_truth(out / "variants_truth.tsv")
    made = set()
    for row in truth:
        if row["label"] not in ("create", "control"):
            continue
        lo = int(row["pos"]) - 1
        hi = lo + len(row["ref"])
        assert all(distance(lo, hi, start, end) >= SEQ_LEN for chrom, start, end in avoid if chrom == row["chrom"])
        assert SEQ_LEN <= lo and hi + SEQ_LEN <= 60_000 - SMALL["gap"]
        if row["label"] == "create":
            assert row["alt"] == consensuses[row["motif"]]
            assert len(row["ref"]) == len(row["alt"])
            made.add(row["motif"])
        else:
            assert len(row["ref"]) == len(row["alt"]) == 1
    assert made == set(TARGETS)


def test_odd_records(demo):
    out, _ = demo
    rows = records(out / "variants.vcf.gz")
    odd = [r for r in rows if r[5]["LABEL"] == "odd"]
    assert any(len(alts) == 2 for *_, alts, _info in odd)
    assert any(ref.islower() and all(a.islower() for a in alts) for _c, _p, _i, ref, alts, _info in odd)
    ids = [r[2] for r in rows]
    assert ids.count(None) == 1 and ids.count(NAMED_ID) == 1  # pysam gives ID "." as None
    assert sum(i.startswith("demo_break_") for i in ids if i) == sum(r[5]["LABEL"] == "break" for r in rows)
    symbolic = [r for r in odd if r[4] == ("<DEL>",)]
    assert len(symbolic) == 1 and symbolic[0][5]["SVTYPE"] == "DEL"

    genome = Genome(out / "genome.fa.gz")
    target_sites = [s for s in sites(out) if s.name in TARGETS]
    indels = [r for r in odd if len(r[3]) != len(r[4][0]) and r[4] != ("<DEL>",)]
    assert sorted(len(alts[0]) - len(ref) for _c, _p, _i, ref, alts, _info in indels) == [-1, 2]
    for chrom, pos, _id, ref, alts, _info in indels:
        assert ref[0] == alts[0][0]  # anchor base
        changed = pos  # 0-based: the base after the anchor
        assert any(s.chrom == chrom and s.start <= pos - 1 and changed < s.end for s in target_sites)
        assert normalize(chrom, pos, ref, alts[0], genome.fetch) == (pos, ref, alts[0])  # already left-normalised

    # an SNV whose window runs into the N gap at each chromosome end
    near = [r for r in odd if r[2] in ("demo_odd_near_start", "demo_odd_near_end")]
    assert len(near) == 2
    for chrom, pos, *_ in near:
        window = genome.fetch(chrom, pos - 1 - SEQ_LEN // 2, pos - 1 - SEQ_LEN // 2 + SEQ_LEN)
        assert "N" in window.upper() and genome.fetch(chrom, pos - 1, pos).upper() != "N"
    genome.close()


def test_vcf_reads_with_seqlrps_reader_and_tabix(demo):
    out, counts = demo
    vcf = out / "variants.vcf.gz"
    with pysam.VariantFile(str(vcf)) as handle:
        header = handle.header
        assert {name: header.contigs[name].length for name in header.contigs} == {"chr1": 60_000, "chr2": 60_000}
        assert {"LABEL", "MOTIF", "SVTYPE", "END", "SVLEN"} <= set(header.info)
    assert vcf.read_bytes()[:2] == b"\x1f\x8b"
    with Genome(out / "genome.fa.gz") as genome:
        tally = VariantCounts()
        variants = list(iter_variants(vcf, contigs=genome.lengths, fetch_ref=genome.fetch, counts=tally))
    assert tally.records == counts["records"] and tally.symbolic_skipped == 1
    assert len(variants) == counts["rows"] - 1
    truth = {(r["chrom"], int(r["pos"]), r["ref"], r["alt"]) for r in read_truth(out / "variants_truth.tsv")}
    assert {(v.chrom, v.pos, v.ref, v.alt) for v in variants} <= truth
    assert Path(f"{vcf}.tbi").exists()
    tabix = pysam.TabixFile(str(vcf))
    in_region = list(tabix.fetch("chr1", 0, 30_000))
    expected = [r for r in records(vcf) if r[0] == "chr1" and r[1] <= 30_000]
    assert in_region and len(in_region) == len(expected)
    assert [int(line.split("\t")[1]) for line in in_region] == [r[1] for r in expected]
    tabix.close()


def test_same_seed_same_bytes_other_seed_differs(demo, tmp_path):
    out, _ = demo
    for name in ("genome.fa.gz", "genome.fa.gz.fai", "genome.fa.gz.gzi", "truth.bed", "motifs.tsv",
                 "positive.narrowPeak", "negative.bed"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    build(tmp_path)
    for name in ("variants.vcf.gz", "variants.vcf.gz.tbi", "variants_truth.tsv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    build(tmp_path, seed=4)
    assert (tmp_path / "variants.vcf.gz").read_bytes() != (out / "variants.vcf.gz").read_bytes()
    assert (tmp_path / "variants_truth.tsv").read_bytes() != (out / "variants_truth.tsv").read_bytes()


def test_gap_shorter_than_half_a_window(tmp_path):
    """With a 50 bp gap the near-end SNVs' windows run off the chromosome; every REF still matches."""
    config = dict(SMALL, gap=50)
    counts = build(tmp_path, config=config)
    assert counts["create"] == 20
    with Genome(tmp_path / "genome.fa.gz") as genome:
        tally = VariantCounts()
        rows = list(iter_variants(tmp_path / "variants.vcf.gz", contigs=genome.lengths, fetch_ref=genome.fetch,
                                  counts=tally))
    near = [v for v in rows if v.id == "demo_odd_near_start"]
    assert len(near) == 1 and near[0].pos - 1 - SEQ_LEN // 2 < 0


# --- variant_aurocs ---------------------------------------------------------------------------------

SCORE_HEADER = ["chrom", "pos", "id", "ref", "alt", "class", "method", "logit_ref", "logit_alt", "delta",
                "relevance_ref", "relevance_alt", "p_value", "q_value"]


def write_tables(tmp_path, variants, classes=("positive",), methods=("lrp",)):
    """``variants``: (label, class, delta, relevance_ref); returns (scores, truth) paths."""
    scores, truth = tmp_path / "scores.tsv", tmp_path / "truth.tsv"
    with open(truth, "w") as handle:
        handle.write("\t".join(TRUTH_COLUMNS) + "\n")
        for i, (label, cls, _delta, _rel) in enumerate(variants):
            handle.write(f"chr1\t{100 + i}\tA\tC\t{label}\t{cls}\t\n")
        handle.write("chr1\t5\tA\tG\todd\t\t\n")
    with open(scores, "w") as handle:
        handle.write("\t".join(SCORE_HEADER) + "\n")
        for cls in classes:
            for method in methods:
                for i, (_label, _cls, delta, rel) in enumerate(variants):
                    ref, alt = ("a", "c") if i % 2 else ("A", "C")  # lowercase alleles join too
                    handle.write("\t".join(["chr1", str(100 + i), f"v{i}", ref, alt, cls, method, "0.5", "",
                                            str(delta), str(rel), "nan", "", ""]) + "\n")
                # rows without truth are ignored
                handle.write("\t".join(["chr2", "7", ".", "A", "T", cls, method, "", "", "9", "9", "", "", ""]) + "\n")
    return scores, truth


def row_of(rows, cls="positive", method="lrp", comparison="break_vs_control", score="-delta"):
    found = [r for r in rows if (r["class"], r["method"], r["comparison"], r["score"]) == (cls, method, comparison, score)]
    assert len(found) == 1
    return found[0]


def test_perfect_reversed_and_tied_aurocs(tmp_path):
    breaks = [("break", "positive", -1.0 - i / 10, 1.0 + i) for i in range(10)]
    controls = [("control", "", 0.01 * (i - 5), 0.1) for i in range(12)]
    creates = [("create", "positive", 2.0 + i, 0.0) for i in range(4)]
    rows = variant_aurocs(*write_tables(tmp_path, breaks + controls + creates))
    perfect = row_of(rows)
    assert perfect["auroc"] == 1.0 and (perfect["n_positive"], perfect["n_negative"]) == (10, 12)
    assert perfect["mean_delta_positive"] == pytest.approx(-1.45)
    assert perfect["mean_delta_negative"] == pytest.approx(np.mean([0.01 * (i - 5) for i in range(12)]))
    assert row_of(rows, score="relevance_ref")["auroc"] == 1.0
    create = row_of(rows, comparison="create_vs_control", score="delta")
    assert create["auroc"] == 1.0 and (create["n_positive"], create["n_negative"]) == (4, 12)
    assert set(rows[0]) == set(VARIANT_EVALUATION_COLUMNS)

    reversed_breaks = [("break", "positive", 1.0 + i, 0.0) for i in range(5)]
    rows = variant_aurocs(*write_tables(tmp_path, reversed_breaks + controls))
    assert row_of(rows)["auroc"] == 0.0

    tied = [("break", "positive", 0.0, 1.0) for _ in range(5)] + [("control", "", 0.0, 1.0) for _ in range(7)]
    rows = variant_aurocs(*write_tables(tmp_path, tied))
    assert row_of(rows)["auroc"] == 0.5 and row_of(rows, score="relevance_ref")["auroc"] == 0.5


def test_a_class_without_breaks_gives_nan(tmp_path):
    variants = [("break", "positive", -2.0, 1.0), ("break", "positive", -1.5, 1.0)]
    variants += [("control", "", 0.0, 0.0), ("control", "", 0.1, 0.0), ("odd", "positive", -9.0, 9.0)]
    scores, truth = write_tables(tmp_path, variants, classes=("positive", "negative"), methods=("lrp", "ism"))
    rows = variant_aurocs(scores, truth)
    assert len(rows) == 2 * 2 * 3
    assert [(r["class"], r["method"]) for r in rows[::3]] == [("positive", "lrp"), ("positive", "ism"),
                                                               ("negative", "lrp"), ("negative", "ism")]
    for method in ("lrp", "ism"):
        assert row_of(rows, method=method)["auroc"] == 1.0
        negative = row_of(rows, cls="negative", method=method)
        assert math.isnan(negative["auroc"]) and (negative["n_positive"], negative["n_negative"]) == (0, 2)
        assert math.isnan(negative["mean_delta_positive"])
        assert math.isnan(row_of(rows, method=method, comparison="create_vs_control", score="delta")["auroc"])

    path = tmp_path / "evaluation" / "variants.tsv"
    write_variant_evaluation(rows, path)
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == list(VARIANT_EVALUATION_COLUMNS)
    assert len(lines) == 1 + len(rows)
    assert lines[1].split("\t")[4] == "1.000000"
    assert "NA" in lines[7].split("\t")  # the negative class: no breaks


def test_missing_scores_are_left_out(tmp_path):
    variants = [("break", "positive", -1.0, 1.0), ("break", "positive", float("nan"), 1.0),
                ("control", "", 0.0, 0.0), ("control", "", 0.5, 0.0)]
    rows = variant_aurocs(*write_tables(tmp_path, variants))
    assert (row_of(rows)["n_positive"], row_of(rows)["n_negative"]) == (1, 2)
    assert row_of(rows, score="relevance_ref")["n_positive"] == 2
