"""The settings of one attribution method (``attribute.methods.<name>``), as :class:`MethodSpec`.

Kept apart from :mod:`seqlrp.attribution.methods` (which computes relevance) so that the stages
that only read an attribution store (tracks, seqlets' BEDs, motifs, the report) need no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import SeqlrpError

#: The defaults of :class:`seqlrp.lrp.Prune`'s fields, read here without importing torch (a test keeps
#: them equal to Prune's own).
PRUNE_DEFAULTS = {"p_pos": 0.25, "p_neg": None, "mode": "lambda"}


@dataclass(frozen=True)
class MethodSpec:
    """An LRP configuration: composite, input rule, optional pruning, rule parameters and the ready
    map of op rules (``attn-lrp``, the default, or ``cp-lrp``: :mod:`seqlrp.lrp.op_rules`)."""

    composite: str = "epsilon-plus"
    input_rule: str | None = None
    prune: dict | None = None
    epsilon: float = 1e-6
    gamma: float = 0.25
    op_rules: str = "attn-lrp"  # the ready map of op rules (seqlrp.lrp.op_rules.READY): attn-lrp or cp-lrp

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

    def pruner(self):
        """The :class:`seqlrp.lrp.Prune` of ``prune`` (None without pruning)."""
        if not self.prune:
            return None
        from ..lrp import Prune

        return Prune(**self.prune)

    def describe(self) -> str:
        """One line for logs and track descriptions, e.g. ``epsilon-plus, input rule default, PLRP-lambda p+=0.25 p-=0.125``."""
        text = f"{self.composite}, input rule {self.input_rule or 'default'}"
        if self.prune:  # Prune's fields and defaults, read without building one (no torch import)
            settings = {**PRUNE_DEFAULTS, **self.prune}
            p_pos, p_neg, mode = settings["p_pos"], settings["p_neg"], settings["mode"]
            p_neg = p_pos / 2 if p_neg is None and not isinstance(p_pos, Mapping) else p_neg
            text += f", PLRP-{'lambda' if mode == 'lambda' else 'M'} p+={p_pos} p-={p_neg}"
        if self.op_rules != "attn-lrp":
            text += f", op rules {self.op_rules}"
        return text
