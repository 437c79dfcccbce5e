"""seqlrp: Layer-wise Relevance Propagation (and pruned LRP) for one-hot DNA sequence models.

The quick start's names live here, loaded on first use (PEP 562), so that ``import seqlrp`` is
fast and imports no torch:

* :func:`one_hot` — DNA strings or FASTA records -> tensor (N, 4, L), channels A, C, G, T
  (:func:`seqlrp.formats.encoder.one_hot`);
* :func:`load_model` — a saved model, in eval mode (:func:`seqlrp.models.loading.load_model`);
* :func:`relevance`, :class:`Prune` — LRP and pruned LRP (:mod:`seqlrp.lrp`);
* :func:`open_attribution` — a pipeline run's stored attributions
  (:func:`seqlrp.attribution.runs.open_attribution`);
* :mod:`variants` — variant effects: ``seqlrp.variants.score(model, genome, vcf)``
  (:func:`seqlrp.variants.api.score`).

>>> import seqlrp
>>> model = seqlrp.load_model("results/model/model.pt")
>>> x = seqlrp.one_hot(["ACGT" * 50, "GATTACA" * 28 + "ACGT"])
>>> R = seqlrp.relevance(model, x, target="positive")      # (N, 4, L)
"""

import importlib as _importlib

__version__ = "0.1.0"

ALPHABET = "ACGT"
"""Channel order of every one-hot array in seqlrp: (N, 4, L) with channels A, C, G, T."""

# name -> module that defines it; imported by importlib (not an import statement), so that this root
# module depends on no layer and no layer's ``from .. import ALPHABET`` makes an import circle
_LAZY = {
    "one_hot": "seqlrp.formats.encoder",
    "load_model": "seqlrp.models.loading",
    "relevance": "seqlrp.lrp.engine",
    "Prune": "seqlrp.lrp.prune",
    "open_attribution": "seqlrp.attribution.runs",
}

__all__ = ["ALPHABET", "Prune", "__version__", "load_model", "one_hot", "open_attribution", "relevance", "variants"]


_SUBPACKAGES = {"variants"}  # ``seqlrp.variants`` after a bare ``import seqlrp``


def __getattr__(name: str) -> object:
    if name in _SUBPACKAGES:
        return _importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seqlrp' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBPACKAGES})
