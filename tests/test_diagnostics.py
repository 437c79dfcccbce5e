"""Artifact diagnostics: each number on hand-made arrays, LRP conservation, randomisation, the stage."""

import csv
import json
import math

import numpy as np
import pytest
import torch
from conftest import write_store
from torch import nn

from seqlrp.analysis import diagnostics as dx
from seqlrp.analysis.artifact_checks import format_value, method_relevance, subset
from seqlrp.analysis.tracks import observed_relevance
from seqlrp.attribution.methods import MethodSpec
from seqlrp.attribution.store import read_attribution
from seqlrp.formats.table import RegionTable
from seqlrp.lrp import Prune, relevance
from seqlrp.models import annotate, build, load_model, save_model
from seqlrp.models.randomise import randomised_copy
from seqlrp.sequences.dataset import ExtractedData
from seqlrp.sequences.shuffle import shuffle_onehot
from seqlrp.stages.diagnostics import COLUMNS, run

SEQ_LEN = 40
THRESHOLDS = {"border_excess": 1.5, "conservation_error": 0.2, "absorbed_share": 0.2, "randomisation_similarity": 0.5,
              "n_relevance_share": 0.01, "null_exceedance": 0.5}


def onehot_of(codes) -> np.ndarray:
    """(N, L) codes 0..3, 4 = N -> (N, 4, L) uint8."""
    codes = np.asarray(codes)
    return (codes[:, None, :] == np.arange(4)[None, :, None]).astype(np.uint8)


def relevance_with_profile(profile, n=3) -> np.ndarray:
    """(n, 4, L) relevance whose |per-position sum| is ``profile`` in every window, spread over two channels."""
    profile = np.asarray(profile, dtype=np.float64)
    r = np.zeros((n, 4, profile.size))
    r[:, 0] = 3 * profile  # the channels' sum is what counts: 3p - 2p = p
    r[:, 1] = -2 * profile
    r[1] *= -1  # the sign of a window does not matter, |R| does
    return r


# --- positional bias ------------------------------------------------------------------------

def test_profile_is_mean_absolute_channel_sum():
    r = np.zeros((2, 4, 3))
    r[0, :, 0] = [1, -3, 0, 0]   # position 0: sums -2 and 4 -> mean |.| 3
    r[1, :, 0] = [4, 0, 0, 0]
    r[0, 2, 2] = 0.5             # position 2: 0.5 and 0 -> 0.25
    assert np.allclose(dx.positional_profile(r), [3.0, 0.0, 0.25])
    assert np.allclose(dx.positional_profile(r, chunk=1), [3.0, 0.0, 0.25])


def test_planted_border_artifact_warns_and_flat_profile_passes():
    flat = np.ones(20)
    planted = flat.copy()
    planted[:3] = planted[-3:] = 4.0  # relevance inflated at both ends
    value = dx.border_excess(dx.positional_profile(relevance_with_profile(planted)), border=3)
    assert value == pytest.approx(4.0)
    assert dx.verdict(value, THRESHOLDS["border_excess"]) == "warn"
    value = dx.border_excess(dx.positional_profile(relevance_with_profile(flat)), border=3)
    assert value == pytest.approx(1.0)
    assert dx.verdict(value, THRESHOLDS["border_excess"]) == "pass"


def test_border_excess_by_hand_and_undefined_cases():
    profile = np.array([2, 0, 1, 1, 3, 1, 1, 4.0])  # border 2: (2 + 0 + 1 + 4) / 4 = 1.75; centre (1 + 1 + 3 + 1) / 4 = 1.5
    assert dx.border_excess(profile, 2) == pytest.approx(1.75 / 1.5)
    assert math.isnan(dx.border_excess(np.ones(6), 3))      # no centre left
    assert math.isnan(dx.border_excess(np.zeros(10), 2))    # centre carries nothing
    assert dx.verdict(math.nan, 1.5) == "warn"              # undefined cannot pass
    with pytest.raises(ValueError):
        dx.border_excess(profile, 0)


def test_border_bumps_marks_outer_positions_above_factor_times_centre():
    profile = np.array([5.0, 1.0, 1, 1, 1, 1, 1, 1, 1.4, 1.6])
    assert dx.border_bumps(profile, 2, 1.5).tolist() == [0, 9]
    assert dx.border_bumps(np.ones(10), 2, 1.5).size == 0


# --- conservation ---------------------------------------------------------------------------

def test_conservation_error_and_absorbed_share_by_hand():
    logits = np.array([2.0, -4.0, 1.0])
    sums = np.array([1.5, -3.0, 1.0])
    assert dx.conservation_errors(logits, sums).tolist() == [0.25, 0.25, 0.0]
    assert dx.conservation_error(logits, sums) == 0.25
    # (+1 * 0.5 + -1 * -1 + 0) / (2 + 4 + 1): both windows lost magnitude on the way to the input
    assert dx.absorbed_share(logits, sums) == pytest.approx(1.5 / 7)
    # relevance created (sum larger than the logit) counts negative
    assert dx.absorbed_share(np.array([1.0]), np.array([1.5])) == pytest.approx(-0.5)
    assert dx.conservation_errors(np.array([0.0, 0.0]), np.array([0.0, 1.0])).tolist() == [0.0, math.inf]
    assert math.isnan(dx.absorbed_share(np.zeros(2), np.ones(2)))


def _conv_model(bias: bool) -> nn.Sequential:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv1d(4, 6, 5, padding=2, bias=bias), nn.ReLU(), nn.Flatten(),
                          nn.Linear(6 * 12, 2, bias=bias)).double().eval()
    if bias:
        with torch.no_grad():
            model[0].bias.uniform_(0.2, 0.5)
            model[3].bias.fill_(0.7)
    return model


def test_lrp_conserves_on_a_bias_free_model_and_not_with_biases():
    x = torch.from_numpy(onehot_of(np.random.default_rng(1).integers(0, 4, (16, 12)))).double()
    for bias, exact in ((False, True), (True, False)):
        model = _conv_model(bias)
        r = relevance(model, x, 0, composite="epsilon", epsilon=1e-12, stabilizer=1e-12)
        logits = model(x)[:, 0].detach().numpy()
        sums = r.sum(dim=(1, 2)).numpy()
        error = dx.conservation_error(logits, sums)
        if exact:
            assert error < 1e-9 and abs(dx.absorbed_share(logits, sums)) < 1e-9
        else:
            assert error > 0.01  # the biases' share of each logit never reaches the input


# --- randomisation --------------------------------------------------------------------------

def test_ranks_and_spearman_by_hand():
    assert dx.average_ranks(np.array([3.0, 1, 3, 2])).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert dx.spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 35, 40])) == pytest.approx(1.0)
    assert dx.spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == pytest.approx(-1.0)
    # ties: ranks (1.5, 1.5, 3) vs (1, 2, 3) -> 1.5 / sqrt(1.5 * 2)
    assert dx.spearman(np.array([1.0, 1, 2]), np.array([1.0, 2, 3])) == pytest.approx(1.5 / math.sqrt(3))
    # NaN positions (N bases) are left out
    assert dx.spearman(np.array([1.0, np.nan, 2, 3]), np.array([3.0, 0, 2, 1])) == pytest.approx(-1.0)
    assert math.isnan(dx.spearman(np.ones(4), np.arange(4.0)))


def test_randomisation_similarity_uses_magnitudes_and_skips_undefined_windows():
    trained = np.array([[1.0, -2, 3, -4], [1, 1, 1, 1]])
    randomised = np.array([[-1.0, 2, -3, 4], [1, 2, 3, 4]])  # same magnitudes; second window constant
    assert dx.randomisation_similarities(trained, randomised)[0] == pytest.approx(1.0)
    assert dx.randomisation_similarity(trained, randomised) == pytest.approx(1.0)


def _tiny_cnn():
    torch.manual_seed(0)
    model = build("cnn", seq_len=SEQ_LEN, n_classes=2, filters=[8], kernels=[5], pools=[2], dense=[8])
    annotate(model, classes=["a", "b"])
    return model.eval()


def test_model_against_itself_is_one_and_against_its_randomised_copy_less():
    model = _tiny_cnn()
    x = onehot_of(np.random.default_rng(2).integers(0, 4, (12, SEQ_LEN)))
    spec, cpu = MethodSpec("epsilon-plus"), torch.device("cpu")
    own = observed_relevance(method_relevance(model, x, 0, spec, cpu), x)
    again = observed_relevance(method_relevance(model, x, 0, spec, cpu), x)
    assert dx.randomisation_similarity(own, again) == pytest.approx(1.0)
    random_model = randomised_copy(model, seed=5)
    other = observed_relevance(method_relevance(random_model, x, 0, spec, cpu), x)
    assert dx.randomisation_similarity(own, other) < 0.9


def test_randomised_copy_is_seeded_leaves_the_model_and_global_rng_alone():
    model = _tiny_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a, b, c = randomised_copy(model, 7), randomised_copy(model, 7), randomised_copy(model, 8)
    assert torch.equal(torch.rand(3), expected_next)  # global generator untouched
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    weight = "0.weight"
    assert torch.equal(a.state_dict()[weight], b.state_dict()[weight])
    assert not torch.equal(a.state_dict()[weight], c.state_dict()[weight])
    assert not torch.equal(a.state_dict()[weight], model.state_dict()[weight])
    assert not a.training


# --- N positions, null, verdicts ------------------------------------------------------------

def test_n_relevance_share_by_hand():
    x = onehot_of(np.array([[0, 1, 4, 3], [2, 2, 2, 2]]))  # one N, at window 0 position 2
    r = np.zeros((2, 4, 4))
    r[0, 0, 0] = 1.0
    r[0, :2, 2] = [0.5, -0.5]      # |R| 1 on the N position (rules that ignore the input put relevance there)
    r[1, 2, 1] = -2.0
    assert dx.n_relevance_share(r, x) == pytest.approx(1 / 4)
    assert dx.n_relevance_share(r, x, chunk=1) == pytest.approx(1 / 4)
    assert dx.verdict(dx.n_relevance_share(r, x), THRESHOLDS["n_relevance_share"]) == "warn"
    assert dx.n_relevance_share(np.zeros((2, 4, 4)), x) == 0.0
    assert dx.count_n_positions(x) == dx.count_n_positions(x, chunk=1) == 1


def test_null_exceedance_and_bootstrap_band():
    assert dx.null_exceedance(np.array([1.0, 2, 3, 4]), np.array([2.0, 2, 2, 2])) == 0.5
    constant = np.full((5, 3), -2.0)
    lower, upper = dx.bootstrap_profile_band(constant, 0.95, n_boot=20, seed=0)
    assert np.allclose(lower, 2.0) and np.allclose(upper, 2.0)  # |values|, no spread
    values = np.random.default_rng(0).normal(size=(50, 6))
    lower, upper = dx.bootstrap_profile_band(values, 0.95, n_boot=50, seed=1)
    again = dx.bootstrap_profile_band(values, 0.95, n_boot=50, seed=1)
    assert np.array_equal(upper, again[1]) and (lower < upper).all()
    assert ((lower < np.abs(values).mean(0)) & (np.abs(values).mean(0) < upper)).all()


def test_verdict_at_the_threshold():
    assert dx.verdict(1.5, 1.5) == "pass"
    assert dx.verdict(np.nextafter(1.5, 2), 1.5) == "warn"
    assert dx.verdict(-0.3, 0.2, two_sided=True) == "warn"
    assert dx.verdict(-0.2, 0.2, two_sided=True) == "pass"
    assert dx.verdict(-0.3, 0.2) == "pass"
    assert dx.verdict(math.inf, 0.2) == "warn"


def test_subset_is_seeded_sorted_and_bounded():
    assert subset(5, 10, 0).tolist() == [0, 1, 2, 3, 4]
    assert subset(100, 7, 3).tolist() == subset(100, 7, 3).tolist()
    assert len(set(subset(100, 7, 3).tolist())) == 7


# --- the stage --------------------------------------------------------------------------------

@pytest.fixture
def attribution(tmp_path):
    """A saved tiny CNN and one attribution directory (class a, method lrp) of 12 windows."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(24, SEQ_LEN))
    codes[0, :3] = 4  # a few N bases
    table = RegionTable()
    for i in range(24):
        table.append("chr1", 100 * i, 100 * i + SEQ_LEN, "+", f"w{i}", "ab"[i % 2], "test")
    data = ExtractedData(onehot_of(codes), table, ["a", "b"], SEQ_LEN)
    save_model(_tiny_cnn(), tmp_path / "model.pt")
    folder = write_store(tmp_path / "attributions" / "a.lrp", data, tmp_path / "model.pt", "a", "lrp",
                         MethodSpec("epsilon-plus"), tmp_path / "onehot.npy", batch_size=8)
    return tmp_path, folder


def _config(**changes):
    return {"device": "cpu", "batch_size": 8, "n_windows": 10, "n_shuffles": 2, "border": 4, "null_quantile": 0.95,
            "thresholds": dict(THRESHOLDS), **changes}


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_stage_writes_every_diagnostic_with_verdicts_and_a_figure(attribution):
    tmp_path, folder = attribution
    outputs = {"table": tmp_path / "eval" / "diagnostics.tsv", "figures": tmp_path / "eval" / "diagnostics"}
    run(_config(), [folder], tmp_path / "onehot.npy", tmp_path / "model.pt", outputs, seed=1, threads=1)
    rows = _read(outputs["table"])
    assert list(rows[0]) == list(COLUMNS)
    assert [r["diagnostic"] for r in rows] == list(dx.DIAGNOSTICS)
    assert {(r["class"], r["method"]) for r in rows} == {("a", "lrp")}
    assert all(r["verdict"] in ("pass", "warn") for r in rows)
    values = {r["diagnostic"]: float(r["value"]) for r in rows}
    # epsilon-plus puts relevance on observed bases only: nothing on N
    assert values["n_relevance_share"] == 0.0
    assert "3 N position(s)" in next(r["detail"] for r in rows if r["diagnostic"] == "n_relevance_share")
    # the table's conservation numbers are those of regions.tsv
    regions = _read(folder / "regions.tsv")
    logits = np.array([float(r["logit"]) for r in regions])
    sums = np.array([float(r["relevance_sum"]) for r in regions])
    assert values["conservation_error"] == pytest.approx(dx.conservation_error(logits, sums), rel=1e-5)
    assert values["border_excess"] == pytest.approx(
        dx.border_excess(dx.positional_profile(read_attribution(folder, tmp_path / "onehot.npy").relevance), 4), rel=1e-5)
    assert -1 <= values["randomisation_similarity"] <= 1 and 0 <= values["null_exceedance"] <= 1
    assert (outputs["figures"] / "a.lrp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = outputs["table"].read_bytes()
    run(_config(), [folder], tmp_path / "onehot.npy", tmp_path / "model.pt", outputs, seed=1, threads=1)
    assert outputs["table"].read_bytes() == first  # seeded: same config, same bytes


def test_stage_flags_a_planted_border_artifact(attribution):
    tmp_path, folder = attribution
    stored = folder / "shards" / "0" / "relevance.npy"
    relevance = np.load(stored)
    relevance[:, :4] *= 20   # relevance inflated in the 4 outer positions of both ends
    relevance[:, -4:] *= 20
    np.save(stored, relevance)
    outputs = {"table": tmp_path / "eval" / "d.tsv", "figures": tmp_path / "eval" / "figs"}
    run(_config(), [folder], tmp_path / "onehot.npy", tmp_path / "model.pt", outputs, seed=1, threads=1)
    row = next(r for r in _read(outputs["table"]) if r["diagnostic"] == "border_excess")
    assert row["verdict"] == "warn" and float(row["value"]) > 1.5


def test_stage_uses_the_methods_recorded_settings(attribution):
    tmp_path, folder = attribution
    model = load_model(tmp_path / "model.pt")
    store = read_attribution(folder, tmp_path / "onehot.npy")
    # what diagnostics recompute for the trained model equals what attribute wrote
    again = method_relevance(model, store.onehot[:], 0, MethodSpec("epsilon-plus"), torch.device("cpu"))
    assert np.allclose(again.sum(axis=1), store.relevance[:], atol=1e-6)


def test_stage_recomputes_with_a_non_default_recorded_method(tmp_path):
    """The randomised model's maps and the shuffled null are recomputed with the store's method,
    here alpha-beta with PLRP-lambda: the numbers are those of direct relevance() calls with it,
    and change when settings.json says epsilon-plus instead."""
    rng = np.random.default_rng(4)
    table = RegionTable()
    for i in range(16):
        table.append("chr1", 100 * i, 100 * i + SEQ_LEN, "+", f"w{i}", "a", "test")
    data = ExtractedData(onehot_of(rng.integers(0, 4, size=(16, SEQ_LEN))), table, ["a", "b"], SEQ_LEN)
    save_model(_tiny_cnn(), tmp_path / "model.pt")
    folder = write_store(tmp_path / "attributions" / "a.plrp", data, tmp_path / "model.pt", "a", "plrp",
                         MethodSpec("alpha2beta1", prune={"p_pos": 0.4}), tmp_path / "onehot.npy", batch_size=8)
    settings_path = folder / "settings.json"
    recorded = settings_path.read_text()
    assert json.loads(recorded)["composite"] == "alpha2beta1" and json.loads(recorded)["prune"] == {"p_pos": 0.4}
    config, seed = _config(n_windows=6), 1

    def values_and_details():
        outputs = {"table": tmp_path / "eval" / "d.tsv", "figures": tmp_path / "eval" / "figs"}
        run(config, [folder], tmp_path / "onehot.npy", tmp_path / "model.pt", outputs, seed=seed, threads=1)
        rows = _read(outputs["table"])
        return {r["diagnostic"]: float(r["value"]) for r in rows}, {r["diagnostic"]: r["detail"] for r in rows}

    values, details = values_and_details()

    # by hand, with the recorded method passed to relevance() directly
    def recorded_method(model, x):
        x = torch.from_numpy(np.asarray(x, dtype=np.float32))
        return relevance(model, x, 0, composite="alpha2beta1", prune=Prune(0.4)).numpy()

    model = load_model(tmp_path / "model.pt")
    store = read_attribution(folder, tmp_path / "onehot.npy")
    rows = subset(len(store), config["n_windows"], seed)
    sample = np.asarray(store.onehot[rows])
    randomised = observed_relevance(recorded_method(randomised_copy(model, seed), sample), sample)
    trained = np.asarray(store.relevance[rows])  # read from the store (no N in these windows)
    similarity = float(np.nanmean(dx.randomisation_similarities(trained, randomised)))
    assert values["randomisation_similarity"] == pytest.approx(similarity, rel=1e-5, abs=1e-6)
    shuffled = shuffle_onehot(sample, n_shuffles=config["n_shuffles"], seed=seed)
    null = dx.position_relevance(recorded_method(model, shuffled))
    null_border = dx.border_excess(np.abs(null).mean(axis=0), config["border"])
    assert details["border_excess"].endswith(f"the shuffled null's: {format_value(null_border)}")

    # the same maps with epsilon-plus recorded: what is recomputed changes, what is read does not
    settings_path.write_text(json.dumps({**json.loads(recorded), "composite": "epsilon-plus", "prune": None}))
    assert read_attribution(folder, tmp_path / "onehot.npy").spec == MethodSpec("epsilon-plus")
    other_values, other_details = values_and_details()
    assert other_values["border_excess"] == values["border_excess"]
    assert other_values["randomisation_similarity"] != pytest.approx(values["randomisation_similarity"], abs=1e-3)
    assert other_details["border_excess"] != details["border_excess"]
