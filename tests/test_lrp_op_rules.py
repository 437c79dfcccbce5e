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
    for table, words in (({"cumsum": "pass"}, "is neither an ATen op"), ({"aten.cumsum": "maybe"}, "unknown rule 'maybe'"),
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


# ---- the ready maps: AttnLRP (the default) and CP-LRP


class EnformerStyle(nn.Module):
    """Bias-free: conv stem, a GELU residual block, Enformer's softmax attention pooling, a pre-norm
    transformer block (attention written out, a learned relative-position bias on the logits, a
    ReLU feed-forward), mean over positions, a linear head."""

    def __init__(self, length: int = 16, channels: int = 8, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.stem = nn.Conv1d(4, channels, 5, padding=2, bias=False)
        self.block = nn.Conv1d(channels, channels, 1, bias=False)
        self.pool_logits = nn.Conv1d(channels, channels, 1, bias=False)
        self.norm1 = nn.LayerNorm(channels, bias=False)
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.relative = nn.Parameter(torch.randn(heads, length // 2, length // 2))
        self.proj = nn.Linear(channels, channels, bias=False)
        self.norm2 = nn.LayerNorm(channels, bias=False)
        self.ff = nn.Sequential(nn.Linear(channels, 2 * channels, bias=False), nn.ReLU(),
                                nn.Linear(2 * channels, channels, bias=False))
        self.head = nn.Linear(channels, 2, bias=False)

    def forward(self, x):
        h = self.stem(x)
        h = h + self.block(torch.nn.functional.gelu(h))
        n, c, length = h.shape
        weights = torch.softmax(self.pool_logits(h).reshape(n, c, length // 2, 2), dim=-1)
        h = (h.reshape(n, c, length // 2, 2) * weights).sum(-1).transpose(1, 2)  # (N, L/2, C)
        q, k, v = self.qkv(self.norm1(h)).chunk(3, dim=-1)
        split = lambda t: t.reshape(n, length // 2, self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(q), split(k), split(v)
        attention = torch.softmax(q @ k.transpose(-2, -1) / (c // self.heads) ** 0.5 + self.relative, dim=-1)
        h = h + self.proj((attention @ v).transpose(1, 2).reshape(n, length // 2, c))
        h = h + self.ff(self.norm2(h))
        return self.head(h.mean(1))


class BorzoiStyle(nn.Module):
    """Bias-free: a conv tower with max pooling, fused scaled-dot-product attention, upsampling with
    a skip connection (a U-net step), a per-position head summed over positions."""

    def __init__(self, channels: int = 8):
        super().__init__()
        self.conv1 = nn.Conv1d(4, channels, 5, padding=2, bias=False)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1, bias=False)
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.out = nn.Linear(channels, channels, bias=False)
        self.head = nn.Conv1d(channels, 2, 1, bias=False)

    def forward(self, x):
        skip = torch.relu(self.conv1(x))                                  # (N, C, L)
        h = torch.nn.functional.max_pool1d(torch.relu(self.conv2(skip)), 2)  # (N, C, L/2)
        t = h.transpose(1, 2)
        q, k, v = (part.unsqueeze(1) for part in self.qkv(t).chunk(3, dim=-1))
        t = t + self.out(torch.nn.functional.scaled_dot_product_attention(q, k, v).squeeze(1))
        up = t.transpose(1, 2).repeat_interleave(2, dim=-1)              # back to L
        return self.head(up + skip).sum(-1)


@pytest.mark.parametrize("model_class", [EnformerStyle, BorzoiStyle])
def test_cp_lrp_conserves_relevance_on_bias_free_attention_models(model_class):
    from seqlrp.lrp import ATTN_LRP, CP_LRP

    torch.manual_seed(3)
    model = model_class().double().eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (4, 16)), 4).permute(0, 2, 1).double()
    logits = model(x)[:, 1]
    settings = {"composite": "epsilon", "epsilon": 1e-12, "stabilizer": 1e-12}
    cp = relevance(model, x, 1, op_rules=CP_LRP, **settings)
    torch.testing.assert_close(cp.sum((1, 2)), logits, rtol=1e-6, atol=1e-9)
    # by its name, as the pipeline gives it
    torch.testing.assert_close(relevance(model, x, 1, op_rules="cp-lrp", **settings), cp)
    # AttnLRP (the default) drops the softmax's Taylor bias term: it does not conserve here
    attn = relevance(model, x, 1, **settings)
    torch.testing.assert_close(relevance(model, x, 1, op_rules=ATTN_LRP, **settings), attn)
    assert (attn.sum((1, 2)) - logits).abs().max() > 1e-3 * logits.abs().max()


def test_a_pipeline_method_takes_the_ready_map_by_name():
    """``attribute.methods.<name>.op_rules: cp-lrp`` reaches the engine (the attribute stage's
    explain), and describes itself in the tracks' descriptions; the default is AttnLRP."""
    import numpy as np

    from seqlrp.attribution.methods import explain
    from seqlrp.attribution.spec import MethodSpec
    from seqlrp.lrp import CP_LRP
    from seqlrp.models import build

    torch.manual_seed(1)
    model = build("convformer", seq_len=32, n_classes=2).eval()
    onehot = np.eye(4, dtype=np.uint8)[np.random.default_rng(0).integers(0, 4, (5, 32))].transpose(0, 2, 1)
    spec = MethodSpec.from_config("cp", {"op_rules": "cp-lrp"})
    assert spec.describe().endswith("op rules cp-lrp") and "op rules" not in MethodSpec().describe()
    (x, result), = explain(model, onehot, 1, spec, torch.device("cpu"), batch_size=8)
    torch.testing.assert_close(result.relevance, relevance(model, torch.from_numpy(x), 1, op_rules=CP_LRP))
    (_, default), = explain(model, onehot, 1, MethodSpec(), torch.device("cpu"), batch_size=8)
    torch.testing.assert_close(default.relevance, relevance(model, torch.from_numpy(x), 1))
    assert not torch.allclose(default.relevance, result.relevance)
    with pytest.raises(ValueError, match=r"unknown map 'cp' \(ready: attn-lrp, cp-lrp\)"):
        relevance(model, torch.from_numpy(x), 1, op_rules="cp")


def test_a_new_op_family_is_one_class_and_one_registration():
    """An op family registered from outside seqlrp's modules (a class with its ops, what it keeps
    and its backward) gives its ops a rule everywhere: LRP-0 through cumsum = gradient x input."""
    from seqlrp.lrp.ops import FAMILY_OF, OpFamily, register_family, unregister_family

    @register_family
    class Cumulative(OpFamily):
        name = "cumulative"
        ops = ("cumsum",)
        keeps = "inputs and output"

        def backward(self, node, env, live, r, *, stabilizer, aux):
            (src,) = live
            return [(src, CumsumRule().relevance([env[src], node.args[1]], env[node], r)[0])]

    try:
        assert FAMILY_OF["cumsum"] == "cumulative"
        model, x = _model_and_input()
        got = relevance(model, x, 1, composite=LRP0)
        torch.testing.assert_close(got, _gradient_x_input(model, x, 1), rtol=1e-10, atol=1e-12)
        with pytest.raises(ValueError, match="cumsum belong to another family already"):
            register_family(type("Again", (OpFamily,), {"name": "again", "ops": ("cumsum",)}))
    finally:
        unregister_family("cumulative")
    model, x = _model_and_input()  # a new model: a model's plans are cached with the families of their time
    with pytest.raises(UnsupportedLayerError, match="no rule for op aten.cumsum.default"):
        relevance(model, x, 1, composite=LRP0)

    # a family may hand one of its ops to another family, given the op's operands (family_of):
    # the planner asks it, as it asks Scale whether a mul is a product
    @register_family
    class Handing(OpFamily):
        name = "handing"
        ops = ("cumsum",)

        def family_of(self, node, live):
            assert [n.name for n in live] == [node.args[0].name]
            return "proportional"  # cumsum is linear: LRP-0 of a linear map

    try:
        model, x = _model_and_input()
        got = relevance(model, x, 1, composite=LRP0, stabilizer=1e-15)
        torch.testing.assert_close(got, _gradient_x_input(model, x, 1), rtol=1e-8, atol=1e-10)
    finally:
        unregister_family("handing")


def test_a_composite_maps_op_families_and_ops_beside_layer_types():
    """``composite={nn.Conv1d: ..., nn.Linear: ..., "attention": "attention-constant", "aten._softmax":
    "statistic"}``: the string entries are op rules (a family's name: every op of the family)."""
    from seqlrp.lrp import CP_LRP

    x = torch.nn.functional.one_hot(torch.randint(0, 4, (4, 16)), 4).permute(0, 2, 1).double()
    layers = {nn.Conv1d: "epsilon", nn.Linear: "epsilon"}
    settings = {"epsilon": 1e-12, "stabilizer": 1e-12}
    for model_class, entries in ((BorzoiStyle, {"attention": "attention-constant"}),
                                 (EnformerStyle, {op: "statistic" for op in ("aten._softmax", "aten.softmax",
                                                                             "aten._safe_softmax")})):
        torch.manual_seed(3)
        model = model_class().double().eval()
        expected = relevance(model, x, 1, composite="epsilon", op_rules=CP_LRP, **settings)
        got = relevance(model, x, 1, composite={**layers, **entries}, **settings)
        torch.testing.assert_close(got, expected)
    with pytest.raises(ValueError, match="nor an op family"):
        relevance(model, x, 1, composite={**layers, "softmaxes": "statistic"})


class SplitAttention(nn.Module):
    """Bias-free: the attention weights split in two and put back together on their way to the values."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1, bias=False)
        self.qkv = nn.Linear(8, 24, bias=False)
        self.head = nn.Linear(8, 2, bias=False)

    def forward(self, x):
        t = torch.relu(self.conv(x)).transpose(1, 2)
        q, k, v = self.qkv(t).chunk(3, dim=-1)
        weights = torch.softmax(q @ k.transpose(1, 2), dim=-1)
        first, second = weights.split(8, dim=-1)
        return self.head((torch.cat([first, second], dim=-1) @ v).sum(1))


def test_cp_lrp_holds_the_pieces_of_split_attention_weights():
    from seqlrp.lrp import CP_LRP

    torch.manual_seed(5)
    model = SplitAttention().double().eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 16)), 4).permute(0, 2, 1).double()
    r = relevance(model, x, 1, composite="epsilon", epsilon=1e-12, stabilizer=1e-12, op_rules=CP_LRP)
    torch.testing.assert_close(r.sum((1, 2)), model(x)[:, 1], rtol=1e-6, atol=1e-9)


def test_user_rules_for_list_arguments_and_built_in_rules_only_where_they_fit():
    class Concatenated(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 4, 3, padding=1, bias=False)
            self.fc = nn.Linear(4 * 64, 2, bias=False)

        def forward(self, x):
            h = torch.relu(self.conv(x))
            return self.fc(torch.cat([h, h * 2.0], dim=-1).flatten(1))

    class CatRule(OpRule):  # cat's tensors arrive as one list: a list back, one entry per tensor
        def relevance(self, inputs, output, R):
            tensors, dim = inputs
            return [list(R.split([t.shape[dim] for t in tensors], dim=dim)), None]

    torch.manual_seed(6)
    model = Concatenated().double().eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 32)), 4).permute(0, 2, 1).double()
    expected = relevance(model, x, 1, composite=LRP0)  # cat's own rule (route)
    got = relevance(model, x, 1, composite=LRP0, op_rules={"aten.cat": CatRule()})
    torch.testing.assert_close(got, expected)
    # a new rule object per call plans once: the cache knows ops and rule classes, not instances
    from seqlrp.lrp.capture import capture

    program = capture(model, x)
    plans = len(program.analysis)
    for _ in range(3):
        relevance(model, x, 1, composite=LRP0, op_rules={"aten.cat": CatRule()})
    assert len(program.analysis) == plans
    # built-in rules only where they fit, refused in one line naming the op
    cumulative, x32 = _model_and_input()
    with pytest.raises(UnsupportedLayerError, match=r"the 'sum' rule is for add, sub, rsub, not aten.cumsum.default"):
        relevance(cumulative, x32, 1, op_rules={"aten.cumsum": "sum"})
    with pytest.raises(UnsupportedLayerError, match=r"the 'pass' rule takes one input-dependent operand; aten.cat"):
        relevance(model, x, 1, op_rules={"aten.cat": "pass"})
    # a family's key acts on the ops that end up in that family: h * 2.0 is a scale, h * h would be a product
    torch.testing.assert_close(relevance(model, x, 1, composite=LRP0, op_rules={"scale": "scale"}), expected)


class Cumulative(nn.Module):
    """A module of the user's whose forward runs an op seqlrp has no rule for."""

    def forward(self, h):
        return torch.cumsum(h, dim=-1) / 4.0


class ModuleNet(nn.Module):
    """:class:`CumulativeNet` with the cumsum inside a module of its own, used twice."""

    def __init__(self, length: int = 32):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 5, padding=2, bias=False)
        self.cumulative, self.again = Cumulative(), Cumulative()
        self.fc = nn.Linear(6 * length, 3, bias=False)

    def forward(self, x):
        return self.fc(self.again(self.cumulative(torch.relu(self.conv(x)))).flatten(1))


def test_a_module_class_key_gives_its_rule_to_the_ops_inside_every_such_module():
    torch.manual_seed(0)
    model = ModuleNet().double().eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 32)), 4).permute(0, 2, 1).double()
    expected = _gradient_x_input(model, x, 1)
    # div inside the module gets the rule too (it is linear: LRP-0 of a linear op is proportional)
    got = relevance(model, x, 1, composite=LRP0, stabilizer=1e-15, op_rules={Cumulative: "proportional"})
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)
    # in a composite beside the layer types; the Conv1d/Linear keep their layer rules
    got = relevance(model, x, 1, composite={**LRP0, Cumulative: "proportional"}, stabilizer=1e-15)
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)
    # an op's own key wins over its module's: the user's cumsum rule, the module's rule for the div
    got = relevance(model, x, 1, composite=LRP0, stabilizer=1e-15,
                    op_rules={Cumulative: "proportional", "aten.cumsum.default": CumsumRule()})
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)
    # an exported program has no live modules: its recorded class names are matched
    exported = torch.export.export(model, (x,))
    got = relevance(exported, x, 1, composite=LRP0, stabilizer=1e-15, op_rules={Cumulative: "proportional"})
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)
    # the exported program's module(): a GraphModule whose submodules are plain holders of the
    # parameters; the recorded class name still matches
    got = relevance(exported.module(), x, 1, composite=LRP0, stabilizer=1e-15, op_rules={Cumulative: "proportional"})
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)
    # another module class has no say over these ops
    with pytest.raises(UnsupportedLayerError, match="no rule for op aten.cumsum.default"):
        relevance(model, x, 1, op_rules={nn.ReLU: "pass"})
    with pytest.raises(ValueError, match="Conv1d is a layer type; its rule belongs in the composite"):
        relevance(model, x, 1, op_rules={nn.Conv1d: "pass"})


class Scores(nn.Module):
    """A product of two activations (attention-like scores): a matmul that is no layer."""

    def forward(self, h):
        return (h @ h.transpose(-2, -1)).sum(-1)


class ScoresNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.scores, self.fc = nn.Conv1d(4, 6, 5, padding=2, bias=False), Scores(), nn.Linear(6, 2, bias=False)

    def forward(self, x):
        return self.fc(self.scores(torch.relu(self.conv(x))))


def test_a_module_class_key_reaches_the_products_inside_but_not_its_layers():
    torch.manual_seed(0)
    model = ScoresNet().double().eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 16)), 4).permute(0, 2, 1).double()
    relevance(model, x, 1)  # the matmul of two activations is a product by default
    # the module's rule reaches that matmul (and is refused there: one operand only), not the conv
    with pytest.raises(UnsupportedLayerError, match=r"the 'proportional' rule takes one input-dependent operand; "
                                                     r"aten\.matmul\.default .* has 2"):
        relevance(model, x, 1, op_rules={Scores: "proportional"})
    # "statistic" takes any number of operands: every op of the scores module absorbs what reaches it
    assert not relevance(model, x, 1, op_rules={Scores: "statistic"}).any()


def test_a_module_class_key_of_the_whole_model_leaves_its_layers_to_the_composite():
    torch.manual_seed(0)
    model = ModuleNet().double().eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 32)), 4).permute(0, 2, 1).double()
    settings = {"composite": "epsilon-plus", "stabilizer": 1e-15}
    by_op = relevance(model, x, 1, op_rules={Cumulative: "proportional"}, **settings)
    whole = relevance(model, x, 1, op_rules={ModuleNet: "proportional"}, **settings)  # the ReLU too
    torch.testing.assert_close(whole, by_op, rtol=1e-8, atol=1e-10)
    # had the conv taken the key's rule (LRP-0) instead of the composite's z+, it would differ
    conv_lrp0 = relevance(model, x, 1, op_rules={Cumulative: "proportional"}, composite=LRP0, stabilizer=1e-15)
    assert (whole - conv_lrp0).abs().max() > 1e-3 * conv_lrp0.abs().max()
