"""Stage ``seqlets``: call seqlets on one class and method's attributions, FDR-calibrated."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import __version__
from ..analysis.seqlets import call_seqlets, fdr_threshold, window_scores, write_seqlets_bed
from ..analysis.tracks import chrom_sizes_from_tsv, observed_relevance
from ..formats.arrays import open_npz
from ..formats.atomic import atomic_write_text
from ..formats.table import read_regions_tsv
from ..formats.trackline import bed_track_line
from ..models import load_model
from ..models.device import choose_device, configure_threads
from ..sequences.shuffle import shuffle_onehot
from .attribute import MethodSpec, explain

log = logging.getLogger(__name__)


def null_relevance(model_path, onehot: np.ndarray, target: int, spec: MethodSpec, n_null: int, n_shuffles: int,
                   seed: int, device: str = "auto", batch_size: int = 128) -> np.ndarray:
    """Observed-base relevance (m, L) of dinucleotide-shuffled copies of up to ``n_null`` windows."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(onehot), size=min(n_null, len(onehot)), replace=False))
    shuffled = shuffle_onehot(np.asarray(onehot[pick]), n_shuffles=n_shuffles, seed=seed)
    torch_device = choose_device(device)
    model = load_model(model_path).to(torch_device)
    chunks = [observed_relevance(result.relevance.float().cpu().numpy(), x)
              for x, result in explain(model, shuffled, target, spec, torch_device, batch_size)]
    return np.concatenate(chunks)


def seqlets_track_line(cls: str, method: str, spec: MethodSpec, fdr: float) -> str:
    """The seqlets BED's ``track`` line: name ``{cls} {method} seqlets``, the method and the FDR in the description."""
    return bed_track_line(f"{cls} {method} seqlets",
                          f"seqlrp {__version__} seqlets: class {cls}, method {method} ({spec.describe()}), FDR {fdr}; "
                          "red positive, blue negative relevance")


def run(config: Mapping, attr_dir: str, model_path: str, chrom_sizes_path: str, outputs: Mapping[str, str],
        seed: int, device: str = "auto", threads: int | None = None) -> int:
    """Seqlets BED9 and a thresholds summary (JSON) for the attributions in ``attr_dir``."""
    configure_threads(threads)
    attr_dir = Path(attr_dir)
    settings = json.loads((attr_dir / "settings.json").read_text())
    spec = MethodSpec.from_settings(settings)
    table = read_regions_tsv(attr_dir / "regions.tsv")
    onehot = open_npz(attr_dir / "ohe.npz")
    values = observed_relevance(open_npz(attr_dir / "attr.npz"), onehot)
    window = config["window"]
    null = null_relevance(model_path, onehot, settings["target_index"], spec, config["n_null"], config["n_shuffles"],
                          seed, device)
    real_scores, null_scores = window_scores(values, window), window_scores(null, window)
    t_pos = fdr_threshold(real_scores, null_scores, config["fdr"])
    t_neg = fdr_threshold(-real_scores, -null_scores, config["fdr"])
    seqlets = call_seqlets(values, window, t_pos, t_neg, config["flank"])
    prefix = f"{settings['class']}.{settings['method']}."
    n = write_seqlets_bed(outputs["bed"], seqlets, table.chrom, np.asarray(table.start), np.asarray(table.end),
                          table.strand, chrom_sizes_from_tsv(chrom_sizes_path), prefix,
                          seqlets_track_line(settings["class"], settings["method"], spec, config["fdr"]))
    summary = {"class": settings["class"], "method": settings["method"], "window": window, "flank": config["flank"],
               "fdr": config["fdr"], "threshold_positive": t_pos, "threshold_negative": t_neg,
               "null_windows": int(null.shape[0]), "windows": len(table), "seqlets": n,
               "positive": sum(s.total >= 0 for s in seqlets), "negative": sum(s.total < 0 for s in seqlets)}
    with atomic_write_text(outputs["summary"]) as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
        handle.write("\n")
    log.info("seqlets %s: thresholds +%.4g / -%.4g at FDR %s; %d seqlets in %d windows", prefix.rstrip("."), t_pos, t_neg,
             config["fdr"], n, len(table))
    return n
