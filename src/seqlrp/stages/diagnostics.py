"""Stage ``diagnostics``: artifact checks of every class and method's relevance maps, with verdicts.

For each ``results/attributions/{class}.{method}/`` (its relevance, one-hot input, regions table
with logit and relevance sum, and settings; :func:`seqlrp.attribution.store.read_attribution`), six
diagnostics (:mod:`seqlrp.analysis.diagnostics`) are computed
(:func:`seqlrp.analysis.artifact_checks.diagnose`) and compared with the thresholds of the config's
``diagnostics.thresholds``:

===========================  ================================================  =========
diagnostic                   what it measures                                  warn if
===========================  ================================================  =========
border_excess                mean ``|R|`` in the ``border`` outer bp / centre   > 1.5
conservation_error           median ``|sum R - logit| / |logit|``               > 0.2
absorbed_share               share of the logits not reaching the input         ``|x|`` > 0.2
randomisation_similarity     Spearman of ``|R|``, trained vs randomised model   > 0.5
n_relevance_share            share of ``|R|`` on N positions                    > 0.01
null_exceedance              share of positions not above the shuffled null     > 0.5
===========================  ================================================  =========

Randomisation (Adebayo et al. 2018) re-initialises *every* parameter of a copy of the model
(seeded; BatchNorm statistics reset too; a foreign model's parameters that no
``reset_parameters`` covers are redrawn with their own spread,
:func:`seqlrp.models.randomise.randomised_copy`): the end point of the cascading test, where
nothing learned is left. The trained maps come from the attribution store; the randomised ones are
recomputed with the method's settings (``settings.json``) on a seeded subset of ``n_windows``
windows. The shuffled null explains ``n_shuffles``
dinucleotide-shuffled copies (:func:`seqlrp.sequences.shuffle.shuffle_onehot`) of the same subset with the
trained model and the same settings.

Outputs: ``diagnostics.tsv`` (columns :data:`COLUMNS`, rows per class, method and
:data:`~seqlrp.analysis.diagnostics.DIAGNOSTICS`) and a directory of figures ``{class}.{method}.png``:
positional profile with the null band and the border shaded, conservation scatter (logit vs
relevance sum), and one window's relevance under the trained and the randomised model
(:func:`seqlrp.report.diagnostics_plots.plot_diagnostics`).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from tqdm import tqdm

from ..analysis import diagnostics as dx
from ..analysis.artifact_checks import Row, diagnose, format_value
from ..attribution.store import read_attribution
from ..errors import SeqlrpError
from ..formats.atomic import atomic_write_text
from ..models import load_model
from ..models.device import choose_device, configure_threads
from ..models.randomise import randomised_copy
from ..report.diagnostics_plots import plot_diagnostics

log = logging.getLogger(__name__)

COLUMNS = ("class", "method", "diagnostic", "value", "threshold", "verdict", "detail")


def write_table(path: str | os.PathLike, rows: Sequence[Row]) -> None:
    """``diagnostics.tsv``: a header (:data:`COLUMNS`) and one line per row."""
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([row.cls, row.method, row.diagnostic, format_value(row.value), format_value(row.threshold),
                             row.verdict, row.detail])


def run(config: Mapping, attr_dirs: Sequence[str | os.PathLike], onehot_path: str | os.PathLike,
        model_path: str | os.PathLike, outputs: Mapping[str, str], seed: int, threads: int | None = None) -> list[Row]:
    """Diagnose every attribution store (over the data set's one-hot ``onehot_path``); write ``outputs["table"]`` and figures under ``outputs["figures"]``.

    ``config`` is the ``diagnostics`` section (device, batch_size, n_windows, n_shuffles, border,
    null_quantile, thresholds).
    """
    configure_threads(threads)
    missing = sorted(set(dx.DIAGNOSTICS) - set(config["thresholds"]))
    if missing:
        raise SeqlrpError(f"diagnostics.thresholds: missing {', '.join(missing)}")
    device = choose_device(config.get("device", "auto"))
    model = load_model(model_path)
    random_model = randomised_copy(model, seed).to(device)  # drawn on the CPU: same weights on any device
    model.to(device)
    figures = Path(outputs["figures"])
    figures.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for attr_dir in tqdm(list(attr_dirs), desc="diagnostics", unit="map"):
        attr = read_attribution(attr_dir, onehot_path)
        diagnosis = diagnose(attr, model, random_model, config, seed, device)
        found = diagnosis.rows
        plot_diagnostics(figures / f"{attr.cls}.{attr.method}.png", f"{attr.cls}.{attr.method}", diagnosis.profile,
                         diagnosis.null_profile, diagnosis.band, config["border"], diagnosis.bumps, attr.logits,
                         attr.sums, diagnosis.trained, diagnosis.randomised, diagnosis.similarity,
                         {r.diagnostic: r for r in found})
        for row in found:
            log.info("diagnostics %s.%s: %s = %s (threshold %s) %s", row.cls, row.method, row.diagnostic,
                     format_value(row.value), format_value(row.threshold), row.verdict.upper())
        rows += found
    write_table(outputs["table"], rows)
    warned = sum(row.verdict == "warn" for row in rows)
    log.info("diagnostics: %d of %d checks warn; see %s", warned, len(rows), outputs["table"])
    return rows
