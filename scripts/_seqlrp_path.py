"""``import seqlrp`` for every script in this folder: where the package is not installed (a conda env
made by ``--sdm conda``), the repository's copy in ``src/`` goes first on ``sys.path``.

A script imports this module before anything from seqlrp: ``import _seqlrp_path  # noqa: F401``.
Snakemake runs a ``script:`` from a copy under ``.snakemake/scripts/``, but the preamble it puts in
front of that copy appends the real script's folder (this one) to ``sys.path``, so the module is
found by name; ``src/`` is found from this file's own path, wherever the working directory is.
"""

import os
import sys

try:
    import seqlrp  # noqa: F401
except ImportError:  # a conda env (--sdm conda) without the package: use the repository's copy
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
