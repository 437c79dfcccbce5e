"""Header lines that say what made a track or seqlets BED: class, method, and the track's provenance.

* :func:`track_line` — the bedGraph header: a UCSC ``track type=bedGraph`` line whose description
  carries the method (:meth:`seqlrp.attribution.methods.MethodSpec.describe`) and the overlap
  combination, after an optional ``#seqlrp provenance:`` comment line (``key=value`` pairs);
* :func:`track_provenance` — those pairs: seqlrp, torch and numpy versions, the model's and the
  config's SHA-256;
* :func:`seqlets_track_line` — the seqlets BED's UCSC ``track`` line
  (:func:`seqlrp.formats.trackline.bed_track_line`), with the method and the FDR.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .. import __version__
from ..attribution.spec import MethodSpec
from ..formats.trackline import bed_track_line
from ..provenance import sha256_file, versions


def track_line(cls: str, method: str, settings: Mapping, combine: str, what: str = "relevance",
               provenance: Mapping[str, str] | None = None) -> str:
    """The bedGraph header: a UCSC ``track`` line (name ``{cls} {method}``) whose description carries
    the method, composite and pruning, preceded, with ``provenance``, by a ``#`` comment line with
    package versions, the model's and the config's SHA-256 (``key=value`` pairs).

    The comment comes first so that ``tabix -H`` (which prints the leading ``#`` lines) shows it;
    UCSC and IGV skip ``#`` lines before the track line, and the index skips both lines
    (re-index with ``tabix -p bed -S 2``; see :class:`seqlrp.formats.bedgraph.BedGraphWriter`)."""
    spec = MethodSpec.from_settings(settings)
    description = f"seqlrp {__version__} {what}: class {cls}, method {method} ({spec.describe()}), overlaps {combine}"
    line = f'track type=bedGraph name="{cls} {method}" description="{description}" visibility=full autoScale=on alwaysZero=on'
    if provenance:
        line = "#seqlrp provenance: " + " ".join(f"{key}={value}" for key, value in provenance.items()) + "\n" + line
    return line


def track_provenance(model_path: str | os.PathLike | None, config_sha256: str | None) -> dict[str, str]:
    """What made a track: seqlrp, torch and numpy versions, model and config SHA-256."""
    found = versions(("torch", "numpy"))
    record = {"seqlrp": __version__, **{name: found.get(name, "absent") for name in ("torch", "numpy")}}
    if model_path is not None:
        record["model_sha256"] = sha256_file(model_path)
    if config_sha256:
        record["config_sha256"] = config_sha256
    return record


def seqlets_track_line(cls: str, method: str, spec: MethodSpec, fdr: float) -> str:
    """The seqlets BED's ``track`` line: name ``{cls} {method} seqlets``, the method and the FDR in the description."""
    return bed_track_line(f"{cls} {method} seqlets",
                          f"seqlrp {__version__} seqlets: class {cls}, method {method} ({spec.describe()}), FDR {fdr}; "
                          "red positive, blue negative relevance")
