"""One-hot encoding of DNA: arrays (N, 4, L), channels A, C, G, T, dtype uint8.

Bases are first mapped to integer *codes* 0..3 (A, C, G, T); every other byte — N, the IUPAC
ambiguity codes, gaps — becomes code 4, which encodes as an all-zero column. Lowercase
(soft-masked) bases count as their uppercase letters. :mod:`.encoder` builds the public
``seqlrp.one_hot`` (strings or FASTA records -> a torch tensor) on these functions.
"""

from __future__ import annotations

import numpy as np

N_CODE = 4
"""Code of any byte that is not A/C/G/T (case-insensitive): an all-zero one-hot column."""

_CODE_OF_BYTE = np.full(256, N_CODE, dtype=np.uint8)
for _code, _base in enumerate("ACGT"):
    _CODE_OF_BYTE[ord(_base)] = _code
    _CODE_OF_BYTE[ord(_base.lower())] = _code

_COMPLEMENT_CODE = np.array([3, 2, 1, 0, N_CODE], dtype=np.uint8)
_BASE_OF_CODE = np.frombuffer(b"ACGTN", dtype=np.uint8)


def codes_from_bytes(seq: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """Map raw sequence bytes (L,) to codes (L,) uint8 in 0..4."""
    raw = seq if isinstance(seq, np.ndarray) else np.frombuffer(seq, dtype=np.uint8)
    return _CODE_OF_BYTE[raw]


def codes_from_str(seq: str) -> np.ndarray:
    """Map a sequence string (L,) to codes (L,) uint8; non-ASCII characters become N."""
    return codes_from_bytes(seq.encode("ascii", errors="replace"))


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement codes along the last axis: (..., L) -> (..., L); N stays N."""
    return _COMPLEMENT_CODE[codes[..., ::-1]]


def onehot_from_codes(codes: np.ndarray) -> np.ndarray:
    """Codes (N, L) or (L,) -> one-hot (N, 4, L) or (4, L), uint8; code 4 gives a zero column."""
    out = np.empty(codes.shape[:-1] + (4, codes.shape[-1]), dtype=np.uint8)
    for channel in range(4):  # compare straight into the output: no full-size bool temporary
        np.equal(codes, channel, out=out[..., channel, :].view(bool))
    return out


def encode(seq: str) -> np.ndarray:
    """One-hot encode one sequence as a NumPy array.

    Lower case (soft-masked) bases count as upper case; N, the IUPAC ambiguity codes, gaps and
    every other character give an all-zero column. For a batch as a torch tensor, from strings or
    a FASTA file, use ``seqlrp.one_hot`` (``seqlrp.formats.encoder.one_hot``).

    Parameters
    ----------
    seq : str, length L
        The sequence; position ``t`` (0-based) becomes column ``t``.

    Returns
    -------
    numpy.ndarray, shape (4, L), dtype uint8
        Channels A, C, G, T.
    """
    return onehot_from_codes(codes_from_str(seq))


def decode(onehot: np.ndarray) -> str:
    """The sequence of a one-hot array, the inverse of ``encode`` up to case and N.

    Parameters
    ----------
    onehot : numpy.ndarray, shape (4, L)
        Channels A, C, G, T (any numeric dtype).

    Returns
    -------
    str, length L
        Upper-case bases; a column that is not exactly one-hot (all zero, or several channels
        set) decodes as N.

    Raises
    ------
    ValueError
        if ``onehot`` is not a (4, L) array.
    """
    onehot = np.asarray(onehot)
    if onehot.ndim != 2 or onehot.shape[0] != 4:
        raise ValueError(f"decode expects a (4, L) array, got shape {onehot.shape}")
    codes = np.where(onehot.sum(axis=0) == 1, onehot.argmax(axis=0), N_CODE).astype(np.uint8)
    return _BASE_OF_CODE[codes].tobytes().decode("ascii")


def reverse_complement_onehot(onehot: np.ndarray) -> np.ndarray:
    """Reverse complement one-hot (..., 4, L): with channels A,C,G,T it is a flip of both axes."""
    return onehot[..., ::-1, ::-1]
