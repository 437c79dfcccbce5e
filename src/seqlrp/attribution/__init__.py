"""Attribution methods by name: LRP (:mod:`seqlrp.lrp`) and the baselines, behind one call shape.

:mod:`.baselines` holds saliency, gradient x input, integrated gradients and ISM; :mod:`.methods`
turns a method entry of the config into relevance maps of a batch of windows; :mod:`.store` names
the files of an attribution directory and reads them back.
"""
