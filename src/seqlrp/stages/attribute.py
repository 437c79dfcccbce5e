"""Stage ``attribute``: relevance of every selected window, streamed into the attribution store.

For one class and one configured method, the windows to explain (default: the test-split
windows of that class) are explained by their own class logit, in batches on the chosen device.
One job (:func:`attribute`) explains one shard of the data set's rows and writes
``results/attributions/{class}.{method}/shards/<k>/``: the arrays of
:mod:`seqlrp.attribution.store` (position relevance float32, hypothetical contributions
float16; 10 bytes per base), ``regions.tsv`` — the windows in order: the regions-table columns,
``row`` (index in ``results/data``), ``logit`` (the explained logit) and ``relevance_sum`` (sum
of the input relevance; LRP conserves it up to biases and stabilisers) — and ``settings.json``
(method, composite, input rule, pruning, epsilon, gamma, model file, counts). Memory does not
grow with the number of windows. :func:`join_attributions` then writes the store's own
``regions.tsv`` and ``settings.json`` (which lists the shards); the arrays stay in the shards.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from ..attribution.methods import MethodSpec, explain
from ..attribution.store import ShardWriter, join_shards, write_settings
from ..errors import SeqlrpError
from ..formats.arrays import LazyRows
from ..formats.atomic import atomic_write_text
from ..formats.table import COLUMNS
from ..models.device import choose_device, configure_threads
from ..models.external import ExternalModel
from ..models.loading import load_model_for
from ..models.outputs import scores
from ..sequences.dataset import ExtractedData, load_extracted
from ..sequences.selection import select_rows

log = logging.getLogger(__name__)


@dataclass
class AttributeOptions:
    """``row_range`` (lo, hi): explain only the selected windows whose data-set row is in
    ``[lo, hi)`` — one shard of a sharded run (None: all of them)."""

    selection: str = "all"
    batch_size: int = 128
    device: str = "auto"
    progress: bool = True
    row_range: tuple[int, int] | None = None


def attribute(
    model_path: str | os.PathLike,
    data: ExtractedData,
    cls: str,
    method: str,
    spec: MethodSpec,
    outputs: Mapping[str, str | os.PathLike],
    options: AttributeOptions,
    threads: int | None = None,
) -> int:
    """Explain the selected windows of ``cls``; write ``outputs`` (the shard arrays of
    :data:`~seqlrp.attribution.store.SHARD_ARRAYS`, regions, settings)."""
    configure_threads(threads)
    device = choose_device(options.device)
    model, data = load_model_for(model_path, data)  # a foreign model's classes (config/README.md, model.classes)
    model.to(device)
    target = data.classes.index(cls)
    rows = select_rows(data, cls, options.selection)
    if options.row_range is not None:
        lo_row, hi_row = options.row_range
        rows = rows[(rows >= lo_row) & (rows < hi_row)]
    logits = np.empty(rows.size, dtype=np.float64)
    sums = np.empty(rows.size, dtype=np.float64)
    log.info("attribute: class %s, method %s (%s): %d windows on %s", cls, method, spec.describe(), rows.size, device)
    # the explained output as class scores: a foreign model's tasks picked and reduced like its forward does
    class_scores = model.class_scores if isinstance(model, ExternalModel) else scores
    with ShardWriter(outputs, rows.size, data.seq_len) as store:
        lo = 0
        desc = f"attribute {cls}.{method}" if options.progress else None
        for x, result in explain(model, LazyRows.of(data.onehot, rows), target, spec, device, options.batch_size, desc):
            r = result.relevance.float().cpu().numpy()
            store.write(x, r, result.hypothetical.float().cpu().numpy())
            logits[lo : lo + len(x)] = class_scores(result.logits)[:, target].double().cpu().numpy()
            sums[lo : lo + len(x)] = r.sum(axis=(1, 2), dtype=np.float64)
            lo += len(x)
        _write_table(outputs["regions"], data, rows, logits, sums)
        settings = {"class": cls, "method": method, **asdict(spec), "selection": str(options.selection),
                    "n_windows": int(rows.size), "seq_len": int(data.seq_len), "model": str(model_path),
                    "target_index": target}
        write_settings(outputs["settings"], settings)
    return int(rows.size)


def join_attributions(shard_dirs: list[str | os.PathLike], outputs: Mapping[str, str | os.PathLike]) -> int:
    """The store of one class and method over its shards, in order: ``outputs`` regions and settings
    (the first shard's, with the total ``n_windows`` and the list of shards); returns the number
    of windows. Only the tables are written; the arrays are read where the shards wrote them."""
    return join_shards(shard_dirs, outputs)


def _write_table(path, data: ExtractedData, rows: np.ndarray, logits: np.ndarray, sums: np.ndarray) -> None:
    table = data.table
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow([*COLUMNS, "row", "logit", "relevance_sum"])
        for i, row in enumerate(rows.tolist()):
            writer.writerow([table.chrom[row], table.start[row], table.end[row], table.strand[row], table.name[row],
                             table.cls[row], table.split[row], row, f"{logits[i]:.6g}", f"{sums[i]:.6g}"])


def run(config: Mapping, inputs: Mapping[str, str], outputs: Mapping[str, str], cls: str, method: str,
        threads: int | None = None, row_range: tuple[int, int] | None = None) -> int:
    """Stage entry: ``config`` is the ``attribute`` section; ``inputs`` model/onehot/regions/info;
    ``row_range`` restricts the job to one shard of data-set rows."""
    methods = config.get("methods", {})
    if method not in methods:
        raise SeqlrpError(f"attribute: method {method!r} is not configured (configured: {', '.join(methods)})")
    spec = MethodSpec.from_config(method, methods[method])
    data = load_extracted(inputs["onehot"], inputs["regions"], inputs["info"])
    options = AttributeOptions(selection=config.get("regions", "all"), batch_size=config.get("batch_size", 128),
                               device=config.get("device", "auto"), row_range=row_range)
    return attribute(inputs["model"], data, cls, method, spec, outputs, options, threads)
