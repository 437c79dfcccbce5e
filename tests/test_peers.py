"""benchmarks/peers.py: its choice of windows, and DeepLIFT/SHAP as it calls tangermeme.

The DeepLIFT/SHAP tests are skipped without tangermeme (``pip install seqlrp[peers]``).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from conftest import random_batchnorm
from optional import need
from torch import nn

from seqlrp.attribution.baselines import deeplift_shap
from seqlrp.formats.table import RegionTable
from seqlrp.lrp import relevance
from seqlrp.models.layers import Exp
from seqlrp.sequences.dataset import ExtractedData
from seqlrp.sequences.shuffle import shuffle_onehot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import peers


def test_choose_windows_takes_test_windows_of_the_class_with_a_site_and_no_n():
    table = RegionTable()
    for i, (cls, split, strand) in enumerate([
        ("positive", "test", "+"),   # 0: site at 102..104 -> eligible
        ("positive", "test", "-"),   # 1: site overlaps the last base -> eligible
        ("positive", "test", "+"),   # 2: no site
        ("positive", "train", "+"),  # 3: site, wrong split
        ("negative", "test", "+"),   # 4: site, wrong class
        ("positive", "test", "+"),   # 5: site, but an N -> left out
        ("positive", "test", "+"),   # 6: site -> eligible
    ]):
        table.append("chr1", 100 + 100 * i, 110 + 100 * i, strand, f"w{i}", cls, split)
    onehot = np.zeros((7, 4, 10), dtype=np.uint8)
    onehot[:, 0, :] = 1
    onehot[5, 0, 4] = 0
    data = ExtractedData(onehot, table, ["positive", "negative"], 10)
    truth = {"chr1": np.array([[102, 104], [209, 215], [405, 406], [500, 501], [600, 601], [702, 703]])}
    mask = peers.window_truth(data, np.array([0, 1]), truth)
    assert np.flatnonzero(mask[0]).tolist() == [2, 3]
    assert np.flatnonzero(mask[1]).tolist() == [0]  # "-": position 0 is the window's last base
    assert peers.choose_windows(data, "positive", truth, 10, seed=0).tolist() == [0, 1, 6]
    picked = peers.choose_windows(data, "positive", truth, 2, seed=4)
    assert picked.tolist() == peers.choose_windows(data, "positive", truth, 2, seed=4).tolist()
    assert len(picked) == 2 and set(picked.tolist()) <= {0, 1, 6} and picked[0] < picked[1]


def _onehot(n: int, length: int, seed: int) -> torch.Tensor:
    codes = torch.randint(0, 4, (n, length), generator=torch.Generator().manual_seed(seed))
    return nn.functional.one_hot(codes, 4).transpose(1, 2).float().contiguous()


def _exp_cnn() -> nn.Sequential:
    """The demo architecture in small: Conv-BN-Exp-MaxPool, Conv-BN-ReLU-MaxPool, GAP, dense."""
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv1d(4, 6, 5, padding=2), random_batchnorm(6), Exp(), nn.MaxPool1d(2),
        nn.Conv1d(6, 5, 3, padding=1), random_batchnorm(5), nn.ReLU(), nn.MaxPool1d(2),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(5, 2),
    ).eval()
    with torch.no_grad():  # logit changes of order 1, exp() of moderate arguments
        for layer, scale in ((model[0], 3.0), (model[4], 3.0), (model[-1], 5.0)):
            layer.weight.mul_(scale)
    return model


def test_deep_lift_shap_sums_to_the_logit_change_from_the_mean_reference():
    need("tangermeme")
    model, x = _exp_cnn(), _onehot(3, 32, seed=1)
    refs = torch.from_numpy(shuffle_onehot(x.numpy().astype(np.uint8), n_shuffles=5, seed=2)).float().reshape(3, 5, 4, 32)
    attr = deeplift_shap(model, x, 1, references=refs)
    assert attr.shape == x.shape
    assert bool((attr[x == 0] == 0).all())  # observed base only
    with torch.no_grad():
        delta = model(x)[:, 1] - model(refs.reshape(15, 4, 32))[:, 1].reshape(3, 5).mean(1)
    assert delta.abs().max() > 1
    torch.testing.assert_close(attr.sum((1, 2)), delta, rtol=1e-4, atol=1e-4)

    # the Exp rule is what makes it hold: tangermeme treats an unknown module as linear
    from tangermeme.deep_lift_shap import deep_lift_shap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        linear_exp = deep_lift_shap(model, x, target=1, references=refs, device="cpu")
    assert (linear_exp.sum((1, 2)) - delta).abs().max() > 1


def test_deep_lift_with_zero_reference_is_lrp_epsilon_on_a_bias_free_relu_net():
    """Zero reference, no biases: every reference activation is 0, so the rescale multiplier of
    ReLU is 1[z > 0], its gradient, and DeepLIFT is gradient x input, which LRP-0 equals on ReLU
    networks (Ancona et al. 2018); LRP-epsilon with a tiny epsilon is LRP-0 up to rounding."""
    need("tangermeme")
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Conv1d(4, 6, 5, padding=2, bias=False), nn.ReLU(), nn.Conv1d(6, 3, 3, bias=False), nn.ReLU(),
        nn.Flatten(), nn.Linear(3 * 22, 2, bias=False),
    ).eval()
    with torch.no_grad():
        for layer in (model[0], model[2], model[5]):
            layer.weight.mul_(3.0)
    x = _onehot(4, 24, seed=6)
    attr = deeplift_shap(model, x, 0, references=torch.zeros(4, 1, 4, 24))
    expected = relevance(model, x, 0, composite="epsilon", epsilon=1e-9)
    assert expected.abs().max() > 0.5
    torch.testing.assert_close(attr, expected, rtol=1e-4, atol=1e-5)
