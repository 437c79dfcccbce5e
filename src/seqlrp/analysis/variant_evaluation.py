"""How well variant scores separate motif-breaking and motif-creating variants from controls.

:func:`variant_aurocs` joins a truth table (``chrom, pos, ref, alt, label, class, motif``, as
:func:`seqlrp.sequences.demo_variants.make_demo_variants` writes it) to the variants stage's
``scores.tsv`` (one row per variant × ALT × class × method, columns including ``chrom, pos, ref, alt,
class, method, delta, relevance_ref``) on ``(chrom, pos, REF, ALT)``: ``pos`` is the 1-based VCF POS,
alleles are compared in upper case. For every ``(class, method)`` in the scores it computes:

* ``break_vs_control``: breaks of that class (truth ``class`` = the scored class) against all
  controls, with scores ``-delta`` (a break should lower the class logit) and ``relevance_ref``
  (the reference base of a break should carry relevance);
* ``create_vs_control``: creates of that class against all controls, with score ``delta``.

AUROC is the Mann-Whitney statistic with ties counting one half (:func:`seqlrp.models.metrics.auroc`);
NaN when either side is empty. Rows whose score is missing (empty or ``nan``) are left out of that
score's comparison. ``odd`` records and truth rows of other classes are not used.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formats.score_table import write_score_table
from ..models.metrics import auroc

VARIANT_EVALUATION_COLUMNS = ("class", "method", "comparison", "score", "auroc", "n_positive", "n_negative",
                              "mean_delta_positive", "mean_delta_negative")
"""Columns of the evaluation table; the mean deltas are over the positives and negatives of the row."""

COMPARISONS = (
    ("break_vs_control", "break", "-delta"),
    ("break_vs_control", "break", "relevance_ref"),
    ("create_vs_control", "create", "delta"),
)
"""(comparison, positive label, score) of every row written per class and method; negatives are controls."""

_SCORE_COLUMNS = ("chrom", "pos", "ref", "alt", "class", "method", "delta", "relevance_ref")
_TRUTH_COLUMNS = ("chrom", "pos", "ref", "alt", "label", "class")


def _number(text: str | None) -> float:
    """A float from a table cell; NaN for empty, ``nan``, ``NA`` or anything unparsable."""
    if text is None:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _key(chrom: str, pos: str, ref: str, alt: str, path: Path, line: int) -> tuple[str, int, str, str]:
    try:
        position = int(pos)
    except ValueError:
        raise InputError(path, f"pos {pos!r} is not a whole number", line) from None
    # contigs compared without a 'chr' prefix: scores.tsv names them as the genome does (after the
    # VCF reader's chr mapping), a truth table may name them as the VCF does
    name = chrom.strip()
    return name[3:] if name.startswith("chr") else name, position, ref.strip().upper(), alt.strip().upper()


def _reader(handle, path: Path, required: Iterable[str]) -> csv.DictReader:
    reader = csv.DictReader(handle, delimiter="\t")
    missing = [c for c in required if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(path, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}", 1)
    return reader


def read_variant_truth(truth_tsv: str | os.PathLike) -> dict[tuple[str, int, str, str], tuple[str, str]]:
    """``(chrom, pos, REF, ALT) -> (label, class)`` of a truth table (pos 1-based, alleles upper case)."""
    path = Path(truth_tsv)
    truth = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for line, row in enumerate(_reader(handle, path, _TRUTH_COLUMNS), start=2):
            key = _key(row["chrom"], row["pos"], row["ref"], row["alt"], path, line)
            truth[key] = (row["label"], row["class"] or "")
    return truth


def variant_aurocs(scores_tsv: str | os.PathLike, truth_tsv: str | os.PathLike) -> list[dict]:
    """AUROC rows (keys :data:`VARIANT_EVALUATION_COLUMNS`) for every (class, method) of ``scores_tsv``.

    Parameters
    ----------
    scores_tsv : str or PathLike
        The variants stage's scores table (tab-separated, header line), read as a stream: only rows
        whose ``(chrom, pos, REF, ALT)`` is in the truth table are kept.
    truth_tsv : str or PathLike
        ``chrom, pos, ref, alt, label, class[, motif]``; ``label`` break/create/control/odd.

    Returns
    -------
    list of dict
        Per (class, method), in the order they first appear in ``scores_tsv``, one row per entry of
        :data:`COMPARISONS`: ``auroc`` (float, NaN when a side is empty), ``n_positive`` and
        ``n_negative`` (variants with that score defined) and the mean ``delta`` of each side (NaN
        when empty or undefined).
    """
    truth = read_variant_truth(truth_tsv)
    path = Path(scores_tsv)
    # (class, method) -> list of (label, delta, relevance_ref) of the rows that count
    groups: dict[tuple[str, str], list[tuple[str, float, float]]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for line, row in enumerate(_reader(handle, path, _SCORE_COLUMNS), start=2):
            group = groups.setdefault((row["class"], row["method"]), [])
            key = _key(row["chrom"], row["pos"], row["ref"], row["alt"], path, line)
            found = truth.get(key)
            if found is None:
                continue
            label, truth_class = found
            if label == "control" or (label in ("break", "create") and truth_class == row["class"]):
                group.append((label, _number(row["delta"]), _number(row["relevance_ref"])))

    rows = []
    for (cls, method), members in groups.items():
        labels = np.array([m[0] for m in members], dtype=object)
        delta = np.array([m[1] for m in members], dtype=np.float64)
        scores = {"-delta": -delta, "delta": delta,
                  "relevance_ref": np.array([m[2] for m in members], dtype=np.float64)}
        for comparison, positive, score_name in COMPARISONS:
            values = scores[score_name]
            use = np.isin(labels, (positive, "control")) & np.isfinite(values)
            is_positive = labels[use] == positive
            n_pos, n_neg = int(is_positive.sum()), int((~is_positive).sum())
            area = auroc(is_positive, values[use]) if n_pos and n_neg else math.nan
            rows.append({
                "class": cls, "method": method, "comparison": comparison, "score": score_name,
                "auroc": float(area), "n_positive": n_pos, "n_negative": n_neg,
                "mean_delta_positive": _mean(delta[use][is_positive]),
                "mean_delta_negative": _mean(delta[use][~is_positive]),
            })
    return rows


def _mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def write_variant_evaluation(rows: Iterable[Mapping], path: str | os.PathLike) -> None:
    """Write ``rows`` atomically as a TSV: :data:`VARIANT_EVALUATION_COLUMNS`, floats with 6 decimals, NA when undefined."""
    write_score_table(path, VARIANT_EVALUATION_COLUMNS, rows)
