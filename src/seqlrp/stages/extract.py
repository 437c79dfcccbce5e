"""Stage ``extract``: regions or FASTA records -> one-hot windows (N, 4, L) and a regions table.

Windows are cut as :mod:`seqlrp.sequences.windows` describes (centre, strand, padding), split by
:mod:`seqlrp.sequences.split`; with ``tile``, whole chromosomes are tiled instead
(:mod:`seqlrp.sequences.tiling`). Outputs: ``onehot.npy`` (N, 4, L) uint8, the regions table,
contig sizes and ``dataset.json``.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Mapping

import numpy as np

from ..errors import SeqlrpError
from ..formats.atomic import atomic_path, atomic_write_text
from ..formats.genome import Genome
from ..formats.onehot import onehot_from_codes
from ..formats.table import RegionTable, write_regions_tsv
from ..sequences.split import assign_splits, duplicate_groups
from ..sequences.tiling import SPLIT, TileOptions, plan_tiles, write_tiles
from ..sequences.windows import ONEHOT_CHUNK_BYTES, Dataset, ExtractOptions, dataset_from_genome, dataset_from_records

log = logging.getLogger(__name__)


def write_dataset(dataset: Dataset, onehot_path, regions_path, chrom_sizes_path, info_path, chunk: int | None = None) -> None:
    """Write one-hot (N, 4, L) uint8 ``.npy``, regions TSV, contig sizes and a JSON summary.

    Each file appears only once complete (temporary file + rename). The one-hot array is
    written in chunks of ``chunk`` rows (default: 64 MiB of one-hot) through a memory map, so
    memory stays at the size of the codes.
    """
    n, length = dataset.codes.shape
    chunk = chunk or max(1, ONEHOT_CHUNK_BYTES // (4 * length))
    with atomic_path(onehot_path, suffix=".npy") as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, 4, length))
        for lo in range(0, n, chunk):
            out[lo : lo + chunk] = onehot_from_codes(dataset.codes[lo : lo + chunk])
        out.flush()
        del out
    write_regions_tsv(dataset.table, regions_path)
    with atomic_write_text(chrom_sizes_path) as handle:
        for chrom, size in dataset.chrom_sizes.items():
            handle.write(f"{chrom}\t{size}\n")
    with atomic_write_text(info_path) as handle:
        json.dump(dataset.info, handle, indent=2, sort_keys=True)
        handle.write("\n")


def log_duplicates(dataset: Dataset, groups: np.ndarray) -> dict[str, int]:
    """Log how many windows repeat an earlier one (same bases on either strand) and how many of
    those carry another class's label; return both counts for ``dataset.json``."""
    repeats = np.flatnonzero(groups != np.arange(groups.size))
    classes = np.asarray(dataset.table.cls, dtype=object)
    conflicting = int(np.count_nonzero(classes[repeats] != classes[groups[repeats]]))
    if not repeats.size:
        log.info("duplicates: none (no window repeats another)")
    else:
        log.warning("duplicates: %d of %d windows repeat an earlier window (identical bases on either strand); each "
                    "stays in the split of its first copy", repeats.size, groups.size)
    if conflicting:
        log.warning("duplicates: %d windows are identical to a window of another class: the model cannot tell "
                    "them apart", conflicting)
    return {"repeated_windows": int(repeats.size), "across_classes": conflicting}


def extract(config: Mapping, outputs: Mapping[str, str], progress: bool = True) -> Dataset | None:
    """Run the stage from a validated config; ``outputs`` maps onehot/regions/chrom_sizes/info to paths.

    Config keys used: ``seq_len``, ``seed``, ``genome`` + ``regions`` or ``sequences``, and the
    ``extract`` and ``split`` sections (see config/README.md). With ``tile`` (genome-wide tiles,
    :mod:`seqlrp.sequences.tiling`) the windows are streamed to disk and None is returned.
    """
    if config.get("tile"):
        extract_tiles(config, outputs, progress)
        return None
    if config.get("variants_only"):
        extract_no_windows(config, outputs)
        return None
    section = config.get("extract", {})
    options = ExtractOptions(
        seq_len=config["seq_len"], centre=section.get("centre", "summit"), out_of_bounds=section.get("out_of_bounds", "pad")
    )
    if config.get("sequences"):
        dataset = dataset_from_records(config["sequences"], options)
    else:
        dataset = dataset_from_genome(config["genome"], config["regions"], options, progress, index_dir=config.get("index_dir"))
    split_cfg = config.get("split", {})
    groups = duplicate_groups(dataset.codes)
    duplicates = log_duplicates(dataset, groups)
    splits, method = assign_splits(
        dataset.table.chrom,
        dataset.table.cls,
        valid_chroms=split_cfg.get("valid_chroms", []),
        test_chroms=split_cfg.get("test_chroms", []),
        valid_fraction=split_cfg.get("valid_fraction", 0.1),
        test_fraction=split_cfg.get("test_fraction", 0.1),
        seed=config.get("seed", 0),
        groups=groups,
    )
    dataset.table.split = list(splits)
    per_split = Counter(zip(dataset.table.cls, dataset.table.split))
    dataset.info.update(
        seq_len=options.seq_len,
        alphabet="ACGT",
        classes=dataset.classes,
        n_windows=len(dataset.table),
        split_method=method,
        split_counts={c: {s: per_split[(c, s)] for s in ("train", "valid", "test")} for c in dataset.classes},
        centre=options.centre,
        out_of_bounds=options.out_of_bounds,
        duplicates=duplicates,
    )
    for cls, tally in dataset.info["counts"].items():
        log.info("class %s: %s", cls, ", ".join(f"{k} {v}" for k, v in tally.items()))
    log.info("split: %s", method)
    for cls, by_split in dataset.info["split_counts"].items():
        log.info("class %s: %s", cls, ", ".join(f"{k} {v}" for k, v in by_split.items()))
    write_dataset(dataset, outputs["onehot"], outputs["regions"], outputs["chrom_sizes"], outputs["info"])
    return dataset


def extract_no_windows(config: Mapping, outputs: Mapping[str, str | os.PathLike]) -> dict:
    """A variant run without regions (``genome`` + ``variants`` + a model): a data set of no windows,
    so that the model is checked against ``seq_len`` and ``classes`` (the model's) as in every run,
    and the genome's contig sizes (its index built here when missing, before the variant jobs)."""
    classes = [str(c) for c in config.get("classes") or []]
    with Genome(config["genome"], index_dir=config.get("index_dir")) as genome:
        sizes = dict(genome.lengths)
    length = int(config["seq_len"])
    with atomic_path(outputs["onehot"], suffix=".npy") as tmp:
        np.save(tmp, np.zeros((0, 4, length), dtype=np.uint8))
    write_regions_tsv(RegionTable(), outputs["regions"])
    with atomic_write_text(outputs["chrom_sizes"]) as handle:
        handle.writelines(f"{chrom}\t{size}\n" for chrom, size in sizes.items())
    info = {"source": "genome", "genome": str(config["genome"]), "seq_len": length, "alphabet": "ACGT",
            "classes": classes, "n_windows": 0, "split_counts": {},
            "split_method": "none: a variant run without regions has no windows (only the variants' own)"}
    with atomic_write_text(outputs["info"]) as handle:
        json.dump(info, handle, indent=2, sort_keys=True)
        handle.write("\n")
    log.info("no regions: the variants' windows only (genome %s, %d contigs)", config["genome"], len(sizes))
    return info


def extract_tiles(config: Mapping, outputs: Mapping[str, str | os.PathLike], progress: bool = True) -> dict:
    """Run the extract stage for a tiled config; return the ``dataset.json`` summary it writes.

    Config keys used: ``genome``, ``tile`` (with ``size``), ``classes`` (the model's, in
    logit order) and ``index_dir`` (where a missing or stale FASTA index is rebuilt).
    ``outputs`` maps onehot/regions/chrom_sizes/info to paths, as for :func:`extract`.
    """
    options = TileOptions.from_config(config["tile"])
    classes = [str(c) for c in config.get("classes") or []]
    if not classes:
        raise SeqlrpError("tiles have no labels: the model's class names are needed (give model.checkpoint)")
    with Genome(config["genome"], index_dir=config.get("index_dir")) as genome:
        plan = plan_tiles(genome, options, progress)
        n = write_tiles(genome, plan, options.size, outputs["onehot"], outputs["regions"], progress)
        sizes = dict(genome.lengths)
    with atomic_write_text(outputs["chrom_sizes"]) as handle:
        handle.writelines(f"{chrom}\t{size}\n" for chrom, size in sizes.items())
    chosen = list(options.chroms) if options.chroms is not None else list(sizes)
    tiled = {p.chrom for p in plan}
    info = {
        "source": "tiles",
        "genome": str(config["genome"]),
        "seq_len": options.size,
        "alphabet": "ACGT",
        "classes": classes,
        "n_windows": n,
        "split_method": f"none: genome-wide tiles carry no class (class empty, split {SPLIT!r})",
        "split_counts": {},
        "tile": {
            "size": options.size,
            "stride": options.stride,
            "max_n": options.max_n,
            "tiles": n,
            "skipped_n": sum(p.skipped_n for p in plan),
            "chroms": {p.chrom: {"length": p.length, "tiles": int(p.starts.size), "skipped_n": p.skipped_n} for p in plan},
            "short_chroms": [c for c in chosen if c not in tiled],
        },
    }
    with atomic_write_text(outputs["info"]) as handle:
        json.dump(info, handle, indent=2, sort_keys=True)
        handle.write("\n")
    log.info("tiles: %d of %d bp every %d bp on %d chromosome(s); %d skipped (all N or > %g%% N); %d chromosome(s) "
             "shorter than a tile", n, options.size, options.stride, len(plan), info["tile"]["skipped_n"],
             100 * options.max_n, len(info["tile"]["short_chroms"]))
    return info
