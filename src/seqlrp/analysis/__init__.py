"""What relevance maps say: genome tracks, seqlets, motifs, matches, ground-truth scores, artifact checks.

Functions on arrays and small tables, built on :mod:`seqlrp.formats`: :mod:`.tracks` (relevance
mapped back to the genome), :mod:`.seqlets`, :mod:`.motifs` (TF-MoDISco), :mod:`.tomtom` (JASPAR
matches), :mod:`.evaluation` (AUROC, AUPRC, RMA, Gini, AOPC against a truth BED),
:mod:`.diagnostics` (borders, bias absorption, randomisation);
:mod:`.ground_truth` runs every attribution method against a truth BED and :mod:`.artifact_checks`
computes the diagnostics of one attribution (both run the model);
:mod:`.seqlet_null` runs the model for the shuffled-window relevance that calibrates the seqlet
FDR, and :mod:`.track_headers` makes the header lines that name a track's class, method and provenance.
"""
