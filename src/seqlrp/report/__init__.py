"""Figures and the self-contained HTML report: what a person looks at.

:mod:`.page` assembles the report from a run's outputs (:mod:`.data` reads them), :mod:`.htmlkit`
holds the HTML pieces, :mod:`.plots`, :mod:`.evaluation_plots`, :mod:`.diagnostics_plots` and
:mod:`.logos` draw the figures, :mod:`.render_check` checks a report in headless Chromium.
"""
