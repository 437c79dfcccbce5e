"""Train/valid/test split: held-out chromosomes, or a seeded random split when that cannot work.

Held-out chromosomes keep overlapping or nearby windows from leaking between splits. When the
named chromosomes would leave any class without regions in train, valid or test (too few
contigs, names absent, FASTA records without coordinates), the split falls back to a random one,
stratified by class and reproducible by seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "valid", "test")


def chromosome_split(chroms: Sequence[str], valid_chroms: Sequence[str], test_chroms: Sequence[str]) -> np.ndarray:
    """Split name (N,) per window: ``test`` / ``valid`` on the named chromosomes, else ``train``."""
    valid, test = set(valid_chroms), set(test_chroms)
    return np.array(["test" if c in test else "valid" if c in valid else "train" for c in chroms], dtype=object)


def random_split(classes: Sequence[str], valid_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Seeded random split (N,), stratified by class; each split gets ≥1 window when a class has ≥3."""
    classes = np.asarray(classes, dtype=object)
    out = np.full(classes.size, "train", dtype=object)
    rng = np.random.default_rng(seed)
    for name in sorted(set(classes.tolist())):
        members = np.flatnonzero(classes == name)
        order = rng.permutation(members)
        n = members.size
        n_test = max(1, round(test_fraction * n)) if n >= 3 else 0
        n_valid = max(1, round(valid_fraction * n)) if n >= 3 else 0
        out[order[:n_test]] = "test"
        out[order[n_test : n_test + n_valid]] = "valid"
    return out


def assign_splits(
    chroms: Sequence[str],
    classes: Sequence[str],
    *,
    valid_chroms: Sequence[str],
    test_chroms: Sequence[str],
    valid_fraction: float,
    test_fraction: float,
    seed: int,
) -> tuple[np.ndarray, str]:
    """Split (N,) of every window and a sentence saying which method was used and why."""
    by_chrom = chromosome_split(chroms, valid_chroms, test_chroms)
    class_array = np.asarray(classes, dtype=object)
    missing = [
        f"{name}/{split}"
        for name in dict.fromkeys(classes)
        for split in SPLITS
        if not np.any((class_array == name) & (by_chrom == split))
    ]
    if not missing:
        return by_chrom, (
            f"held-out chromosomes (valid: {', '.join(valid_chroms) or '-'}; test: {', '.join(test_chroms) or '-'})"
        )
    reason = f"held-out chromosomes leave no regions for {', '.join(missing)}"
    return random_split(classes, valid_fraction, test_fraction, seed), (
        f"seeded random split (seed {seed}, valid {valid_fraction}, test {test_fraction}) because {reason}"
    )
