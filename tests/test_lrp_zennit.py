"""Agreement with Zennit's composites built the same way (BatchNorm merged, layer types mapped
to the same rules): relative max error <= 1e-3 (in practice ~1e-6). Skipped without zennit."""

from __future__ import annotations

import copy
import sys
import types

import pytest
import torch
from conftest import random_batchnorm
from optional import need_spec
from torch import nn

from seqlrp.lrp import relevance
from seqlrp.models.layers import Exp, Residual


def _import_zennit():
    """zennit imports torchvision only for its ResNet canonizers; a CPU-only torch has no
    matching torchvision wheel on PyPI, so stand in for it (just for the import) when needed."""
    need_spec("zennit")
    try:
        import torchvision  # noqa: F401
    except Exception:
        names = ("torchvision", "torchvision.models", "torchvision.models.resnet")
        saved = {name: sys.modules.get(name) for name in names}
        stub = {name: types.ModuleType(name) for name in names}
        stub["torchvision.models.resnet"].Bottleneck = type("Bottleneck", (nn.Module,), {})
        stub["torchvision.models.resnet"].BasicBlock = type("BasicBlock", (nn.Module,), {})
        stub["torchvision"].models, stub["torchvision.models"].resnet = stub["torchvision.models"], stub[names[2]]
        sys.modules.update(stub)
        try:
            import zennit.torchvision  # noqa: F401
        finally:
            for name, module in saved.items():
                sys.modules.pop(name, None) if module is None else sys.modules.__setitem__(name, module)
    import zennit

    return zennit


zennit = _import_zennit()
from zennit.attribution import Gradient  # noqa: E402
from zennit.canonizers import SequentialMergeBatchNorm  # noqa: E402
from zennit.composites import LayerMapComposite, SpecialFirstLayerMapComposite, layer_map_base  # noqa: E402
from zennit.rules import AlphaBeta, Epsilon, Flat, Gamma, Pass, WSquare, ZBox, ZPlus  # noqa: E402
from zennit.types import Linear as AnyLinear  # noqa: E402


def zennit_relevance(model, x, target, composite, input_rule=None, epsilon=1e-6):
    conv_rule = {"epsilon": Epsilon(epsilon), "epsilon-plus": ZPlus(), "epsilon-gamma": Gamma(gamma=0.25),
                 "alpha2beta1": AlphaBeta(2, 1)}[composite]
    layer_map = [(Exp, Pass())] + layer_map_base() + [(nn.Conv1d, conv_rule), (nn.Linear, Epsilon(epsilon))]
    canonizers = [SequentialMergeBatchNorm()]
    if input_rule is None:
        comp = LayerMapComposite(layer_map, canonizers=canonizers)
    else:
        first = {"flat": Flat(), "wsquare": WSquare(), "zbox": ZBox(0.0, 1.0)}[input_rule]
        comp = SpecialFirstLayerMapComposite(layer_map, [(AnyLinear, first)], canonizers=canonizers)
    model = copy.deepcopy(model)
    x = x.clone().requires_grad_(True)
    with Gradient(model=model, composite=comp) as attributor:
        out = model(x)
        onehot = torch.zeros_like(out)
        onehot[torch.arange(len(x)), target] = 1.0
        _, rel = attributor(x, lambda o: o * onehot)
    return rel.detach()




def basset(length):
    return nn.Sequential(
        nn.Conv1d(4, 24, 11, padding=5), random_batchnorm(24), nn.ReLU(), nn.MaxPool1d(3),
        nn.Conv1d(24, 16, 7, padding=3), random_batchnorm(16), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(16, 16, 5, padding=2), random_batchnorm(16), nn.ReLU(), nn.MaxPool1d(4),
        nn.Flatten(), nn.Linear(16 * (length // 48), 32), random_batchnorm(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3),
    )


def avgpool_elu(length):
    return nn.Sequential(
        nn.Conv1d(4, 16, 9, padding=4), random_batchnorm(16), Exp(), nn.AvgPool1d(4),
        nn.Conv1d(16, 12, 5, padding=2), random_batchnorm(12), nn.ELU(), nn.AvgPool1d(2),
        nn.Conv1d(12, 8, 3, padding=2, dilation=2, stride=2), random_batchnorm(8), nn.ELU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 16), nn.ELU(), nn.Linear(16, 4),
    )


def mlp(length):
    return nn.Sequential(
        nn.Flatten(), nn.Linear(4 * length, 48), random_batchnorm(48), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(48, 24), nn.GELU(), nn.Linear(24, 2),
    )


def motif_cnn(length):
    """A first layer like a trained one: filters that match a motif almost without negative
    weights, and the motifs planted in the input, so the negative parts of the filter
    responses are tiny next to the positive ones (a cancellation trap for alpha-beta)."""
    model = nn.Sequential(
        nn.Conv1d(4, 8, 11, padding=5), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(8, 8, 5, padding=2), nn.ReLU(), nn.MaxPool1d(4), nn.Flatten(), nn.Linear(8 * (length // 16), 2),
    )
    with torch.no_grad():
        weight = torch.randn(8, 4, 11) * 1e-6 - 1e-5
        weight.scatter_(1, MOTIFS[:, None, :], 2.0 + torch.rand(8, 1, 11))
        model[0].weight[:] = weight
        model[0].bias.zero_()
    return model


MOTIFS = torch.randint(0, 4, (8, 11), generator=torch.Generator().manual_seed(5))
MODELS = {"basset": basset, "avgpool-elu": avgpool_elu, "mlp": mlp, "motif-cnn": motif_cnn}
COMPOSITES = ["epsilon", "epsilon-plus", "epsilon-gamma", "alpha2beta1"]


def rel_max_error(ours, ref):
    return ((ours - ref).abs().max() / ref.abs().max()).item()


@pytest.mark.parametrize("name", list(MODELS))
def test_composites_match_zennit(name):
    torch.manual_seed(0)
    length = 192
    model = MODELS[name](length).eval()
    x = nn.functional.one_hot(torch.randint(0, 4, (4, length)), 4).float().transpose(1, 2)
    if name == "motif-cnn":
        for j, motif in enumerate(MOTIFS):
            x[:, :, 12 + 22 * j : 23 + 22 * j] = nn.functional.one_hot(motif, 4).T.float()
    target = torch.tensor([0, 1, 1, 0])
    for composite in COMPOSITES:
        for input_rule in (None, "zbox") if name != "mlp" else (None, "flat", "wsquare", "zbox"):
            ours = relevance(model, x, target, composite=composite, input_rule=input_rule)
            ref = zennit_relevance(model, x, target, composite, input_rule)
            assert rel_max_error(ours, ref) <= 1e-3, (composite, input_rule, rel_max_error(ours, ref))
    ours = relevance(model, x, target, composite="epsilon", epsilon=0.05)
    assert rel_max_error(ours, zennit_relevance(model, x, target, "epsilon", epsilon=0.05)) <= 1e-3


class ZennitResidual(nn.Module):
    """``x + body(x)`` as Zennit expresses a sum it splits proportionally: stack, then Sum."""

    def __init__(self, body):
        super().__init__()
        self.body = body
        self.sum = zennit.layer.Sum(dim=0)

    def forward(self, x):
        return self.sum(torch.stack([x, self.body(x)]))


def test_residual_sum_matches_zennit_norm_rule():
    def rescnn(block):
        return nn.Sequential(
            nn.Conv1d(4, 8, 7, padding=3), random_batchnorm(8), nn.ReLU(),
            block(nn.Sequential(nn.Conv1d(8, 8, 3, padding=2, dilation=2), random_batchnorm(8), nn.ReLU())),
            block(nn.Sequential(nn.Conv1d(8, 8, 3, padding=1), random_batchnorm(8), nn.ELU())),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 2),
        ).eval()

    torch.manual_seed(1)
    ours_model = rescnn(Residual)
    ref_model = rescnn(ZennitResidual)
    ref_model.load_state_dict(ours_model.state_dict())
    x = nn.functional.one_hot(torch.randint(0, 4, (3, 96)), 4).float().transpose(1, 2)
    for composite in COMPOSITES:
        ours = relevance(ours_model, x, 1, composite=composite)
        assert rel_max_error(ours, zennit_relevance(ref_model, x, 1, composite)) <= 1e-3, composite


def test_epsilon_matches_zennit_where_it_is_ill_conditioned():
    """epsilon-LRP on ELU networks amplifies tiny differences of the explained function (here,
    up to 1e-2 from Zennit's merged BatchNorm still dividing by sqrt(1 + eps)); by default the
    engine folds BatchNorm as Zennit does, so it still agrees."""
    worst = 0.0
    for seed in (2, 9):  # the two worst of seeds 0-9 (errors 1.2e-3, 1.8e-3 with exact folding)
        torch.manual_seed(seed)
        model = avgpool_elu(400)
        model[2] = nn.ELU()
        model.eval()
        x = nn.functional.one_hot(torch.randint(0, 4, (8, 400)), 4).float().transpose(1, 2)
        ours = relevance(model, x, 1, composite="epsilon")
        worst = max(worst, rel_max_error(ours, zennit_relevance(model, x, 1, "epsilon")))
    assert worst <= 1e-3


class FunctionalResidual(nn.Module):
    """``x = x + f(x)`` written in forward, as most residual DNA models (BPNet) are."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv1d(4, 8, 7, padding=3, bias=False)
        self.blocks = nn.ModuleList(nn.Conv1d(8, 8, 3, padding=2 ** i, dilation=2 ** i, bias=False) for i in range(3))
        self.head = nn.Linear(8, 2, bias=False)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        for conv in self.blocks:
            x = x + torch.relu(conv(x))
        return self.head(x.mean(-1))


def test_functional_residual_add_zennit_duplicates_relevance_seqlrp_conserves_it():
    torch.manual_seed(3)
    model = FunctionalResidual().eval()
    x = nn.functional.one_hot(torch.randint(0, 4, (4, 96)), 4).float().transpose(1, 2)
    logit = model(x)[:, 1]
    # bias-free network: every relevance total should equal the logit
    ours = relevance(model, x, 1, composite="epsilon", epsilon=1e-9, stabilizer=1e-9)
    torch.testing.assert_close(ours.sum((1, 2)), logit, rtol=1e-4, atol=1e-6)
    ref = zennit_relevance(model, x, 1, "epsilon", epsilon=1e-9)
    # Zennit hooks the convs only: the gradient passes the functional add unsplit, so each block
    # hands both branches the full relevance: the totals are off by factors (0.95 to 160 here)
    error = (ref.sum((1, 2)) / logit - 1).abs()
    assert error.max() > 0.5 and (error > 0.01).all(), error
