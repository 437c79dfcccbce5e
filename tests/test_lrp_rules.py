"""Every LRP rule against its formula, with numbers worked out by hand on tiny layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqlrp.lrp import RULES, AlphaBeta, Epsilon, Flat, Gamma, WSquare, ZBox, ZPlus, make_rule, relevance
from seqlrp.models.layers import Residual


def two_input_layer() -> nn.Sequential:
    """z0 = 0.5 x1 - x2 + 0.5 (the explained output); z1 = 3 x1 + x2 - 7 (a distractor)."""
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight[:] = torch.tensor([[0.5, -1.0], [3.0, 1.0]])
        lin.bias[:] = torch.tensor([0.5, -7.0])
    return nn.Sequential(lin)


def explain(rule, x):
    return relevance(two_input_layer(), torch.tensor([x]), 0, composite={nn.Linear: rule})[0]


# x = (1, 3): z0 = 0.5 - 3 + 0.5 = -2, the initial relevance.
POSITIVE_INPUT = [
    # eps: x_i w_i / (z - 0.1) * z = (0.5, -3) * -2 / -2.1
    (Epsilon(0.1), [0.5 * 2 / 2.1, -3 * 2 / 2.1]),
    # z+: q+ = (0.5, 0), denominator 0.5 + b+ 0.5 = 1 -> (0.5 * -2, 0)
    (ZPlus(), [-1.0, 0.0]),
    # alpha2beta1: 2 * (0.5, 0) / 1 * -2 - 1 * (0, -3) / -3 * -2 = (-2, 0) - (0, -2)
    (AlphaBeta(2, 1), [-2.0, 2.0]),
    # gamma: z < 0 -> w + g w- = (0.5, -1.25); q = (0.5, -3.75); D = -2 + 0.25 * (-3 + b- 0) = -2.75
    (Gamma(0.25), [0.5 / 2.75 * 2, -3.75 / 2.75 * 2]),
    # flat: two inputs share equally
    (Flat(), [-1.0, -1.0]),
    # w^2: (0.25, 1) / (0.25 + 1 + b^2 0.25) * -2
    (WSquare(), [-0.25 / 1.5 * 2, -1 / 1.5 * 2]),
    # z-box, l = 0, h = 4: q = x w - l w+ - h w- = (0.5, -3 + 4) = (0.5, 1); D = 1.5
    (ZBox(0.0, 4.0), [-0.5 / 1.5 * 2, -1 / 1.5 * 2]),
]

# x = (2, -1): z0 = 1 + 1 + 0.5 = 2.5; inputs of both signs exercise the x+ / x- terms.
MIXED_INPUT = [
    (Epsilon(0.1), [1 * 2.5 / 2.6, 1 * 2.5 / 2.6]),
    # z+: x+ w+ = (1, 0), x- w- = (0, 1); D = 2 + b+ 0.5
    (ZPlus(), [1.0, 1.0]),
    # alpha2beta1: positive shares (1, 1) / 2.5 * 2.5 * 2; no negative contribution (D- = b- = 0)
    (AlphaBeta(2, 1), [2.0, 2.0]),
    # gamma, z > 0: x+ (w + g w+) = (1.25, 0), x- (w + g w-) = (0, 1.25); D = 2.5 + 0.5 + 0.125
    (Gamma(0.25), [1.25 / 3.125 * 2.5, 1.25 / 3.125 * 2.5]),
    (Flat(), [1.25, 1.25]),
    (WSquare(), [0.25 / 1.5 * 2.5, 1 / 1.5 * 2.5]),
    # z-box (0, 4): q = (1 - 0, 1 + 4) = (1, 5), D = 6
    (ZBox(0.0, 4.0), [2.5 / 6, 12.5 / 6]),
]


@pytest.mark.parametrize("rule, expected", POSITIVE_INPUT, ids=lambda v: getattr(v, "name", ""))
def test_rule_on_positive_input(rule, expected):
    assert explain(rule, [1.0, 3.0]).tolist() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("rule, expected", MIXED_INPUT, ids=lambda v: getattr(v, "name", ""))
def test_rule_on_mixed_sign_input(rule, expected):
    assert explain(rule, [2.0, -1.0]).tolist() == pytest.approx(expected, rel=1e-5)


def test_epsilon_stabiliser_takes_sign_of_zero_as_positive():
    # z0 = 0 exactly: with eps the denominator is +eps, so the relevance keeps the numerator's sign
    lin = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight[:] = torch.tensor([[1.0, -1.0]])
    out = relevance(nn.Sequential(lin, nn.Linear(1, 1)), torch.tensor([[2.0, 2.0]]), 0, composite="epsilon",
                    epsilon=0.5, return_layers=True)
    # the second Linear sees z = 0 * w + b; the first: R = x w R_1 / (0 + 0.5)
    r_top = out.layers["1"]
    assert out.relevance[0].tolist() == pytest.approx([2 * r_top.item() / 0.5, -2 * r_top.item() / 0.5])


def test_lrp0_gives_zero_not_nan_at_zero_denominator():
    lin = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight[:] = torch.tensor([[1.0, -1.0]])
    r = relevance(nn.Sequential(lin), torch.tensor([[2.0, 2.0]]), 0, composite={nn.Linear: "zero"})
    assert r.tolist() == [[0.0, 0.0]]


def test_max_pool_winner_takes_all_and_avg_pool_is_proportional():
    head = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        head.weight.fill_(1.0)
    x = torch.tensor([[[1.0, 3.0, 2.0, 0.0]]])
    # max-pool: (3, 2) -> logit 5; each winner keeps its share, the losers get nothing
    r = relevance(nn.Sequential(nn.MaxPool1d(2), nn.Flatten(), head), x, 0, composite="epsilon", epsilon=0.0)
    assert r.flatten().tolist() == pytest.approx([0.0, 3.0, 2.0, 0.0])
    # avg-pool: (2, 1) -> logit 3; each window splits in proportion to its inputs
    r = relevance(nn.Sequential(nn.AvgPool1d(2), nn.Flatten(), head), x, 0, composite="epsilon", epsilon=0.0)
    assert r.flatten().tolist() == pytest.approx([0.5, 1.5, 1.0, 0.0], rel=1e-5)


def test_residual_sum_splits_in_proportion():
    body = nn.Linear(2, 2, bias=False)
    head = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        body.weight[:] = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
        head.weight.fill_(1.0)
    # x = (1, 2): body = (3, 2), y = (4, 4), logit 8. Skip gets x / y * 4 = (1, 2), the body
    # (3, 2), which its epsilon rule sends down as x_i sum_j w_ji = (1 * 1, 2 * (1 + 1)).
    model = nn.Sequential(Residual(nn.Sequential(body)), head)
    r = relevance(model, torch.tensor([[1.0, 2.0]]), 0, composite="epsilon", epsilon=0.0)
    assert r[0].tolist() == pytest.approx([2.0, 6.0], rel=1e-5)


def conv_as_linear(conv: nn.Conv1d, length: int) -> nn.Linear:
    """The dense matrix of ``conv`` on inputs of ``length`` (channels x positions, flattened)."""
    n_in = conv.in_channels * length
    basis = torch.eye(n_in).reshape(n_in, conv.in_channels, length)
    with torch.no_grad():
        cols = conv(basis) - (conv.bias[None, :, None] if conv.bias is not None else 0)
        out = cols.reshape(n_in, -1)
        lin = nn.Linear(n_in, out.shape[1])
        lin.weight[:] = out.T
        lin.bias[:] = (conv.bias[:, None].expand(conv.out_channels, out.shape[1] // conv.out_channels)).reshape(-1)
    return lin


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(
    "geometry",
    [
        dict(kernel_size=3, padding=1),
        dict(kernel_size=4, stride=2, padding=2, dilation=2),
        dict(kernel_size=5, stride=3, padding=0),
        dict(kernel_size=4, padding="same", dilation=1),
        dict(kernel_size=3, padding=1, groups=2),
    ],
    ids=["pad", "stride-dilation", "stride3", "same-asymmetric", "groups"],
)
@pytest.mark.parametrize("rule", ["epsilon", "zplus", "alpha2beta1", "gamma", "wsquare", "zbox"])
def test_conv1d_equals_its_dense_matrix(geometry, rule):
    """A Conv1d of any geometry propagates exactly like the Linear layer with its matrix
    (flat differs by design: its receptive field is the window, see the next test)."""
    torch.manual_seed(0)
    length = 11
    conv = nn.Conv1d(4, 6, **geometry)
    x = torch.randn(3, 4, length) if rule != "zbox" else torch.rand(3, 4, length)
    head = nn.Linear(6 * conv(x).shape[-1], 2)
    rule_obj = make_rule(rule, epsilon=0.01)
    as_conv = relevance(nn.Sequential(conv, nn.Flatten(), head), x, 1,
                        composite={nn.Conv1d: rule_obj, nn.Linear: Epsilon(0.01)})
    as_dense = relevance(nn.Sequential(nn.Flatten(), conv_as_linear(conv, length), head), x, 1,
                         composite={nn.Linear: Epsilon(0.01)}, input_rule=rule_obj)
    torch.testing.assert_close(as_conv, as_dense, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("padding, expected", [(0, [1.5, 4.0, 2.5]), (1, [2.5, 4.0, 5.5])])
def test_flat_rule_on_conv_counts_the_real_inputs_of_each_window(padding, expected):
    conv = nn.Conv1d(1, 1, 2, padding=padding, bias=False)
    n_out = 2 + 2 * padding
    head = nn.Linear(n_out, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        head.weight.fill_(1.0)
    # conv outputs c = (3, 5) or (1, 3, 5, 3) each carry their own value as relevance; flat
    # shares each equally over the inputs (not the zero padding) of its window
    r = relevance(nn.Sequential(conv, nn.Flatten(), head), torch.tensor([[[1.0, 2.0, 3.0]]]), 0,
                  composite="epsilon", epsilon=0.0, input_rule="flat")
    assert r.flatten().tolist() == pytest.approx(expected, rel=1e-5)


def test_rule_registry_and_validation():
    assert {"epsilon", "zplus", "alpha2beta1", "gamma", "flat", "wsquare", "zbox"} <= set(RULES)
    assert make_rule("epsilon", epsilon=0.3) == Epsilon(0.3)
    with pytest.raises(ValueError, match="alpha - beta = 1"):
        AlphaBeta(2.0, 2.0)
    with pytest.raises(ValueError, match="unknown LRP rule"):
        make_rule("nope")


def test_a_new_rule_is_one_class_and_one_registration():
    """A Conv1d/Linear rule defined outside seqlrp: a class with its flags and its propagate,
    registered by name, is used wherever a rule name is taken (here a composite)."""
    from dataclasses import dataclass
    from typing import ClassVar

    from seqlrp.lrp import relevance
    from seqlrp.lrp.propagate import Step
    from seqlrp.lrp.rules import RULES, Epsilon, Rule, register

    @register(halved=lambda epsilon, gamma, stabilizer: Halved(epsilon=epsilon))
    @dataclass(frozen=True)
    class Halved(Rule):
        """The epsilon rule, its relevance halved at every layer (a rule nobody would use: a check)."""

        reads_input: ClassVar[bool] = True
        needs_output: ClassVar[bool] = True
        epsilon: float = 1e-6

        def propagate(self, layer, x, z, r, mask=None):
            step = Epsilon(self.epsilon).propagate(layer, x, z, r, mask)
            return Step(step.relevance / 2, step.coef / 2, None)

    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv1d(4, 6, 5, padding=2), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 16, 2)).eval()
        x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 16)), 4).permute(0, 2, 1).float()
        plain = relevance(model, x, 1, composite={nn.Conv1d: "epsilon", nn.Linear: "epsilon"})
        halved = relevance(model, x, 1, composite={nn.Conv1d: "halved", nn.Linear: "halved"})
        torch.testing.assert_close(halved, plain / 4)  # two layers, half each
        with pytest.raises(ValueError, match="'halved' is taken"):
            register(halved=lambda e, g, s: None)(Halved)
    finally:
        RULES.pop("halved", None)
