"""The report's ``variants`` section: what the variant stage scored, its strongest variants and their maps.

Read from the variant stage's outputs (docs/variants.md):

* ``variants/summary.json`` — records read, rows scored, records skipped (symbolic ALT, REF
  mismatch), contigs renamed (``chr`` prefix), rows per kind;
* ``variants/scores.tsv`` — streamed once; only the rows of the first method are kept (Δ and the
  p-value do not depend on the method, the relevance columns do), as two float arrays per class
  and the :data:`TOP_ROWS` strongest variants per class (smallest p, then largest |Δ|);
* ``variants/maps/{class}.{method}/`` — the ref and alt relevance maps of the first method
  (:func:`seqlrp.variants.maps.open_variant_maps`), drawn for the :data:`TOP_LOGOS` strongest
  variants per class; absent when ``variant_effects.maps`` (or ``explain``) is false;
* ``evaluation/variants.tsv`` — the AUROCs against labelled variants, when the run has them.

Figures: one scatter of Δ against −log10 p with a panel per class (:func:`scatter_png`), and per
drawn variant three stacked logos over ±:data:`FLANK` bp around it (:func:`variant_logo_png`):
the relevance of the reference window, of the alternative window, and ΔR (the alternative map
moved onto reference coordinates minus the reference map) drawn as the reference bases scaled
by ΔR; the alleles are shaded. Every string read from the files is escaped by
:mod:`seqlrp.report.htmlkit` (ids, classes, motif names); matplotlib draws them with math text off.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import logging
import math
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, SeqlrpError
from .data import fmt, read_header, read_tsv, to_float, tsv_table
from .htmlkit import Markup, code, definition_list, element, figure, note, table

log = logging.getLogger(__name__)

TOP_ROWS = 10
"""Variants per class in the table of strongest variants."""
TOP_LOGOS = 3
"""Variants per class drawn as ref / alt / ΔR logos (the first of the table's rows)."""
MAX_LOGO_FIGURES = 9
"""Logo figures at most over all classes (rendering time: about a second each)."""
LABELLED = 5
"""Points labelled by id per scatter panel (the strongest variants)."""
MAX_PANELS = 12
"""Classes drawn in the scatter at most (the first ones, in the order of ``scores.tsv``)."""
MAX_POINTS = 20000
"""Points per scatter panel at most: the strongest variants and a seeded sample of the others."""
FLANK = 20
"""Bases drawn on each side of the variant in the logos."""
MAX_ALLELE = 12
"""Allele characters shown in tables and titles before the rest is elided."""
REF_COLOUR, ALT_COLOUR = "#1a5fb4", "#c01c28"
SPAN_COLOUR = "#f5c211"
SUMMARY_NAME, SCORES_NAME = "summary.json", "scores.tsv"
EVALUATION_COLUMNS = ("class", "method", "comparison", "score", "auroc", "n_positive", "n_negative")
SCORE_NEEDED = ("chrom", "pos", "id", "ref", "alt", "variant", "kind", "class", "method", "delta", "p_value")


@dataclass
class ClassScores:
    """The first method's rows of one class: Δ and p of every variant, the strongest rows kept."""

    delta: array = field(default_factory=lambda: array("d"))
    p_value: array = field(default_factory=lambda: array("d"))
    heap: list = field(default_factory=list)  # (rank key, line, row): a min-heap, the weakest kept on top

    def top(self) -> list[dict[str, str]]:
        """The kept rows, strongest first."""
        return [row for _, _, row in sorted(self.heap, key=lambda item: item[:2], reverse=True)]


@dataclass
class VariantScores:
    """What the section needs of ``scores.tsv``: the first method, its rows per class."""

    method: str
    classes: dict[str, ClassScores]
    n_rows: int

    @property
    def any_p(self) -> bool:
        return any(np.isfinite(scores.p_value).any() for scores in self.classes.values())


def _rank_key(delta: float, p_value: float, variant: int) -> tuple[float, float, int]:
    """Larger is stronger: the smallest p (missing p last), then the largest |Δ|, then VCF order."""
    p = p_value if math.isfinite(p_value) else math.inf
    size = abs(delta) if math.isfinite(delta) else -1.0
    return (-p, size, -variant)


def read_variant_scores(path: str | Path, top: int = TOP_ROWS) -> VariantScores:
    """Stream ``scores.tsv`` (module docstring); :class:`InputError` for a missing column or a ragged row."""
    path = Path(path)
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = read_header(reader, path, SCORE_NEEDED)
        at = {name: j for j, name in enumerate(header)}
        i_method, i_class, i_delta, i_p, i_variant = (at[c] for c in ("method", "class", "delta", "p_value", "variant"))
        method: str | None = None
        classes: dict[str, ClassScores] = {}
        n_rows = 0
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(path, f"{len(row)} fields, the header has {len(header)}", line)
            n_rows += 1
            if method is None:
                method = row[i_method]
            if row[i_method] != method:
                continue
            scores = classes.setdefault(row[i_class], ClassScores())
            delta, p_value = to_float(row[i_delta]), to_float(row[i_p])
            scores.delta.append(delta)
            scores.p_value.append(p_value)
            try:
                variant = int(row[i_variant])
            except ValueError:
                raise InputError(path, f"variant {row[i_variant]!r} is not an integer", line) from None
            key = _rank_key(delta, p_value, variant)
            if len(scores.heap) < top:
                heapq.heappush(scores.heap, (key, line, dict(zip(header, row))))
            elif top > 0 and key > scores.heap[0][0]:
                heapq.heapreplace(scores.heap, (key, line, dict(zip(header, row))))
    return VariantScores(method or "", classes, n_rows)


def short_allele(allele: str, limit: int = MAX_ALLELE) -> str:
    """An allele as shown: at most ``limit`` bases, then ``…`` and its length."""
    return allele if len(allele) <= limit else f"{allele[:limit]}…({len(allele)} bp)"


def variant_name(row: Mapping[str, str]) -> str:
    """The VCF id, or ``chrom:pos`` where the record has none (``.``)."""
    ident = row.get("id", "")
    return ident if ident and ident != "." else f"{row.get('chrom', '?')}:{row.get('pos', '?')}"


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def scatter_png(scores: VariantScores, labelled: int = LABELLED, max_points: int = MAX_POINTS) -> bytes:
    """Δ against −log10 p of the first method's rows, a panel per class (at most :data:`MAX_PANELS`),
    the ``labelled`` strongest variants named. Without p-values (``null_size`` 0), histograms of Δ."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(scores.classes)[:MAX_PANELS]
    columns = min(len(names), 3) or 1
    rows = math.ceil(len(names) / columns) or 1
    fig = Figure(figsize=(4.2 * columns, 3.4 * rows), dpi=100)
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    with_p = scores.any_p
    for ax, name in zip(axes, names):
        data = scores.classes[name]
        delta = np.asarray(data.delta, dtype=np.float64)
        p_value = np.asarray(data.p_value, dtype=np.float64)
        ax.grid(alpha=0.3)
        ax.axvline(0, color="grey", lw=0.6)
        if not with_p:
            finite = delta[np.isfinite(delta)]
            ax.hist(finite, bins=40, color=REF_COLOUR, alpha=0.8)
            ax.set(xlabel="Δ (logit ALT − logit REF)", ylabel="variants")
            ax.set_title(f"class {name} ({finite.size} variants)", fontsize=9, loc="left", parse_math=False)
            continue
        smallest = p_value[np.isfinite(p_value) & (p_value > 0)]
        floor = float(smallest.min()) / 10 if smallest.size else 1e-300
        y = -np.log10(np.clip(p_value, floor, None))
        keep = np.isfinite(delta) & np.isfinite(y)
        order = np.flatnonzero(keep)
        if order.size > max_points:  # the strongest half by p then |Δ|, the rest a seeded sample
            strongest = np.lexsort((-np.abs(delta[order]), -y[order]))[: max_points // 2]
            others = np.setdiff1d(np.arange(order.size), strongest)
            sample = np.random.default_rng(0).choice(others, max_points - strongest.size, replace=False)
            order = order[np.sort(np.concatenate([strongest, sample]))]
        ax.scatter(delta[order], y[order], s=9, lw=0, alpha=0.6, color=REF_COLOUR, rasterized=True)
        for i, row in enumerate(data.top()[:labelled]):
            dx, p = to_float(row.get("delta")), to_float(row.get("p_value"))
            if not (math.isfinite(dx) and math.isfinite(p)):
                continue
            py = -math.log10(max(p, floor))
            ax.scatter([dx], [py], s=22, facecolors="none", edgecolors=ALT_COLOUR, lw=1.0)
            # labels one under the other, towards the middle of the panel: the strongest variants often
            # share the null's floor of p and lie close together
            right = dx > np.nanmean(delta)
            ax.annotate(short_allele(variant_name(row), 24), (dx, py), xytext=(-10 if right else 10, -10 - 10 * i),
                        textcoords="offset points", ha="right" if right else "left", fontsize=7, color=ALT_COLOUR,
                        parse_math=False, arrowprops={"arrowstyle": "-", "lw": 0.5, "color": ALT_COLOUR})
        shown = f"{order.size} of {int(keep.sum())} variants" if order.size < keep.sum() else f"{order.size} variants"
        ax.set(xlabel="Δ (logit ALT − logit REF)", ylabel="−log10 p")
        ax.set_title(f"class {name} ({shown})", fontsize=9, loc="left", parse_math=False)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    return _png(fig)


def allele_lengths(ref: str, alt: str) -> tuple[int, int]:
    """Lengths of the left-normalised alleles (they do not depend on the genome's bases, so none is read)."""
    from ..sequences.variant_windows import normalize

    _, nref, nalt = normalize("", 2, ref, alt, lambda chrom, lo, hi: "N" * max(hi - lo, 0))
    return len(nref), len(nalt)


def variant_logo_png(row: Mapping[str, str], ref_map: np.ndarray, alt_map: np.ndarray, delta: np.ndarray,
                     alt_only: np.ndarray, ref_onehot: np.ndarray, alt_onehot: np.ndarray, flank: int = FLANK) -> bytes:
    """Three stacked logos of one variant over ±``flank`` bp: ref map, alt map (letter height = relevance
    of the observed base of each window) and ΔR on the reference bases; the alleles shaded.

    ``ref_map``, ``alt_map``, ``delta``, ``alt_only`` (L,); ``ref_onehot``, ``alt_onehot`` (4, L).
    x is the position relative to index L // 2 of each window (the variant's first REF base, or an
    indel's anchor, at 0); an insertion's ALT starts ``(len(ALT) - len(REF)) // 2`` bases before it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..variants.windows import allele_spans
    from .logos import draw_logo

    length = int(np.asarray(ref_map).shape[-1])
    centre = length // 2
    lo, hi = max(0, centre - flank), min(length, centre + flank + 1)
    ref_len, alt_len = allele_lengths(row.get("ref", "N") or "N", row.get("alt", "N") or "N")
    ref_span, alt_span = allele_spans(length, "N" * ref_len, "N" * alt_len)

    def letters(values: np.ndarray, onehot: np.ndarray) -> np.ndarray:
        out = np.nan_to_num(np.asarray(values, dtype=np.float64))[None, lo:hi] * np.asarray(onehot, np.float64)[:, lo:hi]
        return np.nan_to_num(out)

    panels = [(letters(ref_map, ref_onehot), ref_span, "REF window", "relevance"),
              (letters(alt_map, alt_onehot), alt_span, "ALT window", "relevance"),
              (letters(delta, ref_onehot), ref_span, "ΔR on REF bases (ALT map on REF coordinates − REF map)", "ΔR")]
    fig = Figure(figsize=(max(6.0, 1.4 + 0.2 * (hi - lo)), 5.6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 1, sharex=True)
    limits = []
    for ax, (matrix, span, title, ylabel) in zip(axes, panels):
        draw_logo(ax, matrix, start=lo - centre, ylabel=ylabel)
        ax.set_title(title, fontsize=8, loc="left", parse_math=False)
        ax.axvspan(span[0] - centre - 0.5, span[1] - centre - 0.5, color=SPAN_COLOUR, alpha=0.3, lw=0, zorder=0)
        top = float(matrix.clip(min=0).sum(axis=0).max(initial=0.0))
        bottom = float(matrix.clip(max=0).sum(axis=0).min(initial=0.0))
        limits.append((bottom, top))
    shared = (min(limits[0][0], limits[1][0]), max(limits[0][1], limits[1][1]))
    for ax, (bottom, top) in zip(axes, [shared, shared, limits[2]]):
        pad = 0.08 * (top - bottom) or 1e-6
        ax.set_ylim(bottom - pad, top + pad)
    extra = float(np.nan_to_num(np.asarray(alt_only, dtype=np.float64)).sum())
    if extra:
        axes[2].set_title(f"{panels[2][2]}; ALT bases without a REF counterpart: ΣR = {extra:.3g}", fontsize=8,
                          loc="left", parse_math=False)
    axes[2].set_xlim(lo - centre - 0.5, hi - centre - 0.5)
    axes[2].set_xlabel("position relative to the variant (bp)", fontsize=8)
    fig.suptitle(f"{short_allele(variant_name(row), 40)}  {row.get('chrom', '')}:{row.get('pos', '')}  "
                 f"{short_allele(row.get('ref', ''))}>{short_allele(row.get('alt', ''))} ({row.get('kind', '')})\n"
                 f"class {short_allele(row.get('class', ''), 40)}, method {row.get('method', '')}: "
                 f"Δ = {fmt(row.get('delta', ''))}, p = {fmt(row.get('p_value', '')) or '–'}", fontsize=9, x=0.01,
                 ha="left", parse_math=False)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.86, bottom=0.09, hspace=0.5)
    return _png(fig)


def _motif_cell(row: Mapping[str, str]) -> str:
    name, ident, effect = row.get("motif", ""), row.get("motif_id", ""), row.get("motif_effect", "")
    if not (name or ident):
        return "–"
    scores = ""
    if row.get("motif_ref_score") or row.get("motif_alt_score"):
        scores = f", {fmt(row.get('motif_ref_score', '')) or '–'} → {fmt(row.get('motif_alt_score', '')) or '–'} bits"
    return f"{name} ({ident}) {effect}{scores}".strip()


def _counts(summary: Mapping, rel_vcf: str) -> Markup:
    mapping = summary.get("contig_mapping") or {}
    mapped = (", ".join(f"{a} → {b}" for a, b in list(mapping.items())[:12])
              + (f" and {len(mapping) - 12} more" if len(mapping) > 12 else "")) if isinstance(mapping, Mapping) else str(mapping)
    kinds = summary.get("kinds") or {}
    items: dict[str, object] = {
        "VCF": code(rel_vcf),
        "records read": summary.get("records", "?"),
        "rows scored (record × ALT)": summary.get("scored", summary.get("rows", "?")),
        "skipped: symbolic ALT": summary.get("symbolic_skipped", "?"),
        "skipped: REF mismatch": summary.get("ref_mismatch_skipped", "?"),
        "contig mapping": mapped or "none (VCF contigs named as in the genome)",
        "kinds": ", ".join(f"{k} {v}" for k, v in kinds.items()) if isinstance(kinds, Mapping) else str(kinds),
        "classes": ", ".join(str(c) for c in summary.get("classes") or []) or "?",
        "methods": ", ".join(str(m) for m in summary.get("methods") or []) or "?",
    }
    return definition_list(items)


def _top_table(scores: VariantScores) -> Markup:
    rows = []
    for name, data in scores.classes.items():
        for rank, row in enumerate(data.top(), start=1):
            rows.append((rank, variant_name(row), code(f"{row['chrom']}:{row['pos']}"),
                         code(f"{short_allele(row['ref'])}>{short_allele(row['alt'])}"), row.get("kind", ""), name,
                         fmt(row.get("delta", "")), fmt(row.get("p_value", "")) or "–",
                         fmt(row.get("q_value", "")) or "–", fmt(row.get("relevance_ref", "")) or "–",
                         fmt(row.get("relevance_alt", "")) or "–", _motif_cell(row)))
    return element("div", table(("rank", "id", "position", "ref>alt", "kind", "class", "Δ", "p", "q", "relevance_ref",
                                 "relevance_alt", "motif, effect"), rows, numeric=(0, 6, 7, 8, 9, 10)), class_="wide")


def variants_section(results: Path, rel: Callable[[Path], str], classes: Sequence[str] = (),
                     top: int = TOP_ROWS, logos: int = TOP_LOGOS) -> tuple[list[Markup], int]:
    """The section's blocks and the number of figures embedded.

    ``rel`` turns a results path into the path shown; ``classes``: the run's, which order the
    panels when ``scores.tsv`` holds them all.
    """
    directory = results / "variants"
    blocks: list[Markup] = [element("p", "Each VCF record × ALT is scored by the change it makes to each class's "
                                         "logit, Δ = logit(ALT window) − logit(REF window); p is empirical, against the "
                                         "same kind of change in dinucleotide-shuffled contexts, q the Benjamini-Hochberg "
                                         "q-value per class. relevance_ref / relevance_alt: the summed relevance of the "
                                         "REF bases in the REF window and of the ALT bases in the ALT window "
                                         f"(docs/variants.md; all rows in {rel(directory / SCORES_NAME)}).")]
    images = 0
    summary_path = directory / SUMMARY_NAME
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        if not isinstance(summary, Mapping):
            raise TypeError("not a JSON object")
        blocks += [element("h3", "Records"), _counts(summary, str(summary.get("vcf", "?")))]
    except (OSError, ValueError, TypeError) as err:
        blocks.append(note(f"{rel(summary_path)} missing or unreadable ({err}).", kind="warn"))
    scores_path = directory / SCORES_NAME
    if not scores_path.is_file():
        return blocks + [note(f"{rel(scores_path)} does not exist.", kind="warn")], images
    try:
        scores = read_variant_scores(scores_path, top)
    except (InputError, OSError) as err:
        log.warning("report: %s", err)
        return blocks + [note(f"Skipped: {err}", kind="warn")], images
    if not scores.classes:
        return blocks + [note(f"{rel(scores_path)} holds no scored variant.")], images
    order = [c for c in classes if c in scores.classes] + [c for c in scores.classes if c not in classes]
    scores.classes = {c: scores.classes[c] for c in order}
    method_text = "" if scores.method in ("", "-") else f" (method {scores.method}, the first)"
    blocks.append(element("h3", "Effect against significance"))
    what = ("Δ against −log10 p, one panel per class; circled and named: the strongest variants of the table below"
            if scores.any_p else "Δ per class (no p-values: variant_effects.null_size is 0)")
    if len(scores.classes) > MAX_PANELS:
        what += f"; the first {MAX_PANELS} of {len(scores.classes)} classes"
    try:
        blocks.append(figure(scatter_png(scores), f"{what} ({rel(scores_path)}).", scores_path))
        images += 1
    except (InputError, ValueError) as err:
        blocks.append(note(f"Figure skipped: {err}", kind="warn"))
    blocks += [element("h3", f"Strongest variants{method_text}"),
               element("p", f"Per class the {top} variants of smallest p, then largest |Δ|. Motif: the JASPAR or "
                            "TF-MoDISco motif the variant changes most, its best log-odds score in REF → ALT.",
                       class_="muted"),
               _top_table(scores)]
    blocks += [element("h3", "Relevance around the strongest variants")]
    logo_blocks, drawn = _logo_blocks(results, rel, scores, logos)
    blocks += logo_blocks
    images += drawn
    evaluation_path = results / "evaluation" / "variants.tsv"
    if evaluation_path.is_file():
        blocks.append(element("h3", "Labelled variants"))
        try:
            evaluation = read_tsv(evaluation_path, EVALUATION_COLUMNS)
            blocks += [element("p", "AUROC of the variant scores against labelled variants: motif-breaking "
                                    "(break_vs_control, scored by −Δ and by relevance_ref) and motif-creating "
                                    f"(create_vs_control, by Δ) against controls ({rel(evaluation_path)}).",
                               class_="muted"),
                       tsv_table(evaluation)]
        except InputError as err:
            blocks.append(note(f"Skipped: {err}", kind="warn"))
    return blocks, images


def _logo_blocks(results: Path, rel: Callable[[Path], str], scores: VariantScores,
                 logos: int) -> tuple[list[Markup], int]:
    """The logo figures of the strongest variants per class, and how many were drawn."""
    from ..variants.maps import open_variant_maps

    if scores.method in ("", "-"):
        return [note("No relevance maps: the variants were scored without explanation "
                     "(variant_effects.explain false), so no logos are drawn.")], 0
    maps_root = results / "variants" / "maps"
    blocks: list[Markup] = [element("p", f"For the {logos} strongest variants per class (method {scores.method}), "
                                         f"±{FLANK} bp around the variant: the relevance of the REF window, of the ALT "
                                         "window (letter height = relevance of the observed base) and ΔR, the change "
                                         "of relevance per reference base (the ALT map moved onto reference "
                                         "coordinates minus the REF map). Shaded: the alleles (normalised). x is "
                                         "relative to the window centre of each window; an insertion's ALT starts "
                                         "left of it, a deletion's flank closes up after the anchor base.",
                                    class_="muted")]
    if not any((maps_root / f"{name}.{scores.method}" / "settings.json").is_file() for name in scores.classes):
        return [note(f"No relevance maps in {rel(maps_root)}: the run kept none (variant_effects.maps false), so no "
                     "logos are drawn; the table's relevance columns come from the scoring itself.")], 0
    drawn = 0
    omitted = 0
    for name, data in scores.classes.items():
        picks = data.top()[:logos]
        if not picks:
            continue
        if drawn >= MAX_LOGO_FIGURES:
            omitted += len(picks)
            continue
        store = maps_root / f"{name}.{scores.method}"
        if not store.resolve().is_relative_to(results.resolve()):
            blocks.append(note(f"Logos skipped: {store} lies outside {results}.", kind="warn"))
            continue
        if not (store / "settings.json").is_file():
            blocks.append(note(f"No logos for class {name}: {rel(store)} does not exist."))
            continue
        try:
            maps = open_variant_maps(store)
        except (SeqlrpError, OSError, ValueError) as err:
            log.warning("report: %s", err)
            blocks.append(note(f"Logos skipped: {err}", kind="warn"))
            continue
        figures = []
        for row in picks:
            if drawn >= MAX_LOGO_FIGURES:
                omitted += 1
                continue
            try:
                pairs = np.flatnonzero(np.asarray(maps.variants) == int(row["variant"]))
                if not pairs.size:
                    raise InputError(store / "regions.tsv", f"no maps of variant {row['variant']}")
                k = int(pairs[0])
                delta, alt_only = maps.delta(k)
                data_png = variant_logo_png(row, np.asarray(maps.ref(k)), np.asarray(maps.alt(k)), delta, alt_only,
                                            np.asarray(maps.store.onehot[2 * k]), np.asarray(maps.store.onehot[2 * k + 1]))
                caption = (f"{variant_name(row)} {row['chrom']}:{row['pos']} {short_allele(row['ref'])}>"
                           f"{short_allele(row['alt'])} ({row.get('kind', '')}), class {name}: Δ = "
                           f"{fmt(row.get('delta', ''))}, p = {fmt(row.get('p_value', '')) or '–'} "
                           f"({rel(store)}, pair {k})")
                figures.append(figure(data_png, caption, store))
                drawn += 1
            except (SeqlrpError, OSError, ValueError, IndexError) as err:
                log.warning("report: %s", err)
                figures.append(note(f"Logo of {variant_name(row)} skipped: {err}", kind="warn"))
        blocks.append(element("h4", f"class {name}"))
        blocks += figures
    if omitted:
        blocks.append(note(f"{omitted} more logos not drawn (at most {MAX_LOGO_FIGURES} in the report); every map "
                           f"is in {rel(maps_root)} (seqlrp.variants.open_variant_maps)."))
    return blocks, drawn
