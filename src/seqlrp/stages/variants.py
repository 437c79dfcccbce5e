"""Stage ``variants``: score and explain the variants of a VCF (docs/variants.md).

Four rules, each a function here:

* :func:`index_variants` (checkpoint ``variants_index``) reads the whole VCF once, streamed, and
  refuses it on the first malformed record (one ``file:line: problem`` line, nothing written);
  ``index.json`` holds the counts (records, rows scored, symbolic and REF-mismatch records
  skipped, contigs mapped, rows per kind), from which the number of shards follows;
* :func:`build_null` (``variants_null``) scores the shuffled-context null (:mod:`seqlrp.variants.null`);
* :func:`score_shard` (``variants_shard``) scores and explains one shard of rows: its
  ``scores.tsv``, the windows and index maps, and the maps of every class and method;
* :func:`join_variants` (``variants``) joins the shards: ``scores.tsv`` with q-values, the scored
  VCF, ``variants.bed``, the maps stores and ``summary.json``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from ..attribution.spec import MethodSpec
from ..attribution.store import ShardWriter
from ..errors import SeqlrpError
from ..formats.atomic import atomic_write_text
from ..formats.genome import Genome
from ..formats.vcf import VariantCounts, iter_variants
from ..variants.maps import MapTableWriter, WindowsWriter, interleave, join_variant_maps, write_map_settings
from ..variants.tables import SCORE_COLUMNS, join_score_tables, score_rows, write_scored_vcf, write_variant_bed
from ..variants.windows import batches, variant_kind

# torch (the model, the scorer) is imported by the jobs that run the model only: rules variants_index
# and variants (the join) start without it

log = logging.getLogger(__name__)


def options_from(config: Mapping, seed: int = 1):
    """:class:`~seqlrp.variants.scoring.VariantOptions` of the ``variant_effects`` section."""
    from ..variants.scoring import VariantOptions

    return VariantOptions(reverse_complement=bool(config.get("reverse_complement", False)),
                          probability=config.get("probability", "auto"), local_bp=int(config.get("local_bp", 10)),
                          batch_size=int(config.get("batch_size", 64)), null_size=int(config.get("null_size", 1000)),
                          seed=int(seed), maps=bool(config.get("maps", True)), explain=bool(config.get("explain", True)))


def _variants(vcf: str, genome: Genome, config: Mapping, counts: VariantCounts | None = None, start_record: int = 1):
    """The VCF's variants; only the first pass (``counts`` given: rule variants_index) logs what it skipped."""
    return iter_variants(vcf, genome.lengths, fetch_ref=genome.fetch, ref_mismatch=config.get("ref_mismatch", "refuse"),
                         counts=counts, start_record=start_record, warn=counts is not None)


def index_variants(config: Mapping, genome_path: str, vcf: str, out: str | os.PathLike,
                   index_dir: str | None = None) -> dict:
    """Check every record of ``vcf`` and write ``out`` (``index.json``); return its content."""
    counts = VariantCounts()
    kinds: dict[str, int] = {}
    shard_size = int(config.get("shard_size", 0))
    starts: dict[str, list[int]] = {}  # first row of a shard -> [its record (1-based), that record's first row]
    record, record_row = 0, 0
    with Genome(genome_path, index_dir=index_dir) as genome:
        from ..sequences.variant_windows import normalize

        for row, variant in enumerate(_variants(vcf, genome, config, counts)):
            if counts.records != record:
                record, record_row = counts.records, row
            if shard_size and row % shard_size == 0:
                starts[str(row)] = [record, record_row]
            _, ref, alt = normalize(variant.chrom, variant.pos, variant.ref, variant.alt, genome.fetch)
            kind = variant_kind(ref, alt)
            kinds[kind] = kinds.get(kind, 0) + 1
    summary = {"vcf": str(vcf), "records": counts.records, "rows": counts.rows,
               "symbolic_skipped": counts.symbolic_skipped, "ref_mismatch_skipped": counts.ref_mismatch_skipped,
               "contig_mapping": counts.contig_mapping or {}, "kinds": kinds, "shard_starts": starts}
    if not counts.rows:
        raise SeqlrpError(f"{vcf}: no variant to score ({counts.records} records, {counts.symbolic_skipped} symbolic "
                          f"alleles and {counts.ref_mismatch_skipped} REF mismatches skipped)")
    with atomic_write_text(out) as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
        handle.write("\n")
    log.info("variants: %d records, %d rows to score (%s)", counts.records, counts.rows,
             ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return summary


def _model(path: str, config: Mapping, threads: int | None):
    from ..models.architectures import describe
    from ..models.device import choose_device, configure_threads
    from ..models.loading import load_model

    configure_threads(threads)
    device = choose_device(config.get("device", "auto"))
    model = load_model(path, device=device)
    return model, device, describe(model)


def build_null(config: Mapping, inputs: Mapping[str, str], out: str | os.PathLike, seed: int,
               threads: int | None = None, index_dir: str | None = None) -> int:
    """Score the shuffled-context null (``variant_effects.null_size`` per kind) into ``out`` (.npz)."""
    from ..variants.null import null_deltas, sample_contexts, save_null
    from ..variants.scoring import VariantScorer

    options = options_from(config, seed)
    model, device, info = _model(inputs["model"], config, threads)
    scorer = VariantScorer(model, {}, device, options)
    deltas = {}
    if options.null_size:  # 0: no p-values, nothing to read
        with Genome(inputs["genome"], index_dir=index_dir) as genome:
            contexts = sample_contexts(_variants(inputs["vcf"], genome, config), genome.fetch, options.null_size, seed)
            deltas = null_deltas(scorer.delta, contexts, info.seq_len, genome.fetch, seed, options.batch_size,
                                 options.null_size)
    save_null(out, deltas, list(info.classes))
    log.info("variants null: %s", ", ".join(f"{k} {len(v)}" for k, v in deltas.items()) or "none (null_size 0)")
    return sum(len(v) for v in deltas.values())


def _motif_scanner(config: Mapping, inputs: Mapping[str, str]):
    source = config.get("motifs", "jaspar")
    if source == "none":
        return None
    from ..analysis.tomtom import load_database
    from ..variants.motif_change import (
        MotifScanner,
        MotifSet,
        jaspar_motif_set,
        pattern_motif_set,
    )

    if source == "patterns":  # every class and method's patterns (their ids name the store: positive.lrp.pos_0)
        sets = [pattern_motif_set(meme, tomtom) for meme, tomtom in zip(_paths(inputs["patterns"]),
                                                                        _paths(inputs["tomtom"]))]
        motifs = MotifSet([i for m in sets for i in m.ids], [n for m in sets for n in m.names],
                          [x for m in sets for x in m.matrices])
    else:
        motifs = jaspar_motif_set(load_database(inputs["database"]))
    return MotifScanner(motifs, p_threshold=float(config.get("motif_p", 1e-4)))


def _paths(value) -> list[str]:
    """One path or a list of them (a Snakemake input of several files) as a list."""
    return [value] if isinstance(value, (str, os.PathLike)) else [str(v) for v in value]


def score_shard(config: Mapping, methods: Mapping[str, Mapping], inputs: Mapping[str, str],
                outputs: Mapping[str, str], map_outputs: Mapping[tuple[str, str], Mapping[str, str]],
                row_range: tuple[int, int] | None, seed: int = 1, threads: int | None = None,
                index_dir: str | None = None, progress: bool = True) -> int:
    """Score rows ``row_range`` of the VCF; write ``outputs`` (scores, windows folder files) and, per
    (class, method), ``map_outputs`` (a store shard: arrays, regions, settings). Returns the rows scored."""
    from tqdm import tqdm

    from ..variants.null import load_null
    from ..variants.scoring import VariantScorer

    options = options_from(config, seed)
    with open(inputs["index"], encoding="utf-8") as handle:
        index = json.load(handle)
    n_rows = int(index["rows"])
    lo, hi = row_range if row_range is not None else (0, n_rows)
    # where the shard's rows begin in the file: earlier records are passed over unread
    start_record, first_row = index.get("shard_starts", {}).get(str(lo), (1, 0))
    n = max(0, min(hi, n_rows) - lo)
    model, device, info = _model(inputs["model"], config, threads)
    classes, seq_len = list(info.classes), info.seq_len
    specs = {name: MethodSpec.from_config(name, spec) for name, spec in methods.items()} if options.explain else {}
    scorer = VariantScorer(model, specs, device, options, _motif_scanner(config, inputs))
    null, null_classes = load_null(inputs["null"])
    if null and null_classes != classes:
        raise SeqlrpError(f"{inputs['null']}: null of classes {null_classes}, model has {classes}: rerun variants_null")
    keep_maps = options.explain and options.maps
    windows_dir = Path(outputs["windows"]).parent if keep_maps else None  # the rule has no windows without maps
    with contextlib.ExitStack() as stack:
        table = stack.enter_context(atomic_write_text(outputs["scores"]))
        writer = csv.writer(table, delimiter="\t", lineterminator="\n")
        writer.writerow(SCORE_COLUMNS)
        windows = stack.enter_context(WindowsWriter(windows_dir, n, seq_len)) if keep_maps else None
        stores = {}
        if keep_maps:
            for (cls, method), paths in map_outputs.items():
                shard = stack.enter_context(ShardWriter(paths, 2 * n, seq_len))
                handle = stack.enter_context(atomic_write_text(paths["regions"]))
                stores[(classes.index(cls), method)] = (shard, MapTableWriter(handle, cls, seq_len, first_row=2 * lo), paths)
        genome = stack.enter_context(Genome(inputs["genome"], index_dir=index_dir))
        done = 0
        bar = stack.enter_context(tqdm(total=n, desc="variants", unit="variant", disable=not progress))
        stream = _variants(inputs["vcf"], genome, config, start_record=start_record)
        for batch in batches(stream, seq_len, genome.fetch, options.batch_size, (lo, hi), first_row=first_row):
            scored = scorer.score(batch, null)
            writer.writerows(score_rows(scored, classes, list(specs) or ["-"]))
            if keep_maps:
                onehot = windows.write(batch)
                for (target, method), (shard, map_table, _) in stores.items():
                    explanation = scored.explanations[(target, method)]
                    b = len(batch)  # the maps are reference windows first; the store interleaves them
                    position = shard.write(onehot, interleave(explanation.relevance[:b], explanation.relevance[b:]),
                                           interleave(explanation.hypothetical[:b], explanation.hypothetical[b:]))
                    map_table.write(batch, scored.logit_ref[:, target], scored.logit_alt[:, target], position)
            done += len(batch)
            bar.update(len(batch))
        if done != n:
            raise SeqlrpError(f"{inputs['vcf']}: {done} variants in rows {lo}-{hi}, expected {n}: the VCF changed "
                              "since rule variants_index read it; rerun")
        for (target, method), (_, _, paths) in stores.items():
            settings = {"class": classes[target], "method": method, **asdict(specs[method]), "selection": "variants",
                        "n_windows": 2 * n, "seq_len": seq_len, "model": str(inputs["model"]), "target_index": target,
                        "reverse_complement": options.reverse_complement}
            write_map_settings(paths["settings"], settings, windows_dir)
    log.info("variants: scored rows %d-%d (%d variants, %d classes, %d methods)", lo, lo + n, n, len(classes), len(specs))
    return n


def join_variants(config: Mapping, inputs: Mapping[str, Sequence[str] | str], outputs: Mapping[str, str],
                  map_joins: Mapping[tuple[str, str], tuple[Sequence[str], Mapping[str, str]]],
                  classes: Sequence[str], methods: Sequence[str]) -> dict:
    """Join the shards (module docstring); return ``summary.json``'s content."""
    n = join_score_tables(list(inputs["scores"]), outputs["scores"])
    with open(inputs["index"], encoding="utf-8") as handle:
        index = json.load(handle)
    with open(inputs["chrom_sizes"], encoding="utf-8") as handle:
        contigs = {line.split("\t")[0]: int(line.split("\t")[1]) for line in handle if line.strip()}
    explained = list(methods) if config.get("explain", True) else ["-"]
    n_vcf = write_scored_vcf(outputs["scores"], outputs["vcf"], contigs, classes, explained, str(index["vcf"]))
    n_bed = write_variant_bed(outputs["scores"], outputs["bed"], contigs)
    for shard_dirs, store_outputs in map_joins.values():
        join_variant_maps(shard_dirs, store_outputs)
    summary = {**index, "scored": n_vcf, "score_rows": n, "bed_lines": n_bed, "classes": list(classes),
               "methods": explained}
    with atomic_write_text(outputs["summary"]) as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
        handle.write("\n")
    log.info("variants: %d scored, %d rows in %s", n_vcf, n, outputs["scores"])
    return summary


def shard_ranges(n_rows: int, shard_size: int) -> list[tuple[int, int]]:
    """Row ranges ``[lo, hi)`` of the shards of ``n_rows`` rows (one shard when ``shard_size`` is 0)."""
    if shard_size <= 0 or n_rows <= shard_size:
        return [(0, max(n_rows, 0))]
    return [(lo, min(lo + shard_size, n_rows)) for lo in range(0, n_rows, shard_size)]


def evaluate_variants(scores_tsv: str | os.PathLike, truth_tsv: str | os.PathLike, out: str | os.PathLike) -> list[dict]:
    """Rule evaluate_variants: how well ``delta`` and ``relevance_ref`` separate motif-breaking (and
    ``delta`` motif-creating) variants from controls, AUROC per class and method, into ``out``."""
    from ..analysis.variant_evaluation import variant_aurocs, write_variant_evaluation

    rows = variant_aurocs(scores_tsv, truth_tsv)
    write_variant_evaluation(rows, out)
    for row in rows:
        log.info("variants %s.%s %s by %s: AUROC %s", row["class"], row["method"], row["comparison"], row["score"],
                 row["auroc"])
    return rows
