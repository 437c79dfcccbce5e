"""Stage ``motifs``: discover motifs in one class and method's attributions, match them, draw them.

Outputs in ``results/motifs/{class}.{method}/``:

* ``motifs.meme`` — two entries per motif, the PWM (``{class}.{method}.pos_0``) and the CWM as
  letter probabilities (``{class}.{method}.pos_0.cwm``); see :mod:`seqlrp.analysis.motifs`;
* ``motifs.npz`` — the signed matrices: ``{id}.pwm``, ``{id}.cwm``, ``{id}.hcwm`` (4, w) and
  ``{id}.seqlets`` (k, 4: row, start, end, reverse in window orientation);
* ``tomtom.tsv`` — every entry of ``motifs.meme`` against the database (see :mod:`seqlrp.analysis.tomtom`):
  per query its ``max_hits`` best targets and every target with q < ``q_threshold``;
* ``motifs.tsv`` — one line per motif: its best match over both entries (lowest q, then p);
* ``instances.bed`` — the motifs' seqlets in genome coordinates (BED9, red positive, blue negative
  motifs), named as :func:`seqlrp.analysis.tomtom.motif_labels` says: ``FACTOR(JASPAR ID)`` when
  the motif's best match is significant, else the motif's short name (``pos_0``);
* ``seqlets.bed`` — the FDR-called seqlets (rule seqlets) named after the motif whose instance
  overlaps them most, by the same names (both BED files open with a UCSC ``track`` line naming
  class and method, see :mod:`seqlrp.formats.trackline`);
* ``logos/{pos|neg}_{k}.png|svg`` — CWM, PWM and best-match logos (:func:`seqlrp.report.logos.draw_motif_logos`);
* ``regions/{rank}.{chrom}_{start}_{end}.png`` — relevance logos (:func:`seqlrp.report.logos.draw_regions`)
  of the ``n_regions`` windows of highest logit, with truth sites (demo, or ``motifs.truth``) and
  motif instances marked.

The database is built once per run by :func:`build_database` (rule ``jaspar``). Only the windows
TF-MoDISco gets (``motifs.max_windows``, highest logit first) and the pictured ones are read from
the attribution store. :func:`write_modisco_inputs` (rule ``modisco_inputs``, on demand) writes
those windows as the ``ohe.npz`` / ``hyp.npz`` that ``modisco motifs -s ohe.npz -a hyp.npz`` reads.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .. import __version__
from ..analysis.motifs import (
    Motif,
    build_motifs,
    meme_entries,
    motif_instances,
    run_modisco,
    save_motifs_npz,
    select_windows,
    write_instances_bed,
)
from ..analysis.seqlets import name_seqlets
from ..analysis.tomtom import (
    Hit,
    best_hits,
    fetch_jaspar,
    load_database,
    motif_labels,
    save_database,
    tomtom_hits,
    write_tomtom_tsv,
)
from ..attribution.store import TABLE, Attribution, read_attribution, read_table_columns
from ..formats.arrays import ChunkedArrayWriter, LazyRows
from ..formats.atomic import atomic_write_text
from ..formats.meme import write_meme
from ..formats.regions import read_regions
from ..formats.trackline import bed_track_line
from ..report.logos import draw_motif_logos, draw_regions

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("motif", "sign", "n_seqlets", "width", "consensus", "best_id", "best_name", "p_value", "q_value",
                   "significant", "matched_by")


def build_database(config: Mapping, path: str | os.PathLike) -> int:
    """Fetch the configured JASPAR matrices (pyjaspar, offline) into ``path`` (.npz); return their number."""
    database = fetch_jaspar(config["jaspar_collection"], config["jaspar_tax_group"])
    save_database(database, path)
    log.info("motif database: %d matrices of %s %s %s", len(database), database.release, config["jaspar_collection"],
             ",".join(config["jaspar_tax_group"] or ["all taxa"]))
    return len(database)


WINDOW_COLUMNS = {"chrom": str, "start": int, "end": int, "strand": str, "name": str, "row": int, "logit": float}


def read_windows(path: str | os.PathLike, rows: Sequence[int] | None = None) -> dict[str, list]:
    """Columns of an attribution ``regions.tsv``: chrom, start, end, strand, name, row, logit —
    of every window, or of the windows ``rows`` (attribution rows, in that order)."""
    table = read_table_columns(path, WINDOW_COLUMNS, rows=None if rows is None else np.asarray(rows))
    return {name: values.tolist() for name, values in table.items()}


def write_summary(path: str | os.PathLike, motifs: Sequence[Motif], best: Mapping[str, tuple[Hit, str]],
                  q_threshold: float) -> None:
    """``motifs.tsv``: one line per motif (:data:`SUMMARY_COLUMNS`); empty match fields when none."""
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(SUMMARY_COLUMNS)
        for motif in motifs:
            row = [motif.identifier, "positive" if motif.sign > 0 else "negative", motif.n_seqlets, motif.width,
                   motif.consensus()]
            if motif.identifier in best:
                hit, by = best[motif.identifier]
                row += [hit.target_id, hit.target_name, f"{hit.p_value:.6g}", f"{hit.q_value:.6g}",
                        str(hit.q_value < q_threshold).lower(), by]
            else:
                row += ["", "", "", "", "false", ""]
            writer.writerow(row)


def _relabelled(intervals: Sequence[tuple[str, int, int, str, str]], labels: Mapping[str, str] | None = None,
                flip: frozenset = frozenset()) -> list:
    """Intervals ``(chrom, start, end, name, strand)`` with names renamed via ``labels``; the strand
    of names in ``flip`` is reversed (a motif whose best match aligned on the other strand)."""
    labels = labels or {}
    other = {"+": "-", "-": "+", ".": "."}
    return [(c, lo, hi, labels.get(name, name), other[s] if name in flip else s) for c, lo, hi, name, s in intervals]


def _intervals(path: str | os.PathLike | None, labels: Mapping[str, str] | None = None) -> list:
    """BED intervals as ``(chrom, start, end, label, strand)``; label = name, renamed via ``labels``."""
    if not path or os.path.getsize(path) == 0:
        return []
    return _relabelled([(r.chrom, r.start, r.end, r.name, r.strand) for r in read_regions(path)], labels)


# below this many windows TF-MoDISco rarely gathers enough seqlets of one sign for a single motif
# (on a two-class ChIP-seq set, 198 windows a class gave no motif for one class)
FEW_WINDOWS_FOR_MOTIFS = 500


def warn_if_too_few_windows(label: str, n_windows: int, selection: object = None) -> bool:
    """Log a warning (and return True) when ``n_windows`` is too few for TF-MoDISco to find motifs."""
    if n_windows >= FEW_WINDOWS_FOR_MOTIFS:
        return False
    hint = " (attribute.regions: all explains every window of the class)" if selection not in (None, "all") else ""
    log.warning("motifs %s: only %d windows; TF-MoDISco usually needs %d or more to find a motif, so it may find "
                "none%s", label, n_windows, FEW_WINDOWS_FOR_MOTIFS, hint)
    return True


def run(config: Mapping, attr_dir: str | os.PathLike, onehot_path: str | os.PathLike,
        database_path: str | os.PathLike, outputs: Mapping[str, str], truth_path: str | os.PathLike | None = None,
        threads: int | None = None, seqlets_path: str | os.PathLike | None = None) -> int:
    """Discover, match and draw the motifs of the attribution store in ``attr_dir`` (over the data
    set's one-hot ``onehot_path``); return the motif count."""
    attr_dir = Path(attr_dir)
    store = read_attribution(attr_dir, onehot_path)
    settings = store.settings
    label = f"{settings['class']}.{settings['method']}"
    started = time.perf_counter()
    # the windows TF-MoDISco gets, then those pictured beyond them: rows of this subset from here on
    subset = select_windows(store.logits, max(config["max_windows"], config["n_regions"]))
    windows = read_windows(attr_dir / TABLE, subset)
    onehot, hypothetical = _rows(store.onehot, subset), _rows(store.hypothetical, subset)
    rows = np.arange(min(config["max_windows"], subset.size))
    warn_if_too_few_windows(label, rows.size, settings.get("selection"))
    patterns = run_modisco(onehot, hypothetical, rows, config, threads)
    motifs = build_motifs(onehot, hypothetical, patterns, f"{label}.", config["trim_threshold"], config["pseudocount"])
    log.info("motifs %s: %d motifs from %d windows in %.1f s", label, len(motifs), len(rows), time.perf_counter() - started)
    entries = meme_entries(motifs)
    write_meme(entries, outputs["meme"])
    # seqlet rows in motifs.npz are rows of the attribution store, as documented
    save_motifs_npz(outputs["npz"], [dataclasses.replace(m, seqlets=_store_rows(m.seqlets, subset)) for m in motifs])
    database = load_database(database_path)
    hits = tomtom_hits({e.identifier: e.probabilities for e in entries}, database, config["max_hits"], threads,
                       keep_q=config["q_threshold"])
    write_tomtom_tsv(outputs["tomtom"], hits)
    best = best_hits(motifs, hits)
    write_summary(outputs["summary"], motifs, best, config["q_threshold"])
    for motif in motifs:
        hit = best.get(motif.identifier)
        log.info("  %s %s (%d seqlets): best %s", motif.identifier, motif.consensus(), motif.n_seqlets,
                 f"{hit[0].target_id} {hit[0].target_name} q={hit[0].q_value:.3g} ({hit[1]})" if hit else "none")

    slowest = draw_motif_logos(Path(outputs["logos"]), motifs, best, database)
    names = dict(zip(database.ids, database.names))
    truth = _intervals(truth_path, {i: f"{i} {names[i]}" for i in names})
    significant = {m: hit for m, (hit, _) in best.items() if hit.q_value < config["q_threshold"]}
    cls, method = settings["class"], settings["method"]
    # the BED files name instances and seqlets FACTOR(JASPAR ID) (significant match) or by motif
    factor = motif_labels(motifs, significant)
    write_instances_bed(outputs["instances"], motifs, windows["chrom"], np.asarray(windows["start"]),
                        np.asarray(windows["end"]), windows["strand"], factor, bed_track_line(
                            f"{cls} {method} motif instances",
                            f"seqlrp {__version__} motif instances: class {cls}, method {method}; named FACTOR(JASPAR ID) "
                            f"when the best TOMTOM match has q < {config['q_threshold']}, else by motif; "
                            "red positive, blue negative contribution"))
    if seqlets_path is not None and "seqlets" in outputs:
        # instances.bed already carries the names: no renaming left to do
        n_named = name_seqlets(seqlets_path, outputs["instances"], {}, outputs["seqlets"], bed_track_line(
            f"{cls} {method} seqlets by motif",
            f"seqlrp {__version__} seqlets: class {cls}, method {method}, each named after the motif instance it "
            f"overlaps most: FACTOR(JASPAR ID) when the motif's best TOMTOM match has q < {config['q_threshold']}; "
            "red positive, blue negative relevance"))
        log.info("motifs %s: %d seqlets named after the motif they hold", label, n_named)
    # the pictures label instances by motif and significant best match, their strand in the match's orientation
    matched = {m.identifier: f"{m.short_name} {significant[m.identifier].target_name}" if m.identifier in significant
               else m.short_name for m in motifs}
    flip = frozenset(m for m, hit in significant.items() if hit.strand == "-")
    instances = motif_instances(motifs, windows["chrom"], np.asarray(windows["start"]), np.asarray(windows["end"]),
                                windows["strand"])
    slowest_region = draw_regions(Path(outputs["regions"]), windows, LazyRows.of(store.relevance, subset), onehot,
                                  config["n_regions"], truth, _relabelled(instances, matched, flip), label,
                                  config["region_width"])
    log.info("motifs %s: slowest motif figure %.2f s (PNG + SVG), slowest region picture %.2f s", label, slowest,
             slowest_region)
    return len(motifs)


def _rows(lazy: LazyRows, rows: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """``lazy[rows]`` read ``chunk`` rows at a time into one array (the transient copies stay small)."""
    out = np.empty((rows.size, *lazy.row_shape), dtype=lazy.dtype)
    for lo in range(0, rows.size, chunk):
        out[lo : lo + chunk] = lazy[rows[lo : lo + chunk]]
    return out


def _store_rows(seqlets: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """Seqlets (k, 4) with their row (an index into ``subset``) replaced by the store row."""
    out = np.array(seqlets, dtype=np.int64, copy=True).reshape(-1, 4)
    out[:, 0] = subset[out[:, 0]]
    return out


def write_modisco_inputs(attr_dir: str | os.PathLike, onehot_path: str | os.PathLike, max_windows: int,
                         outputs: Mapping[str, str | os.PathLike], chunk: int = 1024) -> int:
    """The windows :func:`run` gives TF-MoDISco (``max_windows``, highest logit first) as
    ``outputs["ohe"]`` and ``outputs["hyp"]`` — (k, 4, L) float32 npz, single member ``arr_0``,
    what ``modisco motifs -s ohe.npz -a hyp.npz`` reads — and ``outputs["regions"]``, those
    windows' lines of the attribution table in the same order; returns k."""
    store: Attribution = read_attribution(attr_dir, onehot_path)
    subset = select_windows(store.logits, max_windows)
    shape = (subset.size, *store.hypothetical.row_shape)
    with ChunkedArrayWriter(outputs["ohe"], shape) as ohe, ChunkedArrayWriter(outputs["hyp"], shape) as hyp:
        for lo in range(0, subset.size, chunk):
            ohe.write(store.onehot[subset[lo : lo + chunk]])
            hyp.write(store.hypothetical[subset[lo : lo + chunk]])
        _write_table_rows(Path(attr_dir) / TABLE, subset, outputs["regions"])
    log.info("modisco inputs %s.%s: %d windows of %d", store.cls, store.method, subset.size, len(store))
    return int(subset.size)


def _write_table_rows(table: Path, rows: np.ndarray, path: str | os.PathLike) -> None:
    """The header and the lines ``rows`` (0-based data lines, in that order) of ``table``."""
    wanted = {int(r): i for i, r in enumerate(rows)}
    lines: list[str | None] = [None] * len(wanted)
    with open(table, encoding="utf-8") as handle:
        header = handle.readline()
        for k, line in enumerate(handle):
            if k in wanted:
                lines[wanted[k]] = line
    with atomic_write_text(path) as out:
        out.write(header)
        out.writelines(lines)
