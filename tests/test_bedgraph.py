import numpy as np
import pytest

from seqlrp.bedgraph import format_bedgraph


def test_known_lines():
    text = format_bedgraph(
        "chr2", np.array([0, 9, 99, 123456789]), np.array([1, 10, 150, 123456790]), np.array([0.0, -1.5, 12.25, -0.0000004])
    )
    assert text == b"chr2\t0\t1\t0\nchr2\t9\t10\t-1.5\nchr2\t99\t150\t12.25\nchr2\t123456789\t123456790\t0\n"


@pytest.mark.parametrize("decimals", [1, 4, 6, 7])
def test_matches_python_formatting_on_random_values(decimals):
    rng = np.random.default_rng(decimals)
    starts = np.sort(rng.integers(0, 3_000_000_000, size=5000))
    ends = starts + rng.integers(1, 100, size=5000)
    values = rng.standard_normal(5000) * 10.0 ** rng.integers(-8, 4, size=5000)
    lines = format_bedgraph("chrX", starts, ends, values, decimals=decimals).decode().splitlines()
    assert len(lines) == 5000
    for line, s, e, v in zip(lines, starts, ends, values):
        chrom, got_s, got_e, got_v = line.split("\t")
        assert (chrom, int(got_s), int(got_e)) == ("chrX", s, e)
        expected = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
        expected = "0" if expected in ("-0", "") else expected
        assert got_v == expected, (v, got_v, expected)


def test_empty():
    assert format_bedgraph("chr1", np.array([], dtype=int), np.array([], dtype=int), np.array([])) == b""
