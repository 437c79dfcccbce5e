"""Sequence logos (logomaker) of motifs and of the relevance over whole windows.

* :func:`motif_figure` — per motif, three aligned rows: the contribution logo (CWM, letter
  height = mean contribution, signed), the information-content logo of its PWM (bits), and the
  information-content logo of its best database match, reverse complemented and shifted as
  TOMTOM aligned it.
* :func:`region_figure` — a relevance logo over one window (letter height = relevance of the
  observed base, below the axis when negative), with known motif sites (truth) shaded and
  discovered motif instances marked by a bar under the letters; :func:`window_spans` puts genome
  intervals into a window's orientation as such marks.
* :func:`draw_motif_logos` and :func:`draw_regions` — the stage ``motifs`` pictures: one figure per
  motif (PNG + SVG), and one per window of highest logit (PNG, over its most relevant bases).

Figures are bare :class:`matplotlib.figure.Figure` objects on an Agg canvas (no pyplot state),
at a fixed dpi, written by :func:`save_figure` without timestamps (PNG) and with a fixed hash
salt and no date (SVG), so the same input gives the same bytes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..analysis.motifs import BASES, Motif, information_content, select_windows
from ..analysis.seqlets import most_relevant_stretch
from ..analysis.tomtom import Hit, MotifDatabase
from ..formats.atomic import atomic_path

DPI = 100
TRUTH_COLOUR = "#2ca02c"
MATCH_COLOUR = "#ff7f0e"


def _frame(matrix: np.ndarray, start: int = 0):
    """A (w, 4) DataFrame of a (4, w) matrix, indexed by position from ``start``, columns A, C, G, T."""
    import pandas as pd

    matrix = np.asarray(matrix, dtype=np.float64)
    return pd.DataFrame(matrix.T, columns=list(BASES), index=np.arange(start, start + matrix.shape[1]))


def draw_logo(ax, matrix: np.ndarray, start: int = 0, ylabel: str = "", title: str = "") -> None:
    """Draw a (4, w) matrix as a logo on ``ax``, column ``i`` at x = ``start + i``.

    Positive heights stack above the axis, negative ones below (upright; flipping them costs a
    second pass over every glyph in logomaker).
    """
    import logomaker

    logomaker.Logo(_frame(matrix, start), ax=ax, flip_below=False, color_scheme="classic", font_name="DejaVu Sans")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9, loc="left")


@dataclass(frozen=True)
class Match:
    """A motif's best database match: the target (4, t) probabilities and TOMTOM's alignment."""

    target_id: str
    target_name: str
    q_value: float
    probabilities: np.ndarray
    offset: int
    strand: str


def motif_figure(motif: Motif, match: Match | None = None, width_per_column: float = 0.32) -> Figure:
    """The motif's CWM logo, its PWM information-content logo and its best match's, aligned.

    The match (4, t) is shown on the strand TOMTOM aligned (``-``: reverse complement) with its
    column ``j`` at motif position ``j - offset``.
    """
    w = motif.width
    lo, hi = 0, w
    target = None
    if match is not None:
        target = np.asarray(match.probabilities, dtype=np.float64)
        if match.strand == "-":
            target = target[::-1, ::-1]
        lo, hi = min(0, -match.offset), max(w, target.shape[1] - match.offset)
    fig = Figure(figsize=(max(4.0, 1.2 + width_per_column * (hi - lo)), 5.4), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 1, sharex=True)
    sign = "positive" if motif.sign > 0 else "negative"
    draw_logo(axes[0], motif.cwm, ylabel="contribution",
              title=f"{motif.identifier}  ({sign}, {motif.n_seqlets} seqlets)  CWM")
    draw_logo(axes[1], information_content(motif.pwm), ylabel="bits", title="PWM information content")
    axes[1].set_ylim(0, 2)
    if target is not None:
        draw_logo(axes[2], information_content(target), start=-match.offset, ylabel="bits",
                  title=f"best match {match.target_id} {match.target_name} (q = {match.q_value:.2g}, strand {match.strand})")
    else:
        axes[2].text(0.5, 0.5, "no database match", ha="center", va="center", transform=axes[2].transAxes)
        axes[2].set_yticks([])
    axes[2].set_ylim(0, 2)
    axes[2].set_xlim(lo - 0.5, hi - 0.5)
    axes[2].set_xlabel("position in motif", fontsize=8)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.94, bottom=0.09, hspace=0.45)
    return fig


@dataclass(frozen=True)
class Span:
    """A marked stretch [start, end) of a window: ``kind`` ``truth`` (shaded) or ``match`` (bar)."""

    start: int
    end: int
    label: str
    kind: str
    strand: str = "+"


def region_figure(relevance: np.ndarray, spans: Sequence[Span] = (), title: str = "", start: int = 0,
                  width_per_base: float = 0.07) -> Figure:
    """A relevance logo over (part of) a window: ``relevance`` (4, l), zero except at the observed base.

    Column ``i`` is drawn at window position ``start + i``; spans are in window positions. Truth
    spans are shaded over the full height and labelled at the top; match spans get a bar under
    the letters, labelled beneath it.
    """
    relevance = np.nan_to_num(np.asarray(relevance, dtype=np.float64))
    length = relevance.shape[1]
    fig = Figure(figsize=(max(6.0, 1.0 + width_per_base * length), 2.8), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    draw_logo(ax, relevance, start=start, ylabel="relevance", title=title)
    top = max(float(relevance.clip(min=0).sum(axis=0).max()), 1e-12)
    bottom = min(float(relevance.clip(max=0).sum(axis=0).min()), 0.0)
    span = top - bottom
    bar = bottom - 0.08 * span
    for item in spans:
        if item.end <= start or item.start >= start + length:
            continue
        centre = (item.start + item.end - 1) / 2
        if item.kind == "truth":
            ax.axvspan(item.start - 0.5, item.end - 0.5, color=TRUTH_COLOUR, alpha=0.18, lw=0, zorder=0)
            ax.text(centre, top + 0.02 * span, f"{item.label}{item.strand}", ha="center", va="bottom", fontsize=6,
                    color=TRUTH_COLOUR)
        else:
            ax.plot([item.start - 0.4, item.end - 0.6], [bar, bar], color=MATCH_COLOUR, lw=3, solid_capstyle="butt")
            ax.text(centre, bar - 0.03 * span, f"{item.label}{item.strand}", ha="center", va="top", fontsize=6,
                    color=MATCH_COLOUR)
    ax.set_xlim(start - 0.5, start + length - 0.5)
    ax.set_ylim(bottom - 0.25 * span, top + 0.15 * span)
    ax.set_xlabel("position in window", fontsize=8)
    fig.subplots_adjust(left=0.06 if length > 100 else 0.1, right=0.99, top=0.86, bottom=0.17)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, fmt: str = "png") -> None:
    """Write ``fig`` atomically as ``png`` or ``svg``, reproducibly (no dates, fixed SVG ids)."""
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    with matplotlib.rc_context({"svg.hashsalt": "seqlrp", "svg.fonttype": "path"}):
        with atomic_path(path, suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI, metadata=metadata)


def window_spans(intervals: Sequence[tuple[str, int, int, str, str]], chrom: str, start: int, end: int, strand: str,
                 kind: str) -> list[Span]:
    """Genome intervals ``(chrom, start, end, label, strand)`` overlapping a window, in window orientation.

    A ``-`` window is the reverse complement of the genome: [a, b) maps to [end - b, end - a) and
    the strand flips. Spans are clipped to the window.
    """
    spans = []
    for c, lo, hi, label, s in intervals:
        if c != chrom or hi <= start or lo >= end:
            continue
        if strand == "-":
            a, b, s = end - hi, end - lo, {"+": "-", "-": "+"}.get(s, s)
        else:
            a, b = lo - start, hi - start
        spans.append(Span(max(a, 0), min(b, end - start), label, kind, "" if s == "." else s))
    return spans


def draw_motif_logos(directory: Path, motifs: Sequence[Motif], best: Mapping[str, tuple[Hit, str]],
                     database: MotifDatabase) -> float:
    """``{short}.png`` and ``.svg`` per motif in ``directory``; return the slowest figure's seconds."""
    import logomaker  # noqa: F401  (imported before timing: it brings pandas)

    directory.mkdir(parents=True, exist_ok=True)
    slowest = 0.0
    for motif in motifs:
        started = time.perf_counter()
        match = None
        if motif.identifier in best:
            hit, _ = best[motif.identifier]
            match = Match(hit.target_id, hit.target_name, hit.q_value, database.matrices[database.index(hit.target_id)],
                          hit.offset, hit.strand)
        fig = motif_figure(motif, match)
        for fmt in ("png", "svg"):
            save_figure(fig, directory / f"{motif.short_name}.{fmt}", fmt)
        slowest = max(slowest, time.perf_counter() - started)
    return slowest


def draw_regions(directory: Path, windows: Mapping[str, list], relevance: np.ndarray, onehot: np.ndarray,
                 n_regions: int, truth: list, instances: list, label: str, width: int = 200) -> float:
    """Relevance logos of the ``n_regions`` windows of highest logit; return the slowest figure's seconds.

    ``relevance`` (n, L): the relevance of each position (the attribution store's), drawn as the
    letter of the observed base of ``onehot`` (n, 4, L). Windows longer than ``width`` are shown
    over their ``width`` most relevant bases (sum of |relevance|).
    """
    directory.mkdir(parents=True, exist_ok=True)
    slowest = 0.0
    for rank, i in enumerate(select_windows(np.asarray(windows["logit"]), n_regions)):
        started = time.perf_counter()
        chrom, start, end, strand = (windows[key][i] for key in ("chrom", "start", "end", "strand"))
        letters = np.asarray(relevance[i], dtype=np.float64)[None, :] * np.asarray(onehot[i], dtype=np.float64)
        lo = most_relevant_stretch(letters.sum(axis=0), width)
        spans = (window_spans(truth, chrom, start, end, strand, "truth")
                 + window_spans(instances, chrom, start, end, strand, "match"))
        location = f"{chrom}:{start}-{end}({strand})"
        name = windows["name"][i]
        title = (f"{label}  #{rank + 1} {'' if name.startswith(location[:-3]) else name + '  '}{location}"
                 f"{'  reverse complement' if strand == '-' else ''}  logit {windows['logit'][i]:.3g}")
        fig = region_figure(letters[:, lo : lo + width], spans, title, lo)
        save_figure(fig, directory / f"{rank + 1:02d}.{chrom}_{start}_{end}.png")
        slowest = max(slowest, time.perf_counter() - started)
    return slowest
