"""The public one-hot encoder: DNA strings or FASTA records -> a tensor (N, 4, L), channels A, C, G, T.

:func:`one_hot` is ``seqlrp.one_hot``. It encodes as the pipeline does (:mod:`.onehot`: lower case
counts as upper case, N and every other character give an all-zero column) and, given ``length``,
centres each sequence in a window of ``length`` bases exactly as the pipeline's FASTA-records
extraction does (:func:`seqlrp.sequences.windows.dataset_from_records`). torch is imported when the
function runs, not with this module: the formats layer stays torch-free for the stages that only
read arrays.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..errors import SeqlrpError
from .genome import gather_windows
from .onehot import codes_from_str, onehot_from_codes
from .records import read_records

if TYPE_CHECKING:
    import torch

FASTA_SUFFIXES = tuple(f"{stem}{gz}" for stem in (".fa", ".fasta", ".fna", ".fas") for gz in ("", ".gz", ".bgz"))
"""File name endings (case-insensitive) that make a ``str`` a FASTA path even before it exists."""

Sequences = Union[str, "os.PathLike[str]", Mapping[str, str], Iterable[str], Iterable[tuple[str, str]]]


class SequenceInputError(SeqlrpError, ValueError):
    """Sequences that :func:`one_hot` cannot encode as asked (one line)."""


def _is_path(value: Any) -> bool:
    if isinstance(value, os.PathLike):
        return True
    if isinstance(value, str):
        return value.lower().endswith(FASTA_SUFFIXES) or os.path.isfile(value)
    return False


def _entries(sequences: Any) -> list[tuple[str, str, int, int, str]]:
    """``(name, sequence, start, end, strand)`` per sequence, where ``start``/``end``/``strand`` are
    what the pipeline centres on: a FASTA record's header coordinates, else ``0``, the length, ``+``."""
    if _is_path(sequences):
        return [(r.name, r.sequence, r.start, r.end, r.strand) for r in read_records(sequences)]
    if isinstance(sequences, str):
        return [("sequence 0", sequences, 0, len(sequences), "+")]
    if isinstance(sequences, (bytes, bytearray)):
        raise TypeError("one_hot takes str sequences, not bytes: decode them first (seq.decode('ascii'))")
    if isinstance(sequences, Mapping):
        items: Iterable = sequences.items()
        pairs = True
    elif isinstance(sequences, Iterable):
        items, pairs = sequences, False
    else:
        raise TypeError(f"one_hot takes a str, a mapping name -> str, (name, str) pairs, an iterable of str or a FASTA "
                        f"path, not {type(sequences).__name__}")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str) and not pairs:
            name, seq = f"sequence {i}", item
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            name, seq = str(item[0]), item[1]
        else:
            raise TypeError(f"one_hot: item {i} is a {type(item).__name__}; give str sequences or (name, str) pairs")
        if not isinstance(seq, str):
            raise TypeError(f"one_hot: sequence {name!r} is a {type(seq).__name__}, not a str")
        out.append((name, seq, 0, len(seq), "+"))
    return out


def _lengths_message(entries: list[tuple[str, str, int, int, str]]) -> str:
    first: dict[int, str] = {}
    count: dict[int, int] = {}
    for name, seq, *_ in entries:
        first.setdefault(len(seq), name)
        count[len(seq)] = count.get(len(seq), 0) + 1
    shown = [f"{n} bp ({count[n]}, e.g. {first[n]!r})" for n in list(first)[:5]]
    more = f", ... ({len(first)} lengths in all)" if len(first) > 5 else ""
    return (f"sequences differ in length: {', '.join(shown)}{more}; pass length=L to centre each in L bases "
            "(N-padded or centre-cropped)")


def one_hot(sequences: Sequences, *, length: int | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """One-hot encode DNA sequences as seqlrp's models and ``relevance`` take them.

    Every position becomes a column of 4 channels, A, C, G, T in that order. Lower case
    (soft-masked) bases count as upper case; N and every other character (IUPAC ambiguity codes,
    gaps) give an all-zero column, the pipeline's convention for unknown bases.

    Parameters
    ----------
    sequences : str, os.PathLike, mapping or iterable
        One sequence (``str``); an iterable of ``str``; a mapping name -> ``str``; ``(name, str)``
        pairs; or the path of a FASTA file of records (plain or gzip), read by the pipeline's
        records reader. A ``str`` or ``os.PathLike`` is a path when it names an existing file or
        ends in ``.fa``, ``.fasta``, ``.fna`` or ``.fas`` (optionally ``.gz``/``.bgz``). Order is
        kept: row ``i`` is the ``i``-th sequence or record.
    length : int, optional
        Window length L. Without it every sequence must have the same length. With it, each
        sequence is centred in L bases exactly as the pipeline's FASTA-records extraction centres
        a record: the window is ``[c - L // 2, c - L // 2 + L)`` with ``c = (start + end) // 2``
        (0-based, half-open, in the sequence's coordinates: ``start = 0``, ``end`` its length,
        or a record header's genome interval), positions outside the sequence padded with N (zero
        columns) and longer sequences centre-cropped. A record on the ``-`` strand (header
        ``chr1:100-300(-)``) is centred on its genome interval, so the window is mirrored in the
        stored sequence, as in the pipeline.
    dtype : torch.dtype, optional
        dtype of the result; None gives ``torch.float32``.

    Returns
    -------
    torch.Tensor, shape (N, 4, L)
        The one-hot sequences, channels A, C, G, T; N is the number of sequences.

    Raises
    ------
    SequenceInputError
        (a ``ValueError``) for sequences of different lengths without ``length`` (the message
        names the lengths), a ``length`` that is not a positive integer, or no sequences.
    seqlrp.errors.InputError
        for a FASTA file that is missing or malformed (``path:line: problem``).
    TypeError
        for input of another kind (bytes, numbers, ...).

    Examples
    --------
    >>> x = one_hot(["ACGT" * 50, "GATTACA" * 28 + "ACGT"])   # (2, 4, 200)
    >>> x = one_hot({"peak1": "acgtN", "peak2": "ACGTA"})       # (2, 4, 5), N -> zero column
    >>> x = one_hot("peaks.fa.gz", length=1000)                # every record centred in 1 kb
    """
    import torch

    if length is not None and (isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1):
        raise SequenceInputError(f"length must be a positive integer, got {length!r}")
    entries = _entries(sequences)
    if length is None:
        if not entries:
            raise SequenceInputError("no sequences to encode (give length= for an empty (0, 4, L) tensor)")
        if len({len(seq) for _, seq, *_ in entries}) > 1:
            raise SequenceInputError(_lengths_message(entries))
        width = len(entries[0][1])
        codes = np.empty((len(entries), width), dtype=np.uint8)
        for row, (_, seq, *_) in zip(codes, entries, strict=True):
            row[:] = codes_from_str(seq)
    else:
        width = int(length)
        codes = np.empty((len(entries), width), dtype=np.uint8)
        for row, (_, seq, start, end, strand) in zip(codes, entries, strict=True):
            window_start = (start + end) // 2 - width // 2  # seqlrp.sequences.windows.ExtractOptions.window_start
            # offset of the window's first base in the sequence, which reads 5'->3' on its strand
            offset = window_start - start if strand != "-" else end - (window_start + width)
            row[:] = gather_windows(codes_from_str(seq), np.array([offset]), width)[0]
    return torch.from_numpy(onehot_from_codes(codes)).to(torch.float32 if dtype is None else dtype)
