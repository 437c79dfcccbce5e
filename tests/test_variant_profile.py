"""Variant effect scores of profile models (seqlrp.variants.profile): ChromBPNet's logfc and jsd
(kundajelab/variant-scorer, src/utils/helpers.py), checked by hand, against scipy, and on a real
bpnet-lite BPNet (skipped without bpnet-lite)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from optional import need
from torch import nn

from seqlrp.variants.profile import (
    average_raw,
    profile_effects,
    reverse_complement_raw,
    split_profile_outputs,
)


def one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 4, (n, length), generator=g)
    return F.one_hot(idx, 4).permute(0, 2, 1).float()


def scipy_jsd(ref_logits: torch.Tensor, alt_logits: torch.Tensor) -> np.ndarray:
    """The scorer's jsd: scipy's jensenshannon (base 2) of the softmax over the flattened profile."""
    distance = need("scipy.spatial.distance")
    p = torch.softmax(alt_logits.double().flatten(1), -1).numpy()
    q = torch.softmax(ref_logits.double().flatten(1), -1).numpy()
    return np.array([distance.jensenshannon(a, b, base=2.0) for a, b in zip(p, q)])


# ---------------------------------------------------------------- hand-computed scores

def test_jsd_identical_is_zero_and_disjoint_is_one():
    ref = torch.tensor([[[0.0, -1e4]], [[0.3, 0.1]]])  # (2, 1, 2)
    alt = torch.tensor([[[-1e4, 0.0]], [[0.3, 0.1]]])
    counts = torch.zeros(2, 1)
    out = profile_effects((ref, counts), (alt, counts))
    assert out["jsd"].dtype == np.float64 and out["jsd"].shape == (2,)
    np.testing.assert_allclose(out["jsd"], [1.0, 0.0], atol=1e-12)
    np.testing.assert_array_equal(out["logfc"], [0.0, 0.0])


def test_jsd_matches_scipy_with_strands_flattened():
    g = torch.Generator().manual_seed(1)
    ref, alt = torch.randn(5, 2, 30, generator=g), torch.randn(5, 2, 30, generator=g)
    out = profile_effects((ref, torch.zeros(5, 1)), (alt, torch.zeros(5, 1)))
    np.testing.assert_allclose(out["jsd"], scipy_jsd(ref, alt), rtol=1e-10, atol=1e-12)
    assert np.all((out["jsd"] > 0) & (out["jsd"] <= 1))
    # the softmax does not care about a constant shift of the logits
    shifted = profile_effects((ref, torch.zeros(5, 1)), (ref + 3.0, torch.zeros(5, 1)))
    np.testing.assert_allclose(shifted["jsd"], 0.0, atol=1e-6)


def test_logfc_is_log2_fold_change_of_exp_counts():
    ref, alt = torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([[1.0], [1.0], [2.0 + math.log(4)]])
    profile = torch.zeros(3, 1, 4)
    out = profile_effects((profile, ref), (profile, alt))
    np.testing.assert_allclose(out["logfc"], np.log2(np.exp(alt.numpy()) / np.exp(ref.numpy()))[:, 0])
    np.testing.assert_allclose(out["logfc"], [1 / math.log(2), 0.0, 2.0])
    np.testing.assert_array_equal(out["jsd"], 0.0)


def test_per_strand_log_counts_are_summed_as_counts():
    ref = torch.log(torch.tensor([[1.0, 3.0]]))  # total 4
    alt = torch.log(torch.tensor([[2.0, 6.0]]))  # total 8
    profile = torch.zeros(1, 2, 5)
    _, counts = split_profile_outputs((profile, ref))
    np.testing.assert_allclose(counts, [math.log(4)])
    np.testing.assert_allclose(profile_effects((profile, ref), (profile, alt))["logfc"], [1.0])


# ---------------------------------------------------------------- reading raw outputs

def test_split_reads_tuples_lists_dicts_and_numpy():
    profile, counts = torch.randn(3, 2, 7), torch.randn(3, 1)
    for raw in [(profile, counts), [profile, counts], (counts, profile),
                {"logits": profile, "log_counts": counts}, (profile.numpy(), counts.numpy()),
                (profile[..., None], counts[..., None])]:
        p, c = split_profile_outputs(raw)
        assert p.dtype == c.dtype == np.float64 and p.shape == (3, 2, 7) and c.shape == (3,)
        np.testing.assert_allclose(p, profile.double().numpy())
        np.testing.assert_allclose(c, counts.double().numpy()[:, 0])


def test_a_model_without_profile_or_counts():
    logits = torch.randn(4, 3)
    assert split_profile_outputs(logits) == (None, None)
    assert split_profile_outputs((logits,)) == (None, None)
    assert profile_effects(logits, logits + 1) is None
    assert profile_effects((logits,), (logits,)) is None
    # a profile alone gives jsd only; a dict's counts entry alone gives logfc only
    profile = torch.randn(4, 1, 6)
    p, c = split_profile_outputs(profile)
    assert p.shape == (4, 1, 6) and c is None
    assert set(profile_effects(profile, profile)) == {"jsd"}
    assert set(profile_effects({"counts": logits[:, :1]}, {"counts": logits[:, :1] + 1})) == {"logfc"}
    with pytest.raises(ValueError, match="differ in shape"):
        profile_effects(profile, profile[:, :, :5])


def test_reverse_complement_raw_flips_profile_and_swaps_strands():
    stranded = torch.arange(12.0).reshape(1, 2, 6)
    counts = torch.tensor([[3.0]])
    p, c = reverse_complement_raw((stranded, counts))
    assert torch.equal(p, stranded.flip(-1).flip(1)) and torch.equal(c, counts)
    one = np.arange(6.0).reshape(1, 1, 6)
    out = reverse_complement_raw({"profile": one, "counts": counts.numpy()})
    assert isinstance(out["profile"], np.ndarray)
    np.testing.assert_array_equal(out["profile"], one[..., ::-1])
    np.testing.assert_array_equal(out["counts"], counts.numpy())
    logits = torch.randn(2, 3)
    assert reverse_complement_raw(logits) is logits


def test_average_raw_means_logits_and_counts_as_counts():
    a = (torch.tensor([[[0.0, 2.0]]]), torch.log(torch.tensor([[1.0]])))
    b = (torch.tensor([[[2.0, 0.0]]]), torch.log(torch.tensor([[3.0]])))
    p, c = average_raw(a, b)
    assert torch.equal(p, torch.tensor([[[1.0, 1.0]]]))
    torch.testing.assert_close(c, torch.log(torch.tensor([[2.0]])))
    with pytest.raises(ValueError, match="differ in shape"):
        average_raw(a, (b[0][..., :1], b[1]))


class RCEquivariant(nn.Module):
    """A toy stranded profile model with profile(RC x) = strand-swapped, flipped profile(x), and
    log counts (logsumexp of the profile) unchanged by reverse complementing."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(1, 4, 5, generator=torch.Generator().manual_seed(3)))

    def forward(self, x):
        plus = F.conv1d(x, self.w, padding=2)
        minus = F.conv1d(x, self.w.flip(1, 2), padding=2)  # the reverse complement filter
        profile = torch.cat([plus, minus], 1)
        return profile, torch.logsumexp(profile.flatten(1), -1, keepdim=True)


def test_reverse_complement_raw_of_an_equivariant_model_is_the_forward_output():
    model, x = RCEquivariant(), one_hot(3, 20)
    with torch.no_grad():
        fwd, rc = model(x), model(x.flip(1, 2))
    assert not torch.allclose(rc[0], fwd[0])
    back = reverse_complement_raw(rc)
    torch.testing.assert_close(back[0], fwd[0])
    torch.testing.assert_close(back[1], fwd[1])
    mean = average_raw(fwd, back)
    torch.testing.assert_close(mean[0], fwd[0])
    torch.testing.assert_close(mean[1], fwd[1])


# ---------------------------------------------------------------- bpnet-lite

def test_bpnet_lite_profile_effects():
    bpnet = need("bpnetlite.bpnet")
    torch.manual_seed(0)
    model = bpnet.BPNet(n_filters=8, n_layers=2, n_outputs=2, n_control_tracks=0, trimming=10, verbose=False).eval()
    ref = one_hot(4, 100, seed=5)
    alt = ref.clone()
    alt[:, :, 50] = alt[:, :, 50].roll(1, dims=1)  # a different base at the centre
    with torch.no_grad():
        ref_raw, alt_raw = model(ref), model(alt)

    p, c = split_profile_outputs(ref_raw)
    assert p.shape == (4, 2, 80) and c.shape == (4,)
    np.testing.assert_allclose(c, ref_raw[1][:, 0].double().numpy())

    same = profile_effects(ref_raw, model(ref.clone()))
    np.testing.assert_allclose(same["logfc"], 0.0, atol=1e-12)
    np.testing.assert_allclose(same["jsd"], 0.0, atol=1e-6)

    out = profile_effects(ref_raw, alt_raw)
    direct = (alt_raw[1][:, 0].double() - ref_raw[1][:, 0].double()).numpy() / math.log(2)
    np.testing.assert_allclose(out["logfc"], direct, rtol=1e-10)
    np.testing.assert_allclose(out["jsd"], scipy_jsd(ref_raw[0], alt_raw[0]), rtol=1e-8, atol=1e-12)
    assert np.all(np.abs(out["logfc"]) > 0) and np.all(out["jsd"] > 0)

    # forward + reverse-complement averaging keeps the structure and the scores finite
    both = average_raw(alt_raw, reverse_complement_raw(model(alt.flip(1, 2))))
    assert both[0].shape == alt_raw[0].shape and both[1].shape == alt_raw[1].shape
    assert all(np.isfinite(v).all() for v in profile_effects(ref_raw, both).values())


def test_a_bpnet_through_the_variant_scorer_gets_logfc_and_jsd(tmp_path):
    """A bpnet-lite BPNet imported like a foreign model (counts head explained): the variant table's
    logfc and jsd are ChromBPNet's, computed here from direct calls on the windows cut by hand."""
    bpnet = need("bpnetlite.bpnet")
    from conftest import random_sequence, write_fasta, write_lines

    import seqlrp
    from seqlrp.formats.onehot import encode
    from seqlrp.models.architectures import ModelInfo
    from seqlrp.models.external import ExternalModel

    torch.manual_seed(0)
    inner = bpnet.BPNet(n_filters=8, n_layers=2, n_outputs=2, n_control_tracks=0, trimming=10, verbose=False).eval()
    model = ExternalModel(inner, output=1, indices=[0], info=ModelInfo("external", {}, 100, ["counts"]))
    chrom = random_sequence(400, 11)
    write_fasta(tmp_path / "genome.fa", {"chr1": chrom})
    alt = "A" if chrom[199] != "A" else "C"
    write_lines(tmp_path / "calls.vcf", ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=400>",
                                         "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
                                         f"chr1\t200\tv1\t{chrom[199]}\t{alt}\t.\t.\t."])
    table = seqlrp.variants.score(model, tmp_path / "genome.fa", tmp_path / "calls.vcf", methods={}, null_size=0,
                                  device="cpu")
    ref_window = chrom[149:249]  # POS 200 at index 50 of [pos - 1 - 50, pos - 1 + 50)
    alt_window = ref_window[:50] + alt + ref_window[51:]
    x = torch.from_numpy(np.stack([encode(ref_window), encode(alt_window)]).astype(np.float32))
    with torch.no_grad():
        raw = inner(x)
    expected = profile_effects(tuple(t[:1] for t in raw), tuple(t[1:] for t in raw))
    row = table.iloc[0]
    assert row["class"] == "counts" and np.isnan(row["prob_ref"])
    np.testing.assert_allclose([row["logfc"], row["jsd"]], [expected["logfc"][0], expected["jsd"][0]], rtol=1e-4)
    np.testing.assert_allclose(row["delta"], float(raw[1][1, 0] - raw[1][0, 0]), rtol=1e-4, atol=1e-6)
