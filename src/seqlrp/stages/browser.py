"""Stage ``browser``: the run's tracks cut to its most telling regions -> ``results/browser.html``.

One self-contained page (igv.js inline, every track a data URI) that opens from ``file://`` with no
network: a region list beside one igv.js browser (:mod:`seqlrp.report.browser`). Config keys:
``browser.regions_per_list`` (regions per list: top logit per class, seqlet-densest windows,
strongest variants per class) and ``browser.max_megabytes`` (the page shows fewer regions rather
than grow past it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

from ..errors import SeqlrpError
from ..report.browser import BrowserInputs, PageTooLarge, write_browser
from ..report.igv_bundle import IgvNotInstalled, load

log = logging.getLogger(__name__)


def paired(pairs: Sequence[tuple[str, str]], paths: Sequence[str | os.PathLike]) -> dict:
    """``{(class, method): path}`` of per-pair files listed in ``pairs`` order (empty list: none)."""
    if not paths:
        return {}
    if len(paths) != len(pairs):
        raise ValueError(f"{len(pairs)} class/method pairs but {len(paths)} files: {list(paths)[:4]}")
    return dict(zip(map(tuple, pairs), paths))


def run(output: str | os.PathLike, options: Mapping, inputs: BrowserInputs, *, title: str, subtitle: str) -> dict:
    """Write the page; a missing igv.js, or a page that cannot fit ``browser.max_megabytes``, is a
    one-line error (the first names the command that installs igv.js)."""
    try:
        bundle = load()
    except IgvNotInstalled as error:
        raise SeqlrpError(str(error)) from None
    try:
        shown = write_browser(output, inputs, bundle, per_list=int(options["regions_per_list"]),
                              max_megabytes=float(options["max_megabytes"]), title=title, subtitle=subtitle)
    except PageTooLarge as error:
        raise SeqlrpError(str(error)) from None
    log.info("%s: %d regions (%d per list), %d bases, %.2f MB", output, shown["regions"], shown["per_list"],
             shown["bases"], shown["bytes"] / 1e6)
    return shown
