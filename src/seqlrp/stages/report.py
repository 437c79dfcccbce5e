"""Stage ``report``: the run's outputs -> ``results/report.html`` (the page: :mod:`seqlrp.report.page`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..formats.atomic import atomic_write_text
from ..report.page import ReportOptions, build_report


def write_report(path: str | os.PathLike, results: str | os.PathLike, config: Mapping, classes: Sequence[str],
                 methods: Sequence[str], *, evaluation: bool, inputs: Sequence[str] = (),
                 options: ReportOptions | None = None, config_sha256: str | None = None,
                 variants: bool | None = None) -> None:
    """Build the report (:func:`~seqlrp.report.page.build_report`) and write it atomically to ``path``.

    ``variants``: whether the run scored variants (the report's variant section); None: whether
    their outputs exist under ``results``."""
    text = build_report(results, config, classes, methods, evaluation=evaluation, inputs=inputs, options=options,
                        config_sha256=config_sha256, variants=variants)
    with atomic_write_text(path) as handle:
        handle.write(text)
