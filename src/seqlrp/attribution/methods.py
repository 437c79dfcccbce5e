"""A method entry of the config turned into relevance maps: :func:`explain` (:class:`~seqlrp.attribution.spec.MethodSpec` is re-exported).

A method (``attribute.methods.<name>`` in the config, recorded in an attribution's
``settings.json``) is an LRP configuration: composite, input rule, optional PLRP pruning
(:class:`seqlrp.lrp.Prune`), epsilon and gamma. :func:`explain` streams the relevance of a batch
of one-hot windows (n, 4, L) for one class logit, batch by batch.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from ..lrp import relevance
from .spec import MethodSpec  # noqa: F401  (re-exported: the spec lives apart so that readers need no torch)


def explain(model, onehot, target: int, spec: MethodSpec, device: torch.device, batch_size: int, desc: str | None = None):
    """Yield ``(x, result)`` per batch: ``x`` (b, 4, L) float32 numpy, ``result`` an LRPResult.

    ``onehot`` (n, 4, L) may be a memory map: only one batch is in memory at a time.
    """
    pruner = spec.pruner()
    batches = range(0, len(onehot), batch_size)
    for lo in tqdm(batches, desc=desc, unit="batch", disable=desc is None):
        x = np.asarray(onehot[lo : lo + batch_size], dtype=np.float32)
        result = relevance(model, torch.from_numpy(x).to(device), target, composite=spec.composite,
                           input_rule=spec.input_rule, prune=pruner, epsilon=spec.epsilon, gamma=spec.gamma,
                           op_rules=spec.op_rules, return_hypothetical=True)
        yield x, result
