"""Logos: motif figures and region pictures render, reproducibly; window coordinates of marks."""

import xml.etree.ElementTree as ET

import numpy as np

from seqlrp.analysis.motifs import Motif
from seqlrp.analysis.seqlets import most_relevant_stretch
from seqlrp.report.logos import Match, Span, motif_figure, region_figure, save_figure, window_spans

PWM = np.array([[0.8, 0.1, 0.1, 0.1, 0.7, 0.25],
                [0.1, 0.7, 0.1, 0.1, 0.1, 0.25],
                [0.05, 0.1, 0.7, 0.1, 0.1, 0.25],
                [0.05, 0.1, 0.1, 0.7, 0.1, 0.25]])


def make_motif(sign: int = 1) -> Motif:
    cwm = sign * PWM * np.array([1.0, 0.8, 0.9, 0.7, 0.5, 0.05])
    return Motif("bound.lrp.pos_0", sign, PWM, cwm, cwm, np.array([[0, 10, 16, 0]]))


def test_motif_figure_renders_png_and_svg(tmp_path):
    match = Match("MA9999.1", "TOY", 1e-5, PWM[::-1, ::-1][:, :5].copy(), offset=-2, strand="-")
    fig = motif_figure(make_motif(), match)
    save_figure(fig, tmp_path / "m.png", "png")
    save_figure(fig, tmp_path / "m.svg", "svg")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "m.png").stat().st_size > 5000
    root = ET.parse(tmp_path / "m.svg").getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 50
    # three rows, the match shifted by its offset: x runs from 0 to max(6, 5 + 2) - 1
    axes = fig.get_axes()
    assert len(axes) == 3 and axes[2].get_xlim() == (-0.5, 6.5)
    # same input, same bytes
    save_figure(motif_figure(make_motif(), match), tmp_path / "again.svg", "svg")
    assert (tmp_path / "again.svg").read_bytes() == (tmp_path / "m.svg").read_bytes()
    save_figure(motif_figure(make_motif(), match), tmp_path / "again.png", "png")
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "m.png").read_bytes()


def test_motif_figure_without_match_and_negative_sign(tmp_path):
    save_figure(motif_figure(make_motif(-1), None), tmp_path / "neg.png")
    assert (tmp_path / "neg.png").stat().st_size > 3000


def test_region_figure_marks_spans(tmp_path):
    rng = np.random.default_rng(0)
    length = 200
    relevance = np.zeros((4, length))
    relevance[rng.integers(0, 4, length), np.arange(length)] = rng.normal(0, 0.2, length)
    spans = [Span(40, 55, "MA0139.2 CTCF", "truth", "+"), Span(41, 54, "pos_0 CTCF", "match", "-")]
    fig = region_figure(relevance, spans, title="chr1:0-200(+)")
    save_figure(fig, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 10000
    ax = fig.get_axes()[0]
    assert ax.get_xlim() == (-0.5, 199.5)
    assert len(ax.patches) >= 190  # one glyph per base with non-zero relevance (+ the shaded truth)
    assert [t.get_text() for t in ax.texts] == ["MA0139.2 CTCF+", "pos_0 CTCF-"]
    # a stretch of a longer window keeps window positions
    fig = region_figure(relevance[:, 100:150], spans, start=100)
    assert fig.get_axes()[0].get_xlim() == (99.5, 149.5) and not fig.get_axes()[0].texts  # spans outside


def test_window_spans_on_both_strands():
    intervals = [("chr1", 105, 110, "M", "+"), ("chr1", 195, 205, "N", "-"), ("chr2", 105, 110, "X", "+")]
    plus = window_spans(intervals, "chr1", 100, 200, "+", "truth")
    assert [(s.start, s.end, s.label, s.strand) for s in plus] == [(5, 10, "M", "+"), (95, 100, "N", "-")]
    # a - window is the reverse complement: [a, b) -> [end - b, end - a), strands swap
    minus = window_spans(intervals, "chr1", 100, 200, "-", "match")
    assert [(s.start, s.end, s.label, s.strand) for s in minus] == [(90, 95, "M", "-"), (0, 5, "N", "+")]
    assert all(s.kind == "match" for s in minus)


def test_most_relevant_stretch():
    values = np.zeros(1000)
    values[700:710] = -3.0
    assert most_relevant_stretch(values, 200) == 510  # first of the stretches holding all of it
    assert most_relevant_stretch(values[:150], 200) == 0
