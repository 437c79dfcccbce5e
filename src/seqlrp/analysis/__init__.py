"""What relevance maps say: genome tracks, seqlets, motifs, matches, ground-truth scores, artifact checks.

Functions on arrays and small tables, built on :mod:`seqlrp.formats`: :mod:`.tracks` (relevance
mapped back to the genome), :mod:`.seqlets`, :mod:`.motifs` (TF-MoDISco), :mod:`.tomtom` (JASPAR
matches), :mod:`.evaluation` (AUROC, AUPRC, RMA, Gini, AOPC against a truth BED),
:mod:`.diagnostics` (borders, bias absorption, randomisation), :mod:`.metrics` (ROC/PR).
"""
