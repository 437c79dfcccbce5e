"""The seqlets stage in process: a planted motif found at its genome coordinates on both strands,
the FDR null keeping noise out, the null explained with the method's recorded settings, and what
an empty result looks like."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import store_from_arrays, write_store

from seqlrp.analysis.seqlet_null import null_relevance
from seqlrp.analysis.seqlets import fdr_threshold, window_scores
from seqlrp.analysis.tracks import observed_relevance
from seqlrp.attribution.methods import MethodSpec
from seqlrp.formats.table import RegionTable
from seqlrp.lrp import Prune, relevance
from seqlrp.models import annotate, build, load_model, save_model
from seqlrp.sequences.dataset import ExtractedData
from seqlrp.sequences.shuffle import shuffle_onehot
from seqlrp.stages.seqlets import run

L = 40
MOTIF = "GATTACA"
SIZES = {"chr1": 5000, "chr2": 3000}
# (chrom, start, strand, window position of the planted motif or None); windows are L long
WINDOWS = [("chr1", 100, "+", None), ("chr1", 300, "+", 10), ("chr1", 500, "-", None), ("chr1", 700, "-", 5),
           ("chr1", 900, "+", 0), ("chr1", 1100, "+", None), ("chr2", 200, "-", 33), ("chr2", 400, "+", None),
           ("chr2", 600, "+", 21), ("chr2", 800, "-", None), ("chr2", 1000, "-", 0), ("chr2", 1200, "+", None)]
# the same sites in genome coordinates (0-based, half-open): a + window's position p is start + p; a
# - window reads the genome backwards from its end, so its [p, p + 7) is [end - p - 7, end - p)
SITES = [("chr1", 310, 317, "+"), ("chr1", 728, 735, "-"), ("chr1", 900, 907, "+"), ("chr2", 200, 207, "-"),
         ("chr2", 621, 628, "+"), ("chr2", 1033, 1040, "-")]


def codes_without_motif(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, L) random base codes 0..3 in which MOTIF does not occur."""
    codes = rng.integers(0, 4, size=(n, L))
    for row in codes:
        while MOTIF in "".join("ACGT"[c] for c in row):
            row[:] = rng.integers(0, 4, size=L)
    return codes


def onehot_of(codes: np.ndarray) -> np.ndarray:
    return (codes[:, None, :] == np.arange(4)[None, :, None]).astype(np.uint8)


def motif_detector() -> torch.nn.Module:
    """A seqlrp CNN that scores 1 per exact MOTIF in window orientation and 0 otherwise.

    One filter: +10 on the motif's base, -10 elsewhere, bias -65 (a full match gives 5, one
    mismatch at most -15, so the ReLU passes full matches only); global average over L and a
    Linear of weight 8 / 5 L. Under epsilon-plus each base of a match gets 1/7 of it (z+ with
    bias b+ = 0) and every other position exactly 0; the stabilisers keep ~1e-5 of it."""
    model = build("cnn", seq_len=L, n_classes=1, filters=[1], kernels=[7], pools=[1], first_activation="relu",
                  batchnorm=False, head="gap", dense=[], dropout=0.0)
    annotate(model, classes=["site"])
    conv, head = model[0], model[-1]
    with torch.no_grad():
        conv.weight.fill_(-10.0)
        for k, base in enumerate(MOTIF):
            conv.weight[0, "ACGT".index(base), k] = 10.0
        conv.bias.fill_(-65.0)
        head.weight.fill_(L / 5)
        head.bias.zero_()
    return model.eval()


def regions(windows) -> RegionTable:
    table = RegionTable()
    for i, (chrom, start, strand, _) in enumerate(windows):
        table.append(chrom, start, start + L, strand, f"w{i}", "site", "test")
    return table


@pytest.fixture
def planted(tmp_path):
    """A store of the motif detector's epsilon-plus relevance over WINDOWS, the model and chrom sizes."""
    rng = np.random.default_rng(0)
    codes = codes_without_motif(len(WINDOWS), rng)
    for row, (*_, at) in zip(codes, WINDOWS):
        if at is not None:
            row[at : at + len(MOTIF)] = ["ACGT".index(b) for b in MOTIF]
    save_model(motif_detector(), tmp_path / "model.pt")
    data = ExtractedData(onehot_of(codes), regions(WINDOWS), ["site"], L)
    folder = write_store(tmp_path / "attributions" / "site.lrp", data, tmp_path / "model.pt", "site", "lrp",
                         MethodSpec("epsilon-plus"), tmp_path / "onehot.npy", batch_size=5)
    (tmp_path / "chrom_sizes.tsv").write_text("".join(f"{c}\t{n}\n" for c, n in SIZES.items()))
    return tmp_path, folder


def run_stage(tmp_path, folder, name="s", chunk=5, **config):
    """Run the stage (config defaults as in the schema, a null of every window); return the BED's
    lines and the summary."""
    config = {"window": 7, "flank": 3, "fdr": 0.05, "n_null": 500, "n_shuffles": 2, **config}
    outputs = {"bed": str(tmp_path / f"{name}.bed"), "summary": str(tmp_path / f"{name}.json")}
    n = run(config, folder, tmp_path / "onehot.npy", tmp_path / "model.pt", tmp_path / "chrom_sizes.tsv", outputs,
            seed=3, device="cpu", threads=1, chunk=chunk)
    lines = (tmp_path / f"{name}.bed").read_text().splitlines()
    summary = json.loads((tmp_path / f"{name}.json").read_text())
    assert n == summary["seqlets"] == len(lines) - 1
    assert lines[0].startswith('track name="site lrp seqlets"') and 'itemRgb="On"' in lines[0]
    return [line.split("\t") for line in lines[1:]], summary


def test_planted_motif_is_called_at_its_genome_coordinates_on_both_strands(planted):
    tmp_path, folder = planted
    # the store is what the fixture says: one logit per planted motif, 1/7 on each of its bases
    stored = np.load(folder / "shards" / "0" / "relevance.npy")
    assert np.allclose(stored.sum(axis=1), [at is not None for *_, at in WINDOWS], rtol=1e-4)
    assert np.count_nonzero(stored) == 7 * len(SITES)
    # window 1, no flank: exactly the motif's bases; chunks of 5 windows cross rows 5 and 10
    rows, summary = run_stage(tmp_path, folder, window=1, flank=0)
    assert [(r[0], int(r[1]), int(r[2]), r[5]) for r in rows] == SITES
    assert all(len(r) == 9 and r[4] == "1000" and r[8] == "255,0,0" and (r[6], r[7]) == (r[1], r[2]) for r in rows)
    assert sorted(r[3] for r in rows) == [f"site.lrp.{k}" for k in range(len(SITES))]
    # the shuffled null never rebuilds the motif here: its scores are all 0, so the smallest
    # positive real score, one base's 1/7, passes; nothing is negative
    null = null_relevance(tmp_path / "model.pt", np.load(tmp_path / "onehot.npy"), 0, MethodSpec(), 500, 2, seed=3,
                          device="cpu")
    assert null.shape == (2 * len(WINDOWS), L) and not null.any()
    assert summary["threshold_positive"] == pytest.approx(1 / 7, rel=1e-4)
    assert math.isinf(summary["threshold_negative"])
    assert summary == {**summary, "class": "site", "method": "lrp", "window": 1, "flank": 0, "fdr": 0.05,
                       "windows": len(WINDOWS), "null_windows": 2 * len(WINDOWS), "seqlets": len(SITES),
                       "positive": len(SITES), "negative": 0}


def test_window_and_flank_widen_the_call_around_the_site(planted):
    tmp_path, folder = planted
    # every 7 bp window that overlaps the motif scores >= 1/7: window starts [p - 6, p + 6],
    # covering [p - 6, p + 13), plus a flank of 3 -> [p - 9, p + 16) in window coordinates,
    # clipped to the window [0, L) and mapped to the genome
    rows, summary = run_stage(tmp_path, folder, window=7, flank=3, chunk=64)
    expected = []
    for chrom, start, strand, at in WINDOWS:
        if at is not None:
            lo, hi = max(at - 9, 0), min(at + 16, L)
            on_genome = (start + lo, start + hi) if strand == "+" else (start + L - hi, start + L - lo)
            expected.append((chrom, *on_genome))
    assert [(r[0], int(r[1]), int(r[2])) for r in rows] == sorted(expected, key=lambda s: (s[0], s[1]))
    assert summary["seqlets"] == len(SITES) and summary["threshold_positive"] == pytest.approx(1 / 7, rel=1e-4)


def noise_store(tmp_path, model, n=40):
    """A store of ``model``'s (random, untrained) relevance over ``n`` random windows on alternating
    strands, whose null is the same model's relevance on shuffled copies: real and null scores come
    from one distribution."""
    annotate(model, classes=["site"])
    save_model(model, tmp_path / "model.pt")
    rng = np.random.default_rng(5)
    windows = [("chr1", 100 * i, "+-"[i % 2], None) for i in range(n)]
    data = ExtractedData(onehot_of(rng.integers(0, 4, size=(n, L))), regions(windows), ["site"], L)
    (tmp_path / "chrom_sizes.tsv").write_text("chr1\t10000\n")
    return write_store(tmp_path / "attributions" / "site.lrp", data, tmp_path / "model.pt", "site", "lrp",
                       MethodSpec("epsilon-plus"), tmp_path / "onehot.npy", batch_size=16)


def linear_model() -> torch.nn.Module:
    """One random Linear on the flattened one-hot: the relevance of a base is its weight."""
    torch.manual_seed(4)
    model = build("mlp", seq_len=L, n_classes=1, hidden=[], dropout=0.0)
    with torch.no_grad():
        model[-1].bias.zero_()
    return model.eval()


def test_noise_like_its_null_gives_few_seqlets_and_planted_bumps_stand_out(tmp_path):
    folder = noise_store(tmp_path, linear_model())
    rows, summary = run_stage(tmp_path, folder, "noise", window=5, flank=0)
    # 1440 real windows of noise and 2880 null windows from the same distribution: only the odd
    # real window beyond the null's extremes passes
    assert summary["positive"] <= 2 and summary["negative"] <= 2
    # the thresholds are the FDR thresholds of these very scores against the null's
    stored = np.load(folder / "shards" / "0" / "relevance.npy").astype(np.float64)
    onehot = np.load(tmp_path / "onehot.npy")
    null = null_relevance(tmp_path / "model.pt", onehot, 0, MethodSpec("epsilon-plus"), 500, 2, seed=3, device="cpu")
    real_scores, null_scores = window_scores(stored, 5), window_scores(null, 5)
    assert summary["threshold_positive"] == fdr_threshold(real_scores, null_scores, 0.05)
    assert summary["threshold_negative"] == fdr_threshold(-real_scores, -null_scores, 0.05)

    # the same noise plus a strong bump at window positions [20, 26) of every third window
    bumped = stored.copy()
    bumped[::3, 20:26] += 10 * np.abs(stored).max()
    np.save(folder / "shards" / "0" / "relevance.npy", bumped.astype(np.float32))
    rows, summary = run_stage(tmp_path, folder, "bumped", window=5, flank=0)
    # every 5 bp window touching a bump passes: starts 16..25 cover [16, 30), which is the genome's
    # [start + 16, start + 30) on + and [start + 10, start + 24) on -
    bumps = {("chr1", 100 * i + 16, 100 * i + 30) if i % 2 == 0 else ("chr1", 100 * i + 10, 100 * i + 24)
             for i in range(0, 40, 3)}
    called = [(r[0], int(r[1]), int(r[2])) for r in rows]
    assert bumps <= set(called)
    # FDR 5 %: windows called in noise are a small share of the positive windows called
    positive = [(r[0], int(r[1]), int(r[2])) for r in rows if r[8] == "255,0,0"]
    noise_windows = sum(hi - lo - 4 for chrom, lo, hi in positive if (chrom, lo, hi) not in bumps)
    assert noise_windows <= 0.1 * sum(hi - lo - 4 for _, lo, hi in positive)


def test_the_null_is_explained_with_the_methods_recorded_settings(tmp_path):
    torch.manual_seed(6)
    cnn = build("cnn", seq_len=L, n_classes=1, filters=[6], kernels=[5], pools=[2], first_activation="relu",
                batchnorm=False, head="flatten", dense=[8], dropout=0.0).eval()
    folder = noise_store(tmp_path, cnn)
    # the store says its method is alpha-beta with PLRP-lambda (what attribute writes for such a method)
    settings = json.loads((folder / "settings.json").read_text())
    settings.update(composite="alpha2beta1", prune={"p_pos": 0.4})
    (folder / "settings.json").write_text(json.dumps(settings))
    spec = MethodSpec.from_settings(settings)
    onehot = np.load(tmp_path / "onehot.npy")
    model = load_model(tmp_path / "model.pt")
    shuffled = shuffle_onehot(onehot, n_shuffles=2, seed=3)  # n_null >= n: every window, in order
    direct = relevance(model, torch.from_numpy(shuffled.astype(np.float32)), 0, composite="alpha2beta1",
                       prune=Prune(0.4)).numpy()
    null = null_relevance(tmp_path / "model.pt", onehot, 0, spec, 500, 2, seed=3, device="cpu")
    np.testing.assert_allclose(null, observed_relevance(direct, shuffled), rtol=1e-5, atol=1e-7)
    default = null_relevance(tmp_path / "model.pt", onehot, 0, MethodSpec(), 500, 2, seed=3, device="cpu")
    assert np.abs(null).max() > 2 * np.abs(default).max()  # a different null: pruned, and alpha-beta
    # the stage reads the recorded settings: its thresholds are those against this null, not the
    # default's. Real relevance three times the noise's puts both thresholds inside the nulls' tails.
    stored = np.load(folder / "shards" / "0" / "relevance.npy")
    np.save(folder / "shards" / "0" / "relevance.npy", 3 * stored)
    _, summary = run_stage(tmp_path, folder, window=5, flank=0)
    real_scores = window_scores(np.load(folder / "shards" / "0" / "relevance.npy").astype(np.float64), 5)
    expected = fdr_threshold(real_scores, window_scores(null, 5), 0.05)
    assert math.isfinite(expected) and summary["seqlets"] > 0
    assert summary["threshold_positive"] == expected != fdr_threshold(real_scores, window_scores(default, 5), 0.05)
    assert summary["threshold_negative"] == fdr_threshold(-real_scores, -window_scores(null, 5), 0.05)
    assert "alpha2beta1" in (tmp_path / "s.bed").read_text().splitlines()[0]  # the track line names the method


def test_no_seqlets_is_a_bed_with_only_the_track_line(tmp_path):
    # relevance 0 everywhere: no real score is positive or negative, both thresholds are infinite
    n = 6
    onehot = onehot_of(np.random.default_rng(7).integers(0, 4, size=(n, L)))
    zeros = np.zeros((n, 4, L), dtype=np.float32)
    header = "chrom\tstart\tend\tstrand\tname\tclass\tsplit\trow\tlogit\trelevance_sum\n"
    table = "".join(f"chr1\t{100 * i}\t{100 * i + L}\t+\tw{i}\tsite\ttest\t{i}\t0.5\t0\n" for i in range(n))
    folder = store_from_arrays(tmp_path / "attributions" / "site.lrp", onehot, zeros, zeros, header + table, "site",
                               "lrp", onehot_path=tmp_path / "onehot.npy")
    save_model(motif_detector(), tmp_path / "model.pt")
    (tmp_path / "chrom_sizes.tsv").write_text("chr1\t10000\n")
    rows, summary = run_stage(tmp_path, folder, window=7, flank=3)
    assert rows == []
    assert (tmp_path / "s.bed").read_text().count("\n") == 1  # the track line, nothing else
    assert summary["seqlets"] == summary["positive"] == summary["negative"] == 0 and summary["windows"] == n
    assert math.isinf(summary["threshold_positive"]) and math.isinf(summary["threshold_negative"])
