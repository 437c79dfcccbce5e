"""Every attribution method against known motif sites: the ground-truth evaluation, computed.

The methods (:func:`build_methods`, in report order): the configured ``attribute.methods``
(family ``plrp`` when pruned), ``lrp-<composite>`` for the four :data:`COMPOSITES`, the PLRP
sweep over :data:`P_GRID` (``plrp-p0`` and ``plrp-{lambda,mask}-p{p}``, ``p_neg = p / 2``, on
the settings of the first pruned configured method) and the :data:`BASELINES`
(:mod:`seqlrp.attribution.baselines`). For each class whose windows overlap truth sites,
:func:`select_windows` draws up to ``max_windows`` of them (seeded); :func:`evaluate_methods`
explains them by their own class logit with every method (:func:`timed_attribution`: wall
seconds after an untimed warm-up on :data:`WARMUP` windows) and scores the maps with the
metrics of :mod:`seqlrp.analysis.evaluation` (AUROC, AUPRC, RMA, Gini per sequence; AOPC of
the deletion curve, deleted positions replaced by one dinucleotide-shuffled copy of the window).

Shapes: one-hot windows and attributions (n, 4, L); scores and truth masks (n, L); deletion
drops (n, F) for F deletion fractions. The model runs on the caller's device and is not modified.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from ..attribution import baselines
from ..attribution.spec import MethodSpec
from ..errors import InputError, SeqlrpError
from ..formats.regions import read_regions
from ..lrp import relevance
from ..models.inference import predict_logits
from ..sequences.dataset import ExtractedData
from ..sequences.shuffle import shuffle_onehot
from .evaluation import (
    aopc,
    deletion_drops,
    gini,
    intervals_by_chrom,
    ism_scores,
    mean_finite,
    observed_scores,
    per_sequence_auprc,
    per_sequence_auroc,
    relevance_mass_accuracy,
    truth_mask,
)

log = logging.getLogger(__name__)

COMPOSITES = ("epsilon", "epsilon-plus", "epsilon-gamma", "alpha2beta1")
BASELINES = ("saliency", "gradient_x_input", "integrated_gradients", "ism", "deeplift_shap")
DEFAULT_BASELINES = BASELINES[:4]  # DeepLIFT/SHAP needs the optional extra seqlrp[peers] (tangermeme)
P_GRID = (0.0, 0.1, 0.25, 0.4, 0.5)
WARMUP = 8
"""Windows of the untimed warm-up call of every method (few: one ISM window costs 3 x L forwards)."""


@dataclass(frozen=True)
class Method:
    """One evaluated method: a name, how to report it, and what computes it.

    ``spec`` is set for LRP/PLRP; otherwise ``name`` is one of :data:`BASELINES`.
    """

    name: str
    family: str  # lrp | plrp | baseline
    spec: MethodSpec | None = None
    composite: str = ""
    prune_mode: str = ""
    p: float | None = None


def _lrp(name: str, spec: MethodSpec) -> Method:
    prune = spec.pruner()
    if prune is None:
        return Method(name, "lrp", spec, spec.composite)
    p = prune.p_pos if isinstance(prune.p_pos, (int, float)) else None
    return Method(name, "plrp", spec, spec.composite, prune.mode, None if p is None else float(p))


def build_methods(section: Mapping, configured: Mapping[str, Mapping]) -> list[Method]:
    """The methods of the evaluation, in report order: configured, LRP composites, PLRP sweep, baselines."""
    specs = {name: MethodSpec.from_config(name, spec) for name, spec in configured.items()}
    methods = [_lrp(name, spec) for name, spec in specs.items()]
    methods += [_lrp(f"lrp-{c}", MethodSpec(composite=c)) for c in COMPOSITES]
    base = next((s for s in specs.values() if s.prune), MethodSpec())
    for p in section.get("p_grid", P_GRID):
        if p == 0:
            spec = MethodSpec(base.composite, base.input_rule, {"p_pos": 0.0, "p_neg": 0.0}, base.epsilon, base.gamma)
            methods.append(Method("plrp-p0", "plrp", spec, base.composite, "", 0.0))
            continue
        for mode in ("lambda", "mask"):
            spec = MethodSpec(base.composite, base.input_rule, {"p_pos": float(p), "mode": mode}, base.epsilon, base.gamma)
            methods.append(Method(f"plrp-{mode}-p{p:g}", "plrp", spec, base.composite, mode, float(p)))
    unknown = sorted(set(section.get("baselines", DEFAULT_BASELINES)) - set(BASELINES))
    if unknown:
        raise SeqlrpError(f"evaluate.baselines: unknown {', '.join(unknown)} (known: {', '.join(BASELINES)})")
    chosen = list(section.get("baselines", DEFAULT_BASELINES))
    if "deeplift_shap" in chosen and importlib.util.find_spec("tangermeme") is None:
        raise SeqlrpError("evaluate.baselines: deeplift_shap needs tangermeme (pip install 'seqlrp[peers]')")
    methods += [Method(name, "baseline") for name in chosen]
    names = [m.name for m in methods]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise SeqlrpError(f"evaluate: method name(s) {', '.join(clashes)} of attribute.methods clash with the "
                          "evaluation's own; rename them")
    return methods


@dataclass
class EvalOptions:
    """Settings of one evaluation (the ``evaluate`` config keys, the run's seed, the methods)."""

    max_windows: int = 500
    splits: Sequence[str] = ("test",)
    ism_max_windows: int = 32
    ig_steps: int = 16
    ig_baseline: str = "zero"
    fractions: Sequence[float] = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
    batch_size: int = 256
    device: str = "auto"
    seed: int = 0
    progress: bool = True
    methods: list[Method] = field(default_factory=list)

    @classmethod
    def from_config(cls, section: Mapping, configured: Mapping[str, Mapping], seed: int) -> EvalOptions:
        """Options from the ``evaluate`` config section (missing keys take the defaults above)."""
        d = cls()
        return cls(max_windows=int(section.get("max_windows", d.max_windows)),
                   splits=tuple(section.get("splits", d.splits)),
                   ism_max_windows=int(section.get("ism_max_windows", d.ism_max_windows)),
                   ig_steps=int(section.get("ig_steps", d.ig_steps)),
                   ig_baseline=str(section.get("ig_baseline", d.ig_baseline)),
                   fractions=tuple(float(f) for f in section.get("deletion_fractions", d.fractions)),
                   batch_size=int(section.get("batch_size", d.batch_size)), device=str(section.get("device", d.device)),
                   seed=int(seed), methods=build_methods(section, configured))


def attribution(model, method: Method, x: torch.Tensor, target: int, options: EvalOptions) -> torch.Tensor:
    """Attribution (b, 4, L) of the ``target`` logit for one-hot ``x`` (b, 4, L) by ``method``."""
    if method.spec is not None:
        spec = method.spec
        return relevance(model, x, target, composite=spec.composite, input_rule=spec.input_rule, prune=spec.pruner(),
                         epsilon=spec.epsilon, gamma=spec.gamma, op_rules=spec.op_rules)
    if method.name == "saliency":
        return baselines.saliency(model, x, target)
    if method.name == "gradient_x_input":
        return baselines.gradient_x_input(model, x, target)
    if method.name == "integrated_gradients":
        return baselines.integrated_gradients(model, x, target, baseline=options.ig_baseline, n_steps=options.ig_steps,
                                              seed=options.seed)
    if method.name == "ism":
        return baselines.ism(model, x, target)
    if method.name == "deeplift_shap":
        return baselines.deeplift_shap(model, x, target, seed=options.seed)
    raise ValueError(f"unknown baseline {method.name!r}")


def scores(method: Method, attr: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Per-position scores (n, L) of an attribution (n, 4, L) (see :mod:`seqlrp.analysis.evaluation`)."""
    return ism_scores(attr, onehot) if method.name == "ism" else observed_scores(attr, onehot)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_attribution(model, method: Method, onehot: np.ndarray, target: int, device: torch.device,
                      options: EvalOptions) -> tuple[np.ndarray, float]:
    """Attributions (n, 4, L) float32 of the windows ``onehot`` (n, 4, L) and the wall seconds they took.

    An untimed warm-up call on the first :data:`WARMUP` windows comes first.
    """
    def batch(lo: int, hi: int) -> np.ndarray:
        x = torch.from_numpy(np.asarray(onehot[lo:hi], dtype=np.float32)).to(device)
        return attribution(model, method, x, target, options).float().cpu().numpy()

    batch(0, min(WARMUP, len(onehot)))
    _sync(device)
    started = time.perf_counter()
    parts = [batch(lo, lo + options.batch_size) for lo in range(0, len(onehot), options.batch_size)]
    _sync(device)
    return np.concatenate(parts), time.perf_counter() - started


def windows_with_truth(chroms: Sequence[str], starts: Sequence[int], length: int,
                       truth: Mapping[str, np.ndarray]) -> np.ndarray:
    """Mask (n,) of windows ``[start, start + length)`` overlapping a truth interval (merged, sorted)."""
    chroms = np.asarray(chroms, dtype=object)
    starts = np.asarray(starts, dtype=np.int64)
    found = np.zeros(chroms.size, dtype=bool)
    for chrom, spans in truth.items():
        rows = np.flatnonzero(chroms == chrom)
        if rows.size == 0:
            continue
        last = np.searchsorted(spans[:, 0], starts[rows] + length, side="left") - 1  # last interval starting inside reach
        found[rows] = (last >= 0) & (spans[np.maximum(last, 0), 1] > starts[rows])
    return found


def select_windows(data: ExtractedData, cls: str, has_truth: np.ndarray, options: EvalOptions) -> np.ndarray:
    """Rows (k,) of class ``cls`` with truth to evaluate, a seeded random order (ISM takes a prefix).

    Windows of ``options.splits`` come first, split by split; every split is used when those
    hold none. At most ``options.max_windows``.
    """
    of_class = data.of_class(cls) & has_truth
    # genome-wide tiles have no split: they count in the first preferred one
    splits = np.where(data.labeled, data.splits, options.splits[0])
    rng = np.random.default_rng([options.seed, data.classes.index(cls)])
    chosen = [rng.permutation(np.flatnonzero(of_class & (splits == s))) for s in options.splits]
    rows = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
    if rows.size == 0 and of_class.any():
        log.warning("evaluate: class %s has no truth window in split(s) %s; using every split", cls,
                    ", ".join(options.splits))
        rows = rng.permutation(np.flatnonzero(of_class))
    return rows[: options.max_windows].astype(np.int64)


@dataclass
class ClassData:
    """The windows of one class under evaluation: one-hot (n, 4, L) uint8, truth (n, L), shuffled copy."""

    name: str
    target: int
    rows: np.ndarray
    onehot: np.ndarray
    mask: np.ndarray
    shuffled: np.ndarray
    logits: np.ndarray  # explained logit (n,)


def _row(method: Method, cls: ClassData, s: np.ndarray, drops: np.ndarray, seconds: float,
         fractions: Sequence[float]) -> dict:
    """The summary row of ``method`` on ``cls`` from its scores (n, L) and deletion drops (n, F)."""
    n = s.shape[0]
    mask = cls.mask[:n]
    return {"class": cls.name, "method": method.name, "family": method.family, "composite": method.composite,
            "prune_mode": method.prune_mode, "p": method.p,
            "auroc": mean_finite(per_sequence_auroc(mask, s)), "auprc": mean_finite(per_sequence_auprc(mask, s)),
            "rma": mean_finite(relevance_mass_accuracy(mask, s)), "gini": mean_finite(gini(s)), "aopc": aopc(drops, fractions),
            "seconds_per_1k": 1000.0 * seconds / n, "n_sequences": n}


def _settings_key(method: Method) -> str | None:
    """Equal for LRP methods that compute the same thing (e.g. ``lrp`` and ``lrp-epsilon-plus``)."""
    spec = method.spec
    if spec is None:
        return None
    return repr((spec.composite, spec.input_rule, spec.pruner(), spec.epsilon, spec.gamma, spec.op_rules))


def evaluate_methods(model, data: ExtractedData, truth_path: str | os.PathLike, options: EvalOptions,
                     device: torch.device) -> tuple[list[dict], list[tuple[str, str, float, float]], dict]:
    """Evaluate ``options.methods`` against the truth BED with ``model`` (on ``device``, compatible with ``data``).

    Returns the summary rows (one dict per class and method: family, composite, prune_mode, p,
    auroc, auprc, rma, gini, aopc, seconds_per_1k, n_sequences), the deletion curves
    ``(class, method, fraction, mean logit drop)`` and, per class, the mean curve (F,) of a
    random deletion order.
    """
    truth = intervals_by_chrom(read_regions(truth_path))
    table = data.table
    has_truth = windows_with_truth(table.chrom, table.start, data.seq_len, truth)
    if not has_truth.any():
        raise InputError(truth_path, "no extracted window overlaps a truth site (do the chromosome names match the data's?)")

    def logit_of(target: int):
        def logit(x: np.ndarray) -> np.ndarray:
            return predict_logits(model, x, batch_size=options.batch_size, device=device)[:, target]
        return logit

    classes = []
    for target, name in enumerate(data.classes):
        rows = select_windows(data, name, has_truth, options)
        if rows.size == 0:
            log.info("evaluate: class %s: no window overlaps the truth; not evaluated", name)
            continue
        onehot = np.asarray(data.onehot[rows])
        mask = truth_mask([table.chrom[r] for r in rows], [table.start[r] for r in rows],
                          [table.strand[r] for r in rows], data.seq_len, truth)
        shuffled = shuffle_onehot(onehot, 1, seed=options.seed + target)
        classes.append(ClassData(name, target, rows, onehot, mask, shuffled, logit_of(target)(onehot.astype(np.float32))))
        log.info("evaluate: class %s: %d windows, %.1f%% of positions in truth sites", name, rows.size, 100 * mask.mean())

    rows_out, curves, random_curves = [], [], {}
    # identical settings are computed once (and reported with that run's time); identical score
    # maps (plrp-p0 and unpruned LRP) share one deletion curve
    computed: dict[tuple, tuple[np.ndarray, float]] = {}  # scores (n, L) and seconds, not the (n, 4, L) maps
    deleted: dict[tuple, np.ndarray] = {}
    jobs = [(cls, method) for cls in classes for method in options.methods]
    for cls, method in tqdm(jobs, desc="evaluate", unit="method", disable=not options.progress):
        n = min(len(cls.rows), options.ism_max_windows) if method.name == "ism" else len(cls.rows)
        key = (cls.name, _settings_key(method) or method.name)
        if key not in computed:
            attr, seconds = timed_attribution(model, method, cls.onehot[:n], cls.target, device, options)
            computed[key] = (scores(method, attr, cls.onehot[:n]), seconds)
            del attr
        s, seconds = computed[key]
        drop_key = (cls.name, hashlib.sha256(s.tobytes()).hexdigest())
        if drop_key not in deleted:
            deleted[drop_key] = deletion_drops(logit_of(cls.target), cls.onehot[:n], cls.shuffled[:n], s,
                                               options.fractions, reference=cls.logits[:n])
        drops = deleted[drop_key]
        row = _row(method, cls, s, drops, seconds, options.fractions)
        rows_out.append(row)
        curves += [(cls.name, method.name, f, d) for f, d in zip(options.fractions, drops.mean(axis=0).tolist())]
        log.info("evaluate %s %s: AUROC %.4f AUPRC %.4f RMA %.4f Gini %.4f AOPC %.4g, %.3g s/1k windows (n=%d)",
                 cls.name, method.name, row["auroc"], row["auprc"], row["rma"], row["gini"], row["aopc"],
                 row["seconds_per_1k"], n)
    for cls in classes:
        noise = np.random.default_rng([options.seed, cls.target, 1]).random(cls.mask.shape)
        drops = deletion_drops(logit_of(cls.target), cls.onehot, cls.shuffled, noise, options.fractions, cls.logits)
        random_curves[cls.name] = drops.mean(axis=0)
    return rows_out, curves, random_curves
