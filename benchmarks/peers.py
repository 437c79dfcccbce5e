"""PLRP against the field's attribution methods: time and ground-truth AUROC on one model.

On the demo model and the demo's positive test windows (every one carries 1-3 planted target
motifs, listed in ``truth.bed``), four methods explain the logit of ``--class``:

* **PLRP** — the configured default: composite epsilon-plus, ``Prune(p_pos=0.25, mode="lambda")``;
* **LRP** — epsilon-plus without pruning;
* **DeepLIFT/SHAP** — tangermeme's ``deep_lift_shap`` as the field calls it: 20
  dinucleotide-shuffled references per sequence (tangermeme's own ``dinucleotide_shuffle``,
  seeded with ``random_state``), attributions averaged over the references, observed base only
  (``hypothetical=False``), 128 sequence-reference pairs per batch (``--dls-batch``; tangermeme's
  default, 32, was no faster here). tangermeme applies DeepLIFT's rescale rule only to the module types
  in its table and treats every other module as linear; seqlrp's exponential first-layer
  activation (:class:`seqlrp.layers.Exp`) is not in it, so it is registered with tangermeme's
  generic rescale rule (``additional_nonlinear_ops={Exp: _nonlinear}``, the rule tangermeme uses
  for ReLU, ELU, Softplus ...: the secant ``(exp(z) - exp(z0)) / (z - z0)`` replaces the
  gradient). Without it the summation-to-delta property fails by several hundred per cent on
  the demo model and tangermeme warns. The rest of the demo CNN needs nothing: Conv1d,
  BatchNorm (eval), average pooling, Flatten, Linear and Dropout (eval) are linear, ReLU and
  non-overlapping MaxPool1d have built-in rules, and no module works in place;
* **ISM** — :func:`seqlrp.baselines.ism` (every single-base substitution, one forward pass each).

Scores and metric: those of the ``evaluate`` stage (:mod:`seqlrp.evaluation`). Per position,
the signed attribution of the observed base (``observed_scores``); ISM scores the observed base 0
by construction, so its score is ``-mean`` of the three alternative-base deltas (``ism_scores``:
how much the logit falls, on average, when the base is mutated; Koo & Ploenzke 2021). Per
sequence, positions inside a planted instance (any ``--truth`` interval overlapping the window,
in window orientation: ``-`` strand windows are mirrored) are positives; the AUROC of the scores
is averaged over sequences (Koo & Ploenzke 2021 protocol).

Windows: ``--windows`` windows of ``--class`` from the test split that overlap at least one truth
interval and hold no N (tangermeme's input check rejects all-zero columns), chosen at random with
``--seed`` and explained in row order. Timing: torch with ``--threads`` threads on the CPU; every
method first runs once on a few windows (warm-up); then ``--repeats`` rounds run every method
once on all windows, methods interleaved so that load from other processes hits all of them; the
table shows the median wall-clock seconds of a round, the fastest round (less sensitive to other
processes), the process CPU seconds of the median round, sequences per second and the median
time relative to PLRP's. Figures on a shared machine are noisy.

DeepLIFT/SHAP needs the optional extra: ``pip install seqlrp[peers]`` (tangermeme). Without it
the benchmark says so and runs the other methods.

    python benchmarks/peers.py [--model results/model/model.pt] [--data-dir results/data]
        [--truth results/demo/truth.bed] [--windows 150] [--threads 2] [--repeats 3] [--out peers.tsv]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from seqlrp.atomic import atomic_write_text
from seqlrp.baselines import ism
from seqlrp.checkpoint import check_compatible, load_model
from seqlrp.dataset import ExtractedData, load_extracted
from seqlrp.errors import SeqlrpError
from seqlrp.evaluation import (
    intervals_by_chrom,
    ism_scores,
    mean_finite,
    observed_scores,
    per_sequence_auroc,
    truth_mask,
)
from seqlrp.layers import Exp
from seqlrp.lrp import Prune, relevance
from seqlrp.models import describe
from seqlrp.regions import read_regions

DLS_NAME = "DeepLIFT/SHAP"
COLUMNS = ("method", "windows", "seconds", "best_seconds", "cpu_seconds", "seqs_per_s", "time_vs_plrp", "auroc")
AIM_SPEEDUP, AIM_AUROC_LOSS = 10.0, 0.02  # issue 6: PLRP >= 10x faster than DeepLIFT/SHAP, AUROC <= 0.02 lower


def window_truth(data: ExtractedData, rows: np.ndarray, truth: Mapping[str, np.ndarray]) -> np.ndarray:
    """Planted positions (n, L) bool of windows ``rows``, in window orientation."""
    t = data.table
    return truth_mask([t.chrom[r] for r in rows], [t.start[r] for r in rows], [t.strand[r] for r in rows],
                      data.seq_len, truth)


def choose_windows(data: ExtractedData, cls: str, truth: Mapping[str, np.ndarray], n: int, seed: int) -> np.ndarray:
    """Rows (m,) ascending, m = min(n, available): test windows of ``cls`` with a planted site, no N.

    ``truth``: chromosome -> intervals (k, 2) (:func:`seqlrp.evaluation.intervals_by_chrom`).
    """
    rows = np.flatnonzero((np.asarray(data.table.cls, dtype=object) == cls) & (data.splits == "test"))
    mask = window_truth(data, rows, truth)
    no_n = (np.asarray(data.onehot[rows]).sum(axis=1) == 1).all(axis=1)
    rows = rows[mask.any(axis=1) & no_n]
    if rows.size == 0:
        raise SeqlrpError(f"peers: no N-free test window of class {cls!r} overlaps the truth intervals")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=min(n, rows.size), replace=False))


def deep_lift_shap_attributions(
    model: torch.nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    n_shuffles: int = 20,
    seed: int = 0,
    batch_size: int = 128,
    references: torch.Tensor | None = None,
) -> torch.Tensor:
    """tangermeme's DeepLIFT/SHAP of logit ``target`` for one-hot ``x`` (N, 4, L), observed base only.

    References: ``n_shuffles`` dinucleotide shuffles per sequence drawn by tangermeme with
    ``random_state=seed``, or ``references`` (N, R, 4, L). ``batch_size`` counts
    sequence-reference pairs. seqlrp's :class:`~seqlrp.layers.Exp` gets the rescale rule.
    Raises ImportError without tangermeme.
    """
    from tangermeme.deep_lift_shap import _nonlinear, deep_lift_shap

    kwargs = {} if references is None else {"references": references}
    return deep_lift_shap(model, x, target=target, n_shuffles=n_shuffles, batch_size=batch_size,
                          additional_nonlinear_ops={Exp: _nonlinear}, device="cpu", random_state=seed, **kwargs)


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], batch: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: torch.cat([fn(x[lo : lo + batch]) for lo in range(0, len(x), batch)])


def methods(model: torch.nn.Module, target: int, batch: int, dls_batch: int) -> dict[str, Callable[[torch.Tensor], np.ndarray]]:
    """{name: x (N, 4, L) -> per-position score (N, L)}; DeepLIFT/SHAP only with tangermeme."""
    def observed(attr: torch.Tensor, x: torch.Tensor) -> np.ndarray:
        return observed_scores(attr.numpy(), x.numpy())  # x.numpy() shares x's memory

    plrp = _batched(lambda x: relevance(model, x, target, composite="epsilon-plus", prune=Prune(0.25, mode="lambda")), batch)
    lrp = _batched(lambda x: relevance(model, x, target, composite="epsilon-plus"), batch)
    table = {
        "PLRP (epsilon-plus, lambda p=0.25)": lambda x: observed(plrp(x), x),
        "LRP epsilon-plus": lambda x: observed(lrp(x), x),
    }
    try:
        import tangermeme  # noqa: F401
    except ImportError:
        print(f"tangermeme is not installed: {DLS_NAME} skipped (pip install seqlrp[peers])", file=sys.stderr)
    else:
        table[DLS_NAME] = lambda x: observed(deep_lift_shap_attributions(model, x, target, batch_size=dls_batch), x)
    table["ISM"] = lambda x: ism_scores(ism(model, x, target).numpy(), x.numpy())
    return table


def run(table: dict, x: torch.Tensor, repeats: int, warmup: int) -> tuple[dict, dict]:
    """Scores {name: (N, L)} of the first round and times {name: [(wall, cpu), ...]}."""
    for fn in table.values():
        fn(x[:warmup])
    scores: dict[str, np.ndarray] = {}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in table}
    for _ in range(repeats):
        for name, fn in table.items():
            wall, cpu = time.perf_counter(), time.process_time()
            out = fn(x)
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
            scores.setdefault(name, out)
    return scores, times


def summarise(scores: dict, times: dict, mask: np.ndarray) -> list[dict]:
    """One row per method (see COLUMNS); the round of median wall time gives seconds and cpu_seconds."""
    rows = []
    for name, runs in times.items():
        wall, cpu = sorted(runs)[(len(runs) - 1) // 2]
        rows.append({"method": name, "windows": len(mask), "seconds": wall, "best_seconds": min(w for w, _ in runs),
                     "cpu_seconds": cpu, "seqs_per_s": len(mask) / wall,
                     "auroc": mean_finite(per_sequence_auroc(mask, scores[name]))})
    base = rows[0]["seconds"]
    for row in rows:
        row["time_vs_plrp"] = row["seconds"] / base
    return rows


def _format(row: dict) -> list[str]:
    return [row["method"], str(row["windows"]), f"{row['seconds']:.3f}", f"{row['best_seconds']:.3f}",
            f"{row['cpu_seconds']:.3f}", f"{row['seqs_per_s']:.1f}", f"{row['time_vs_plrp']:.2f}", f"{row['auroc']:.4f}"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="results/model/model.pt")
    parser.add_argument("--data-dir", default="results/data", help="onehot.npy, regions.tsv, dataset.json")
    parser.add_argument("--truth", default="results/demo/truth.bed", help="BED of planted motif instances")
    parser.add_argument("--class", dest="cls", default="positive", help="class whose windows and logit are explained")
    parser.add_argument("--windows", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0, help="window choice and DeepLIFT/SHAP references")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128, help="windows per LRP call")
    parser.add_argument("--dls-batch", type=int, default=128, help="sequence-reference pairs per DeepLIFT/SHAP batch")
    parser.add_argument("--out", help="also write the table as TSV here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data_dir = Path(args.data_dir)
    try:
        data = load_extracted(data_dir / "onehot.npy", data_dir / "regions.tsv", data_dir / "dataset.json")
        model = load_model(args.model)
        check_compatible(describe(model), seq_len=data.seq_len, classes=data.classes, alphabet=data.alphabet, path=args.model)
        if args.cls not in data.classes:
            raise SeqlrpError(f"peers: class {args.cls!r} is not among the data's classes {', '.join(data.classes)}")
        truth = intervals_by_chrom(read_regions(args.truth))
        rows = choose_windows(data, args.cls, truth, args.windows, args.seed)
    except SeqlrpError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    mask = window_truth(data, rows, truth)
    x = torch.from_numpy(np.asarray(data.onehot[rows], dtype=np.float32))
    table = methods(model, data.classes.index(args.cls), args.batch, args.dls_batch)
    scores, times = run(table, x, args.repeats, warmup=min(8, len(x)))
    result = summarise(scores, times, mask)

    print(f"torch {torch.__version__}, {args.threads} threads, {len(rows)} windows x {data.seq_len} bp "
          f"(class {args.cls}, seed {args.seed}), median of {args.repeats} rounds; planted positions "
          f"{mask.mean():.1%}; load average {os.getloadavg()[0]:.1f} at the end")
    widths = (36, 7, 9, 12, 11, 10, 12, 7)
    print(" ".join(f"{c:>{w}s}" if i else f"{c:{w}s}" for i, (c, w) in enumerate(zip(COLUMNS, widths))))
    for row in result:
        print(" ".join(f"{v:>{w}s}" if i else f"{v:{w}s}" for i, (v, w) in enumerate(zip(_format(row), widths))))
    dls = next((row for row in result if row["method"] == DLS_NAME), None)
    if dls is not None:
        plrp = result[0]
        speedup, loss = dls["seconds"] / plrp["seconds"], dls["auroc"] - plrp["auroc"]
        met = speedup >= AIM_SPEEDUP and loss <= AIM_AUROC_LOSS
        print(f"PLRP vs {DLS_NAME}: {speedup:.1f}x faster, AUROC {-loss:+.4f}; aim (>= {AIM_SPEEDUP:g}x, "
              f"AUROC no more than {AIM_AUROC_LOSS} lower): {'met' if met else 'NOT met'}")
    if args.out:
        with atomic_write_text(args.out) as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(COLUMNS)
            for row in result:
                writer.writerow(_format(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
