"""A method entry of the config turned into relevance maps: :class:`MethodSpec` and :func:`explain`.

A method (``attribute.methods.<name>`` in the config, recorded in an attribution's
``settings.json``) is an LRP configuration: composite, input rule, optional PLRP pruning
(:class:`seqlrp.lrp.Prune`), epsilon and gamma. :func:`explain` streams the relevance of a batch
of one-hot windows (n, 4, L) for one class logit, batch by batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..errors import SeqlrpError
from ..lrp import Prune, relevance


@dataclass(frozen=True)
class MethodSpec:
    """An LRP configuration: composite, input rule, optional pruning and rule parameters."""

    composite: str = "epsilon-plus"
    input_rule: str | None = None
    prune: dict | None = None
    epsilon: float = 1e-6
    gamma: float = 0.25

    @classmethod
    def from_config(cls, name: str, spec: Mapping) -> "MethodSpec":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise SeqlrpError(f"attribute.methods.{name}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**{k: (dict(v) if isinstance(v, Mapping) else v) for k, v in spec.items()})

    @classmethod
    def from_settings(cls, settings: Mapping) -> "MethodSpec":
        """The spec recorded in an attribution's ``settings.json`` (other keys are ignored)."""
        return cls(**{k: settings[k] for k in cls.__dataclass_fields__ if k in settings})

    def pruner(self) -> Prune | None:
        if not self.prune:
            return None
        return Prune(**self.prune)

    def describe(self) -> str:
        """One line for logs and track descriptions, e.g. ``epsilon-plus, input rule default, PLRP-lambda p+=0.25 p-=0.125``."""
        text = f"{self.composite}, input rule {self.input_rule or 'default'}"
        pruner = self.pruner()
        if pruner is not None:
            p_neg = pruner.p_pos / 2 if pruner.p_neg is None and not isinstance(pruner.p_pos, Mapping) else pruner.p_neg
            text += f", PLRP-{'lambda' if pruner.mode == 'lambda' else 'M'} p+={pruner.p_pos} p-={p_neg}"
        return text


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
                           return_hypothetical=True)
        yield x, result
