"""The null that calibrates the seqlet FDR: a method's relevance on dinucleotide-shuffled windows.

Up to ``n_null`` windows (n, 4, L) are drawn at random (``seed``), each shuffled ``n_shuffles``
times keeping its dinucleotide counts (:func:`seqlrp.sequences.shuffle.shuffle_onehot`: composition
stays, motifs go), and explained by the same model, class logit and method as the real windows
(:func:`seqlrp.attribution.methods.explain`). The result is the observed-base relevance (m, L) of
the shuffled copies (:func:`seqlrp.analysis.tracks.observed_relevance`): the null window scores
that :func:`seqlrp.analysis.seqlets.fdr_threshold` sets the thresholds against.
"""

from __future__ import annotations

import numpy as np

from ..attribution.methods import MethodSpec, explain
from ..models import load_model
from ..models.device import choose_device
from ..sequences.shuffle import shuffle_onehot
from .tracks import observed_relevance


def null_relevance(model_path, onehot: np.ndarray, target: int, spec: MethodSpec, n_null: int, n_shuffles: int,
                   seed: int, device: str = "auto", batch_size: int = 128) -> np.ndarray:
    """Observed-base relevance (m, L) of dinucleotide-shuffled copies of up to ``n_null`` windows."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(onehot), size=min(n_null, len(onehot)), replace=False))
    shuffled = shuffle_onehot(np.asarray(onehot[pick]), n_shuffles=n_shuffles, seed=seed)
    torch_device = choose_device(device)
    model = load_model(model_path).to(torch_device)
    chunks = [observed_relevance(result.relevance.float().cpu().numpy(), x)
              for x, result in explain(model, shuffled, target, spec, torch_device, batch_size)]
    return np.concatenate(chunks)
