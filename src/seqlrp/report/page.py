"""The report: one self-contained HTML page about a run (``results/report.html``), built from its outputs.

The page reads the pipeline's outputs under the results directory (layout in the README) and
embeds every figure as a base64 PNG: it opens offline, fetches nothing and carries no script.
Sections (anchor, title in :data:`SECTIONS`):

1. ``summary`` — date, versions, devices, model hash (SHA-256 of ``model/model.pt``), data set,
   input files (size, SHA-256 up to ``hash_limit_mb``), stage run times, the full config;
2. ``classifier`` — ``model/metrics.tsv`` (**required**), ``roc_pr.png``, the training curve
   drawn from ``train_log.tsv``;
3. ``evaluation`` — ``evaluation/summary.tsv``, ``sweep.png``, ``deletion.png``; only when the run
   has a truth BED (``evaluation=True``), otherwise a note says why it is absent;
4. ``diagnostics`` — ``evaluation/diagnostics.tsv`` with pass/warn badges and thresholds, and
   ``evaluation/diagnostics/{class}.{method}.png``;
5. ``motifs`` — per class and method, ``motifs.tsv`` with the best JASPAR match and its q-value,
   other significant matches from ``tomtom.tsv``, the logos (at most ``max_motifs``);
6. ``regions`` — the region pictures (at most ``max_regions``) with their genome coordinates,
   read from the attribution ``regions.tsv``: BED style ``chrom:start-end(strand)`` (0-based,
   half-open) and the 1-based locus that IGV and the UCSC browser accept;
7. ``variants`` — only when the run scored variants (config ``variants`` or the demo's VCF): the
   records read and skipped, Δ against −log10 p per class, the strongest variants, ref / alt / ΔR
   logos around the first few, the labelled-variant AUROCs (:mod:`seqlrp.report.variants`);
8. ``files`` — every output file, its size and one line on what it holds.

Optional inputs that are missing or unreadable become a note on the page; a missing ``model.pt``
and a missing or malformed ``metrics.tsv`` raise :class:`~seqlrp.errors.InputError` (a checkpoint
that cannot be loaded is still hashed, with a note). All file content is escaped
(:mod:`seqlrp.report.htmlkit`). The same outputs give the same page except for the time stamp and the
lines that describe the machine (versions, devices).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from .. import __version__
from ..errors import InputError, SeqlrpError
from ..provenance import file_info, host_devices, human_size, sha256_file, versions
from .data import (
    Tsv,
    fmt,
    locus,
    plain_data,
    read_tsv,
    region_pictures,
    to_float,
    training_curve_png,
    tsv_table,
)
from .htmlkit import (
    Markup,
    badge,
    code,
    definition_list,
    details,
    element,
    figure,
    join,
    note,
    page,
    table,
)
from .variants import variants_section

log = logging.getLogger(__name__)

SECTIONS = (
    ("summary", "Run summary and provenance"),
    ("classifier", "Classifier performance"),
    ("evaluation", "Ground-truth evaluation"),
    ("diagnostics", "Artifact diagnostics"),
    ("motifs", "Motifs and JASPAR matches"),
    ("regions", "Top regions"),
    ("files", "Output files"),
)
"""The sections of every report; :data:`VARIANTS_SECTION` goes before ``files`` when the run scored variants."""
VARIANTS_SECTION = ("variants", "Variant effects")
#: The offline igv.js page (rule browser), written beside the report: linked from its header.
BROWSER_PAGE = "browser.html"

METRICS_COLUMNS = ("split", "class", "auroc", "auprc")
SUMMARY_COLUMNS = ("class", "method", "auroc", "auprc", "rma", "gini", "aopc")
DIAGNOSTICS_COLUMNS = ("class", "method", "diagnostic", "value", "threshold", "verdict")
MOTIF_COLUMNS = ("motif", "best_id", "best_name", "q_value")
NO_EVALUATION = ("No ground-truth evaluation in this run: it needs a BED of known motif sites (the demo's "
                 "truth.bed, or evaluate.truth in the config).")

DIAGNOSTIC_MEANINGS = {  # one line each; thresholds and what to change: config/README.md, section diagnostics
    "border_excess": "positional bias: mean |relevance| at the window borders relative to the centre",
    "conservation_error": "how far the summed input relevance is from the explained logit (relative)",
    "absorbed_share": "share of the logit absorbed by biases and stabilisers instead of reaching the input",
    "randomisation_similarity": "rank correlation of |relevance| from the trained and from a randomised model "
                                "(Adebayo et al. 2018); high means the map shows the input, not what the model learned",
    "n_relevance_share": "share of |relevance| on N positions, which carry no sequence",
    "null_exceedance": "share of positions whose relevance is not above the per-position null band from "
                       "dinucleotide-shuffled sequences",
}


@dataclass(frozen=True)
class ReportOptions:
    """``report`` config section: caps on embedded pictures and on input hashing."""

    max_regions: int = 10
    max_motifs: int = 20
    max_variant_logos: int = 3
    hash_limit_mb: float = 256.0

    @classmethod
    def from_config(cls, section: Mapping | None) -> ReportOptions:
        section = dict(section or {})
        return cls(**{key: section[key] for key in ("max_regions", "max_motifs", "max_variant_logos", "hash_limit_mb")
                      if key in section})


class _Builder:
    """Collects the sections of one report; notes about absent optional inputs go on the page."""

    def __init__(self, results: Path, config: Mapping, classes: Sequence[str], methods: Sequence[str],
                 evaluation: bool, inputs: Sequence[str], options: ReportOptions):
        self.results = results
        self.config = config
        self.classes = list(classes)
        self.methods = list(methods)
        self.labels = [f"{c}.{m}" for c in self.classes for m in self.methods]
        self.evaluation = evaluation
        self.inputs = list(dict.fromkeys(str(p) for p in inputs if p))
        self.options = options
        self.config_sha256: str | None = None
        self.with_variants = False
        self.n_images = 0

    # -- helpers -------------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        """A results path as shown to users: ``results/tracks/...`` (relative to the run directory)."""
        try:
            return f"{self.results.name}/{path.relative_to(self.results).as_posix()}"
        except ValueError:
            return str(path)

    def png(self, path: Path, caption: object, class_: str | None = None, missing: str | None = None) -> Markup:
        """An embedded figure of ``path``; a note when the file is missing, not a PNG, or outside the
        results (file names built from names read in tables must not lead elsewhere)."""
        if not path.resolve().is_relative_to(self.results.resolve()):
            return note(f"Figure skipped: {path} lies outside {self.results}.", kind="warn")
        if not path.is_file():
            return note(missing or f"No figure: {self.rel(path)} does not exist.")
        try:
            block = figure(path.read_bytes(), caption, self.rel(path), class_=class_)
        except InputError as err:
            return note(f"Figure skipped: {err}", kind="warn")
        self.n_images += 1
        return block

    def optional_tsv(self, path: Path, required: Sequence[str]) -> tuple[Tsv | None, Markup | None]:
        """``(table, None)``, or ``(None, note)`` when the file is missing or malformed."""
        if not path.is_file():
            return None, note(f"{self.rel(path)} does not exist.", kind="warn")
        try:
            return read_tsv(path, required), None
        except InputError as err:
            log.warning("report: %s", err)
            return None, note(f"Skipped: {err}", kind="warn")

    # -- sections ------------------------------------------------------------------------------
    def summary(self, now: datetime) -> list[Markup]:
        model_path = self.results / "model" / "model.pt"
        if not model_path.is_file():
            raise InputError(model_path, "required input missing: the model checkpoint (run the train stage first)")
        info, model_note = self._model_info(model_path)
        training_device = info.pop("training device", "not recorded in the checkpoint")
        items: dict[str, object] = {
            "generated": now.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "classes": ", ".join(self.classes),
            "methods": ", ".join(f"{m} ({self._method_text(m)})" for m in self.methods),
            "model file": code(self.rel(model_path)),
            "model SHA-256": code(sha256_file(model_path)),
            **({"config SHA-256 (tracks)": code(self.config_sha256)} if self.config_sha256 else {}),
            **info,
            **self._dataset(),
            "device (training)": training_device,
            "devices (config)": ", ".join(f"{stage}: {self.config.get(stage, {}).get('device', 'auto')}"
                                          for stage in ("train", "predict", "attribute")),
            "this machine": host_devices(),
            **self._gpu_fallbacks(),
        }
        blocks = [element("h3", "Run"), definition_list(items)]
        if model_note:
            blocks.append(model_note)
        found = list(versions().items())
        per_row = 4  # name/version pairs per table row keep the list short
        rows = [[cell for pair in found[i:i + per_row] for cell in (element("b", pair[0]), pair[1])]
                for i in range(0, len(found), per_row)]
        blocks += [element("h3", "Software versions"),
                   table(("package", "version") * per_row, [r + ["", ""] * (per_row - len(r) // 2) for r in rows])]
        blocks += [element("h3", "Input files"), self._input_files()]
        benchmarks = self._benchmarks()
        if benchmarks is not None:
            blocks.append(details("Stage run times (Snakemake benchmarks)", benchmarks))
        blocks.append(details("Full configuration (YAML, defaults filled in)",
                              element("pre", yaml.safe_dump(plain_data(self.config), sort_keys=False,
                                                            default_flow_style=False, allow_unicode=True))))
        return blocks

    def _method_text(self, method: str) -> str:
        settings = (self.config.get("attribute", {}).get("methods", {}) or {}).get(method) or {}
        text = settings.get("composite", "epsilon-plus")
        prune = settings.get("prune")
        if prune:
            p_pos = prune.get("p_pos", 0.25)
            p_neg = prune.get("p_neg")
            text += f", PLRP-{'M' if prune.get('mode') == 'mask' else 'λ'} p⁺={p_pos} p⁻={p_pos / 2 if p_neg is None else p_neg}"
        return text

    def _model_info(self, path: Path) -> tuple[dict[str, object], Markup | None]:
        from ..models import load_model

        try:
            model = load_model(path)
        except SeqlrpError as err:
            return {}, note(f"The checkpoint could not be read: {err}", kind="warn")
        meta = model.seqlrp_info
        provenance = dict(meta.provenance or {})
        items: dict[str, object] = {
            "model": f"{meta.arch}, {sum(p.numel() for p in model.parameters()):,} parameters, seq_len {meta.seq_len}, "
                     f"classes {', '.join(meta.classes)}",
        }
        if meta.arch == "external":  # a model from outside seqlrp: where it came from, not hyperparameters
            source = dict(meta.hparams.get("source") or {})
            items["model source"] = code(f"{source.get('format', '?')}: {provenance.get('source_path', '?')}")
            if provenance.get("source_sha256"):
                items["model source SHA-256"] = code(provenance["source_sha256"])
            if provenance.get("weights_path"):
                items["model weights"] = code(f"{provenance['weights_path']} (SHA-256 {provenance.get('weights_sha256', '?')})")
            indices = meta.hparams.get("indices") or []
            output = meta.hparams.get("output")
            items["explained outputs"] = ", ".join(
                f"{name} = {'' if output is None else f'output {output!r}, '}task {index}"
                for name, index in zip(meta.classes, indices))
            if source.get("kwargs"):
                items["model arguments"] = code(json.dumps(source["kwargs"], sort_keys=True))
        else:
            items["hyperparameters"] = code(json.dumps(meta.hparams, sort_keys=True))
        if "best_epoch" in provenance:
            items["training"] = (f"kept epoch {provenance['best_epoch']} of {provenance.get('epochs_run', '?')}, "
                                 f"seed {provenance.get('seed', '?')}, validation AUROC "
                                 f"{to_float(str(provenance.get('valid_auroc'))):.4g}")
        if "device" in provenance:
            items["training device"] = provenance["device"]
        return items, None

    def _dataset(self) -> dict[str, object]:
        path = self.results / "data" / "dataset.json"
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"data set": f"{self.rel(path)} missing or unreadable"}
        splits = info.get("split_counts", {})
        order = {"train": 0, "valid": 1, "test": 2}
        classes = [c for c in dict.fromkeys([*info.get("classes", []), *splits]) if c in splits]
        per_class = "; ".join(f"{cls}: " + ", ".join(f"{k} {v}" for k, v in sorted(splits[cls].items(),
                                                                                   key=lambda kv: order.get(kv[0], 3)))
                              for cls in classes)
        return {"data set": f"{info.get('n_windows', '?')} windows of {info.get('seq_len', '?')} bp from "
                            f"{info.get('source', '?')}; split: {info.get('split_method', '?')}",
                "windows per class": per_class or "–"}

    def _input_files(self) -> Markup:
        if not self.inputs:
            return note("No input files were named.")
        limit = int(self.options.hash_limit_mb * 2**20)
        rows = []
        for path in self.inputs:
            info = file_info(path, limit)
            digest = (code(info.sha256) if info.sha256 else "missing" if info.size is None
                      else f"not hashed (larger than report.hash_limit_mb, {human_size(limit)})")
            rows.append((code(path), human_size(info.size), digest))
        return element("div", table(("path", "size", "SHA-256"), rows, numeric=(1,)), class_="wide")

    def _gpu_fallbacks(self) -> dict[str, object]:
        """``{"GPU jobs run on the CPU": ...}`` when a job's log holds the fallback WARNING, else empty."""
        from ..models.device import GPU_FALLBACK

        directory = self.results / "logs"
        jobs = []
        for path in sorted(directory.rglob("*.log")) if directory.is_dir() else []:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    if any(GPU_FALLBACK in line for line in handle):
                        jobs.append(path.relative_to(directory).with_suffix("").as_posix())
            except OSError:
                continue
        if not jobs:
            return {}
        shown = ", ".join(jobs[:8]) + (f" and {len(jobs) - 8} more" if len(jobs) > 8 else "")
        return {"GPU jobs run on the CPU": note(f"{len(jobs)} job(s) asked for a GPU, but torch saw no CUDA device "
                                                f"on their node: {shown} (see their logs)", kind="warn")}

    def _benchmarks(self) -> Markup | None:
        directory = self.results / "benchmarks"
        rows = []
        for path in sorted(directory.rglob("*.tsv")) if directory.is_dir() else []:
            try:
                tsv = read_tsv(path, ("s",))
            except InputError:
                continue
            if tsv.rows:
                first = tsv.rows[0]
                rows.append((path.relative_to(directory).with_suffix("").as_posix(), fmt(first["s"]),
                             fmt(first.get("max_rss", "NA"))))
        return table(("job", "seconds", "max RSS (MB)"), rows, numeric=(1, 2)) if rows else None

    def classifier(self) -> list[Markup]:
        path = self.results / "model" / "metrics.tsv"
        if not path.is_file():
            raise InputError(path, "required input missing: the classifier metrics (run the predict stage first)")
        metrics = read_tsv(path, METRICS_COLUMNS)
        blocks = [element("p", "One-vs-rest per class and split; ", code("class = all"),
                          " is the macro average. ", code("n"), " windows in the split, ", code("n_class"),
                          " of that class."),
                  tsv_table(metrics)]
        figure_path = self.results / "model" / "roc_pr.png"
        tiles = bool(metrics.rows) and all(row["split"] == "tile" for row in metrics.rows)
        unlabeled = bool(metrics.rows) and all(row["class"] == "all" and row.get("n_class") == "0" for row in metrics.rows)
        what = ("Predicted probabilities of the tiles (genome-wide tiling has no labels, so no ROC)" if tiles
                else "Predicted probabilities (no region set is named like a class of the model, so no ROC)" if unlabeled
                else "ROC and precision-recall curves of the test split")
        blocks.append(self.png(figure_path, f"{what} ({self.rel(figure_path)})"))
        history_path = self.results / "model" / "train_log.tsv"
        if history_path.is_file():
            history, problem = self.optional_tsv(history_path, ("epoch",))
            if history is not None and history.rows:
                blocks.append(figure(training_curve_png(history), f"Training curve ({self.rel(history_path)})",
                                     history_path))
                self.n_images += 1
            elif problem is not None:
                blocks.append(problem)
        else:
            blocks.append(note("No training log: the model was imported (model.checkpoint or model.module), not trained here."))
        return blocks

    def evaluation_section(self) -> list[Markup]:
        if not self.evaluation:
            return [note(NO_EVALUATION)]
        directory = self.results / "evaluation"
        summary, problem = self.optional_tsv(directory / "summary.tsv", SUMMARY_COLUMNS)
        blocks: list[Markup] = []
        if summary is None:
            blocks.append(problem)  # type: ignore[arg-type]
        else:
            configured = [r for r in summary.rows if r["method"] in self.methods]
            blocks += [element("p", "Per-position relevance against the planted sites (Koo & Ploenzke protocol): "
                                    "AUROC/AUPRC averaged over sequences, Relevance Mass Accuracy (rma), Gini "
                                    "index of |R| (gini, sparsity), deletion AOPC of the logit drop (aopc)."),
                       element("h3", "Configured methods")]
            blocks.append(tsv_table(summary, rows=configured) if configured
                          else note("No row of summary.tsv names a configured method."))
            blocks.append(details(f"All {len(summary.rows)} rows: LRP composites, PLRP sweep, baselines "
                                  "(configured methods in bold)",
                                  tsv_table(summary, row_classes=["configured" if r["method"] in self.methods else None
                                                                  for r in summary.rows])))
        blocks += [self.png(directory / "sweep.png", "AUROC, RMA and Gini against the pruning share p "
                            "(PLRP-λ and PLRP-M; LRP as reference)"),
                   self.png(directory / "deletion.png", "Deletion curves: logit drop as the most relevant "
                            "positions are replaced by shuffled bases")]
        return blocks

    def diagnostics(self) -> list[Markup]:
        directory = self.results / "evaluation"
        tsv, problem = self.optional_tsv(directory / "diagnostics.tsv", DIAGNOSTICS_COLUMNS)
        if tsv is None:
            return [problem]  # type: ignore[list-item]
        verdicts = [r["verdict"] for r in tsv.rows]
        counts = join((join((badge(v), f" {verdicts.count(v)}")) for v in dict.fromkeys(verdicts)), sep="  ")
        blocks = [element("p", "Verdicts: ", counts if verdicts else "none", ". A diagnostic warns when its "
                          "value crosses the threshold shown (config diagnostics.thresholds; docs/evaluation.md says "
                          "what each measures and which training option to change when it warns)."),
                  details("What the diagnostics measure",
                          table(("diagnostic", "meaning"), ((code(k), v) for k, v in DIAGNOSTIC_MEANINGS.items())))]
        labels = self.labels + [lab for lab in dict.fromkeys(f"{r['class']}.{r['method']}" for r in tsv.rows)
                                if lab not in self.labels]
        columns = [c for c in ("diagnostic", "value", "threshold", "verdict", "detail") if c in tsv.header]
        for label in labels:
            rows = [r for r in tsv.rows if f"{r['class']}.{r['method']}" == label]
            figure_path = directory / "diagnostics" / f"{label}.png"
            if not rows and not figure_path.is_file():
                continue
            blocks.append(element("h3", label))
            cells = [[badge(r[c]) if c == "verdict" else code(r[c]) if c == "diagnostic" else fmt(r[c])
                      for c in columns] for r in rows]
            numeric = [j for j, c in enumerate(columns) if c in ("value", "threshold")]
            blocks.append(element("div", table(columns, cells, numeric), class_="wide") if rows
                          else note("No diagnostics rows for this class and method."))
            blocks.append(self.png(figure_path, f"{label}: positional profile against the shuffled-sequence null band, "
                                   f"conservation, randomisation ({self.rel(figure_path)})",
                                   missing=f"No diagnostics figure ({self.rel(figure_path)})."))
        return blocks

    def motifs(self) -> list[Markup]:
        q_threshold = float(self.config.get("motifs", {}).get("q_threshold", 0.05))
        blocks = [element("p", "TF-MoDISco motifs per class and method, matched with TOMTOM against JASPAR; "
                               f"a match is significant when q < {q_threshold:g}. Logos: contribution (CWM), "
                               "information content (PWM) and the best match, aligned.")]
        for label in self.labels:
            blocks.append(element("h3", label))
            blocks += self._motif_block(label, q_threshold)
        return blocks

    def _motif_block(self, label: str, q_threshold: float) -> list[Markup]:
        directory = self.results / "motifs" / label
        blocks: list[Markup] = []
        line = self._seqlet_line(label)
        if line:
            blocks.append(element("p", line, class_="muted"))
        motifs, problem = self.optional_tsv(directory / "motifs.tsv", MOTIF_COLUMNS)
        if motifs is None:
            return blocks + [problem]  # type: ignore[list-item]
        if not motifs.rows:
            return blocks + [note("No motifs were found for this class and method.")]
        others = self._other_matches(directory / "tomtom.tsv", q_threshold)
        rows = []
        for r in motifs.rows:
            best = f"{r['best_name']} ({r['best_id']})" if r["best_id"] else "–"
            extra = [t for t in others.get(r["motif"], []) if not t.endswith(f"({r['best_id']})")]
            rows.append([code(r["motif"]), r.get("sign", ""), r.get("n_seqlets", ""), code(r.get("consensus", "")), best,
                         fmt(r["q_value"]) if r["q_value"] else "–",
                         badge("pass", "yes") if r.get("significant") == "true" else element("span", "no", class_="muted"),
                         ", ".join(extra[:5]) or "–"])
        blocks.append(element("div", table(("motif", "sign", "seqlets", "consensus", "best JASPAR match", "q-value",
                                            f"q < {q_threshold:g}", "other significant matches"), rows, (2, 5)),
                              class_="wide"))
        shown = motifs.rows[: self.options.max_motifs]
        logos = []
        for r in shown:
            short = r["motif"][len(label) + 1:] if r["motif"].startswith(f"{label}.") else r["motif"].rsplit(".", 1)[-1]
            match = f" — {r['best_name']} ({r['best_id']}), q = {fmt(r['q_value'])}" if r["best_id"] else ""
            logos.append(self.png(directory / "logos" / f"{short}.png", f"{r['motif']}{match}"))
        blocks.append(element("div", *logos, class_="grid"))
        if len(motifs.rows) > len(shown):
            blocks.append(note(f"{len(motifs.rows) - len(shown)} more logos in {self.rel(directory / 'logos')} "
                               f"(report.max_motifs = {self.options.max_motifs})."))
        return blocks

    def _seqlet_line(self, label: str) -> str:
        parts = []
        settings_path = self.results / "attributions" / label / "settings.json"
        try:
            settings = json.loads(settings_path.read_text(encoding="utf-8"))
            parts.append(f"{settings.get('n_windows', '?')} windows ({settings.get('selection', '?')}) explained by "
                         f"their class logit")
        except (OSError, ValueError):
            pass
        seqlets_path = self.results / "seqlets" / f"{label}.json"
        try:
            seqlets = json.loads(seqlets_path.read_text(encoding="utf-8"))
            parts.append(f"{seqlets.get('seqlets', '?')} seqlets at FDR {seqlets.get('fdr', '?')} "
                         f"({seqlets.get('positive', '?')} positive, {seqlets.get('negative', '?')} negative)")
        except (OSError, ValueError):
            pass
        return "; ".join(parts)

    def _other_matches(self, path: Path, q_threshold: float) -> dict[str, list[str]]:
        """Per motif id, its significant TOMTOM targets (PWM and CWM queries), lowest q first."""
        if not path.is_file():
            return {}
        try:
            tomtom = read_tsv(path, ("query", "target_id", "target_name", "q_value"))
        except InputError as err:
            log.warning("report: %s", err)
            return {}
        hits: dict[str, dict[str, float]] = {}
        for r in tomtom.rows:
            q = to_float(r["q_value"])
            if q < q_threshold:
                motif = r["query"].removesuffix(".cwm")
                target = f"{r['target_name']} ({r['target_id']})"
                hits.setdefault(motif, {})[target] = min(q, hits.get(motif, {}).get(target, math.inf))
        return {m: sorted(t, key=lambda name: t[name]) for m, t in hits.items()}

    def regions(self) -> list[Markup]:
        blocks = [element("p", "The windows of highest logit per class and method, drawn as relevance logos "
                               "(letter height = relevance of the position, on its observed base; known sites shaded, motif "
                               "instances underlined). Coordinates: BED style ", code("chrom:start-end(strand)"),
                          " (0-based, half-open; on strand ", code("-"), " the picture shows the reverse complement) and the 1-based ",
                          "locus to paste into IGV or the UCSC browser.")]
        for label in self.labels:
            blocks.append(element("h3", label))
            directory = self.results / "motifs" / label / "regions"
            if not directory.is_dir():
                blocks.append(note(f"{self.rel(directory)} does not exist."))
                continue
            windows_path = self.results / "attributions" / label / "regions.tsv"
            windows, problem = self.optional_tsv(windows_path, ("chrom", "start", "end", "strand", "logit"))
            if problem is not None:
                blocks.append(problem)
            pictures = region_pictures(directory, windows)
            if not pictures:
                blocks.append(note("No region pictures (motifs.n_regions = 0?)."))
                continue
            shown = pictures[: self.options.max_regions]
            rows = []
            for pic in shown:
                bed, browser = locus(pic.chrom, pic.start, pic.end, pic.strand or "?")
                rows.append((pic.rank, pic.name or "–", code(bed), code(browser),
                             "–" if pic.logit is None or math.isnan(pic.logit) else f"{pic.logit:.4g}"))
            blocks.append(table(("rank", "name", "window (BED, 0-based)", "browser locus (1-based)", "logit"), rows,
                                numeric=(0, 4)))
            for pic, row in zip(shown, rows):
                caption = join((f"#{pic.rank} {pic.name or ''}  ", row[2], "  ", row[3], f"  logit {row[4]}"))
                blocks.append(self.png(pic.path, caption, class_="region"))
            if len(pictures) > len(shown):
                blocks.append(note(f"{len(pictures) - len(shown)} more pictures in {self.rel(directory)} "
                                   f"(report.max_regions = {self.options.max_regions})."))
        return blocks

    def variants(self) -> list[Markup]:
        blocks, images = variants_section(self.results, self.rel, self.classes, logos=self.options.max_variant_logos)
        self.n_images += images
        return blocks

    def files(self) -> list[Markup]:
        rows = []
        for path, what in self._file_index():
            if path.is_file():
                size = human_size(path.stat().st_size)
            else:  # hidden files (Snakemake's .snakemake_timestamp) are not outputs
                size = f"{sum(1 for f in path.rglob('[!.]*') if f.is_file())} files"
            rows.append((code(self.rel(path) + ("/" if path.is_dir() else "")), size, what))
        return [element("p", "Paths relative to the directory the pipeline ran in. Tracks load in IGV or the UCSC "
                             "browser; seqlet BED files too."),
                element("div", table(("path", "size", "content"), rows, numeric=(1,)), class_="wide")]

    def _file_index(self) -> list[tuple[Path, str]]:
        r = self.results
        entries: list[tuple[Path, str]] = [
            (r / "data" / "onehot.npy", "one-hot windows, uint8 (N, 4, L), channels A, C, G, T"),
            (r / "data" / "regions.tsv", "one row per window (row i = onehot[i]): chrom start end strand name class split"),
            (r / "data" / "dataset.json", "classes, seq_len, counts per class and split"),
            (r / "data" / "chrom_sizes.tsv", "contig sizes"),
            (r / BROWSER_PAGE, "the top regions in igv.js: one page, opens offline (docs/browser.md)"),
            (r / "igv_session.xml", "IGV desktop session: genome and every track (File > Open Session)"),
            (r / "model" / "model.pt", "the classifier checkpoint (seqlrp.models.load_model)"),
            (r / "model" / "train_log.tsv", "per-epoch losses and validation AUROC/AUPRC"),
            (r / "model" / "predictions.tsv", "logit and probability of every class for every window"),
            (r / "model" / "metrics.tsv", "AUROC, AUPRC, accuracy per class and split"),
            (r / "model" / "roc_pr.png", "ROC and precision-recall curves of the test split"),
        ]
        for label in self.labels:
            tracks, motifs = r / "tracks", r / "motifs" / label
            entries += [
                (r / "attributions" / label, ("regions.tsv, settings.json and shards/: relevance per position "
                                              "(n, L) float32 and hypothetical contributions (float16), "
                                              "10 bytes per base")),
                (tracks / f"{label}.bw", "bigWig, relevance per genome position (of its observed base)"),
                (tracks / f"{label}.bedGraph.gz", "the same as bgzip bedGraph"),
                (tracks / f"{label}.bedGraph.gz.tbi", "tabix index of the bedGraph"),
                *((tracks / f"{label}.hyp_{base}.bw", f"hypothetical contribution of {base} per position")
                  for base in "ACGT"),
                (r / "seqlets" / f"{label}.bed", "seqlets, BED9 (red positive, blue negative relevance)"),
                (r / "seqlets" / f"{label}.json", "seqlet FDR thresholds and counts"),
                (motifs / "motifs.tsv", "one row per motif with its best JASPAR match"),
                (motifs / "tomtom.tsv", "TOMTOM hits against JASPAR"),
                (motifs / "motifs.meme", "motifs (PWM and CWM), MEME format"),
                (motifs / "motifs.npz", "signed PWM, CWM and hypothetical CWM matrices"),
                (motifs / "instances.bed", "motif instances in genome coordinates"),
                (motifs / "seqlets.bed", "seqlets named after the motif they hold"),
                (motifs / "logos", "motif logos, PNG and SVG"),
                (motifs / "regions", "relevance logos of the top windows"),
            ]
        variants = r / "variants"
        entries += [
            (variants / "scores.tsv", "one row per variant (record x ALT), class and method: Δ, p, q, relevance, motif"),
            (variants / "scored.vcf.gz", "the VCF with the scores in INFO fields (bgzip, tabix index beside it)"),
            (variants / "variants.bed", "BED9 per variant and class (red: ALT raises the class score, blue: lowers it)"),
            (variants / "summary.json", "records read, rows scored, records skipped, contigs renamed"),
            (variants / "maps", "ref and alt relevance maps per variant, class and method (seqlrp.variants.open_variant_maps)"),
        ]
        evaluation = r / "evaluation"
        entries += [
            (evaluation / "summary.tsv", "ground-truth evaluation, one row per class and method"),
            (evaluation / "deletion.tsv", "deletion curves (class, method, fraction, mean logit drop)"),
            (evaluation / "sweep.png", "AUROC, RMA, Gini against the pruning share p"),
            (evaluation / "deletion.png", "deletion curves"),
            (evaluation / "diagnostics.tsv", "artifact diagnostics with values, thresholds and verdicts"),
            (evaluation / "diagnostics", "diagnostics figures per class and method"),
            (evaluation / "variants.tsv", "AUROCs of the variant scores against labelled variants"),
            (r / "demo", "demo data: genome, peaks, truth.bed (planted sites), motifs.tsv"),
            (r / "logs", "one log per rule"),
            (r / "benchmarks", "Snakemake benchmark records"),
        ]
        if not self.evaluation:
            entries = [e for e in entries if e[0].parent != evaluation or e[0].name.startswith("diagnostics")
                       or e[0].name == "variants.tsv"]
        if not self.with_variants:
            entries = [e for e in entries if e[0].parent != variants and e[0].name != "variants.tsv"]
        return [(path, what) for path, what in entries if path.exists()]


def build_report(results: str | os.PathLike, config: Mapping, classes: Sequence[str], methods: Sequence[str], *,
                 evaluation: bool, inputs: Sequence[str] = (), options: ReportOptions | None = None,
                 now: datetime | None = None, config_sha256: str | None = None, variants: bool | None = None) -> str:
    """The HTML text of the report on the run whose outputs lie under ``results``.

    ``evaluation``: whether the run has a ground-truth evaluation (a truth BED); without one, the
    evaluation section is a note even if old files exist. ``inputs``: the run's input files,
    listed with size and hash. ``now``: the time stamp (default: the current UTC time).
    ``config_sha256``: the hash of the track-shaping settings that the tracks' headers record.
    ``variants``: whether the run scored variants (the section ``variants``); None: whether
    ``variants/summary.json`` or ``variants/scores.tsv`` exists under ``results``.
    """
    builder = _Builder(Path(results), config, classes, methods, evaluation, inputs, options or ReportOptions())
    builder.config_sha256 = config_sha256
    if variants is None:
        variants = any((builder.results / "variants" / name).is_file() for name in ("summary.json", "scores.tsv"))
    builder.with_variants = bool(variants)
    sections = list(SECTIONS)
    if variants:
        sections.insert(next(i for i, (anchor, _) in enumerate(sections) if anchor == "files"), VARIANTS_SECTION)
    now = now or datetime.now(UTC)
    parts = {
        "summary": builder.summary(now),
        "classifier": builder.classifier(),
        "evaluation": builder.evaluation_section(),
        "diagnostics": builder.diagnostics(),
        "motifs": builder.motifs(),
        "regions": builder.regions(),
        **({"variants": builder.variants()} if variants else {}),
        "files": builder.files(),
    }
    body = [element("section", element("h2", f"{i}. {title}"), *parts[anchor], id=anchor)
            for i, (anchor, title) in enumerate(sections, start=1)]
    subtitle = join([f"seqlrp {__version__} · {len(builder.classes)} classes × {len(builder.methods)} methods · "
                     f"generated {now.strftime('%Y-%m-%d %H:%M UTC')} · ",
                     element("a", "the top regions in an interactive genome browser", href=BROWSER_PAGE),
                     f" ({BROWSER_PAGE}, beside this page; igv.js, offline)"])
    text = page("seqlrp report", subtitle, [(anchor, title) for anchor, title in sections], body)
    log.info("report: %d embedded figures, %.1f MiB", builder.n_images, len(text) / 2**20)
    return text
