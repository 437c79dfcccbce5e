"""Rules users give ops: relevance(..., op_rules={op: rule}) with built-in rules or an OpRule."""

import pytest
import torch
from torch import nn

from seqlrp.lrp import OpRule, UnsupportedLayerError, relevance

LRP0 = {nn.Conv1d: "zero", nn.Linear: "zero"}


class CumulativeNet(nn.Module):
    """A bias-free ReLU net with an op seqlrp has no rule for: ``cumsum`` along the sequence."""

    def __init__(self, length: int = 32):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 5, padding=2, bias=False)
        self.fc = nn.Linear(6 * length, 3, bias=False)

    def forward(self, x):
        h = torch.cumsum(torch.relu(self.conv(x)), dim=-1) / 4.0
        return self.fc(h.flatten(1))


class CumsumRule(OpRule):
    """LRP-0 of cumsum along the last dim: ``R_i = x_i * sum_{j >= i} R_j / y_j``."""

    def relevance(self, inputs, output, R):
        x, dim = inputs
        assert dim == -1 and isinstance(x, torch.Tensor)
        safe = torch.where(output == 0, torch.ones_like(output), output)
        share = torch.where(output == 0, torch.zeros_like(R), R / safe)
        return [x * share.flip(-1).cumsum(-1).flip(-1), None]


def _model_and_input():
    torch.manual_seed(0)
    model = CumulativeNet().double().eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 32)), 4).permute(0, 2, 1).double()
    return model, x


def _gradient_x_input(model, x, target):
    leaf = x.clone().requires_grad_(True)
    model(leaf)[:, target].sum().backward()
    return leaf.grad * x


def test_an_op_without_a_rule_is_refused_saying_how_to_supply_one():
    model, x = _model_and_input()
    with pytest.raises(UnsupportedLayerError) as caught:
        relevance(model, x, 1)
    message = str(caught.value)
    assert "no rule for op aten.cumsum.default" in message
    assert "op_rules={'aten.cumsum.default': 'proportional'}" in message and "seqlrp.lrp.OpRule" in message


def test_a_user_rule_keeps_lrp0_equal_to_gradient_times_input():
    model, x = _model_and_input()
    expected = _gradient_x_input(model, x, 1)
    got = relevance(model, x, 1, composite=LRP0, op_rules={"aten.cumsum.default": CumsumRule()})
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    # a built-in rule by name, for the packet (every overload): cumsum is linear, proportional is its LRP-0
    builtin = relevance(model, x, 1, composite=LRP0, stabilizer=1e-15, op_rules={"aten.cumsum": "proportional"})
    torch.testing.assert_close(builtin, expected, rtol=1e-8, atol=1e-10)


def test_a_user_rule_replaces_seqlrps_own_and_the_cache_keeps_them_apart():
    model, x = _model_and_input()
    rules = {"aten.cumsum.default": CumsumRule()}
    normal = relevance(model, x, 1, composite=LRP0, op_rules=rules)
    silenced = relevance(model, x, 1, composite=LRP0, op_rules={**rules, "aten.relu": "statistic"})
    assert torch.count_nonzero(silenced) == 0 and torch.count_nonzero(normal) > 0  # relu passes nothing now
    torch.testing.assert_close(relevance(model, x, 1, composite=LRP0, op_rules=rules), normal)


def test_bad_rule_tables_and_bad_returns_are_refused_in_one_line():
    model, x = _model_and_input()
    for table, words in (({"cumsum": "pass"}, "is not an ATen op"), ({"aten.cumsum": "maybe"}, "unknown rule 'maybe'"),
                         ({"aten.cumsum": len}, "neither a built-in rule's name nor a seqlrp.lrp.OpRule")):
        with pytest.raises(ValueError, match=words):
            relevance(model, x, 1, op_rules=table)

    class TooFew(OpRule):
        def relevance(self, inputs, output, R):
            return [R]

    class WrongShape(OpRule):
        def relevance(self, inputs, output, R):
            return [R[..., :-1], None]

    with pytest.raises(ValueError, match=r"TooFew.relevance at aten.cumsum.default returned 1 entries for its 2 "):
        relevance(model, x, 1, op_rules={"aten.cumsum": TooFew()})
    with pytest.raises(ValueError, match=r"WrongShape.relevance at aten.cumsum.default returned \(3, 6, 31\) for an "
                                         r"argument of shape \(3, 6, 32\)"):
        relevance(model, x, 1, op_rules={"aten.cumsum": WrongShape()})
    with pytest.raises(NotImplementedError, match="must implement relevance"):
        relevance(model, x, 1, op_rules={"aten.cumsum": OpRule()})
