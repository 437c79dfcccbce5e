"""Which motif a variant breaks or creates: FIMO log-odds scans of the reference and alternative windows.

Windows are codes (b, L) uint8 (0..3 = A,C,G,T, 4 = N). A variant's allele spans are 0-based,
half-open index ranges ``[start, end)``: the REF allele's bases in the reference window, the ALT
allele's in the alternative window (an SNV: ``(c, c + 1)`` in both; a deletion's ALT span is the
anchor base; an insertion's is the anchor plus the inserted bases).

Scores are memelite's FIMO log-odds in bits, ``sum_j log2(p[x_j, j] + eps) - log2(bg[x_j])`` with
``eps`` = 1e-4 (:data:`EPS`); an N adds 0 (its log-odds is taken as the background's), as in
memelite's ``fimo``, so scores equal the scores FIMO reports. A placement counts for a window only
when it lies inside the window and shares a base with the allele span; a motif's score is its best
over those placements on both strands (-inf when there is none). A score passes when it is above
the motif's threshold: the smallest score bin (:data:`BIN_SIZE` bits) whose p-value under the
background is below ``p_threshold``, from the exact score distribution of the binned PWM (dynamic
programming as in FIMO; memelite's rule, threshold rounded to float32 as memelite stores it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..analysis.tomtom import MotifDatabase, read_tomtom_tsv

EPS = 1e-4
"""Pseudocount added to the letter probabilities before the log (memelite's ``fimo`` default)."""
BIN_SIZE = 0.1
"""Width in bits of the score bins of the p-value tables (memelite's ``fimo`` default)."""
_CHUNK_ELEMENTS = 1 << 22  # placements x max(motif-strands, 4 W) per chunk (float64: 32 MiB)


@dataclass(frozen=True)
class MotifSet:
    """Motifs to scan: ``matrices[i]`` (4, w_i) letter probabilities over A,C,G,T of ``ids[i]``,
    shown as ``names[i]``."""

    ids: list[str]
    names: list[str]
    matrices: list[np.ndarray]

    def __post_init__(self) -> None:
        if not len(self.ids) == len(self.names) == len(self.matrices):
            raise ValueError("motif set: ids, names and matrices must have the same length")
        for identifier, matrix in zip(self.ids, self.matrices):
            if matrix.ndim != 2 or matrix.shape[0] != 4 or matrix.shape[1] == 0:
                raise ValueError(f"motif {identifier}: matrix must be (4, w) with w > 0, got {matrix.shape}")


def jaspar_motif_set(database: MotifDatabase) -> MotifSet:
    """Every matrix of a JASPAR :class:`~seqlrp.analysis.tomtom.MotifDatabase`, named by its factor."""
    matrices = [np.asarray(m, dtype=np.float64) for m in database.matrices]
    return MotifSet(list(database.ids), list(database.names), matrices)


def pattern_motif_set(meme_path: str | os.PathLike, tomtom_path: str | os.PathLike,
                      q_threshold: float = 0.05) -> MotifSet:
    """TF-MoDISco patterns from the motifs stage's ``motifs.meme`` and ``tomtom.tsv``.

    Each PWM entry (``{class}.{method}.pos_0``) is one motif; the CWM entries (``{id}.cwm``) are
    contribution shares, not site probabilities, and are not scanned. A pattern is named
    ``FACTOR(JASPAR ID)`` after its best TOMTOM hit over its PWM and CWM queries (lowest q, then
    p, PWM first) when that hit has q < ``q_threshold`` (the motifs stage's rule for
    ``instances.bed``), else by its own id.
    """
    from memelite.io import read_meme

    # memelite keys each entry by its MOTIF line: "identifier name"
    entries = {key.split()[0]: np.asarray(m, dtype=np.float64) for key, m in read_meme(str(meme_path)).items()}
    ids = [identifier for identifier in entries if not identifier.endswith(".cwm")]
    hits = read_tomtom_tsv(tomtom_path)
    names = []
    for identifier in ids:
        candidates = [hit for hit in hits if hit.query in (identifier, f"{identifier}.cwm")]
        best = min(candidates, key=lambda h: (h.q_value, h.p_value, h.query != identifier), default=None)
        significant = best is not None and best.q_value < q_threshold
        names.append(f"{best.target_name}({best.target_id})" if significant else identifier)
    return MotifSet(ids, names, [entries[identifier] for identifier in ids])


@dataclass(frozen=True)
class MotifChange:
    """The motif a variant changes most: its best log-odds scores (bits) over the placements that
    overlap the allele in the reference and alternative windows, and ``effect``: ``"broken"``
    (passes in ref only), ``"created"`` (alt only) or ``"changed"`` (both)."""

    motif_id: str
    motif_name: str
    ref_score: float
    alt_score: float
    effect: str


def score_threshold(log_odds: np.ndarray, background: np.ndarray, p_threshold: float) -> float:
    """The score above which a placement of a PWM has p-value below ``p_threshold`` (FIMO's rule).

    Parameters
    ----------
    log_odds : ndarray (4, w)
        Log-odds scores (bits) of A,C,G,T per column, binned to multiples of :data:`BIN_SIZE`
        (rounded, as memelite does).
    background : ndarray (4,)
        Letter frequencies the random sequence is drawn from.
    p_threshold : float
        p-value a passing score must be below.

    Returns
    -------
    float
        The first bin (times the bin size, rounded to float32) whose survival P(binned score >= bin)
        under the exact distribution, built column by column, is below ``p_threshold``; one bin past
        the highest reachable one when none is.
    """
    lowest, survival = score_survival(log_odds, background)
    first = int(np.argmax(survival < p_threshold))
    return float(np.float32((lowest + first) * BIN_SIZE))


def score_survival(log_odds: np.ndarray, background: np.ndarray) -> tuple[int, np.ndarray]:
    """The exact null distribution of a PWM's binned score: ``(lowest, survival)``, ``survival[k]`` the
    probability that a random placement (letters drawn from ``background``) scores at least bin
    ``lowest + k`` (bins of :data:`BIN_SIZE` bits), one trailing 0 past the highest bin."""
    bins = np.round(log_odds / BIN_SIZE).astype(np.int64)
    lowest = bins.min(axis=0)
    pdf = np.ones(1)
    for column in (bins - lowest).T:  # each column's bins above its lowest
        grown = np.zeros(pdf.size + int(column.max()))
        for base in range(4):
            grown[column[base]:column[base] + pdf.size] += background[base] * pdf
        pdf = grown
    return int(lowest.sum()), np.append(np.cumsum(pdf[::-1])[::-1], 0.0)


class MotifScanner:
    """Scores a set of motifs around variant alleles (see the module docstring for the rules).

    Parameters
    ----------
    motifs : MotifSet
        The motifs, each scanned on both strands.
    p_threshold : float
        FIMO p-value a score must be below to pass.
    background : array-like (4,), optional
        A,C,G,T frequencies (uniform when omitted); averaged with its complement, as both strands
        are scanned, so that a motif and its reverse complement share one threshold.
    """

    def __init__(self, motifs: MotifSet, p_threshold: float = 1e-4, background=None):
        bg = np.full(4, 0.25) if background is None else np.asarray(background, dtype=np.float64)
        if bg.shape != (4,) or np.any(bg <= 0):
            raise ValueError(f"background must be 4 positive frequencies, got {bg}")
        self.motifs, self.p_threshold = motifs, float(p_threshold)
        self.background = (bg / bg.sum() + bg[::-1] / bg.sum()) / 2
        log_odds = [np.log2(np.asarray(m, dtype=np.float64) + EPS) - np.log2(self.background)[:, None]
                    for m in motifs.matrices]
        self.thresholds = np.array([score_threshold(lo, self.background, self.p_threshold) for lo in log_odds])
        self._survival = [score_survival(lo, self.background) for lo in log_odds]
        self.widths = np.array([lo.shape[1] for lo in log_odds], dtype=np.int64)
        self.width = int(self.widths.max(initial=1))
        # (4 * W, 2M): row c * W + j holds column j of base c; forward strands, then reverse
        # complements; columns past a motif's width are 0
        kernel = np.zeros((2, len(log_odds), 4, self.width))
        for m, lo in enumerate(log_odds):
            kernel[0, m, :, :lo.shape[1]] = lo
            kernel[1, m, :, :lo.shape[1]] = lo[::-1, ::-1]
        self._kernel = kernel.reshape(2 * len(log_odds), 4 * self.width).T.copy()

    def scores(self, codes: np.ndarray, span: np.ndarray) -> np.ndarray:
        """Every motif's best log-odds score over the placements that overlap a span.

        Parameters
        ----------
        codes : ndarray (b, L) uint8
            Windows.
        span : ndarray (b, 2) int64
            ``[start, end)`` in each window, non-empty.

        Returns
        -------
        ndarray (b, M) float64
            Best score over both strands and the placements inside the window that share a base
            with the span; -inf where the motif has no such placement.
        """
        codes, span = np.asarray(codes), np.asarray(span, dtype=np.int64)
        if codes.ndim != 2 or span.shape != (codes.shape[0], 2):
            raise ValueError(f"codes must be (b, L) and span (b, 2), got {codes.shape} and {span.shape}")
        if np.any(span[:, 0] < 0) or np.any(span[:, 1] > codes.shape[1]) or np.any(span[:, 1] <= span[:, 0]):
            raise ValueError("spans must be non-empty [start, end) ranges inside the window")
        out = np.empty((codes.shape[0], len(self.widths)))
        if not len(self.widths):
            return out
        longest = int((span[:, 1] - span[:, 0]).max(initial=1))
        n_starts = longest + self.width - 1  # placements per variant: first base up to W - 1 left of the span
        step = max(1, _CHUNK_ELEMENTS // (n_starts * max(self._kernel.shape)))
        for lo in range(0, codes.shape[0], step):
            out[lo:lo + step] = self._scores(codes[lo:lo + step], span[lo:lo + step], n_starts)
        return out

    def _scores(self, codes: np.ndarray, span: np.ndarray, n_starts: int) -> np.ndarray:
        """:meth:`scores` of one chunk: the stretch from W - 1 left of each span start, one-hot."""
        b, length = codes.shape
        starts = span[:, :1] - (self.width - 1) + np.arange(n_starts)  # (b, P) placement starts in the window
        index = span[:, :1] - (self.width - 1) + np.arange(n_starts + self.width - 1)
        inside = (index >= 0) & (index < length)
        stretch = np.where(inside, codes[np.arange(b)[:, None], np.clip(index, 0, length - 1)], 4)
        onehot = (stretch[:, None, :] == np.arange(4)[None, :, None]).astype(np.float64)  # (b, 4, T); N: zeros
        windows = np.lib.stride_tricks.sliding_window_view(onehot, self.width, axis=2)  # (b, 4, P, W)
        windows = windows.transpose(0, 2, 1, 3).reshape(b, n_starts, 4 * self.width)
        raw = windows @ self._kernel  # (b, P, 2M)
        raw = np.maximum(raw[..., :len(self.widths)], raw[..., len(self.widths):])  # (b, P, M), best strand
        ends = starts[:, :, None] + self.widths
        valid = (starts[:, :, None] >= 0) & (ends <= length) & (starts[:, :, None] < span[:, 1:2, None]) \
            & (ends > span[:, :1, None])
        return np.where(valid, raw, -np.inf).max(axis=1)

    def p_values(self, scores: np.ndarray) -> np.ndarray:
        """FIMO p-values (b, M) of scores (b, M) in bits: P(a random placement scores at least as
        much), from each motif's exact binned distribution; 1 where a motif has no placement."""
        out = np.ones(scores.shape)
        for m, (lowest, survival) in enumerate(self._survival):
            finite = np.isfinite(scores[:, m])
            index = np.round(scores[finite, m] / BIN_SIZE).astype(np.int64) - lowest
            # the highest reachable bin at most (the trailing 0 is past it): p is never 0
            out[finite, m] = survival[np.clip(index, 0, survival.size - 2)]
        return out

    def changes(self, ref_codes: np.ndarray, alt_codes: np.ndarray, ref_span: np.ndarray,
                alt_span: np.ndarray) -> list[MotifChange | None]:
        """The motif each variant changes most.

        Parameters
        ----------
        ref_codes, alt_codes : ndarray (b, L) uint8
            Reference and alternative windows.
        ref_span, alt_span : ndarray (b, 2) int64
            ``[start, end)`` of the REF allele in ``ref_codes`` and of the ALT allele in ``alt_codes``.

        Returns
        -------
        list of MotifChange or None, length b
            Among the motifs whose score passes in ref or alt, the one whose FIMO p-value changes
            most, ``|log10 p_alt - log10 p_ref|`` (p-values compare motifs of different lengths and
            information, which raw scores do not; the first in set order on ties); None when none passes.
        """
        if len(ref_codes) != len(alt_codes):
            raise ValueError(f"{len(ref_codes)} reference windows but {len(alt_codes)} alternative windows")
        ref = self.scores(ref_codes, ref_span)
        alt = self.scores(alt_codes, alt_span)
        ref_pass, alt_pass = ref > self.thresholds, alt > self.thresholds
        counts = ref_pass | alt_pass
        change = np.abs(np.log10(self.p_values(alt)) - np.log10(self.p_values(ref)))
        delta = np.where(counts, change, -1.0)
        effects = {(True, False): "broken", (False, True): "created", (True, True): "changed"}
        found: list[MotifChange | None] = []
        for i, m in enumerate(np.argmax(delta, axis=1) if delta.size else np.zeros(len(delta), dtype=int)):
            if not counts[i].any():
                found.append(None)
                continue
            found.append(MotifChange(self.motifs.ids[m], self.motifs.names[m], float(ref[i, m]), float(alt[i, m]),
                                     effects[bool(ref_pass[i, m]), bool(alt_pass[i, m])]))
        return found
