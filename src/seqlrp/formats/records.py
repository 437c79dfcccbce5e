"""FASTA-of-sequences input: each record is one region, its header may carry genome coordinates.

Records are read by a small line-counting parser (plain or gzip), so that every error can name
the line of the record's header. Headers in the styles
of ``bedtools getfasta`` give genome coordinates (0-based start, half-open end):

* ``chr1:100-300`` (``+`` implied), ``chr1:100-300(-)`` (``-s``), ``chr1:100-300:-``,
* ``name::chr1:100-300(-)`` (``-name``), and any of these followed by a description.

A record whose sequence length differs from ``end - start`` is refused (a 1-based UCSC-style
header is the usual cause). Records without coordinates become contigs of their own, named by
the first word of the header, with coordinates relative to the record.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .textfiles import open_text

_COORDINATE_HEADER = re.compile(
    r"^(?:(?P<label>.+?)::)?(?P<chrom>[^\s:]+):(?P<start>\d+)-(?P<end>\d+)"
    r"(?:\((?P<paren_strand>[+.-])\)|:(?P<colon_strand>[+.-]))?$"
)


@dataclass(frozen=True)
class SequenceRecord:
    """One FASTA record as a region.

    ``chrom``/``start``/``end``/``strand`` are genome coordinates when the header carried them
    (``has_coordinates``); otherwise ``chrom`` is the record's own name, ``start`` 0 and ``end``
    its length. ``sequence`` reads 5'→3' on ``strand`` (for ``-`` it is the reverse complement
    of the genome interval), exactly as stored in the file.
    """

    chrom: str
    start: int
    end: int
    strand: str
    name: str
    sequence: str
    has_coordinates: bool
    path: str
    line: int


def parse_header(header: str) -> tuple[str, int, int, str, str] | None:
    """``(chrom, start, end, strand, label)`` from a coordinate header, or None if it has none."""
    token = header.split(None, 1)[0] if header.strip() else ""
    match = _COORDINATE_HEADER.match(token)
    if match is None:
        return None
    strand = match["paren_strand"] or match["colon_strand"] or "+"
    if strand == ".":
        strand = "+"
    label = match["label"] or token
    return match["chrom"], int(match["start"]), int(match["end"]), strand, label



def _iter_fasta(handle, path: Path):
    """Yield ``(header_line_no, header, sequence)``; sequence lines are joined, whitespace dropped."""
    header, header_line, chunks = None, 0, []
    for line_no, raw in enumerate(handle, start=1):
        line = raw.rstrip("\r\n")
        if line.startswith(">"):
            if header is not None:
                yield header_line, header, "".join(chunks)
            header, header_line, chunks = line[1:].strip(), line_no, []
        elif line.strip():
            if header is None:
                raise InputError(path, "not a FASTA file: sequence before the first '>' header", line_no)
            chunks.append("".join(line.split()))
    if header is not None:
        yield header_line, header, "".join(chunks)


def read_records(path: str | os.PathLike) -> list[SequenceRecord]:
    """Read every record of a FASTA file of sequences (see module docstring for header styles)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "sequence FASTA not found")
    records: list[SequenceRecord] = []
    own_contigs: dict[str, int] = {}
    with open_text(path, encoding="ascii") as handle:
        for record_line, header, sequence in _iter_fasta(handle, path):
            token = header.split(None, 1)[0] if header else ""
            if not sequence:
                raise InputError(path, f"record {token or '(no name)'!r} has no sequence", record_line)
            parsed = parse_header(header)
            if parsed is not None:
                chrom, start, end, strand, label = parsed
                if start >= end:
                    raise InputError(path, f"header {token!r}: start ({start}) must be smaller than end ({end})", record_line)
                if end - start != len(sequence):
                    hint = (
                        " (a 1-based, UCSC-style header? seqlrp expects bedtools' 0-based starts)"
                        if end - start + 1 == len(sequence)
                        else ""
                    )
                    raise InputError(
                        path, f"header {token!r} spans {end - start} bp but the sequence has {len(sequence)} bp{hint}", record_line
                    )
                records.append(SequenceRecord(chrom, start, end, strand, label, sequence, True, str(path), record_line))
            else:
                name = token or f"record{len(records) + 1}"
                if name in own_contigs:
                    raise InputError(
                        path,
                        f"record name {name!r} repeats the record of line {own_contigs[name]}; "
                        "records without coordinates become contigs and need unique names",
                        record_line,
                    )
                own_contigs[name] = record_line
                records.append(SequenceRecord(name, 0, len(sequence), "+", name, sequence, False, str(path), record_line))
    if not records:
        raise InputError(path, "no sequences: the file is empty")
    return records
