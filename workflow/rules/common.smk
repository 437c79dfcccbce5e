# Shared helpers: which inputs the run uses (user data or the generated demo) and the targets.
import hashlib
import json
import math
import os
import re
import sys
from pathlib import Path

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
# a user checkpoint replaces training: rule import_model copies it to MODEL_DIR/model.pt; a model
# from outside seqlrp (a .pt2 or ONNX checkpoint, or model.module) is imported there as arch "external"
MODEL_CHECKPOINT = config["model"].get("checkpoint")
MODEL_MODULE = config["model"].get("module")
# GPUs a model job (train, predict_shard, attribute_shard, evaluate, diagnostics) asks the scheduler for
GPUS = config["gpu"]
# provenance recorded in the tracks: the SHA-256 of the settings that shape them (the config with
# defaults filled in, less the sections of later stages and of scheduling, whose changes leave
# the tracks as they are and so must not rerun them)
NOT_SHAPING_TRACKS = ("seqlets", "motifs", "evaluate", "diagnostics", "report", "gpu", "shard_size")
CONFIG_SHA256 = hashlib.sha256(json.dumps({k: v for k, v in config.items() if k not in NOT_SHAPING_TRACKS},
                                          sort_keys=True, default=str).encode()).hexdigest()
# data-set rows per predict/attribute job (0 = one job)
SHARD_SIZE = config["shard_size"]
# the files of one attribute shard (seqlrp.attribution.store): arrays read in place by later stages
SHARD_ARRAYS = {"relevance": "relevance.npy", "hyp": "hyp.npy", "hyp_scale": "hyp_scale.npy",
                "hyp_n_sites": "hyp_n_sites.npy", "hyp_n_a": "hyp_n_a.npy"}
ATTR_FILES = [*SHARD_ARRAYS.values(), "regions.tsv", "settings.json"]


def config_error(key_paths, problem):
    """End the run with one line naming the config file (and line) that holds the first of
    ``key_paths`` (tuples of keys) found in a config file."""
    from seqlrp.formats.config_file import locate, where

    found = next((path for path in key_paths if locate(path, CONFIG_FILES) is not None), key_paths[0])
    sys.exit(f"seqlrp: error: {where(found, CONFIG_FILES)}: {problem}")


FOREIGN_KEYS = ("classes", "output", "seq_len")  # keys of a model from outside seqlrp


def foreign_format():
    """"pt2", "onnx" or "module" for a model from outside seqlrp, None for a seqlrp checkpoint or
    training. A checkpoint is told by its content; files seqlrp refuses (TorchScript, pickled
    models, bare weights) end the run here with one line."""
    from seqlrp.errors import SeqlrpError
    from seqlrp.models.files import _inspect, refuse_foreign

    model = config["model"]
    if MODEL_MODULE and MODEL_CHECKPOINT:
        config_error([("model", "module"), ("model", "checkpoint")], "give either model.checkpoint (a model file) or "
                     "model.module (your model's class, with model.weights), not both")
    for key in ("kwargs", "weights"):
        if model.get(key) is not None and not MODEL_MODULE:
            config_error([("model", key)], f"model.{key} belongs to model.module (the class it builds and fills); "
                         "set model.module or drop it")
    if MODEL_MODULE:
        return "module"
    if not MODEL_CHECKPOINT:
        return None  # training
    if not os.path.isfile(MODEL_CHECKPOINT):
        config_error([("model", "checkpoint")], f"{MODEL_CHECKPOINT}: no such model file")
    try:
        fmt, detail = _inspect(Path(MODEL_CHECKPOINT))
        if fmt in ("pt2", "onnx"):
            return fmt
        refuse_foreign(MODEL_CHECKPOINT, fmt, detail)
    except SeqlrpError as err:
        config_error([("model", "checkpoint")], str(err))
    return None


def open_foreign_model(data_seq_len):
    """Load the foreign model at start-up (CPU) and check it against the config: seq_len, output,
    classes (seqlrp.models.external.open_foreign); its ModelInfo, or one line naming the config key."""
    from seqlrp.models.external import ForeignModelError, ForeignSpec, open_foreign

    try:
        model = open_foreign(ForeignSpec.from_config(config["model"]), data_seq_len)
    except ForeignModelError as err:
        config_error([err.key, ("model", "classes")], str(err))
    return model.seqlrp_info


FOREIGN = foreign_format()
if FOREIGN is None:
    for key in FOREIGN_KEYS:
        if config["model"].get(key) is not None:
            config_error([("model", key)], f"model.{key} is for a model from outside seqlrp (model.module, or a .pt2 or "
                         "ONNX model.checkpoint); a seqlrp checkpoint names its classes and seq_len, training takes them from the data")
elif not config["model"].get("classes"):
    config_error([("model", "module" if MODEL_MODULE else "checkpoint")],
                 f"a model from outside seqlrp ({FOREIGN}) needs model.classes: the names of the outputs to explain, a list "
                 "in output order (e.g. [bound, unbound]), or a mapping name -> output index (e.g. {CTCF: 2}) to pick some")
else:
    from seqlrp.formats.names import first_bad_name

    bad = first_bad_name(list(config["model"]["classes"]), "class name")
    if bad is not None:
        config_error([("model", "classes", bad[0]), ("model", "classes")], bad[1])
# the model's class names: a foreign model's from model.classes, explained in that order
FOREIGN_CLASSES = [str(c) for c in config["model"]["classes"]] if FOREIGN else None
# the copy of a .pt2/ONNX file beside results/model/model.pt (the checkpoint names it)
FOREIGN_COPY = f"{MODEL_DIR}/external.{FOREIGN}" if FOREIGN in ("pt2", "onnx") else None


def tile_settings(section, checkpoint):
    """The `tile` section with `size` and `stride` filled in, and the model's class names (logit order).

    Both come from the checkpoint, read at start-up without loading its weights (a foreign model:
    loaded and checked, its classes from model.classes); a tile size other than the model's
    seq_len, a stride above it or an unusable checkpoint end the run with one line.
    """
    from seqlrp.models import read_info
    from seqlrp.errors import SeqlrpError

    if FOREIGN:
        info = open_foreign_model(section.get("size"))
    else:
        try:
            info = read_info(checkpoint)
        except SeqlrpError as err:
            sys.exit(f"seqlrp: error: {err}")
    size = section.get("size") or info.seq_len
    if size != info.seq_len:
        sys.exit(f"seqlrp: error: config: tile.size {size} differs from the seq_len {info.seq_len} of model.checkpoint "
                 f"{checkpoint}: tiles are the model's input windows (leave tile.size out to take the model's)")
    stride = section.get("stride") or size
    if stride > size:
        sys.exit(f"seqlrp: error: config: tile.stride {stride} exceeds tile.size {size}: the bases between tiles would go unexplained")
    return {**section, "size": size, "stride": stride}, list(info.classes)


# genome-wide tiling (config `tile`) replaces the regions: windows over whole chromosomes, which have
# no labels, so a trained model explains them and its checkpoint names the classes
TILE, TILE_CLASSES = None, None
if config.get("tile") is not None:  # `tile: {}` tiles with every default
    if config.get("regions") or config.get("sequences"):
        sys.exit("seqlrp: error: config: give either 'tile' (windows over whole chromosomes) or 'regions' or 'sequences', not more than one")
    if not config.get("genome"):
        sys.exit("seqlrp: error: config: 'tile' cuts the chromosomes of 'genome': give the genome FASTA")
    if not (MODEL_CHECKPOINT or MODEL_MODULE):
        sys.exit("seqlrp: error: config: 'tile' needs model.checkpoint: tiles have no labels to train a model on (or model.module: your model's class)")
    TILE, TILE_CLASSES = tile_settings(config["tile"], MODEL_CHECKPOINT)
if config.get("sequences") and (config.get("genome") or config.get("regions")):
    sys.exit("seqlrp: error: config: give either 'sequences' or 'genome' + 'regions', not both")
if not TILE and bool(config.get("genome")) != bool(config.get("regions")):
    sys.exit("seqlrp: error: config: 'genome' and 'regions' go together (a FASTA and one BED/narrowPeak per class)")

USES_DEMO = not (config.get("sequences") or config.get("genome"))
DEMO_CLASSES = {"positive": f"{DEMO_DIR}/positive.narrowPeak", "negative": f"{DEMO_DIR}/negative.bed"}
# the data's classes (region or sequence sets) in label order, as the extract stage will number
# them (a tiled run: the model's)
DATA_CLASSES = TILE_CLASSES or list(config.get("sequences") or config.get("regions") or DEMO_CLASSES)
# the classes explained (wildcard `cls` of every later stage): the data's, or a foreign model's
# (model.classes; region sets named like one are its windows, see seqlrp.models.external.data_for)
CLASSES = FOREIGN_CLASSES or DATA_CLASSES
METHODS = list(config["attribute"]["methods"])


def check_start_up():
    """Checks of the merged config that the schema cannot express, before any job runs: class and
    method names are safe single path components (they become file names), a classifier gets at
    least two classes, the model's hyperparameters fit its architecture and seq_len, and a foreign
    model loads, runs and fits its config (seq_len, output, classes)."""
    from seqlrp.formats.names import first_bad_name

    class_key = "sequences" if config.get("sequences") else "regions"
    bad_class = first_bad_name(DATA_CLASSES, "class name")
    if bad_class is not None:
        if TILE:
            sys.exit(f"seqlrp: error: {MODEL_CHECKPOINT}: {bad_class[1]} (tiled runs take the class names from model.checkpoint)")
        config_error([(class_key, bad_class[0])], bad_class[1])
    bad_method = first_bad_name(METHODS, "method name")
    if bad_method is not None:
        config_error([("attribute", "methods", bad_method[0])], bad_method[1])
    # a model trained here needs two classes to contrast; a foreign one explains even one region set
    if not TILE and not FOREIGN and len(DATA_CLASSES) < 2:
        config_error([(class_key,)], f"a classifier needs at least two classes, got {len(DATA_CLASSES)} ({', '.join(map(repr, DATA_CLASSES))}): "
                     "add a background class (e.g. flanking or GC-matched regions) to contrast it with")
    if FOREIGN and not TILE:  # a tiled run checked it in tile_settings
        open_foreign_model(config["seq_len"])
    if not MODEL_CHECKPOINT and not MODEL_MODULE:
        from seqlrp.errors import SeqlrpError
        from seqlrp.models import check_architecture

        try:
            check_architecture(config["model"]["arch"], config["model"]["hparams"], seq_len=config["seq_len"], n_classes=len(CLASSES))
        except SeqlrpError as err:
            config_error([("model", "hparams"), ("model", "arch"), ("seq_len",)], str(err))


check_start_up()


def input_genome():
    """The genome FASTA of this run, or None for FASTA-of-sequences input."""
    if USES_DEMO:
        return f"{DEMO_DIR}/genome.fa.gz"
    return config.get("genome")


def input_regions():
    """Class name -> BED/narrowPeak path (empty for FASTA-of-sequences input)."""
    if USES_DEMO:
        return DEMO_CLASSES
    return config.get("regions") or {}


def extract_inputs(wildcards):
    if config.get("sequences"):
        return list(config["sequences"].values())
    return [input_genome(), *input_regions().values()]


def motif_truth(wildcards):
    """Known motif sites to mark in the motifs stage's region pictures: the demo's truth, motifs.truth, or none."""
    if USES_DEMO:
        return {"truth": f"{DEMO_DIR}/truth.bed"}
    return {"truth": config["motifs"]["truth"]} if config["motifs"].get("truth") else {}


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
    if USES_DEMO:
        return f"{DEMO_DIR}/truth.bed"
    return config.get("evaluate", {}).get("truth")


def report_inputs(wildcards):
    """Named input groups of the report: the outputs of every stage the page shows; the evaluation's only
    when a truth BED exists (evaluation_truth()), the training log only when the model was trained here."""
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
    if not (MODEL_CHECKPOINT or MODEL_MODULE):
        inputs["history"] = f"{MODEL_DIR}/train_log.tsv"
    if evaluation_truth() is not None:
        inputs["evaluation"] = [f"{EVAL_DIR}/{name}" for name in ("summary.tsv", "deletion.tsv", "sweep.png", "deletion.png")]
    return inputs


def report_input_files():
    """The run's input files, listed in the report with size and SHA-256 (None entries are skipped)."""
    return [*extract_inputs(None), *model_inputs(None).values(), evaluation_truth(), config["motifs"].get("truth")]


def model_inputs(wildcards):
    """The user's model files that rule import_model reads (the checkpoint, or the module's Python file
    for a `file.py` spec, and its weights); empty when the model is trained here."""
    if MODEL_CHECKPOINT:
        return {"checkpoint": MODEL_CHECKPOINT}
    if not MODEL_MODULE:
        return {}
    from seqlrp.models.external import module_file

    found = {"code": module_file(MODEL_MODULE), "weights": config["model"].get("weights")}
    return {key: path for key, path in found.items() if path}


def all_outputs():
    targets = [f"{DATA_DIR}/onehot.npy", f"{DATA_DIR}/regions.tsv", f"{DATA_DIR}/dataset.json"]
    if USES_DEMO:
        targets.append(f"{DEMO_DIR}/truth.bed")
    targets.append(f"{MODEL_DIR}/model.pt")
    if not (MODEL_CHECKPOINT or MODEL_MODULE):
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
    return targets
