"""PLRP against the field's attribution methods: time and ground-truth AUROC on the demo model;
time and correctness on a BPNet-size residual model (``--bpnet``).

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
  activation (:class:`seqlrp.models.layers.Exp`) is not in it, so it is registered with tangermeme's
  generic rescale rule (``additional_nonlinear_ops={Exp: _nonlinear}``, the rule tangermeme uses
  for ReLU, ELU, Softplus ...: the secant ``(exp(z) - exp(z0)) / (z - z0)`` replaces the
  gradient). Without it the summation-to-delta property fails by several hundred per cent on
  the demo model and tangermeme warns. The rest of the demo CNN needs nothing: Conv1d,
  BatchNorm (eval), average pooling, Flatten, Linear and Dropout (eval) are linear, ReLU and
  non-overlapping MaxPool1d have built-in rules, and no module works in place;
* **ISM** — :func:`seqlrp.attribution.baselines.ism` (every single-base substitution, one forward pass each).

Scores and metric: those of the ``evaluate`` stage (:mod:`seqlrp.analysis.evaluation`). Per position,
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

**BPNet mode** (``--bpnet``, no data files): a residual model the size of BPNet
(:class:`models.BPNetSize`: bpnet-lite's BPNet written out, conv 64x21, 8 dilated residual
layers ``X = X + relu(conv(X))`` added in ``forward``, profile and counts heads; random weights
drawn with ``--seed``) and ``--sequences`` (8) random one-hot sequences of 2,114 bp; every method
explains the counts head (N, 1). Methods: seqlrp LRP-epsilon (epsilon = stabilizer = 1e-9),
epsilon-plus, epsilon-plus PLRP-lambda (``Prune(0.25)``), gradient x input, Zennit epsilon
(1e-9) and epsilon-plus (the construction of tests/test_lrp_zennit.py, on the counts output;
skipped without zennit) and tangermeme's DeepLIFT/SHAP (``--n-shuffles`` (10) dinucleotide
shuffles, seeded; skipped without tangermeme). Timing as above (warm-up, ``--repeats`` interleaved
rounds, all sequences in one call), with seconds per sequence and time relative to gradient x
input. Correctness without ground truth:

* sum error, per sequence, on a copy of the model with every bias zeroed (a bias-free ReLU network
  is positively homogeneous, so gradient x input and conserving rules sum to the output):
  ``|sum of attributions - f(x)| / |f(x)|``; for DeepLIFT/SHAP its summation-to-delta error
  ``|sum - (f(x) - mean_ref f(ref))| / |f(x) - mean_ref f(ref)|`` over the references it drew
  (``return_references``); the table gives the largest and the median over the sequences.
  Zennit hooks modules only, so the gradient passes the functional adds unsplit and each of the
  8 residual adds hands both branches the full relevance (epsilon-plus: 2^8 times the output);
* oracle, float64 with the biases kept: ``max |LRP-0 - gradient x input| / max |gradient x input|``
  for seqlrp's LRP-0 (epsilon 0, stabilizer 0, exact BatchNorm) and Zennit's epsilon rule at
  epsilon 0 (LRP-0 equals gradient x input on any ReLU network).

    python benchmarks/peers.py --bpnet [--sequences 8] [--n-shuffles 10] [--seed 0] [--threads 2]
        [--repeats 3] [--dls-batch 128] [--out peers_bpnet.tsv]
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

from seqlrp.analysis.evaluation import (
    intervals_by_chrom,
    ism_scores,
    mean_finite,
    observed_scores,
    per_sequence_auroc,
    truth_mask,
)
from seqlrp.attribution.baselines import deeplift_shap, ism
from seqlrp.errors import SeqlrpError
from seqlrp.formats.atomic import atomic_write_text
from seqlrp.formats.regions import read_regions
from seqlrp.lrp import Prune, relevance
from seqlrp.models import check_compatible, describe, load_model
from seqlrp.sequences.dataset import ExtractedData, load_extracted

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

    ``truth``: chromosome -> intervals (k, 2) (:func:`seqlrp.analysis.evaluation.intervals_by_chrom`).
    """
    rows = np.flatnonzero((np.asarray(data.table.cls, dtype=object) == cls) & (data.splits == "test"))
    mask = window_truth(data, rows, truth)
    no_n = (np.asarray(data.onehot[rows]).sum(axis=1) == 1).all(axis=1)
    rows = rows[mask.any(axis=1) & no_n]
    if rows.size == 0:
        raise SeqlrpError(f"peers: no N-free test window of class {cls!r} overlaps the truth intervals")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=min(n, rows.size), replace=False))


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
        table[DLS_NAME] = lambda x: observed(deeplift_shap(model, x, target, batch_size=dls_batch), x)
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


# --- BPNet mode (--bpnet): no data files, correctness without ground truth -------------------------

BPNET_COLUMNS = ("method", "sequences", "seconds", "best_seconds", "cpu_seconds", "s_per_seq", "time_vs_gxi",
                 "sum_error_max", "sum_error_median", "sum_compared_to")
ZENNIT_EPSILON = 1e-9


def _zennit_relevance():
    """``zennit_relevance`` of tests/test_lrp_zennit.py (the tests' construction, with its
    torchvision stand-in for the import), or None without zennit."""
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_lrp_zennit import zennit_relevance
    except BaseException as err:  # pytest.skip raises a BaseException when zennit is missing
        print(f"zennit not available ({err}): its rows are skipped", file=sys.stderr)
        return None
    return zennit_relevance


def bias_free(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with every bias set to zero: a ReLU network without biases is positively
    homogeneous, so gradient x input and conserving LRP rules sum exactly to the output."""
    import copy

    model = copy.deepcopy(model)
    with torch.no_grad():
        for module in model.modules():
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()
    return model


def bpnet_dls(model: torch.nn.Module, x: torch.Tensor, *, n_shuffles: int, seed: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """tangermeme's DeepLIFT/SHAP of BPNet's counts head: attributions (N, 4, L) (observed base)
    and the references it drew (N, n_shuffles, 4, L); its own convergence warnings are silenced
    (the benchmark reports the summation-to-delta error itself)."""
    import warnings

    from models import Counts
    from tangermeme.deep_lift_shap import deep_lift_shap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = deep_lift_shap(Counts(model), x, target=0, n_shuffles=n_shuffles, batch_size=batch_size,
                             device="cpu", random_state=seed, return_references=True)
    return out.attributions, out.references


def bpnet_methods(n_shuffles: int, seed: int, dls_batch: int) -> dict[str, tuple[Callable, str]]:
    """{name: (fn(model, x) -> attribution (N, 4, L) of the counts head, what its sum is compared to)}.

    ``fn`` takes the :class:`models.BPNetSize`; DeepLIFT/SHAP's ``fn`` returns (attributions,
    references). Zennit's and tangermeme's rows only where they are installed."""
    from models import Counts

    def grad_x_input(model, x):
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(xg)[1][:, 0].sum(), xg)
        return (grad * xg).detach()

    out = "f(x)"
    table: dict[str, tuple[Callable, str]] = {
        "seqlrp epsilon (eps 1e-9)": (lambda m, x: relevance(m, x, 0, output=1, composite="epsilon", epsilon=1e-9, stabilizer=1e-9), out),
        "seqlrp epsilon-plus": (lambda m, x: relevance(m, x, 0, output=1, composite="epsilon-plus"), out),
        "seqlrp epsilon-plus PLRP-lambda": (lambda m, x: relevance(m, x, 0, output=1, composite="epsilon-plus",
                                                                   prune=Prune(0.25, mode="lambda")), out),
        "gradient x input": (grad_x_input, out),
    }
    zennit_relevance = _zennit_relevance()
    if zennit_relevance is not None:
        table["zennit epsilon (eps 1e-9)"] = (lambda m, x: zennit_relevance(Counts(m), x, 0, "epsilon", epsilon=ZENNIT_EPSILON), out)
        table["zennit epsilon-plus"] = (lambda m, x: zennit_relevance(Counts(m), x, 0, "epsilon-plus"), out)
    try:
        import tangermeme  # noqa: F401
    except ImportError:
        print(f"tangermeme is not installed: {DLS_NAME} skipped (pip install seqlrp[peers])", file=sys.stderr)
    else:
        table[f"{DLS_NAME} ({n_shuffles} shuffles)"] = (
            lambda m, x: bpnet_dls(m, x, n_shuffles=n_shuffles, seed=seed, batch_size=dls_batch), "f(x) - mean f(ref)")
    return table


def sum_errors(model: torch.nn.Module, x: torch.Tensor, attribution, compared_to: str) -> np.ndarray:
    """Per sequence |sum of the attribution - y| / |y|: y the counts output ``f(x)``, or for
    DeepLIFT/SHAP (``attribution`` = (attributions, references)) ``f(x) - mean f(ref)``."""
    with torch.no_grad():
        y = model(x)[1][:, 0].double()
        if compared_to != "f(x)":
            attribution, refs = attribution
            n, k = refs.shape[:2]
            y = y - model(refs.reshape(n * k, *refs.shape[2:]).to(x.dtype))[1][:, 0].double().view(n, k).mean(1)
    total = attribution.double().sum((1, 2))
    return ((total - y).abs() / y.abs()).numpy()


def rel_max_error(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return ((ours - ref).abs().max() / ref.abs().max()).item()


def bpnet_oracle(model: torch.nn.Module, x: torch.Tensor) -> list[tuple[str, float]]:
    """LRP-0 against gradient x input in float64 on ``model`` (biases kept): seqlrp (epsilon 0,
    stabilizer 0, exact BatchNorm) and, with zennit, Zennit's epsilon rule at epsilon 0."""
    import copy

    from models import Counts

    model, x = copy.deepcopy(model).double(), x.double()
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(xg)[1][:, 0].sum(), xg)
    gxi = (grad * xg).detach()
    rows = [("seqlrp LRP-0", rel_max_error(relevance(model, x, 0, output=1, composite="epsilon", epsilon=0.0,
                                                     stabilizer=0.0, exact_batchnorm=True), gxi))]
    zennit_relevance = _zennit_relevance()
    if zennit_relevance is not None:
        rows.append(("zennit epsilon, eps 0", rel_max_error(zennit_relevance(Counts(model), x, 0, "epsilon", epsilon=0.0), gxi)))
    return rows


def bpnet_main(args) -> int:
    from models import BPNET_LENGTH, bpnet_size

    model = bpnet_size(seed=args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (args.sequences, BPNET_LENGTH), generator=gen), 4)
    x = x.transpose(1, 2).float().contiguous()
    table = bpnet_methods(args.n_shuffles, args.seed, args.dls_batch)
    for fn, _ in table.values():  # warm-up (LRP: the capture of the model at this input shape)
        fn(model, x)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in table}
    for _ in range(args.repeats):
        for name, (fn, _) in table.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn(model, x)
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    free = bias_free(model)
    errors = {name: sum_errors(free, x, fn(free, x), compared_to) for name, (fn, compared_to) in table.items()}
    oracle = bpnet_oracle(model, x)

    base = sorted(times["gradient x input"])[(args.repeats - 1) // 2][0]
    rows = []
    for name, runs in times.items():
        wall, cpu = sorted(runs)[(len(runs) - 1) // 2]
        rows.append([name, str(len(x)), f"{wall:.3f}", f"{min(w for w, _ in runs):.3f}", f"{cpu:.3f}",
                     f"{wall / len(x):.4f}", f"{wall / base:.2f}", f"{errors[name].max():.2e}",
                     f"{np.median(errors[name]):.2e}", table[name][1]])
    print(f"torch {torch.__version__}, {args.threads} threads, BPNet-size model (64 filters, 8 dilated residual "
          f"layers, random weights, seed {args.seed}), {len(x)} random sequences x {BPNET_LENGTH} bp, counts head; "
          f"median of {args.repeats} rounds; load average {os.getloadavg()[0]:.1f} at the end")
    print("sum error: |sum of attributions - y| / |y| per sequence on the bias-free copy of the model")
    widths = (36, 9, 8, 12, 11, 9, 11, 13, 16, 18)
    print(" ".join(f"{c:>{w}s}" if i else f"{c:{w}s}" for i, (c, w) in enumerate(zip(BPNET_COLUMNS, widths))))
    for row in rows:
        print(" ".join(f"{v:>{w}s}" if i else f"{v:{w}s}" for i, (v, w) in enumerate(zip(row, widths))))
    print("oracle, float64, biases kept: max |LRP-0 - gradient x input| / max |gradient x input|")
    for name, err in oracle:
        print(f"  {name:34s} {err:.2e}")
    if args.out:
        with atomic_write_text(args.out) as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(BPNET_COLUMNS)
            writer.writerows(rows)
            for name, err in oracle:
                writer.writerow([f"oracle {name}", str(len(x)), "", "", "", "", "", f"{err:.2e}", "", "gradient x input (float64)"])
    return 0


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
    parser.add_argument("--bpnet", action="store_true",
                        help="BPNet-size model, random weights and sequences: time and correctness, no data files")
    parser.add_argument("--sequences", type=int, default=8, help="--bpnet: random sequences explained")
    parser.add_argument("--n-shuffles", type=int, default=10, help="--bpnet: DeepLIFT/SHAP references per sequence")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.bpnet:
        return bpnet_main(args)
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
