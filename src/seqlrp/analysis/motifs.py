"""Motif discovery: TF-MoDISco (tfmodisco-lite) on one-hot input and hypothetical contributions.

tfmodisco-lite is the field's standard and is used as is (its Python API, not its CLI): seqlets
are cut where the contribution (one-hot x hypothetical) stands out, clustered by their
hypothetical-contribution profiles and merged into patterns, separately for positive and
negative contributions. Memory is bounded by two caps: at most ``max_windows`` windows are
handed to it (the highest logits first; it holds three (n, L, 4) float32 copies) and at most
``max_seqlets`` seqlets per sign (its affinity matrices grow with their number). Windows shorter
than its sliding window, and contributions on which its seqlet null cannot be fitted (all of one
sign or constant, as an untrained model may give), yield no motifs and a warning, not an error.

Each pattern becomes a :class:`Motif`, rebuilt here from its seqlet coordinates so that every
number can be checked against the arrays:

* PWM (4, w): base counts of the seqlet sequences plus ``pseudocount`` per base, columns summed
  to 1 (A, C, G, T rows);
* CWM (4, w): mean contribution (one-hot x hypothetical) of the seqlets, signed;
* hCWM (4, w): mean hypothetical contribution;

all trimmed to the CWM's informative core: the span from the first to the last position whose
column sum of |CWM| reaches ``trim_threshold`` x its maximum. A seqlet on the reverse strand
contributes its reverse complement (rows reversed = complement, columns reversed).

In ``motifs.meme`` each motif has two entries: ``{class}.{method}.{pos|neg}_{k}`` is the PWM and
``{class}.{method}.{pos|neg}_{k}.cwm`` the CWM as letter probabilities (the sign-aligned share of
each base in the column's contribution; see :func:`cwm_probabilities`). Both are matched by
TOMTOM; the signed matrices themselves are in ``motifs.npz``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..formats.atomic import atomic_path, atomic_write_text
from ..formats.meme import MemeMotif
from .seqlets import BLUE, RED

log = logging.getLogger(__name__)

BASES = "ACGT"
# tfmodisco-lite keyword -> our config key (see workflow/schemas/config.schema.yaml, section motifs)
MODISCO_KEYS = {
    "sliding_window_size": "window",
    "flank_size": "flank",
    "target_seqlet_fdr": "seqlet_fdr",
    "max_seqlets_per_metacluster": "max_seqlets",
    "min_metacluster_size": "min_metacluster",
    "final_min_cluster_size": "min_cluster",
    "n_leiden_runs": "leiden_runs",
}


@dataclass(frozen=True)
class Motif:
    """A discovered motif. Matrices are (4, w) over A, C, G, T; ``seqlets`` (k, 4) int64 rows
    ``(row, start, end, reverse)``: row of the attribution arrays, [start, end) in window
    orientation, reverse = 1 when the motif reads on the reverse strand of the window."""

    identifier: str
    sign: int
    pwm: np.ndarray
    cwm: np.ndarray
    hcwm: np.ndarray
    seqlets: np.ndarray

    @property
    def width(self) -> int:
        return int(self.pwm.shape[1])

    @property
    def n_seqlets(self) -> int:
        return int(self.seqlets.shape[0])

    @property
    def short_name(self) -> str:
        """``pos_0`` for ``positive.lrp.pos_0``."""
        return self.identifier.rsplit(".", 1)[-1]

    def consensus(self) -> str:
        """Most likely base per PWM column; lowercase where it has probability < 0.5."""
        best = self.pwm.argmax(axis=0)
        return "".join(BASES[b] if self.pwm[b, i] >= 0.5 else BASES[b].lower() for i, b in enumerate(best))


def oriented(array: np.ndarray, seqlets: np.ndarray) -> np.ndarray:
    """Stack (k, 4, w) of ``array`` (n, 4, L) cut at ``seqlets`` (k, 4), reverse complemented where reverse.

    All seqlets must have the same width and lie inside the window.
    """
    if len(seqlets) == 0:
        return np.zeros((0, 4, 0), dtype=np.float64)
    width = int(seqlets[0, 2] - seqlets[0, 1])
    out = np.empty((len(seqlets), 4, width), dtype=np.float64)
    for k, (row, start, end, reverse) in enumerate(seqlets):
        piece = np.asarray(array[row, :, start:end], dtype=np.float64)
        out[k] = piece[::-1, ::-1] if reverse else piece
    return out


def pwm_from_seqlets(onehot: np.ndarray, seqlets: np.ndarray, pseudocount: float = 0.5) -> np.ndarray:
    """Position weight (probability) matrix (4, w): base counts at ``seqlets`` + ``pseudocount``, normalised.

    ``onehot`` (n, 4, L); an N base (all-zero column) adds nothing but the pseudocount.
    """
    counts = oriented(onehot, seqlets).sum(axis=0) + pseudocount
    totals = counts.sum(axis=0, keepdims=True)
    return np.divide(counts, totals, out=np.full_like(counts, 0.25), where=totals > 0)


def cwm_from_seqlets(contributions: np.ndarray, seqlets: np.ndarray) -> np.ndarray:
    """Contribution weight matrix (4, w): the mean of ``contributions`` (n, 4, L) over ``seqlets``.

    With contributions = one-hot x hypothetical this is the CWM; with the hypothetical
    contributions themselves, the hypothetical CWM.
    """
    return oriented(contributions, seqlets).mean(axis=0)


def trim_bounds(cwm: np.ndarray, threshold: float = 0.3) -> tuple[int, int]:
    """[first, last + 1) of positions whose column sum of |cwm| (4, w) is >= threshold x its maximum."""
    score = np.abs(cwm).sum(axis=0)
    if score.size == 0 or score.max() <= 0:
        return 0, score.size
    keep = np.flatnonzero(score >= threshold * score.max())
    return int(keep[0]), int(keep[-1]) + 1


def trim_seqlets(seqlets: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Seqlets (k, 4) cut to pattern columns [lo, hi); a reverse seqlet is cut from its other end."""
    out = np.array(seqlets, dtype=np.int64, copy=True)
    forward = out[:, 3] == 0
    starts, ends = out[:, 1].copy(), out[:, 2].copy()
    out[:, 1] = np.where(forward, starts + lo, ends - hi)
    out[:, 2] = np.where(forward, starts + hi, ends - lo)
    return out


def cwm_probabilities(cwm: np.ndarray, sign: int, floor: float = 0.01) -> np.ndarray:
    """A CWM (4, w) as letter probabilities (4, w) for MEME and TOMTOM.

    Per column: the share of each base in the contribution of the motif's sign (``sign`` x cwm
    clipped at 0), mixed with ``floor`` of the uniform distribution so no letter is impossible;
    a column without such contribution is uniform.
    """
    aligned = np.clip(sign * np.asarray(cwm, dtype=np.float64), 0.0, None)
    totals = aligned.sum(axis=0, keepdims=True)
    shares = np.divide(aligned, totals, out=np.full_like(aligned, 0.25), where=totals > 0)
    return (1.0 - floor) * shares + floor / 4.0


def information_content(ppm: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Letter heights (4, w) in bits of an information-content logo: ppm x (column IC vs background)."""
    ppm = np.asarray(ppm, dtype=np.float64)
    background = np.full(4, 0.25) if background is None else np.asarray(background, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(ppm > 0, ppm * np.log2(ppm / background[:, None]), 0.0)
    return ppm * terms.sum(axis=0, keepdims=True)


def select_windows(logits: np.ndarray, max_windows: int) -> np.ndarray:
    """Rows (m,) of the ``max_windows`` windows of highest logit, highest first (ties: lower row first).

    Handed to TF-MoDISco in this order, so that its seqlet cap keeps the most confident windows.
    """
    logits = np.asarray(logits, dtype=np.float64)
    order = np.lexsort((np.arange(len(logits)), -np.nan_to_num(logits, nan=-np.inf)))
    return order[:max_windows]


def _configure_numba(threads: int | None) -> None:
    """Bound numba's threads before it is first imported (tfmodisco-lite and memelite use numba)."""
    if threads and "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(int(threads))


def _as_nlc(array: np.ndarray, rows: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Rows of an (n, 4, L) array (possibly memory-mapped) as a contiguous (m, L, 4) float32 array."""
    out = np.empty((len(rows), array.shape[2], 4), dtype=np.float32)
    for lo in range(0, len(rows), chunk):
        out[lo : lo + chunk] = np.transpose(np.asarray(array[rows[lo : lo + chunk]], dtype=np.float32), (0, 2, 1))
    return out


def _raised_in_seqlet_calling(err: BaseException) -> bool:
    """Whether ``err`` came from tfmodisco-lite's seqlet calling (its threshold and null estimation)."""
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.replace(os.sep, "/").endswith("modiscolite/extract_seqlets.py"):
            return True
        tb = tb.tb_next
    return False


def run_modisco(onehot: np.ndarray, hypothetical: np.ndarray, rows: np.ndarray, params: dict,
                threads: int | None = None) -> list[tuple[int, np.ndarray]]:
    """TF-MoDISco on windows ``rows`` of (n, 4, L) arrays; ``[(sign, seqlets (k, 4))]`` per pattern.

    Positive patterns first, then negative, each in tfmodisco-lite's order. Seqlet rows refer
    to the full arrays. ``params`` holds our config keys (see ``MODISCO_KEYS``).
    """
    width, window = onehot.shape[2], int(params["window"])
    if width < window or len(rows) == 0:
        log.warning("motifs: %d windows of %d bp, sliding window %d bp: nothing to discover", len(rows), width, window)
        return []
    _configure_numba(threads)
    from modiscolite.tfmodisco import TFMoDISco

    one_hot = _as_nlc(onehot, rows)
    hyp = _as_nlc(hypothetical, rows)
    flank = min(int(params["flank"]), max((width - window) // 2 - 1, 0))  # short windows: smaller flanks
    kwargs = {key: params[ours] for key, ours in MODISCO_KEYS.items()}
    kwargs.update(sliding_window_size=window, flank_size=flank)
    try:
        positive, negative = TFMoDISco(one_hot=one_hot, hypothetical_contribs=hyp, verbose=False, **kwargs)
    except (ValueError, ZeroDivisionError, IndexError) as err:
        if not _raised_in_seqlet_calling(err):
            raise
        # its null model needs contributions of both signs around a mode: none here, nothing to find
        log.warning("motifs: tfmodisco-lite could not call seqlets on these contributions (%s: %s); no motifs",
                    type(err).__name__, err)
        return []
    del one_hot, hyp
    found = []
    for sign, patterns in ((1, positive), (-1, negative)):
        for pattern in patterns or []:
            coords = np.array([(rows[s.example_idx], s.start, s.end, int(bool(s.is_revcomp))) for s in pattern.seqlets],
                              dtype=np.int64).reshape(-1, 4)
            inside = (coords[:, 1] >= 0) & (coords[:, 2] <= width)
            found.append((sign, coords[inside]))
    return found


def build_motifs(onehot: np.ndarray, hypothetical: np.ndarray, patterns: Sequence[tuple[int, np.ndarray]], prefix: str,
                 trim_threshold: float = 0.3, pseudocount: float = 0.5, min_width: int = 4) -> list[Motif]:
    """Motifs from ``(sign, seqlets)`` patterns over (n, 4, L) arrays, trimmed to their CWM core.

    Identifiers are ``{prefix}pos_{k}`` / ``{prefix}neg_{k}``, numbered per sign in pattern order.
    Patterns narrower than ``min_width`` after trimming are dropped.
    """
    motifs: list[Motif] = []
    counters = {1: 0, -1: 0}
    contributions = _Contributions(onehot, hypothetical)
    for sign, seqlets in patterns:
        if len(seqlets) == 0:
            continue
        lo, hi = trim_bounds(cwm_from_seqlets(contributions, seqlets), trim_threshold)
        if hi - lo < min_width:
            continue
        core = trim_seqlets(seqlets, lo, hi)
        name = f"{prefix}{'pos' if sign > 0 else 'neg'}_{counters[sign]}"
        counters[sign] += 1
        motifs.append(Motif(name, sign, pwm_from_seqlets(onehot, core, pseudocount), cwm_from_seqlets(contributions, core),
                            cwm_from_seqlets(hypothetical, core), core))
    return motifs


class _Contributions:
    """One-hot x hypothetical (n, 4, L) computed per indexed window, without materialising it."""

    def __init__(self, onehot: np.ndarray, hypothetical: np.ndarray):
        self.onehot, self.hypothetical = onehot, hypothetical

    def __getitem__(self, key):
        return np.asarray(self.onehot[key], dtype=np.float64) * np.asarray(self.hypothetical[key], dtype=np.float64)


def meme_entries(motifs: Sequence[Motif]) -> list[MemeMotif]:
    """Two MEME entries per motif: the PWM (``identifier``) and the CWM (``identifier.cwm``)."""
    entries = []
    for motif in motifs:
        n = max(motif.n_seqlets, 1)
        entries.append(MemeMotif(motif.identifier, "pwm", motif.pwm, n))
        entries.append(MemeMotif(f"{motif.identifier}.cwm", "cwm", cwm_probabilities(motif.cwm, motif.sign), n))
    return entries


def save_motifs_npz(path: str | os.PathLike, motifs: Sequence[Motif]) -> None:
    """Write every motif's ``pwm``, ``cwm``, ``hcwm`` (4, w) and ``seqlets`` (k, 4) as ``{id}.{kind}``."""
    arrays = {}
    for motif in motifs:
        for kind in ("pwm", "cwm", "hcwm", "seqlets"):
            arrays[f"{motif.identifier}.{kind}"] = getattr(motif, kind)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def motif_instances(motifs: Sequence[Motif], chroms: Sequence[str], starts: np.ndarray, ends: np.ndarray,
                    strands: Sequence[str]) -> list[tuple[str, int, int, str, str]]:
    """Seqlets of every motif in genome coordinates (0-based, half-open), as sorted
    ``(chrom, start, end, motif identifier, strand)``.

    ``chroms``/``starts``/``ends``/``strands``: the attribution windows, indexed by a seqlet's row.
    The strand is the one the motif reads on in the genome (a ``-`` window flips it). Sorted by
    chromosome name, start, end, identifier.
    """
    instances = []
    for motif in motifs:
        for row, start, end, reverse in motif.seqlets:
            if strands[row] == "-":
                lo, hi = int(ends[row]) - int(end), int(ends[row]) - int(start)
                strand = "+" if reverse else "-"
            else:
                lo, hi = int(starts[row]) + int(start), int(starts[row]) + int(end)
                strand = "-" if reverse else "+"
            instances.append((chroms[row], lo, hi, motif.identifier, strand))
    instances.sort()
    return instances


def write_instances_bed(path: str | os.PathLike, motifs: Sequence[Motif], chroms: Sequence[str], starts: np.ndarray,
                        ends: np.ndarray, strands: Sequence[str], labels: Mapping[str, str] | None = None,
                        track_line: str | None = None) -> int:
    """Seqlets of every motif as BED9 in genome coordinates (0-based, half-open); return the line count.

    Lines as :func:`motif_instances`: name = ``labels[identifier]`` (the identifier when absent;
    the motifs stage gives ``FACTOR(JASPAR ID)`` for a significant match), score 0, strand = the
    strand the motif reads on, thick part = the whole instance, colour red for a motif of positive
    contribution and blue for a negative one (as the seqlets). ``track_line`` (no newline) opens
    the file when given.
    """
    labels = labels or {}
    colour = {motif.identifier: RED if motif.sign > 0 else BLUE for motif in motifs}
    instances = motif_instances(motifs, chroms, starts, ends, strands)
    with atomic_write_text(path) as handle:
        if track_line is not None:
            handle.write(track_line + "\n")
        handle.writelines(f"{c}\t{lo}\t{hi}\t{labels.get(motif, motif)}\t0\t{strand}\t{lo}\t{hi}\t{colour[motif]}\n"
                          for c, lo, hi, motif, strand in instances)
    return len(instances)


def warm_numba_cache() -> int:
    """Compile tfmodisco-lite's numba kernels into numba's on-disk cache (``NUMBA_CACHE_DIR``), once.

    A cold cache costs the first motifs job (and the tests) about 15 s of CPU; ``make venv`` runs
    this at install, as it does for TOMTOM (:func:`seqlrp.analysis.tomtom.warm_numba_cache`). The
    input is synthetic: 400 random 100-bp windows, half with a planted 10-bp site whose bases carry
    the contributions, the rest noise. Returns the number of patterns found (not used).
    """
    rng = np.random.default_rng(0)
    n, length = 400, 100
    codes = rng.integers(0, 4, size=(n, length))
    site = np.array([2, 0, 3, 3, 0, 1, 0, 2, 2, 1])
    planted = np.zeros((n, length), dtype=bool)
    for row in range(n // 2):
        start = int(rng.integers(10, length - 20))
        codes[row, start:start + site.size] = site
        planted[row, start:start + site.size] = True
    onehot = np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1)
    hypothetical = rng.normal(0, 0.05, size=onehot.shape).astype(np.float32) + planted[:, None, :] * onehot
    params = {"window": 21, "flank": 10, "seqlet_fdr": 0.2, "max_seqlets": 5000, "min_metacluster": 50,
              "min_cluster": 20, "leiden_runs": 2}
    return len(run_modisco(onehot, hypothetical, np.arange(n), params))


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--warm-numba-cache"]:
        sys.exit("usage: python -m seqlrp.analysis.motifs --warm-numba-cache")
    warm_numba_cache()
