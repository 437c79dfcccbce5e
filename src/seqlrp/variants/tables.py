"""The variant stage's tables: ``scores.tsv``, the scored VCF and ``variants.bed``.

``scores.tsv`` has one row per VCF record x ALT x class x method, in VCF order, with the columns of
:data:`SCORE_COLUMNS` (docs/variants.md describes each). Empty cells are values that do not apply
(probabilities of a foreign model, logFC/JSD of a classifier, a motif where none passes).

The scored VCF (:func:`write_scored_vcf`) has one record per scored ALT (multi-allelic records
split, like ``bcftools norm -m-``), the alleles as in the input, contigs named as in the genome, and
the scores in INFO fields, one value per class in the order the header's ``##seqlrp_classes`` line
lists (``SEQLRP_DELTA``, ``SEQLRP_LOGIT_REF``, ``SEQLRP_LOGIT_ALT``, ``SEQLRP_P``, ``SEQLRP_Q``) and
per method (``SEQLRP_RREF_<method>``, ``SEQLRP_RALT_<method>``); bgzip-compressed and tabix-indexed
by htslib (pysam). ``variants.bed`` is BED9: the REF span of each variant and class, red where the
ALT raises the class score, blue where it lowers it, the score column ``min(1000, 100 x -log10 p)``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import shutil
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pysam

from ..analysis.seqlets import BLUE, RED
from ..formats.atomic import atomic_path, atomic_write_text
from ..formats.trackline import bed_track_line

SCORE_COLUMNS = (
    "chrom", "pos", "id", "ref", "alt", "variant", "kind", "class", "method",
    "logit_ref", "logit_alt", "delta", "prob_ref", "prob_alt", "logfc", "jsd", "p_value", "q_value",
    "relevance_ref", "relevance_alt", "delta_relevance_sum", "residual", "local_share",
    "motif", "motif_id", "motif_ref_score", "motif_alt_score", "motif_effect",
)


def number(value, digits: int = 6) -> str:
    """A float cell: ``digits`` significant digits, empty for None or NaN."""
    if value is None:
        return ""
    value = float(value)
    return "" if math.isnan(value) else f"{value:.{digits}g}"


def score_values(scored, classes: Sequence[str], methods: Sequence[str]) -> Iterator[list]:
    """The rows of a :class:`~seqlrp.variants.scoring.ScoredBatch` in the columns of
    :data:`SCORE_COLUMNS`, variant by variant, then class, then method, as Python values: floats at
    full precision, None where a value does not apply (``q_value`` is None: it needs every row)."""
    batch, delta = scored.batch, scored.delta
    profile = scored.profile or {}

    def at(values, k, c=None):
        return None if values is None else float(values[k] if c is None else values[k, c])

    for k, variant in enumerate(batch.variants):
        motif = scored.motifs[k] if scored.motifs is not None else None
        motif_values = ([motif.motif_name, motif.motif_id, motif.ref_score, motif.alt_score, motif.effect]
                        if motif is not None else [None] * 5)
        for c, cls in enumerate(classes):
            head = [variant.chrom, variant.pos, variant.id, variant.ref, variant.alt, int(batch.rows[k]), batch.kinds[k],
                    cls]
            values = [at(scored.logit_ref, k, c), at(scored.logit_alt, k, c), float(delta[k, c]),
                      at(scored.prob_ref, k, c), at(scored.prob_alt, k, c), at(profile.get("logfc"), k),
                      at(profile.get("jsd"), k), at(scored.p_value, k, c), None]
            for method in methods:
                explanation = scored.explanations.get((c, method))
                explained = [None] * 5
                if explanation is not None:
                    col = explanation.columns
                    explained = [float(col["relevance_ref"][k]), float(col["relevance_alt"][k]),
                                 float(col["delta_relevance_sum"][k]), float(delta[k, c] - col["delta_relevance_sum"][k]),
                                 float(col["local_share"][k])]
                yield [*head, method, *values, *explained, *motif_values]


_DIGITS = {"local_share": 4, "motif_ref_score": 4, "motif_alt_score": 4}


def score_rows(scored, classes: Sequence[str], methods: Sequence[str]) -> Iterator[list[str]]:
    """:func:`score_values` as ``scores.tsv`` cells: 6 significant digits (4 for ``local_share`` and the
    motif scores), empty where a value does not apply."""
    for values in score_values(scored, classes, methods):
        yield [number(value, _DIGITS.get(column, 6)) if isinstance(value, float) else ("" if value is None else str(value))
               for column, value in zip(SCORE_COLUMNS, values)]


def read_scores(path: str | os.PathLike) -> Iterator[dict[str, str]]:
    """The rows of a ``scores.tsv`` as dicts, streamed."""
    with open(path, encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter="\t")


def _variants(path: str | os.PathLike) -> Iterator[list[dict[str, str]]]:
    """The rows of ``scores.tsv`` grouped by variant (consecutive rows of one ``variant`` index)."""
    group: list[dict[str, str]] = []
    for row in read_scores(path):
        if group and row["variant"] != group[0]["variant"]:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def info_key(name: str) -> str:
    """``name`` as a VCF INFO key part: characters outside ``[0-9A-Za-z_.]`` become ``_``."""
    return re.sub(r"[^0-9A-Za-z_.]", "_", name)


def method_keys(methods: Sequence[str]) -> dict[str, str]:
    """Each method's INFO key part (:func:`info_key`); names that would share one (``lrp-1`` and
    ``lrp_1``) get their position in ``methods`` appended, so no method's values are lost."""
    keys = [info_key(m) for m in methods]
    return {m: f"{k}_{i + 1}" if keys.count(k) > 1 else k for i, (m, k) in enumerate(zip(methods, keys))}


def header_text(text: str) -> str:
    """``text`` inside a VCF header line: percent-encoded where it would end a quoted description or a
    list (``"``, ``\\``, ``,``, ``;``, ``=``, ``%``, tabs and line breaks), as VCF 4.3 encodes INFO values."""
    return re.sub(r'["\\,;=%\t\r\n]', lambda m: f"%{ord(m.group()):02X}", text)


def _info_value(text: str) -> str:
    return text if text else "."


def write_sorted(records: Iterable[tuple[int, int, int, str]], handle, scratch: Path) -> int:
    """Write ``line`` of every ``(contig index, position, row, line)`` record to ``handle`` sorted by the
    first three; return the count. Lines go to a scratch file in arrival order and only their keys
    and offsets stay in memory (32 bytes per record, in arrays); a stream that arrives sorted (a
    sorted VCF) is copied as it is."""
    keys, offsets = array("q"), array("q", [0])
    with open(scratch, "wb") as out:
        for contig, position, row, line in records:
            data = (line + "\n").encode("utf-8")
            out.write(data)
            keys.extend((contig, position, row))
            offsets.append(offsets[-1] + len(data))
    key_array = np.frombuffer(keys, dtype=np.int64).reshape(-1, 3) if keys else np.zeros((0, 3), np.int64)
    order = np.lexsort(key_array.T[::-1]) if len(key_array) else np.zeros(0, np.int64)
    starts = np.asarray(offsets, dtype=np.int64)
    with open(scratch, "rb") as source:
        if np.array_equal(order, np.arange(len(order))):
            shutil.copyfileobj(io.TextIOWrapper(source, encoding="utf-8"), handle)
        else:
            for index in order.tolist():
                source.seek(int(starts[index]))
                handle.write(source.read(int(starts[index + 1] - starts[index])).decode("utf-8"))
    return len(order)


def write_scored_vcf(scores_tsv: str | os.PathLike, out: str | os.PathLike, contigs: Mapping[str, int],
                     classes: Sequence[str], methods: Sequence[str], source_vcf: str = "") -> int:
    """Write the scored VCF ``out`` (``.vcf.gz``, with ``out + ".tbi"``) from ``scores.tsv``; return
    the number of records. Records are sorted by the genome's contig order and position."""
    out = Path(out)
    per_class = (("SEQLRP_DELTA", "delta", "logit_alt - logit_ref"), ("SEQLRP_LOGIT_REF", "logit_ref", "score of REF"),
                 ("SEQLRP_LOGIT_ALT", "logit_alt", "score of ALT"), ("SEQLRP_P", "p_value",
                 "empirical p-value against the shuffled-context null"), ("SEQLRP_Q", "q_value",
                 "Benjamini-Hochberg q-value"))
    methods = [m for m in methods if m != "-"]  # explain: false has no relevance columns
    keys = method_keys(methods)
    listed = ",".join(header_text(c) for c in classes)
    header = ["##fileformat=VCFv4.2", "##source=seqlrp", f"##seqlrp_input={header_text(source_vcf)}",
              f"##seqlrp_classes={listed}"]
    header += [f"##contig=<ID={name},length={length}>" for name, length in contigs.items()]
    header += ['##INFO=<ID=SEQLRP_KIND,Number=1,Type=String,Description="snv, mnp, insertion or deletion '
               '(after left-normalisation)">']
    header += [f'##INFO=<ID={key},Number={len(classes)},Type=Float,Description="{text}, one value per class: '
               f'{listed}">' for key, _, text in per_class]
    for method in methods:
        for side, text in (("RREF", "relevance of the REF bases in the REF window"),
                           ("RALT", "relevance of the ALT bases in the ALT window")):
            header.append(f'##INFO=<ID=SEQLRP_{side}_{keys[method]},Number={len(classes)},Type=Float,'
                          f'Description="{text}, method {header_text(method)}, one value per class: {listed}">')
    header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    order = {name: i for i, name in enumerate(contigs)}

    def records():
        for group in _variants(scores_tsv):
            first = group[0]
            by_class = {row["class"]: row for row in group if row["method"] == group[0]["method"]}
            fields = [f"SEQLRP_KIND={first['kind']}"]
            for key, column, _ in per_class:
                fields.append(f"{key}=" + ",".join(_info_value(by_class[c][column]) for c in classes))
            for method in methods:
                rows = {row["class"]: row for row in group if row["method"] == method}
                for side, column in (("RREF", "relevance_ref"), ("RALT", "relevance_alt")):
                    fields.append(f"SEQLRP_{side}_{keys[method]}=" + ",".join(_info_value(rows[c][column])
                                                                                  for c in classes))
            yield (order.get(first["chrom"], len(order)), int(first["pos"]), int(first["variant"]),
                   "\t".join([first["chrom"], first["pos"], first["id"], first["ref"], first["alt"], ".", ".",
                              ";".join(fields)]))

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as scratch:
        plain = Path(scratch) / "scored.vcf"
        with open(plain, "w", encoding="utf-8") as handle:
            handle.write("\n".join(header) + "\n")
            n = write_sorted(records(), handle, Path(scratch) / "unsorted")
        index = Path(scratch) / "scored.vcf.gz.tbi"
        Path(f"{out}.tbi").unlink(missing_ok=True)  # never an old index beside a new file
        with atomic_path(out, suffix=".vcf.gz") as compressed:
            pysam.tabix_compress(str(plain), str(compressed), force=True)
            pysam.tabix_index(str(compressed), preset="vcf", force=True, index=str(index))
        os.replace(index, f"{out}.tbi")
    return n


def write_variant_bed(scores_tsv: str | os.PathLike, out: str | os.PathLike, contigs: Mapping[str, int],
                      method: str | None = None) -> int:
    """``variants.bed``: BED9, one line per variant and class (rows of ``method``, default the first
    method's), sorted; return the number of lines."""
    order = {name: i for i, name in enumerate(contigs)}
    chosen = method

    def lines():
        nonlocal chosen
        for row in read_scores(scores_tsv):
            chosen = chosen or row["method"]
            if row["method"] != chosen:
                continue
            lo = int(row["pos"]) - 1
            hi = min(lo + len(row["ref"]), contigs.get(row["chrom"], lo + len(row["ref"])))
            delta = float(row["delta"]) if row["delta"] else 0.0
            p = float(row["p_value"]) if row["p_value"] else 1.0
            score = int(min(1000, round(100 * -math.log10(p)))) if p > 0 else 1000
            label = row["id"] if row["id"] != "." else f"{row['chrom']}:{row['pos']}"
            name = f"{label}|{row['ref']}>{row['alt']}|{row['class']}|delta={delta:+.3g}"
            yield (order.get(row["chrom"], len(order)), lo, int(row["variant"]),
                   f"{row['chrom']}\t{lo}\t{hi}\t{name}\t{score}\t.\t{lo}\t{hi}\t{RED if delta >= 0 else BLUE}")

    out = Path(out)
    with atomic_write_text(out) as handle, tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as scratch:
        handle.write(bed_track_line("seqlrp variants", "variant effects: red raises, blue lowers the class score; "
                                    "score = 100 x -log10 p") + "\n")
        return write_sorted(lines(), handle, Path(scratch) / "unsorted")


def join_score_tables(shard_tables: Sequence[str | os.PathLike], out: str | os.PathLike) -> int:
    """Join the shards' ``scores.tsv`` into ``out`` with Benjamini-Hochberg ``q_value`` filled in, per
    class over every scored variant; return the number of rows. Two passes over the shard tables:
    the p-values first (8 bytes per variant and class in memory), then the rows."""
    from .null import bh_q

    p_values: dict[str, array] = {}  # 8 bytes per variant and class
    for path in shard_tables:
        seen = None
        for row in read_scores(path):
            seen = seen or row["method"]
            if row["method"] == seen:
                p_values.setdefault(row["class"], array("d")).append(float(row["p_value"]) if row["p_value"] else math.nan)
    q_values = {cls: iter(bh_q(np.frombuffer(values, dtype=np.float64))) for cls, values in p_values.items()}
    n = 0
    with atomic_write_text(out) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(SCORE_COLUMNS)
        for path in shard_tables:
            seen, current = None, {}
            for row in read_scores(path):
                seen = seen or row["method"]
                if row["method"] == seen:
                    current[row["class"]] = number(next(q_values[row["class"]]))
                row["q_value"] = current[row["class"]]
                writer.writerow([row[column] for column in SCORE_COLUMNS])
                n += 1
    return n
