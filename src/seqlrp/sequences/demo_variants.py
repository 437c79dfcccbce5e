"""Variants for the synthetic demo genome, with a truth table of what each one should do.

:func:`make_demo_variants` reads the demo's genome and ground truth (``genome.fa.gz``, ``truth.bed``,
``motifs.tsv`` and the ``positive.narrowPeak`` / ``negative.bed`` windows beside ``truth.bed``,
written by ``seqlrp.stages.demo_data``) and writes a bgzip VCF with its tabix index and a truth TSV.
Deterministic by seed (``numpy.random.default_rng``). Record kinds (the truth table's ``label``):

* ``break`` — an SNV at the most informative position of a planted *target* motif instance (the
  column of highest information content, ``2 + sum_b p_b log2 p_b``, of the JASPAR matrix; the first
  one on ties), mapped through the instance's strand to the genome: motif column ``j`` of an
  instance ``[start, end)`` is genome base ``start + j`` on ``+`` and ``end - 1 - j`` on ``-``. ALT is
  the least probable base of that column (complemented on ``-``). Instances whose planted base
  already is that base are passed over. ``class`` = the motif's class (``positive``), ``motif`` = the
  JASPAR matrix ID.
* ``create`` — an MNP writing a target motif's consensus (argmax of every column, ``+`` strand) over
  the genome's ``w`` bases (``w`` = motif width) in plain background. The first and last ALT bases
  differ from REF's, so the record is already in its normalised form (nothing to trim).
* ``control`` — an SNV in plain background to a random other base; ``class`` and ``motif`` empty.
* ``odd`` — valid records that exercise a reader's edge cases: a multi-allelic SNV (two ALTs, one
  truth row per ALT), lowercase alleles, ID ``.``, a named ID, a symbolic ``<DEL>`` ALT (with
  ``SVTYPE``/``END``/``SVLEN``; readers that score sequences skip it), a 1-bp deletion and a 2-bp
  insertion inside target motif instances (VCF anchor-base convention, left-normalised: the
  deleted base differs from its anchor, the last inserted base differs from the anchor), and an
  SNV within ``seq_len // 2`` of each end of the sequence proper (the first and last bases that are
  not N), so its window runs into the N gap, or off the chromosome when the gap is shorter.

*Plain background*: every REF base is at least ``seq_len`` bases away from every planted instance
(``truth.bed``), every positive/negative region, every ``seq_len`` window centred on a region's
summit or midpoint, and every N base; REF holds no N. No two records overlap or touch (their REF
spans are kept at least one base apart). Every REF equals the genome (case-insensitive; REF is
written upper case except in the lowercase record).

Coordinates: VCF POS and the truth table's ``pos`` are 1-based (the first REF base); BED inputs are
0-based, half-open. Records are sorted by the genome's contig order, then POS. Record IDs are
``demo_<label>_<k>`` (``k`` 1-based per label, in file order; odd records ``demo_odd_<what>``), except the two odd
records with ID ``.`` and a named ID (:data:`NAMED_ID`).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from ..errors import SeqlrpError
from ..formats.atomic import atomic_write_text
from ..formats.genome import Genome
from ..formats.regions import read_regions
from .planted import PlantedMotif, load_jaspar_motifs

TRUTH_COLUMNS = ("chrom", "pos", "ref", "alt", "label", "class", "motif")
"""Columns of the truth table (a header line, then one row per record × ALT)."""

LABELS = ("break", "create", "control", "odd")
NAMED_ID = "named_variant_1"
"""The ID of the odd record that carries a name of its own."""

_BASES = "ACGT"
_SPACING = 1  # bases kept free between two records' REF spans


@dataclass
class _Record:
    chrom: str
    pos: int  # 1-based
    id: str
    ref: str
    alts: list[str]
    label: str
    cls: str = ""
    motif: str = ""
    info_extra: str = ""


def information_content(probabilities: np.ndarray) -> np.ndarray:
    """Information content (w,) in bits of every column of a (4, w) probability matrix (uniform background)."""
    p = np.asarray(probabilities, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p), 0.0)
    return 2.0 + terms.sum(axis=0)


def consensus(motif: PlantedMotif) -> str:
    """The motif's consensus: the most probable base of every column, ``+`` strand."""
    return "".join(_BASES[i] for i in np.argmax(motif.probabilities, axis=0))


def motif_column_position(start: int, end: int, strand: str, column: int) -> int:
    """0-based genome position of motif column ``column`` in the instance ``[start, end)`` on ``strand``."""
    return start + column if strand != "-" else end - 1 - column


def _complement(base: str) -> str:
    return _BASES[3 - _BASES.index(base)]


def _read_motifs_tsv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


class _Layout:
    """Chromosome sequences, the spans taken by records, and the plain-background starts."""

    def __init__(self, genome: Genome, excluded: dict[str, list[tuple[int, int]]], seq_len: int):
        self.names = list(genome.lengths)
        self.lengths = dict(genome.lengths)
        self.seqs = {name: genome.fetch(name, 0, length).upper() for name, length in genome.lengths.items()}
        self.seq_len = seq_len
        self.taken: dict[str, list[tuple[int, int]]] = {name: [] for name in self.names}
        self.forbidden: dict[str, np.ndarray] = {}
        self._starts: dict[int, list[tuple[str, np.ndarray]]] = {}
        for name in self.names:
            length = self.lengths[name]
            codes = np.frombuffer(self.seqs[name].encode("ascii"), dtype=np.uint8)
            # +1 at the first base of every forbidden span (expanded by seq_len), -1 past its end
            edges = np.zeros(length + 1, dtype=np.int64)
            spans = list(excluded.get(name, ()))
            n_pos = np.flatnonzero(~np.isin(codes, np.frombuffer(b"ACGT", dtype=np.uint8)))
            if n_pos.size:  # runs of N
                breaks = np.flatnonzero(np.diff(n_pos) != 1)
                run_starts = np.concatenate([[n_pos[0]], n_pos[breaks + 1]])
                run_ends = np.concatenate([n_pos[breaks], [n_pos[-1]]]) + 1
                spans += list(zip(run_starts.tolist(), run_ends.tolist()))
            for lo, hi in spans:
                lo, hi = max(0, lo - seq_len), min(length, hi + seq_len)
                if hi > lo:
                    edges[lo] += 1
                    edges[hi] -= 1
            self.forbidden[name] = np.cumsum(edges[:-1]) > 0

    def background_starts(self, width: int) -> list[tuple[str, np.ndarray]]:
        """Per chromosome, the 0-based starts whose ``width`` bases are all plain background."""
        if width in self._starts:
            return self._starts[width]
        out = []
        for name in self.names:
            bad = np.concatenate([[0], np.cumsum(self.forbidden[name], dtype=np.int64)])
            starts = np.arange(self.lengths[name] - width + 1)
            if starts.size:
                starts = starts[bad[starts + width] - bad[starts] == 0]
            out.append((name, starts))
        self._starts[width] = out
        return out

    def free(self, chrom: str, lo: int, hi: int) -> bool:
        """True when ``[lo, hi)`` keeps :data:`_SPACING` bases from every span taken."""
        return all(hi + _SPACING <= a or b + _SPACING <= lo for a, b in self.taken[chrom])

    def take(self, chrom: str, lo: int, hi: int) -> None:
        self.taken[chrom].append((lo, hi))

    def sample_background(self, width: int, rng: np.random.Generator, accept=lambda chrom, lo: True,
                          tries: int = 10_000) -> tuple[str, int]:
        """A free plain-background start ``(chrom, lo)`` (0-based) of ``width`` bases that ``accept`` takes."""
        candidates = [(name, starts) for name, starts in self.background_starts(width) if starts.size]
        sizes = np.array([starts.size for _, starts in candidates], dtype=np.int64)
        if not sizes.size:
            raise SeqlrpError(f"demo variants: no plain background of {width} bp at least {self.seq_len} bp from every "
                              "planted motif, window and N base (lengthen the demo chromosomes or lower n_per_class)")
        bounds = np.cumsum(sizes)
        for _ in range(tries):
            pick = int(rng.integers(bounds[-1]))
            which = int(np.searchsorted(bounds, pick, side="right"))
            name, starts = candidates[which]
            lo = int(starts[pick - (bounds[which - 1] if which else 0)])
            if self.free(name, lo, lo + width) and accept(name, lo):
                self.take(name, lo, lo + width)
                return name, lo
        raise SeqlrpError(f"demo variants: found no free plain-background site of {width} bp in {tries} tries "
                          "(too many variants for the background left; lengthen the demo chromosomes)")


def make_demo_variants(
    genome_path: str | os.PathLike,
    truth_bed: str | os.PathLike,
    motifs_tsv: str | os.PathLike,
    seq_len: int,
    seed: int,
    vcf_out: str | os.PathLike,
    truth_out: str | os.PathLike,
    n_break: int = 40,
    n_create: int = 20,
    n_control: int = 40,
    *,
    windows: Sequence[str | os.PathLike] | None = None,
) -> dict:
    """Write the demo VCF (bgzip + ``.tbi``) and its truth table; return the counts.

    Parameters
    ----------
    genome_path : str or PathLike
        The demo genome (bgzip FASTA with ``.fai``/``.gzi``).
    truth_bed : str or PathLike
        BED6 of the planted instances (0-based, half-open; name = JASPAR matrix ID, strand).
    motifs_tsv : str or PathLike
        ``matrix_id, name, role, class, width``; rows with role ``target`` are the motifs broken
        and created.
    seq_len : int
        The model's window length: background sites keep this distance from motifs, windows and N.
    seed : int
        Seeds ``numpy.random.default_rng``; the same inputs and seed give identical files.
    vcf_out : str or PathLike
        The bgzip-compressed VCF (``.vcf.gz``); the tabix index goes to ``vcf_out + ".tbi"``.
    truth_out : str or PathLike
        The truth TSV, columns :data:`TRUTH_COLUMNS`: ``pos`` 1-based (VCF POS), ``ref``/``alt``
        upper case (``<DEL>`` for the symbolic record), one row per ALT.
    n_break, n_create, n_control : int
        How many records of each kind. Breaks are limited by the target instances available
        (two of them are kept for the odd indels when there are more than two).
    windows : sequence of str or PathLike, optional
        BED/narrowPeak files of the class windows to keep background sites away from; by default
        ``positive.narrowPeak`` and ``negative.bed`` beside ``truth_bed`` (those that exist).

    Returns
    -------
    dict
        ``break``, ``create``, ``control``, ``odd`` (records of each label), ``records`` (VCF
        records), ``rows`` (truth rows, one per ALT), ``symbolic`` (symbolic ALT alleles).
    """
    if seq_len <= 0:
        raise ValueError(f"seq_len must be positive, got {seq_len}")
    truth_bed, vcf_out, truth_out = Path(truth_bed), Path(vcf_out), Path(truth_out)
    rng = np.random.default_rng(seed)
    motif_rows = _read_motifs_tsv(Path(motifs_tsv))
    target_rows = [row for row in motif_rows if row.get("role") == "target"]
    if not target_rows:
        raise SeqlrpError(f"{motifs_tsv}: no motif with role 'target'")
    targets = {m.matrix_id: m for m in load_jaspar_motifs([row["matrix_id"] for row in target_rows])}
    target_class = {row["matrix_id"]: row.get("class", "") for row in target_rows}

    sites = read_regions(truth_bed)
    if windows is None:
        windows = [p for p in (truth_bed.parent / "positive.narrowPeak", truth_bed.parent / "negative.bed") if p.exists()]
    excluded: dict[str, list[tuple[int, int]]] = {}
    for site in sites:
        excluded.setdefault(site.chrom, []).append((site.start, site.end))
    for path in windows:
        for region in read_regions(path):
            centre = region.centre()
            excluded.setdefault(region.chrom, []).append((region.start, region.end))
            excluded[region.chrom].append((centre - seq_len // 2, centre - seq_len // 2 + seq_len))

    records: list[_Record] = []
    with Genome(genome_path) as genome:
        layout = _Layout(genome, excluded, seq_len)
    seqs = layout.seqs

    # --- target instances: two for the odd indels, the rest for breaks
    instances = [s for s in sites if s.name in targets and s.chrom in seqs]
    order = rng.permutation(len(instances)).tolist()
    instances = [instances[i] for i in order]
    indel_instances = instances[:2] if len(instances) > 2 else []
    break_instances = instances[len(indel_instances):]

    for site in break_instances:
        if sum(r.label == "break" for r in records) >= n_break:
            break
        motif = targets[site.name]
        column = int(np.argmax(information_content(motif.probabilities)))
        position = motif_column_position(site.start, site.end, site.strand, column)
        alt = _BASES[int(np.argmin(motif.probabilities[:, column]))]
        if site.strand == "-":
            alt = _complement(alt)
        ref = seqs[site.chrom][position]
        if ref == alt or ref not in _BASES or not layout.free(site.chrom, position, position + 1):
            continue
        layout.take(site.chrom, position, position + 1)
        records.append(_Record(site.chrom, position + 1, "", ref, [alt], "break",
                               target_class[site.name], site.name))

    # --- creates: a target consensus over plain background
    target_ids = list(targets)
    for k in range(1, n_create + 1):
        matrix_id = target_ids[(k - 1) % len(target_ids)]
        alt = consensus(targets[matrix_id])
        width = len(alt)

        def differs_at_ends(chrom: str, lo: int, alt: str = alt, width: int = width) -> bool:
            ref = seqs[chrom][lo : lo + width]
            return ref[0] != alt[0] and ref[-1] != alt[-1]

        chrom, lo = layout.sample_background(width, rng, differs_at_ends)
        records.append(_Record(chrom, lo + 1, "", seqs[chrom][lo : lo + width], [alt], "create",
                               target_class[matrix_id], matrix_id))

    # --- controls: a random other base in plain background
    for _ in range(n_control):
        chrom, lo = layout.sample_background(1, rng)
        ref = seqs[chrom][lo]
        alt = _other_bases(ref, rng, 1)[0]
        records.append(_Record(chrom, lo + 1, "", ref, [alt], "control"))

    records += _odd_records(layout, rng, indel_instances, targets, target_class)

    index = {name: i for i, name in enumerate(layout.names)}
    records.sort(key=lambda r: (index[r.chrom], r.pos))
    numbers = dict.fromkeys(("break", "create", "control"), 0)
    for record in records:  # IDs numbered in file order
        if record.label in numbers:
            numbers[record.label] += 1
            record.id = f"demo_{record.label}_{numbers[record.label]}"
    _write_vcf(vcf_out, records, layout, genome_path)
    rows = 0
    with atomic_write_text(truth_out) as handle:
        handle.write("\t".join(TRUTH_COLUMNS) + "\n")
        for record in records:
            for alt in record.alts:
                rows += 1
                handle.write("\t".join([record.chrom, str(record.pos), record.ref.upper(), alt.upper(),
                                        record.label, record.cls, record.motif]) + "\n")
    counts = {label: sum(r.label == label for r in records) for label in LABELS}
    counts.update(records=len(records), rows=rows,
                  symbolic=sum(alt.startswith("<") for r in records for alt in r.alts))
    return counts


def _other_bases(ref: str, rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct bases other than ``ref``, in random order."""
    others = [b for b in _BASES if b != ref.upper()]
    return [others[i] for i in rng.permutation(len(others))[:n].tolist()]


def _odd_records(layout: _Layout, rng: np.random.Generator, indel_instances, targets, target_class) -> list[_Record]:
    seqs = layout.seqs
    odd: list[_Record] = []

    def snv(what: str, record_id: str | None = None) -> _Record:
        chrom, lo = layout.sample_background(1, rng)
        ref = seqs[chrom][lo]
        return _Record(chrom, lo + 1, record_id or f"demo_odd_{what}", ref, _other_bases(ref, rng, 1), "odd")

    multi = snv("multiallelic")
    multi.alts = _other_bases(multi.ref, rng, 2)
    odd.append(multi)
    lower = snv("lowercase")
    lower.ref, lower.alts = lower.ref.lower(), [a.lower() for a in lower.alts]
    odd.append(lower)
    odd.append(snv("no_id", "."))
    odd.append(snv("named", NAMED_ID))
    symbolic = snv("symbolic_del")
    end = min(layout.lengths[symbolic.chrom], symbolic.pos + 50)
    symbolic.alts = ["<DEL>"]
    symbolic.info_extra = f";SVTYPE=DEL;END={end};SVLEN={symbolic.pos - end}"
    odd.append(symbolic)

    # a 1-bp deletion and a 2-bp insertion inside target instances, in left-normalised form
    for site, kind in zip(indel_instances, ("deletion", "insertion")):
        motif = targets[site.name]
        ic_order = np.argsort(-information_content(motif.probabilities), kind="stable").tolist()
        seq = seqs[site.chrom]
        for column in ic_order:
            position = motif_column_position(site.start, site.end, site.strand, column)
            if kind == "deletion":  # delete `position`, anchored on the base before it
                lo, hi = position - 1, position + 1
                if lo < site.start or seq[lo] == seq[position] or not layout.free(site.chrom, lo, hi):
                    continue
                ref, alt = seq[lo:hi], seq[lo]
            else:  # insert two bases after `position`, inside the instance
                lo, hi = position, position + 1
                if position + 1 >= site.end or not layout.free(site.chrom, lo, hi):
                    continue
                anchor = seq[position]
                inserted = "".join(_BASES[i] for i in rng.integers(4, size=2).tolist())
                if inserted[-1] == anchor:
                    inserted = inserted[0] + _other_bases(anchor, rng, 1)[0]
                ref, alt = anchor, anchor + inserted
            layout.take(site.chrom, lo, hi)
            odd.append(_Record(site.chrom, lo + 1, f"demo_odd_{kind}", ref, [alt], "odd", target_class[site.name],
                               site.name))
            break

    # SNVs within seq_len // 2 of both ends of the sequence proper (first and last non-N base)
    reach = max(1, layout.seq_len // 2)
    for chrom, side in ((layout.names[0], "start"), (layout.names[-1], "end")):
        acgt = np.flatnonzero(np.isin(np.frombuffer(seqs[chrom].encode("ascii"), dtype=np.uint8),
                                      np.frombuffer(b"ACGT", dtype=np.uint8)))
        if not acgt.size:
            continue
        first, last = int(acgt[0]), int(acgt[-1])
        candidates = range(first, min(first + reach, last + 1)) if side == "start" else \
            range(last, max(last - reach, first - 1), -1)
        offsets = list(candidates)
        for i in rng.permutation(len(offsets)).tolist():
            lo = offsets[i]
            if seqs[chrom][lo] in _BASES and layout.free(chrom, lo, lo + 1):
                layout.take(chrom, lo, lo + 1)
                ref = seqs[chrom][lo]
                odd.append(_Record(chrom, lo + 1, f"demo_odd_near_{side}", ref, _other_bases(ref, rng, 1), "odd"))
                break
    return odd


def _write_vcf(path: Path, records: Sequence[_Record], layout: _Layout, genome_path) -> None:
    """bgzip VCF and its tabix index; both are renamed into place last (index first)."""
    header = [
        "##fileformat=VCFv4.2",
        "##source=seqlrp.sequences.demo_variants",
        f"##reference={Path(genome_path).name}",
        *(f"##contig=<ID={name},length={layout.lengths[name]}>" for name in layout.names),
        ('##INFO=<ID=LABEL,Number=1,Type=String,Description="What the variant does in the demo: break (an SNV at '
         'the most informative base of a planted target motif), create (a target motif consensus written over '
         'background), control (a background SNV) or odd (an edge case for readers)">'),
        '##INFO=<ID=MOTIF,Number=1,Type=String,Description="JASPAR matrix ID of the motif broken or created">',
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">',
        ('##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the structural variant (1-based, '
         'inclusive)">'),
        '##INFO=<ID=SVLEN,Number=.,Type=Integer,Description="Difference in length between REF and ALT alleles">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    lines = []
    for r in records:
        info = f"LABEL={r.label}" + (f";MOTIF={r.motif}" if r.motif else "") + r.info_extra
        lines.append("\t".join([r.chrom, str(r.pos), r.id, r.ref, ",".join(r.alts), ".", "PASS", info]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".demo_variants.") as scratch:
        plain, compressed = Path(scratch) / "variants.vcf", Path(scratch) / "variants.vcf.gz"
        plain.write_text("\n".join(header + lines) + "\n", encoding="ascii")
        pysam.tabix_compress(str(plain), str(compressed), force=True)
        pysam.tabix_index(str(compressed), preset="vcf", force=True)
        os.replace(f"{compressed}.tbi", f"{path}.tbi")
        os.replace(compressed, path)
