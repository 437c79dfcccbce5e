"""DNA as the models see it: windows cut from a genome or records, tiles, splits, shuffles, planted motifs.

Built on :mod:`seqlrp.formats`; knows nothing about models. :mod:`.windows` turns regions or
records into one-hot windows, :mod:`.tiling` cuts whole chromosomes, :mod:`.split` assigns
train/valid/test, :mod:`.dataset` reads the extract stage's outputs back (:mod:`.selection`: which
of its windows to explain), :mod:`.shuffle` makes dinucleotide shuffles, :mod:`.planted` samples
JASPAR motif instances for the demo genome.
"""
