"""Variant effect scores of profile models (BPNet, ChromBPNet): ``logfc`` and ``jsd``.

A profile model (bpnet-lite's ``BPNet``/``ChromBPNet``, ChromBPNet's Keras models) returns
``(profile_logits (N, S, L), log_counts (N, 1))``: per-position logits of S tracks (strands) and
the natural log of the predicted total count. ChromBPNet's variant scorer (kundajelab/variant-scorer,
``src/utils/helpers.py``: ``get_variant_scores``, ``softmax``, ``fetch_variant_predictions``)
scores a variant (allele1 = ref, allele2 = alt) as

* ``logfc = log2(exp(alt_log_counts) / exp(ref_log_counts))`` — the log2 fold change of the
  predicted counts, i.e. ``(alt - ref) / ln 2`` of the log-count outputs (the scorer takes
  ``exp``, not ``exp - 1``, although the models are trained on ``log(1 + counts)``);
* ``jsd = scipy.spatial.distance.jensenshannon(softmax(alt), softmax(ref), base=2)`` — the
  Jensen–Shannon *distance* (square root of the divergence in bits, in [0, 1]) between the
  predicted profile probabilities, softmax over the profile's positions. ChromBPNet's profile is
  one track; for S > 1 the S * L logits are flattened into one softmax, as bpnet-lite's loss
  does (one log-softmax over both strands, ``bpnetlite.bpnet.BPNet`` docstring, point 3).

Reverse-complement averaging (``fetch_variant_predictions``): the reverse-complement input's
profile is flipped along L and averaged with the forward one **as logits** (softmax after), its
counts averaged **as counts** (``exp`` of the log counts). :func:`reverse_complement_raw` and
:func:`average_raw` do this on raw outputs, staying in log space for the counts.

``raw`` is a model's output as returned (a tensor, tuple, list or dict; torch or numpy), e.g.
``model.inner(x)`` of an :class:`~seqlrp.models.external.ExternalModel`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..models.outputs import as_tasks

__all__ = ["average_raw", "profile_effects", "reverse_complement_raw", "split_profile_outputs"]

_ABSENT = object()  # the key of an output the model does not have


def _tensor(x: Any) -> Tensor | None:
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, np.ndarray) and x.dtype.kind in "fiu":
        return torch.from_numpy(np.ascontiguousarray(x))
    return None


def _entries(raw: Any) -> list[tuple[Any, Any]]:
    if isinstance(raw, Mapping):
        return list(raw.items())
    if isinstance(raw, (tuple, list)):
        return list(enumerate(raw))
    return [(None, raw)]


def _is_profile(t: Tensor | None) -> bool:
    return t is not None and t.dim() >= 3 and as_tasks(t).dim() == 3 and as_tasks(t).shape[-1] > 1


def _roles(raw: Any) -> tuple[Any, Any]:
    """The keys (index, dict key, or None for a bare tensor) of the profile and the counts output;
    ``_ABSENT`` where there is none."""
    entries = [(k, _tensor(v)) for k, v in _entries(raw)]
    profile = next((k for k, t in entries if _is_profile(t)), _ABSENT)
    rest = [k for k, t in entries if k != profile and t is not None and 1 <= as_tasks(t).dim() <= 2]
    named = [k for k in rest if isinstance(k, str) and "count" in k.lower()]
    counts = named[0] if named else (rest[0] if rest and profile is not _ABSENT else _ABSENT)
    return profile, counts


def split_profile_outputs(raw: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The profile logits and the log counts in a model's raw output.

    Parameters
    ----------
    raw : Tensor, ndarray, tuple, list or dict
        What the model returned.

    Returns
    -------
    profile : ndarray, shape (N, S, L), float64, or None
        The first output of shape (N, S, L) with L > 1 (trailing singleton dims dropped).
    log_counts : ndarray, shape (N,), float64, or None
        A counts output of shape (N,), (N, 1) or (N, S): a dict entry whose key contains
        "count", else the first other output of such a shape beside a profile. bpnet-lite and
        ChromBPNet predict one total over strands (N, 1), taken as is; per-strand log counts
        (N, S) are combined as ``logsumexp`` over S, the log of the total under the scorer's
        ``exp`` convention. A model with a single 2-D output (a classifier) has neither.
    """
    profile, counts = _roles(raw)
    get = dict(_entries(raw)).get
    p = None if profile is _ABSENT else as_tasks(_tensor(get(profile))).double().cpu().numpy()
    c = None
    if counts is not _ABSENT:
        t = as_tasks(_tensor(get(counts))).double().cpu()
        c = (torch.logsumexp(t, 1) if t.dim() == 2 else t).numpy()
    return p, c


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.reshape(len(logits), -1)
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _js_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """scipy's ``jensenshannon(p, q, base=2)`` row by row of (N, D) distributions."""
    p, q = p / p.sum(1, keepdims=True), q / q.sum(1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = [np.where(a > 0, a * np.log(a / m), 0.0).sum(1) for a in (p, q)]
    return np.sqrt(np.maximum((kl[0] + kl[1]) / (2 * math.log(2)), 0.0))


def profile_effects(ref_raw: Any, alt_raw: Any) -> dict[str, np.ndarray] | None:
    """ChromBPNet's variant scores of alt vs ref (module docstring for the definitions).

    Parameters
    ----------
    ref_raw, alt_raw : raw model outputs (see :func:`split_profile_outputs`) for the N reference
        and the N alternative sequences.

    Returns
    -------
    dict or None
        ``"logfc"``: (N,) float64, ``(alt - ref) / ln 2`` of the log counts (log2 fold change);
        ``"jsd"``: (N,) float64, Jensen–Shannon distance (base 2) between the softmax profiles
        (S * L flattened). A key is left out when the model lacks that output; None when it has
        neither.
    """
    (rp, rc), (ap, ac) = split_profile_outputs(ref_raw), split_profile_outputs(alt_raw)
    out: dict[str, np.ndarray] = {}
    if rc is not None and ac is not None:
        if rc.shape != ac.shape:
            raise ValueError(f"ref and alt log counts differ in shape: {rc.shape} vs {ac.shape}")
        out["logfc"] = (ac - rc) / math.log(2)
    if rp is not None and ap is not None:
        if rp.shape != ap.shape:
            raise ValueError(f"ref and alt profiles differ in shape: {rp.shape} vs {ap.shape}")
        out["jsd"] = _js_distance(_softmax(ap), _softmax(rp))
    return out or None


def _rebuild(raw: Any, fn) -> Any:
    if isinstance(raw, Mapping):
        return {k: fn(k, v) for k, v in raw.items()}
    if isinstance(raw, (tuple, list)):
        return type(raw)(fn(i, v) for i, v in enumerate(raw))
    return fn(None, raw)


def _like(t: Tensor, original: Any) -> Any:
    return t.numpy() if isinstance(original, np.ndarray) else t

def reverse_complement_raw(raw: Any) -> Any:
    """The raw output for a reverse-complement input, mapped back to forward orientation.

    The profile (N, S, L) is flipped along L, and its strands swapped when S == 2 (as bpnet-lite
    flips a stranded target, ``torch.flip(y, [0, 1])`` in ``bpnetlite.io``); every other output
    (the counts: a total, or per-strand log counts that are summed anyway) is unchanged. Same
    structure and array type as ``raw``.
    """
    profile, _ = _roles(raw)

    def fn(key, value):
        if key != profile:
            return value
        t = _tensor(value)
        p = as_tasks(t).flip(-1)
        return _like((p.flip(1) if p.shape[1] == 2 else p).reshape(t.shape), value)

    return _rebuild(raw, fn)


def average_raw(a: Any, b: Any) -> Any:
    """The mean of two raw outputs of the same structure, as ChromBPNet averages forward and
    reverse-complement predictions: profile **logits** averaged element-wise (the softmax comes
    after), counts averaged as counts, ``log((exp(a) + exp(b)) / 2)``; any other output
    averaged element-wise. Same structure and array type as ``a``."""
    _, counts = _roles(a)
    get_b = dict(_entries(b)).get

    def fn(key, value):
        ta, tb = _tensor(value), _tensor(get_b(key))
        if ta is None or tb is None:
            return value
        if ta.shape != tb.shape:
            raise ValueError(f"outputs differ in shape at {key!r}: {tuple(ta.shape)} vs {tuple(tb.shape)}")
        if counts is not _ABSENT and key == counts:
            mean = torch.logaddexp(ta, tb) - math.log(2)
        else:
            mean = (ta + tb) / 2
        return _like(mean, value)

    return _rebuild(a, fn)
