"""Fast bedGraph text: vectorised number formatting, no Python loop per line.

A genome-wide relevance track has hundreds of millions of one-base entries; Python string
formatting manages about 1.5 million lines per second. Here every column is rendered with
NumPy: integers two digits at a time through a table of the pairs "00".."99", values as fixed
point with ``decimals`` places and trailing zeros stripped, and the fields are joined by
masking away the unused, right-aligned digit slots.
"""

from __future__ import annotations

import numpy as np

_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), dtype=np.uint8).reshape(100, 2)
_POWERS_OF_TEN = 10 ** np.arange(19, dtype=np.int64)  # 1, 10, ..., 10**18
_TAB, _NEWLINE, _MINUS, _DOT, _ZERO = 9, 10, 45, 46, 48


def _digits(values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative integers (n,) -> ASCII digits (n, width) right-aligned and a keep mask.

    ``width`` must be even and hold the largest value; leading zeros are masked out (a zero
    keeps its last digit).
    """
    n = values.size
    out = np.empty((n, width), dtype=np.uint8)
    # 32-bit division is markedly faster; every value fits when width <= 9 digits
    rest = values.astype(np.uint32 if width <= 9 else np.uint64)
    for pair in range(width // 2 - 1, -1, -1):
        rest, low = np.divmod(rest, 100)
        out[:, 2 * pair : 2 * pair + 2] = _PAIRS[low]
    n_digits = np.maximum(np.searchsorted(_POWERS_OF_TEN[:width], values, side="right"), 1)
    keep = np.arange(width) >= (width - n_digits)[:, np.newaxis]
    return out, keep


def _even_width(max_value: int) -> int:
    width = len(str(max(int(max_value), 0)))
    return width + (width % 2)


def format_bedgraph(chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray, decimals: int = 6) -> bytes:
    """bedGraph lines ``chrom<TAB>start<TAB>end<TAB>value\\n`` for one chromosome.

    ``starts``/``ends`` (n,) non-negative int, 0-based half-open; ``values`` (n,) float, written
    rounded to ``decimals`` places with trailing zeros (and a bare point) removed, ``-0`` as ``0``.
    """
    n = int(np.asarray(starts).size)
    if n == 0:
        return b""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    position_width = _even_width(ends.max())
    start_digits, start_keep = _digits(starts, position_width)
    end_digits, end_keep = _digits(ends, position_width)

    scale = 10**decimals
    fixed = np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)
    negative = fixed < 0
    whole, fraction = np.divmod(np.abs(fixed), scale)
    whole_digits, whole_keep = _digits(whole, _even_width(whole.max()))
    fraction_width = decimals + (decimals % 2)
    fraction_digits, _ = _digits(fraction * 10 ** (fraction_width - decimals), fraction_width)
    fraction_digits = fraction_digits[:, :decimals]
    # keep fraction digits up to the last non-zero one; the point only when some digit stays
    trailing_zeros = np.zeros(n, dtype=np.int64)
    for power in range(1, decimals + 1):
        trailing_zeros += fraction % 10**power == 0
    fraction_keep = np.arange(decimals) < (decimals - trailing_zeros)[:, np.newaxis]
    point_keep = fraction_keep[:, :1]

    prefix = np.frombuffer(chrom.encode("ascii") + b"\t", dtype=np.uint8)
    column = lambda byte: np.full((n, 1), byte, dtype=np.uint8)  # noqa: E731
    always = np.ones((n, 1), dtype=bool)
    text = np.concatenate(
        [np.broadcast_to(prefix, (n, prefix.size)), start_digits, column(_TAB), end_digits, column(_TAB),
         column(_MINUS), whole_digits, column(_DOT), fraction_digits, column(_NEWLINE)],
        axis=1,
    )
    keep = np.concatenate(
        [np.ones((n, prefix.size), dtype=bool), start_keep, always, end_keep, always,
         negative[:, None], whole_keep, point_keep, fraction_keep, always],
        axis=1,
    )
    return text[keep].tobytes()
