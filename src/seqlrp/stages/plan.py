"""The run plan: every start-up decision of the pipeline, made once from the merged config.

The Snakefile validates the config against the schema (defaults filled), then calls
:func:`plan_run`; the rule files only read the :class:`RunPlan` it returns (paths, wildcards,
input functions). Everything a run could be refused for before its first job is decided here,
in plain Python, so that it is tested in-process and every refusal is one line
``file:line: problem`` naming the config key to change (:class:`PlanError`).

The decisions, in order:

1. the input route: the demo, ``genome`` + ``regions``, ``sequences``, or genome-wide ``tile``;
2. the model route: training, a seqlrp checkpoint, a foreign ``.pt2``/ONNX file or
   ``model.module`` (the user's class), and what it provides (classes, outputs, ``seq_len``);
3. class and method names (safe single path components), the classes a foreign model explains
   and the region sets they label;
4. the window length, the tiling, the architecture's fit to ``seq_len``;
5. the input files named by the config exist (relative paths: to the directory the run is in).

A foreign model is loaded and run on a batch of two windows to check it; that check is cached
under ``.snakemake/seqlrp/model-checks/`` by the config's model settings and the SHA-256 of the
model's files, so dry runs and cluster jobs do not load the model again.

As a command, ``python -m seqlrp.stages.plan CONFIG.yaml [MORE.yaml ...]`` (``make
check-config``) reads, merges and validates the files and makes the plan, files included.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SeqlrpError
from ..formats.config_file import load_config, user_settings, where
from .model_checks import CHECK_CACHE, cached_check, check_key, store_check

#: Config sections whose changes leave the tracks as they are (not part of the tracks' config hash).
NOT_SHAPING_TRACKS = ("seqlets", "motifs", "evaluate", "diagnostics", "report", "gpu", "shard_size", "variants",
                      "variant_effects", "browser")
#: The demo's classes and the files the demo_data rule writes for them.
DEMO_CLASSES = ("positive", "negative")
#: Keys of ``model`` that belong to a model from outside seqlrp only.
FOREIGN_KEYS = ("classes", "output", "seq_len")


class PlanError(SeqlrpError):
    """A start-up problem: one line ``file:line: problem`` (the file holding the key to change)."""


@dataclass(frozen=True)
class ModelPlan:
    """Where the run's model comes from and what it provides.

    Attributes
    ----------
    route : str
        ``"train"`` (trained in the run), ``"seqlrp"`` (a seqlrp checkpoint), ``"pt2"``, ``"onnx"``
        (a model file from outside seqlrp) or ``"module"`` (the user's class + weights).
    checkpoint, module, weights : str or None
        The config's ``model.checkpoint``, ``model.module`` and ``model.weights``.
    code_file : str or None
        The Python file of a ``path/to/file.py:Class`` module spec (None otherwise).
    classes : tuple of str or None
        Class names in logit order, as the model provides them (None: training takes the data's).
    seq_len : int or None
        Input length the model takes (None: training takes the data's).
    """

    route: str
    checkpoint: str | None = None
    module: str | None = None
    weights: str | None = None
    code_file: str | None = None
    classes: tuple[str, ...] | None = None
    seq_len: int | None = None

    @property
    def trained_here(self) -> bool:
        """True when rule ``train`` makes the model (no checkpoint or module given)."""
        return self.route == "train"

    @property
    def foreign(self) -> str | None:
        """``"pt2"``, ``"onnx"`` or ``"module"`` for a model from outside seqlrp, else None."""
        return self.route if self.route in ("pt2", "onnx", "module") else None

    @property
    def inputs(self) -> dict[str, str]:
        """The user's model files rule ``import_model`` reads (checkpoint, or code file and weights)."""
        if self.checkpoint:
            return {"checkpoint": self.checkpoint}
        found = {"code": self.code_file, "weights": self.weights}
        return {key: path for key, path in found.items() if path}


@dataclass(frozen=True)
class RunPlan:
    """What the pipeline runs, decided once at start-up (see the module docstring).

    Attributes
    ----------
    config_files : tuple of str
        The config files in merge order (later override earlier); error lines name them.
    data_classes : tuple of str
        The data's classes (region or sequence sets, or a tiled run's model classes) in label order.
    classes : tuple of str
        The classes explained: wildcard ``cls`` of every later stage.
    methods : tuple of str
        The attribution methods (``attribute.methods`` keys): wildcard ``method``.
    model : ModelPlan
        The model route.
    seq_len : int
        Window length in bases (the model's where the user's config does not set it).
    uses_demo : bool
        True when the run generates the planted-motif demo data (no genome, regions or sequences).
    genome : str or None
        The genome FASTA (the demo's generated one for a demo run; None for a ``sequences`` run).
    regions, sequences : dict of str to str
        Class name -> BED/narrowPeak path, class name -> FASTA of records (one of them is empty).
    tile : dict or None
        The ``tile`` section with ``size`` and ``stride`` filled in, or None.
    truth : str or None
        The truth BED of the ground-truth evaluation (demo truth or ``evaluate.truth``).
    motif_truth : str or None
        Known sites for the motifs stage's region pictures (demo truth or ``motifs.truth``).
    variants : str or None
        The VCF of variant effects (config ``variants``; the demo's generated one in a demo run with
        ``demo.variants``), or None: no variant stage.
    variant_truth : str or None
        Labelled variants for the variant AUROCs (the demo's, or ``evaluate.variant_truth``).
    route : str
        The input route: ``demo``, ``regions``, ``sequences``, ``tile`` or ``variants`` (genome and
        variants with a given model, no regions: the variant stage only).
    unmatched_classes : tuple of str
        Foreign-model classes that name no region set (explained on every window, by request).
    gpus : int
        GPUs each model job asks the scheduler for (config ``gpu``).
    config_sha256 : str
        SHA-256 of the settings that shape the tracks (config less ``NOT_SHAPING_TRACKS``).
    """

    config_files: tuple[str, ...]
    data_classes: tuple[str, ...]
    classes: tuple[str, ...]
    methods: tuple[str, ...]
    model: ModelPlan
    seq_len: int
    uses_demo: bool
    genome: str | None
    regions: dict[str, str] = field(default_factory=dict)
    sequences: dict[str, str] = field(default_factory=dict)
    tile: dict | None = None
    truth: str | None = None
    motif_truth: str | None = None
    variants: str | None = None
    variant_truth: str | None = None
    route: str = "regions"
    unmatched_classes: tuple[str, ...] = ()
    gpus: int = 0
    config_sha256: str = ""

    def input_files(self) -> list[str]:
        """The user's input files (data, model, truth, variants), listed in the report with size and SHA-256."""
        data = list(self.sequences.values()) if self.sequences else [self.genome, *self.regions.values()]
        found = [*data, *self.model.inputs.values(), self.truth, self.motif_truth, self.variants, self.variant_truth]
        return [path for path in dict.fromkeys(found) if path]


# ----------------------------------------------------------------------------------------------- plan


def plan_run(config: Mapping[str, Any], config_files: Sequence[str | os.PathLike], *,
             user_config: Mapping[str, Any] | None = None, demo_dir: str = "results/demo",
             check_files: bool = True, cache_dir: str | os.PathLike | None = CHECK_CACHE) -> RunPlan:
    """Decide the run from the merged, schema-validated ``config`` (defaults filled in).

    Parameters
    ----------
    config : mapping
        The merged config as Snakemake holds it after ``validate`` (schema defaults filled).
    config_files : sequence of path
        The config files in merge order; error lines name the one holding the key to change.
    user_config : mapping, optional
        The settings the user gave (their config files and ``--config``, not the tracked
        ``config/config.yaml``). Tells whether ``seq_len`` was chosen by the user: a foreign model
        never takes the demo's default window length. None: every setting counts as the user's.
    demo_dir : str
        Where the demo_data rule writes the demo's genome, regions and truth.
    check_files : bool
        Check that the input files the config names exist.
    cache_dir : path or None
        Where foreign-model checks are cached (relative: to the run directory); None: no cache.

    Returns
    -------
    RunPlan

    Raises
    ------
    PlanError
        One line ``file:line: problem`` for the first start-up problem found.
    """
    files = tuple(os.fspath(f) for f in config_files)
    user = config if user_config is None else user_config
    planner = _Planner(config, files, user, demo_dir, cache_dir)
    return planner.plan(check_files)


class _Planner:
    """One plan: the config, the files to blame and the decisions made so far."""

    def __init__(self, config, files, user, demo_dir, cache_dir):
        self.config, self.files, self.user, self.demo_dir, self.cache_dir = config, files, user, demo_dir, cache_dir

    def fail(self, key_paths: Sequence[tuple], problem: str) -> PlanError:
        """The error naming the file and line of the first of ``key_paths`` a config file holds."""
        from ..formats.config_file import locate

        found = next((path for path in key_paths if locate(path, self.files) is not None), key_paths[0])
        return PlanError(f"{where(found, self.files)}: {problem}")

    # -- the decisions, in order ---------------------------------------------------------------
    def plan(self, check_files: bool) -> RunPlan:
        config = self.config
        route = self.input_route()
        model = self.model_route()
        uses_demo = route == "demo"
        regions = {c: f"{self.demo_dir}/{c}.{'narrowPeak' if c == 'positive' else 'bed'}" for c in DEMO_CLASSES} \
            if uses_demo else {str(k): v for k, v in (config.get("regions") or {}).items()}
        sequences = {str(k): v for k, v in (config.get("sequences") or {}).items()}
        methods = tuple(str(m) for m in config["attribute"]["methods"])
        tile = None
        if route == "tile":  # the data's classes are the model's: known once the model is read
            model, tile = self.tiling(model)
            data_classes = tuple(model.classes)
            self.check_names(route, model, data_classes, methods)
        elif route == "variants":  # no windows of its own: the model's classes
            if (config.get("variant_effects") or {}).get("motifs") == "patterns":
                raise self.fail([("variant_effects", "motifs")], "variant_effects.motifs: patterns scans the motifs "
                                "stage's TF-MoDISco patterns, which a run without regions does not find: use jaspar")
            if model.foreign:
                model = self.checked_foreign(model, self.user_seq_len())
            data_classes = tuple(model.classes)
            self.check_names(route, model, data_classes, methods)
        else:
            data_classes = tuple(sequences or regions)
            self.check_names(route, model, data_classes, methods)
            if model.foreign:
                model = self.checked_foreign(model, self.user_seq_len())
        seq_len = self.window_length(model, tile)
        unmatched = self.match_classes(route, model, data_classes)
        if model.route == "seqlrp" and route != "tile":
            self.check_seqlrp_checkpoint(model, seq_len)
        if model.trained_here:
            self.check_architecture(seq_len, len(data_classes))
        genome = f"{self.demo_dir}/genome.fa.gz" if uses_demo else config.get("genome")
        truth = f"{self.demo_dir}/truth.bed" if uses_demo else (config.get("evaluate") or {}).get("truth")
        motif_truth = f"{self.demo_dir}/truth.bed" if uses_demo else (config.get("motifs") or {}).get("truth")
        variants, variant_truth = self.variant_inputs(uses_demo, genome)
        plan = RunPlan(
            config_files=self.files, data_classes=data_classes, classes=tuple(model.classes or data_classes),
            methods=methods, model=model, seq_len=seq_len, uses_demo=uses_demo, genome=genome, regions=regions,
            sequences=sequences, tile=tile, truth=truth, motif_truth=motif_truth, variants=variants,
            variant_truth=variant_truth, route=route,
            unmatched_classes=unmatched, gpus=int(config.get("gpu", 0) or 0),
            config_sha256=tracks_config_sha256({**config, "seq_len": seq_len}))
        if check_files:
            self.check_input_files(plan)
        return plan

    def variant_inputs(self, uses_demo: bool, genome: str | None) -> tuple[str | None, str | None]:
        """``(VCF, labelled variants)`` of the variant stage: config ``variants`` (needs a genome), or
        the demo's generated ones (``demo.variants``), or ``(None, None)``."""
        config = self.config
        vcf = config.get("variants")
        truth = (config.get("evaluate") or {}).get("variant_truth")
        if vcf is None:
            if uses_demo and (config.get("demo") or {}).get("variants", True):
                return f"{self.demo_dir}/variants.vcf.gz", f"{self.demo_dir}/variants_truth.tsv"
            if truth:
                raise self.fail([("evaluate", "variant_truth")], "labelled variants without `variants`: set "
                                "`variants` to the VCF they come from")
            return None, None
        if genome is None:
            raise self.fail([("variants",)], "variant effects need a genome FASTA (`genome`): windows around each "
                            "variant are cut from it, which FASTA-of-sequences input cannot give")
        return str(vcf), truth

    def input_route(self) -> str:
        """``"demo"``, ``"regions"``, ``"sequences"``, ``"tile"`` or ``"variants"`` (genome + variants + a
        model, no regions: only the variant stage runs); refuses mixtures."""
        config = self.config
        if config.get("tile") is not None:  # `tile: {}` tiles with every default
            if config.get("regions") or config.get("sequences"):
                raise self.fail([("tile",)], "give either 'tile' (windows over whole chromosomes) or 'regions' or "
                                             "'sequences', not more than one")
            if not config.get("genome"):
                raise self.fail([("tile",)], "'tile' cuts the chromosomes of 'genome': give the genome FASTA")
            model = config.get("model") or {}
            if not (model.get("checkpoint") or model.get("module")):
                raise self.fail([("tile",)], "'tile' needs model.checkpoint: tiles have no labels to train a model on "
                                             "(or model.module: your model's class)")
            return "tile"
        if config.get("genome") and config.get("variants") and not (config.get("regions") or config.get("sequences")):
            model = config.get("model") or {}
            if not (model.get("checkpoint") or model.get("module")):
                raise self.fail([("variants",), ("genome",)], "'genome' + 'variants' without 'regions' score the "
                                "variants with a model you give: set model.checkpoint (or model.module); to train "
                                "one here, add 'regions'")
            return "variants"
        if config.get("sequences") and (config.get("genome") or config.get("regions")):
            raise self.fail([("sequences",)], "give either 'sequences' or 'genome' + 'regions', not both")
        if bool(config.get("genome")) != bool(config.get("regions")):
            raise self.fail([("genome",), ("regions",)], "'genome' and 'regions' go together (a FASTA and one "
                                                         "BED/narrowPeak per class)")
        if config.get("sequences"):
            return "sequences"
        return "regions" if config.get("genome") else "demo"

    def model_route(self) -> ModelPlan:
        """The :class:`ModelPlan` of ``model``, before any foreign model is loaded."""
        from ..models.external import module_file

        model = self.config["model"]
        checkpoint, module = model.get("checkpoint"), model.get("module")
        if module and checkpoint:
            raise self.fail([("model", "module"), ("model", "checkpoint")], "give either model.checkpoint (a model "
                            "file) or model.module (your model's class, with model.weights), not both")
        for key in ("kwargs", "weights", "untrained"):
            if model.get(key) and not module:
                raise self.fail([("model", key)], f"model.{key} belongs to model.module (the class it builds and "
                                                  "fills); set model.module or drop it")
        if module:
            if not model.get("weights") and not model.get("untrained"):
                raise self.fail([("model", "module")], f"model.module {module} has no model.weights: without them "
                                "seqlrp would explain a randomly initialised model; give the trained weights "
                                "(model.weights: a .pt state dict or .safetensors file), or set model.untrained: true "
                                "to explain the untrained model on purpose")
            if model.get("weights") and model.get("untrained"):
                raise self.fail([("model", "untrained")], "model.untrained: true explains the class as initialised, "
                                                          "but model.weights are given too: drop one of them")
            return self.foreign_classes(ModelPlan("module", module=module, weights=model.get("weights"),
                                                  code_file=module_file(module)))
        if not checkpoint:
            for key in FOREIGN_KEYS:
                if model.get(key) is not None:
                    raise self.fail([("model", key)], f"model.{key} is for a model from outside seqlrp (model.module, "
                                    "or a .pt2 or ONNX model.checkpoint); a seqlrp checkpoint names its classes and "
                                    "seq_len, training takes them from the data")
            return ModelPlan("train")
        fmt = self.checkpoint_format(checkpoint)
        if fmt in ("pt2", "onnx"):
            return self.foreign_classes(ModelPlan(fmt, checkpoint=checkpoint))
        for key in FOREIGN_KEYS:
            if model.get(key) is not None:
                raise self.fail([("model", key)], f"model.{key} is for a model from outside seqlrp (model.module, or a "
                                "seqlrp checkpoint names its classes and seq_len")
        from ..models import read_info

        try:
            info = read_info(checkpoint)
        except SeqlrpError as err:
            raise self.fail([("model", "checkpoint")], str(err)) from None
        return ModelPlan("seqlrp", checkpoint=checkpoint, classes=tuple(info.classes), seq_len=int(info.seq_len))

    def checkpoint_format(self, checkpoint: str) -> str:
        """The format of the ``model.checkpoint`` file, told by content; refused files end here."""
        from ..models.files import inspect_file, refuse_foreign

        if not os.path.isfile(checkpoint):
            raise self.fail([("model", "checkpoint")], f"{checkpoint}: no such model file")
        try:
            fmt, detail = inspect_file(Path(checkpoint))
            if fmt not in ("pt2", "onnx"):
                refuse_foreign(checkpoint, fmt, detail)
        except SeqlrpError as err:
            raise self.fail([("model", "checkpoint")], str(err)) from None
        return fmt

    def foreign_classes(self, model: ModelPlan) -> ModelPlan:
        """A foreign model's class names from ``model.classes`` (list, or mapping name -> output)."""
        from dataclasses import replace

        from ..formats.names import first_bad_name

        classes = self.config["model"].get("classes")
        if not classes:
            raise self.fail([("model", "module" if model.module else "checkpoint")],
                            f"a model from outside seqlrp ({model.route}) needs model.classes: the names of the "
                            "outputs to explain, a list in output order (e.g. [bound, unbound]), or a mapping name -> "
                            "output index (e.g. {CTCF: 2}) to pick some")
        bad = first_bad_name(list(classes), "class name")
        if bad is not None:
            raise self.fail([("model", "classes", bad[0]), ("model", "classes")], bad[1])
        return replace(model, classes=tuple(str(c) for c in classes))

    def tiling(self, model: ModelPlan) -> tuple[ModelPlan, dict]:
        """The ``tile`` section with ``size`` and ``stride`` filled from the model's ``seq_len``."""
        section = dict(self.config["tile"])
        if model.foreign:
            model = self.checked_foreign(model, section.get("size") or self.user_seq_len())
        size = section.get("size") or model.seq_len
        if size != model.seq_len:
            raise self.fail([("tile", "size")], f"tile.size {size} differs from the seq_len {model.seq_len} of "
                            f"{'model.checkpoint ' + model.checkpoint if model.checkpoint else 'model.module ' + model.module}: tiles are the model's input windows (leave tile.size "
                            "out to take the model's)")
        stride = section.get("stride") or size
        if stride > size:
            raise self.fail([("tile", "stride")], f"tile.stride {stride} exceeds tile.size {size}: the bases between "
                                                  "tiles would go unexplained")
        return model, {**section, "size": size, "stride": stride}

    def user_seq_len(self) -> int | None:
        """``seq_len`` when the user's own config sets it (the tracked default does not count)."""
        value = self.user.get("seq_len")
        return int(value) if value is not None else None

    def window_length(self, model: ModelPlan, tile: dict | None) -> int:
        """The data's window length: the tile size, the user's ``seq_len``, the model's, else the default.

        A foreign model's length is known here (:meth:`checked_foreign` ran): the default never
        stands in for it.
        """
        if tile is not None:
            return int(tile["size"])
        chosen = self.user_seq_len()
        if chosen is not None:
            return chosen
        if model.seq_len is not None:
            return model.seq_len
        return int(self.config["seq_len"])

    def checked_foreign(self, model: ModelPlan, data_seq_len: int | None) -> ModelPlan:
        """Load and run a foreign model once (cached), fill in its classes and ``seq_len``."""
        from dataclasses import replace

        from ..models.external import ForeignModelError, ForeignSpec, open_foreign

        spec = ForeignSpec.from_config(self.config["model"])
        missing = [p for p in (model.code_file, model.weights) if p and not os.path.isfile(p)]
        if missing:
            key = ("model", "weights") if missing[0] == model.weights else ("model", "module")
            raise self.fail([key], f"{missing[0]}: no such file")
        files = {"checkpoint": model.checkpoint, "code": model.code_file, "weights": model.weights}
        key = check_key(self.config["model"], files, data_seq_len)
        cached = cached_check(self.cache_dir, key)
        if cached is None:
            try:
                info = open_foreign(spec, data_seq_len).seqlrp_info
            except ForeignModelError as err:
                problem = str(err)
                if err.key == ("model", "seq_len") and data_seq_len is None and "does not say its input length" in problem:
                    problem += " (or seq_len in your config file; the demo's default window length does not count)"
                raise self.fail([err.key, ("model", "classes")], problem) from None
            cached = {"classes": [str(c) for c in info.classes], "seq_len": int(info.seq_len)}
            store_check(self.cache_dir, key, cached)
        return replace(model, classes=tuple(cached["classes"]), seq_len=int(cached["seq_len"]))

    def check_names(self, route: str, model: ModelPlan, data_classes: tuple, methods: tuple) -> None:
        """Class and method names are safe path components; a classifier trained here has two classes."""
        from ..formats.names import first_bad_name

        class_key = "sequences" if self.config.get("sequences") else "regions"
        bad_class = first_bad_name(list(data_classes), "class name")
        if bad_class is not None:
            if route in ("tile", "variants"):
                raise PlanError(f"{model.checkpoint or model.module}: {bad_class[1]} (runs without regions take the "
                                "class names from the model)")
            raise self.fail([(class_key, bad_class[0])], bad_class[1])
        bad_method = first_bad_name(list(methods), "method name")
        if bad_method is not None:
            raise self.fail([("attribute", "methods", bad_method[0])], bad_method[1])
        if route not in ("tile", "variants") and model.trained_here and len(data_classes) < 2:
            raise self.fail([(class_key,)], f"a classifier needs at least two classes, got {len(data_classes)} "
                            f"({', '.join(map(repr, data_classes))}): add a background class (e.g. flanking or "
                            "GC-matched regions) to contrast it with")

    def match_classes(self, route: str, model: ModelPlan, data_classes: tuple) -> tuple[str, ...]:
        """A foreign model's classes that name no region set: refused unless asked for.

        A model class named like a region (or sequence) set explains that set's windows; one that
        names no set would explain every window, which is what ``model.unmatched_classes:
        every-window`` asks for. A class that names a set only when case and spaces are ignored is
        refused with the set's name: it is almost always a typo.
        """
        if not model.foreign or route in ("tile", "variants"):
            return ()
        unmatched = tuple(c for c in model.classes if c not in data_classes)
        if not unmatched:
            return ()
        folded = {" ".join(str(s).split()).casefold(): s for s in data_classes}
        sets = ", ".join(map(repr, data_classes)) or "none"
        for name in unmatched:
            near = folded.get(" ".join(name.split()).casefold())
            if near is not None:
                raise self.fail([("model", "classes", name), ("model", "classes")],
                                f"model class {name!r} names no region set, but set {near!r} differs from it only by "
                                f"case or spaces: rename one so that they match exactly (sets: {sets})")
        if self.config["model"].get("unmatched_classes", "refuse") == "every-window":
            return unmatched
        kind = "sequence" if route == "sequences" else "region"
        raise self.fail([("model", "classes", unmatched[0]), ("model", "classes")],
                        f"model class {unmatched[0]!r} names no {kind} set (sets: {sets}): a class labels the windows "
                        f"of the {kind} set named like it; rename the set or the class, or set model.unmatched_classes: "
                        f"every-window to explain every window for the {len(unmatched)} class(es) that name none")

    def check_seqlrp_checkpoint(self, model: ModelPlan, seq_len: int) -> None:
        """A seqlrp checkpoint fits the data: the same window length."""
        if model.seq_len != seq_len:
            raise self.fail([("seq_len",), ("model", "checkpoint")],
                            f"seq_len {seq_len} differs from the seq_len {model.seq_len} of model.checkpoint "
                            f"{model.checkpoint}: set seq_len: {model.seq_len} (or leave seq_len out to take the model's)")

    def check_architecture(self, seq_len: int, n_classes: int) -> None:
        from ..models import check_architecture

        model = self.config["model"]
        try:
            check_architecture(model["arch"], model["hparams"], seq_len=seq_len, n_classes=n_classes)
        except SeqlrpError as err:
            raise self.fail([("model", "hparams"), ("model", "arch"), ("seq_len",)], str(err)) from None

    def check_input_files(self, plan: RunPlan) -> None:
        """Every input file the config names exists (paths relative to the run directory)."""
        if plan.uses_demo:
            named: list[tuple[tuple, str]] = []
        elif plan.sequences:
            named = [(("sequences", c), p) for c, p in plan.sequences.items()]
        else:
            named = [(("genome",), plan.genome), *((("regions", c), p) for c, p in plan.regions.items())]
        if not plan.uses_demo:
            named += [(("evaluate", "truth"), plan.truth), (("motifs", "truth"), plan.motif_truth)]
        named += [(("variants",), self.config.get("variants")),
                  (("evaluate", "variant_truth"), (self.config.get("evaluate") or {}).get("variant_truth"))]
        for key, path in named:
            if not path:
                continue
            if not os.path.exists(path):
                hint = "" if os.path.isabs(path) else f" (relative paths are read from the run directory {os.getcwd()})"
                raise self.fail([key], f"{path}: no such file{hint}")
            if os.path.isdir(path):
                raise self.fail([key], f"{path}: is a directory, expected a file")


def tracks_config_sha256(config: Mapping[str, Any]) -> str:
    """SHA-256 of the settings that shape the tracks: ``config`` less the sections in ``NOT_SHAPING_TRACKS``."""
    shaping = {k: v for k, v in config.items() if k not in NOT_SHAPING_TRACKS}
    if isinstance(shaping.get("demo"), Mapping):  # whether the demo scores a VCF shapes no track
        shaping["demo"] = {k: v for k, v in shaping["demo"].items() if k != "variants"}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m seqlrp.stages.plan FILE ...``: the files parse, fit the schema and plan a run."""
    files = list(dict.fromkeys(sys.argv[1:] if argv is None else argv))  # `make check-config` may name one twice
    if not files:
        print("usage: python -m seqlrp.stages.plan CONFIG.yaml [MORE.yaml ...]", file=sys.stderr)
        return 2
    try:
        config = load_config(files)
        plan = plan_run(config, files, user_config=user_settings(files))
    except SeqlrpError as err:
        print(f"seqlrp: error: {err}", file=sys.stderr)
        return 1
    print(f"{', '.join(files)}: OK: {describe(plan)}")
    return 0


def describe(plan: RunPlan) -> str:
    """One line about the plan, for ``make check-config``."""
    data = ("demo data" if plan.uses_demo else "tiles" if plan.tile else "no regions (the variant stage alone)"
            if plan.route == "variants" else
            f"{len(plan.sequences)} sequence set(s)" if plan.sequences else f"{len(plan.regions)} region set(s)")
    if plan.variants:
        data += f", variants of {plan.variants}"
    model = {"train": "a model trained here", "seqlrp": f"seqlrp checkpoint {plan.model.checkpoint}"}.get(
        plan.model.route, f"{plan.model.route} model {plan.model.checkpoint or plan.model.module}")
    return (f"{data}, {plan.seq_len}-bp windows, {model}; classes {', '.join(plan.classes)}; "
            f"methods {', '.join(plan.methods)}")


if __name__ == "__main__":
    sys.exit(main())
