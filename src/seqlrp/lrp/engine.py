"""The LRP walk over a captured graph: one forward pass that keeps every value, one backward
walk of the ops' rules.

:func:`relevance` captures the model's forward as a graph of ATen ops (:mod:`.capture`, cached
per model and input shape), plans where the rules go (:mod:`.canonize`), runs the graph forward
under ``torch.no_grad()`` with BatchNorm folded into copies of the weights, and sends the
target's relevance back down with explicit tensor operations: the composite's rules at every
Conv1d/Linear (:mod:`.propagate`), the op rules of :mod:`.ops` everywhere else. No hooks, no
change to the model; nn.Sequential models, seqlrp's residual networks, functional forwards,
fx GraphModules (onnx2torch) and exported programs all go through this one walk.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.fx import Node

from ..models.outputs import initial_relevance
from .canonize import Plan, batchnorm_forward, fold, make_affine, plan
from .capture import capture
from .composites import LayerMap, assign
from .graph import Affine
from .ops import backward, call, dense, maxpool1d_with_winners, op_name
from .program import module_path
from .propagate import propagate
from .prune import Prune, keep_mask, prune_lambda
from .rules import AlphaBeta, Epsilon, Gamma, Rule, ZBox


class LRPResult(NamedTuple):
    """What :func:`relevance` returns when asked for more than the relevance.

    ``relevance``: like ``x`` (N, 4, L). ``hypothetical``: like ``x`` or None: what each base
    would receive if it were the base at that position (see :func:`relevance`). ``layers``:
    {module path: relevance at that module's input} or None, from the output down (a BatchNorm
    folded with ``exact_batchnorm=True`` has no entry; pruned layers show the pruned relevance;
    an op of the model's own forward is named by its graph node, e.g. ``add_1``).
    ``logits``: the explained model output, e.g. (N, n_classes).
    """

    relevance: Tensor
    hypothetical: Tensor | None
    layers: dict[str, Tensor] | None
    logits: Tensor


_NEEDS_OUTPUT = (Epsilon, Gamma, AlphaBeta, ZBox)  # rules that read the layer's output z


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
        elif family in ("proportional", "sum", "product", "layernorm", "attention", "lstm"):
            keep.update(srcs)
            keep.add(node)
        elif family in ("route", "logsumexp", "getitem") or (family == "maxpool" and op_name(node) != "max_pool1d"):
            keep.update(srcs)
    return keep


def _drop(env: dict, node: Node) -> None:
    """Replace a value no longer needed by a data-free stand-in of the same shape."""
    value = env.get(node)
    if isinstance(value, Tensor) and value.device.type != "meta":
        env[node] = torch.empty_like(value, device="meta")


def _forward(p: Plan, env: dict, layers: dict[Node, Affine], keep: set[Node], exact_batchnorm: bool) -> dict:
    """Run the live ops; returns the max-pool winners (``aux``). Values outside ``keep`` are
    dropped after their last use."""
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

    def __init__(self, rules: dict[Affine, Rule], prune: Prune | None, firsts: set[Affine]):
        self.rules, self.prune, self.firsts = rules, prune, firsts
        self.hyp: tuple[dict, dict] = ({}, {})


def _affine_backward(layer: Affine, x: Tensor, z: Tensor, r, walk: _Walk):
    rule = walk.rules[layer]
    step = propagate(rule, layer, x, z if isinstance(rule, _NEEDS_OUTPUT) else None, r)
    if layer in walk.firsts:
        return step.relevance, step
    if walk.prune is None:
        return step.relevance, None
    p_pos, p_neg = walk.prune.fractions(layer.path)
    if p_pos <= 0 and p_neg <= 0:
        return step.relevance, None
    if walk.prune.mode == "lambda":
        return prune_lambda(step.relevance, p_pos, p_neg), None
    keep, _ = keep_mask(step.relevance, p_pos, p_neg)
    return propagate(rule, layer, x, None, r, mask=keep.to(x.dtype)).relevance, None


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
              stabilizer: float, keep_all: bool) -> tuple[Tensor, dict]:
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
            rel, step = _affine_backward(layer, env[src], env[node], r, walk)
            _add(store, src, rel)
            if step is not None:
                for part, h in zip(walk.hyp, (step.coef, step.const)):
                    _add(part, src, torch.zeros_like(env[src]) if h is None else h)
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
    target: int | Tensor,
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
) -> Tensor | LRPResult:
    """LRP relevance of the output ``target`` for one-hot input ``x`` (N, 4, L).

    ``model``: any ``nn.Module`` whose forward ``torch.export`` (or, failing that, ``torch.fx``,
    or a recording of one real run, :mod:`seqlrp.lrp.record`) can capture — ``nn.Sequential`` models, seqlrp's residual networks, functional forwards
    (``F.relu``, ``x + f(x)``, slicing, ``view``), fx ``GraphModule`` s (onnx2torch), an
    exported program's ``.module()`` — or a ``torch.export.ExportedProgram``. Rules belong to
    the graph's ops (:mod:`seqlrp.lrp.ops`); an op without one raises
    :class:`UnsupportedLayerError` naming the op, its module path and source line. The model is
    captured once per input shape (cached), evaluated as in ``eval()`` mode (BatchNorm running
    statistics, no dropout) whatever its mode, read with its current weights at every call, and
    never modified. ``output``: which output of a model that returns a tuple or dict to explain
    (index or key). The explained output is (N,), (N, K) or (N, K, 1) — ``target`` (int or (N,)
    tensor) picks the task and the initial relevance is its value — or a profile (N, K, L),
    explained through BPNet's softmax-weighted scalar (:mod:`seqlrp.models.outputs`); a final
    sigmoid or softmax is looked through, so the logits under it are explained.
    ``composite``: a name in :data:`~seqlrp.lrp.COMPOSITES` or a mapping
    ``{nn.Conv1d: rule, nn.Linear: rule}``. ``input_rule``: rule (name in
    :data:`~seqlrp.lrp.RULES`, e.g. ``"flat"``, ``"wsquare"``, ``"zbox"``) for the input layers
    (the Conv1d/Linear that see the input through routing ops only). ``prune``:
    :class:`~seqlrp.lrp.Prune` for pruned LRP (per-layer fractions by module path; input layers
    are never pruned). ``epsilon``: of the epsilon rule; ``gamma``: of the gamma rule;
    ``stabilizer``: of every other denominator (z+, alpha-beta, gamma, flat, w^2, z-box,
    average pooling, mean/sum, add/sub). ``exact_batchnorm``: fold BatchNorm exactly; by default
    it is folded as Zennit does, keeping a factor ``1/sqrt(1 + eps)`` per BatchNorm (see
    :mod:`seqlrp.lrp.canonize`).
    The computation runs on ``x``'s device in ``x``'s dtype (parameters are cast copies).

    Returns the relevance, shaped like ``x``; with ``return_hypothetical`` or ``return_layers``
    an :class:`LRPResult`. The **hypothetical contribution** ``H[n, c, t]`` is the total
    relevance position ``t`` would receive if base ``c`` were there (``x[n, :, t]`` one-hot at
    ``c``), all relevance arriving from above held fixed. For rules of the form
    ``R = x * g`` (epsilon, z+, alpha-beta, gamma) it is ``g``, the vector the input is
    multiplied by, so ``relevance == x * H`` for one-hot ``x``; for z-box it is ``g`` plus the
    position's bound terms, and for flat and w^2, which ignore the input, it is the position's
    relevance for every base. In all cases ``(x * H).sum(1) == relevance.sum(1)`` for one-hot
    ``x``. It needs the input layers to see ``x`` through routing ops only (flatten, reshape,
    transpose, permute, dropout, ...).
    """
    if not x.is_floating_point():
        x = x.float()
    redirect = getattr(model, "lrp_target", None)
    if callable(redirect):  # a wrapper that says what to explain (seqlrp.models.external.ExternalModel)
        model, output, target = redirect(output, target)
    program = capture(model, x)
    p = plan(program, program.select(output))
    if not p.affines:
        raise ValueError("LRP needs at least one Conv1d or Linear layer in the model")
    keep_all = return_layers
    with torch.no_grad():
        env, layers = _prepare(program, p, x)
        ordered = [layers[n] for n in p.affines]
        firsts = {layers[n] for n in p.input_layers}
        rules = assign(ordered, composite, input_rule, firsts, epsilon=epsilon, gamma=gamma, stabilizer=stabilizer)
        needs_z = {n for n in p.affines if isinstance(rules[layers[n]], _NEEDS_OUTPUT)}
        aux = _forward(p, env, layers, _kept(program, p, needs_z), exact_batchnorm)
        walk = _Walk(rules, prune, firsts)
        out = env[p.output]
        r, finals = _backward(program, p, env, aux, layers, initial_relevance(out, target), walk, stabilizer, keep_all)
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
