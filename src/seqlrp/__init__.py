"""seqlrp: Layer-wise Relevance Propagation (and pruned LRP) for one-hot DNA sequence models."""

__version__ = "0.1.0"

ALPHABET = "ACGT"
"""Channel order of every one-hot array in seqlrp: (N, 4, L) with channels A, C, G, T."""
