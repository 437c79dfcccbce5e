"""Ground-truth metrics on hand-made inputs, the evaluate stage on a linear model, the rule on a tiny demo."""

import csv
import json

import numpy as np
import pytest
import torch
from conftest import write_lines
from torch import nn

from seqlrp.analysis.evaluation import (
    aopc,
    deletion_drops,
    gini,
    intervals_by_chrom,
    ism_scores,
    mean_finite,
    observed_scores,
    per_sequence_auprc,
    per_sequence_auroc,
    relevance_mass_accuracy,
    truth_mask,
)
from seqlrp.analysis.ground_truth import build_methods
from seqlrp.errors import InputError, SeqlrpError
from seqlrp.formats.onehot import encode
from seqlrp.formats.regions import read_regions
from seqlrp.formats.table import RegionTable, write_regions_tsv
from seqlrp.models import annotate, build, save_model
from seqlrp.models.inference import predict_logits
from seqlrp.stages.evaluate import DELETION_COLUMNS, SUMMARY_COLUMNS, run

# --- truth mask: window orientation, both strands ----------------------------------------


def test_truth_mask_plus_and_minus_strand_windows():
    truth = {"chr1": np.array([[103, 106]])}
    mask = truth_mask(["chr1", "chr1", "chr2"], [100, 100, 100], ["+", "-", "+"], 10, truth)
    # + window: base 100 + i; bases 103, 104, 105 are positions 3, 4, 5
    assert np.flatnonzero(mask[0]).tolist() == [3, 4, 5]
    # - window: position i is base 109 - i; bases 105, 104, 103 are positions 4, 5, 6
    assert np.flatnonzero(mask[1]).tolist() == [4, 5, 6]
    assert not mask[2].any()  # another chromosome


def test_truth_mask_half_open_edges_overlaps_and_padding():
    # unsorted, overlapping and touching intervals; a window starting before the chromosome (N padding)
    truth = {"chr1": np.array([[8, 10], [0, 2], [9, 12], [12, 13]])}
    mask = truth_mask(["chr1"], [-2], ["+"], 16, truth)
    # positions i cover bases i - 2: bases 0, 1 -> positions 2, 3; bases 8 .. 12 -> positions 10 .. 14
    assert np.flatnonzero(mask[0]).tolist() == [2, 3, 10, 11, 12, 13, 14]


def test_intervals_from_a_bed_merge_per_chromosome(tmp_path):
    bed = write_lines(tmp_path / "truth.bed", ["chr1\t5\t9\tA\t0\t+", "chr1\t7\t12\tB\t0\t-", "chr2\t0\t3\tC\t0\t+",
                                               "chr1\t20\t22\tD\t0\t+"])
    spans = intervals_by_chrom(read_regions(bed))
    assert spans["chr1"].tolist() == [[5, 12], [20, 22]] and spans["chr2"].tolist() == [[0, 3]]


# --- scores ------------------------------------------------------------------------------


def test_observed_scores_take_the_observed_base_and_zero_at_n():
    onehot = encode("ACNT")[None]
    attr = np.arange(16, dtype=np.float32).reshape(1, 4, 4)  # attr[c, t] = 4c + t
    # A at 0 -> attr[0, 0] = 0; C at 1 -> attr[1, 1] = 5; N at 2 -> 0; T at 3 -> attr[3, 3] = 15
    assert observed_scores(attr, onehot).tolist() == [[0.0, 5.0, 0.0, 15.0]]


def test_ism_scores_are_minus_the_mean_substitution_effect():
    onehot = encode("AN")[None]
    deltas = np.zeros((1, 4, 2))
    deltas[0, 1:, 0] = [-3.0, -6.0, 0.0]  # C, G, T at position 0 (observed A) lower the logit
    deltas[0, :, 1] = 5.0  # an N position: every base scored by ISM, still 0 here
    assert ism_scores(deltas, onehot).tolist() == [[3.0, 0.0]]


# --- AUROC, AUPRC, RMA, Gini -------------------------------------------------------------


MASK = np.array([[False, True, True, False, False, False, False, False]])


def test_perfect_map_scores_one():
    scores = MASK * 2.0
    assert per_sequence_auroc(MASK, scores).tolist() == [1.0]
    assert per_sequence_auprc(MASK, scores).tolist() == [1.0]
    assert relevance_mass_accuracy(MASK, scores).tolist() == [1.0]


def test_reversed_map_scores_zero_auroc_and_base_rate_auprc():
    scores = -(MASK * 2.0)
    assert per_sequence_auroc(MASK, scores).tolist() == [0.0]
    # all 6 background positions tie above the truth: precision 2/8 when the truth is reached
    assert per_sequence_auprc(MASK, scores).tolist() == [pytest.approx(2 / 8)]
    assert np.isnan(relevance_mass_accuracy(MASK, scores)[0])  # no positive relevance


def test_rma_counts_positive_relevance_only():
    mask = np.array([[True, True, False, False]])
    # positive parts 2, 0, 1, 1: inside 2 of 4
    assert relevance_mass_accuracy(mask, np.array([[2.0, -1.0, 1.0, 1.0]])).tolist() == [0.5]


def test_sequences_without_truth_are_undefined_and_skipped_in_the_mean():
    mask = np.array([[False, False, False], [True, False, False]])
    values = per_sequence_auroc(mask, np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]))
    assert np.isnan(values[0]) and values[1] == 1.0
    assert mean_finite(values) == 1.0 and np.isnan(mean_finite(np.array([np.nan])))


def test_gini_by_hand():
    values = np.array([
        [1.0, 1.0, 1.0, 1.0],  # uniform
        [0.0, 0.0, 0.0, 5.0],  # one position holds everything: (L - 1) / L
        [0.0, -1.0, 2.0, -3.0],  # |.| sorted 0,1,2,3: (-3*0 - 1*1 + 1*2 + 3*3) / (4 * 6) = 10/24
        [0.0, 0.0, 0.0, 0.0],
    ])
    result = gini(values)
    assert result[:3] == pytest.approx([0.0, 0.75, 10 / 24])
    assert np.isnan(result[3])


# --- deletion on a linear model ----------------------------------------------------------


def _linear_model(weights: np.ndarray) -> nn.Module:
    """logit = sum over bases and positions of weights (4, L) * x: Flatten + Linear, no bias."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(weights.size, 1, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.from_numpy(weights.reshape(1, -1).astype(np.float32)))
    return model.eval()


def test_deletion_drops_of_a_linear_model_by_hand():
    x = encode("TTACGTTTTT")[None]
    weights = np.zeros((4, 10))
    weights[0, 2] = weights[1, 3] = weights[2, 4] = 1.0  # the motif A C G at positions 2, 3, 4
    model = _linear_model(weights)

    def logit(batch):
        return predict_logits(model, batch)[:, 0]

    replacement = encode("TTTTTTTTTT")[None]  # T carries no weight anywhere
    scores = np.array([[0, 0, 4, 5, 3, 0, 0, 0, 0, 0]], dtype=float)
    # fractions of 10 positions: 0, 1, 2 and 5 positions replaced, most relevant first:
    # 3 (drop 1), then 2 (drop 2), then 4 and the tied zeros at 0, 1 (T -> T: drop 3)
    drops = deletion_drops(logit, x, replacement, scores, [0, 0.1, 0.2, 0.5])
    assert drops.tolist() == [[0.0, 1.0, 2.0, 3.0]]
    # area under the mean-drop curve over [0, 0.5] (trapezoids), per unit of deleted share:
    # (0.5 * 0.1 + 1.5 * 0.1 + 2.5 * 0.3) / 0.5
    assert aopc(drops, [0, 0.1, 0.2, 0.5]) == pytest.approx(1.9)
    assert aopc(drops[:, :3], [0, 0.1, 0.2]) == pytest.approx(1.0)  # a uniform grid: the plain mean of the steps
    # the reversed ranking deletes the motif last: nothing drops until half the window is gone
    assert deletion_drops(logit, x, replacement, -scores, [0, 0.1, 0.2, 0.5]).tolist() == [[0.0, 0.0, 0.0, 0.0]]


def test_deletion_counts_valid_positions_and_never_deletes_n_first():
    x = encode("ACNN")[None]
    weights = np.ones((4, 4))
    model = _linear_model(weights)
    replacement = np.zeros_like(x)  # replacing a base by N removes its weight of 1

    def logit(batch):
        return predict_logits(model, batch)[:, 0]

    # N positions score highest but are skipped; 50% of the 2 valid positions = 1 base
    drops = deletion_drops(logit, x, replacement, np.array([[0.0, 1.0, 9.0, 9.0]]), [0.5, 1.0])
    assert drops.tolist() == [[1.0, 2.0]]


# --- the stage on a linear model whose explanation is known ------------------------------

L = 20
MOTIF = "ACG"  # at window positions 5, 6, 7 of every bound window
EVAL_CONFIG = {"p_grid": [0, 0.25], "baselines": ["saliency", "gradient_x_input", "integrated_gradients", "ism"],
               "ig_steps": 4, "ism_max_windows": 2, "deletion_fractions": [0, 0.05, 0.5], "batch_size": 3,
               "device": "cpu", "max_windows": 50, "splits": ["test"]}
METHODS = {"lrp": {"composite": "epsilon-plus"}, "plrp": {"composite": "epsilon-plus", "prune": {"p_pos": 0.25}}}


def _window(seed: int) -> str:
    rng = np.random.default_rng(seed)
    seq = list(np.array(list("ACGT"))[rng.integers(0, 4, L)])
    seq[5:8] = MOTIF
    return "".join(seq)


@pytest.fixture
def linear_run(tmp_path):
    """Data (6 bound windows, 2 of them '-' strand, 4 unbound), truth at the motif, a linear mlp."""
    table, seqs = RegionTable(), []
    for i in range(6):
        strand = "-" if i % 3 == 0 else "+"
        table.append("chr1", 100 * i, 100 * i + L, strand, f"b{i}", "bound", "test" if i < 5 else "train")
        seqs.append(_window(i))
    for i in range(4):
        table.append("chr2", 100 * i, 100 * i + L, "+", f"u{i}", "unbound", "test")
        seqs.append(_window(10 + i))
    # truth in genome coordinates: window positions 5..7 are bases start+5..start+7 on '+', end-8..end-6 on '-'
    truth = [f"chr1\t{100 * i + (12 if i % 3 == 0 else 5)}\t{100 * i + (15 if i % 3 == 0 else 8)}\tM\t0\t+" for i in range(6)]
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "onehot.npy", np.stack([encode(s) for s in seqs]))
    write_regions_tsv(table, data / "regions.tsv")
    (data / "dataset.json").write_text(json.dumps({"classes": ["bound", "unbound"], "seq_len": L}))
    torch.manual_seed(0)
    model = build("mlp", seq_len=L, n_classes=2, hidden=[], dropout=0.0)
    annotate(model, classes=["bound", "unbound"])
    weights = torch.zeros(2, 4, L)
    for t, base in zip(range(5, 8), MOTIF):
        weights[0, "ACGT".index(base), t] = 1.0
    with torch.no_grad():
        model[-1].weight.copy_(weights.reshape(2, -1))
        model[-1].bias.zero_()
    save_model(model, tmp_path / "model.pt")
    inputs = {"model": str(tmp_path / "model.pt"), "onehot": str(data / "onehot.npy"),
              "regions": str(data / "regions.tsv"), "info": str(data / "dataset.json"),
              "truth": str(write_lines(tmp_path / "truth.bed", truth))}

    def go(name: str, **changes):
        out = tmp_path / name
        outputs = {"summary": out / "summary.tsv", "deletion": out / "deletion.tsv", "sweep": out / "sweep.png",
                   "deletion_plot": out / "deletion.png"}
        run({**EVAL_CONFIG, **changes}, METHODS, 3, inputs, outputs, threads=1)
        return outputs

    return go, inputs


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_stage_on_a_linear_model_finds_the_motif(linear_run):
    go, _ = linear_run
    outputs = go("a")
    rows = _read(outputs["summary"])
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    assert [r["method"] for r in rows] == [
        "lrp", "plrp", "lrp-epsilon", "lrp-epsilon-plus", "lrp-epsilon-gamma", "lrp-alpha2beta1", "plrp-p0",
        "plrp-lambda-p0.25", "plrp-mask-p0.25", "saliency", "gradient_x_input", "integrated_gradients", "ism"]
    assert {r["class"] for r in rows} == {"bound"}  # unbound windows hold no truth
    by = {r["method"]: r for r in rows}
    assert by["plrp"]["family"] == "plrp" and by["plrp"]["prune_mode"] == "lambda" and by["plrp"]["p"] == "0.25"
    assert by["plrp-p0"]["prune_mode"] == "" and by["plrp-p0"]["p"] == "0" and by["lrp"]["p"] == ""
    assert by["saliency"]["family"] == "baseline" and by["saliency"]["composite"] == ""
    for row in rows:
        # relevance only on the three motif positions, equal there: AUROC = AUPRC = RMA = 1 and
        # Gini of 17 zeros and 3 equal values = (15 + 17 + 19) / (20 * 3)
        assert (row["auroc"], row["auprc"], row["rma"]) == ("1.000000",) * 3, row["method"]
        assert float(row["gini"]) == pytest.approx(51 / 60, abs=1e-6), row["method"]
        # test split only (5 bound windows); ISM on the first 2
        assert row["n_sequences"] == ("2" if row["method"] == "ism" else "5")
    # plrp-p0 runs the pruning code and must equal LRP exactly
    assert {k: v for k, v in by["plrp-p0"].items() if k not in ("method", "family", "seconds_per_1k", "p")} == \
        {k: v for k, v in by["lrp-epsilon-plus"].items() if k not in ("method", "family", "seconds_per_1k", "p")}
    curve = _read(outputs["deletion"])
    assert tuple(curve[0]) == DELETION_COLUMNS and len(curve) == 13 * 3
    assert all(float(c["mean_logit_drop"]) == 0.0 for c in curve if c["fraction"] == "0")
    # 50% of 20 positions, most relevant first: all three motif bases replaced by shuffled bases
    half = {c["method"]: float(c["mean_logit_drop"]) for c in curve if c["fraction"] == "0.5"}
    assert half["lrp"] == half["saliency"] > 0
    assert outputs["sweep"].stat().st_size > 0 and outputs["deletion_plot"].stat().st_size > 0


def test_stage_is_deterministic_on_the_cpu(linear_run):
    go, _ = linear_run
    first, second = go("a"), go("b")

    def without_time(path):
        return [{k: v for k, v in row.items() if k != "seconds_per_1k"} for row in _read(path)]

    assert without_time(first["summary"]) == without_time(second["summary"])
    for key in ("deletion", "sweep", "deletion_plot"):
        assert first[key].read_bytes() == second[key].read_bytes(), key


def test_split_fallback_and_window_cap(linear_run):
    go, _ = linear_run
    rows = _read(go("c", splits=["valid"], max_windows=4)["summary"])  # no valid split: every split, 4 of 6
    assert {r["n_sequences"] for r in rows if r["method"] != "ism"} == {"4"}


def test_malformed_truth_line_is_one_line_naming_file_and_line(linear_run, tmp_path):
    go, inputs = linear_run
    write_lines(tmp_path / "truth.bed", ["chr1\t105\t108\tM\t0\t+", "# comment", "chr1\tten\t20\tM\t0\t+"])
    with pytest.raises(InputError) as err:
        go("bad")
    assert str(err.value) == f"{inputs['truth']}:3: start (column 2) must be an integer, got 'ten'"
    assert not (tmp_path / "bad" / "summary.tsv").exists()


def test_truth_on_other_chromosomes_is_an_error(linear_run, tmp_path):
    go, _ = linear_run
    write_lines(tmp_path / "truth.bed", ["chrX\t105\t108\tM\t0\t+"])
    with pytest.raises(InputError, match="no extracted window overlaps a truth site"):
        go("none")


def test_method_names_must_not_clash():
    with pytest.raises(SeqlrpError, match="ism"):
        build_methods({}, {"ism": {"composite": "epsilon"}})
    with pytest.raises(SeqlrpError, match="unknown deeplift"):
        build_methods({"baselines": ["deeplift"]}, {})


# --- the rule on a tiny generated demo ---------------------------------------------------


@pytest.mark.workflow
def test_evaluate_rule_on_the_tiny_demo(tiny_demo_run):
    from conftest import REPO, TINY_DEMO

    folder = tiny_demo_run / "results" / "evaluation"
    rows = _read(folder / "summary.tsv")
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    positive = [r for r in rows if r["class"] == "positive"]
    grid = [f"plrp-{mode}-p{p:g}" for p in TINY_DEMO["evaluate"]["p_grid"] if p > 0 for mode in ("lambda", "mask")]
    assert [r["method"] for r in positive] == [*TINY_DEMO["attribute"]["methods"], "lrp-epsilon", "lrp-epsilon-plus",
                                               "lrp-epsilon-gamma",
                                               "lrp-alpha2beta1", "plrp-p0", *grid, "saliency", "gradient_x_input",
                                               "integrated_gradients", "ism"]
    windows = TINY_DEMO["evaluate"]["max_windows"]
    for row in positive:
        n = int(row["n_sequences"])
        assert 0 < n <= (TINY_DEMO["evaluate"]["ism_max_windows"] if row["method"] == "ism" else windows), row
        assert 0 <= float(row["auroc"]) <= 1 and 0 <= float(row["rma"]) <= 1, row
    # the same composite gives the same numbers under both names, and PLRP at p = 0 is LRP
    by_name = {r["method"]: r for r in positive}
    for a, b in (("lrp", "lrp-epsilon-plus"), ("lrp", "plrp-p0")):
        assert by_name[a]["auroc"] == by_name[b]["auroc"] and by_name[a]["rma"] == by_name[b]["rma"]
    assert tuple(_read(folder / "deletion.tsv")[0]) == DELETION_COLUMNS
    assert (folder / "sweep.png").stat().st_size > 0 and (folder / "deletion.png").stat().st_size > 0
    assert "evaluate positive lrp:" in (tiny_demo_run / "results" / "logs" / "evaluate.log").read_text()
    # the evaluation needs no attribution job: its rule's inputs are the model, the data and the truth
    rule = (REPO / "workflow" / "rules" / "evaluate.smk").read_text()
    inputs = rule[rule.index("input:"):rule.index("output:")]
    assert "model.pt" in inputs and "onehot.npy" in inputs and "ATTR_DIR" not in inputs and "attribution" not in inputs
