# Shared helpers: which inputs the run uses (user data or the generated demo) and the targets.
import re
import sys

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
# a user checkpoint replaces training: rule import_model copies it to MODEL_DIR/model.pt
MODEL_CHECKPOINT = config["model"].get("checkpoint")

if config.get("sequences") and (config.get("genome") or config.get("regions")):
    sys.exit("seqlrp: error: config: give either 'sequences' or 'genome' + 'regions', not both")
if bool(config.get("genome")) != bool(config.get("regions")):
    sys.exit("seqlrp: error: config: 'genome' and 'regions' go together (a FASTA and one BED/narrowPeak per class)")

USES_DEMO = not (config.get("sequences") or config.get("genome"))
DEMO_CLASSES = {"positive": f"{DEMO_DIR}/positive.narrowPeak", "negative": f"{DEMO_DIR}/negative.bed"}
# class names in label order, as the extract stage will number them
CLASSES = list(config.get("sequences") or config.get("regions") or DEMO_CLASSES)
METHODS = list(config["attribute"]["methods"])


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


def all_outputs():
    targets = [f"{DATA_DIR}/onehot.npy", f"{DATA_DIR}/regions.tsv", f"{DATA_DIR}/dataset.json"]
    if USES_DEMO:
        targets.append(f"{DEMO_DIR}/truth.bed")
    targets.append(f"{MODEL_DIR}/model.pt")
    if not MODEL_CHECKPOINT:
        targets.append(f"{MODEL_DIR}/train_log.tsv")
    targets += [f"{MODEL_DIR}/predictions.tsv", f"{MODEL_DIR}/metrics.tsv", f"{MODEL_DIR}/roc_pr.png"]
    targets += expand(f"{ATTR_DIR}/{{cls}}.{{method}}/settings.json", cls=CLASSES, method=METHODS)
    targets += expand(f"{TRACKS_DIR}/{{cls}}.{{method}}.{{ext}}", cls=CLASSES, method=METHODS, ext=["bw", "bedGraph.gz"])
    targets += expand(f"{SEQLETS_DIR}/{{cls}}.{{method}}.bed", cls=CLASSES, method=METHODS)
    targets += expand(f"{MOTIFS_DIR}/{{cls}}.{{method}}/{{name}}", cls=CLASSES, method=METHODS,
                      name=["motifs.meme", "tomtom.tsv", "motifs.tsv", "logos", "regions"])
    return targets
