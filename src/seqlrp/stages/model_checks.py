"""The cache of foreign-model checks: a model loaded and run once per config and model files.

The run plan (:mod:`seqlrp.stages.plan`) loads a model from outside seqlrp and runs it on two
windows to learn its classes and input length. Snakemake parses the Snakefile at every invocation
(dry runs, every cluster job), so the result is kept in ``.snakemake/seqlrp/model-checks/<key>.json``
under the run directory, keyed by the SHA-256 of the model settings, the length asked for, the
model files' bytes and seqlrp's version: a changed file or setting is checked again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import SeqlrpError

#: Where cached foreign-model checks live, under the run directory.
CHECK_CACHE = Path(".snakemake") / "seqlrp" / "model-checks"


def check_key(model_section: Mapping[str, Any], files: Mapping[str, str | None], seq_len: int | None) -> str:
    """The cache key of a check.

    Parameters
    ----------
    model_section : mapping
        The config's ``model`` section (``arch`` and ``hparams`` are left out: they shape no
        foreign model).
    files : mapping of str to path or None
        The model's files by role (checkpoint, code, weights); each existing one is hashed.
    seq_len : int or None
        The input length the check asked for (the user's), or None.

    Returns
    -------
    str
        A hex SHA-256.
    """
    from .. import __version__
    from ..provenance import sha256_file

    section = {k: v for k, v in model_section.items() if k not in ("arch", "hparams")}
    hashes = {role: sha256_file(path) for role, path in files.items() if path and os.path.isfile(path)}
    text = json.dumps({"model": section, "seq_len": seq_len, "files": hashes, "seqlrp": __version__},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cached_check(cache_dir: str | os.PathLike | None, key: str) -> dict | None:
    """The check stored under ``key`` (``{"classes": [...], "seq_len": int}``), or None."""
    if cache_dir is None:
        return None
    try:
        found = json.loads((Path(cache_dir) / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(found, dict) and isinstance(found.get("classes"), list) and isinstance(found.get("seq_len"), int)
    return found if ok else None


def store_check(cache_dir: str | os.PathLike | None, key: str, result: Mapping[str, Any]) -> None:
    """Keep ``result`` under ``key``; a cache that cannot be written only costs another check later."""
    if cache_dir is None:
        return
    from ..formats.atomic import atomic_write_text

    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        with atomic_write_text(Path(cache_dir) / f"{key}.json") as handle:
            handle.write(json.dumps(dict(result), sort_keys=True))
    except (OSError, SeqlrpError):
        pass
