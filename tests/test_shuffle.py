from collections import Counter

import numpy as np
import pytest

from seqlrp.formats.onehot import codes_from_str, encode, onehot_from_codes
from seqlrp.sequences.shuffle import dinucleotide_shuffle, shuffle_onehot


def dinucleotides(codes):
    return Counter(zip(codes[:-1].tolist(), codes[1:].tolist()))


@pytest.mark.parametrize("seed", range(20))
def test_dinucleotide_counts_and_ends_are_kept(seed):
    rng = np.random.default_rng(seed)
    codes = rng.choice(5, size=int(rng.integers(3, 300)), p=[0.3, 0.2, 0.2, 0.25, 0.05]).astype(np.uint8)
    shuffled = dinucleotide_shuffle(codes, np.random.default_rng(seed + 100))
    assert dinucleotides(shuffled) == dinucleotides(codes)
    assert shuffled[0] == codes[0] and shuffled[-1] == codes[-1]


def test_shuffles_differ_and_repeat_with_the_seed():
    onehot = encode("ACGTTGCAACGGTACCATGCATGCAAGTCGATCGATGCTAGCTAGCATCGAT" * 3)[None]
    a = shuffle_onehot(onehot, n_shuffles=3, seed=1)
    b = shuffle_onehot(onehot, n_shuffles=3, seed=1)
    assert a.shape == (3, 4, onehot.shape[-1])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[0], onehot[0])


def test_degenerate_sequences():
    assert dinucleotide_shuffle(codes_from_str("AAAAAA"), np.random.default_rng(0)).tolist() == [0] * 6
    assert dinucleotide_shuffle(codes_from_str("AC"), np.random.default_rng(0)).tolist() == [0, 1]
    # ACAC... has only one Eulerian path
    assert dinucleotide_shuffle(codes_from_str("ACACAC"), np.random.default_rng(0)).tolist() == [0, 1, 0, 1, 0, 1]


def test_n_columns_stay_zero_columns():
    onehot = onehot_from_codes(codes_from_str("ACGNNTACGTNACG"))[None]
    out = shuffle_onehot(onehot, n_shuffles=2, seed=0)
    assert (out.sum(axis=1) == 0).sum(axis=1).tolist() == [3, 3]
