"""Stage ``attribute``: relevance of every selected window, streamed to disk.

For one class and one configured method, the windows to explain (default: the test-split
windows of that class) are explained by their own class logit, in batches on the chosen device.
Outputs, in ``results/attributions/{class}.{method}/``:

* ``ohe.npz``, ``attr.npz``, ``hyp.npz`` — one-hot input, relevance and hypothetical
  contributions, each (n, 4, L) float32 as the single member ``arr_0`` (what tfmodisco-lite's
  ``modisco motifs -s ohe.npz -a hyp.npz`` reads); written in chunks, so memory does not grow
  with the number of windows;
* ``regions.tsv`` — the windows in the same order: the regions-table columns, ``row`` (index in
  ``results/data``), ``logit`` (the explained logit) and ``relevance_sum`` (sum of the input
  relevance; LRP conserves it up to biases and stabilisers);
* ``settings.json`` — method, composite, input rule, pruning, epsilon, gamma, model file, counts.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..attribution.methods import MethodSpec, explain
from ..attribution.store import ARRAYS
from ..errors import InputError, SeqlrpError
from ..formats.arrays import ChunkedArrayWriter, concatenate_npz
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
    """Explain the selected windows of ``cls``; write ``outputs`` (ohe, attr, hyp, regions, settings)."""
    configure_threads(threads)
    device = choose_device(options.device)
    model, data = load_model_for(model_path, data)  # a foreign model's classes (config/README.md, model.classes)
    model.to(device)
    target = data.classes.index(cls)
    rows = select_rows(data, cls, options.selection)
    if options.row_range is not None:
        lo_row, hi_row = options.row_range
        rows = rows[(rows >= lo_row) & (rows < hi_row)]
    shape = (rows.size, 4, data.seq_len)
    logits = np.empty(rows.size, dtype=np.float64)
    sums = np.empty(rows.size, dtype=np.float64)
    log.info("attribute: class %s, method %s (%s): %d windows on %s", cls, method, spec.describe(), rows.size, device)
    # the explained output as class scores: a foreign model's tasks picked and reduced like its forward does
    class_scores = model.class_scores if isinstance(model, ExternalModel) else scores
    with ChunkedArrayWriter(outputs["ohe"], shape) as ohe, ChunkedArrayWriter(outputs["attr"], shape) as attr, \
            ChunkedArrayWriter(outputs["hyp"], shape) as hyp:
        lo = 0
        desc = f"attribute {cls}.{method}" if options.progress else None
        for x, result in explain(model, _RowView(data.onehot, rows), target, spec, device, options.batch_size, desc):
            r = result.relevance.float().cpu().numpy()
            ohe.write(x)
            attr.write(r)
            hyp.write(result.hypothetical.float().cpu().numpy())
            logits[lo : lo + len(x)] = class_scores(result.logits)[:, target].double().cpu().numpy()
            sums[lo : lo + len(x)] = r.sum(axis=(1, 2), dtype=np.float64)
            lo += len(x)
        _write_table(outputs["regions"], data, rows, logits, sums)
        settings = {"class": cls, "method": method, **asdict(spec), "selection": str(options.selection),
                    "n_windows": int(rows.size), "model": str(model_path), "target_index": target}
        _write_settings(outputs["settings"], settings)
    return int(rows.size)


def _write_settings(path, settings: Mapping) -> None:
    with atomic_write_text(path) as handle:
        json.dump(settings, handle, indent=2, sort_keys=True)
        handle.write("\n")


def gather_attributions(shard_dirs: list[str | os.PathLike], outputs: Mapping[str, str | os.PathLike]) -> int:
    """Join the shards of one class and method, in order, into ``outputs`` (ohe, attr, hyp,
    regions, settings) — the files a one-job run writes; return the number of windows.

    The arrays are copied chunk by chunk (memory stays bounded); the settings are the first
    shard's with the total ``n_windows``.
    """
    shard_dirs = [Path(d) for d in shard_dirs]
    if not shard_dirs:
        raise SeqlrpError("attribute: no shards to gather")
    settings = [_read_settings(d / "settings.json") for d in shard_dirs]
    for name in ARRAYS:
        concatenate_npz([d / f"{name}.npz" for d in shard_dirs], outputs[name])
    with atomic_write_text(outputs["regions"]) as out:
        for i, shard in enumerate(shard_dirs):
            with open(shard / "regions.tsv", encoding="utf-8") as handle:
                header = handle.readline()
                if i == 0:
                    out.write(header)
                out.writelines(handle)
    merged = {**settings[0], "n_windows": sum(int(s["n_windows"]) for s in settings)}
    _write_settings(outputs["settings"], merged)
    return merged["n_windows"]


def _read_settings(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(path, f"unreadable attribution settings ({err}); delete the shard and rerun") from None



class _RowView:
    """The rows ``rows`` of an array, sliced lazily (keeps a memory map unread until needed)."""

    def __init__(self, array, rows: np.ndarray):
        self.array, self.rows = array, rows

    def __len__(self) -> int:
        return self.rows.size

    def __getitem__(self, item: slice) -> np.ndarray:
        return self.array[self.rows[item]]


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
