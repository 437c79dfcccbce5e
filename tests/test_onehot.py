import numpy as np
import pytest

from seqlrp.formats.onehot import (
    codes_from_str,
    decode,
    encode,
    onehot_from_codes,
    reverse_complement_codes,
    reverse_complement_onehot,
)


def test_channels_are_acgt_in_order():
    x = encode("ACGT")
    assert x.shape == (4, 4) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, np.eye(4, dtype=np.uint8))


def test_lowercase_is_the_same_base():
    np.testing.assert_array_equal(encode("acgtAcGt"), encode("ACGTACGT"))


@pytest.mark.parametrize("base", list("NRYSWKMBDHV-.n"))
def test_n_and_iupac_codes_are_zero_columns(base):
    x = encode(f"A{base}T")
    assert x[:, 1].sum() == 0
    assert x[0, 0] == 1 and x[3, 2] == 1


def test_decode_round_trip_and_n():
    assert decode(encode("ACGTNacgt")) == "ACGTNACGT"


def test_reverse_complement_of_codes_and_onehot_agree():
    seq = "AACGTNTTGCa"
    expected = "TGCAANACGTT"
    assert decode(onehot_from_codes(reverse_complement_codes(codes_from_str(seq)))) == expected
    assert decode(reverse_complement_onehot(encode(seq))) == expected


def test_batch_shape():
    codes = np.stack([codes_from_str("ACGTA"), codes_from_str("NNNNA")])
    x = onehot_from_codes(codes)
    assert x.shape == (2, 4, 5)
    assert x[1, :, :4].sum() == 0 and x[1, 0, 4] == 1
