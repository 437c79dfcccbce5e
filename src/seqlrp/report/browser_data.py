"""What the offline browser page shows: the regions chosen, and the run's data sliced to them.

Coordinates are 0-based, half-open throughout (igv.js's locus strings, 1-based, are made in
:mod:`seqlrp.report.browser_page`). Everything a page holds is cut to the *slices*: the chosen
regions merged per contig, so the page's size follows the number of regions, not the run's:

* reference: the genome's bases in each slice (``>chrom:from-to @len=N`` FASTA headers, which igv.js
  places at their coordinates), or for a FASTA-of-sequences run the data set's windows turned back
  to the forward strand of their contig;
* relevance per class and method: the bigWig's values at every base of the slices (genome
  orientation, as in the tracks), as bedGraph lines with the shortest text that reads back as the
  same float32;
* BED tracks (seqlets, motif instances, truth, variants): the lines overlapping a slice.

Contig names become igv.js names through :func:`igv_names` (igv.js splits a locus at ``:``).
"""

from __future__ import annotations

import bisect
from array import array
import csv
import gzip
import heapq
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..formats.onehot import decode, reverse_complement_onehot
from ..formats.trackline import is_header

# the characters igv.js keeps in a contig name it parses out of a locus or a slice header
_IGV_NAME = re.compile(r"^[A-Za-z0-9._+|=-]+$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+|=-]")


@dataclass(frozen=True)
class PageRegion:
    """One row of the page's region list.

    ``chrom``, ``start``, ``end``: the locus shown (0-based, half-open, the run's contig name);
    ``alt_contig``: for a variant, the page's contig of its alternative window (shown beside it).
    """

    kind: str
    name: str
    chrom: str
    start: int
    end: int
    cls: str
    score: float
    strand: str = "."
    note: str = ""
    alt_contig: str | None = None


@dataclass
class Slices:
    """Merged intervals per contig (0-based, half-open), with a test for overlap."""

    intervals: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    @classmethod
    def of(cls, regions: Iterable[tuple[str, int, int]], sizes: Mapping[str, int]) -> "Slices":
        by_chrom: dict[str, list[tuple[int, int]]] = {}
        for chrom, start, end in regions:
            start, end = max(0, start), min(sizes.get(chrom, end), end)
            if end > start:
                by_chrom.setdefault(chrom, []).append((start, end))
        merged = {}
        for chrom, spans in by_chrom.items():
            spans.sort()
            out = [list(spans[0])]
            for start, end in spans[1:]:
                if start <= out[-1][1]:
                    out[-1][1] = max(out[-1][1], end)
                else:
                    out.append([start, end])
            merged[chrom] = [(a, b) for a, b in out]
        return cls(merged)

    def overlaps(self, chrom: str, start: int, end: int) -> bool:
        spans = self.intervals.get(chrom)
        if not spans:
            return False
        i = bisect.bisect_right(spans, (end, end)) - 1  # last slice starting before `end`
        while i >= 0 and spans[i][0] >= end:
            i -= 1
        return i >= 0 and spans[i][1] > start

    def items(self) -> Iterator[tuple[str, int, int]]:
        for chrom, spans in self.intervals.items():
            for start, end in spans:
                yield chrom, start, end

    @property
    def n_bases(self) -> int:
        return sum(end - start for _, start, end in self.items())


def _alias_key(name: str) -> str:
    """The key under which igv.js takes two contig names for one: case-insensitive, with or without
    ``chr``, ``M`` and ``MT`` alike (igv.js's chromosome aliases)."""
    key = name.lower()
    key = key[3:] if key.startswith("chr") and len(key) > 3 else key
    return "mt" if key in ("m", "mt") else key


def igv_names(names: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """Contig name -> the name igv.js is given, one distinct contig each.

    A name igv.js can parse in a locus keeps itself; another has each character outside
    ``A-Z a-z 0-9 . _ + | = -`` replaced by ``_`` (``chr1:100-200`` -> ``chr1_100-200``). A name
    igv.js would take for one already given (the same but for case, ``chr`` or ``M``/``MT``; or one of
    ``reserved``) gets ``_2``, ``_3``, ... The names igv.js can parse are placed first, so a renamed
    one never takes a real contig's name.
    """
    names = list(dict.fromkeys(names))
    taken = {_alias_key(name) for name in reserved}
    mapping: dict[str, str] = {}
    for name in sorted(names, key=lambda n: not _IGV_NAME.match(n)):  # stable: parseable names first
        safe = name if _IGV_NAME.match(name) else (_UNSAFE.sub("_", name) or "_")
        candidate, n = safe, 1
        while _alias_key(candidate) in taken:
            n += 1
            candidate = f"{safe}_{n}"
        taken.add(_alias_key(candidate))
        mapping[name] = candidate
    return {name: mapping[name] for name in names}


def float32_text(values: np.ndarray) -> list[str]:
    """The shortest decimal text of each value that reads back as the same float32."""
    return [str(v) for v in np.asarray(values, dtype=np.float32)]


# ---- choosing regions -----------------------------------------------------------------------------


def read_windows(regions_tsv: str | os.PathLike) -> Iterator[dict]:
    """Rows of an attribution ``regions.tsv`` (chrom, start, end, strand, name, class, logit, ...)."""
    with open(regions_tsv, encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter="\t")


def _finite_or_lowest(text: str) -> float:
    """A logit as a number; NaN or unreadable ranks below every other."""
    try:
        value = float(text)
    except ValueError:
        return -math.inf
    return value if not math.isnan(value) else -math.inf


def top_logit_windows(regions_tsv: str | os.PathLike, cls: str, n: int) -> list[PageRegion]:
    """The ``n`` windows of highest logit of class ``cls`` (ties: the earlier row)."""
    scored = ((_finite_or_lowest(row["logit"]), -i, row) for i, row in enumerate(read_windows(regions_tsv)))
    best = heapq.nlargest(n, scored, key=lambda item: (item[0], item[1]))
    return [PageRegion("top logit", row["name"], row["chrom"], int(row["start"]), int(row["end"]), cls, logit,
                       row.get("strand", "."), f"label {row['class']}" if row.get("class") else "")
            for logit, _, row in best]


def bed_records(path: str | os.PathLike) -> Iterator[list[str]]:
    """The tab-separated fields of a BED file's feature lines (blank, ``#``, track and browser lines skipped)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not is_header(line):
                yield line.rstrip("\r\n").split("\t")


def seqlet_dense_windows(regions_tsv: str | os.PathLike, seqlet_beds: Sequence[str | os.PathLike],
                         n: int) -> list[PageRegion]:
    """The ``n`` windows holding the most seqlets (centres inside the window) over every class and
    method's seqlet BED; windows without any are left out."""
    centres: dict[str, array] = {}
    for path in seqlet_beds:
        for fields in bed_records(path):
            centres.setdefault(fields[0], array("q")).append((int(fields[1]) + int(fields[2])) // 2)
    sorted_centres = {chrom: np.sort(np.frombuffer(values, dtype=np.int64)) for chrom, values in centres.items()}
    best: list[tuple[int, int, dict]] = []
    for i, row in enumerate(read_windows(regions_tsv)):
        found = sorted_centres.get(row["chrom"])
        if found is None:
            continue
        count = int(np.searchsorted(found, int(row["end"])) - np.searchsorted(found, int(row["start"])))
        if count:
            item = (count, -i, row)
            if len(best) < n:
                heapq.heappush(best, item)
            elif item[:2] > best[0][:2]:
                heapq.heapreplace(best, item)
    best.sort(key=lambda item: item[:2], reverse=True)
    return [PageRegion("seqlets", row["name"], row["chrom"], int(row["start"]), int(row["end"]), "", float(count),
                       row.get("strand", "."), f"{count} seqlets") for count, _, row in best]


# ---- slicing the data -----------------------------------------------------------------------------


def genome_reference(fetch, slices: Slices) -> dict[tuple[str, int, int], str]:
    """The genome's bases (upper case) in each slice; ``fetch(chrom, start, end) -> str`` reads the
    genome (:meth:`seqlrp.formats.genome.Genome.fetch`)."""
    return {(chrom, start, end): fetch(chrom, start, end).upper() for chrom, start, end in slices.items()}


def dataset_reference(onehot: np.ndarray, windows: Sequence[tuple[str, int, int, str]],
                      slices: Slices) -> dict[tuple[str, int, int], str]:
    """The bases of each slice from data set windows ``(chrom, start, end, strand)`` with rows
    ``onehot`` (N, 4, L): a minus-strand window is turned back to its contig's forward strand; a
    base no window covers is N; where windows overlap, a called base wins over N."""
    reference = {}
    by_chrom: dict[str, list[int]] = {}
    for i, (chrom, _, _, _) in enumerate(windows):
        by_chrom.setdefault(chrom, []).append(i)
    for chrom, start, end in slices.items():
        bases = np.full(end - start, ord("N"), dtype=np.uint8)
        for i in by_chrom.get(chrom, []):
            _, w_start, w_end, strand = windows[i]
            lo, hi = max(start, w_start), min(end, w_end)
            if hi <= lo:
                continue
            rows = np.asarray(onehot[i])
            forward = reverse_complement_onehot(rows) if strand == "-" else rows
            text = np.frombuffer(decode(forward).encode("ascii"), dtype=np.uint8)
            part = text[lo - w_start:hi - w_start]
            target = bases[lo - start:hi - start]
            np.copyto(target, part, where=target == ord("N"))
        reference[(chrom, start, end)] = bases.tobytes().decode("ascii")
    return reference


def bigwig_values(bigwig: str | os.PathLike, slices: Slices) -> dict[tuple[str, int, int], np.ndarray]:
    """The bigWig's value at every base of each slice (float32; NaN where it has none)."""
    import pyBigWig

    handle = pyBigWig.open(str(bigwig))
    try:
        known = handle.chroms()
        values = {}
        for chrom, start, end in slices.items():
            end_in = min(end, known.get(chrom, 0))
            if end_in > start:
                found = np.asarray(handle.values(chrom, start, end_in, numpy=True), dtype=np.float32)
                values[(chrom, start, end)] = np.concatenate([found, np.full(end - end_in, np.nan, np.float32)])
            else:
                values[(chrom, start, end)] = np.full(end - start, np.nan, np.float32)
        return values
    finally:
        handle.close()


def bedgraph_text(pieces: Iterable[tuple[str, int, np.ndarray]]) -> str:
    """bedGraph lines, one per base with a value (NaN skipped), of ``(igv contig, start, values)`` pieces."""
    lines = []
    for chrom, start, values in pieces:
        values = np.asarray(values, dtype=np.float32)
        keep = np.flatnonzero(~np.isnan(values))
        for position, text in zip((keep + start).tolist(), float32_text(values[keep])):
            lines.append(f"{chrom}\t{position}\t{position + 1}\t{text}\n")
    return "".join(lines)


def sliced_bed(paths: Iterable[str | os.PathLike], slices: Slices, names: Mapping[str, str],
               columns: int = 9) -> str:
    """The BED lines of ``paths`` that overlap a slice, at most ``columns`` fields, the contig renamed
    through ``names``."""
    lines = []
    for path in paths:
        for fields in bed_records(path):
            if len(fields) < 3 or fields[0] not in names:
                continue
            if not slices.overlaps(fields[0], int(fields[1]), int(fields[2])):
                continue
            fields = fields[:columns]
            fields[0] = names[fields[0]]
            lines.append("\t".join(fields) + "\n")
    return "".join(lines)


def scale_of(arrays: Iterable[np.ndarray], quantile: float = 0.995) -> float:
    """One symmetric scale for a track: the ``quantile`` of |value| over every base shown (NaN
    ignored), rounded up to 2 significant digits; 1 when there is none. A few extreme bases then
    reach past the scale (igv.js marks them) instead of shrinking every other letter."""
    values = [np.abs(np.asarray(a, dtype=np.float64)).ravel() for a in arrays]
    values = np.concatenate(values) if values else np.empty(0)
    values = values[np.isfinite(values)]
    largest = float(np.quantile(values, quantile)) if values.size else 0.0
    if largest <= 0:
        largest = float(values.max()) if values.size else 0.0
    if largest <= 0:
        return 1.0
    digits = 1 - int(np.floor(np.log10(largest)))
    return float(np.ceil(largest * 10 ** digits) / 10 ** digits)
