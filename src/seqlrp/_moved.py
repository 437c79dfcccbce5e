"""Old import paths of modules that moved into the layered layout (0.2): they keep working, with a warning.

``import seqlrp.bigwig`` gives the very module object ``seqlrp.formats.bigwig`` (no second copy:
classes and module state stay one), after a :class:`DeprecationWarning` naming the new path;
``python -m seqlrp.config_file`` runs the new module. Stage modules that were split into a
library part and a stage part are not listed: CONTRIBUTING.md says where their functions went.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED: dict[str, str] = {
    f"seqlrp.{old}": f"seqlrp.{new}"
    for old, new in {
        "arrays": "formats.arrays", "atomic": "formats.atomic", "bedgraph": "formats.bedgraph",
        "bgzf": "formats.bgzf", "bigwig": "formats.bigwig", "config_file": "formats.config_file",
        "fasta_index": "formats.fasta_index", "genome": "formats.genome", "meme": "formats.meme",
        "names": "formats.names", "onehot": "formats.onehot", "records": "formats.records",
        "regions": "formats.regions", "tabix": "formats.tabix", "table": "formats.table",
        "textfiles": "formats.textfiles", "trackline": "formats.trackline",
        "dataset": "sequences.dataset", "shuffle": "sequences.shuffle", "split": "sequences.split",
        "tiling": "sequences.tiling",
        "checkpoint": "models.checkpoint", "device": "models.device", "external": "models.external",
        "layers": "models.layers", "model_files": "models.files", "lrp.outputs": "models.outputs",
        "baselines": "attribution.baselines",
        "diagnostics": "analysis.diagnostics", "evaluation": "analysis.evaluation", "metrics": "models.metrics",
        "motifs": "analysis.motifs", "seqlets": "analysis.seqlets", "tomtom": "analysis.tomtom",
        "tracks": "analysis.tracks",
        "htmlkit": "report.htmlkit", "logos": "report.logos", "plots": "report.plots",
        "evaluation_plots": "report.evaluation_plots", "report_data": "report.data",
        "render_check": "report.render_check",
    }.items()
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module name and loads it as the module now at its new name."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {MOVED[spec.name]}; import it from there", DeprecationWarning,
                      stacklevel=2)  # warnings skips importlib's frames
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # the new module is already executed; the import system files it under the old name too

    def get_code(self, fullname):
        """For ``python -m <old name>``: code that runs the new module as ``__main__``."""
        new = MOVED[fullname]
        return compile(f"import runpy, sys, warnings\n"
                       f"warnings.warn({fullname!r} ' moved to ' {new!r}, DeprecationWarning)\n"
                       f"runpy.run_module({new!r}, run_name='__main__', alter_sys=True)\n", f"<{fullname}>", "exec")


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (after the normal finders, which know no old name)."""
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModules())
