"""The null distribution of variant effects: the same changes in dinucleotide-shuffled contexts.

A variant's ``p_value`` asks how often a change of the same kind moves the model as much in a
context that keeps the genome's dinucleotide make-up but none of its motifs. The null is built
from the VCF itself:

1. :func:`sample_contexts` draws up to ``size`` variants of each kind (``snv``, ``mnp``,
   ``insertion``, ``deletion``; :func:`seqlrp.variants.windows.variant_kind`) from the stream by
   reservoir sampling (seeded; memory holds ``size`` variants per kind, not the VCF); a kind with
   fewer variants than ``size`` uses each of them several times, in different shuffles;
2. :func:`shuffled_fetch` gives each drawn variant a new context: the genome around it with the
   flanks left and right of REF dinucleotide-shuffled separately (seeded) and REF kept, so the
   same REF -> ALT change is applied to a shuffled context;
3. :func:`null_deltas` scores those variants exactly as the real ones (same windows, same
   predictor, reverse-complement averaging included): ``delta`` (size, K) per kind.

The allele itself is not shuffled: a substitution that writes a whole motif creates it in the
shuffled contexts too, so its p-value stays large — the null asks whether the *context* makes the
change matter (a base that breaks a motif in the genome breaks nothing in a shuffled context).

:func:`empirical_p` is two-sided: ``p = (1 + #{null |delta| >= |delta|}) / (1 + n)`` against the
null of the variant's kind and class (never 0; NaN when that kind's null is empty), and
:func:`bh_q` the Benjamini-Hochberg q-values over every variant of one class and method.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ..analysis.tomtom import bh_qvalues
from ..formats.atomic import atomic_path
from ..formats.onehot import codes_from_str
from ..formats.vcf import Variant
from ..sequences.shuffle import dinucleotide_shuffle
from ..sequences.variant_windows import Fetch, normalize
from .windows import KINDS, VariantBatch, make_batch, variant_kind

_BASES = np.frombuffer(b"ACGTN", dtype=np.uint8)
_MARGIN = 64  # bases kept left of the window, where left-normalisation may look


def sample_contexts(variants: Iterable[Variant], fetch: Fetch, size: int, seed: int) -> dict[str, list[Variant]]:
    """Up to ``size`` left-normalised variants of each kind present, drawn uniformly from the stream
    (reservoir sampling, seeded), in stream order."""
    rng = np.random.default_rng(seed)
    reservoirs: dict[str, list[tuple[int, Variant]]] = {}
    seen: dict[str, int] = {}
    for row, variant in enumerate(variants):
        pos, ref, alt = normalize(variant.chrom, variant.pos, variant.ref, variant.alt, fetch)
        kind = variant_kind(ref, alt)
        normalised = Variant(variant.chrom, pos, variant.id, ref, alt, variant.line, variant.allele)
        count = seen.get(kind, 0)
        seen[kind] = count + 1
        reservoir = reservoirs.setdefault(kind, [])
        if count < size:
            reservoir.append((row, normalised))
        else:
            slot = int(rng.integers(count + 1))
            if slot < size:
                reservoir[slot] = (row, normalised)
    return {kind: [v for _, v in sorted(reservoirs[kind], key=lambda item: item[0])]
            for kind in KINDS if kind in reservoirs}


def shuffled_fetch(variant: Variant, seq_len: int, fetch: Fetch, rng: np.random.Generator) -> Fetch:
    """A ``fetch`` of ``variant``'s chromosome in which the bases around the variant (everything its
    windows read) have their left and right flanks dinucleotide-shuffled, REF kept; N elsewhere."""
    centre = seq_len // 2
    start = variant.pos - 1 - centre
    lo = start - _MARGIN
    hi = start + seq_len + max(0, len(variant.ref) - len(variant.alt)) + 1
    ref_lo, ref_hi = variant.pos - 1, variant.pos - 1 + len(variant.ref)
    segment = np.full(hi - lo, 4, dtype=np.uint8)
    clip_lo = max(0, lo)
    bases = codes_from_str(fetch(variant.chrom, clip_lo, hi))
    segment[clip_lo - lo : clip_lo - lo + bases.size] = bases
    left, allele, right = segment[: ref_lo - lo], segment[ref_lo - lo : ref_hi - lo], segment[ref_hi - lo :]
    text = _BASES[np.concatenate([dinucleotide_shuffle(left, rng), allele, dinucleotide_shuffle(right, rng)])].tobytes().decode()
    chrom = variant.chrom

    def local(name: str, begin: int, end: int) -> str:
        if name != chrom:
            raise KeyError(name)
        begin, top = max(begin, 0), lo + len(text)
        inside = text[max(begin, lo) - lo : max(min(end, top), lo) - lo]
        return "N" * max(0, min(end, lo) - begin) + inside + "N" * max(0, end - max(begin, top))

    return local


def null_batch(contexts: list[Variant], seq_len: int, fetch: Fetch, rng: np.random.Generator) -> VariantBatch:
    """The windows of ``contexts`` (normalised variants), each in its own shuffled context."""
    parts = [make_batch([variant], [i], seq_len, shuffled_fetch(variant, seq_len, fetch, rng))
             for i, variant in enumerate(contexts)]
    return VariantBatch(
        variants=[v for p in parts for v in p.variants], rows=np.arange(len(parts), dtype=np.int64),
        norm_pos=[x for p in parts for x in p.norm_pos], norm_ref=[x for p in parts for x in p.norm_ref],
        norm_alt=[x for p in parts for x in p.norm_alt], kinds=[x for p in parts for x in p.kinds],
        **{key: np.concatenate([getattr(p, key) for p in parts]) for key in ("ref_codes", "alt_codes", "ref_start", "index_map", "ref_span", "alt_span")})


def null_deltas(score_pair: Callable[[VariantBatch], np.ndarray], contexts: Mapping[str, list[Variant]], seq_len: int,
                fetch: Fetch, seed: int, batch_size: int = 256, size: int | None = None) -> dict[str, np.ndarray]:
    """``delta`` (size, K) float64 per kind of the shuffled-context variants.

    ``score_pair(batch)`` returns ``delta`` (b, K) of a :class:`VariantBatch` (the scorer of the
    real variants). With ``size``, a kind with fewer drawn variants reuses them in turn, each time
    in a new shuffle, so that every kind's null has ``size`` members."""
    rng = np.random.default_rng(seed)
    out = {}
    for kind, drawn in contexts.items():
        variants = [drawn[i % len(drawn)] for i in range(size)] if size and drawn else drawn
        chunks = [score_pair(null_batch(variants[lo : lo + batch_size], seq_len, fetch, rng))
                  for lo in range(0, len(variants), batch_size)]
        out[kind] = np.concatenate(chunks) if chunks else np.zeros((0, 0))
    return out


def save_null(path: str | os.PathLike, deltas: Mapping[str, np.ndarray], classes: list[str]) -> None:
    """Write the null as ``.npz``: ``delta_<kind>`` (n, K) and ``classes``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, classes=np.asarray(classes), **{f"delta_{k}": v for k, v in deltas.items()})


def load_null(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], list[str]]:
    """``(deltas per kind, classes)`` of :func:`save_null`."""
    with np.load(path, allow_pickle=False) as data:
        deltas = {key[len("delta_"):]: data[key] for key in data.files if key.startswith("delta_")}
        return deltas, [str(c) for c in data["classes"]]


def empirical_p(delta: np.ndarray, kinds: list[str], null: Mapping[str, np.ndarray]) -> np.ndarray:
    """Two-sided empirical p-values (b, K) of ``delta`` (b, K) against the null of each row's kind."""
    delta = np.asarray(delta, dtype=np.float64)
    p = np.full(delta.shape, np.nan)
    for kind in set(kinds):
        rows = np.array([k == kind for k in kinds])
        reference = null.get(kind)
        if reference is None or len(reference) == 0:
            continue
        magnitudes = np.sort(np.abs(reference), axis=0)  # (n, K)
        n = magnitudes.shape[0]
        for k in range(delta.shape[1]):
            at_least = n - np.searchsorted(magnitudes[:, k], np.abs(delta[rows, k]), side="left")
            p[rows, k] = (1.0 + at_least) / (1.0 + n)
    return p


def bh_q(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (n,) of p-values (n,); NaN p-values stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        q[finite] = bh_qvalues(p[finite])
    return q

