"""IGV desktop session files: the XML that opens a genome and a list of tracks at one locus.

IGV session format: ``<Session genome locus version="8">`` with ``<Resources>`` (one
``<Resource path name>`` per file) and ``<Panel>`` of ``<Track id name autoScale ...>``, a track's
``id`` being its resource's path (IGV's own session writer does the same).

Paths inside the session file's folder are written relative to it (IGV resolves relative paths
against that folder, so the folder can move as a whole), other paths absolute. A bigWig track is a
data track (``autoScale="true"``, so negative values show), a BED a feature track (expanded).
Without a genome FASTA, IGV opens a ``.chrom.sizes`` file (:func:`write_chrom_sizes`) as a genome
of named, empty sequences.

Colours: IGV desktop draws a feature in the track's ``color`` attribute when the session sets one,
else in the feature's own BED ``itemRgb`` colour (column 9), else in its default blue. A BED whose
lines carry their colours (seqlets, motif instances: red positive, blue negative) therefore gets no
``color`` attribute; a BED without them can be given one (:attr:`SessionTrack.color`, ``"R,G,B"``).
:func:`has_item_colours` tells the two apart.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_write_text
from .textfiles import open_text
from .trackline import is_header

DATA_TRACK = "org.broad.igv.track.DataSourceTrack"  # IGV's class of bigWig tracks
FEATURE_TRACK = "org.broad.igv.track.FeatureTrack"  # and of BED tracks


@dataclass(frozen=True)
class SessionTrack:
    """One file of the session: ``path`` as the pipeline knows it (relative to the working
    directory, or absolute), the ``name`` IGV shows, and whether it is a data track (bigWig:
    autoscaled) or a feature track (BED); ``color`` (``"R,G,B"``) paints every feature of the
    track in one colour, overriding the BED's own ``itemRgb`` colours (None: keep them)."""

    path: str
    name: str
    data: bool
    color: str | None = None


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
        if track.color is not None:
            attributes["color"] = track.color
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


def has_item_colours(path: str | os.PathLike) -> bool:
    """Whether the first data line of the BED ``path`` (plain or gzip; header lines skipped) has an
    ``itemRgb`` column (9th, ``R,G,B``) that IGV would draw; False for an empty BED."""
    with open_text(path) as handle:
        for line in handle:
            if is_header(line):
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < 9:
                return False
            parts = fields[8].split(",")
            return len(parts) == 3 and all(part.strip().isdigit() for part in parts)
    return False


def write_chrom_sizes(path: str | os.PathLike, sizes: Mapping[str, int]) -> None:
    """``chrom<TAB>size`` lines, the ``.chrom.sizes`` file IGV loads as a genome without sequence."""
    with atomic_write_text(path) as handle:
        handle.writelines(f"{chrom}\t{size}\n" for chrom, size in sizes.items())
