"""Control of model focus: which training options change the artifact diagnostics, measured on the demo.

Trains the demo CNN (``seqlrp.models.training.train_model``, CPU, seeded) in a default configuration and
in variants that change one option each:

* ``default``       — exp first activation, global average pooling head, reverse-complement and
  shift (3 bp) augmentation: the pipeline's defaults;
* ``flatten-head``  — ``model.hparams.head: flatten`` (position-specific dense weights);
* ``no-rc``         — ``train.reverse_complement: false``;
* ``no-shift``      — ``train.max_shift: 0``;
* ``relu-first``    — ``model.hparams.first_activation: relu``.

For every model and seed: test AUROC, and on the positive test windows explained by their class
logit with LRP epsilon-plus: border_excess (10 bp), conservation_error, absorbed_share,
randomisation_similarity (fully re-initialised copy, up to 200 windows) — the definitions of
:mod:`seqlrp.analysis.diagnostics` — and motif focus: mean ``|R|`` of observed bases inside planted motif
sites (the truth BED) divided by the mean ``|R|`` at the other positions of the same windows.

    python benchmarks/focus.py --data results/data --truth results/demo/truth.bed --out focus.tsv \
        [--seeds 1 2 3] [--epochs 30] [--threads 2] [--per-seed focus_per_seed.tsv]

Prints a table of means (± standard deviation over seeds) and writes it to ``--out``.
Three seeds x five variants took 548 s on one thread of a shared 2-core machine (load ~8);
``--seeds 1`` runs a third of it. Results and their reading: README, "Control of model focus".
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import time
from dataclasses import replace

import numpy as np
import torch

from seqlrp.analysis import diagnostics as dx
from seqlrp.analysis.artifact_checks import method_relevance, subset
from seqlrp.analysis.tracks import observed_relevance
from seqlrp.attribution.methods import MethodSpec
from seqlrp.formats.regions import read_regions
from seqlrp.models.inference import predict_logits
from seqlrp.models.metrics import auroc
from seqlrp.models.randomise import randomised_copy
from seqlrp.models.training import TrainOptions, train_model
from seqlrp.sequences.dataset import ExtractedData, load_extracted

VARIANTS = {
    "default": ({}, {}),
    "flatten-head": ({"head": "flatten"}, {}),
    "no-rc": ({}, {"reverse_complement": False}),
    "no-shift": ({}, {"max_shift": 0}),
    "relu-first": ({"first_activation": "relu"}, {}),
}
METRICS = ("test_auroc", "border_excess", "conservation_error", "absorbed_share", "randomisation_similarity",
           "motif_focus", "best_epoch")
BORDER = 10
N_RANDOM = 200


def truth_mask(data: ExtractedData, rows: np.ndarray, truth_path: str) -> np.ndarray:
    """True (n, L) at positions of windows ``rows`` covered by a truth site, in window orientation."""
    sites: dict[str, list[tuple[int, int]]] = {}
    for region in read_regions(truth_path):
        sites.setdefault(region.chrom, []).append((region.start, region.end))
    mask = np.zeros((rows.size, data.seq_len), dtype=bool)
    table = data.table
    for i, row in enumerate(rows.tolist()):
        start, end = table.start[row], table.end[row]
        for lo, hi in sites.get(table.chrom[row], []):
            if hi > start and lo < end:
                mask[i, max(lo - start, 0) : min(hi - start, data.seq_len)] = True
        if table.strand[row] == "-":
            mask[i] = mask[i, ::-1]
    return mask


def measure(model, data: ExtractedData, truth_path: str, seed: int) -> dict[str, float]:
    device = torch.device("cpu")
    splits, labels = data.splits, data.labels
    test = np.flatnonzero(splits == "test")
    logits = predict_logits(model, np.asarray(data.onehot[test]), batch_size=512, device=device, mixed_precision=False)
    result = {"test_auroc": auroc(labels[test] == 0, logits[:, 0] - logits[:, 1])}
    rows = np.flatnonzero((splits == "test") & (labels == 0))
    x = np.asarray(data.onehot[rows])
    spec = MethodSpec("epsilon-plus")
    relevance = method_relevance(model, x, 0, spec, device)
    with torch.no_grad():
        target_logits = model(torch.from_numpy(x).float())[:, 0].double().numpy()
    sums = relevance.sum(axis=(1, 2), dtype=np.float64)
    result["border_excess"] = dx.border_excess(dx.positional_profile(relevance), BORDER)
    result["conservation_error"] = dx.conservation_error(target_logits, sums)
    result["absorbed_share"] = dx.absorbed_share(target_logits, sums)
    pick = subset(len(rows), N_RANDOM, seed)
    random_relevance = method_relevance(randomised_copy(model, seed), x[pick], 0, spec, device)
    result["randomisation_similarity"] = dx.randomisation_similarity(
        observed_relevance(relevance[pick], x[pick]), observed_relevance(random_relevance, x[pick]))
    observed = np.abs(observed_relevance(relevance, x))
    inside = truth_mask(data, rows, truth_path)
    result["motif_focus"] = float(np.nanmean(observed[inside]) / np.nanmean(observed[~inside]))
    return result


def summarise(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else math.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="results/data", help="extract stage outputs (onehot.npy, regions.tsv, dataset.json)")
    parser.add_argument("--truth", default="results/demo/truth.bed", help="BED of planted motif sites")
    parser.add_argument("--out", required=True, help="TSV of the table (means and standard deviations over seeds)")
    parser.add_argument("--per-seed", help="optional TSV with one row per variant and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_extracted(f"{args.data}/onehot.npy", f"{args.data}/regions.tsv", f"{args.data}/dataset.json")
    base = TrainOptions(epochs=args.epochs, patience=args.patience, device="cpu", mixed_precision=False)
    per_seed: list[dict] = []
    started = time.perf_counter()
    for name in args.variants:
        hparams, train_changes = VARIANTS[name]
        for seed in args.seeds:
            t0 = time.perf_counter()
            trained = train_model(data.onehot, data.labels, data.splits, data.classes, arch="cnn", hparams=hparams,
                                  options=replace(base, **train_changes), seed=seed, progress=False)
            row = {"variant": name, "seed": seed, **measure(trained.model, data, args.truth, seed),
                   "best_epoch": trained.best_epoch}
            per_seed.append(row)
            print(f"{name} seed {seed}: " + ", ".join(f"{k} {row[k]:.3f}" for k in METRICS)
                  + f" [{time.perf_counter() - t0:.0f} s]", flush=True)
    table = []
    for name in args.variants:
        mine = [r for r in per_seed if r["variant"] == name]
        entry = {"variant": name, "n_seeds": len(mine)}
        for metric in METRICS:
            entry[f"{metric}_mean"], entry[f"{metric}_sd"] = summarise([r[metric] for r in mine])
        table.append(entry)
    columns = ["variant", "n_seeds"] + [f"{m}_{s}" for m in METRICS for s in ("mean", "sd")]
    with open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        for entry in table:
            writer.writerow([entry[c] if isinstance(entry[c], (str, int)) else f"{entry[c]:.4f}" for c in columns])
    if args.per_seed:
        with open(args.per_seed, "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["variant", "seed", *METRICS])
            for r in per_seed:
                writer.writerow([r["variant"], r["seed"]] + [f"{r[m]:.4f}" for m in METRICS])
    print(f"\n{len(args.seeds)} seed(s), up to {args.epochs} epochs (patience {args.patience}), "
          f"{time.perf_counter() - started:.0f} s in all; mean ± sd over seeds\n")
    print("| variant | " + " | ".join(METRICS) + " |")
    print("|---" * (len(METRICS) + 1) + "|")
    for entry in table:
        cells = [f"{entry[f'{m}_mean']:.3f} ± {entry[f'{m}_sd']:.3f}" if m != "best_epoch"
                 else f"{entry[f'{m}_mean']:.1f}" for m in METRICS]
        print(f"| {entry['variant']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
