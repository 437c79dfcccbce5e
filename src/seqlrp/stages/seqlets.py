"""Stage ``seqlets``: call seqlets on one class and method's attributions, FDR-calibrated.

The null is the same method's relevance on shuffled windows (:mod:`seqlrp.analysis.seqlet_null`);
the calling is :mod:`seqlrp.analysis.seqlets`, the BED's track line
:func:`seqlrp.analysis.track_headers.seqlets_track_line`. The windows are read from the
attribution store in chunks, twice (thresholds, then calls): memory holds one chunk, the null and
the seqlets.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from ..analysis.seqlet_null import null_relevance
from ..analysis.seqlets import FdrThreshold, call_seqlets_by_sign, window_scores, write_seqlets_bed
from ..analysis.track_headers import seqlets_track_line
from ..analysis.tracks import chrom_sizes_from_tsv, observed_rows
from ..attribution.store import read_attribution
from ..formats.atomic import atomic_write_text
from ..models.device import configure_threads

log = logging.getLogger(__name__)


def run(config: Mapping, attr_dir: str, onehot_path: str, model_path: str, chrom_sizes_path: str,
        outputs: Mapping[str, str], seed: int, device: str = "auto", threads: int | None = None,
        chunk: int = 4096) -> int:
    """Seqlets BED9 and a thresholds summary (JSON) for the attribution store in ``attr_dir``
    (over the data set's one-hot ``onehot_path``)."""
    configure_threads(threads)
    store = read_attribution(attr_dir, onehot_path, {"chrom": str, "start": int, "end": int, "strand": str})
    settings, spec, table = store.settings, store.spec, store.table
    values = observed_rows(store.relevance, store.onehot)
    window = config["window"]
    null = null_relevance(model_path, store.onehot, store.target, spec, config["n_null"], config["n_shuffles"],
                          seed, device)
    null_scores = window_scores(null, window)
    positive_side, negative_side = FdrThreshold(null_scores, config["fdr"]), FdrThreshold(-null_scores, config["fdr"])
    for _, block in values.chunks(chunk):
        scores = window_scores(block, window)
        positive_side.add(scores)
        negative_side.add(-scores)
    t_pos, t_neg = positive_side.value(), negative_side.value()
    positive, negative = [], []
    for lo, block in values.chunks(chunk):
        found = call_seqlets_by_sign(block, window, t_pos, t_neg, config["flank"], first_row=lo)
        positive += found[0]
        negative += found[1]
    seqlets = positive + negative
    prefix = f"{settings['class']}.{settings['method']}."
    n = write_seqlets_bed(outputs["bed"], seqlets, table["chrom"], table["start"], table["end"],
                          table["strand"], chrom_sizes_from_tsv(chrom_sizes_path), prefix,
                          seqlets_track_line(settings["class"], settings["method"], spec, config["fdr"]))
    summary = {"class": settings["class"], "method": settings["method"], "window": window, "flank": config["flank"],
               "fdr": config["fdr"], "threshold_positive": t_pos, "threshold_negative": t_neg,
               "null_windows": int(null.shape[0]), "windows": len(store), "seqlets": n,
               "positive": sum(s.total >= 0 for s in seqlets), "negative": sum(s.total < 0 for s in seqlets)}
    with atomic_write_text(outputs["summary"]) as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
        handle.write("\n")
    log.info("seqlets %s: thresholds +%.4g / -%.4g at FDR %s; %d seqlets in %d windows", prefix.rstrip("."), t_pos, t_neg,
             config["fdr"], n, len(store))
    return n
