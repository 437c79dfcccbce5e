# Shared helpers: paths, wildcards, input functions and the targets, read off PLAN (seqlrp.stages.plan).
import json
import math
import os
import re

RESULTS = "results"
DEMO_DIR = f"{RESULTS}/demo"
DATA_DIR = f"{RESULTS}/data"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
MODEL_DIR = f"{RESULTS}/model"
ATTR_DIR = f"{RESULTS}/attributions"
TRACKS_DIR = f"{RESULTS}/tracks"
SEQLETS_DIR = f"{RESULTS}/seqlets"
MOTIFS_DIR = f"{RESULTS}/motifs"
EVAL_DIR = f"{RESULTS}/evaluation"
REPORT = f"{RESULTS}/report.html"
# every start-up decision comes from PLAN (seqlrp.stages.plan.RunPlan, made in the Snakefile)
MODEL = PLAN.model
# a user checkpoint or model.module replaces training (MODEL.trained_here false): rule import_model
# writes MODEL_DIR/model.pt
FOREIGN = MODEL.foreign
# the copy of a .pt2/ONNX file beside results/model/model.pt (the checkpoint names it)
FOREIGN_COPY = f"{MODEL_DIR}/external.{FOREIGN}" if FOREIGN in ("pt2", "onnx") else None
# GPUs a model job (train, predict_shard, attribute_shard, evaluate, diagnostics) asks the scheduler for
GPUS = PLAN.gpus
# provenance recorded in the tracks: the SHA-256 of the settings that shape them
CONFIG_SHA256 = PLAN.config_sha256
# data-set rows per predict/attribute job (0 = one job)
SHARD_SIZE = config["shard_size"]
# the files of one attribute shard (seqlrp.attribution.store): arrays read in place by later stages
SHARD_ARRAYS = {"relevance": "relevance.npy", "hyp": "hyp.npy", "hyp_scale": "hyp_scale.npy",
                "hyp_n_sites": "hyp_n_sites.npy", "hyp_n_a": "hyp_n_a.npy"}
ATTR_FILES = [*SHARD_ARRAYS.values(), "regions.tsv", "settings.json"]
TILE = PLAN.tile
# genome + variants + a given model, no regions: the variant stage only (no windows of its own)
VARIANTS_ONLY = PLAN.route == "variants"
USES_DEMO = PLAN.uses_demo
SEQ_LEN = PLAN.seq_len
# the data's classes (region or sequence sets; a tiled run: the model's) in label order
DATA_CLASSES = list(PLAN.data_classes)
# the classes explained (wildcard `cls` of every later stage): the data's, or a foreign model's
CLASSES = list(PLAN.classes)
METHODS = list(PLAN.methods)


def input_genome():
    """The genome FASTA of this run, or None for FASTA-of-sequences input."""
    return PLAN.genome


def input_regions():
    """Class name -> BED/narrowPeak path (empty for FASTA-of-sequences input)."""
    return PLAN.regions


def extract_inputs(wildcards):
    if PLAN.sequences:
        return list(PLAN.sequences.values())
    return [PLAN.genome, *PLAN.regions.values()]


def motif_truth(wildcards):
    """Known motif sites to mark in the motifs stage's region pictures: the demo's truth, motifs.truth, or none."""
    return {"truth": PLAN.motif_truth} if PLAN.motif_truth else {}


def n_shards():
    """How many shards the data set's rows make (read from the extract checkpoint's summary)."""
    with open(checkpoints.extract.get().output.info, encoding="utf-8") as handle:
        n_windows = json.load(handle)["n_windows"]
    return max(1, math.ceil(n_windows / SHARD_SIZE)) if SHARD_SIZE > 0 else 1


def predict_shards(wildcards):
    return expand(f"{MODEL_DIR}/shards/logits.{{shard}}.npy", shard=range(n_shards()))


def attribute_shards(wildcards):
    return expand(f"{ATTR_DIR}/{wildcards.cls}.{wildcards.method}/shards/{{shard}}/{{name}}",
                  shard=range(n_shards()), name=ATTR_FILES)


def store_files(cls, method):
    """The attribution store of ``cls``.``method`` as a stage reads it: its table and settings, the
    shards' arrays (read in place) and the data set's one-hot input (not copied into the store)."""
    return {
        "regions": f"{ATTR_DIR}/{cls}.{method}/regions.tsv",
        "settings": f"{ATTR_DIR}/{cls}.{method}/settings.json",
        "arrays": expand(f"{ATTR_DIR}/{cls}.{method}/shards/{{shard}}/{{name}}", shard=range(n_shards()),
                         name=SHARD_ARRAYS.values()),
        "onehot": f"{DATA_DIR}/onehot.npy",
    }


def attribution_store(wildcards):
    """:func:`store_files` of the rule's class and method (for ``input: unpack(attribution_store)``)."""
    return store_files(wildcards.cls, wildcards.method)


def all_attribution_stores(wildcards):
    """:func:`store_files` of every class and method, each key a list in (class, method) order."""
    stores = [store_files(cls, method) for cls in CLASSES for method in METHODS]
    return {"regions": [s["regions"] for s in stores], "settings": [s["settings"] for s in stores],
            "arrays": [path for s in stores for path in s["arrays"]], "onehot": f"{DATA_DIR}/onehot.npy"}


def evaluation_truth():
    """The truth BED of the ground-truth evaluation (demo truth or evaluate.truth), or None."""
    return PLAN.truth


def report_inputs(wildcards):
    """Named input groups of the report: the outputs of every stage the page shows; the evaluation's only
    when a truth BED exists (evaluation_truth()), the training log only when the model was trained here,
    the variant stage's only when the run scores variants (PLAN.variants): its table, summary, the maps'
    settings of every class and method when maps are kept (VARIANT_PAIRS, workflow/rules/variants.smk) and
    the labelled-variant AUROCs when labels exist (PLAN.variant_truth)."""
    pairs = dict(cls=CLASSES, method=METHODS)
    inputs = {
        "model": f"{MODEL_DIR}/model.pt",
        "metrics": f"{MODEL_DIR}/metrics.tsv",
        "roc_pr": f"{MODEL_DIR}/roc_pr.png",
        "info": f"{DATA_DIR}/dataset.json",
        "attributions": expand(f"{ATTR_DIR}/{{cls}}.{{method}}/{{name}}", **pairs, name=["regions.tsv", "settings.json"]),
        "tracks": expand(f"{TRACKS_DIR}/{{cls}}.{{method}}.{{ext}}", **pairs, ext=["bw", "bedGraph.gz"]),
        "seqlets": expand(f"{SEQLETS_DIR}/{{cls}}.{{method}}.{{ext}}", **pairs, ext=["bed", "json"]),
        "motifs": expand(f"{MOTIFS_DIR}/{{cls}}.{{method}}/{{name}}", **pairs,
                         name=["motifs.tsv", "tomtom.tsv", "logos", "regions"]),
        "diagnostics": [f"{EVAL_DIR}/diagnostics.tsv", f"{EVAL_DIR}/diagnostics"],
    }
    if MODEL.trained_here:
        inputs["history"] = f"{MODEL_DIR}/train_log.tsv"
    if evaluation_truth() is not None:
        inputs["evaluation"] = [f"{EVAL_DIR}/{name}" for name in ("summary.tsv", "deletion.tsv", "sweep.png", "deletion.png")]
    if PLAN.variants:
        inputs["variants"] = [f"{VARIANTS_DIR}/scores.tsv", f"{VARIANTS_DIR}/summary.json",
                              *(f"{VARIANTS_DIR}/maps/{c}.{m}/settings.json" for c, m in VARIANT_PAIRS)]
        if PLAN.variant_truth:
            inputs["variants"].append(f"{EVAL_DIR}/variants.tsv")
    return inputs


def report_input_files():
    """The run's input files, listed in the report with size and SHA-256."""
    return PLAN.input_files()


def model_inputs(wildcards):
    """The user's model files that rule import_model reads (the checkpoint, or the module's Python file
    for a `file.py` spec, and its weights); empty when the model is trained here."""
    return MODEL.inputs


def all_outputs():
    targets = [f"{DATA_DIR}/onehot.npy", f"{DATA_DIR}/regions.tsv", f"{DATA_DIR}/dataset.json"]
    if USES_DEMO:
        targets.append(f"{DEMO_DIR}/truth.bed")
    targets.append(f"{MODEL_DIR}/model.pt")
    if VARIANTS_ONLY:  # nothing to predict or explain but the variants
        return targets + variant_outputs() + [f"{RESULTS}/browser.html"]
    if MODEL.trained_here:
        targets.append(f"{MODEL_DIR}/train_log.tsv")
    targets += [f"{MODEL_DIR}/predictions.tsv", f"{MODEL_DIR}/metrics.tsv", f"{MODEL_DIR}/roc_pr.png"]
    targets += expand(f"{ATTR_DIR}/{{cls}}.{{method}}/settings.json", cls=CLASSES, method=METHODS)
    targets += expand(f"{TRACKS_DIR}/{{cls}}.{{method}}.{{ext}}", cls=CLASSES, method=METHODS, ext=["bw", "bedGraph.gz"])
    targets += expand(f"{SEQLETS_DIR}/{{cls}}.{{method}}.bed", cls=CLASSES, method=METHODS)
    targets += expand(f"{MOTIFS_DIR}/{{cls}}.{{method}}/{{name}}", cls=CLASSES, method=METHODS,
                      name=["motifs.meme", "tomtom.tsv", "motifs.tsv", "logos", "regions"])
    if evaluation_truth():
        targets += [f"{EVAL_DIR}/{name}" for name in ("summary.tsv", "deletion.tsv", "sweep.png", "deletion.png")]
    targets += [f"{EVAL_DIR}/diagnostics.tsv", f"{EVAL_DIR}/diagnostics", REPORT]
    targets.append(f"{RESULTS}/igv_session.xml")
    targets.append(f"{RESULTS}/browser.html")
    targets += variant_outputs()  # workflow/rules/variants.smk
    return targets


# ---- the browser page (workflow/rules/browser.smk)
def browser_inputs(wildcards):
    """Named input groups of the browser rule. Per class the first method's regions.tsv (top logit), per class
    and method the bigWig, seqlets and motif instances (none in a variants-only run), the truth BED, the
    variant table, BED and maps (with `variants`), and the genome, or the data set when there is none."""
    pairs = dict(cls=CLASSES, method=METHODS)
    inputs = {"chrom_sizes": f"{DATA_DIR}/chrom_sizes.tsv"}
    if not VARIANTS_ONLY:
        inputs["windows"] = [f"{ATTR_DIR}/{cls}.{METHODS[0]}/regions.tsv" for cls in CLASSES]
        inputs["bigwigs"] = expand(f"{TRACKS_DIR}/{{cls}}.{{method}}.bw", **pairs)
        inputs["seqlets"] = expand(f"{SEQLETS_DIR}/{{cls}}.{{method}}.bed", **pairs)
        inputs["instances"] = expand(f"{MOTIFS_DIR}/{{cls}}.{{method}}/instances.bed", **pairs)
        if evaluation_truth():
            inputs["truth"] = [evaluation_truth()]
    if PLAN.variants:
        inputs["variant_scores"] = [f"{VARIANTS_DIR}/scores.tsv"]
        inputs["variant_bed"] = [f"{VARIANTS_DIR}/variants.bed"]
        inputs["maps"] = [f"{VARIANTS_DIR}/maps/{c}.{m}/settings.json" for c, m in VARIANT_PAIRS]
    if input_genome():
        inputs["genome"] = [input_genome()]
    else:
        inputs["onehot"] = [f"{DATA_DIR}/onehot.npy"]
        inputs["dataset_regions"] = [f"{DATA_DIR}/regions.tsv"]
    return inputs


def browser_subtitle():
    """The page's subtitle: what the run is (classes, methods, input)."""
    source = f"genome {os.path.basename(PLAN.genome)}" if PLAN.genome else "FASTA records"
    return f"classes {', '.join(CLASSES)} · methods {', '.join(METHODS)} · {source} · {SEQ_LEN} bp windows"


# ---- the variant stage (workflow/rules/variants.smk)
VARIANTS_DIR = f"{RESULTS}/variants"
VARIANT_CONFIG = config["variant_effects"]
VARIANT_MAPS = VARIANT_CONFIG["maps"] and VARIANT_CONFIG["explain"]
# the (class, method) pairs whose maps are kept, in the order of scores.tsv
VARIANT_PAIRS = [(c, m) for c in CLASSES for m in METHODS] if VARIANT_MAPS else []
MAP_FILES = {**SHARD_ARRAYS, "regions": "regions.tsv", "settings": "settings.json"}


def variant_shards(wildcards):
    """The shard indices of the VCF's rows (read from the variants_index checkpoint)."""
    with open(checkpoints.variants_index.get().output.index, encoding="utf-8") as handle:
        n_rows = json.load(handle)["rows"]
    size = VARIANT_CONFIG["shard_size"]
    return range(max(1, math.ceil(n_rows / size)) if size > 0 else 1)


def variant_shard_files(wildcards):
    shards = variant_shards(wildcards)
    files = {"scores": expand(f"{VARIANTS_DIR}/shards/{{shard}}/scores.tsv", shard=shards)}
    if VARIANT_MAPS:
        files["maps"] = [f"{VARIANTS_DIR}/maps/{c}.{m}/shards/{k}/{name}" for c, m in VARIANT_PAIRS for k in shards
                         for name in MAP_FILES.values()]
    return files


def variant_motif_inputs(wildcards):
    """What the motif scan reads: the JASPAR matrices, or the motifs stage's patterns and matches."""
    source = VARIANT_CONFIG["motifs"]
    if source == "jaspar":
        return {"database": f"{MOTIFS_DIR}/jaspar.npz"}
    if source == "patterns":
        return {"patterns": expand(f"{MOTIFS_DIR}/{{cls}}.{{method}}/motifs.meme", cls=CLASSES, method=METHODS),
                "tomtom": expand(f"{MOTIFS_DIR}/{{cls}}.{{method}}/tomtom.tsv", cls=CLASSES, method=METHODS)}
    return {}


def variant_outputs():
    """The variant stage's targets in rule all (none without `variants`)."""
    if not PLAN.variants:
        return []
    targets = [f"{VARIANTS_DIR}/{name}" for name in ("scores.tsv", "scored.vcf.gz", "variants.bed", "summary.json")]
    targets += [f"{VARIANTS_DIR}/maps/{c}.{m}/settings.json" for c, m in VARIANT_PAIRS]
    if PLAN.variant_truth:
        targets.append(f"{EVAL_DIR}/variants.tsv")
    return targets
