"""``seqlrp.variants.score``: the variant stage in a notebook, on any model seqlrp explains."""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from ..attribution.spec import MethodSpec
from ..formats.genome import Genome
from ..formats.vcf import VariantCounts, iter_variants
from ..models.architectures import describe
from ..models.device import choose_device
from .null import null_deltas, sample_contexts
from .scoring import VariantOptions, VariantScorer
from .tables import SCORE_COLUMNS, score_values
from .windows import batches


def _methods(methods) -> dict[str, MethodSpec]:
    if methods is None:
        return {"lrp": MethodSpec()}
    return {name: spec if isinstance(spec, MethodSpec) else MethodSpec.from_config(name, spec)
            for name, spec in dict(methods).items()}


def score(model: torch.nn.Module, genome: str | os.PathLike, vcf: str | os.PathLike, *,
          methods: Mapping[str, MethodSpec | Mapping] | None = None, seq_len: int | None = None,
          classes: list[str] | None = None, reverse_complement: bool = False, null_size: int = 200,
          seed: int = 1, ref_mismatch: str = "refuse", probability: str = "auto", local_bp: int = 10,
          batch_size: int = 64, device: str | torch.device = "auto", motifs=None, counts: VariantCounts | None = None):
    """Score and explain every variant of ``vcf`` with ``model``; return ``scores.tsv``'s table.

    Parameters
    ----------
    model : torch.nn.Module
        A seqlrp model (``seqlrp.load_model``) or any module taking one-hot (N, 4, L) DNA: a plain
        module's outputs are its classes, named ``classes`` (default ``output_0``, ...).
    genome : path
        The genome FASTA (plain or bgzip) the VCF refers to.
    vcf : path
        VCF, bgzip VCF or BCF (:func:`seqlrp.formats.vcf.iter_variants`: one row per ALT, symbolic
        alleles skipped, ``chr`` prefixes mapped, REF checked against the genome).
    methods : dict, optional
        Attribution methods, name -> :class:`~seqlrp.attribution.spec.MethodSpec` or its config
        mapping (default ``{"lrp": MethodSpec()}``, epsilon-plus LRP); ``{}``: scores only.
    seq_len : int, optional
        Window length; a seqlrp model's own by default (required for a plain module).
    reverse_complement : bool
        Average scores and maps over both strands.
    null_size : int
        Shuffled-context variants per kind for the p-values (0: no p-values, NaN).
    motifs : seqlrp.variants.motif_change.MotifScanner, optional
        Report the motif each variant breaks or creates.
    counts : VariantCounts, optional
        Filled with what the reader skipped and mapped.

    Returns
    -------
    pandas.DataFrame
        One row per record x ALT x class x method, the columns of ``results/variants/scores.tsv``
        (docs/variants.md), ``pos`` 1-based as in the VCF, ``q_value`` per class over all variants.
    """
    import pandas as pd

    from .null import bh_q

    device = choose_device(device)
    info = getattr(model, "seqlrp_info", None)
    if info is not None:
        info = describe(model)
        seq_len, classes = seq_len or info.seq_len, classes or list(info.classes)
    if seq_len is None:
        raise ValueError("seq_len is needed for a model seqlrp did not build or load")
    model = model.to(device).eval()
    specs = _methods(methods)
    options = VariantOptions(reverse_complement=reverse_complement, probability=probability, local_bp=local_bp,
                             batch_size=batch_size, null_size=null_size, seed=seed, maps=False, explain=bool(specs))
    scorer = VariantScorer(model, specs, device, options, motifs)
    with Genome(genome) as fasta:
        def stream(counter=None, warn=True):
            return iter_variants(vcf, fasta.lengths, fetch_ref=fasta.fetch, ref_mismatch=ref_mismatch, counts=counter,
                                 warn=warn)

        null = {}
        if null_size:
            contexts = sample_contexts(stream(warn=False), fasta.fetch, null_size, seed)  # warned once, below
            null = null_deltas(scorer.delta, contexts, seq_len, fasta.fetch, seed, batch_size, null_size)
        rows = []
        for batch in batches(stream(counts), seq_len, fasta.fetch, batch_size):
            scored = scorer.score(batch, null)
            if classes is None:
                classes = [f"output_{k}" for k in range(scored.logit_ref.shape[1])]
            rows.extend(score_values(scored, classes, list(specs) or ["-"]))
    table = pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
    numeric = [c for c in SCORE_COLUMNS[9:] if c not in ("motif", "motif_id", "motif_effect")]
    table[numeric] = table[numeric].astype(float)
    first = table["method"] == table["method"].iloc[0] if len(table) else table["method"].astype(bool)
    for cls in table["class"].unique():
        picked = first & (table["class"] == cls)
        q = dict(zip(table.loc[picked, "variant"], bh_q(table.loc[picked, "p_value"].to_numpy())))
        mask = table["class"] == cls
        table.loc[mask, "q_value"] = table.loc[mask, "variant"].map(q)
    return table

