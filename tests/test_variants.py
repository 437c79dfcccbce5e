"""Variant effects (seqlrp.variants, seqlrp.stages.variants): scores against direct model calls on
windows cut by hand, both strands, chromosome ends, ΔR through indels, conservation, the
shuffled-context null and its p-values, multi-allelic records and chr mapping, the tables (scored
VCF, BED9, q-values) and the stage functions end to end.

Every expectation is computed here from the genome string, without the package's window code."""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pysam
import pytest
import torch
from conftest import random_sequence, write_fasta
from torch import nn

import seqlrp
import seqlrp.variants
from seqlrp.errors import InputError
from seqlrp.formats.vcf import Variant
from seqlrp.models.architectures import annotate, build
from seqlrp.models.checkpoint import save_model
from seqlrp.variants import effects, tables
from seqlrp.variants import null as null_mod
from seqlrp.variants.windows import make_batch

BASES = "ACGT"
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
GENOME = {"chr1": random_sequence(400, 101), "chr2": random_sequence(150, 102)}
VCF_HEADER = "##fileformat=VCFv4.2\n{contigs}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


# ---- helpers: genome, VCF, windows and model calls by hand ------------------------------------------

def other(base: str, k: int = 1) -> str:
    """A base other than ``base`` (k = 1, 2, 3 give the three others)."""
    return BASES[(BASES.index(base) + k) % 4]


def window(seq: str, start: int, length: int) -> str:
    """``seq[start:start + length]`` with N off either end."""
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(start, start + length))


def expected_windows(seq: str, pos: int, ref: str, alt: str, length: int) -> tuple[str, str]:
    """The reference and alternative windows of a left-normalised variant, cut by hand (docs of
    seqlrp.sequences.variant_windows): the anchor/SNV base at L // 2 of [pos-1-L//2, pos-1-L//2+L);
    a deletion's window continues with the genome after REF; an insertion's haplotype is trimmed
    (len(ALT) - len(REF)) // 2 on the left and the rest on the right."""
    centre = length // 2
    start = pos - 1 - centre
    ref_w = window(seq, start, length)
    after = pos - 1 + len(ref)
    if len(ref) == len(alt):
        alt_w = (ref_w[:centre] + alt + ref_w[centre + len(alt):])[:length]
    elif len(alt) < len(ref):
        alt_w = (window(seq, start, centre) + alt + window(seq, after, length))[:length]
    else:
        haplotype = window(seq, start, centre) + alt + window(seq, after, start + length - after)
        left = (len(alt) - len(ref)) // 2
        alt_w = haplotype[left:left + length]
    assert len(ref_w) == len(alt_w) == length
    return ref_w, alt_w


def onehot(seq: str) -> np.ndarray:
    """(4, L) float32, channels A, C, G, T; N is an all-zero column."""
    x = np.zeros((4, len(seq)), dtype=np.float32)
    for i, base in enumerate(seq):
        if base in BASES:
            x[BASES.index(base), i] = 1.0
    return x


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def direct(model: nn.Module, seqs: list[str]) -> np.ndarray:
    """The model's outputs (n, K) float64 on the given windows."""
    with torch.no_grad():
        return model.eval()(torch.from_numpy(np.stack([onehot(s) for s in seqs]))).double().numpy()


def write_genome(folder: Path, chroms: dict[str, str]) -> Path:
    return write_fasta(folder / "genome.fa", chroms)


def write_vcf(path: Path, records, contigs: dict[str, int]) -> Path:
    """``records``: (chrom, pos, id, ref, alt) tuples, written in the given order."""
    head = VCF_HEADER.format(contigs="".join(f"##contig=<ID={k},length={v}>\n" for k, v in contigs.items()))
    path.write_text(head + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n" for c, p, i, r, a in records))
    return path


def tiny_cnn(seq_len: int, n_classes: int = 2, seed: int = 0, **hparams) -> nn.Module:
    torch.manual_seed(seed)
    settings = {"filters": [4], "kernels": [5], "pools": [2], "dense": [], "batchnorm": False,
                "first_activation": "relu", "head": "flatten", "dropout": 0.0}
    return build("cnn", seq_len=seq_len, n_classes=n_classes, **{**settings, **hparams}).eval()


def close(actual, expected, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=rtol, atol=atol)


def fetch_of(chroms: dict[str, str]):
    return lambda chrom, start, end: chroms[chrom][max(0, start):max(0, end)]


def is_left_normalised(seq: str, pos: int, ref: str, alt: str) -> bool:
    from seqlrp.sequences.variant_windows import normalize

    return normalize("x", pos, ref, alt, lambda c, a, b: seq[max(0, a):max(0, b)]) == (pos, ref, alt)


def indel_variants(seq: str, chrom: str = "chr1"):
    """An SNV, an MNP, deletions of 1 and 3 bases and insertions of 2 and 3 bases on ``seq``, each
    already left-normalised: (chrom, pos, id, ref, alt)."""
    records = []
    s = seq
    records.append((chrom, 100, "snv", s[99], other(s[99])))
    records.append((chrom, 150, "mnp", s[149:151], other(s[149]) + other(s[150], 2)))

    def deletion(near, k, name):
        p = next(p for p in range(near, near + 40) if s[p - 1] != s[p - 1 + k])  # not shiftable left
        return (chrom, p, name, s[p - 1:p + k], s[p - 1])

    def insertion(near, inserted_of, name):
        p = near
        anchor = s[p - 1]
        return (chrom, p, name, anchor, anchor + inserted_of(anchor))

    records.append(deletion(200, 1, "del1"))
    records.append(deletion(240, 3, "del3"))
    records.append(insertion(290, lambda a: other(a, 2) + other(a), "ins2"))
    records.append(insertion(330, lambda a: other(a) + other(a, 3) + other(a, 2), "ins3"))
    for _, p, _, r, a in records:
        assert is_left_normalised(s, p, r, a), (p, r, a)
    return records


@pytest.fixture(scope="module")
def genome_fa(tmp_path_factory) -> Path:
    return write_genome(tmp_path_factory.mktemp("genome"), GENOME)


# ---- 1. Δlogit against direct calls on hand-cut windows ---------------------------------------------

@pytest.mark.parametrize("seq_len", [20, 21])
def test_delta_equals_direct_model_calls_on_hand_cut_windows(tmp_path, genome_fa, seq_len):
    records = indel_variants(GENOME["chr1"]) + [("chr2", 70, "snv2", GENOME["chr2"][69], other(GENOME["chr2"][69]))]
    vcf = write_vcf(tmp_path / "v.vcf", records, {k: len(v) for k, v in GENOME.items()})
    model = tiny_cnn(seq_len)
    table = seqlrp.variants.score(model, genome_fa, vcf, methods={}, null_size=0, device="cpu", batch_size=3)
    assert len(table) == 2 * len(records)
    assert list(table["kind"][::2]) == ["snv", "mnp", "deletion", "deletion", "insertion", "insertion", "snv"]
    for k, (chrom, pos, name, ref, alt) in enumerate(records):
        ref_w, alt_w = expected_windows(GENOME[chrom], pos, ref, alt, seq_len)
        logits = direct(model, [ref_w, alt_w])
        rows = table[table["variant"] == k]
        assert list(rows["class"]) == ["class0", "class1"] and set(rows["id"]) == {name}
        assert set(rows["pos"]) == {pos} and set(rows["ref"]) == {ref} and set(rows["alt"]) == {alt}
        close(rows["logit_ref"], logits[0])
        close(rows["logit_alt"], logits[1])
        close(rows["delta"], logits[1] - logits[0])
        assert np.isnan(rows["p_value"]).all()  # null_size 0: no p-values
        # softmax over the two classes
        close(rows["prob_ref"], np.exp(logits[0]) / np.exp(logits[0]).sum())
    # the windows really differ between the alleles: every delta is nonzero
    assert (table["delta"].abs() > 1e-6).all()


# ---- 2. both strands ----------------------------------------------------------------------------------

def test_reverse_complement_averages_both_strands(tmp_path, genome_fa):
    seq_len = 21
    records = indel_variants(GENOME["chr1"])[::2]  # SNV, deletion of 1, insertion of 2
    vcf = write_vcf(tmp_path / "v.vcf", records, {k: len(v) for k, v in GENOME.items()})
    model = tiny_cnn(seq_len, seed=3)
    table = seqlrp.variants.score(model, genome_fa, vcf, methods={}, null_size=0, device="cpu",
                                  reverse_complement=True)
    for k, (chrom, pos, _, ref, alt) in enumerate(records):
        ref_w, alt_w = expected_windows(GENOME[chrom], pos, ref, alt, seq_len)
        forward = direct(model, [ref_w, alt_w])
        reverse = direct(model, [revcomp(ref_w), revcomp(alt_w)])
        both = (forward + reverse) / 2
        rows = table[table["variant"] == k]
        close(rows["logit_ref"], both[0])
        close(rows["logit_alt"], both[1])
        close(rows["delta"], both[1] - both[0])
        assert not np.allclose(forward[0], both[0], atol=1e-4)  # the strands do differ for this model


# ---- 3. chromosome ends ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seq_len", [20, 21])
def test_snvs_at_both_contig_ends_are_padded_with_n(tmp_path, genome_fa, seq_len):
    chr2 = GENOME["chr2"]
    last = len(chr2)
    records = [("chr2", 1, "first", chr2[0], other(chr2[0])), ("chr2", last, "last", chr2[-1], other(chr2[-1]))]
    vcf = write_vcf(tmp_path / "v.vcf", records, {k: len(v) for k, v in GENOME.items()})
    half = seq_len // 2
    windows = [expected_windows(chr2, pos, ref, alt, seq_len) for _, pos, _, ref, alt in records]
    # N exactly where the window leaves the contig
    assert windows[0][0] == "N" * half + chr2[:seq_len - half]
    assert windows[1][0] == chr2[last - 1 - half:] + "N" * (seq_len - half - 1)
    # the batch's one-hot input: all-zero columns exactly there
    batch = make_batch([Variant("chr2", pos, i, r, a, 1) for _, pos, i, r, a in records], [0, 1], seq_len,
                       fetch_of(GENOME))
    for codes in (batch.ref_codes, batch.alt_codes):
        x = effects.as_input(codes, torch.device("cpu")).numpy()
        columns = x.sum(axis=1)
        expected = np.array([[0.0 if c == "N" else 1.0 for c in w[0]] for w in windows])
        np.testing.assert_array_equal(columns, expected)
    np.testing.assert_array_equal(batch.ref_codes, [[BASES.index(c) if c in BASES else 4 for c in w[0]]
                                                    for w in windows])
    model = tiny_cnn(seq_len, seed=5)
    table = seqlrp.variants.score(model, genome_fa, vcf, methods={}, null_size=0, device="cpu")
    for k, (ref_w, alt_w) in enumerate(windows):
        logits = direct(model, [ref_w, alt_w])
        rows = table[table["variant"] == k]
        close(rows["logit_ref"], logits[0])
        close(rows["logit_alt"], logits[1])


def test_index_map_of_indels_at_pos_1():
    seq = GENOME["chr2"]
    a, b = seq[0], seq[1]
    inserted = other(a)
    fetch = fetch_of({"chr2": seq})
    L, half = 10, 5
    # insertion before the first base: REF a, ALT Xa (anchored on the right, the VCF convention at POS 1)
    ins = make_batch([Variant("chr2", 1, ".", a, inserted + a, 1)], [0], L, fetch)
    # alternative window: N x5, X, a, then seq[1:]; X has no counterpart, a is reference index 5
    assert ins.alt_codes[0, half] == BASES.index(inserted)
    deletion = make_batch([Variant("chr2", 1, ".", a + b, b, 1)], [0], L, fetch)
    assert deletion.alt_codes[0, half] == BASES.index(b)
    failures = []
    if list(ins.index_map[0]) != [0, 1, 2, 3, 4, -1, 5, 6, 7, 8]:
        failures.append(f"insertion: {list(ins.index_map[0])}")
    # deletion of the first base: alt index 5 holds genome base 1 = reference index 6
    if list(deletion.index_map[0]) != [0, 1, 2, 3, 4, 6, 7, 8, 9, -1]:
        failures.append(f"deletion: {list(deletion.index_map[0])}")
    assert not failures, failures


# ---- 4. ΔR through an insertion and a deletion -------------------------------------------------------------

def expected_delta(kind: str, k: int, length: int, r_ref: np.ndarray, r_alt: np.ndarray):
    """ΔR (reference coordinates) and alt_only of one variant by the layout rules: a deletion of k
    bases after the anchor at L//2, or an insertion of k bases trimmed k//2 on the left."""
    c = length // 2
    delta, alt_only = -r_ref.astype(np.float64).copy(), np.zeros(length)
    for i in range(length):
        if kind == "deletion":
            j = i if i <= c else i + k
        else:
            h = i + k // 2  # haplotype index
            j = h if h <= c else (-1 if h <= c + k else h - k)
        if 0 <= j < length:
            delta[j] += r_alt[i]
        else:
            alt_only[i] = r_alt[i]
    return delta, alt_only


@pytest.mark.parametrize("seq_len", [20, 21])
def test_delta_relevance_is_aligned_through_indels(seq_len):
    seq = GENOME["chr1"]
    records = indel_variants(seq)
    picked = [records[3], records[5], records[4]]  # deletion of 3, insertion of 3, insertion of 2
    kinds = [("deletion", 3), ("insertion", 3), ("insertion", 2)]
    batch = make_batch([Variant(c, p, i, r, a, 1) for c, p, i, r, a in picked], [0, 1, 2], seq_len, fetch_of(GENOME))
    assert batch.kinds == [k for k, _ in kinds]
    rng = np.random.default_rng(7)
    r_ref, r_alt = rng.normal(size=(3, seq_len)), rng.normal(size=(3, seq_len))
    delta, alt_only = effects.delta_map(batch.index_map, r_ref, r_alt)
    c = seq_len // 2
    for row, (kind, k) in enumerate(kinds):
        want_delta, want_alt_only = expected_delta(kind, k, seq_len, r_ref[row], r_alt[row])
        np.testing.assert_allclose(delta[row], want_delta, rtol=0, atol=1e-12)
        np.testing.assert_allclose(alt_only[row], want_alt_only, rtol=0, atol=1e-12)
        if kind == "deletion":  # the deleted bases: -R_ref
            np.testing.assert_allclose(delta[row, c + 1:c + 1 + k], -r_ref[row, c + 1:c + 1 + k], atol=1e-12)
            # the genome bases the deletion pulls in on the right are alt-only
            np.testing.assert_allclose(alt_only[row, seq_len - k:], r_alt[row, seq_len - k:], atol=1e-12)
        else:  # the inserted bases (after the anchor, shifted by the left trim) are alt-only
            lo = c + 1 - k // 2
            np.testing.assert_allclose(alt_only[row, lo:lo + k], r_alt[row, lo:lo + k], atol=1e-12)
            assert np.count_nonzero(alt_only[row]) == k
    local_bp = 2
    columns = effects.explain_change(batch, r_ref, r_alt, local_bp=local_bp)
    close(columns["delta_relevance_sum"], r_alt.sum(axis=1) - r_ref.sum(axis=1), rtol=0, atol=1e-12)
    close(delta.sum(axis=1) + alt_only.sum(axis=1), r_alt.sum(axis=1) - r_ref.sum(axis=1), rtol=0, atol=1e-12)
    for row, (_, _, _, ref, alt) in enumerate(picked):
        left = (len(alt) - len(ref)) // 2 if len(alt) > len(ref) else 0
        close(columns["relevance_ref"][row], r_ref[row, c:c + len(ref)].sum(), rtol=0, atol=1e-12)
        close(columns["relevance_alt"][row], r_alt[row, c - left:c - left + len(alt)].sum(), rtol=0, atol=1e-12)
    # local_share of the deletion by hand: |ΔR| within 2 bp of REF [c, c + 4) and |alt_only| within
    # 2 bp of ALT [c, c + 1), over the total
    d, o = expected_delta("deletion", 3, seq_len, r_ref[0], r_alt[0])
    local = np.abs(d[c - 2:c + 4 + 2]).sum() + np.abs(o[c - 2:c + 1 + 2]).sum()
    close(columns["local_share"][0], local / (np.abs(d).sum() + np.abs(o).sum()), rtol=0, atol=1e-12)
    # no change at all: NaN
    same = effects.explain_change(batch, r_ref, np.zeros_like(r_alt))
    assert np.isfinite(same["local_share"]).all()
    zero = np.zeros_like(r_ref)
    assert np.isnan(effects.explain_change(batch, zero, zero)["local_share"]).all()


# ---- 5. conservation ---------------------------------------------------------------------------------------

def plain_cnn(seq_len: int, bias: bool, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(4, 6, 5, padding=2, bias=bias), nn.ReLU(), nn.Flatten(),
                         nn.Linear(6 * seq_len, 2, bias=bias)).eval()


def test_relevance_conserves_delta_for_a_bias_free_model_and_not_with_biases(tmp_path, genome_fa):
    seq_len = 21
    records = indel_variants(GENOME["chr1"])
    vcf = write_vcf(tmp_path / "v.vcf", records, {k: len(v) for k, v in GENOME.items()})
    methods = {"eps": {"composite": "epsilon", "epsilon": 1e-9}}
    free = plain_cnn(seq_len, bias=False, seed=0)
    table = seqlrp.variants.score(free, genome_fa, vcf, methods=methods, seq_len=seq_len, classes=["on", "off"],
                                  null_size=0, device="cpu")
    assert list(table["class"][:2]) == ["on", "off"] and set(table["method"]) == {"eps"}
    assert table["prob_ref"].notna().all()  # a plain module: softmax by default too
    close(table["delta_relevance_sum"], table["delta"], rtol=1e-3, atol=1e-6)
    assert (table["residual"].abs() <= 1e-3 * table["delta"].abs() + 1e-6).all()
    # relevance_ref/relevance_alt: the allele spans of seqlrp.relevance on the hand-cut windows
    for k, (chrom, pos, _, ref, alt) in enumerate(records):
        ref_w, alt_w = expected_windows(GENOME[chrom], pos, ref, alt, seq_len)
        left = (len(alt) - len(ref)) // 2 if len(alt) > len(ref) else 0
        x = torch.from_numpy(np.stack([onehot(ref_w), onehot(alt_w)]))
        for target, cls in enumerate(["on", "off"]):
            r = seqlrp.relevance(free, x, target, composite="epsilon", epsilon=1e-9).detach().double().numpy().sum(1)
            row = table[(table["variant"] == k) & (table["class"] == cls)].iloc[0]
            c = seq_len // 2
            close(row["relevance_ref"], r[0, c:c + len(ref)].sum(), atol=1e-6)
            close(row["relevance_alt"], r[1, c - left:c - left + len(alt)].sum(), atol=1e-6)
            close(row["delta_relevance_sum"], r[1].sum() - r[0].sum(), atol=1e-6)
    biased = plain_cnn(seq_len, bias=True, seed=0)
    table = seqlrp.variants.score(biased, genome_fa, vcf, methods=methods, seq_len=seq_len, null_size=0,
                                  device="cpu")
    assert list(table["class"][:2]) == ["output_0", "output_1"]
    close(table["residual"], table["delta"] - table["delta_relevance_sum"], rtol=1e-4, atol=1e-5)
    assert (table["residual"].abs() > 1e-3).mean() > 0.5  # biases absorb part of the change


def test_a_plain_module_needs_seq_len(genome_fa, tmp_path):
    vcf = write_vcf(tmp_path / "v.vcf", indel_variants(GENOME["chr1"])[:1], {k: len(v) for k, v in GENOME.items()})
    with pytest.raises(ValueError, match="seq_len"):
        seqlrp.variants.score(plain_cnn(21, False, 0), genome_fa, vcf, null_size=0, device="cpu")


# ---- 6. p-values ---------------------------------------------------------------------------------------------

def random_snvs(seq: str, n: int, margin: int, rng: np.random.Generator, chrom: str = "c1"):
    positions = np.sort(rng.choice(np.arange(margin, len(seq) - margin), n, replace=False)) + 1
    return [(chrom, int(p), f"v{i}", seq[p - 1], other(seq[p - 1], int(rng.integers(1, 4))))
            for i, p in enumerate(positions)]


def test_p_values_of_random_snvs_are_about_uniform(tmp_path):
    from scipy import stats

    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list(BASES), 12_000))
    fasta = write_genome(tmp_path, {"c1": seq})
    records = random_snvs(seq, 300, 110, rng)
    vcf = write_vcf(tmp_path / "v.vcf", records, {"c1": len(seq)})
    model = tiny_cnn(40, seed=0, filters=[8], kernels=[7])
    n_null = 300
    table = seqlrp.variants.score(model, fasta, vcf, methods={}, null_size=n_null, device="cpu", seed=0)
    p = table["p_value"].to_numpy()
    assert np.all((p > 0) & (p <= 1)) and np.all(p >= 1 / (n_null + 1) - 1e-12)
    # p = (1 + #null at least as large) / (1 + n): multiples of 1/301 (the table holds 6 significant digits)
    np.testing.assert_allclose(p * (n_null + 1), np.round(p * (n_null + 1)), atol=1e-3)
    for cls in ("class0", "class1"):
        values = table.loc[table["class"] == cls, "p_value"].to_numpy()
        # the p-values of one class share one null of 300: their spread around the uniform is that of
        # a two-sample KS statistic (median ~0.07 for 300 vs 300; the largest over 60 seeds tried was
        # 0.14): 0.15 fails only for a miscalibrated null
        assert stats.kstest(values, "uniform").statistic < 0.15, cls
        assert abs(values.mean() - 0.5) < 0.07
    # q-values per class: BH over that class's p-values
    for cls in ("class0", "class1"):
        rows = table[table["class"] == cls]
        close(rows["q_value"], null_mod.bh_q(rows["p_value"].to_numpy()), rtol=1e-12, atol=0)


def motif_model(seq_len: int, motif: str = "GATTACA") -> nn.Sequential:
    """One filter: +1 for the motif's base, -1 for others, bias -(len-1): 1 exactly where the full
    motif lies; every occurrence adds 10 to the only output."""
    conv = nn.Conv1d(4, 1, len(motif))
    with torch.no_grad():
        conv.weight.fill_(-1.0)
        for j, base in enumerate(motif):
            conv.weight[0, BASES.index(base), j] = 1.0
        conv.bias.fill_(-(len(motif) - 1.0))
    head = nn.Linear(seq_len - len(motif) + 1, 1, bias=False)
    with torch.no_grad():
        head.weight.fill_(10.0)
    return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), head).eval()


def test_a_variant_creating_a_motif_gets_the_smallest_p(tmp_path):
    rng = np.random.default_rng(4)
    seq = list(rng.choice(list(BASES), 6_000))
    seq[3000:3007] = list("GATTACC")  # C>A at 0-based 3006 (POS 3007) creates GATTACA
    seq = "".join(seq)
    fasta = write_genome(tmp_path, {"c1": seq})
    records = [r for r in random_snvs(seq, 40, 100, rng) if abs(r[1] - 3007) > 60]
    records.insert(len(records) // 2, ("c1", 3007, "planted", "C", "A"))
    records.sort(key=lambda r: r[1])
    vcf = write_vcf(tmp_path / "v.vcf", records, {"c1": len(seq)})
    seq_len = 30
    n = 500  # null_size: the 41 SNVs drawn in turn, each time in a new shuffle
    table = seqlrp.variants.score(motif_model(seq_len), fasta, vcf, methods={}, seq_len=seq_len, null_size=n,
                                  device="cpu", seed=2)
    planted = table[table["id"] == "planted"].iloc[0]
    close(planted["delta"], 10.0)
    assert planted["p_value"] == pytest.approx(1 / (n + 1), rel=1e-5)  # 6 significant digits
    assert planted["p_value"] == table["p_value"].min()
    others = table[table["id"] != "planted"]
    assert (others["delta"] == 0).all() and (others["p_value"] == 1).all()  # ties count as at least as extreme


def test_empirical_p_and_bh_q_by_hand():
    null = {"snv": np.array([[0.5, 3.0], [-1.0, 0.0], [2.0, -1.0], [1.0, 1.0]])}
    delta = np.array([[1.0, -1.0], [-2.0, 0.0], [0.0, 4.0], [3.0, 1.0], [1.0, 1.0]])
    kinds = ["snv", "snv", "snv", "snv", "deletion"]
    p = null_mod.empirical_p(delta, kinds, null)
    # |null| class 0: 0.5, 1, 1, 2; class 1: 0, 1, 1, 3
    expected = np.array([[(1 + 3) / 5, (1 + 3) / 5],   # |1| >= : 1, 1, 2 | 1, 1, 3
                         [(1 + 1) / 5, (1 + 4) / 5],   # |-2| >=: 2 | |0| >= all four
                         [(1 + 4) / 5, (1 + 0) / 5],
                         [(1 + 0) / 5, (1 + 3) / 5],
                         [np.nan, np.nan]])           # no deletion null
    np.testing.assert_array_equal(p, expected)
    assert np.isnan(null_mod.empirical_p(delta[:1], ["snv"], {"snv": np.zeros((0, 2))})).all()

    p = np.array([0.01, 0.04, np.nan, 0.03, 0.5, 0.2])
    # m = 5: sorted 0.01, 0.03, 0.04, 0.2, 0.5 -> p*m/rank 0.05, 0.075, 0.0667, 0.25, 0.5 -> running min from the top
    expected = np.array([0.05, 0.2 / 3, np.nan, 0.2 / 3, 0.5, 0.25])
    np.testing.assert_allclose(null_mod.bh_q(p), expected, rtol=1e-12)
    np.testing.assert_array_equal(null_mod.bh_q(np.array([np.nan, np.nan])), [np.nan, np.nan])
    np.testing.assert_allclose(null_mod.bh_q(np.array([0.9, 0.8])), [0.9, 0.9])


# ---- 7. null contexts ----------------------------------------------------------------------------------------

def dinucleotides(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a, b in itertools.pairwise(text):
        counts[a + b] = counts.get(a + b, 0) + 1
    return counts


@pytest.mark.parametrize("ref_len", [1, 3])
def test_shuffled_fetch_keeps_ref_and_flank_dinucleotides(ref_len):
    seq = GENOME["chr1"]
    pos, seq_len = 200, 40
    ref = seq[pos - 1:pos - 1 + ref_len]
    variant = Variant("chr1", pos, ".", ref, ref[0], 1) if ref_len > 1 else Variant("chr1", pos, ".", ref, other(ref), 1)
    start = pos - 1 - seq_len // 2
    lo, hi = start - 64, start + seq_len + (ref_len - 1) + 1  # everything the windows and normalisation read
    fetch = fetch_of(GENOME)
    local = null_mod.shuffled_fetch(variant, seq_len, fetch, np.random.default_rng(3))
    text = local("chr1", lo, hi)
    assert len(text) == hi - lo
    a, b = pos - 1 - lo, pos - 1 + ref_len - lo
    assert text[a:b] == ref
    for shuffled, original in ((text[:a], seq[lo:pos - 1]), (text[b:], seq[pos - 1 + ref_len:hi])):
        assert dinucleotides(shuffled) == dinucleotides(original)
        assert shuffled != original
    assert local("chr1", lo - 5, lo) == "NNNNN" and local("chr1", hi, hi + 3) == "NNN"
    assert local("chr1", lo - 2, lo + 2) == "NN" + text[:2]
    with pytest.raises(KeyError):
        local("chr2", 0, 10)
    again = null_mod.shuffled_fetch(variant, seq_len, fetch, np.random.default_rng(3))("chr1", lo, hi)
    otherwise = null_mod.shuffled_fetch(variant, seq_len, fetch, np.random.default_rng(4))("chr1", lo, hi)
    assert again == text and otherwise != text


def test_sample_contexts_draws_per_kind_by_seed():
    seq = "CGTACGGATCTAAAACGCATCAGTCACTGCTGCTGATTGACCGTAGGCTTACAGTC" * 3
    fetch = fetch_of({"c": seq})
    snvs = [Variant("c", p, f"s{p}", seq[p - 1], other(seq[p - 1]), p) for p in range(3, 60, 7)]  # 9 SNVs
    mnps = [Variant("c", p, f"m{p}", seq[p - 1:p + 1], other(seq[p - 1]) + other(seq[p]), p) for p in (70, 80, 90)]
    # one A deleted at the end of the run TAAAAC (0-based 10..15), written unnormalised
    deletion = Variant("c", 14, "d", "AA", "A", 14)
    insertions = [Variant("c", 100, "i1", seq[99], seq[99] + other(seq[99]), 100),
                  Variant("c", 120, "i2", seq[119], seq[119] + other(seq[119], 2), 120)]
    stream = snvs[:4] + [deletion] + mnps + insertions + snvs[4:]
    drawn = null_mod.sample_contexts(stream, fetch, 4, seed=1)
    assert {k: len(v) for k, v in drawn.items()} == {"snv": 4, "mnp": 3, "insertion": 2, "deletion": 1}
    assert list(drawn) == ["snv", "mnp", "insertion", "deletion"]
    assert drawn["deletion"] == [Variant("c", 11, "d", "TA", "T", 14)]  # left-normalised
    assert drawn["mnp"] == mnps and drawn["insertion"] == insertions
    for variants in drawn.values():  # in stream order
        lines = [v.line for v in variants]
        assert lines == sorted(lines)
    assert set(drawn["snv"]) <= set(snvs)
    assert null_mod.sample_contexts(stream, fetch, 4, seed=1) == drawn
    picks = {tuple(v.id for v in null_mod.sample_contexts(stream, fetch, 4, seed=s)["snv"]) for s in range(8)}
    assert len(picks) > 1  # the seed decides which SNVs
    assert {k: len(v) for k, v in null_mod.sample_contexts(stream, fetch, 100, seed=0).items()} == \
        {"snv": 9, "mnp": 3, "insertion": 2, "deletion": 1}


def test_null_deltas_reuse_a_small_kind_in_new_shuffles():
    seq, seq_len = GENOME["chr1"], 20
    snvs = [Variant("chr1", p, f"s{p}", seq[p - 1], other(seq[p - 1]), 1) for p in (100, 200)]
    deletion = Variant("chr1", 300, "d", seq[299:301], seq[299], 1)
    batches = []

    def score_pair(batch):
        batches.append(batch)
        return np.arange(len(batch), dtype=np.float64)[:, None] * np.array([[1.0, -1.0]])

    out = null_mod.null_deltas(score_pair, {"snv": snvs, "deletion": [deletion]}, seq_len, fetch_of(GENOME), seed=0,
                               batch_size=2, size=5)
    assert {k: v.shape for k, v in out.items()} == {"snv": (5, 2), "deletion": (5, 2)}
    np.testing.assert_array_equal(out["snv"][:, 0], [0, 1, 0, 1, 0])  # batches of at most 2, in order
    assert [len(b) for b in batches] == [2, 2, 1, 2, 2, 1]
    snv_batches = [v for b in batches[:3] for v in b.variants]
    assert [v.pos for v in snv_batches] == [100, 200, 100, 200, 100]
    windows = np.concatenate([b.ref_codes for b in batches[:3]])
    centre = seq_len // 2
    genome_window = [BASES.index(c) for c in window(seq, 100 - 1 - centre, seq_len)]
    for row in (0, 2, 4):  # the same SNV, three different shuffles, REF kept at the centre
        assert windows[row, centre] == BASES.index(seq[99])
        assert not np.array_equal(windows[row], genome_window)
    assert len({windows[row].tobytes() for row in (0, 2, 4)}) == 3
    # without size: each drawn variant once
    once = null_mod.null_deltas(score_pair, {"snv": snvs}, seq_len, fetch_of(GENOME), seed=0)
    assert once["snv"].shape == (2, 2)


# ---- 8. multi-allelic records and chr mapping -----------------------------------------------------------------

def test_multiallelic_rows_and_chr_mapping(tmp_path, genome_fa):
    seq_len = 20
    s1, s2 = GENOME["chr1"], GENOME["chr2"]
    records = [("chr1", 120, "multi", s1[119], f"{other(s1[119])},{other(s1[119], 2)}"),
               ("chr2", 60, "single", s2[59], other(s2[59])),
               ("chr1", 200, "ins", s1[199], s1[199] + other(s1[199], 3) + other(s1[199]))]
    lengths = {k: len(v) for k, v in GENOME.items()}
    prefixed = write_vcf(tmp_path / "chr.vcf", records, lengths)
    plain = write_vcf(tmp_path / "plain.vcf", [(c[3:], *rest) for c, *rest in records], {"1": 400, "2": 150})
    model = tiny_cnn(seq_len, seed=2)
    kwargs = {"methods": {"lrp": {"composite": "epsilon-plus"}}, "null_size": 20, "device": "cpu", "seed": 5}
    counts = seqlrp.formats.vcf.VariantCounts()
    a = seqlrp.variants.score(model, genome_fa, prefixed, **kwargs)
    b = seqlrp.variants.score(model, genome_fa, plain, counts=counts, **kwargs)
    assert counts.contig_mapping == {"1": "chr1", "2": "chr2"}
    first = a[a["class"] == "class0"]
    assert list(first["variant"]) == [0, 1, 2, 3]
    assert list(first["id"]) == ["multi", "multi", "single", "ins"]
    assert list(first["pos"][:2]) == [120, 120] and list(first["alt"][:2]) == records[0][4].split(",")
    for k, alt in enumerate(records[0][4].split(",")):
        ref_w, alt_w = expected_windows(s1, 120, s1[119], alt, seq_len)
        logits = direct(model, [ref_w, alt_w])
        close(a.loc[a["variant"] == k, "delta"], logits[1] - logits[0])
    assert list(b["chrom"]) == list(a["chrom"])  # the genome's names
    for column in ("delta", "logit_ref", "p_value", "q_value", "relevance_ref", "delta_relevance_sum"):
        np.testing.assert_array_equal(a[column].to_numpy(), b[column].to_numpy(), err_msg=column)


# ---- 9 and 10. the stage functions end to end, and the tables they write ------------------------------------

# shard_size a multiple of batch_size: the one-shard run batches the rows as the shards do (see
# test_two_shards_give_the_bytes_of_one)
STAGE_CONFIG = {"null_size": 60, "batch_size": 2, "motifs": "none", "maps": True, "explain": True, "device": "cpu",
                "reverse_complement": False, "shard_size": 4, "local_bp": 10}
STAGE_METHODS = {"lrp": {"composite": "epsilon-plus"}, "eps": {"composite": "epsilon", "epsilon": 1e-6}}
STAGE_CLASSES = ["zeta", "alpha"]  # not alphabetical: the header's order is the model's
STAGE_LEN = 24


def stage_records():
    """7 rows, written out of order: chr2 first, positions descending, a multi-allelic record."""
    s1, s2 = GENOME["chr1"], GENOME["chr2"]
    ins, dele = indel_variants(s1)[4], indel_variants(s1)[3]
    return [("chr2", 90, "b2", s2[89], other(s2[89])),
            ("chr2", 40, "b1", s2[39], f"{other(s2[39])},{other(s2[39], 2)}"),
            ("chr1", 300, "a4", s1[299:301], other(s1[299]) + other(s1[300])),
            ins, dele,
            ("chr1", 60, "a1", s1[59], other(s1[59]))]


def run_shards(root: Path, shards, config, inputs, classes, methods):
    from seqlrp.attribution.store import SHARD_ARRAYS
    from seqlrp.stages.variants import join_variants, score_shard

    scores, map_joins = [], {}
    for k, rows in enumerate(shards):
        shard = root / "shards" / str(k)
        shard.mkdir(parents=True)
        outputs = {"scores": shard / "scores.tsv", "windows": shard / "windows.npy", "index_map": shard / "index_map.npy"}
        maps = {}
        for cls in classes:
            for method in methods:
                folder = root / "maps" / f"{cls}.{method}" / "shards" / str(k)
                folder.mkdir(parents=True)
                maps[(cls, method)] = {**{key: folder / name for key, name in SHARD_ARRAYS.items()},
                                       "regions": folder / "regions.tsv", "settings": folder / "settings.json"}
                map_joins.setdefault((cls, method), ([], {"regions": root / "maps" / f"{cls}.{method}" / "regions.tsv",
                                                          "settings": root / "maps" / f"{cls}.{method}" / "settings.json"}))
                map_joins[(cls, method)][0].append(folder)
        score_shard(config, methods, inputs, outputs, maps, rows, seed=1, progress=False)
        scores.append(shard / "scores.tsv")
    outputs = {"scores": root / "scores.tsv", "vcf": root / "scored.vcf.gz", "tbi": root / "scored.vcf.gz.tbi",
               "bed": root / "variants.bed", "summary": root / "summary.json"}
    summary = join_variants(config, {"scores": scores, "index": inputs["index"], "chrom_sizes": inputs["chrom_sizes"]},
                            outputs, map_joins, classes, list(methods))
    return summary, scores


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory):
    from seqlrp.stages.variants import build_null, index_variants, shard_ranges

    root = tmp_path_factory.mktemp("stage")
    fasta = write_genome(root, GENOME)
    vcf = write_vcf(root / "in.vcf", stage_records(), {k: len(v) for k, v in GENOME.items()})
    model = tiny_cnn(STAGE_LEN, seed=9)
    annotate(model, classes=STAGE_CLASSES)
    save_model(model, root / "model.pt")
    (root / "chrom_sizes.tsv").write_text("".join(f"{k}\t{len(v)}\n" for k, v in GENOME.items()))
    index = index_variants(STAGE_CONFIG, str(fasta), str(vcf), root / "index.json", index_dir=str(root / "gi"))
    inputs = {"model": str(root / "model.pt"), "vcf": str(vcf), "genome": str(fasta), "index": str(root / "index.json"),
              "null": str(root / "null.npz"), "chrom_sizes": str(root / "chrom_sizes.tsv")}
    n_null = build_null(STAGE_CONFIG, inputs, root / "null.npz", seed=1, index_dir=str(root / "gi"))
    shards = shard_ranges(index["rows"], STAGE_CONFIG["shard_size"])
    two, shard_tables = run_shards(root / "two", shards, STAGE_CONFIG, inputs, STAGE_CLASSES, STAGE_METHODS)
    run_shards(root / "one", [None], STAGE_CONFIG, inputs, STAGE_CLASSES, STAGE_METHODS)
    return {"root": root, "index": index, "n_null": n_null, "shards": shards, "two": root / "two", "one": root / "one",
            "summary": two, "shard_tables": shard_tables, "model": model, "vcf": vcf}


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_stage_index_counts_and_shards(stage_run):
    index = stage_run["index"]
    assert (index["records"], index["rows"]) == (6, 7)
    assert index["kinds"] == {"snv": 4, "mnp": 1, "insertion": 1, "deletion": 1}
    assert (index["symbolic_skipped"], index["ref_mismatch_skipped"], index["contig_mapping"]) == (0, 0, {})
    assert stage_run["shards"] == [(0, 4), (4, 7)]
    assert json.loads((stage_run["root"] / "index.json").read_text()) == index
    # null_size per kind present, the kind's rows reused in turn
    assert stage_run["n_null"] == 4 * 60
    deltas, classes = null_mod.load_null(stage_run["root"] / "null.npz")
    assert classes == STAGE_CLASSES and {k: v.shape for k, v in deltas.items()} == {k: (60, 2) for k in index["kinds"]}
    summary = stage_run["summary"]
    assert (summary["scored"], summary["score_rows"]) == (7, 7 * 2 * 2)
    assert summary["classes"] == STAGE_CLASSES and summary["methods"] == list(STAGE_METHODS)


def test_two_shards_give_the_bytes_of_one(stage_run):
    """Shards of 4 rows in batches of 2 batch the rows as one shard does. (Where shard_size is not a
    multiple of batch_size a row can sit in a batch of another size, and float32 convolutions of
    another batch size may differ in the 6th significant digit of scores.tsv.)"""
    two, one = stage_run["two"], stage_run["one"]
    assert (two / "scores.tsv").read_bytes() == (one / "scores.tsv").read_bytes()
    assert (two / "variants.bed").read_bytes() == (one / "variants.bed").read_bytes()
    rows = read_rows(two / "scores.tsv")
    assert len(rows) == 28
    assert [r["variant"] for r in rows[::4]] == [str(k) for k in range(7)]
    assert [(r["class"], r["method"]) for r in rows[:4]] == [(c, m) for c in STAGE_CLASSES for m in STAGE_METHODS]
    # the scores are those of the model on the windows cut by hand
    records = [(c, p, i, r, a) for c, p, i, r, alts in stage_records() for a in alts.split(",")]
    for k, (chrom, pos, _, ref, alt) in enumerate(records):
        ref_w, alt_w = expected_windows(GENOME[chrom], pos, ref, alt, STAGE_LEN)
        logits = direct(stage_run["model"], [ref_w, alt_w])
        for c, cls in enumerate(STAGE_CLASSES):
            row = next(r for r in rows if r["variant"] == str(k) and r["class"] == cls)
            assert (row["chrom"], int(row["pos"]), row["ref"], row["alt"]) == (chrom, pos, ref, alt)
            close(float(row["delta"]), logits[1, c] - logits[0, c])


def test_joined_q_values_are_bh_over_all_shards(stage_run):
    rows = read_rows(stage_run["two"] / "scores.tsv")
    shard_rows = [r for path in stage_run["shard_tables"] for r in read_rows(path)]
    assert all(r["q_value"] == "" for r in shard_rows)  # shards leave q to the join
    assert len(read_rows(stage_run["shard_tables"][0])) == 4 * 4
    for cls in STAGE_CLASSES:
        picked = [r for r in rows if r["class"] == cls and r["method"] == "lrp"]
        p = np.array([float(r["p_value"]) for r in picked])
        assert np.all((p > 0) & (p <= 1))
        q = null_mod.bh_q(p)
        close([float(r["q_value"]) for r in picked], q, rtol=1e-5, atol=0)
        for r in rows:  # every method's row of a variant carries its class's q
            if r["class"] == cls:
                assert r["q_value"] == picked[int(r["variant"])]["q_value"]
    # a q computed per shard would differ: the first shard alone
    first = [float(r["p_value"]) for r in read_rows(stage_run["shard_tables"][0])
             if r["class"] == "zeta" and r["method"] == "lrp"]
    joined = [float(r["q_value"]) for r in rows if r["class"] == "zeta" and r["method"] == "lrp"][:4]
    assert len(first) == 4 and not np.allclose(null_mod.bh_q(np.array(first)), joined)


def test_join_score_tables_by_hand(tmp_path):
    columns = list(tables.SCORE_COLUMNS)

    def table(path, rows):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\t".join(columns) + "\n")
            for variant, cls, method, p in rows:
                cells = dict.fromkeys(columns, "")
                cells.update(chrom="c", pos=str(variant + 1), id=".", ref="A", alt="C", variant=str(variant), kind="snv",
                             **{"class": cls}, method=method, p_value=p)
                handle.write("\t".join(cells[c] for c in columns) + "\n")
        return path

    a = table(tmp_path / "a.tsv", [(0, "x", "m1", "0.01"), (0, "x", "m2", "0.01"), (0, "y", "m1", "0.5"),
                                   (0, "y", "m2", "0.5"), (1, "x", "m1", "0.04"), (1, "x", "m2", "0.04"),
                                   (1, "y", "m1", ""), (1, "y", "m2", "")])
    b = table(tmp_path / "b.tsv", [(2, "x", "m1", "0.03"), (2, "x", "m2", "0.03"), (2, "y", "m1", "0.2"),
                                   (2, "y", "m2", "0.2")])
    assert tables.join_score_tables([a, b], tmp_path / "out.tsv") == 12
    rows = read_rows(tmp_path / "out.tsv")
    q = {(r["variant"], r["class"], r["method"]): r["q_value"] for r in rows}
    # class x: p 0.01, 0.04, 0.03 -> q 0.03, 0.04, 0.04; class y: 0.5, NaN, 0.2 -> 0.5, NaN, 0.4
    for variant, cls, want in [("0", "x", 0.03), ("1", "x", 0.04), ("2", "x", 0.04), ("0", "y", 0.5), ("2", "y", 0.4)]:
        for method in ("m1", "m2"):
            assert float(q[(variant, cls, method)]) == pytest.approx(want)
    assert q[("1", "y", "m1")] == q[("1", "y", "m2")] == ""


def test_scored_vcf_is_sorted_indexed_and_holds_the_table(stage_run):
    path = stage_run["two"] / "scored.vcf.gz"
    rows = read_rows(stage_run["two"] / "scores.tsv")
    assert (stage_run["two"] / "scored.vcf.gz.tbi").is_file()
    with pysam.VariantFile(str(path)) as vcf:
        header = str(vcf.header)
        assert f"##seqlrp_classes={','.join(STAGE_CLASSES)}" in header
        assert list(vcf.header.contigs) == list(GENOME)
        records = list(vcf)
        # sorted by the genome's contig order (chr1 first) and position, although the input was not
        keys = [(list(GENOME).index(r.chrom), r.pos) for r in records]
        assert keys == sorted(keys) and keys[0][0] == 0
        assert [(r.chrom, r.pos, r.alts[0]) for r in records] == sorted(
            [(r["chrom"], int(r["pos"]), r["alt"]) for r in rows[::4]], key=lambda t: (list(GENOME).index(t[0]), t[1]))
        for record in records:
            mine = [r for r in rows if r["chrom"] == record.chrom and int(r["pos"]) == record.pos
                    and r["alt"] == record.alts[0] and r["method"] == "lrp"]
            assert [r["class"] for r in mine] == STAGE_CLASSES
            assert len(record.info["SEQLRP_DELTA"]) == len(STAGE_CLASSES)
            close(record.info["SEQLRP_DELTA"], [float(r["delta"]) for r in mine], rtol=1e-5, atol=1e-7)
            close(record.info["SEQLRP_P"], [float(r["p_value"]) for r in mine], rtol=1e-5, atol=0)
            close(record.info["SEQLRP_Q"], [float(r["q_value"]) for r in mine], rtol=1e-5, atol=0)
            close(record.info["SEQLRP_LOGIT_REF"], [float(r["logit_ref"]) for r in mine], rtol=1e-5, atol=1e-7)
            close(record.info["SEQLRP_RREF_eps"],
                  [float(r["relevance_ref"]) for r in rows if r["variant"] == mine[0]["variant"] and r["method"] == "eps"],
                  rtol=1e-5, atol=1e-7)
            assert record.info["SEQLRP_KIND"] == mine[0]["kind"]
        # the multi-allelic record is split: two records at one position
        assert sum(1 for r in records if r.chrom == "chr2" and r.pos == 40) == 2
        # the index answers a region query
        fetched = [(r.chrom, r.pos) for r in vcf.fetch("chr2", 30, 100)]
        assert fetched == [("chr2", 40), ("chr2", 40), ("chr2", 90)]
        assert [r.pos for r in vcf.fetch("chr1", 0, 100)] == [60]


def test_variant_bed_is_bed9_coloured_by_sign(stage_run):
    lines = (stage_run["two"] / "variants.bed").read_text().splitlines()
    assert lines[0].startswith("track ")
    body = [line.split("\t") for line in lines[1:]]
    rows = [r for r in read_rows(stage_run["two"] / "scores.tsv") if r["method"] == "lrp"]
    assert len(body) == len(rows) == 14 and all(len(fields) == 9 for fields in body)
    starts = [(list(GENOME).index(f[0]), int(f[1])) for f in body]
    assert starts == sorted(starts)
    for fields in body:
        chrom, lo, hi, name, score, strand, thick_lo, thick_hi, colour = fields
        row = next(r for r in rows if r["chrom"] == chrom and int(r["pos"]) - 1 == int(lo)
                   and f"|{r['ref']}>{r['alt']}|{r['class']}|" in name)
        assert (int(lo), int(hi)) == (int(row["pos"]) - 1, int(row["pos"]) - 1 + len(row["ref"]))
        assert (thick_lo, thick_hi, strand) == (lo, hi, ".")
        delta = float(row["delta"])
        assert colour == ("255,0,0" if delta > 0 else "0,0,255")
        assert int(score) == min(1000, round(100 * -math.log10(float(row["p_value"]))))
    assert {f[8] for f in body} == {"255,0,0", "0,0,255"}  # both signs occur
    assert any(int(f[2]) - int(f[1]) == 4 for f in body)  # the deletion of 3 spans its REF


def stage_rows_and_records(stage_run):
    rows = read_rows(stage_run["two"] / "scores.tsv")
    records = [(c, p, i, r, a) for c, p, i, r, alts in stage_records() for a in alts.split(",")]
    return rows, records


def test_variant_maps_open_and_agree_with_their_tables(stage_run):
    from seqlrp.variants.maps import open_variant_maps

    rows, _ = stage_rows_and_records(stage_run)
    for run in ("one", "two"):
        for cls in STAGE_CLASSES:
            for method in STAGE_METHODS:
                maps = open_variant_maps(stage_run[run] / "maps" / f"{cls}.{method}")
                assert len(maps) == 7 and list(maps.variants) == list(range(7))
                assert maps.store.settings["class"] == cls and maps.store.settings["method"] == method
                assert maps.store.settings["n_windows"] == 14
                assert list(maps.store.table["allele"]) == ["ref", "alt"] * 7
                for k in range(7):
                    row = next(r for r in rows if r["variant"] == str(k) and r["class"] == cls and r["method"] == method)
                    close(maps.store.logits[2 * k], float(row["logit_ref"]))
                    close(maps.store.logits[2 * k + 1], float(row["logit_alt"]))
                    close(maps.ref(k).sum(), maps.store.sums[2 * k], rtol=1e-4, atol=1e-5)
                    close(maps.alt(k).sum(), maps.store.sums[2 * k + 1], rtol=1e-4, atol=1e-5)
                    assert maps.ref(k).shape == maps.alt(k).shape == (STAGE_LEN,)
                    delta, alt_only = maps.delta(k)
                    close(delta.sum() + alt_only.sum(), maps.alt(k).sum() - maps.ref(k).sum(), rtol=1e-4, atol=1e-6)


def stage_relevance(model, seqs, target, method):
    spec = STAGE_METHODS[method]
    x = torch.from_numpy(np.stack([onehot(s) for s in seqs]))
    return seqlrp.relevance(model, x, target, **spec).detach().double().numpy().sum(axis=1)


def test_variant_maps_hold_each_alleles_own_relevance(stage_run):
    from seqlrp.variants.maps import open_variant_maps

    rows, records = stage_rows_and_records(stage_run)
    model = stage_run["model"]
    c = STAGE_LEN // 2
    for target, cls in enumerate(STAGE_CLASSES):
        for method in STAGE_METHODS:
            maps = open_variant_maps(stage_run["one"] / "maps" / f"{cls}.{method}")  # one shard: rows 0..13
            for k, (chrom, pos, _, ref, alt) in enumerate(records):
                row = next(r for r in rows if r["variant"] == str(k) and r["class"] == cls and r["method"] == method)
                ref_w, alt_w = expected_windows(GENOME[chrom], pos, ref, alt, STAGE_LEN)
                r_ref, r_alt = stage_relevance(model, [ref_w, alt_w], target, method)
                close(maps.ref(k), r_ref, rtol=1e-4, atol=1e-6)
                close(maps.alt(k), r_alt, rtol=1e-4, atol=1e-6)
                delta, alt_only = maps.delta(k)
                close(delta.sum() + alt_only.sum(), float(row["delta_relevance_sum"]), rtol=1e-4, atol=1e-5)
                close(maps.ref(k)[c:c + len(ref)].sum(), float(row["relevance_ref"]), rtol=1e-4, atol=1e-5)


def test_scores_table_explains_each_allele(stage_run):
    """The explanation columns of scores.tsv against seqlrp.relevance on the hand-cut windows."""
    rows, records = stage_rows_and_records(stage_run)
    model = stage_run["model"]
    c = STAGE_LEN // 2
    for k, (chrom, pos, _, ref, alt) in enumerate(records):
        ref_w, alt_w = expected_windows(GENOME[chrom], pos, ref, alt, STAGE_LEN)
        left = (len(alt) - len(ref)) // 2 if len(alt) > len(ref) else 0
        for target, cls in enumerate(STAGE_CLASSES):
            for method in STAGE_METHODS:
                row = next(r for r in rows if r["variant"] == str(k) and r["class"] == cls and r["method"] == method)
                r_ref, r_alt = stage_relevance(model, [ref_w, alt_w], target, method)
                close(float(row["relevance_ref"]), r_ref[c:c + len(ref)].sum(), rtol=1e-4, atol=1e-6)
                close(float(row["relevance_alt"]), r_alt[c - left:c - left + len(alt)].sum(), rtol=1e-4, atol=1e-6)
                close(float(row["delta_relevance_sum"]), r_alt.sum() - r_ref.sum(), rtol=1e-4, atol=1e-6)
                close(float(row["residual"]), float(row["delta"]) - float(row["delta_relevance_sum"]), atol=1e-5)


def test_variant_maps_of_a_later_shard_read_their_own_windows(stage_run):
    from seqlrp.variants.maps import open_variant_maps

    _, records = stage_rows_and_records(stage_run)
    for cls in STAGE_CLASSES:
        for method in STAGE_METHODS:
            maps = open_variant_maps(stage_run["two"] / "maps" / f"{cls}.{method}")
            failures = []
            if list(maps.store.rows) != list(range(14)):
                failures.append(f"rows {list(maps.store.rows)}")
            for k, (chrom, pos, _, ref, alt) in enumerate(records):
                ref_w, alt_w = expected_windows(GENOME[chrom], pos, ref, alt, STAGE_LEN)
                if not (np.array_equal(maps.store.onehot[2 * k], onehot(ref_w))
                        and np.array_equal(maps.store.onehot[2 * k + 1], onehot(alt_w))):
                    failures.append(f"variant {k}: not its windows")
            assert not failures, (cls, method, failures)


def test_index_variants_refuses_a_ref_mismatch_and_skip_counts(stage_run, tmp_path):
    from seqlrp.stages.variants import index_variants

    root = stage_run["root"]
    records = stage_records()
    s1 = GENOME["chr1"]
    wrong = ("chr1", 80, "bad", other(s1[79]), other(s1[79], 2))
    vcf = write_vcf(tmp_path / "bad.vcf", records[:3] + [wrong] + records[3:], {k: len(v) for k, v in GENOME.items()})
    out = tmp_path / "index.json"
    with pytest.raises(InputError) as err:
        index_variants(STAGE_CONFIG, str(root / "genome.fa"), str(vcf), out)
    header_lines = 1 + len(GENOME) + 1
    assert str(err.value).startswith(f"{vcf}:{header_lines + 4}: REF {wrong[3]} does not match")
    assert "\n" not in str(err.value)
    assert not out.exists() and list(tmp_path.iterdir()) == [vcf]
    index = index_variants({**STAGE_CONFIG, "ref_mismatch": "skip"}, str(root / "genome.fa"), str(vcf), out)
    assert (index["records"], index["rows"], index["ref_mismatch_skipped"]) == (7, 7, 1)
    assert json.loads(out.read_text())["ref_mismatch_skipped"] == 1


@pytest.mark.parametrize("switches", [{"maps": False}, {"explain": False}])
def test_a_shard_without_maps_writes_no_windows_and_the_same_scores(stage_run, tmp_path, switches):
    """variant_effects.maps false (explanation columns, no maps) and explain false (scores and
    p-values only): the rule declares no windows and no maps, and the scores are those of the full run."""
    from seqlrp.stages.variants import join_variants, score_shard

    root = stage_run["root"]
    config = {**STAGE_CONFIG, **switches}
    inputs = {"model": str(root / "model.pt"), "vcf": str(stage_run["vcf"]), "genome": str(root / "genome.fa"),
              "index": str(root / "index.json"), "null": str(root / "null.npz")}
    score_shard(config, STAGE_METHODS, inputs, {"scores": tmp_path / "scores.tsv"}, {}, None, seed=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.tsv"]
    outputs = {"scores": tmp_path / "joined.tsv", "vcf": tmp_path / "scored.vcf.gz", "tbi": tmp_path / "scored.vcf.gz.tbi",
               "bed": tmp_path / "variants.bed", "summary": tmp_path / "summary.json"}
    join_variants(config, {"scores": [tmp_path / "scores.tsv"], "index": inputs["index"],
                           "chrom_sizes": str(root / "chrom_sizes.tsv")}, outputs, {}, STAGE_CLASSES, list(STAGE_METHODS))
    full = read_rows(stage_run["one"] / "scores.tsv")
    rows = read_rows(tmp_path / "joined.tsv")
    if switches.get("explain") is False:
        assert {r["method"] for r in rows} == {"-"} and all(r["relevance_ref"] == "" for r in rows)
        full = [r for r in full if r["method"] == next(iter(STAGE_METHODS))]
        keep = ("variant", "class", "delta", "p_value", "q_value")
    else:
        keep = tuple(r for r in full[0] if r != "q_value") + ("q_value",)
    assert [[r[k] for k in keep] for r in rows] == [[r[k] for k in keep] for r in full]
    with pysam.VariantFile(str(outputs["vcf"])) as vcf:
        assert len(list(vcf)) == stage_run["index"]["rows"]


def test_a_shard_starting_inside_a_multi_allelic_record_reads_from_that_record(stage_run, tmp_path):
    """index.json records where each shard's rows begin (the record and its first row); a shard that
    starts at the second ALT of a record passes the earlier records over unread and scores the rows
    a one-shard run scores."""
    from seqlrp.stages.variants import index_variants, score_shard, shard_ranges

    root = stage_run["root"]
    config = {**STAGE_CONFIG, "shard_size": 2, "maps": False}
    index = index_variants(config, str(root / "genome.fa"), str(stage_run["vcf"]), tmp_path / "index.json")
    # rows: b2 (record 1), b1's two ALTs (record 2: rows 1 and 2), a4, ...: shard [2, 4) starts inside record 2
    assert index["shard_starts"]["2"] == [2, 1] and index["shard_starts"]["0"] == [1, 0]
    inputs = {"model": str(root / "model.pt"), "vcf": str(stage_run["vcf"]), "genome": str(root / "genome.fa"),
              "index": str(tmp_path / "index.json"), "null": str(root / "null.npz")}
    rows = []
    for k, (lo, hi) in enumerate(shard_ranges(index["rows"], 2)):
        score_shard(config, STAGE_METHODS, inputs, {"scores": tmp_path / f"{k}.tsv"}, {}, (lo, hi), seed=1,
                    progress=False)
        rows += read_rows(tmp_path / f"{k}.tsv")
    full = read_rows(stage_run["one"] / "scores.tsv")
    keep = ("variant", "id", "alt", "class", "method", "delta", "relevance_ref", "p_value")
    assert [[r[k] for k in keep] for r in rows] == [[r[k] for k in keep] for r in full]


def test_scored_vcf_keeps_odd_class_and_method_names_apart(tmp_path):
    """Class names with quotes or commas are percent-encoded in the header (htslib parses every INFO
    line); methods whose INFO keys would coincide (lrp-1, lrp_1) get distinct keys: no value is lost."""
    classes, methods = ['a"b', "c,d"], ["lrp-1", "lrp_1"]
    rows = []
    for c, cls in enumerate(classes):
        for m, method in enumerate(methods):
            values = {column: "" for column in tables.SCORE_COLUMNS}
            values.update(chrom="chr1", pos="5", id="v", ref="A", alt="G", variant="0", kind="snv", method=method,
                          delta=str(c + 1), logit_ref="0", logit_alt=str(c + 1), p_value="0.5", q_value="0.5",
                          relevance_ref=str(10 * c + m), relevance_alt="0")
            values["class"] = cls
            rows.append([values[column] for column in tables.SCORE_COLUMNS])
    scores = tmp_path / "scores.tsv"
    scores.write_text("\t".join(tables.SCORE_COLUMNS) + "\n" + "".join("\t".join(r) + "\n" for r in rows))
    tables.write_scored_vcf(scores, tmp_path / "out.vcf.gz", {"chr1": 100}, classes, methods)
    with pysam.VariantFile(str(tmp_path / "out.vcf.gz")) as vcf:
        header = str(vcf.header)
        record = next(iter(vcf))
    assert "##seqlrp_classes=a%22b,c%2Cd" in header
    assert list(record.info["SEQLRP_DELTA"]) == [1.0, 2.0]
    assert list(record.info["SEQLRP_RREF_lrp_1_1"]) == [0.0, 10.0] and list(record.info["SEQLRP_RREF_lrp_1_2"]) == [1.0, 11.0]
