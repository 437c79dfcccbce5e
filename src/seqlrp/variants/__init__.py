"""Variant effects: what a sequence change does to a model's output, and why.

* :func:`score` — every variant of a VCF scored and explained with one model, as a table
  (:func:`seqlrp.variants.api.score`; the pipeline's rule ``variants`` writes the same columns to
  ``results/variants/scores.tsv``);
* :func:`open_variant_maps` — a run's per-variant ref and alt relevance maps and their ΔR
  (:func:`seqlrp.variants.maps.open_variant_maps`).

Loaded on first use, so that ``import seqlrp.variants`` imports no torch.

>>> import seqlrp
>>> model = seqlrp.load_model("results/model/model.pt")
>>> table = seqlrp.variants.score(model, "genome.fa.gz", "variants.vcf.gz")
>>> table[["id", "class", "delta", "relevance_ref", "p_value"]].head()
"""

import importlib as _importlib

_LAZY = {"score": "seqlrp.variants.api", "open_variant_maps": "seqlrp.variants.maps"}
__all__ = ["open_variant_maps", "score"]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seqlrp.variants' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
