"""Stage ``seqlets``: call seqlets on one class and method's attributions, FDR-calibrated.

The null is the same method's relevance on shuffled windows (:mod:`seqlrp.analysis.seqlet_null`);
the calling is :mod:`seqlrp.analysis.seqlets`, the BED's track line
:func:`seqlrp.analysis.track_headers.seqlets_track_line`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..analysis.seqlet_null import null_relevance
from ..analysis.seqlets import call_seqlets, fdr_threshold, window_scores, write_seqlets_bed
from ..analysis.track_headers import seqlets_track_line
from ..analysis.tracks import chrom_sizes_from_tsv, observed_relevance
from ..attribution.methods import MethodSpec
from ..formats.arrays import open_npz
from ..formats.atomic import atomic_write_text
from ..formats.table import read_regions_tsv
from ..models.device import configure_threads

log = logging.getLogger(__name__)


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
