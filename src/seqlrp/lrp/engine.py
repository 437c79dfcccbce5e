"""The LRP walk over a captured graph: one forward pass that keeps every value, one backward
walk of the ops' rules.

:func:`relevance` captures the model's forward as a graph of ATen ops (:mod:`.capture`, cached
per model and input shape), plans where the rules go (:mod:`.canonize`), runs the graph forward
under ``torch.no_grad()`` with BatchNorm folded into copies of the weights, and sends the
target's relevance back down with explicit tensor operations: the composite's rules at every
Conv1d/Linear (:mod:`.propagate`), the op rules of :mod:`.ops` everywhere else. No hooks, no
change to the model; nn.Sequential models, seqlrp's residual networks, functional forwards,
fx GraphModules (onnx2torch) and exported programs all go through this one walk.

Before anything of the model runs, :func:`check_input` refuses an input that is not one-hot DNA
(N, 4, L) for a model that takes DNA (:func:`takes_dna`), in one line (:class:`InputLayoutError`),
and :func:`resolve_target` turns class names into indices (:class:`TargetError`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.fx import Node

from ..errors import SeqlrpError
from ..models.outputs import initial_relevance
from .canonize import Plan, batchnorm_forward, fold, make_affine, plan
from .capture import capture
from .composites import LayerMap, assign, split_composite
from .graph import Affine, Dense
from .op_rules import OpRule, user_backward
from .op_rules import check as check_op_rules
from .ops import FAMILY_RULES, HELD, backward, call, dense, maxpool1d_with_winners, op_name
from .program import UnsupportedLayerError, module_path
from .propagate import propagate
from .prune import Prune, keep_mask, prune_lambda
from .rules import Rule
from .samples import SampleAxes


class LRPResult(NamedTuple):
    """What ``relevance`` returns when asked for more than the relevance.

    A named tuple: ``relevance, hypothetical, layers, logits = result`` unpacks it. Positions
    ``t`` along the last axis are the input's positions, 0-based.

    Attributes
    ----------
    relevance : torch.Tensor, shape (N, 4, L)
        The relevance, shaped like ``x``; only the observed base of a one-hot ``x`` carries any
        (for rules of the form ``R = x * g``).
    hypothetical : torch.Tensor, shape (N, 4, L), or None
        With ``return_hypothetical=True``: ``hypothetical[n, c, t]`` is the relevance position
        ``t`` would receive if base ``c`` were there (see ``relevance``); else None.
    layers : dict of str to torch.Tensor, or None
        With ``return_layers=True``: {module path: relevance at that module's input}, from the
        output down; else None. A BatchNorm folded with ``exact_batchnorm=True`` has no entry,
        pruned layers show the pruned relevance, and an op of the model's own forward is named
        by its graph node (e.g. ``add_1``).
    logits : torch.Tensor, shape (N, K)
        The explained model output (shape as the model gives it: (N,), (N, K), (N, K, 1) or a
        profile (N, K, L)); for a model imported by seqlrp
        (``seqlrp.models.external.ExternalModel``), its inner module's selected output.
    """

    relevance: Tensor
    hypothetical: Tensor | None
    layers: dict[str, Tensor] | None
    logits: Tensor


class InputLayoutError(SeqlrpError, ValueError):
    """``x`` is not one-hot DNA laid out (N, 4, L): one line saying what it is and what to do."""


class TargetError(SeqlrpError, ValueError):
    """A ``target`` class name the model does not have, or a model without class names (one line)."""


Target = Union[int, str, Tensor, Sequence[Union[int, str]]]


def takes_dna(model: Any) -> bool:
    """Whether ``model`` is known to take one-hot DNA (N, 4, L): a model of seqlrp's or imported by it
    (``seqlrp_info``), a model file that declares 4 input channels (``seqlrp_source``), or a module
    whose first Conv1d/Linear is a Conv1d with 4 input channels."""
    if getattr(model, "seqlrp_info", None) is not None:
        return True
    source = getattr(model, "seqlrp_source", None)
    shape = source.get("input_shape") if isinstance(source, dict) else None
    if shape and len(shape) == 3:
        return (shape[2] if source.get("channels_last") else shape[1]) == 4
    if isinstance(model, nn.Module):
        for module in model.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                return isinstance(module, nn.Conv1d) and module.in_channels == 4
    return False


def check_input(x: Any, dna: bool = True) -> Tensor:
    """``x`` as a floating-point tensor; a NumPy array is converted (uint8 -> float32).

    With ``dna`` (a model that takes one-hot DNA, :func:`takes_dna`), ``x`` must be (N, 4, L):
    anything else raises :class:`InputLayoutError` before anything of the model runs, an
    (N, L, 4) array with the transpose hint. Other models take whatever their forward takes.
    """
    if isinstance(x, np.ndarray) or (not isinstance(x, Tensor) and hasattr(x, "__array__")):
        x = torch.tensor(np.asarray(x))  # a copy: read-only memory maps are fine
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor (or a NumPy array) of shape (N, 4, L), not {type(x).__name__}")
    shape = tuple(x.shape)
    if dna and x.dim() != 3:
        raise InputLayoutError(f"x has {x.dim()} dimension(s), shape {shape}: seqlrp takes one-hot DNA as (N, 4, L), "
                               "channels A, C, G, T (one sequence: x[None])")
    if dna and shape[1] != 4:
        if shape[2] == 4:
            raise InputLayoutError(f"x has shape (N, L, 4) = {shape}: seqlrp takes one-hot input as (N, 4, L), "
                                   "channels A, C, G, T; pass x.transpose(1, 2)")
        raise InputLayoutError(f"x has {shape[1]} channels in dimension 1 (shape {shape}): seqlrp takes one-hot DNA as "
                               "(N, 4, L), channels A, C, G, T")
    return x if x.is_floating_point() else x.float()


def class_names(model: Any) -> list[str] | None:
    """The class names of ``model`` (``model.seqlrp_info.classes``: seqlrp's models and the foreign
    models seqlrp imports), in logit order; None when it has none."""
    classes = getattr(getattr(model, "seqlrp_info", None), "classes", None)
    return None if classes is None else [str(c) for c in classes]


def resolve_target(model: Any, target: Any, n: int) -> int | Tensor:
    """``target`` as :func:`relevance` passes it on: an int or an (N,) int64 tensor of class
    indices. Class names are looked up in :func:`class_names`; an index into them is a class index
    (for a model imported by seqlrp, its ``lrp_target`` maps it to the output's task)."""
    if isinstance(target, np.ndarray):
        target = target.tolist() if target.dtype.kind in "USO" else torch.as_tensor(target)
    if isinstance(target, (Tensor, int, np.integer)) and not isinstance(target, bool):
        return target
    if isinstance(target, str):
        return _class_index(model, target)
    if isinstance(target, Sequence) and not isinstance(target, (bytes, bytearray)):
        if len(target) != n:
            raise TargetError(f"target lists {len(target)} class(es) for {n} sequence(s): give one per sequence, "
                              "or one name or index for all")
        indices = [_class_index(model, t) if isinstance(t, str) else t for t in target]
        if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in indices):
            raise TargetError(f"target entries must be class names or output indices, got {target!r:.200}")
        return torch.tensor([int(i) for i in indices], dtype=torch.int64)
    raise TypeError(f"target must be a class name, an output index, an (N,) tensor or a list of names/indices, "
                    f"not {type(target).__name__}")


def _class_index(model: Any, name: str) -> int:
    names = class_names(model)
    if names is None:
        raise TargetError(f"target {name!r} is a class name, but this model has no class names "
                          "(model.seqlrp_info.classes); give the output index")
    if name not in names:
        raise TargetError(f"target {name!r} is not a class of this model; its classes are: {', '.join(names)}")
    return names.index(name)




def _cast(value: Any, like: Tensor) -> Any:
    if not isinstance(value, Tensor):
        return value
    if value.is_floating_point():
        return value.detach().to(device=like.device, dtype=like.dtype)
    return value.detach().to(device=like.device)


def _prepare(program, p: Plan, x: Tensor) -> tuple[dict, dict[Node, Affine]]:
    """The constants of the graph (parameters cast to ``x``'s dtype and device, and what is
    computed from them) and the affine layers with BatchNorm folded in."""
    env: dict = {program.input: x}
    for node, value in program.tensors().items():
        env[node] = _cast(value, x)
    for node in p.order:  # constants made from the input's shape only (zeros_like, detach) wait for it
        if node not in p.live and all(src in env for src in node.all_input_nodes):
            env[node] = call(node, env)
    folded = {affine: bn for bn, affine in p.folds.items()}
    layers: dict[Node, Affine] = {}
    for node in p.affines:
        layers[node] = make_affine(node, env, p.paths[node])
        if node in folded:
            fold(layers[node], folded[node], env)
    return env, layers


def _affine_input(node: Node) -> Node:
    return node.args[1] if op_name(node) == "addmm" else node.args[0]


def _kept(program, p: Plan, needs_z: set[Node]) -> set[Node]:
    """The live values the backward walk reads: inputs of the layers and of the proportional,
    sum, routing and generic max-pool rules, outputs of the layers whose rule reads ``z`` and
    of the proportional and sum rules; every other activation is dropped once the forward pass
    no longer needs it (its shape is all relevance needs)."""
    keep = {program.input, p.output}
    for node in p.order:
        if node not in p.live:
            continue
        family = p.family[node]
        srcs = [n for n in node.all_input_nodes if n in p.live]
        if family == "affine":
            keep.add(_affine_input(node))
            if node in needs_z:
                keep.add(node)
            continue
        kept = "inputs and output" if family == "user" else "inputs" if family == "getitem" else \
            FAMILY_RULES[family].kept(node)
        if kept != "nothing":
            keep.update(srcs)
        if kept == "inputs and output":
            keep.add(node)
    return keep


def _drop(env: dict, node: Node) -> None:
    """Replace a value no longer needed by a data-free stand-in of the same shape."""
    value = env.get(node)
    if isinstance(value, Tensor) and value.device.type != "meta":
        env[node] = torch.empty_like(value, device="meta")


def _forward(p: Plan, env: dict, layers: dict[Node, Affine], keep: set[Node], exact_batchnorm: bool,
             axes: SampleAxes | None = None) -> dict:
    """Run the live ops; returns the max-pool winners (``aux``). Values outside ``keep`` are
    dropped after their last use. ``axes`` (for pruning): records the sample axis of every live
    value (:mod:`.samples`)."""
    late = {n for n in p.order if n not in p.live and n not in env}  # constants computed from live values
    uses = {n: 0 for n in p.live}
    for node in p.order:
        for src in node.all_input_nodes:
            if src in uses and (node in p.live or node in late):
                uses[src] += 1
    aux: dict = {}
    for node in p.order:
        if node in late:
            env[node] = call(node, env)
        elif node not in p.live:
            continue
        elif p.family[node] == "affine":
            layer = layers[node]
            env[node] = layer.apply(env[_affine_input(node)], layer.weight, layer.bias)
        elif p.family[node] == "batchnorm":
            env[node] = batchnorm_forward(node, env, env[node.args[0]], node in p.folds, exact_batchnorm)
        elif op_name(node) == "max_pool1d":
            env[node], aux[node] = maxpool1d_with_winners(node, env)
        else:
            env[node] = call(node, env)
        if axes is not None:
            axes.record(node, env)
        for src in node.all_input_nodes:
            if src in uses:
                uses[src] -= 1
                if uses[src] == 0 and src not in keep:
                    _drop(env, src)
    return aux


class _Walk:
    """State of one backward walk: rules, pruning, and the two parts of the hypothetical
    contributions (``hyp[0]``: coefficient, ``hyp[1]``: input-free constant, each node -> value,
    as relevance is) on the way from the input layers down to the input."""

    def __init__(self, rules: dict[Affine, Rule], prune: Prune | None, firsts: set[Affine],
                 axes: SampleAxes | None = None):
        self.rules, self.prune, self.firsts = rules, prune, firsts
        self.axes = axes  # where each value holds the samples (:mod:`.samples`), for pruning
        self.hyp: tuple[dict, dict] = ({}, {})


def _affine_backward(layer: Affine, x: Tensor, z: Tensor, r, walk: _Walk, src: Node | None = None):
    rule = walk.rules[layer]
    step = propagate(rule, layer, x, z if rule.needs_output else None, r)
    if layer in walk.firsts:
        return step.relevance, step
    if walk.prune is None:
        return step.relevance, None
    p_pos, p_neg = walk.prune.fractions(layer.path)
    if p_pos <= 0 and p_neg <= 0:
        return step.relevance, None
    try:  # per sample: the rows of the input's relevance that belong to each
        rows, back = walk.axes.rows(step.relevance, src)
    except ValueError as err:
        raise UnsupportedLayerError(
            f"PLRP at layer {layer.path!r}: {err}; leave the layer unpruned with "
            f"Prune(p_pos={{{layer.path!r}: 0.0, '*': p}})") from None
    if walk.prune.mode == "lambda":
        return back(prune_lambda(rows, p_pos, p_neg)), None
    # the mask may take the rows' memory: the step's relevance, done with, unless a rule handed back
    # a tensor it shares with the layer's input, output or the relevance above
    above = r.values if isinstance(r, Dense) else r  # Dense and Pooled hold their values
    shared = {t.untyped_storage().data_ptr() for t in (x, z, above) if isinstance(t, Tensor)}
    keep, _ = keep_mask(rows, p_pos, p_neg, overwrite=rows.untyped_storage().data_ptr() not in shared)
    return propagate(rule, layer, x, None, r, mask=back(keep).to(x.dtype)).relevance, None


def _add(store: dict, node: Node, value, slot: int | None = None) -> None:
    """Accumulate relevance arriving at ``node`` (at tuple position ``slot`` for ops with
    several outputs); relevance from several users sums."""
    if slot is not None:
        slots = store.setdefault(node, {})
        slots[slot] = value if slot not in slots else dense(slots[slot]) + dense(value)
    elif node in store:
        store[node] = dense(store[node]) + dense(value)
    else:
        store[node] = value


def _as_list(r, value) -> list:
    """Relevance of a tuple-valued op as a list aligned with its outputs (None: no relevance)."""
    return [dense(r.get(i)) if isinstance(v, Tensor) and v.is_floating_point() else None for i, v in enumerate(value)]


def _backward(program, p: Plan, env: dict, aux: dict, layers: dict[Node, Affine], r0: Tensor, walk: _Walk,
              stabilizer: float, keep_all: bool, op_rules: Mapping | None = None) -> tuple[Tensor, dict]:
    store: dict = {p.output: r0}
    finals: dict = {}
    for node in reversed(p.order):
        if node not in store:
            continue
        r = store.pop(node)
        if keep_all:
            finals[node] = r
        _release = node is not p.output
        family = p.family[node]
        live = [n for n in node.all_input_nodes if n in p.live]
        hyp = [part.pop(node, None) for part in walk.hyp]
        if family == "getitem":
            parent, index = node.args
            _add(store, parent, r, slot=index)
            for part, h in zip(walk.hyp, hyp):
                if h is not None:
                    _add(part, parent, h, slot=index)
            continue
        if isinstance(r, dict):
            r = _as_list(r, env[node])
        if family == "affine":
            layer = layers[node]
            src = _affine_input(node)
            rel, step = _affine_backward(layer, env[src], env[node], r, walk, src)
            _add(store, src, rel)
            if step is not None:
                for part, h in zip(walk.hyp, (step.coef, step.const)):
                    _add(part, src, torch.zeros_like(env[src]) if h is None else h)
            if _release:
                _drop(env, node)
            continue
        if family == "user":  # the user's OpRule (seqlrp.lrp.op_rules); nothing hypothetical passes it
            for src, rel in user_backward(op_rules[p.user_rules[node]], node, env, live, dense(r)):
                _add(store, src, rel)
            if _release:
                _drop(env, node)
            continue
        for src, rel in backward(family, node, env, live, r, stabilizer=stabilizer, aux=aux):
            _add(store, src, rel)
        for part, h in zip(walk.hyp, hyp):  # only routing ops lie between the input and the input layers
            if h is not None:
                h = _as_list(h, env[node]) if isinstance(h, dict) else h
                for src, value in backward(family, node, env, live, h, stabilizer=stabilizer, aux={}):
                    _add(part, src, value)
        if _release:
            _drop(env, node)
    r = store.pop(program.input, None)
    r = torch.zeros_like(env[program.input]) if r is None else dense(r)
    if keep_all:
        finals[program.input] = r
    return r, finals


def relevance(
    model: nn.Module,
    x: Tensor,
    target: Target,
    *,
    composite: str | LayerMap = "epsilon-plus",
    input_rule: str | Rule | None = None,
    prune: Prune | None = None,
    epsilon: float = 1e-6,
    gamma: float = 0.25,
    stabilizer: float = 1e-6,
    exact_batchnorm: bool = False,
    return_hypothetical: bool = False,
    return_layers: bool = False,
    output: int | str | None = None,
    op_rules: Mapping[str, str | OpRule] | str | None = None,
) -> Tensor | LRPResult:
    """LRP relevance of one output of ``model`` for one-hot DNA ``x``.

    The model's forward is captured as a graph of ATen ops (``torch.export``, or failing that
    ``torch.fx``, or a recording of one real run, ``seqlrp.lrp.record``), once per input shape
    (cached); rules belong to the graph's ops (``seqlrp.lrp.ops``). The model is evaluated as in
    ``eval()`` mode (BatchNorm running statistics, no dropout) whatever its mode, read with its
    current weights at every call, and never modified. The initial relevance is the value of the
    explained output (a final sigmoid or softmax is looked through, so the logit under it is
    explained). Biases and stabilisers absorb part of it on the way down: the relevance sums to
    that logit only for bias-free networks (exactly so for LRP-0). The computation runs on
    ``x``'s device in ``x``'s dtype (parameters are cast copies).

    Parameters
    ----------
    model : torch.nn.Module or torch.export.ExportedProgram
        Any module whose forward can be captured: ``nn.Sequential`` models, seqlrp's residual
        networks, functional forwards (``F.relu``, ``x + f(x)``, slicing, ``view``), fx
        ``GraphModule`` s (onnx2torch), an exported program's ``.module()``, or the program
        itself. A model imported by seqlrp (``seqlrp.models.external.ExternalModel``) is
        explained at its inner module's output for the class's task.
    x : torch.Tensor or numpy.ndarray, shape (N, 4, L)
        One-hot DNA, channels A, C, G, T (``seqlrp.one_hot``); position ``t`` is base ``t`` of
        the sequence, 0-based. An integer or NumPy array is converted to float32. Checked before
        anything else for a model known to take DNA (seqlrp's models and the models it imports
        or loads from files, any module whose first Conv1d/Linear is a Conv1d with 4 input
        channels): (N, L, 4) and any other layout are refused. A module of other inputs (a
        hand-built test layer) takes whatever its forward takes.
    target : int, str, torch.Tensor of shape (N,), or sequence of int or str
        The class (task) to explain: an output index, a class name, an (N,) tensor of indices,
        or one name or index per sequence. Names are looked up in ``model.seqlrp_info.classes``
        (seqlrp's models and the foreign models seqlrp imports), whose order is the logits'.
    composite : str or dict, default "epsilon-plus"
        A name in ``seqlrp.lrp.COMPOSITES`` (``epsilon``, ``epsilon-plus``, ``epsilon-gamma``,
        ``alpha2beta1``) or a mapping ``{nn.Conv1d: rule, nn.Linear: rule}``, which may also hold
        ``op_rules`` entries (ATen ops, module classes, op families).
    input_rule : str or Rule, optional
        Rule for the input layers (the Conv1d/Linear that see the input through routing ops
        only): a name in ``seqlrp.lrp.RULES`` (e.g. ``"flat"``, ``"wsquare"``, ``"zbox"``) or a
        ``Rule``; None keeps the composite's.
    prune : Prune, optional
        Pruned LRP settings (per-layer fractions by module path; input layers are never pruned).
        Each layer is cut per sample wherever the model keeps the samples (``(L, N, E)`` and
        ``(L * N, E)`` in attention layers: :mod:`seqlrp.lrp.samples`).
    epsilon : float, default 1e-6
        Stabiliser of the epsilon rule.
    gamma : float, default 0.25
        Weight of the positive parameters in the gamma rule.
    stabilizer : float, default 1e-6
        Stabiliser of every other denominator (z+, alpha-beta, gamma, flat, w^2, z-box, average
        pooling, mean/sum, add/sub).
    exact_batchnorm : bool, default False
        Fold BatchNorm exactly; by default it is folded as Zennit does, keeping a factor
        ``1/sqrt(1 + eps)`` per BatchNorm (see ``seqlrp.lrp.canonize``).
    return_hypothetical : bool, default False
        Also return the hypothetical contributions (needs the input layers to see ``x`` through
        routing ops only: flatten, reshape, transpose, permute, dropout, ...).
    return_layers : bool, default False
        Also return the relevance at the input of every module.
    output : int or str, optional
        Which output of a model that returns a tuple or dict to explain (index or key). The
        explained output is (N,), (N, K) or (N, K, 1), whose task ``target`` picks, or a profile
        (N, K, L), explained through BPNet's softmax-weighted scalar (``seqlrp.models.outputs``).
    op_rules : dict, optional
        Rules for ATen ops, ``{op: rule}`` (``seqlrp.lrp.op_rules``): ``op`` as a refusal prints it
        (``"aten.cumsum.default"``, or the packet ``"aten.cumsum"``), a module class (every op its
        forward runs, Conv1d/Linear/BatchNorm layers excepted) or an op family's name; ``rule`` a built-in op rule's
        name (``"pass"``, ``"route"``, ``"proportional"``, ``"sum"``, ...) or an instance of
        ``seqlrp.lrp.OpRule``. They give ops without a rule one, and replace seqlrp's own. The ready
        maps ``seqlrp.lrp.ATTN_LRP`` (the default) and ``seqlrp.lrp.CP_LRP`` (attention weights held
        constant), also by name: ``"attn-lrp"``, ``"cp-lrp"``.

    Returns
    -------
    torch.Tensor, shape (N, 4, L), or LRPResult
        The relevance, shaped like ``x``; with ``return_hypothetical`` or ``return_layers`` an
        ``LRPResult`` (relevance, hypothetical, layers, logits). The **hypothetical
        contribution** ``H[n, c, t]`` is the total relevance position ``t`` would receive if
        base ``c`` were there (``x[n, :, t]`` one-hot at ``c``), all relevance arriving from
        above held fixed. For rules of the form ``R = x * g`` (epsilon, z+, alpha-beta, gamma)
        it is ``g``, the vector the input is multiplied by, so ``relevance == x * H`` for
        one-hot ``x``; for z-box it is ``g`` plus the position's bound terms, and for flat and
        w^2, which ignore the input, it is the position's relevance for every base. In all
        cases ``(x * H).sum(1) == relevance.sum(1)`` for one-hot ``x``.

    Raises
    ------
    InputLayoutError
        (a ``ValueError``) when ``x`` is not (N, 4, L) for a model that takes DNA: for (N, L, 4)
        the message says to pass ``x.transpose(1, 2)``.
    TargetError
        (a ``ValueError``) for a class name the model does not have (the message lists its
        classes), a name given to a model without class names, or a list of targets whose
        length is not N.
    UnsupportedLayerError
        for an op without an LRP rule, naming the op, its module path and source line.
    ValueError
        for a target index out of range, a model without Conv1d/Linear layers, or hypothetical
        contributions the model's first layers cannot give.

    Examples
    --------
    >>> x = seqlrp.one_hot(["ACGT" * 50])                       # (1, 4, 200)
    >>> r = relevance(model, x, target="positive")               # (1, 4, 200)
    >>> r = relevance(model, x, 0, prune=Prune(p_pos=0.25))      # pruned LRP (PLRP-lambda)
    >>> res = relevance(model, x, 0, return_hypothetical=True)   # LRPResult
    """
    x = check_input(x, takes_dna(model))
    target = resolve_target(model, target, x.shape[0])
    redirect = getattr(model, "lrp_target", None)
    if callable(redirect):  # a wrapper that says what to explain (seqlrp.models.external.ExternalModel)
        model, output, target = redirect(output, target)
    program = capture(model, x)
    # the composite's op entries, then op_rules (an entry of op_rules replaces the composite's for the same key)
    table = check_op_rules({**split_composite(composite), **check_op_rules(op_rules)})
    p = plan(program, program.select(output), table)
    if not p.affines:
        raise ValueError("LRP needs at least one Conv1d or Linear layer in the model")
    keep_all = return_layers
    with torch.no_grad():
        env, layers = _prepare(program, p, x)
        ordered = [layers[n] for n in p.affines]
        firsts = {layers[n] for n in p.input_layers}
        rules = assign(ordered, composite, input_rule, firsts, epsilon=epsilon, gamma=gamma, stabilizer=stabilizer)
        needs_z = {n for n in p.affines if rules[layers[n]].needs_output}
        axes = None if prune is None else SampleAxes(program.input, x.shape[0])
        aux = _forward(p, env, layers, _kept(program, p, needs_z), exact_batchnorm, axes)
        if p.held:
            aux[HELD] = p.held
        walk = _Walk(rules, prune, firsts, axes)
        out = env[p.output]
        r, finals = _backward(program, p, env, aux, layers, initial_relevance(out, target), walk, stabilizer, keep_all,
                              table)
    r = r.reshape(x.shape)
    if not (return_hypothetical or return_layers):
        return r
    hyp = None
    if return_hypothetical:
        if not p.hyp_ok:
            raise ValueError(
                "hypothetical contributions need the first Conv1d/Linear layers to see the input directly "
                "(only routing ops such as flatten, reshape, transpose, dropout may stand before them)"
            )
        coef, const = (part.get(program.input) for part in walk.hyp)
        hyp = torch.zeros_like(x) if coef is None else dense(coef).reshape(x.shape).clone()
        if const is not None:
            hyp += dense(const).reshape(x.shape).sum(1, keepdim=True)
    found = None
    if return_layers:
        found = {}
        for path, src, op in p.layer_inputs:
            if op in p.folds and exact_batchnorm and path == module_path(op):
                continue
            if src in finals:
                found[path] = dense(finals[src])
    return LRPResult(r, hyp, found, out)
