"""Stage ``igv_session``: one IGV desktop session file that opens a run's tracks at once.

``results/igv_session.xml`` (IGV: File > Open Session) holds the genome, then the run's truth BED
when it has one (the demo's ``demo/truth.bed``, or config ``evaluate.truth``), then per class and
method the relevance bigWig, the seqlets BED and the motif instances BED
(``motifs/{class}.{method}/instances.bed``), in one panel, at one locus:

* every bigWig track has ``autoScale="true"``: IGV desktop otherwise gives a bigWig a fixed data
  range from 0, which hides negative relevance;
* every track has a name that carries class and method (``positive lrp relevance``,
  ``positive lrp seqlets``, ``positive lrp motif instances``: the BEDs' own track line names),
  unique in the session; the truth track is ``known sites (truth.bed)`` (its file's name);
* colours: the seqlets and instances BEDs carry their own (``itemRgb``: red positive, blue
  negative), so their tracks set none and IGV draws each feature in its colour; the truth BED gets
  one colour, :data:`TRUTH_COLOR`, unless its lines carry colours of their own;
* paths inside the session file's folder (``results/``) are written relative to it (IGV resolves
  relative paths against the session file's folder, so the folder can move as a whole); paths
  outside it (the user's genome FASTA) are written absolute;
* genome: the run's FASTA (the demo's ``demo/genome.fa.gz``, or config ``genome`` for region and
  tiled runs), which the extract stage has indexed (``.fai``, and ``.gzi`` when bgzip-compressed,
  beside it; IGV needs both). A FASTA-of-sequences run (config ``sequences``) has no genome: the
  session then loads ``igv_session.chrom.sizes`` (written beside it from ``chrom_sizes.tsv``), which
  IGV takes as a genome of named, empty sequences — the tracks show, the bases do not;
* locus: the window of highest logit of the first class (IGV's 1-based ``chrom:start-end``, from
  the 0-based, half-open window), or the first chromosome when that class has no windows.

The session file's format: :mod:`seqlrp.formats.igv`.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence

from ..analysis.tracks import chrom_sizes_from_tsv
from ..formats.igv import SessionTrack, has_item_colours, write_chrom_sizes, write_session

log = logging.getLogger(__name__)

# the truth track's colour when its BED has none of its own (the demo's is BED6): dark green, apart
# from the red and blue of the seqlets and motif instances
TRUTH_COLOR = "0,150,0"


def top_locus(regions_tsv: str | os.PathLike, chrom_sizes: Mapping[str, int]) -> str:
    """IGV locus ``chrom:start+1-end`` of the highest-logit window of an attribution ``regions.tsv``
    (0-based, half-open columns ``chrom start end``, column ``logit``); the first chromosome of
    ``chrom_sizes`` when the table has no rows, ``All`` when there is none either."""
    best = None
    with open(regions_tsv, encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle, delimiter="\t"):
            if best is None or float(record["logit"]) > float(best["logit"]):
                best = record
    if best is not None:
        return f"{best['chrom']}:{int(best['start']) + 1}-{best['end']}"
    return next(iter(chrom_sizes), "All")


def truth_track(truth: str | os.PathLike) -> SessionTrack:
    """The session track of a truth BED: named after its file, coloured :data:`TRUTH_COLOR` unless
    its lines carry ``itemRgb`` colours of their own."""
    color = None if has_item_colours(truth) else TRUTH_COLOR
    return SessionTrack(str(truth), f"known sites ({os.path.basename(truth)})", data=False, color=color)


def run(session: str | os.PathLike, genome: str | None, pairs: Sequence[Sequence[str]], bigwigs: Sequence[str],
        seqlets: Sequence[str], regions_tsv: str | os.PathLike, chrom_sizes_tsv: str | os.PathLike,
        chrom_sizes_out: str | os.PathLike | None = None, *, instances: Sequence[str] | None = None,
        truth: str | os.PathLike | None = None, variants: str | os.PathLike | None = None) -> int:
    """Write the session for ``pairs`` ``(class, method)`` with their ``bigwigs``, ``seqlets`` BEDs
    and motif ``instances`` BEDs (same order; None: no instances tracks), after the ``truth`` BED
    (None: the run has none) and before the scored ``variants`` BED (None: no variants); ``genome``
    None (FASTA-of-sequences input) writes ``chrom_sizes_out`` and opens it as the genome. Returns
    the number of tracks."""
    if instances is None:
        instances = [None] * len(pairs)
    if not len(pairs) == len(bigwigs) == len(seqlets) == len(instances):
        raise ValueError(f"{len(pairs)} class/method pairs, {len(bigwigs)} bigWigs, {len(seqlets)} seqlet BEDs, "
                         f"{len(instances)} motif instance BEDs")
    sizes = chrom_sizes_from_tsv(chrom_sizes_tsv)
    has_sequence = genome is not None
    if genome is None:
        if chrom_sizes_out is None:
            raise ValueError("a run without a genome needs a path for the chrom.sizes file the session opens")
        write_chrom_sizes(chrom_sizes_out, sizes)
        genome = str(chrom_sizes_out)
    tracks = [truth_track(truth)] if truth is not None else []
    if variants is not None:  # its own colours: red raises, blue lowers the class score
        tracks.append(SessionTrack(str(variants), "variant effects", data=False))
    for (cls, method), bigwig, bed, motif_bed in zip(pairs, bigwigs, seqlets, instances):
        tracks += [SessionTrack(bigwig, f"{cls} {method} relevance", data=True),
                   SessionTrack(bed, f"{cls} {method} seqlets", data=False)]
        if motif_bed is not None:
            tracks.append(SessionTrack(motif_bed, f"{cls} {method} motif instances", data=False))
    locus = top_locus(regions_tsv, sizes)
    write_session(session, genome, tracks, locus, has_sequence)
    log.info("IGV session %s: genome %s, %d tracks, locus %s", session, genome, len(tracks), locus)
    return len(tracks)
