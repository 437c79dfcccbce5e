"""Train/valid/test split: held-out chromosomes, or a seeded random split when that cannot work.

Held-out chromosomes keep overlapping or nearby windows from leaking between splits. When the
named chromosomes would leave any class without regions in train, valid or test (too few
contigs, names absent, FASTA records without coordinates), the split falls back to a random one,
stratified by class and reproducible by seed.

Identical windows (the same bases on either strand: a region listed twice, a repeat) form one
group, and a group lies in one split: that of its first window. Otherwise a test window could be
a training window again and the test metrics would flatter the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ..formats.onehot import reverse_complement_codes

SPLITS = ("train", "valid", "test")


def duplicate_groups(codes: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Group (N,) int64 of each window of ``codes`` (N, L): the row of the first window with the same
    bases on either strand (a window that repeats none is its own group, ``groups[i] == i``)."""
    groups = np.empty(codes.shape[0], dtype=np.int64)
    first: dict[bytes, int] = {}
    for lo in range(0, codes.shape[0], chunk):
        # one dtype on both strands (reverse_complement_codes gives uint8): equal bases, equal bytes
        block = np.ascontiguousarray(codes[lo : lo + chunk], dtype=np.uint8)
        reverse = np.ascontiguousarray(reverse_complement_codes(block))
        for offset, (forward_row, reverse_row) in enumerate(zip(block, reverse)):
            digests = (hashlib.blake2b(forward_row.tobytes(), digest_size=16).digest(),
                       hashlib.blake2b(reverse_row.tobytes(), digest_size=16).digest())
            groups[lo + offset] = first.setdefault(min(digests), lo + offset)
    return groups


def chromosome_split(chroms: Sequence[str], valid_chroms: Sequence[str], test_chroms: Sequence[str]) -> np.ndarray:
    """Split name (N,) per window: ``test`` / ``valid`` on the named chromosomes, else ``train``."""
    valid, test = set(valid_chroms), set(test_chroms)
    return np.array(["test" if c in test else "valid" if c in valid else "train" for c in chroms], dtype=object)


def random_split(classes: Sequence[str], valid_fraction: float, test_fraction: float, seed: int,
                 groups: np.ndarray | None = None) -> np.ndarray:
    """Seeded random split (N,), stratified by class; each split gets ≥1 window when a class has ≥3.

    With ``groups`` (:func:`duplicate_groups`) whole groups are drawn, each counted for the class
    of its first window, and every window takes its group's split.
    """
    classes = np.asarray(classes, dtype=object)
    out = np.full(classes.size, "train", dtype=object)
    firsts = np.ones(classes.size, dtype=bool) if groups is None else groups == np.arange(classes.size)
    rng = np.random.default_rng(seed)
    for name in sorted(set(classes.tolist())):
        members = np.flatnonzero((classes == name) & firsts)
        order = rng.permutation(members)
        n = members.size
        n_test = max(1, round(test_fraction * n)) if n >= 3 else 0
        n_valid = max(1, round(valid_fraction * n)) if n >= 3 else 0
        out[order[:n_test]] = "test"
        out[order[n_test : n_test + n_valid]] = "valid"
    return out if groups is None else out[groups]


def assign_splits(
    chroms: Sequence[str],
    classes: Sequence[str],
    *,
    valid_chroms: Sequence[str],
    test_chroms: Sequence[str],
    valid_fraction: float,
    test_fraction: float,
    seed: int,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    """Split (N,) of every window and a sentence saying which method was used and why.

    ``groups`` (:func:`duplicate_groups`) keeps identical windows in one split.
    """
    by_chrom = chromosome_split(chroms, valid_chroms, test_chroms)
    if groups is not None:
        by_chrom = by_chrom[groups]  # every window into the split of its group's first window
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
    return random_split(classes, valid_fraction, test_fraction, seed, groups), (
        f"seeded random split (seed {seed}, valid {valid_fraction}, test {test_fraction}) because {reason}"
    )
