"""Dinucleotide shuffles: random sequences with exactly the dinucleotide counts of the original.

The null that seqlet calling and the artifact diagnostics compare against. Shuffling single
bases destroys CpG depletion and other local composition that models learn; preserving
dinucleotides keeps them (Altschul & Erickson 1985). The method: view the sequence as an
Eulerian path in the graph of letters (edge i -> i+1 for every neighbouring pair), pick a random
last exit edge for every letter such that these edges form a tree towards the final letter,
shuffle the other exits of each letter, and walk. N (code 4) is a letter like any other, so N
runs keep their dinucleotide context as well. First and last letters are kept.
"""

from __future__ import annotations

import numpy as np

from ..formats.onehot import N_CODE, onehot_from_codes

_N_LETTERS = N_CODE + 1


def _last_edges_form_tree(last_target: dict[int, int], final: int) -> bool:
    for start in last_target:
        vertex, steps = start, 0
        while vertex != final:
            vertex = last_target[vertex]
            steps += 1
            if steps > _N_LETTERS:
                return False
    return True


def dinucleotide_shuffle(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One dinucleotide shuffle of codes (L,) uint8 (0..3 = A,C,G,T, 4 = N)."""
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.size < 3:
        return codes.copy()
    heads, tails = codes[:-1], codes[1:]
    exits = {int(v): tails[heads == v].copy() for v in np.unique(heads)}
    final = int(codes[-1])
    while True:  # at most 5 letters: rejection of non-tree choices is cheap
        last_index = {v: int(rng.integers(edges.size)) for v, edges in exits.items() if v != final}
        if _last_edges_form_tree({v: int(exits[v][i]) for v, i in last_index.items()}, final):
            break
    order: dict[int, np.ndarray] = {}
    for vertex, edges in exits.items():
        if vertex in last_index:
            keep_last = edges[last_index[vertex]]
            others = np.delete(edges, last_index[vertex])
            order[vertex] = np.concatenate([rng.permutation(others), [keep_last]]).astype(np.uint8)
        else:
            order[vertex] = rng.permutation(edges)
    pointer = dict.fromkeys(order, 0)
    out = np.empty_like(codes)
    out[0] = vertex = int(codes[0])
    for i in range(1, codes.size):
        nxt = int(order[vertex][pointer[vertex]])
        pointer[vertex] += 1
        out[i] = vertex = nxt
    return out


def shuffle_onehot(onehot: np.ndarray, n_shuffles: int = 1, seed: int = 0) -> np.ndarray:
    """Dinucleotide-shuffled copies of one-hot sequences (N, 4, L) -> (N * n_shuffles, 4, L) uint8.

    Copies of sequence ``i`` are rows ``i * n_shuffles ... i * n_shuffles + n_shuffles - 1``.
    All-zero columns count as N. Deterministic by ``seed``.
    """
    onehot = np.asarray(onehot)
    codes = np.where(onehot.sum(axis=1) == 1, onehot.argmax(axis=1), N_CODE).astype(np.uint8)
    rng = np.random.default_rng(seed)
    shuffled = np.stack([dinucleotide_shuffle(row, rng) for row in codes for _ in range(n_shuffles)])
    return onehot_from_codes(shuffled)
