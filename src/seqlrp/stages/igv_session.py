"""Stage ``igv_session``: one IGV desktop session file that opens a run's tracks at once.

``results/igv_session.xml`` (IGV: File > Open Session) holds the genome, then per class and
method the relevance bigWig and the seqlets BED, in one panel, at one locus:

* every bigWig track has ``autoScale="true"``: IGV desktop otherwise gives a bigWig a fixed data
  range from 0, which hides negative relevance;
* every track has a name that carries class and method (``positive lrp relevance``,
  ``positive lrp seqlets``, the seqlets BED's own track line name), unique in the session;
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

IGV session format: ``<Session genome locus version="8">`` with ``<Resources>`` (one
``<Resource path name>`` per file) and ``<Panel>`` of ``<Track id name autoScale ...>``, a track's
``id`` being its resource's path (IGV's own session writer does the same).
"""

from __future__ import annotations

import csv
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..analysis.tracks import chrom_sizes_from_tsv
from ..formats.atomic import atomic_write_text

log = logging.getLogger(__name__)

DATA_TRACK = "org.broad.igv.track.DataSourceTrack"  # IGV's class of bigWig tracks
FEATURE_TRACK = "org.broad.igv.track.FeatureTrack"  # and of BED tracks


@dataclass(frozen=True)
class SessionTrack:
    """One file of the session: ``path`` as the pipeline knows it (relative to the working
    directory, or absolute), the ``name`` IGV shows, and whether it is a data track (bigWig:
    autoscaled) or a feature track (BED)."""

    path: str
    name: str
    data: bool


def session_path(path: str | os.PathLike, folder: str | os.PathLike) -> str:
    """``path`` relative to ``folder`` (``/``-separated) when it lies inside it, else absolute."""
    absolute, base = os.path.abspath(path), os.path.abspath(folder)
    if os.path.commonpath([absolute, base]) == base:
        return Path(os.path.relpath(absolute, base)).as_posix()
    return absolute


def session_element(genome: str, tracks: Sequence[SessionTrack], locus: str, folder: str | os.PathLike,
                    has_sequence: bool = True) -> ET.Element:
    """The ``<Session>`` element: ``genome`` and ``tracks`` paths written by :func:`session_path`.

    Raises ValueError when two tracks share a name (IGV would show them alike).
    """
    names = [track.name for track in tracks]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise ValueError(f"IGV session: track names must be unique, {', '.join(doubled)} come twice")
    session = ET.Element("Session", {"genome": session_path(genome, folder), "hasGeneTrack": "false",
                                     "hasSequenceTrack": str(has_sequence).lower(), "locus": locus, "version": "8"})
    resources = ET.SubElement(session, "Resources")
    panel = ET.SubElement(session, "Panel", {"name": "DataPanel"})
    for track in tracks:
        path = session_path(track.path, folder)
        ET.SubElement(resources, "Resource", {"name": track.name, "path": path})
        attributes = {"attributeKey": track.name, "clazz": DATA_TRACK if track.data else FEATURE_TRACK, "id": path,
                      "name": track.name, "visible": "true"}
        if track.data:
            attributes["autoScale"] = "true"
        else:
            attributes["displayMode"] = "EXPANDED"
        ET.SubElement(panel, "Track", attributes)
    return session


def write_session(path: str | os.PathLike, genome: str, tracks: Sequence[SessionTrack], locus: str,
                  has_sequence: bool = True) -> None:
    """Write the session XML (UTF-8, indented) atomically; paths relative to ``path``'s folder."""
    root = session_element(genome, tracks, locus, Path(path).parent, has_sequence)
    ET.indent(root)
    with atomic_write_text(path) as handle:
        handle.write('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n')
        handle.write(ET.tostring(root, encoding="unicode") + "\n")


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


def write_chrom_sizes(path: str | os.PathLike, sizes: Mapping[str, int]) -> None:
    """``chrom<TAB>size`` lines, the ``.chrom.sizes`` file IGV loads as a genome without sequence."""
    with atomic_write_text(path) as handle:
        handle.writelines(f"{chrom}\t{size}\n" for chrom, size in sizes.items())


def run(session: str | os.PathLike, genome: str | None, pairs: Sequence[Sequence[str]], bigwigs: Sequence[str],
        seqlets: Sequence[str], regions_tsv: str | os.PathLike, chrom_sizes_tsv: str | os.PathLike,
        chrom_sizes_out: str | os.PathLike | None = None) -> int:
    """Write the session for ``pairs`` ``(class, method)`` with their ``bigwigs`` and ``seqlets``
    BEDs (same order); ``genome`` None (FASTA-of-sequences input) writes ``chrom_sizes_out`` and
    opens it as the genome. Returns the number of tracks."""
    if not len(pairs) == len(bigwigs) == len(seqlets):
        raise ValueError(f"{len(pairs)} class/method pairs, {len(bigwigs)} bigWigs, {len(seqlets)} seqlet BEDs")
    sizes = chrom_sizes_from_tsv(chrom_sizes_tsv)
    has_sequence = genome is not None
    if genome is None:
        if chrom_sizes_out is None:
            raise ValueError("a run without a genome needs a path for the chrom.sizes file the session opens")
        write_chrom_sizes(chrom_sizes_out, sizes)
        genome = str(chrom_sizes_out)
    tracks = []
    for (cls, method), bigwig, bed in zip(pairs, bigwigs, seqlets):
        tracks += [SessionTrack(bigwig, f"{cls} {method} relevance", data=True),
                   SessionTrack(bed, f"{cls} {method} seqlets", data=False)]
    locus = top_locus(regions_tsv, sizes)
    write_session(session, genome, tracks, locus, has_sequence)
    log.info("IGV session %s: genome %s, %d tracks, locus %s", session, genome, len(tracks), locus)
    return len(tracks)
