"""Write outputs through a temporary file and a rename, so a failure never leaves a partial file."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator

from ..errors import output_error


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_mode()

# what tempfile.mkstemp puts between prefix and suffix: 8 characters of [a-z0-9_]
_RANDOM_PART = r"[a-z0-9_]{8}"


def _temporary_name(name: str) -> re.Pattern:
    """The names :func:`atomic_path` gives the temporary files of ``name``."""
    return re.compile(rf"\.{re.escape(name)}\.{_RANDOM_PART}\.tmp(\.[A-Za-z0-9]+)*")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files an interrupted writer of ``path`` left beside it; return them.

    A process killed outright (``kill -9``, an out-of-memory kill, a cluster's time limit) cannot
    remove its temporary file. Call this when the job that writes ``path`` starts again. For a
    directory ``path`` (a stage writing a folder of files) the temporaries inside it go too.
    Only names :func:`atomic_path` makes are touched.
    """
    target = Path(path)
    removed: list[Path] = []
    candidates: list[tuple[Path, re.Pattern]] = []
    if target.parent.is_dir():
        pattern = _temporary_name(target.name)
        candidates += [(entry, pattern) for entry in target.parent.iterdir()]
    if target.is_dir():
        any_name = re.compile(rf"\..+\.{_RANDOM_PART}\.tmp(\.[A-Za-z0-9]+)*")
        candidates += [(entry, any_name) for entry in target.rglob(".*.tmp*")]
    for entry, pattern in candidates:
        if pattern.fullmatch(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file lives in the same directory, so the final ``os.replace`` is atomic on
    POSIX file systems. ``suffix`` keeps a meaningful extension for writers that insist on one
    (``np.save`` appends ``.npy`` otherwise).
    A full disk, an exceeded quota or a missing permission raise
    :class:`~seqlrp.errors.OutputError` naming ``path`` (one line for the user).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    except OSError as err:
        raise (output_error(target, err) or err) from err
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; outputs get the usual umask mode
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise (output_error(target, err) or err) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_write_text(path: str | os.PathLike) -> Iterator:
    """Open a text file for writing that appears at ``path`` only when the block completes."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        yield handle
