"""Write outputs through a temporary file and a rename, so a failure never leaves a partial file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import output_error


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_mode()


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
